// SPDX-License-Identifier: Apache-2.0
// TLS helpers shared by the KMIP server and client: context setup for
// mutual TLS (TLS 1.2 and 1.3), the peer's identity, and whole-buffer reads
// and writes on a blocking socket with a deadline.

#ifndef COFFER_KMIP_TLS_H
#define COFFER_KMIP_TLS_H

#include <coffer/common.h>

#include <openssl/ssl.h>

// Builds a context that presents cert_path/key_path and requires a peer
// certificate that chains to ca_path. server selects the server role.
int kmip_tls_context(SSL_CTX **ctx, bool server, const char *cert_path, const char *key_path,
		     const char *ca_path, struct cf_error *err);

// Writes the identity of the verified peer certificate: its first URI
// subjectAltName, else its subject CN. Returns -ENOENT when it has neither.
int kmip_tls_peer_identity(SSL *ssl, char *identity, size_t size);

// Formats the first queued OpenSSL error (or "connection closed").
const char *kmip_tls_error(char *buf, size_t size);

// Busy polling before a read sleeps. On a machine with idle CPUs, a
// request-response exchange over loopback can cost more in waking the
// sleeping CPUs of the two threads than in the work itself (measured on a
// 2-CPU VM whose guest halt polling is off). A reader with
// a kmip_spin first polls the socket without sleeping for up to limit_us.
// When the data does not come in that time, it sleeps as usual and skips
// spinning for its next 1, 2, 4 ... up to KMIP_SPIN_BACKOFF waits after
// consecutive misses, so a slow peer or an idle connection costs little
// CPU, while one late message does not stop the spinning for long.
#define KMIP_SPIN_BACKOFF 64
struct kmip_spin {
	int limit_us; // 0: never spin
	int skip;     // waits left before the next try
	int backoff;  // waits to skip after the next miss, 0 after a hit
};

// Runs SSL_accept or SSL_connect, reads or writes exactly size bytes.
// Each waits at most until deadline_ms (CLOCK_MONOTONIC milliseconds) and
// returns 0, -ETIMEDOUT, -ECONNRESET when the peer closed, or -EPROTO.
// stop, when not NULL, is polled every 200 ms and makes the call return
// -ECANCELED once it is set. spin, when not NULL, is used by kmip_tls_read
// while it waits for data.
int kmip_tls_handshake(SSL *ssl, bool server, int64_t deadline_ms);
int kmip_tls_read(SSL *ssl, void *buf, size_t size, int64_t deadline_ms,
		  const volatile int *stop, struct kmip_spin *spin);
int kmip_tls_write(SSL *ssl, const void *buf, size_t size, int64_t deadline_ms);

int64_t kmip_monotonic_ms(void);

#endif
