// SPDX-License-Identifier: Apache-2.0
// `coffer storage serve`: one libevent loop serving the Docker volume plugin
// API and the admin API on two unix sockets.
//
// Design: everything runs on the loop's thread, so the volume manager (which
// must be used from one thread at a time) needs no locking, and a request
// handler always runs to completion before a signal is processed. On
// SIGTERM or SIGINT the server closes and unlinks both listening sockets
// and keeps serving the connections already open, so a request whose bytes
// were still arriving is finished. It stops once every response has been
// written and no request has come for DRAIN_QUIET_MS, or after
// DRAIN_TIMEOUT_SECONDS at most, then locks every volume and returns.
// Slow volume operations block the loop; nothing here runs them in
// parallel.

#include "plugin_internal.h"

#include <coffer/ca.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DRAIN_TIMEOUT_SECONDS 10
#define DRAIN_QUIET_MS 250
#define CONNECTION_TIMEOUT_SECONDS 60
#define LISTEN_BACKLOG 64
// How often removals whose key destroy failed (KMS unreachable) are retried.
#define RETRY_PENDING_SECONDS 30

struct server {
	struct event_base *base;
	struct vol_manager *manager;
	struct vol_key_provider *keys; // a KMIP provider, or NULL for the embedded store
	struct ca_renewer *renewer;    // the KMS client certificate from coffer's CA, or NULL
	struct evhttp *plugin_http;
	struct evhttp *admin_http;
	struct evhttp_bound_socket *plugin_bound;
	struct evhttp_bound_socket *admin_bound;
	const struct storage_config *config;
	struct event *drain_timer;
	struct event *retry_timer;
	unsigned responses_in_flight;
	bool stopping;
};

static const char *method_name(enum evhttp_cmd_type type)
{
	switch (type) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	default:
		return "OTHER";
	}
}

// Restarts the quiet period after which a stopping server exits.
static void arm_drain_timer(struct server *server)
{
	struct timeval quiet = { .tv_sec = 0, .tv_usec = DRAIN_QUIET_MS * 1000 };

	if (server->stopping)
		evtimer_add(server->drain_timer, &quiet);
}

static void on_drain_timer(evutil_socket_t fd, short events, void *arg)
{
	struct server *server = arg;
	(void)fd;
	(void)events;

	if (server->responses_in_flight == 0)
		event_base_loopexit(server->base, NULL);
	else
		arm_drain_timer(server);
}

// Retries pending removals, so a key the KMS could not destroy at remove
// time is destroyed as soon as the KMS is back, without another request.
static void on_retry_timer(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	struct server *server = arg;
	struct cf_error err = { 0 };

	if (server->stopping)
		return;
	int pending = vol_retry_pending(server->manager, &err);
	if (pending < 0)
		cf_log(CF_LOG_WARN, "storage.retry_pending_failed", "errno=%d", -pending);
	else if (pending > 0)
		cf_log(CF_LOG_INFO, "storage.remove_pending", "volumes=%d retry_seconds=%d", pending,
		       RETRY_PENDING_SECONDS);
}

static void on_response_sent(struct evhttp_request *request, void *arg)
{
	struct server *server = arg;
	(void)request;

	if (server->responses_in_flight > 0)
		server->responses_in_flight--;
}

static void send_json(struct server *server, struct evhttp_request *request,
		      const char *content_type, const struct plugin_response *response)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(request);
	const char *body = response->body != NULL ? response->body : "{}";

	evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", content_type);
	evbuffer_add(out, body, strlen(body));
	evbuffer_add(out, "\n", 1);

	server->responses_in_flight++;
	evhttp_request_set_on_complete_cb(request, on_response_sent, server);
	evhttp_send_reply(request, response->status, NULL, NULL);
}

// Fills path and body from the request; body points into the input buffer.
static void read_request(struct evhttp_request *request, const char **path,
			 const char **body, size_t *size)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(request);
	struct evbuffer *in = evhttp_request_get_input_buffer(request);

	*path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (*path == NULL)
		*path = "";
	*size = evbuffer_get_length(in);
	*body = *size > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
}

static void on_plugin_request(struct evhttp_request *request, void *arg)
{
	struct server *server = arg;
	struct plugin_response response = { 0 };
	const char *path, *body;
	size_t size;

	arm_drain_timer(server);
	read_request(request, &path, &body, &size);
	plugin_docker_handle(server->manager, method_name(evhttp_request_get_command(request)),
			     path, body, size, &response);
	send_json(server, request, "application/vnd.docker.plugins.v1+json", &response);
	plugin_response_clear(&response);
}

static void on_admin_request(struct evhttp_request *request, void *arg)
{
	struct server *server = arg;
	struct plugin_response response = { 0 };
	const char *path, *body;
	size_t size;

	arm_drain_timer(server);
	read_request(request, &path, &body, &size);
	plugin_admin_handle(server->manager, method_name(evhttp_request_get_command(request)),
			    path, body, size, &response);
	send_json(server, request, "application/json", &response);
	plugin_response_clear(&response);
}

// Removes a stale socket left by a killed server. Any other file, or a
// socket that still accepts connections, is rejected.
static int clear_stale_socket(const char *path, struct cf_error *err)
{
	struct stat st;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return cf_error_set(err, -errno, "cannot check socket path %s: %s", path,
				    strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return cf_error_set(err, -EEXIST, "%s exists and is not a socket; remove it or "
				    "choose another path", path);

	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return cf_error_set(err, -errno, "cannot create a socket: %s", strerror(errno));
	memcpy(addr.sun_path, path, strlen(path) + 1);
	int connected = connect(probe, (struct sockaddr *)&addr, sizeof(addr));
	close(probe);
	if (connected == 0)
		return cf_error_set(err, -EADDRINUSE,
				    "another process is already serving on %s; stop it or choose "
				    "another socket path", path);

	if (unlink(path) < 0 && errno != ENOENT)
		return cf_error_set(err, -errno, "cannot remove stale socket %s: %s", path,
				    strerror(errno));
	cf_log(CF_LOG_INFO, "storage.stale_socket_removed", "path=%s", path);
	return 0;
}

// Creates a listening unix socket at path with the given mode, creating
// its directory (mode 0755) when missing. Returns the descriptor or a
// negative errno.
static int listen_unix(const char *path, mode_t mode, struct cf_error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char dir_buf[VOL_PATH_MAX];
	int rc;

	if (strlen(path) >= sizeof(addr.sun_path))
		return cf_error_set(err, -ENAMETOOLONG,
				    "socket path %s is longer than the %zu bytes a unix socket allows",
				    path, sizeof(addr.sun_path) - 1);
	snprintf(dir_buf, sizeof(dir_buf), "%s", path);
	rc = cf_mkdir_p(dirname(dir_buf), 0755, err);
	if (rc < 0)
		return rc;
	rc = clear_stale_socket(path, err);
	if (rc < 0)
		return rc;

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot create a socket: %s", strerror(errno));
	memcpy(addr.sun_path, path, strlen(path) + 1);

	// The umask makes the socket appear with the final mode, so there is
	// no moment in which a wider mode lets someone connect.
	mode_t old_umask = umask(~mode & 0777);
	int bound = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	int bind_errno = errno;
	umask(old_umask);
	if (bound < 0) {
		close(fd);
		return cf_error_set(err, -bind_errno, "cannot bind %s: %s", path,
				    strerror(bind_errno));
	}
	if (chmod(path, mode) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		rc = cf_error_set(err, -errno, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return rc;
	}
	return fd;
}

static int serve_socket(struct server *server, struct evhttp **http,
			struct evhttp_bound_socket **bound, const char *path, mode_t mode,
			void (*handler)(struct evhttp_request *, void *), struct cf_error *err)
{
	int fd = listen_unix(path, mode, err);
	if (fd < 0)
		return fd;

	*http = evhttp_new(server->base);
	if (*http == NULL) {
		close(fd);
		unlink(path);
		return cf_error_set(err, -ENOMEM, "cannot create the HTTP server for %s", path);
	}
	evhttp_set_max_body_size(*http, PLUGIN_BODY_HARD_MAX);
	evhttp_set_timeout(*http, CONNECTION_TIMEOUT_SECONDS);
	evhttp_set_allowed_methods(*http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(*http, handler, server);

	*bound = evhttp_accept_socket_with_handle(*http, fd);
	if (*bound == NULL) {
		close(fd);
		unlink(path);
		return cf_error_set(err, -EIO, "cannot accept connections on %s", path);
	}
	return 0;
}

static void stop_listening(struct server *server)
{
	if (server->plugin_bound != NULL) {
		evhttp_del_accept_socket(server->plugin_http, server->plugin_bound);
		server->plugin_bound = NULL;
		unlink(server->config->plugin_socket);
	}
	if (server->admin_bound != NULL) {
		evhttp_del_accept_socket(server->admin_http, server->admin_bound);
		server->admin_bound = NULL;
		unlink(server->config->admin_socket);
	}
}

static void on_signal(evutil_socket_t signal_number, short events, void *arg)
{
	struct server *server = arg;
	(void)events;

	if (server->stopping)
		return;
	server->stopping = true;
	if (server->retry_timer != NULL)
		event_del(server->retry_timer);
	cf_log(CF_LOG_INFO, "storage.stopping", "signal=%s responses_in_flight=%u",
	       strsignal((int)signal_number), server->responses_in_flight);
	stop_listening(server);

	struct timeval limit = { .tv_sec = DRAIN_TIMEOUT_SECONDS };
	event_base_loopexit(server->base, &limit);
	arm_drain_timer(server);
}

// Takes an exclusive lock on STATE_DIR/serve.lock for the life of the
// process, so a second storage manager on the same state directory fails at
// start instead of running crash recovery on volumes the first one uses.
static int lock_state_dir(const char *state_dir, struct cf_error *err)
{
	char path[VOL_PATH_MAX + 16];

	int rc = cf_mkdir_p(state_dir, 0700, err);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/serve.lock", state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;
		close(fd);
		if (saved == EWOULDBLOCK)
			return cf_error_set(err, -EBUSY,
					    "another coffer storage manager is using state directory "
					    "%s; stop it or choose another --state-dir", state_dir);
		return cf_error_set(err, -saved, "cannot lock %s: %s", path, strerror(saved));
	}
	return fd;
}

// Obtains the KMS client certificate from coffer's CA (or reuses a valid
// one at kms-cert) and starts renewing it at two thirds of its lifetime.
static int start_kms_renewer(const struct storage_config *config, struct ca_renewer **out,
			     struct cf_error *err)
{
	char chain_path[VOL_PATH_MAX + 8], sans_text[VOL_PATH_MAX];
	const char *sans[CA_SAN_MAX];
	size_t san_count = 0;
	char *token = NULL;
	size_t token_size = 0;
	int rc;

	if (config->kms_cert[0] == '\0' || config->kms_key[0] == '\0' || config->kms_ca[0] == '\0')
		return cf_error_set(err, -EINVAL,
				    "kms-enroll needs kms-cert and kms-key (files to write) and kms-ca "
				    "(the CA's root.pem)");
	snprintf(chain_path, sizeof(chain_path), "%s.chain", config->kms_cert);
	snprintf(sans_text, sizeof(sans_text), "%s", config->kms_enroll_san);
	for (char *save = NULL, *san = strtok_r(sans_text, ",", &save);
	     san != NULL && san_count < CA_SAN_MAX; san = strtok_r(NULL, ",", &save))
		sans[san_count++] = san;

	struct ca_renewer_options options = {
		.enroll = {
			.server = config->kms_enroll,
			.root_path = config->kms_ca,
			.sans = sans,
			.san_count = san_count,
			.key_path = config->kms_key,
			.cert_path = config->kms_cert,
			.chain_path = chain_path,
		},
	};
	if (config->kms_enroll_token_file[0] != '\0') {
		rc = cf_read_file(config->kms_enroll_token_file, CA_TOKEN_TEXT_SIZE, &token,
				  &token_size, err);
		if (rc != 0)
			return rc;
		token[strcspn(token, "\r\n")] = '\0';
		options.enroll.token = token;
	}
	rc = ca_renewer_new(&options, out, err);
	if (rc == 0)
		rc = ca_renewer_start(*out, err);
	if (token != NULL) {
		cf_wipe(token, token_size);
		free(token);
	}
	return rc;
}

static int open_manager(const struct storage_config *config, struct vol_manager **manager,
			struct vol_key_provider **keys, struct ca_renewer **renewer,
			struct cf_error *err)
{
	struct vol_config vol_config = {
		.state_dir = config->state_dir,
		.pool_path = config->pool[0] != '\0' ? config->pool : NULL,
		.pool_size = config->pool_size,
		.fuse_uring = config->fuse_uring[0] != '\0' ? config->fuse_uring : NULL,
	};

	if (config->kms[0] != '\0') {
		struct vol_kmip_options kmip = {
			.url = config->kms,
			.cert_path = config->kms_cert[0] != '\0' ? config->kms_cert : NULL,
			.key_path = config->kms_key[0] != '\0' ? config->kms_key : NULL,
			.ca_path = config->kms_ca[0] != '\0' ? config->kms_ca : NULL,
		};
		if (config->kms_enroll[0] != '\0') {
			int rc = start_kms_renewer(config, renewer, err);
			if (rc < 0)
				return rc;
			kmip.renewer = *renewer;
		}
		int rc = vol_key_provider_kmip(keys, &kmip, err);
		if (rc < 0)
			return rc;
		vol_config.keys = *keys;
	}
	return vol_manager_open(manager, &vol_config, err);
}

int storage_serve(const struct storage_config *config, struct cf_error *err)
{
	struct server server = { .config = config };
	struct event *sigterm = NULL, *sigint = NULL;
	int lock_fd;
	char state_q[VOL_PATH_MAX + 8], plugin_q[VOL_PATH_MAX + 8], admin_q[VOL_PATH_MAX + 8];
	int rc;

	cf_log_set_level(config->log_level);
	rc = cf_harden_process(err);
	if (rc < 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);

	lock_fd = lock_state_dir(config->state_dir, err);
	if (lock_fd < 0)
		return lock_fd;

	// The sockets are bound before the volume manager opens, so a socket
	// that is in use fails fast. Connections wait in the backlog until the
	// loop runs, by which time the manager has finished crash recovery.
	server.base = event_base_new();
	if (server.base == NULL) {
		rc = cf_error_set(err, -ENOMEM, "cannot create the event loop");
		goto out;
	}
	rc = serve_socket(&server, &server.plugin_http, &server.plugin_bound,
			  config->plugin_socket, 0660, on_plugin_request, err);
	if (rc < 0)
		goto out;
	rc = serve_socket(&server, &server.admin_http, &server.admin_bound,
			  config->admin_socket, 0600, on_admin_request, err);
	if (rc < 0)
		goto out;

	rc = open_manager(config, &server.manager, &server.keys, &server.renewer, err);
	if (rc < 0) {
		cf_error_prefix(err, "cannot open the volume manager in %s", config->state_dir);
		goto out;
	}

	server.drain_timer = evtimer_new(server.base, on_drain_timer, &server);
	server.retry_timer = event_new(server.base, -1, EV_PERSIST, on_retry_timer, &server);
	struct timeval retry_interval = { RETRY_PENDING_SECONDS, 0 };
	if (server.retry_timer == NULL || evtimer_add(server.retry_timer, &retry_interval) < 0) {
		rc = cf_error_set(err, -EIO, "cannot start the pending-removal retry timer");
		goto out;
	}
	sigterm = evsignal_new(server.base, SIGTERM, on_signal, &server);
	sigint = evsignal_new(server.base, SIGINT, on_signal, &server);
	if (server.drain_timer == NULL || sigterm == NULL || sigint == NULL ||
	    evsignal_add(sigterm, NULL) < 0 ||
	    evsignal_add(sigint, NULL) < 0) {
		rc = cf_error_set(err, -EIO, "cannot install the SIGTERM and SIGINT handlers");
		goto out;
	}

	cf_log(CF_LOG_INFO, "storage.start", "pid=%d state_dir=%s plugin_socket=%s admin_socket=%s keys=%s",
	       (int)getpid(), cf_log_quote(state_q, sizeof(state_q), config->state_dir),
	       cf_log_quote(plugin_q, sizeof(plugin_q), config->plugin_socket),
	       cf_log_quote(admin_q, sizeof(admin_q), config->admin_socket),
	       config->kms[0] != '\0' ? config->kms : "embedded");

	if (event_base_dispatch(server.base) < 0) {
		rc = cf_error_set(err, -EIO, "the event loop failed");
		goto out;
	}
	if (server.responses_in_flight > 0)
		cf_log(CF_LOG_WARN, "storage.drain_timeout", "responses_in_flight=%u timeout_seconds=%d",
		       server.responses_in_flight, DRAIN_TIMEOUT_SECONDS);

	struct cf_error lock_err = { 0 };
	rc = vol_lock_all(server.manager, &lock_err);
	if (rc < 0) {
		char error_q[CF_ERROR_MAX + 8];
		cf_log(CF_LOG_ERROR, "storage.lock_failed", "errno=%d error=%s", -rc,
		       cf_log_quote(error_q, sizeof(error_q), cf_error_message(&lock_err, rc)));
		cf_error_set(err, rc, "%s", cf_error_message(&lock_err, rc));
	}

out:
	stop_listening(&server);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (server.drain_timer != NULL)
		event_free(server.drain_timer);
	if (server.retry_timer != NULL)
		event_free(server.retry_timer);
	if (server.plugin_http != NULL)
		evhttp_free(server.plugin_http);
	if (server.admin_http != NULL)
		evhttp_free(server.admin_http);
	if (server.base != NULL)
		event_base_free(server.base);
	if (server.manager != NULL)
		vol_manager_close(server.manager);
	vol_key_provider_free(server.keys);
	ca_renewer_free(server.renewer);
	close(lock_fd);
	if (rc == 0) {
		cf_log(CF_LOG_INFO, "storage.stop", "result=ok");
	} else {
		char error_q[CF_ERROR_MAX + 8];
		cf_log(CF_LOG_ERROR, "storage.stop", "result=error errno=%d error=%s", -rc,
		       cf_log_quote(error_q, sizeof(error_q), cf_error_message(err, rc)));
	}
	return rc;
}
