// SPDX-License-Identifier: Apache-2.0
// The EST server (RFC 7030) over HTTPS: libevent's evhttp with OpenSSL
// bufferevents, one event-loop thread that owns the struct ca handle.
//
// TLS requests a client certificate but accepts a connection without one,
// and accepts any certificate during the handshake. Only simplereenroll
// uses it, and that handler verifies it against the CA (chain, validity,
// revocation), so a rejection is an HTTP error with a message rather than
// a failed handshake. The server's own certificate is issued by the
// intermediate at start and reissued at two thirds of its lifetime; new
// connections get the new one.

#include "ca_internal.h"

#include <arpa/inet.h>
#include <errno.h>
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
#include <event2/keyvalq_struct.h>

#include <openssl/err.h>

#define EST_PREFIX "/.well-known/est/"
// Seconds an idle or slow connection is kept open.
#define EST_TIMEOUT 30
#define EST_HEADERS_MAX (16 * 1024)

struct est_server {
	struct ca *ca;
	struct event_base *base;
	struct evhttp *http;
	SSL_CTX *tls;
	char host[256];
	struct event *renew_timer;
	int64_t issued;
	int64_t rejected;
};

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

static void send_error(struct est_server *server, struct evhttp_request *req, int status,
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
	evhttp_send_reply(req, status, reason, body);
	evbuffer_free(body);
}

// Maps a library error to an HTTP status, in this one place.
static void send_failure(struct est_server *server, struct evhttp_request *req, int rc,
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
	char *text = NULL;
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);

	if (ca_base64_encode(der, size, &text) != 0) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	struct evbuffer *body = evbuffer_new();
	evhttp_add_header(headers, "Content-Type", content_type);
	evhttp_add_header(headers, "Content-Transfer-Encoding", "base64");
	if (body != NULL) {
		evbuffer_add(body, text, strlen(text));
		evbuffer_add(body, "\n", 1);
	}
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
	free(text);
}

static bool method_is(struct evhttp_request *req, enum evhttp_cmd_type method)
{
	return evhttp_request_get_command(req) == method;
}

static void handle_cacerts(struct evhttp_request *req, void *arg)
{
	struct est_server *server = arg;
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
	struct est_server *server = arg;
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
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
	free(der);
}

// Checks method and content type and decodes the base64 PKCS#10 body.
// Sends the error reply itself and returns false on bad input.
static bool read_request_body(struct est_server *server, struct evhttp_request *req,
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

static void send_certificate(struct est_server *server, struct evhttp_request *req, X509 *cert,
			     const char *how)
{
	char serial[CA_SERIAL_HEX_SIZE], cn[256] = "", quoted[300];
	struct cf_error err = { 0 };
	uint8_t *der = NULL;
	size_t size = 0;

	int rc = ca_pkcs7_certs_der(&cert, 1, &der, &size, &err);
	if (rc != 0) {
		send_failure(server, req, rc, &err);
		return;
	}
	ca_serial_hex(cert, serial);
	ca_subject_cn(X509_get_subject_name(cert), cn, sizeof(cn));
	server->issued++;
	cf_log(CF_LOG_INFO, "est.issue", "via=%s serial=%s cn=%s", how, serial,
	       cf_log_quote(quoted, sizeof(quoted), cn));
	send_base64(req, "application/pkcs7-mime; smime-type=certs-only", der, size);
	free(der);
}

static void handle_simpleenroll(struct evhttp_request *req, void *arg)
{
	struct est_server *server = arg;
	struct cf_error err = { 0 };
	char token[CA_TOKEN_TEXT_SIZE];
	uint8_t *der = NULL;
	size_t size = 0;
	X509 *cert = NULL;

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

	rc = ca_enroll(server->ca, token, der, size, &cert, &err);
	cf_wipe(token, sizeof(token));
	free(der);
	if (rc != 0) {
		send_failure(server, req, rc, &err);
		return;
	}
	send_certificate(server, req, cert, "token");
	X509_free(cert);
}

static SSL *request_ssl(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
	return bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
}

static void handle_simplereenroll(struct evhttp_request *req, void *arg)
{
	struct est_server *server = arg;
	struct cf_error err = { 0 };
	uint8_t *der = NULL;
	size_t size = 0;
	X509 *cert = NULL;

	if (!read_request_body(server, req, &der, &size))
		return;

	SSL *ssl = request_ssl(req);
	X509 *peer = ssl != NULL ? SSL_get1_peer_certificate(ssl) : NULL;
	// On the server side the peer chain excludes the peer's own certificate.
	STACK_OF(X509) *chain = ssl != NULL ? SSL_get_peer_cert_chain(ssl) : NULL;
	int rc = ca_reenroll(server->ca, peer, chain, der, size, &cert, &err);
	X509_free(peer);
	free(der);
	if (rc != 0) {
		send_failure(server, req, rc, &err);
		return;
	}
	send_certificate(server, req, cert, "reenroll");
	X509_free(cert);
}

static void handle_other(struct evhttp_request *req, void *arg)
{
	struct est_server *server = arg;
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

	SSL_CTX_free(server->tls);
	server->tls = tls;
	tls = NULL;
	rc = 0;
out:
	SSL_CTX_free(tls);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

static struct bufferevent *make_tls_bufferevent(struct event_base *base, void *arg)
{
	struct est_server *server = arg;
	SSL *ssl = SSL_new(server->tls);
	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

static void renew_tls(evutil_socket_t fd, short what, void *arg)
{
	struct est_server *server = arg;
	struct cf_error err = { 0 };
	(void)fd;
	(void)what;

	int rc = build_tls(server, &err);
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
	cf_log(CF_LOG_INFO, "est.stop", "signal=%d issued=%lld rejected=%lld", (int)fd,
	       (long long)server->issued, (long long)server->rejected);
	event_base_loopexit(server->base, NULL);
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

int ca_serve(struct ca *ca, const struct ca_server_options *options, struct cf_error *err)
{
	struct est_server server = { .ca = ca };
	struct event *on_int = NULL, *on_term = NULL;
	uint16_t port = 0;
	int rc;

	if (parse_listen(options->listen, server.host, sizeof(server.host), &port) != 0)
		return cf_error_set(err, -EINVAL,
				    "listen address '%s' is invalid (expected HOST:PORT or [V6]:PORT)",
				    options->listen);
	signal(SIGPIPE, SIG_IGN);

	rc = build_tls(&server, err);
	if (rc != 0)
		return rc;

	rc = -ENOMEM;
	server.base = event_base_new();
	server.http = server.base != NULL ? evhttp_new(server.base) : NULL;
	if (server.http == NULL)
		goto out;
	evhttp_set_bevcb(server.http, make_tls_bufferevent, &server);
	evhttp_set_max_body_size(server.http, CA_REQUEST_MAX);
	evhttp_set_max_headers_size(server.http, EST_HEADERS_MAX);
	evhttp_set_timeout(server.http, EST_TIMEOUT);
	evhttp_set_allowed_methods(server.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_cb(server.http, EST_PREFIX "cacerts", handle_cacerts, &server);
	evhttp_set_cb(server.http, EST_PREFIX "simpleenroll", handle_simpleenroll, &server);
	evhttp_set_cb(server.http, EST_PREFIX "simplereenroll", handle_simplereenroll, &server);
	evhttp_set_cb(server.http, "/crl", handle_crl, &server);
	evhttp_set_gencb(server.http, handle_other, &server);

	struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(server.http, server.host, port);
	if (bound == NULL) {
		rc = cf_error_set(err, -EADDRNOTAVAIL, "cannot listen on %s: %s", options->listen,
				  strerror(errno));
		goto out;
	}
	// Accepted sockets inherit TCP_NODELAY from the listener on Linux. Without
	// it, a reply split over two segments waits for the client's delayed ACK.
	int one = 1;
	setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (options->port_file != NULL) {
		rc = write_port_file(options->port_file, evhttp_bound_socket_get_fd(bound), err);
		if (rc != 0)
			goto out;
	}

	on_int = evsignal_new(server.base, SIGINT, stop_on_signal, &server);
	on_term = evsignal_new(server.base, SIGTERM, stop_on_signal, &server);
	server.renew_timer = evtimer_new(server.base, renew_tls, &server);
	if (on_int == NULL || on_term == NULL || server.renew_timer == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	evsignal_add(on_int, NULL);
	evsignal_add(on_term, NULL);
	struct timeval renew_in = { ca->lifetime * 2 / 3, 0 };
	evtimer_add(server.renew_timer, &renew_in);

	char issuer_serial[CA_SERIAL_HEX_SIZE];
	ca_serial_hex(ca->issuer, issuer_serial);
	cf_log(CF_LOG_INFO, "est.start", "listen=%s dir=%s issuer_serial=%s lifetime=%llds",
	       options->listen, ca->dir, issuer_serial, (long long)ca->lifetime);
	rc = event_base_dispatch(server.base) < 0 ? -EIO : 0;
out:
	if (on_int != NULL)
		event_free(on_int);
	if (on_term != NULL)
		event_free(on_term);
	if (server.renew_timer != NULL)
		event_free(server.renew_timer);
	if (server.http != NULL)
		evhttp_free(server.http);
	if (server.base != NULL)
		event_base_free(server.base);
	SSL_CTX_free(server.tls);
	return rc;
}
