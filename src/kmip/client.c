// SPDX-License-Identifier: Apache-2.0
// KMIP client over mutual TLS: one persistent connection, opened on first
// use, with a deadline on every request. A request that fails on a reused
// connection before any response byte arrived is sent once more on a new
// connection, since the server most likely closed the idle connection.

#include <coffer/ca.h>
#include <coffer/kmip.h>

#include "tls.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct kmip_client {
	char host[256];
	char port[16];
	int timeout_ms;
	int busy_poll_us;
	struct kmip_spin spin;
	struct kmip_version version;
	SSL_CTX *tls;
	struct ca_renewer *renewer;
	SSL *ssl;
	int fd;
	uint8_t *response;   // raw bytes of the last response
	size_t response_size;
};

int kmip_client_new(struct kmip_client **out, const struct kmip_client_options *options,
		    struct cf_error *err)
{
	*out = NULL;
	if (options->host == NULL || options->host[0] == '\0')
		return cf_error_set(err, -EINVAL, "KMIP server host is missing");
	if (strlen(options->host) >= sizeof(((struct kmip_client *)0)->host))
		return cf_error_set(err, -EINVAL, "KMIP server host '%s' is too long", options->host);

	struct kmip_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return cf_error_set(err, -ENOMEM, "out of memory");
	snprintf(c->host, sizeof(c->host), "%s", options->host);
	snprintf(c->port, sizeof(c->port), "%s", options->port != NULL ? options->port : "5696");
	c->timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : 10000;
	c->busy_poll_us = options->busy_poll_us > 0 ? options->busy_poll_us : 0;
	c->version = options->version.major != 0 ? options->version : (struct kmip_version){ 1, 4 };
	c->fd = -1;
	c->renewer = options->renewer;

	int rc = kmip_tls_context(&c->tls, false, options->cert_path, options->key_path,
				  options->ca_path, err);
	if (rc != 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

static void disconnect(struct kmip_client *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void kmip_client_free(struct kmip_client *c)
{
	if (c == NULL)
		return;
	disconnect(c);
	SSL_CTX_free(c->tls);
	if (c->response != NULL) {
		cf_wipe(c->response, c->response_size);
		free(c->response);
	}
	free(c);
}

// Connects a non-blocking socket with a deadline.
static int connect_tcp(struct kmip_client *c, int64_t deadline, struct cf_error *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int rc = -ECONNREFUSED;

	int gai = getaddrinfo(c->host, c->port, &hints, &res);
	if (gai != 0)
		return cf_error_set(err, -EHOSTUNREACH, "KMS %s:%s: cannot resolve host: %s", c->host,
				    c->port, gai_strerror(gai));

	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
			rc = -errno;
			close(fd);
			continue;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int64_t left = deadline - kmip_monotonic_ms();
		int n = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		int so_error = 0;
		socklen_t len = sizeof(so_error);
		if (n <= 0) {
			rc = -ETIMEDOUT;
			close(fd);
			continue;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
		if (so_error != 0) {
			rc = -so_error;
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		rc = 0;
		break;
	}
	freeaddrinfo(res);
	if (rc != 0)
		return cf_error_set(err, rc, "KMS %s:%s: connect failed: %s", c->host, c->port,
				    strerror(-rc));
	return 0;
}

static int connect_server(struct kmip_client *c, struct cf_error *err)
{
	int64_t deadline = kmip_monotonic_ms() + c->timeout_ms;
	char reason[256];

	int rc = connect_tcp(c, deadline, err);
	if (rc != 0)
		return rc;
	SSL_CTX *renewed = c->renewer != NULL ? ca_renewer_client_ctx(c->renewer) : NULL;
	c->ssl = SSL_new(renewed != NULL ? renewed : c->tls);
	SSL_CTX_free(renewed);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		disconnect(c);
		return cf_error_set(err, -ENOMEM, "KMS %s:%s: cannot create a TLS session", c->host,
				    c->port);
	}
	// The server certificate must name the host we connect to.
	SSL_set_tlsext_host_name(c->ssl, c->host);
	if (SSL_set1_host(c->ssl, c->host) != 1) {
		disconnect(c);
		return cf_error_set(err, -EINVAL, "KMS %s:%s: invalid host name for verification",
				    c->host, c->port);
	}
	rc = kmip_tls_handshake(c->ssl, false, deadline);
	if (rc != 0) {
		long verify = SSL_get_verify_result(c->ssl);
		const char *detail = rc == -ETIMEDOUT ? "timed out"
				     : verify != X509_V_OK ? X509_verify_cert_error_string(verify)
							   : kmip_tls_error(reason, sizeof(reason));
		const char *hint = "";
		if (verify == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
			hint = " (the server sent no intermediate CA certificate: its certificate"
			       " file should hold the leaf followed by its chain, or add the"
			       " intermediate to the CA bundle)";
		else if (verify == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
			 verify == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)
			hint = " (the CA bundle does not hold the root that signed the server"
			       " certificate: use that CA's root, such as coffer CA's root.pem)";
		else if (verify == X509_V_ERR_HOSTNAME_MISMATCH ||
			 verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
			hint = " (connect to a name or address that the server certificate"
			       " lists as a subjectAltName)";
		disconnect(c);
		return cf_error_set(err, rc == -ETIMEDOUT ? -ETIMEDOUT : -EPROTO,
				    "KMS %s:%s: TLS handshake failed: %s%s", c->host, c->port, detail,
				    hint);
	}
	return 0;
}

// Clients of this process waiting for a response, and the number of CPUs.
static int waiting_clients;
static int cpu_count;

// Reads the start of a response. A client polls only while fewer clients
// of the process wait than there are CPUs, because with more the CPUs are
// busy anyway and polling would take time from the other threads.
static int wait_response(struct kmip_client *c, uint8_t *buf, size_t size, int64_t deadline)
{
	if (c->busy_poll_us == 0)
		return kmip_tls_read(c->ssl, buf, size, deadline, NULL, NULL);
	if (__atomic_load_n(&cpu_count, __ATOMIC_RELAXED) == 0)
		__atomic_store_n(&cpu_count, (int)sysconf(_SC_NPROCESSORS_ONLN), __ATOMIC_RELAXED);
	int waiting = __atomic_add_fetch(&waiting_clients, 1, __ATOMIC_RELAXED);
	c->spin.limit_us = waiting < __atomic_load_n(&cpu_count, __ATOMIC_RELAXED) ? c->busy_poll_us : 0;
	int rc = kmip_tls_read(c->ssl, buf, size, deadline, NULL, &c->spin);
	__atomic_sub_fetch(&waiting_clients, 1, __ATOMIC_RELAXED);
	return rc;
}

// Sends the request and reads one response. *sent_ok reports whether the
// failure (if any) came before any response byte arrived.
static int exchange(struct kmip_client *c, const struct kmip_buf *request, bool *retryable,
		    struct cf_error *err)
{
	int64_t deadline = kmip_monotonic_ms() + c->timeout_ms;
	uint8_t header[KMIP_HEADER_SIZE];
	size_t total;

	*retryable = false;
	int rc = kmip_tls_write(c->ssl, request->data, request->size, deadline);
	if (rc == 0)
		rc = wait_response(c, header, sizeof(header), deadline);
	if (rc == -EPROTO) {
		// With TLS 1.3 the server checks the client certificate after the
		// client's handshake has finished, so a rejection shows up here as
		// an alert.
		char reason[256];
		*retryable = true;
		return cf_error_set(err, rc,
				    "KMS %s:%s: connection lost: %s (if the server rejected this client's"
				    " certificate, its log says why; a certificate file should hold the"
				    " leaf followed by its chain)",
				    c->host, c->port, kmip_tls_error(reason, sizeof(reason)));
	}
	if (rc != 0) {
		*retryable = rc == -ECONNRESET;
		return cf_error_set(err, rc, "KMS %s:%s: %s", c->host, c->port,
				    rc == -ETIMEDOUT ? "request timed out" : "connection lost");
	}

	rc = kmip_frame_size(header, KMIP_TAG_RESPONSE_MESSAGE, KMIP_DEFAULT_MAX_MESSAGE, &total,
			     err);
	if (rc != 0)
		return rc;
	if (c->response != NULL) {
		cf_wipe(c->response, c->response_size);
		free(c->response);
		c->response_size = 0;
	}
	c->response = malloc(total);
	if (c->response == NULL)
		return cf_error_set(err, -ENOMEM, "out of memory for a %zu-byte response", total);
	c->response_size = total;
	memcpy(c->response, header, sizeof(header));
	rc = kmip_tls_read(c->ssl, c->response + sizeof(header), total - sizeof(header), deadline,
			   NULL, NULL);
	if (rc != 0)
		return cf_error_set(err, rc, "KMS %s:%s: %s", c->host, c->port,
				    rc == -ETIMEDOUT ? "response timed out" : "connection lost");
	return 0;
}

int kmip_client_call(struct kmip_client *c, const struct kmip_buf *request,
		     struct kmip_response *resp, struct cf_error *err)
{
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (kmip_buf_error(request) != 0)
		return cf_error_set(err, kmip_buf_error(request), "cannot encode the KMIP request");

	for (int attempt = 0; attempt < 2; attempt++) {
		bool reused = c->ssl != NULL;
		if (!reused) {
			rc = connect_server(c, err);
			if (rc != 0)
				return rc;
		}
		bool retryable;
		struct cf_error local = { 0 };
		rc = exchange(c, request, &retryable, &local);
		if (rc == 0)
			break;
		disconnect(c);
		if (!(reused && retryable) || attempt == 1) {
			if (err != NULL && err->code == 0)
				*err = local;
			return rc;
		}
		cf_log(CF_LOG_INFO, "kmip_reconnect", "server=%s:%s reason=\"reused connection was closed\"",
		       c->host, c->port);
	}

	rc = kmip_response_parse(c->response, c->response_size, NULL, resp, err);
	if (rc != 0) {
		disconnect(c);
		cf_error_prefix(err, "KMS %s:%s sent an invalid response: ", c->host, c->port);
	}
	return rc;
}

int kmip_result_error(const struct kmip_response_item *item, struct cf_error *err)
{
	if (item->status == KMIP_STATUS_SUCCESS)
		return 0;

	int code;
	switch (item->reason) {
	case KMIP_REASON_ITEM_NOT_FOUND: code = -ENOENT; break;
	case KMIP_REASON_PERMISSION_DENIED: code = -EPERM; break;
	case KMIP_REASON_ILLEGAL_OPERATION: code = -EBUSY; break;
	case KMIP_REASON_INVALID_FIELD:
	case KMIP_REASON_MISSING_DATA:
	case KMIP_REASON_INVALID_MESSAGE: code = -EINVAL; break;
	case KMIP_REASON_OPERATION_NOT_SUPPORTED:
	case KMIP_REASON_FEATURE_NOT_SUPPORTED: code = -ENOTSUP; break;
	default: code = -EIO; break;
	}
	int length = item->message != NULL ? (int)item->message->v.bytes.size : 0;
	const char *text = item->message != NULL ? (const char *)item->message->v.bytes.data : "";
	return cf_error_set(err, code, "%s failed: %s%s%.*s",
			    item->operation != 0 ? kmip_operation_name(item->operation) : "KMIP request",
			    kmip_reason_name(item->reason),
			    length > 0 ? ": " : "", length, text);
}

// ---- high-level operations ---------------------------------------------------

// Runs a request of `count` items built by the caller and checks that every
// item succeeded.
static int call_checked(struct kmip_client *c, struct kmip_buf *request,
			struct kmip_response *resp, size_t count, struct cf_error *err)
{
	int rc = kmip_client_call(c, request, resp, err);
	if (rc != 0)
		return rc;
	if (resp->count != count) {
		rc = -EBADMSG;
		for (size_t i = 0; i < resp->count && rc == -EBADMSG; i++) {
			if (kmip_result_error(&resp->items[i], err) != 0)
				rc = err != NULL ? err->code : -EIO;
		}
		if (rc == -EBADMSG)
			cf_error_set(err, rc, "KMS %s:%s answered %zu batch items, expected %zu",
				     c->host, c->port, resp->count, count);
		kmip_response_free(resp);
		return rc;
	}
	for (size_t i = 0; i < count; i++) {
		rc = kmip_result_error(&resp->items[i], err);
		if (rc != 0) {
			kmip_response_free(resp);
			return rc;
		}
	}
	return 0;
}

static void begin_item(struct kmip_buf *b, uint32_t operation, int number, size_t *item,
		       size_t *payload)
{
	uint8_t id = (uint8_t)number;
	*item = kmip_enc_begin(b, KMIP_TAG_BATCH_ITEM);
	kmip_enc_enum(b, KMIP_TAG_OPERATION, operation);
	kmip_enc_bytes(b, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, &id, 1);
	*payload = kmip_enc_begin(b, KMIP_TAG_REQUEST_PAYLOAD);
}

static void end_item(struct kmip_buf *b, size_t item, size_t payload)
{
	kmip_enc_end(b, payload);
	kmip_enc_end(b, item);
}

static void put_attribute_header(struct kmip_buf *b, const char *name, size_t *attribute)
{
	*attribute = kmip_enc_begin(b, KMIP_TAG_ATTRIBUTE);
	kmip_enc_text(b, KMIP_TAG_ATTRIBUTE_NAME, name);
}

// Ends the single batch item of request b, sends it, discards the
// response and frees b.
static int send_single(struct kmip_client *c, struct kmip_buf *b, size_t message, size_t item,
		       size_t payload, struct cf_error *err)
{
	struct kmip_response resp;

	end_item(b, item, payload);
	kmip_enc_end(b, message);
	int rc = call_checked(c, b, &resp, 1, err);
	kmip_buf_free(b);
	if (rc == 0)
		kmip_response_free(&resp);
	return rc;
}

int kmip_client_create(struct kmip_client *c, int bits, const char *name, bool activate,
		       char id[KMIP_ID_MAX], struct cf_error *err)
{
	struct kmip_buf b;
	struct kmip_response resp;
	size_t item, payload, attribute;

	kmip_buf_init(&b, 0);
	size_t message = kmip_enc_request_start(&b, c->version, 1);
	begin_item(&b, KMIP_OP_CREATE, 0, &item, &payload);
	kmip_enc_enum(&b, KMIP_TAG_OBJECT_TYPE, 2);
	size_t tmpl = kmip_enc_begin(&b, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	put_attribute_header(&b, "Cryptographic Algorithm", &attribute);
	kmip_enc_enum(&b, KMIP_TAG_ATTRIBUTE_VALUE, 3);
	kmip_enc_end(&b, attribute);
	put_attribute_header(&b, "Cryptographic Length", &attribute);
	kmip_enc_int(&b, KMIP_TAG_ATTRIBUTE_VALUE, bits);
	kmip_enc_end(&b, attribute);
	put_attribute_header(&b, "Cryptographic Usage Mask", &attribute);
	kmip_enc_int(&b, KMIP_TAG_ATTRIBUTE_VALUE, 0x04 | 0x08);
	kmip_enc_end(&b, attribute);
	if (name != NULL) {
		put_attribute_header(&b, "Name", &attribute);
		size_t value = kmip_enc_begin(&b, KMIP_TAG_ATTRIBUTE_VALUE);
		kmip_enc_text(&b, KMIP_TAG_NAME_VALUE, name);
		kmip_enc_enum(&b, KMIP_TAG_NAME_TYPE, 1);
		kmip_enc_end(&b, value);
		kmip_enc_end(&b, attribute);
	}
	kmip_enc_end(&b, tmpl);
	end_item(&b, item, payload);
	kmip_enc_end(&b, message);

	int rc = call_checked(c, &b, &resp, 1, err);
	kmip_buf_free(&b);
	if (rc != 0)
		return rc;
	rc = kmip_get_text(resp.items[0].payload, KMIP_TAG_UNIQUE_IDENTIFIER, id, KMIP_ID_MAX);
	if (rc != 0)
		rc = cf_error_set(err, -EBADMSG, "KMS %s:%s: Create response has no valid Unique Identifier",
				  c->host, c->port);
	kmip_response_free(&resp);

	// Activate goes in a second request rather than in the same batch with
	// the ID placeholder, because some servers (PyKMIP 0.10) cannot parse
	// an Activate request without a Unique Identifier.
	if (rc == 0 && activate)
		rc = kmip_client_activate(c, id, err);
	return rc;
}

// Sends one operation whose request payload is only a Unique Identifier.
static int call_with_id(struct kmip_client *c, uint32_t operation, const char *id,
			struct kmip_response *resp, struct cf_error *err)
{
	struct kmip_buf b;
	size_t item, payload;

	kmip_buf_init(&b, 0);
	size_t message = kmip_enc_request_start(&b, c->version, 1);
	begin_item(&b, operation, 0, &item, &payload);
	kmip_enc_text(&b, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	end_item(&b, item, payload);
	kmip_enc_end(&b, message);
	int rc = call_checked(c, &b, resp, 1, err);
	kmip_buf_free(&b);
	return rc;
}

int kmip_client_get(struct kmip_client *c, const char *id, uint8_t **material, size_t *size,
		    struct cf_error *err)
{
	struct kmip_response resp;
	const uint8_t *data;
	size_t data_size;

	int rc = call_with_id(c, KMIP_OP_GET, id, &resp, err);
	if (rc != 0)
		return rc;
	const struct kmip_item *object = kmip_find(resp.items[0].payload, KMIP_TAG_SYMMETRIC_KEY);
	if (object == NULL)
		object = kmip_find(resp.items[0].payload, KMIP_TAG_SECRET_DATA);
	const struct kmip_item *block = kmip_find(object, KMIP_TAG_KEY_BLOCK);
	const struct kmip_item *value = kmip_find(block, KMIP_TAG_KEY_VALUE);
	rc = kmip_get_bytes(value, KMIP_TAG_KEY_MATERIAL, &data, &data_size);
	if (rc != 0 || data_size == 0) {
		kmip_response_free(&resp);
		return cf_error_set(err, -EBADMSG,
				    "KMS %s:%s: Get response for %s has no raw Key Material", c->host,
				    c->port, id);
	}
	*material = cf_secure_alloc(data_size);
	if (*material == NULL) {
		kmip_response_free(&resp);
		return cf_error_set(err, -ENOMEM, "out of locked memory for key %s", id);
	}
	memcpy(*material, data, data_size);
	*size = data_size;
	kmip_response_free(&resp);
	// The raw response held the key, so it is wiped now rather than at the
	// next call.
	cf_wipe(c->response, c->response_size);
	return 0;
}

int kmip_client_activate(struct kmip_client *c, const char *id, struct cf_error *err)
{
	struct kmip_response resp;
	int rc = call_with_id(c, KMIP_OP_ACTIVATE, id, &resp, err);
	if (rc == 0)
		kmip_response_free(&resp);
	return rc;
}

int kmip_client_destroy(struct kmip_client *c, const char *id, struct cf_error *err)
{
	struct kmip_response resp;
	int rc = call_with_id(c, KMIP_OP_DESTROY, id, &resp, err);
	if (rc == 0)
		kmip_response_free(&resp);
	return rc;
}

int kmip_client_revoke(struct kmip_client *c, const char *id, uint32_t reason_code,
		       struct cf_error *err)
{
	struct kmip_buf b;
	size_t item, payload;

	kmip_buf_init(&b, 0);
	size_t message = kmip_enc_request_start(&b, c->version, 1);
	begin_item(&b, KMIP_OP_REVOKE, 0, &item, &payload);
	kmip_enc_text(&b, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	size_t reason = kmip_enc_begin(&b, KMIP_TAG_REVOCATION_REASON);
	kmip_enc_enum(&b, KMIP_TAG_REVOCATION_REASON_CODE, reason_code);
	kmip_enc_end(&b, reason);
	return send_single(c, &b, message, item, payload, err);
}

int kmip_client_get_state(struct kmip_client *c, const char *id, uint32_t *state,
			  struct cf_error *err)
{
	struct kmip_buf b;
	struct kmip_response resp;
	size_t item, payload;

	kmip_buf_init(&b, 0);
	size_t message = kmip_enc_request_start(&b, c->version, 1);
	begin_item(&b, KMIP_OP_GET_ATTRIBUTES, 0, &item, &payload);
	kmip_enc_text(&b, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	kmip_enc_text(&b, KMIP_TAG_ATTRIBUTE_NAME, "State");
	end_item(&b, item, payload);
	kmip_enc_end(&b, message);
	int rc = call_checked(c, &b, &resp, 1, err);
	kmip_buf_free(&b);
	if (rc != 0)
		return rc;

	rc = cf_error_set(err, -EBADMSG, "KMS %s:%s: Get Attributes response for %s has no State",
			  c->host, c->port, id);
	const struct kmip_item *attribute = NULL;
	while ((attribute = kmip_find_next(resp.items[0].payload, KMIP_TAG_ATTRIBUTE, attribute))) {
		char name[32];
		if (kmip_get_text(attribute, KMIP_TAG_ATTRIBUTE_NAME, name, sizeof(name)) == 0 &&
		    strcmp(name, "State") == 0 &&
		    kmip_get_enum(attribute, KMIP_TAG_ATTRIBUTE_VALUE, state) == 0) {
			cf_error_reset(err);
			rc = 0;
			break;
		}
	}
	kmip_response_free(&resp);
	return rc;
}

int kmip_client_add_text_attribute(struct kmip_client *c, const char *id, const char *name,
				   const char *text, struct cf_error *err)
{
	struct kmip_buf b;
	size_t item, payload;

	kmip_buf_init(&b, 0);
	size_t message = kmip_enc_request_start(&b, c->version, 1);
	begin_item(&b, KMIP_OP_ADD_ATTRIBUTE, 0, &item, &payload);
	kmip_enc_text(&b, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	size_t attribute = kmip_enc_begin(&b, KMIP_TAG_ATTRIBUTE);
	kmip_enc_text(&b, KMIP_TAG_ATTRIBUTE_NAME, name);
	kmip_enc_text(&b, KMIP_TAG_ATTRIBUTE_VALUE, text);
	kmip_enc_end(&b, attribute);
	return send_single(c, &b, message, item, payload, err);
}

int kmip_client_locate_name(struct kmip_client *c, const char *name, char (*ids)[KMIP_ID_MAX],
			    size_t max, size_t *count, struct cf_error *err)
{
	struct kmip_buf b;
	struct kmip_response resp;
	size_t item, payload;

	*count = 0;
	kmip_buf_init(&b, 0);
	size_t message = kmip_enc_request_start(&b, c->version, 1);
	begin_item(&b, KMIP_OP_LOCATE, 0, &item, &payload);
	size_t attribute;
	put_attribute_header(&b, "Name", &attribute);
	size_t value = kmip_enc_begin(&b, KMIP_TAG_ATTRIBUTE_VALUE);
	kmip_enc_text(&b, KMIP_TAG_NAME_VALUE, name);
	kmip_enc_enum(&b, KMIP_TAG_NAME_TYPE, 1);
	kmip_enc_end(&b, value);
	kmip_enc_end(&b, attribute);
	end_item(&b, item, payload);
	kmip_enc_end(&b, message);
	int rc = call_checked(c, &b, &resp, 1, err);
	kmip_buf_free(&b);
	if (rc != 0)
		return rc;

	const struct kmip_item *id = NULL;
	while (*count < max &&
	       (id = kmip_find_next(resp.items[0].payload, KMIP_TAG_UNIQUE_IDENTIFIER, id)) != NULL) {
		if (id->type != KMIP_TYPE_TEXT_STRING || id->v.bytes.size >= KMIP_ID_MAX)
			continue;
		memcpy(ids[*count], id->v.bytes.data, id->v.bytes.size);
		ids[*count][id->v.bytes.size] = '\0';
		(*count)++;
	}
	kmip_response_free(&resp);
	return 0;
}
