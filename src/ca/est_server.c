// SPDX-License-Identifier: Apache-2.0
// The EST server (RFC 7030) over HTTPS: libevent's evhttp with OpenSSL
// bufferevents, one event-loop thread per worker, each with its own struct
// ca handle. A new enrollment is checked and signed in its request handler
// and recorded at the end of the loop iteration, in one transaction with
// the others of that iteration, before any of their replies is sent.
//
// TLS requests a client certificate but accepts a connection without one,
// and accepts any certificate during the handshake. Only simplereenroll
// uses it, and that handler verifies it against the CA (chain, validity,
// revocation), so a rejection is an HTTP error with a message rather than
// a failed handshake. The server's own certificate is issued by the
// intermediate at start and reissued at two thirds of its lifetime; new
// connections get the new one.
//
// All workers accept on one listening socket, and the kernel hands a new
// connection to whichever worker's accept runs first. One worker could
// then serve every keep-alive connection while the other sits idle, so
// only the workers that serve the fewest connections accept new ones.
// Each worker enables and disables its own listener, in its own thread.

#include "ca_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include <openssl/err.h>

#define EST_PREFIX "/.well-known/est/"
// Seconds an idle or slow connection is kept open.
#define EST_TIMEOUT 30
#define EST_HEADERS_MAX (16 * 1024)

#define EST_THREADS_MAX 16

struct est_server;

// A certificate waiting for its reply until the worker's batch commits, so
// a client never has a certificate whose issuance record and audit record
// could still be rolled back. A renewal is recorded in the batch when its
// request is handled (leaf set). A new enrollment is recorded at flush
// (enrollment set), so its signing happens outside the write lock.
struct pending_reply {
	struct evhttp_request *req;
	struct ca_leaf leaf;
	struct ca_enrollment *enrollment;
	const char *how;
};

// One event loop with its own evhttp and CA handle (its own SQLite
// connection). All workers accept on the same listening socket.
struct est_worker {
	struct est_server *server;
	struct ca *ca;
	struct event_base *base;
	struct evhttp *http;
	pthread_t thread;
	bool started;
	int64_t issued;
	int64_t rejected;
	int64_t accepted; // connections accepted since the start

	// Group commit: handlers queue their replies here and activate flush,
	// which runs at a lower priority than I/O, so the requests that arrive
	// in one loop iteration share one COMMIT.
	struct event *flush;
	struct pending_reply *pending;
	size_t pending_count;
	size_t pending_capacity;

	// Accept balancing: this worker's listener, the event that other
	// threads activate to have it check whether it should accept, and the
	// connections it serves (protected by server->balance_lock).
	struct evconnlistener *listener;
	struct event *rebalance;
	int connections;
	bool accepting;
};

struct est_server {
	// Worker 0's handle; it issues the server's own certificate.
	struct ca *ca;
	pthread_mutex_t tls_lock;
	SSL_CTX *tls; // protected by tls_lock
	char host[256];
	struct ca_san_list extra_sans; // options->tls_sans, normalized
	struct event *renew_timer;
	// Runs the WAL checkpoints of all workers' handles; NULL when it could
	// not start, and SQLite checkpoints inside commits instead.
	struct ca_checkpointer *checkpointer;
	pthread_mutex_t balance_lock;
	// Cleared, under balance_lock, before the workers are freed.
	bool balancing;
	int worker_count;
	struct est_worker workers[EST_THREADS_MAX];
};

// Sends a reply as one TLS record. evhttp puts the status line and headers
// in one buffer segment and moves the body in as another, and libevent
// 2.1's OpenSSL bufferevent calls SSL_write once per segment, so the reply
// would leave in two records and two TCP writes. The bytes are written
// later from the event loop, so merging the segments here is in time.
static void send_reply(struct evhttp_request *req, int status, const char *reason,
		       struct evbuffer *body)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;

	evhttp_send_reply(req, status, reason, body);
	// evhttp frees a request and its connection only from the event loop,
	// so bev is still valid here.
	if (bev != NULL)
		evbuffer_pullup(bufferevent_get_output(bev), -1);
}

static void log_rejection(struct evhttp_request *req, int status, const char *message)
{
	char peer[64] = "-", quoted[CF_ERROR_MAX + 16];
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	if (conn != NULL) {
		const char *address = NULL;
		ev_uint16_t port = 0;
		evhttp_connection_get_peer(conn, (char **)&address, &port);
		if (address != NULL)
			snprintf(peer, sizeof(peer), "%s:%u", address, port);
	}
	cf_log(CF_LOG_WARN, "est.reject", "path=%s peer=%s status=%d error=%s",
	       evhttp_request_get_uri(req), peer, status,
	       cf_log_quote(quoted, sizeof(quoted), message));
}

static void send_error(struct est_worker *server, struct evhttp_request *req, int status,
		       const char *reason, const char *message)
{
	struct evbuffer *body = evbuffer_new();
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);

	server->rejected++;
	log_rejection(req, status, message);
	evhttp_add_header(headers, "Content-Type", "text/plain; charset=utf-8");
	if (status == 401)
		evhttp_add_header(headers, "WWW-Authenticate", "Basic realm=\"coffer-est\", Bearer");
	if (body != NULL)
		evbuffer_add_printf(body, "%s\n", message);
	send_reply(req, status, reason, body);
	evbuffer_free(body);
}

// Maps a library error to an HTTP status, in this one place.
static void send_failure(struct est_worker *server, struct evhttp_request *req, int rc,
			 const struct cf_error *err)
{
	const char *message = cf_error_message(err, rc);
	switch (rc) {
	case -EINVAL:
		send_error(server, req, 400, "Bad Request", message);
		break;
	case -EACCES:
		send_error(server, req, 401, "Unauthorized", message);
		break;
	case -EPERM:
		send_error(server, req, 403, "Forbidden", message);
		break;
	default:
		send_error(server, req, 500, "Internal Server Error", message);
		break;
	}
}

static void send_base64(struct evhttp_request *req, const char *content_type,
			const uint8_t *der, size_t size)
{
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();
	struct evbuffer_iovec space;
	size_t text_len = 4 * ((size + 2) / 3);

	// The text is encoded straight into the reply body. EVP_EncodeBlock
	// writes a NUL after it, where the final newline goes.
	if (body == NULL || size > INT_MAX / 2 ||
	    evbuffer_reserve_space(body, (ev_ssize_t)text_len + 1, &space, 1) != 1) {
		evbuffer_free(body);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	int len = EVP_EncodeBlock(space.iov_base, der, (int)size);
	((char *)space.iov_base)[len] = '\n';
	space.iov_len = (size_t)len + 1;
	evbuffer_commit_space(body, &space, 1);

	evhttp_add_header(headers, "Content-Type", content_type);
	evhttp_add_header(headers, "Content-Transfer-Encoding", "base64");
	send_reply(req, 200, "OK", body);
	evbuffer_free(body);
}

static bool method_is(struct evhttp_request *req, enum evhttp_cmd_type method)
{
	return evhttp_request_get_command(req) == method;
}

static void handle_cacerts(struct evhttp_request *req, void *arg)
{
	struct est_worker *server = arg;
	struct cf_error err = { 0 };
	uint8_t *der = NULL;
	size_t size = 0;

	if (!method_is(req, EVHTTP_REQ_GET)) {
		send_error(server, req, 405, "Method Not Allowed", "cacerts accepts only GET");
		return;
	}
	int rc = ca_cacerts_der(server->ca, &der, &size, &err);
	if (rc != 0) {
		send_failure(server, req, rc, &err);
		return;
	}
	send_base64(req, "application/pkcs7-mime", der, size);
	free(der);
}

static void handle_crl(struct evhttp_request *req, void *arg)
{
	struct est_worker *server = arg;
	struct cf_error err = { 0 };
	uint8_t *der = NULL;
	size_t size = 0;

	if (!method_is(req, EVHTTP_REQ_GET)) {
		send_error(server, req, 405, "Method Not Allowed", "the CRL accepts only GET");
		return;
	}
	int rc = ca_crl_der(server->ca, &der, &size, &err);
	if (rc != 0) {
		send_failure(server, req, rc, &err);
		return;
	}
	struct evbuffer *body = evbuffer_new();
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/pkix-crl");
	if (body != NULL)
		evbuffer_add(body, der, size);
	send_reply(req, 200, "OK", body);
	evbuffer_free(body);
	free(der);
}

// Checks method and content type and decodes the base64 PKCS#10 body.
// Sends the error reply itself and returns false on bad input.
static bool read_request_body(struct est_worker *server, struct evhttp_request *req,
			      uint8_t **der, size_t *size)
{
	if (!method_is(req, EVHTTP_REQ_POST)) {
		send_error(server, req, 405, "Method Not Allowed", "enrollment accepts only POST");
		return false;
	}
	const char *type = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	size_t type_len = type != NULL ? strcspn(type, "; \t") : 0;
	if (type == NULL || type_len != strlen("application/pkcs10") ||
	    strncasecmp(type, "application/pkcs10", type_len) != 0) {
		send_error(server, req, 415, "Unsupported Media Type",
			   "the request body must be Content-Type application/pkcs10 (base64 DER)");
		return false;
	}

	struct evbuffer *input = evhttp_request_get_input_buffer(req);
	size_t length = evbuffer_get_length(input);
	if (length == 0) {
		send_error(server, req, 400, "Bad Request", "the request body is empty");
		return false;
	}
	const char *text = (const char *)evbuffer_pullup(input, -1);
	if (text == NULL || ca_base64_decode(text, length, der, size) != 0) {
		send_error(server, req, 400, "Bad Request",
			   "the request body is not valid base64");
		return false;
	}
	return true;
}

// Extracts the bootstrap token from "Bearer TOKEN" or "Basic base64(user:TOKEN)"
// into token (CA_TOKEN_TEXT_SIZE bytes).
static int read_token(struct evhttp_request *req, char *token)
{
	const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (auth == NULL)
		return -ENOENT;

	if (strncasecmp(auth, "Bearer ", 7) == 0) {
		const char *value = auth + 7;
		while (*value == ' ')
			value++;
		if (strlen(value) >= CA_TOKEN_TEXT_SIZE)
			return -EINVAL;
		strcpy(token, value);
		return 0;
	}
	if (strncasecmp(auth, "Basic ", 6) == 0) {
		uint8_t *decoded = NULL;
		size_t size = 0;
		const char *value = auth + 6;
		if (ca_base64_decode(value, strlen(value), &decoded, &size) != 0)
			return -EINVAL;
		const uint8_t *colon = memchr(decoded, ':', size);
		int rc = -EINVAL;
		if (colon != NULL) {
			size_t len = size - (size_t)(colon + 1 - decoded);
			if (len < CA_TOKEN_TEXT_SIZE && memchr(colon + 1, '\0', len) == NULL) {
				memcpy(token, colon + 1, len);
				token[len] = '\0';
				rc = 0;
			}
		}
		cf_wipe(decoded, size);
		free(decoded);
		return rc;
	}
	return -EINVAL;
}

static void send_certificate(struct est_worker *server, struct evhttp_request *req,
			     const struct ca_leaf *leaf, const char *how)
{
	char quoted[300];
	struct cf_error err = { 0 };
	uint8_t *der = NULL;
	size_t size = 0;

	int rc = ca_pkcs7_cert_der(leaf->der, leaf->der_size, &der, &size, &err);
	if (rc != 0) {
		send_failure(server, req, rc, &err);
		return;
	}
	server->issued++;
	cf_log(CF_LOG_INFO, "est.issue", "via=%s serial=%s cn=%s", how, leaf->serial,
	       cf_log_quote(quoted, sizeof(quoted), leaf->cn));
	send_base64(req, "application/pkcs7-mime; smime-type=certs-only", der, size);
	free(der);
}

static void free_enrollment(struct ca_enrollment *enrollment)
{
	if (enrollment == NULL)
		return;
	ca_enrollment_clear(enrollment);
	free(enrollment);
}

// Records the queued enrollments in the worker's batch and commits it,
// then sends every queued certificate, or an error to each of their
// clients when the commit failed. An enrollment whose record step fails
// gets its error reply at once.
static int commit_and_reply(struct est_worker *worker, struct cf_error *err)
{
	for (size_t i = 0; i < worker->pending_count; i++) {
		struct pending_reply *reply = &worker->pending[i];
		if (reply->enrollment == NULL)
			continue;
		struct cf_error record_err = { 0 };
		int record_rc = ca_enroll_record(worker->ca, reply->enrollment, &reply->leaf,
						 &record_err);
		free_enrollment(reply->enrollment);
		reply->enrollment = NULL;
		if (record_rc != 0) {
			send_failure(worker, reply->req, record_rc, &record_err);
			reply->req = NULL;
		}
	}

	int rc = ca_batch_commit(worker->ca, err);
	if (rc != 0) {
		char quoted[CF_ERROR_MAX + 16];
		cf_log(CF_LOG_ERROR, "est.commit_failed", "certificates=%zu error=%s",
		       worker->pending_count,
		       cf_log_quote(quoted, sizeof(quoted), cf_error_message(err, rc)));
	}
	for (size_t i = 0; i < worker->pending_count; i++) {
		struct pending_reply *reply = &worker->pending[i];
		if (reply->req != NULL && rc == 0)
			send_certificate(worker, reply->req, &reply->leaf, reply->how);
		else if (reply->req != NULL)
			send_failure(worker, reply->req, rc, err);
		ca_leaf_clear(&reply->leaf);
	}
	worker->pending_count = 0;
	return rc;
}

static void flush_batch(evutil_socket_t fd, short what, void *arg)
{
	struct cf_error err = { 0 };
	(void)fd;
	(void)what;
	commit_and_reply(arg, &err);
}

// Activates flush when a request left the batch open. A rejected request
// can open it too, and must not keep the write lock past this iteration.
static void schedule_flush(struct est_worker *worker)
{
	if (ca_batch_pending(worker->ca))
		event_active(worker->flush, 0, 0);
}

// Queues a reply to req for after the commit, taking ownership of leaf
// (a renewal already recorded in the batch) or of enrollment (a new
// enrollment, recorded at flush). Exactly one of the two is set.
static void queue_reply(struct est_worker *worker, struct evhttp_request *req,
			struct ca_leaf *leaf, struct ca_enrollment *enrollment, const char *how)
{
	struct ca_leaf cert = { 0 };
	if (leaf != NULL) {
		cert = *leaf;
		leaf->der = NULL;
	}

	if (worker->pending_count == worker->pending_capacity) {
		size_t capacity = worker->pending_capacity > 0 ? 2 * worker->pending_capacity : 16;
		struct pending_reply *grown = realloc(worker->pending, capacity * sizeof(*grown));
		if (grown == NULL) {
			// Without room to queue, commit now. The batch includes a
			// renewal's cert, and an enrollment is recorded after it.
			struct cf_error err = { 0 };
			int rc = commit_and_reply(worker, &err);
			if (enrollment != NULL) {
				cf_error_reset(&err);
				rc = ca_enroll_record(worker->ca, enrollment, &cert, &err);
				if (rc == 0)
					rc = ca_batch_commit(worker->ca, &err);
				free_enrollment(enrollment);
			}
			if (rc == 0)
				send_certificate(worker, req, &cert, how);
			else
				send_failure(worker, req, rc, &err);
			ca_leaf_clear(&cert);
			return;
		}
		worker->pending = grown;
		worker->pending_capacity = capacity;
	}
	worker->pending[worker->pending_count++] =
		(struct pending_reply){ req, cert, enrollment, how };
	if (enrollment != NULL)
		event_active(worker->flush, 0, 0);
}

static void handle_simpleenroll(struct evhttp_request *req, void *arg)
{
	struct est_worker *server = arg;
	struct cf_error err = { 0 };
	char token[CA_TOKEN_TEXT_SIZE];
	uint8_t *der = NULL;
	size_t size = 0;

	if (!read_request_body(server, req, &der, &size))
		return;
	int rc = read_token(req, token);
	if (rc != 0) {
		send_error(server, req, 401, "Unauthorized",
			   rc == -ENOENT ? "a bootstrap token is required (HTTP Basic password or Bearer)"
					 : "the Authorization header is malformed");
		free(der);
		return;
	}

	struct ca_enrollment *enrollment = malloc(sizeof(*enrollment));
	if (enrollment == NULL)
		rc = cf_error_set(&err, -ENOMEM, "out of memory");
	else
		rc = ca_enroll_prepare(server->ca, token, der, size, enrollment, &err);
	cf_wipe(token, sizeof(token));
	free(der);
	if (rc != 0) {
		free(enrollment);
		send_failure(server, req, rc, &err);
		return;
	}
	queue_reply(server, req, NULL, enrollment, "token");
}

static SSL *request_ssl(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
	return bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
}

static void handle_simplereenroll(struct evhttp_request *req, void *arg)
{
	struct est_worker *server = arg;
	struct cf_error err = { 0 };
	uint8_t *der = NULL;
	size_t size = 0;
	struct ca_leaf cert = { 0 };

	if (!read_request_body(server, req, &der, &size))
		return;

	SSL *ssl = request_ssl(req);
	X509 *peer = ssl != NULL ? SSL_get1_peer_certificate(ssl) : NULL;
	// On the server side the peer chain excludes the peer's own certificate.
	STACK_OF(X509) *chain = ssl != NULL ? SSL_get_peer_cert_chain(ssl) : NULL;
	int rc = ca_reenroll_leaf(server->ca, peer, chain, der, size, &cert, &err);
	X509_free(peer);
	free(der);
	schedule_flush(server);
	if (rc != 0) {
		send_failure(server, req, rc, &err);
		return;
	}
	queue_reply(server, req, &cert, NULL, "reenroll");
}

static void handle_other(struct evhttp_request *req, void *arg)
{
	struct est_worker *server = arg;
	char message[512];
	snprintf(message, sizeof(message),
		 "%.300s is not an EST endpoint (cacerts, simpleenroll, simplereenroll, /crl)",
		 evhttp_request_get_uri(req));
	send_error(server, req, 404, "Not Found", message);
}

static int accept_any_certificate(int preverify, X509_STORE_CTX *ctx)
{
	(void)preverify;
	(void)ctx;
	return 1;
}

// Issues the server's own certificate and builds a TLS context from it.
static int build_tls(struct est_server *server, struct cf_error *err)
{
	struct ca *ca = server->ca;
	struct ca_san_list sans = { 0 };
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	SSL_CTX *tls = NULL;
	int rc;

	rc = ca_san_normalize(server->host, sans.names[sans.count++], err);
	if (rc == 0 && (strcmp(server->host, "0.0.0.0") == 0 || strcmp(server->host, "::") == 0)) {
		sans.count = 0;
		strcpy(sans.names[sans.count++], "DNS:localhost");
		strcpy(sans.names[sans.count++], "IP:127.0.0.1");
		strcpy(sans.names[sans.count++], "IP:::1");
	}
	for (size_t i = 0; rc == 0 && i < server->extra_sans.count; i++) {
		bool listed = false;
		for (size_t j = 0; j < sans.count; j++)
			listed = listed || strcmp(sans.names[j], server->extra_sans.names[i]) == 0;
		if (!listed)
			strcpy(sans.names[sans.count++], server->extra_sans.names[i]);
	}
	if (rc == 0)
		rc = ca_key_generate(CA_KEY_P256, &key, err);
	if (rc != 0)
		goto out;

	int64_t now = cf_now();
	struct ca_cert_spec spec = {
		.cn = ca_san_value(sans.names[0]),
		.sans = &sans,
		.public_key = key,
		.issuer = ca->issuer,
		.signing_key = ca->issuer_key,
		.not_before = now - CA_BACKDATE,
		.not_after = now + ca->lifetime,
		.profile = CA_PROFILE_SERVER,
		.path_length = -1,
	};
	rc = ca_cert_build(&spec, &cert, err);
	if (rc != 0)
		goto out;
	rc = ca_db_begin(ca, err);
	if (rc == 0)
		rc = ca_record_cert(ca, cert, &sans, CA_PROFILE_SERVER, "ca.serve", err);
	if (rc == 0)
		rc = ca_db_commit(ca, err);
	if (rc != 0) {
		ca_db_rollback(ca);
		goto out;
	}

	rc = -EIO;
	tls = SSL_CTX_new(TLS_server_method());
	if (tls == NULL || !SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(tls, cert) != 1 || SSL_CTX_use_PrivateKey(tls, key) != 1 ||
	    SSL_CTX_add1_chain_cert(tls, ca->issuer) != 1) {
		cf_error_set(err, -EIO, "setting up TLS failed");
		goto out;
	}
	static const unsigned char session_context[] = "coffer-est";
	SSL_CTX_set_session_id_context(tls, session_context, sizeof(session_context) - 1);
	SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, accept_any_certificate);
	STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
	if (names != NULL) {
		sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca->root)));
		SSL_CTX_set0_CA_list(tls, names);
	}

	pthread_mutex_lock(&server->tls_lock);
	SSL_CTX *old = server->tls;
	server->tls = tls;
	pthread_mutex_unlock(&server->tls_lock);
	SSL_CTX_free(old);
	tls = NULL;
	rc = 0;
out:
	SSL_CTX_free(tls);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

// Enables this worker's listener when no other worker serves fewer
// connections, and disables it otherwise. Runs in the worker's thread.
static void balance_accepts(struct est_worker *worker)
{
	struct est_server *server = worker->server;
	int fewest = INT_MAX;

	pthread_mutex_lock(&server->balance_lock);
	for (int i = 0; i < server->worker_count; i++) {
		if (server->workers[i].connections < fewest)
			fewest = server->workers[i].connections;
	}
	bool accept = !server->balancing || worker->connections == fewest;
	pthread_mutex_unlock(&server->balance_lock);

	if (worker->listener == NULL || accept == worker->accepting)
		return;
	if (accept)
		evconnlistener_enable(worker->listener);
	else
		evconnlistener_disable(worker->listener);
	worker->accepting = accept;
}

static void rebalance_now(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	balance_accepts(arg);
}

// Adds delta to the worker's connection count, rebalances its own
// listener at once and has the other workers rebalance theirs.
static void count_connection(struct est_worker *worker, int delta)
{
	struct est_server *server = worker->server;

	pthread_mutex_lock(&server->balance_lock);
	worker->connections += delta;
	bool balancing = server->balancing;
	// event_active from another thread is safe once
	// evthread_use_pthreads has run, and wakes that worker's loop.
	for (int i = 0; balancing && i < server->worker_count; i++) {
		if (&server->workers[i] != worker && server->workers[i].rebalance != NULL)
			event_active(server->workers[i].rebalance, 0, 0);
	}
	pthread_mutex_unlock(&server->balance_lock);
	if (balancing)
		balance_accepts(worker);
}

// SSL ex_data slot holding the worker that serves a connection. Its free
// callback runs when the connection's SSL object is freed, which is how
// a worker learns that one of its connections has closed.
static int worker_ssl_index = -1;
static pthread_once_t worker_ssl_index_once = PTHREAD_ONCE_INIT;

static void connection_closed(void *parent, void *ptr, CRYPTO_EX_DATA *data, int index,
			      long argl, void *argp)
{
	(void)parent;
	(void)data;
	(void)index;
	(void)argl;
	(void)argp;
	if (ptr != NULL)
		count_connection(ptr, -1);
}

static void setup_worker_ssl_index(void)
{
	worker_ssl_index = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, NULL,
						   connection_closed);
}

// Runs in the accepting worker's thread for each new connection.
static struct bufferevent *make_tls_bufferevent(struct event_base *base, void *arg)
{
	struct est_worker *worker = arg;
	pthread_mutex_lock(&worker->server->tls_lock);
	SSL *ssl = SSL_new(worker->server->tls);
	pthread_mutex_unlock(&worker->server->tls_lock);
	if (ssl == NULL)
		return NULL;
	worker->accepted++;
	if (worker_ssl_index >= 0 && SSL_set_ex_data(ssl, worker_ssl_index, worker) == 1)
		count_connection(worker, 1);

	struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl,
								 BUFFEREVENT_SSL_ACCEPTING,
								 BEV_OPT_CLOSE_ON_FREE);
	// Without a bufferevent the SSL object is still ours to free, which
	// also takes the connection off the count.
	if (bev == NULL)
		SSL_free(ssl);
	return bev;
}

static void renew_tls(evutil_socket_t fd, short what, void *arg)
{
	struct est_server *server = arg;
	struct cf_error err = { 0 };
	(void)fd;
	(void)what;

	// The server certificate commits on its own, before it is put to use,
	// so the batch of this worker (worker 0, whose loop runs this timer) is
	// committed first and batching is paused around it.
	int rc = commit_and_reply(&server->workers[0], &err);
	ca_batch_set(server->ca, false);
	if (rc == 0)
		rc = build_tls(server, &err);
	ca_batch_set(server->ca, true);
	if (rc != 0) {
		char quoted[CF_ERROR_MAX + 16];
		cf_log(CF_LOG_ERROR, "est.tls_renew_failed", "error=%s retry_in=60s",
		       cf_log_quote(quoted, sizeof(quoted), cf_error_message(&err, rc)));
	} else {
		cf_log(CF_LOG_INFO, "est.tls_renewed", "host=%s", server->host);
	}
	struct timeval next = { rc == 0 ? server->ca->lifetime * 2 / 3 : 60, 0 };
	evtimer_add(server->renew_timer, &next);
}

static void stop_on_signal(evutil_socket_t fd, short what, void *arg)
{
	struct est_server *server = arg;
	(void)what;
	cf_log(CF_LOG_INFO, "est.stopping", "signal=%d", (int)fd);
	for (int i = 0; i < server->worker_count; i++)
		event_base_loopexit(server->workers[i].base, NULL);
}

// Splits "HOST:PORT" or "[V6]:PORT".
static int parse_listen(const char *listen, char *host, size_t host_size, uint16_t *port)
{
	const char *colon;
	size_t host_len;

	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');
		if (end == NULL || end[1] != ':')
			return -EINVAL;
		host_len = (size_t)(end - listen - 1);
		if (host_len >= host_size)
			return -EINVAL;
		memcpy(host, listen + 1, host_len);
		colon = end + 1;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL)
			return -EINVAL;
		host_len = (size_t)(colon - listen);
		if (host_len == 0 || host_len >= host_size)
			return -EINVAL;
		memcpy(host, listen, host_len);
	}
	host[host_len] = '\0';

	char *end = NULL;
	long value = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || value < 0 || value > 65535)
		return -EINVAL;
	*port = (uint16_t)value;
	return 0;
}

static int write_port_file(const char *path, evutil_socket_t fd, struct cf_error *err)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof(addr);
	char text[16];

	if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
		return cf_error_set(err, -errno, "getsockname failed: %s", strerror(errno));
	unsigned port = addr.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&addr)->sin6_port)
						   : ntohs(((struct sockaddr_in *)&addr)->sin_port);
	int n = snprintf(text, sizeof(text), "%u\n", port);
	return ca_write_file(path, text, (size_t)n, 0644, err);
}

// Checks that host:port can be bound before the server issues its own
// TLS certificate, so that a busy port does not leave an issued
// certificate behind. evhttp binds for real afterwards.
static int check_bindable(const char *host, uint16_t port, const char *listen,
			  struct cf_error *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char service[8];

	if (port == 0)
		return 0;
	snprintf(service, sizeof(service), "%u", port);
	int gai = getaddrinfo(host, service, &hints, &res);
	if (gai != 0)
		return cf_error_set(err, -EADDRNOTAVAIL, "cannot listen on %s: %s", listen,
				    gai_strerror(gai));
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = 0;
	if (fd < 0) {
		rc = cf_error_set(err, -errno, "cannot listen on %s: %s", listen, strerror(errno));
	} else {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, res->ai_addr, res->ai_addrlen) != 0)
			rc = cf_error_set(err, -EADDRINUSE, "cannot listen on %s: %s", listen,
					  strerror(errno));
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

// Sets up one worker's event loop and HTTP routes, accepting on a
// duplicate of listen_fd so that each evhttp closes its own descriptor.
static int worker_init(struct est_worker *worker, evutil_socket_t listen_fd)
{
	worker->base = event_base_new();
	// Three priorities: I/O and timers get the default, 1; flush gets 2.
	if (worker->base == NULL || event_base_priority_init(worker->base, 3) != 0)
		return -ENOMEM;
	worker->http = evhttp_new(worker->base);
	worker->flush = event_new(worker->base, -1, 0, flush_batch, worker);
	worker->rebalance = event_new(worker->base, -1, 0, rebalance_now, worker);
	if (worker->http == NULL || worker->flush == NULL || worker->rebalance == NULL ||
	    event_priority_set(worker->flush, 2) != 0)
		return -ENOMEM;
	worker->accepting = true;
	ca_batch_set(worker->ca, true);
	evhttp_set_bevcb(worker->http, make_tls_bufferevent, worker);
	evhttp_set_max_body_size(worker->http, CA_REQUEST_MAX);
	evhttp_set_max_headers_size(worker->http, EST_HEADERS_MAX);
	evhttp_set_timeout(worker->http, EST_TIMEOUT);
	evhttp_set_allowed_methods(worker->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_cb(worker->http, EST_PREFIX "cacerts", handle_cacerts, worker);
	evhttp_set_cb(worker->http, EST_PREFIX "simpleenroll", handle_simpleenroll, worker);
	evhttp_set_cb(worker->http, EST_PREFIX "simplereenroll", handle_simplereenroll, worker);
	evhttp_set_cb(worker->http, "/crl", handle_crl, worker);
	evhttp_set_gencb(worker->http, handle_other, worker);

	if (listen_fd < 0)
		return 0;
	int fd = dup(listen_fd);
	if (fd < 0)
		return -errno;
	evutil_make_socket_nonblocking(fd);
	struct evhttp_bound_socket *bound = evhttp_accept_socket_with_handle(worker->http, fd);
	if (bound == NULL) {
		close(fd);
		return -EIO;
	}
	worker->listener = evhttp_bound_socket_get_listener(bound);
	return 0;
}

static void *worker_run(void *arg)
{
	struct est_worker *worker = arg;
	event_base_dispatch(worker->base);
	ca_batch_rollback(worker->ca);
	return NULL;
}

static void worker_free(struct est_worker *worker, bool owns_ca)
{
	// Replies still queued at shutdown are dropped with their requests. The
	// batch they belong to was rolled back when the loop stopped.
	for (size_t i = 0; i < worker->pending_count; i++) {
		ca_leaf_clear(&worker->pending[i].leaf);
		free_enrollment(worker->pending[i].enrollment);
	}
	free(worker->pending);
	if (worker->flush != NULL)
		event_free(worker->flush);
	if (worker->rebalance != NULL)
		event_free(worker->rebalance);
	if (worker->http != NULL)
		evhttp_free(worker->http);
	if (worker->base != NULL)
		event_base_free(worker->base);
	if (owns_ca)
		ca_close(worker->ca);
}

static int thread_count(int requested)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int count = requested > 0 ? requested : (cpus > 0 ? (int)cpus : 1);
	return count > EST_THREADS_MAX ? EST_THREADS_MAX : count;
}

int ca_serve(struct ca *ca, const struct ca_server_options *options, struct cf_error *err)
{
	struct est_server *server = calloc(1, sizeof(*server));
	struct event *on_int = NULL, *on_term = NULL;
	uint16_t port = 0;
	int rc;

	if (server == NULL)
		return -ENOMEM;
	server->ca = ca;
	pthread_mutex_init(&server->tls_lock, NULL);
	pthread_mutex_init(&server->balance_lock, NULL);
	pthread_once(&worker_ssl_index_once, setup_worker_ssl_index);
	if (parse_listen(options->listen, server->host, sizeof(server->host), &port) != 0) {
		rc = cf_error_set(err, -EINVAL,
				  "listen address '%s' is invalid (expected HOST:PORT or [V6]:PORT)",
				  options->listen);
		goto out;
	}
	// The listen host takes up to three entries (a wildcard address becomes
	// localhost and two loopback addresses); the rest is left for extras.
	if (options->tls_san_count > CA_SAN_MAX - 3) {
		rc = cf_error_set(err, -EINVAL, "at most %d extra TLS SANs are allowed, not %zu",
				  CA_SAN_MAX - 3, options->tls_san_count);
		goto out;
	}
	for (size_t i = 0; i < options->tls_san_count; i++) {
		rc = ca_san_normalize(options->tls_sans[i],
				      server->extra_sans.names[server->extra_sans.count++], err);
		if (rc != 0)
			goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	// Worker threads stop each other's loops, which libevent allows only
	// with its locking enabled.
	if (evthread_use_pthreads() != 0) {
		rc = cf_error_set(err, -EIO, "enabling libevent's thread support failed");
		goto out;
	}

	rc = check_bindable(server->host, port, options->listen, err);
	if (rc != 0)
		goto out;
	rc = build_tls(server, err);
	if (rc != 0)
		goto out;

	server->worker_count = thread_count(options->threads);
	struct est_worker *first = &server->workers[0];
	first->server = server;
	first->ca = ca;
	rc = worker_init(first, -1);
	if (rc != 0)
		goto out;
	struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(first->http, server->host, port);
	if (bound == NULL) {
		rc = cf_error_set(err, -EADDRNOTAVAIL, "cannot listen on %s: %s", options->listen,
				  strerror(errno));
		goto out;
	}
	first->listener = evhttp_bound_socket_get_listener(bound);
	evutil_socket_t listen_fd = evhttp_bound_socket_get_fd(bound);
	// Accepted sockets inherit TCP_NODELAY from the listener on Linux. Without
	// it, a reply split over two segments waits for the client's delayed ACK.
	int one = 1;
	setsockopt(listen_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	struct ca_options reopen = { .dir = ca->dir, .lifetime = ca->lifetime,
				     .max_lifetime = ca->max_lifetime,
				     .master_key_path = ca->master_key_path[0] != '\0'
							       ? ca->master_key_path
							       : NULL };
	for (int i = 1; i < server->worker_count; i++) {
		struct est_worker *worker = &server->workers[i];
		worker->server = server;
		rc = ca_open(&reopen, &worker->ca, err);
		if (rc == 0)
			rc = worker_init(worker, listen_fd);
		if (rc != 0) {
			cf_error_set(err, rc, "starting worker %d failed", i);
			goto out;
		}
	}

	struct cf_error checkpoint_err = { 0 };
	int checkpoint_rc = ca_checkpointer_start(ca->dir, &server->checkpointer, &checkpoint_err);
	if (checkpoint_rc != 0) {
		char quoted[CF_ERROR_MAX + 16];
		cf_log(CF_LOG_WARN, "est.checkpointer_failed", "error=%s fallback=in_commit",
		       cf_log_quote(quoted, sizeof(quoted),
				    cf_error_message(&checkpoint_err, checkpoint_rc)));
	}
	for (int i = 0; server->checkpointer != NULL && i < server->worker_count; i++)
		ca_checkpointer_attach(server->checkpointer, server->workers[i].ca);

	if (options->port_file != NULL) {
		rc = write_port_file(options->port_file, listen_fd, err);
		if (rc != 0)
			goto out;
	}

	on_int = evsignal_new(first->base, SIGINT, stop_on_signal, server);
	on_term = evsignal_new(first->base, SIGTERM, stop_on_signal, server);
	server->renew_timer = evtimer_new(first->base, renew_tls, server);
	if (on_int == NULL || on_term == NULL || server->renew_timer == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	evsignal_add(on_int, NULL);
	evsignal_add(on_term, NULL);
	struct timeval renew_in = { ca->lifetime * 2 / 3, 0 };
	evtimer_add(server->renew_timer, &renew_in);

	server->balancing = server->worker_count > 1;
	for (int i = 1; i < server->worker_count; i++) {
		struct est_worker *worker = &server->workers[i];
		int thread_rc = pthread_create(&worker->thread, NULL, worker_run, worker);
		if (thread_rc != 0) {
			rc = cf_error_set(err, -thread_rc, "cannot start worker thread %d: %s", i,
					  strerror(thread_rc));
			stop_on_signal(0, 0, server);
			break;
		}
		worker->started = true;
	}

	char issuer_serial[CA_SERIAL_HEX_SIZE];
	ca_serial_hex(ca->issuer, issuer_serial);
	cf_log(CF_LOG_INFO, "est.start",
	       "listen=%s dir=%s issuer_serial=%s lifetime=%llds threads=%d", options->listen,
	       ca->dir, issuer_serial, (long long)ca->lifetime, server->worker_count);
	if (rc == 0 && event_base_dispatch(first->base) < 0)
		rc = -EIO;
	ca_batch_rollback(ca);

	int64_t issued = 0, rejected = 0;
	char accepted[EST_THREADS_MAX * 24] = "";
	size_t accepted_len = 0;
	for (int i = 0; i < server->worker_count; i++) {
		if (server->workers[i].started)
			pthread_join(server->workers[i].thread, NULL);
		issued += server->workers[i].issued;
		rejected += server->workers[i].rejected;
		accepted_len += (size_t)snprintf(accepted + accepted_len,
						 sizeof(accepted) - accepted_len, "%s%lld",
						 i > 0 ? "," : "",
						 (long long)server->workers[i].accepted);
	}
	cf_log(CF_LOG_INFO, "est.stop", "issued=%lld rejected=%lld connections_per_thread=%s",
	       (long long)issued, (long long)rejected, accepted);
out:
	// Freeing the workers closes their connections, whose callbacks must
	// no longer reach the other workers' events.
	pthread_mutex_lock(&server->balance_lock);
	server->balancing = server->worker_count > 1;
	pthread_mutex_unlock(&server->balance_lock);
	if (on_int != NULL)
		event_free(on_int);
	if (on_term != NULL)
		event_free(on_term);
	if (server->renew_timer != NULL)
		event_free(server->renew_timer);
	if (server->checkpointer != NULL) {
		for (int i = 0; i < server->worker_count; i++)
			ca_checkpointer_detach(server->workers[i].ca);
		ca_checkpointer_stop(server->checkpointer);
	}
	for (int i = 0; i < server->worker_count; i++)
		worker_free(&server->workers[i], i > 0);
	SSL_CTX_free(server->tls);
	pthread_mutex_destroy(&server->balance_lock);
	pthread_mutex_destroy(&server->tls_lock);
	free(server);
	return rc;
}
