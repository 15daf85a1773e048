// SPDX-License-Identifier: Apache-2.0
// The EST client: a small blocking HTTPS client (one request per
// connection) that trusts only the CA's root, and the enrollment and
// renewal steps built on it. Keys are generated here and never sent.

#include "ca_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>

// Seconds a connection attempt, a send or a receive may take.
#define EST_CLIENT_TIMEOUT 30
#define EST_RESPONSE_MAX (1024 * 1024)

struct http_response {
	int status;
	char *body;      // NUL-terminated, malloc'd
	size_t body_size;
};

static int split_server(const char *server, char *host, size_t host_size, char *port,
			size_t port_size)
{
	const char *colon;
	size_t host_len;

	if (server[0] == '[') {
		const char *end = strchr(server, ']');
		if (end == NULL || end[1] != ':')
			return -EINVAL;
		host_len = (size_t)(end - server - 1);
		colon = end + 1;
		server++;
	} else {
		colon = strrchr(server, ':');
		if (colon == NULL)
			return -EINVAL;
		host_len = (size_t)(colon - server);
	}
	if (host_len == 0 || host_len >= host_size || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= port_size)
		return -EINVAL;
	memcpy(host, server, host_len);
	host[host_len] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

static int tcp_connect(const char *host, const char *port, struct cf_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *list = NULL;
	int gai = getaddrinfo(host, port, &hints, &list);
	if (gai != 0)
		return cf_error_set(err, -EHOSTUNREACH, "cannot resolve %s: %s", host, gai_strerror(gai));

	int fd = -1, saved = ECONNREFUSED;
	struct timeval timeout = { EST_CLIENT_TIMEOUT, 0 };
	for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(list);
	if (fd < 0)
		return cf_error_set(err, -saved, "cannot connect to %s:%s: %s", host, port,
				    strerror(saved));
	return fd;
}

// A client TLS context that trusts only root, optionally presenting a
// client certificate with its chain.
static SSL_CTX *client_context(X509 *root, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return NULL;
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) || !X509_STORE_add_cert(store, root))
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cert != NULL) {
		if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
			goto fail;
		for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
			if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(chain, i)) != 1)
				goto fail;
		}
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static int tls_error(struct cf_error *err, const char *what, const char *server)
{
	char detail[256] = "";
	unsigned long code = ERR_get_error();
	if (code != 0)
		ERR_error_string_n(code, detail, sizeof(detail));
	ERR_clear_error();
	return cf_error_set(err, -EPROTO, "%s with %s failed%s%s", what, server,
			    detail[0] != '\0' ? ": " : "", detail);
}

static int parse_response(char *data, size_t size, struct http_response *response,
			  struct cf_error *err)
{
	char *end = strstr(data, "\r\n\r\n");
	if (strncmp(data, "HTTP/1.", 7) != 0 || end == NULL)
		return cf_error_set(err, -EPROTO, "the server's response is not HTTP");
	response->status = atoi(data + 9);

	char *body = end + 4;
	size_t body_size = size - (size_t)(body - data);
	*end = '\0';
	for (char *line = strstr(data, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
		if (strncasecmp(line + 2, "Content-Length:", 15) == 0) {
			size_t declared = strtoul(line + 17, NULL, 10);
			if (declared > body_size)
				return cf_error_set(err, -EPROTO, "the server's response was cut short");
			body_size = declared;
		}
	}
	response->body = malloc(body_size + 1);
	if (response->body == NULL)
		return -ENOMEM;
	memcpy(response->body, body, body_size);
	response->body[body_size] = '\0';
	response->body_size = body_size;
	return 0;
}

// Sends one request with "Connection: close" and reads the whole response.
static int https_request(const char *server, X509 *root, EVP_PKEY *key, X509 *cert,
			 STACK_OF(X509) *chain, const char *method, const char *path,
			 const char *token, const char *body, struct http_response *response,
			 struct cf_error *err)
{
	char host[256], port[16];
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	char *request = NULL, *data = NULL;
	size_t size = 0;
	int fd = -1, rc;

	if (split_server(server, host, sizeof(host), port, sizeof(port)) != 0)
		return cf_error_set(err, -EINVAL, "server '%s' is invalid (expected HOST:PORT)", server);

	ctx = client_context(root, key, cert, chain);
	if (ctx == NULL) {
		rc = tls_error(err, "setting up TLS", server);
		goto out;
	}
	fd = tcp_connect(host, port, err);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	ssl = SSL_new(ctx);
	if (ssl == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	unsigned char probe[16];
	bool is_ip = inet_pton(AF_INET, host, probe) == 1 || inet_pton(AF_INET6, host, probe) == 1;
	if (is_ip) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	} else {
		SSL_set_tlsext_host_name(ssl, host);
		SSL_set1_host(ssl, host);
	}
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		long verify = SSL_get_verify_result(ssl);
		if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
			rc = cf_error_set(err, -EPROTO,
					  "the server certificate of %s is not trusted: %s (the CA "
					  "server's certificate must name this host: start `coffer ca "
					  "serve` with --tls-san DNS:NAME or IP:ADDRESS)",
					  server, X509_verify_cert_error_string(verify));
		else if (verify != X509_V_OK)
			rc = cf_error_set(err, -EPROTO, "the server certificate of %s is not trusted: %s",
					  server, X509_verify_cert_error_string(verify));
		else
			rc = tls_error(err, "TLS handshake", server);
		goto out;
	}

	size_t body_len = body != NULL ? strlen(body) : 0;
	size_t cap = 512 + body_len + (token != NULL ? strlen(token) : 0);
	request = malloc(cap);
	if (request == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	int len = snprintf(request, cap,
			   "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
			   "%s%s%s%s"
			   "Content-Length: %zu\r\n\r\n%s",
			   method, path, host, token != NULL ? "Authorization: Bearer " : "",
			   token != NULL ? token : "", token != NULL ? "\r\n" : "",
			   body != NULL ? "Content-Type: application/pkcs10\r\n" : "", body_len,
			   body != NULL ? body : "");
	if (len < 0 || (size_t)len >= cap || SSL_write(ssl, request, len) != len) {
		rc = tls_error(err, "sending the request", server);
		goto out;
	}

	size_t cap_data = 16384;
	data = malloc(cap_data);
	if (data == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		if (size + 1 >= cap_data) {
			if (cap_data >= EST_RESPONSE_MAX) {
				rc = cf_error_set(err, -EFBIG, "the response from %s is too large", server);
				goto out;
			}
			char *grown = realloc(data, cap_data * 2);
			if (grown == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			data = grown;
			cap_data *= 2;
		}
		int n = SSL_read(ssl, data + size, (int)(cap_data - size - 1));
		if (n <= 0)
			break;
		size += (size_t)n;
	}
	data[size] = '\0';
	ERR_clear_error();
	rc = parse_response(data, size, response, err);
out:
	if (request != NULL) {
		cf_wipe(request, strlen(request));
		free(request);
	}
	free(data);
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(ctx);
	return rc;
}

// Decodes a base64 PKCS#7 certs-only body into its certificates.
static int parse_certs_only(const struct http_response *response, STACK_OF(X509) **out,
			    struct cf_error *err)
{
	uint8_t *der = NULL;
	size_t size = 0;
	if (ca_base64_decode(response->body, response->body_size, &der, &size) != 0)
		return cf_error_set(err, -EPROTO, "the server's response is not base64");

	const unsigned char *p = der;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)size);
	free(der);
	if (p7 == NULL || !PKCS7_type_is_signed(p7) || p7->d.sign == NULL ||
	    p7->d.sign->cert == NULL || sk_X509_num(p7->d.sign->cert) == 0) {
		PKCS7_free(p7);
		return cf_error_set(err, -EPROTO, "the server's response is not a PKCS#7 certs-only message");
	}
	STACK_OF(X509) *certs = sk_X509_new_null();
	for (int i = 0; certs != NULL && i < sk_X509_num(p7->d.sign->cert); i++) {
		X509 *cert = sk_X509_value(p7->d.sign->cert, i);
		X509_up_ref(cert);
		sk_X509_push(certs, cert);
	}
	PKCS7_free(p7);
	if (certs == NULL)
		return -ENOMEM;
	*out = certs;
	return 0;
}

static int expect_ok(const struct http_response *response, const char *what, const char *server,
		     struct cf_error *err)
{
	if (response->status == 200)
		return 0;
	char message[300];
	snprintf(message, sizeof(message), "%.280s", response->body != NULL ? response->body : "");
	message[strcspn(message, "\r\n")] = '\0';
	int code = response->status == 401 || response->status == 403 ? -EACCES : -EPROTO;
	return cf_error_set(err, code, "%s at %s was rejected with HTTP %d: %s", what, server,
			    response->status, message);
}

static int build_csr(EVP_PKEY *key, const char *cn, const struct ca_san_list *sans,
		     char **base64, struct cf_error *err)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	unsigned char *der = NULL;
	int rc = -EIO;

	if (req == NULL || name == NULL || names == NULL || exts == NULL)
		goto out;
	if (!X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0)) {
		rc = cf_error_set(err, -EINVAL, "CN '%s' is invalid (at most 64 characters)", cn);
		goto out;
	}
	for (size_t i = 0; i < sans->count; i++) {
		GENERAL_NAME *gn = NULL;
		const char *value = ca_san_value(sans->names[i]);
		if (strncmp(sans->names[i], "IP:", 3) == 0) {
			ASN1_OCTET_STRING *ip = a2i_IPADDRESS(value);
			gn = GENERAL_NAME_new();
			if (ip == NULL || gn == NULL) {
				ASN1_OCTET_STRING_free(ip);
				GENERAL_NAME_free(gn);
				goto out;
			}
			GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
		} else {
			ASN1_IA5STRING *text = ASN1_IA5STRING_new();
			gn = GENERAL_NAME_new();
			if (text == NULL || gn == NULL ||
			    !ASN1_STRING_set(text, value, (int)strlen(value))) {
				ASN1_IA5STRING_free(text);
				GENERAL_NAME_free(gn);
				goto out;
			}
			GENERAL_NAME_set0_value(gn, strncmp(sans->names[i], "URI:", 4) == 0 ? GEN_URI
											   : GEN_DNS,
						text);
		}
		sk_GENERAL_NAME_push(names, gn);
	}
	X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names);
	if (ext == NULL || !sk_X509_EXTENSION_push(exts, ext)) {
		X509_EXTENSION_free(ext);
		goto out;
	}
	if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) || !X509_REQ_set_subject_name(req, name) ||
	    !X509_REQ_set_pubkey(req, key) || !X509_REQ_add_extensions(req, exts))
		goto out;
	bool p384 = false;
	char group[32];
	size_t group_len = 0;
	if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &group_len))
		p384 = strcmp(group, "secp384r1") == 0;
	if (X509_REQ_sign(req, key, p384 ? EVP_sha384() : EVP_sha256()) <= 0)
		goto out;
	int len = i2d_X509_REQ(req, &der);
	if (len <= 0)
		goto out;
	rc = ca_base64_encode(der, (size_t)len, base64);
out:
	if (rc == -EIO)
		cf_error_set(err, rc, "building the certificate request failed");
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(names);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return rc;
}

// Fetches the CA chain and checks that cert chains to root through it.
// Writes the chain (every CA certificate from cacerts, intermediates first)
// into chain_out.
static int fetch_and_verify_chain(const struct ca_enroll_options *options, X509 *root,
				  X509 *cert, STACK_OF(X509) **chain_out, struct cf_error *err)
{
	struct http_response response = { 0 };
	STACK_OF(X509) *cacerts = NULL;
	int rc = https_request(options->server, root, NULL, NULL, NULL, "GET",
			       "/.well-known/est/cacerts", NULL, NULL, &response, err);
	if (rc == 0)
		rc = expect_ok(&response, "cacerts", options->server, err);
	if (rc == 0)
		rc = parse_certs_only(&response, &cacerts, err);
	free(response.body);
	if (rc != 0)
		return rc;

	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (store == NULL || ctx == NULL || !X509_STORE_add_cert(store, root) ||
	    !X509_STORE_CTX_init(ctx, store, cert, cacerts)) {
		rc = -ENOMEM;
	} else if (X509_verify_cert(ctx) != 1) {
		rc = cf_error_set(err, -EPROTO,
				  "the issued certificate does not chain to the root in %s: %s",
				  options->root_path,
				  X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	} else {
		// The verified chain minus the leaf: intermediates, then the root.
		STACK_OF(X509) *verified = X509_STORE_CTX_get1_chain(ctx);
		X509 *leaf = verified != NULL ? sk_X509_shift(verified) : NULL;
		X509_free(leaf);
		*chain_out = verified;
		rc = verified != NULL ? 0 : -ENOMEM;
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(cacerts, X509_free);
	return rc;
}

// Path of the file that a replacement of path writes first.
static int new_path(const char *path, char out[PATH_MAX], struct cf_error *err)
{
	int n = snprintf(out, PATH_MAX, "%s.new", path);
	if (n < 0 || n >= PATH_MAX)
		return cf_error_set(err, -ENAMETOOLONG, "path %s is too long", path);
	return 0;
}

// Makes the renames in the directory of path durable.
static int sync_directory(const char *path, struct cf_error *err)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';

	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot open directory %s: %s", dir, strerror(errno));
	int rc = 0;
	if (fsync(fd) != 0)
		rc = cf_error_set(err, -errno, "cannot sync directory %s: %s", dir, strerror(errno));
	close(fd);
	return rc;
}

static int rename_into_place(const char *from, const char *to, struct cf_error *err)
{
	if (rename(from, to) != 0)
		return cf_error_set(err, -errno, "cannot rename %s to %s: %s", from, to,
				    strerror(errno));
	return 0;
}

int ca_write_credentials(const struct ca_enroll_options *options, EVP_PKEY *key, X509 *cert,
			 STACK_OF(X509) *chain, struct cf_error *err)
{
	char key_new[PATH_MAX], cert_new[PATH_MAX], chain_new[PATH_MAX];
	X509 *certs[8];
	size_t count = 0;

	for (int i = 0; i < sk_X509_num(chain) && count < 8; i++)
		certs[count++] = sk_X509_value(chain, i);

	// Each PATH.new is complete and synced before the first rename.
	int rc = new_path(options->key_path, key_new, err);
	if (rc == 0)
		rc = new_path(options->cert_path, cert_new, err);
	if (rc == 0)
		rc = new_path(options->chain_path, chain_new, err);
	if (rc != 0)
		return rc;
	rc = ca_write_pem_key(key_new, key, err);
	if (rc == 0)
		rc = ca_write_pem_certs(cert_new, &cert, 1, err);
	if (rc == 0)
		rc = ca_write_pem_certs(chain_new, certs, count, err);
	if (rc != 0) {
		unlink(key_new);
		unlink(cert_new);
		unlink(chain_new);
		return rc;
	}

	// Chain, then certificate, then key. Between the last two renames the
	// new certificate sits with the old key, a pair that readers detect.
	rc = rename_into_place(chain_new, options->chain_path, err);
	if (rc == 0)
		rc = rename_into_place(cert_new, options->cert_path, err);
	if (rc == 0)
		rc = rename_into_place(key_new, options->key_path, err);
	if (rc == 0)
		rc = sync_directory(options->chain_path, err);
	if (rc == 0)
		rc = sync_directory(options->cert_path, err);
	if (rc == 0)
		rc = sync_directory(options->key_path, err);
	return rc;
}

// Reads every certificate of a PEM file into a new stack.
static int read_chain(const char *path, STACK_OF(X509) **out, struct cf_error *err)
{
	BIO *bio = BIO_new_file(path, "r");
	if (bio == NULL)
		return cf_error_set(err, -ENOENT, "cannot open the chain file %s", path);
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *cert;
	while (chain != NULL && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		sk_X509_push(chain, cert);
	ERR_clear_error();
	BIO_free(bio);
	if (chain == NULL)
		return -ENOMEM;
	*out = chain;
	return 0;
}

// Finishes a replacement that stopped between its last two renames, as a
// crash leaves it: KEY.new exists and matches the certificate. Returns
// true when it renamed KEY.new into place.
static bool finish_replacement(const struct ca_enroll_options *options, X509 *cert)
{
	char key_new[PATH_MAX];
	struct cf_error ignored = { 0 };
	EVP_PKEY *key = NULL;
	bool finished = false;

	if (new_path(options->key_path, key_new, &ignored) != 0 || access(key_new, F_OK) != 0 ||
	    ca_read_pem_key(key_new, &key, &ignored) != 0)
		return false;
	if (X509_check_private_key(cert, key) == 1)
		finished = rename(key_new, options->key_path) == 0;
	EVP_PKEY_free(key);
	ERR_clear_error();
	return finished;
}

int ca_read_credentials(const struct ca_enroll_options *options, EVP_PKEY **key_out,
			X509 **cert_out, STACK_OF(X509) **chain_out, struct cf_error *err)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc = 0;

	for (int attempt = 0;; attempt++) {
		rc = ca_read_pem_cert(options->cert_path, &cert, err);
		if (rc == 0)
			rc = ca_read_pem_key(options->key_path, &key, err);
		if (rc != 0)
			goto fail;
		if (X509_check_private_key(cert, key) == 1)
			break;
		ERR_clear_error();

		// A running replacement renames the key right after the
		// certificate, so a mismatch that lasts was left by a crash.
		bool finished = attempt >= CREDENTIAL_READ_ATTEMPTS / 2 &&
				finish_replacement(options, cert);
		if (!finished && attempt + 1 >= CREDENTIAL_READ_ATTEMPTS) {
			rc = cf_error_set(err, -EINVAL, "%s does not match %s", options->key_path,
					  options->cert_path);
			goto fail;
		}
		EVP_PKEY_free(key);
		X509_free(cert);
		key = NULL;
		cert = NULL;
		if (!finished)
			usleep(CREDENTIAL_READ_PAUSE_MS * 1000);
	}

	if (chain_out != NULL) {
		rc = read_chain(options->chain_path, chain_out, err);
		if (rc != 0)
			goto fail;
	}
	*key_out = key;
	*cert_out = cert;
	return 0;
fail:
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

// Sends the CSR to path and returns the issued certificate after checking
// that it carries key's public key.
static int request_certificate(const struct ca_enroll_options *options, X509 *root,
			       EVP_PKEY *auth_key, X509 *auth_cert, STACK_OF(X509) *auth_chain,
			       const char *path, const char *csr, EVP_PKEY *key, X509 **out,
			       struct cf_error *err)
{
	struct http_response response = { 0 };
	STACK_OF(X509) *certs = NULL;
	const char *what = strstr(path, "reenroll") != NULL ? "renewal" : "enrollment";

	int rc = https_request(options->server, root, auth_key, auth_cert, auth_chain, "POST", path,
			       options->token, csr, &response, err);
	if (rc == 0)
		rc = expect_ok(&response, what, options->server, err);
	if (rc == 0)
		rc = parse_certs_only(&response, &certs, err);
	free(response.body);
	if (rc != 0)
		return rc;

	X509 *cert = sk_X509_value(certs, 0);
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
		rc = cf_error_set(err, -EPROTO, "the issued certificate does not carry our public key");
	} else {
		X509_up_ref(cert);
		*out = cert;
	}
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

int ca_client_enroll(const struct ca_enroll_options *options, struct cf_error *err)
{
	struct ca_san_list sans = { 0 };
	EVP_PKEY *key = NULL;
	X509 *root = NULL, *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	char *csr = NULL;
	int rc;

	if (options->token == NULL)
		return cf_error_set(err, -EINVAL, "a first enrollment needs a bootstrap token");
	if (options->san_count == 0 || options->san_count > CA_SAN_MAX)
		return cf_error_set(err, -EINVAL, "request between 1 and %d SANs", CA_SAN_MAX);
	for (size_t i = 0; i < options->san_count; i++) {
		rc = ca_san_normalize(options->sans[i], sans.names[sans.count], err);
		if (rc != 0)
			return rc;
		sans.count++;
	}
	const char *cn = options->cn != NULL ? options->cn : ca_san_value(sans.names[0]);

	rc = ca_read_pem_cert(options->root_path, &root, err);
	if (rc == 0)
		rc = ca_key_generate(options->key_type, &key, err);
	if (rc == 0)
		rc = build_csr(key, cn, &sans, &csr, err);
	if (rc == 0)
		rc = request_certificate(options, root, NULL, NULL, NULL,
					 "/.well-known/est/simpleenroll", csr, key, &cert, err);
	if (rc == 0)
		rc = fetch_and_verify_chain(options, root, cert, &chain, err);
	if (rc == 0)
		rc = ca_write_credentials(options, key, cert, chain, err);

	free(csr);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	X509_free(root);
	EVP_PKEY_free(key);
	return rc;
}

int ca_client_reenroll(const struct ca_enroll_options *options, struct cf_error *err)
{
	struct ca_san_list sans;
	EVP_PKEY *current_key = NULL, *key = NULL;
	X509 *root = NULL, *current = NULL, *cert = NULL;
	STACK_OF(X509) *current_chain = NULL, *chain = NULL;
	char cn[256], *csr = NULL;
	struct ca_enroll_options renewal = *options;
	int rc;

	// Renewal is authorized by the certificate, never by a token.
	renewal.token = NULL;
	rc = ca_read_pem_cert(options->root_path, &root, err);
	if (rc == 0)
		rc = ca_read_credentials(options, &current_key, &current, &current_chain, err);
	if (rc == 0)
		rc = ca_sans_from_cert(current, &sans, err);
	if (rc == 0 && ca_subject_cn(X509_get_subject_name(current), cn, sizeof(cn)) != 0)
		rc = cf_error_set(err, -EINVAL, "the certificate in %s has no single subject CN",
				  options->cert_path);
	if (rc == 0)
		rc = ca_key_generate(options->key_type, &key, err);
	if (rc == 0)
		rc = build_csr(key, cn, &sans, &csr, err);
	if (rc == 0)
		rc = request_certificate(&renewal, root, current_key, current, current_chain,
					 "/.well-known/est/simplereenroll", csr, key, &cert, err);
	if (rc == 0)
		rc = fetch_and_verify_chain(&renewal, root, cert, &chain, err);
	if (rc == 0)
		rc = ca_write_credentials(options, key, cert, chain, err);

	free(csr);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(current_chain, X509_free);
	X509_free(cert);
	X509_free(current);
	X509_free(root);
	EVP_PKEY_free(key);
	EVP_PKEY_free(current_key);
	return rc;
}
