// SPDX-License-Identifier: Apache-2.0
// The KMS network server. The main thread accepts connections and waits
// for SIGTERM and SIGINT on a signalfd. Each connection gets its own thread,
// up to max_connections, and further connections are closed at once.
// Connection threads run the TLS handshake, then read one request message
// at a time and send its response. Key store calls are serialised by one
// mutex because a store handle is not thread-safe, while TLS, framing and
// decoding run in parallel. While there are fewer connections than CPUs, a
// thread polls briefly for its connection's next request before sleeping
// (busy_poll_us). On a stop signal the listener closes, idle
// connections end at once, and a request in progress gets its response
// before its thread exits.

#include <coffer/ca.h>
#include <coffer/kms.h>
#include <coffer/keystore_attributes.h>

#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define HANDSHAKE_TIMEOUT_MS 10000
#define REQUEST_TIMEOUT_MS 30000
#define THREAD_STACK_SIZE (512 * 1024)
// Audit records of successful Gets are committed in batches of up to
// READ_AUDIT_BATCH records, and the main thread commits an open batch
// every READ_AUDIT_FLUSH_MS. A process crash loses the records of the
// open batch (at most READ_AUDIT_BATCH, about READ_AUDIT_FLUSH_MS old).
// A mutation commits the batch before it starts, and its own records are
// synced before its response is sent.
#define READ_AUDIT_BATCH 256
#define READ_AUDIT_FLUSH_MS 50

struct server {
	const struct kms_config *config;
	struct ks_store *store;
	pthread_mutex_t store_lock;
	SSL_CTX *tls;
	volatile int stopping;
	pthread_mutex_t count_lock;
	pthread_cond_t count_changed;
	int connections;
	uint64_t next_connection_id;
	int cpu_count;
};

struct connection {
	struct server *server;
	int fd;
	uint64_t id;
	char peer[INET6_ADDRSTRLEN + 8];
};

static bool is_admin(const struct kms_config *config, const char *identity)
{
	for (size_t i = 0; i < config->admin_count; i++) {
		if (strcmp(config->admins[i], identity) == 0)
			return true;
	}
	return false;
}

// Connection errors are logged at most LOG_BURST times per second, so a
// flood of failing handshakes cannot flood the log. The number of lines
// left out is logged before the next line that is written.
#define LOG_BURST 20

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t log_second;
static unsigned log_count;
static unsigned long log_suppressed;

// Returns whether a connection-level line may be written now. When it
// may, earlier lines that were left out are counted in one line first.
static bool log_rate_allows(void)
{
	unsigned long suppressed = 0;
	bool allowed = true;
	int64_t now = cf_now();

	pthread_mutex_lock(&log_lock);
	if (now != log_second) {
		log_second = now;
		log_count = 0;
	}
	if (log_count >= LOG_BURST) {
		log_suppressed++;
		allowed = false;
	} else {
		log_count++;
		suppressed = log_suppressed;
		log_suppressed = 0;
	}
	pthread_mutex_unlock(&log_lock);

	if (suppressed > 0)
		cf_log(CF_LOG_WARN, "kms_log_suppressed",
		       "lines=%lu reason=\"more than %d connection errors per second\"", suppressed,
		       LOG_BURST);
	return allowed;
}

static void log_connection_error(const struct connection *c, const char *event,
				 const char *what)
{
	char quoted[320];

	if (!log_rate_allows())
		return;
	cf_log(CF_LOG_WARN, event, "connection=%llu peer=%s error=%s",
	       (unsigned long long)c->id, c->peer, cf_log_quote(quoted, sizeof(quoted), what));
}

// Serves requests on an established TLS session until the peer closes,
// the idle timeout passes, a framing error occurs or the server stops.
static void serve_session(struct connection *c, SSL *ssl, const struct ks_caller *caller)
{
	struct server *s = c->server;
	size_t max_message = s->config->max_message;
	uint8_t *request = malloc(max_message);
	struct kmip_buf response;
	struct cf_error err = { 0 };

	kmip_buf_init(&response, max_message);
	if (request == NULL) {
		log_connection_error(c, "kms_connection_error", "out of memory");
		goto out;
	}

	struct kmip_spin spin = { 0 };
	while (!s->stopping) {
		int64_t idle_deadline = kmip_monotonic_ms() +
					(int64_t)s->config->idle_timeout_seconds * 1000;
		// With as many connections as CPUs, the CPUs are seldom idle, and a
		// polling thread would take time from the others.
		spin.limit_us = __atomic_load_n(&s->connections, __ATOMIC_RELAXED) < s->cpu_count
					? s->config->busy_poll_us
					: 0;
		int rc = kmip_tls_read(ssl, request, KMIP_HEADER_SIZE, idle_deadline, &s->stopping,
				       &spin);
		if (rc == -ETIMEDOUT) {
			cf_log(CF_LOG_INFO, "kms_idle_timeout", "connection=%llu idle_seconds=%d",
			       (unsigned long long)c->id, s->config->idle_timeout_seconds);
			break;
		}
		if (rc != 0)
			break;

		size_t total;
		cf_error_reset(&err);
		rc = kmip_frame_size(request, KMIP_TAG_REQUEST_MESSAGE, max_message, &total, &err);
		if (rc != 0) {
			// Without a trustworthy length the stream cannot be resynchronised,
			// so the connection is closed.
			log_connection_error(c, "kms_bad_frame", cf_error_message(&err, rc));
			break;
		}
		rc = kmip_tls_read(ssl, request + KMIP_HEADER_SIZE, total - KMIP_HEADER_SIZE,
				   kmip_monotonic_ms() + REQUEST_TIMEOUT_MS, NULL, NULL);
		if (rc != 0) {
			log_connection_error(c, "kms_read_failed",
					     rc == -ETIMEDOUT ? "request body timed out"
							      : "connection closed mid-request");
			break;
		}

		rc = kms_handle_request_locked(s->store, &s->store_lock, caller, request, total,
					       &response);
		cf_wipe(request, total);
		if (rc != 0) {
			log_connection_error(c, "kms_response_failed", strerror(-rc));
			break;
		}

		rc = kmip_tls_write(ssl, response.data, response.size,
				    kmip_monotonic_ms() + REQUEST_TIMEOUT_MS);
		kmip_buf_reset(&response);
		if (rc != 0) {
			log_connection_error(c, "kms_write_failed", strerror(-rc));
			break;
		}
	}

out:
	free(request);
	kmip_buf_free(&response);
}

static void *connection_main(void *arg)
{
	struct connection *c = arg;
	struct server *s = c->server;
	char reason[256];
	char identity[KS_OWNER_MAX];

	SSL_CTX *renewed = s->config->renewer != NULL ? ca_renewer_server_ctx(s->config->renewer) : NULL;
	SSL *ssl = SSL_new(renewed != NULL ? renewed : s->tls);
	SSL_CTX_free(renewed);
	if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1) {
		log_connection_error(c, "kms_connection_error", "cannot create a TLS session");
		goto out;
	}
	int rc = kmip_tls_handshake(ssl, true, kmip_monotonic_ms() + HANDSHAKE_TIMEOUT_MS);
	if (rc != 0) {
		log_connection_error(c, "kms_handshake_failed",
				     rc == -ETIMEDOUT ? "TLS handshake timed out"
						      : kmip_tls_error(reason, sizeof(reason)));
		goto out;
	}
	if (kmip_tls_peer_identity(ssl, identity, sizeof(identity)) != 0) {
		log_connection_error(c, "kms_handshake_failed",
				     "client certificate has neither a URI subjectAltName nor a CN");
		goto out;
	}

	struct ks_caller caller = { identity, is_admin(s->config, identity) };
	char quoted[KS_OWNER_MAX + 8];
	cf_log(CF_LOG_INFO, "kms_connection", "connection=%llu peer=%s identity=%s admin=%s tls=%s",
	       (unsigned long long)c->id, c->peer, cf_log_quote(quoted, sizeof(quoted), identity),
	       caller.admin ? "yes" : "no", SSL_get_version(ssl));
	serve_session(c, ssl, &caller);
	SSL_shutdown(ssl);

out:
	SSL_free(ssl);
	close(c->fd);
	cf_log(CF_LOG_DEBUG, "kms_connection_closed", "connection=%llu", (unsigned long long)c->id);
	pthread_mutex_lock(&s->count_lock);
	s->connections--;
	pthread_cond_broadcast(&s->count_changed);
	pthread_mutex_unlock(&s->count_lock);
	free(c);
	return NULL;
}

static int parse_listen(const char *listen_spec, char *host, size_t host_size, char *port,
			size_t port_size, struct cf_error *err)
{
	const char *colon = strrchr(listen_spec, ':');
	if (colon == NULL || colon[1] == '\0')
		return cf_error_set(err, -EINVAL,
				    "listen address '%s' is invalid; use HOST:PORT, e.g. 0.0.0.0:5696",
				    listen_spec);
	size_t host_length = (size_t)(colon - listen_spec);
	if (host_length >= 2 && listen_spec[0] == '[' && colon[-1] == ']') {
		listen_spec++;
		host_length -= 2;
	}
	if (host_length == 0 || host_length >= host_size || strlen(colon + 1) >= port_size)
		return cf_error_set(err, -EINVAL, "listen address '%s' is invalid; use HOST:PORT",
				    listen_spec);
	memcpy(host, listen_spec, host_length);
	host[host_length] = '\0';
	snprintf(port, port_size, "%s", colon + 1);
	return 0;
}

static int open_listener(const struct kms_config *config, int *listen_fd, int *bound_port,
			 struct cf_error *err)
{
	char host[256], port[16];
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res = NULL;

	int rc = parse_listen(config->listen, host, sizeof(host), port, sizeof(port), err);
	if (rc != 0)
		return rc;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0)
		return cf_error_set(err, -EINVAL, "listen address '%s' is invalid: %s",
				    config->listen, gai_strerror(gai));

	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = cf_error_set(err, -errno, "socket failed: %s", strerror(errno));
		goto out;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 128) != 0) {
		rc = cf_error_set(err, -errno, "cannot listen on %s: %s", config->listen,
				  strerror(errno));
		close(fd);
		goto out;
	}

	struct sockaddr_storage bound;
	socklen_t bound_size = sizeof(bound);
	getsockname(fd, (struct sockaddr *)&bound, &bound_size);
	*bound_port = bound.ss_family == AF_INET6
			      ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
			      : ntohs(((struct sockaddr_in *)&bound)->sin_port);
	*listen_fd = fd;

out:
	freeaddrinfo(res);
	return rc;
}

static void format_peer(const struct sockaddr_storage *addr, char *out, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (addr->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(out, size, "%s:%d", host, port);
}

static void accept_one(struct server *s, int listen_fd, pthread_attr_t *attr)
{
	struct sockaddr_storage addr;
	socklen_t addr_size = sizeof(addr);
	int fd = accept4(listen_fd, (struct sockaddr *)&addr, &addr_size, SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			cf_log(CF_LOG_WARN, "kms_accept_failed", "error=\"%s\"", strerror(errno));
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	struct connection *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->server = s;
	c->fd = fd;
	c->id = ++s->next_connection_id;
	format_peer(&addr, c->peer, sizeof(c->peer));

	pthread_mutex_lock(&s->count_lock);
	bool full = s->connections >= s->config->max_connections;
	if (!full)
		s->connections++;
	pthread_mutex_unlock(&s->count_lock);
	if (full) {
		if (log_rate_allows())
			cf_log(CF_LOG_WARN, "kms_connection_rejected",
			       "peer=%s reason=\"limit of %d connections reached\"", c->peer,
			       s->config->max_connections);
		close(fd);
		free(c);
		return;
	}

	pthread_t thread;
	if (pthread_create(&thread, attr, connection_main, c) != 0) {
		cf_log(CF_LOG_ERROR, "kms_connection_rejected", "peer=%s reason=\"thread creation failed\"",
		       c->peer);
		pthread_mutex_lock(&s->count_lock);
		s->connections--;
		pthread_mutex_unlock(&s->count_lock);
		close(fd);
		free(c);
	}
}

static int write_port_file(const char *path, int port, struct cf_error *err)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return cf_error_set(err, -errno, "cannot write port file %s: %s", tmp, strerror(errno));
	fprintf(f, "%d\n", port);
	fclose(f);
	if (rename(tmp, path) != 0)
		return cf_error_set(err, -errno, "cannot write port file %s: %s", path, strerror(errno));
	return 0;
}

static int open_store(struct server *s, struct cf_error *err)
{
	struct ks_options options = { .dir = s->config->state_dir, .create_master_key = true };
	int rc = ks_open(&s->store, &options, err);
	if (rc == 0)
		rc = ks_attr_init(s->store, err);
	// Requests that change the store end with one ks_sync in
	// kms_handle_request, so individual commits need not wait for fsync.
	if (rc == 0)
		rc = ks_sync_defer(s->store, true, err);
	if (rc == 0)
		rc = ks_batch_read_audit(s->store, READ_AUDIT_BATCH, err);
	return rc;
}

static void flush_read_audit(struct server *s)
{
	struct cf_error err = { 0 };
	char quoted[CF_ERROR_MAX + 8];

	pthread_mutex_lock(&s->store_lock);
	int rc = ks_flush_read_audit(s->store, &err);
	pthread_mutex_unlock(&s->store_lock);
	if (rc != 0)
		cf_log(CF_LOG_ERROR, "kms_audit_flush_failed", "error=%s",
		       cf_log_quote(quoted, sizeof(quoted), cf_error_message(&err, rc)));
}

static void run_accept_loop(struct server *s, int listen_fd, int signal_fd)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK_SIZE);

	struct pollfd fds[2] = {
		{ .fd = listen_fd, .events = POLLIN },
		{ .fd = signal_fd, .events = POLLIN },
	};
	int64_t last_flush = kmip_monotonic_ms();
	while (!s->stopping) {
		int n = poll(fds, 2, READ_AUDIT_FLUSH_MS);
		int64_t now = kmip_monotonic_ms();
		if (now - last_flush >= READ_AUDIT_FLUSH_MS) {
			flush_read_audit(s);
			last_flush = now;
		}
		if (n == 0)
			continue;
		if (n < 0 && errno != EINTR) {
			cf_log(CF_LOG_ERROR, "kms_poll_failed", "error=\"%s\"", strerror(errno));
			break;
		}
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo info;
			if (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
				cf_log(CF_LOG_INFO, "kms_stopping", "signal=%s",
				       info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
				s->stopping = 1;
			}
			continue;
		}
		if (fds[0].revents & POLLIN)
			accept_one(s, listen_fd, &attr);
	}
	pthread_attr_destroy(&attr);
}

int kms_serve(const struct kms_config *config, struct cf_error *err)
{
	struct server s = { .config = config };
	int listen_fd = -1, signal_fd = -1, port = 0;
	sigset_t signals;
	int rc;

	pthread_mutex_init(&s.store_lock, NULL);
	pthread_mutex_init(&s.count_lock, NULL);
	pthread_cond_init(&s.count_changed, NULL);
	s.cpu_count = (int)sysconf(_SC_NPROCESSORS_ONLN);

	rc = cf_harden_process(err);
	if (rc != 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
	if (signal_fd < 0)
		return cf_error_set(err, -errno, "signalfd failed: %s", strerror(errno));

	rc = kmip_tls_context(&s.tls, true, config->cert_path, config->key_path,
			      config->client_ca_path, err);
	if (rc != 0)
		goto out;
	rc = open_store(&s, err);
	if (rc != 0)
		goto out;
	rc = open_listener(config, &listen_fd, &port, err);
	if (rc != 0)
		goto out;
	if (config->port_file != NULL) {
		rc = write_port_file(config->port_file, port, err);
		if (rc != 0)
			goto out;
	}

	char dir[512];
	cf_log(CF_LOG_INFO, "kms_start", "listen=%s port=%d state_dir=%s admins=%zu max_connections=%d idle_timeout=%d busy_poll_us=%d",
	       config->listen, port, cf_log_quote(dir, sizeof(dir), config->state_dir),
	       config->admin_count, config->max_connections, config->idle_timeout_seconds,
	       config->busy_poll_us);

	run_accept_loop(&s, listen_fd, signal_fd);
	close(listen_fd);
	listen_fd = -1;

	// Connection threads see `stopping` within 200 ms when idle; a request
	// in progress finishes first.
	pthread_mutex_lock(&s.count_lock);
	while (s.connections > 0)
		pthread_cond_wait(&s.count_changed, &s.count_lock);
	pthread_mutex_unlock(&s.count_lock);
	cf_log(CF_LOG_INFO, "kms_stop", "port=%d", port);

out:
	if (listen_fd >= 0)
		close(listen_fd);
	close(signal_fd);
	if (s.store != NULL)
		ks_close(s.store);
	SSL_CTX_free(s.tls);
	pthread_mutex_destroy(&s.store_lock);
	pthread_mutex_destroy(&s.count_lock);
	pthread_cond_destroy(&s.count_changed);
	return rc;
}
