// SPDX-License-Identifier: Apache-2.0
// The Key Management Server: KMIP 1.0 to 1.4 over mutual TLS in front of
// the embedded key store. kms_handle_request is the protocol engine (one
// request message in, one response message out); kms_serve runs the
// network server behind `coffer kms serve`.

#ifndef COFFER_KMS_H
#define COFFER_KMS_H

#include <coffer/keystore.h>
#include <coffer/kmip.h>

#include <pthread.h>

struct ca_renewer;

#define KMS_DEFAULT_PORT 5696
#define KMS_MAX_ADMINS 32

// Processes one request message for caller against store and writes the
// response message into response. Request-level problems (undecodable
// input, a bad header) become a response with Result Reason Invalid
// Message, so the return value is 0 unless no response could be encoded
// (-ENOMEM, -EMSGSIZE). A request that changed the store ends with
// ks_sync, so its changes are durable before the response is sent. The
// caller serialises calls that share a store.
int kms_handle_request(struct ks_store *store, const struct ks_caller *caller,
		       const uint8_t *request, size_t size, struct kmip_buf *response);
// Does the same for a store shared between threads: store_lock is held only
// while the batch items run and their changes are synced, not while the
// request is decoded.
int kms_handle_request_locked(struct ks_store *store, pthread_mutex_t *store_lock,
			      const struct ks_caller *caller, const uint8_t *request, size_t size,
			      struct kmip_buf *response);

#define KMS_DEFAULT_BUSY_POLL_US 50

struct kms_config {
	const char *listen;            // HOST:PORT, default 0.0.0.0:5696
	const char *state_dir;         // key store directory
	const char *cert_path;         // server certificate chain (PEM)
	const char *key_path;          // server private key (PEM)
	const char *client_ca_path;    // CA bundle that client certificates must chain to
	const char *admins[KMS_MAX_ADMINS];
	size_t admin_count;
	int max_connections;           // default 256
	int idle_timeout_seconds;      // default 300
	// While there are fewer connections than CPUs, a connection's thread
	// polls for the next request for up to this long before it sleeps
	// (see struct kmip_spin). 0 turns it off.
	int busy_poll_us;              // default KMS_DEFAULT_BUSY_POLL_US
	int threads;                   // worker threads; default 4
	size_t max_message;            // default KMIP_DEFAULT_MAX_MESSAGE
	// When not NULL, the bound port is written here once listening (for
	// tests that listen on port 0).
	const char *port_file;
	// When set, every new connection gets its TLS context from this renewer
	// (a certificate from coffer's CA, renewed in the background) instead
	// of the one built from cert_path, key_path and client_ca_path.
	struct ca_renewer *renewer;
};

// Runs the server until SIGTERM or SIGINT, then stops accepting, lets
// requests in progress finish and closes the store. Returns 0 or a
// negative errno when it could not start.
int kms_serve(const struct kms_config *config, struct cf_error *err);

#endif
