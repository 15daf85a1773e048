// SPDX-License-Identifier: Apache-2.0
// Mutual TLS for KMIP with OpenSSL 3. Sockets stay blocking at the kernel
// level but are driven through SSL in non-blocking fashion with poll(2),
// so every read and write has a deadline.

#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

// TLS 1.2 suites: forward-secret AEAD suites, ECDSA first, which include
// the ECDHE-ECDSA-AES-GCM suites that PyKMIP's TLS 1.2 mode offers.
static const char tls12_ciphers[] =
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static int64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t kmip_monotonic_ms(void)
{
	return monotonic_us() / 1000;
}

const char *kmip_tls_error(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();
	if (e == 0) {
		snprintf(buf, size, "connection closed or reset");
		return buf;
	}
	ERR_error_string_n(e, buf, size);
	ERR_clear_error();
	return buf;
}

int kmip_tls_context(SSL_CTX **out, bool server, const char *cert_path, const char *key_path,
		     const char *ca_path, struct cf_error *err)
{
	char reason[256];
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	*out = NULL;
	if (ctx == NULL)
		return cf_error_set(err, -ENOMEM, "cannot create a TLS context: %s",
				    kmip_tls_error(reason, sizeof(reason)));
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1)
		goto fail_setup;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	// Read ahead: one read(2) takes a whole request (record header and
	// body) where OpenSSL would otherwise make two. kmip_tls_read polls only
	// after SSL_read reports WANT_READ, so data buffered here is never missed.
	SSL_CTX_set_read_ahead(ctx, 1);

	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		cf_error_set(err, -EINVAL, "cannot load certificate %s: %s", cert_path,
			     kmip_tls_error(reason, sizeof(reason)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		cf_error_set(err, -EINVAL, "cannot load private key %s (or it does not match %s): %s",
			     key_path, cert_path, kmip_tls_error(reason, sizeof(reason)));
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca_path, NULL) != 1) {
		cf_error_set(err, -EINVAL, "cannot load CA bundle %s: %s", ca_path,
			     kmip_tls_error(reason, sizeof(reason)));
		goto fail;
	}
	if (server) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_path);
		if (names != NULL)
			SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"coffer-kms", 10);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	*out = ctx;
	return 0;

fail_setup:
	cf_error_set(err, -EINVAL, "TLS setup failed: %s", kmip_tls_error(reason, sizeof(reason)));
fail:
	SSL_CTX_free(ctx);
	return err != NULL ? err->code : -EINVAL;
}

int kmip_tls_peer_identity(SSL *ssl, char *identity, size_t size)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	int rc = -ENOENT;

	if (cert == NULL)
		return -ENOENT;

	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
		if (name->type != GEN_URI)
			continue;
		const unsigned char *uri = ASN1_STRING_get0_data(name->d.uniformResourceIdentifier);
		int length = ASN1_STRING_length(name->d.uniformResourceIdentifier);
		if (length <= 0 || (size_t)length >= size || memchr(uri, 0, (size_t)length) != NULL)
			continue;
		memcpy(identity, uri, (size_t)length);
		identity[length] = '\0';
		rc = 0;
		break;
	}
	GENERAL_NAMES_free(names);

	if (rc != 0) {
		X509_NAME *subject = X509_get_subject_name(cert);
		int length = X509_NAME_get_text_by_NID(subject, NID_commonName, identity, (int)size);
		if (length > 0 && strlen(identity) == (size_t)length)
			rc = 0;
	}
	X509_free(cert);
	return rc;
}

// Polls without sleeping for up to spin->limit_us; true when the socket
// became readable in that time.
static bool spin_until_readable(struct pollfd *pfd, struct kmip_spin *spin)
{
	if (spin == NULL || spin->limit_us <= 0)
		return false;
	if (spin->skip > 0) {
		spin->skip--;
		return false;
	}
	int64_t until = monotonic_us() + spin->limit_us;
	do {
		if (poll(pfd, 1, 0) > 0) {
			spin->backoff = 0;
			return true;
		}
	} while (monotonic_us() < until);
	spin->backoff = spin->backoff == 0 ? 1 : spin->backoff * 2;
	if (spin->backoff > KMIP_SPIN_BACKOFF)
		spin->backoff = KMIP_SPIN_BACKOFF;
	spin->skip = spin->backoff;
	return false;
}

// Waits until the socket is readable or writable, as SSL_get_error requested.
static int wait_io(SSL *ssl, int ssl_error, int64_t deadline_ms, const volatile int *stop,
		   struct kmip_spin *spin)
{
	struct pollfd pfd = { .fd = SSL_get_fd(ssl) };

	pfd.events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
	if (pfd.events == POLLIN && spin_until_readable(&pfd, spin))
		return 0;
	for (;;) {
		int64_t left = deadline_ms - kmip_monotonic_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (stop != NULL && *stop)
			return -ECANCELED;
		int slice = left > 200 ? 200 : (int)left;
		int n = poll(&pfd, 1, slice);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int classify(SSL *ssl, int ret, int64_t deadline_ms, const volatile int *stop,
		    struct kmip_spin *spin)
{
	int e = SSL_get_error(ssl, ret);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return wait_io(ssl, e, deadline_ms, stop, spin);
	if (e == SSL_ERROR_ZERO_RETURN)
		return -ECONNRESET;
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		return -ECONNRESET;
	return -EPROTO;
}

static void make_nonblocking(SSL *ssl)
{
	int fd = SSL_get_fd(ssl);
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0 && !(flags & O_NONBLOCK))
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int kmip_tls_handshake(SSL *ssl, bool server, int64_t deadline_ms)
{
	make_nonblocking(ssl);
	for (;;) {
		int ret = server ? SSL_accept(ssl) : SSL_connect(ssl);
		if (ret == 1)
			return 0;
		int rc = classify(ssl, ret, deadline_ms, NULL, NULL);
		if (rc != 0)
			return rc;
	}
}

int kmip_tls_read(SSL *ssl, void *buf, size_t size, int64_t deadline_ms,
		  const volatile int *stop, struct kmip_spin *spin)
{
	size_t done = 0;

	while (done < size) {
		size_t n = 0;
		int ret = SSL_read_ex(ssl, (uint8_t *)buf + done, size - done, &n);
		if (ret == 1) {
			done += n;
			continue;
		}
		int rc = classify(ssl, ret, deadline_ms, stop, spin);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int kmip_tls_write(SSL *ssl, const void *buf, size_t size, int64_t deadline_ms)
{
	size_t done = 0;

	while (done < size) {
		size_t n = 0;
		int ret = SSL_write_ex(ssl, (const uint8_t *)buf + done, size - done, &n);
		if (ret == 1) {
			done += n;
			continue;
		}
		int rc = classify(ssl, ret, deadline_ms, NULL, NULL);
		if (rc != 0)
			return rc;
	}
	return 0;
}
