// SPDX-License-Identifier: Apache-2.0
// The certificate renewer that a daemon embeds. It obtains a certificate at
// start, or reuses a valid one from disk, and renews it over EST at two
// thirds of its lifetime from a background thread. It builds mutual-TLS
// contexts from the current files. A context is swapped under the mutex, so a
// connection holding the old one keeps it while new connections get the
// new one.

#include "ca_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

// Seconds between attempts after a failed renewal.
#define RENEW_RETRY 10

struct ca_renewer {
	struct ca_enroll_options enroll;
	char *strings[8];
	const char *sans[CA_SAN_MAX];
	void (*on_renew)(void *arg);
	void *arg;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool started;
	bool stop;                  // protected by lock
	SSL_CTX *server_ctx;        // protected by lock
	SSL_CTX *client_ctx;        // protected by lock
	int64_t not_before;         // protected by lock
	int64_t not_after;          // protected by lock
	char serial[CA_SERIAL_HEX_SIZE]; // protected by lock
};

static int64_t asn1_seconds(const ASN1_TIME *time)
{
	struct tm tm;
	if (!ASN1_TIME_to_tm(time, &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

// Loads the key, certificate and chain files; checks that they belong
// together and chain to root now.
struct loaded {
	EVP_PKEY *key;
	X509 *cert;
	STACK_OF(X509) *chain;
	X509 *root;
};

static void loaded_free(struct loaded *l)
{
	EVP_PKEY_free(l->key);
	X509_free(l->cert);
	sk_X509_pop_free(l->chain, X509_free);
	X509_free(l->root);
	memset(l, 0, sizeof(*l));
}

static int load_files_once(const struct ca_enroll_options *options, struct loaded *l,
			   struct cf_error *err)
{
	memset(l, 0, sizeof(*l));
	int rc = ca_read_pem_cert(options->root_path, &l->root, err);
	if (rc == 0)
		rc = ca_read_credentials(options, &l->key, &l->cert, &l->chain, err);
	if (rc != 0)
		goto fail;

	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (store == NULL || ctx == NULL || !X509_STORE_add_cert(store, l->root) ||
	    !X509_STORE_CTX_init(ctx, store, l->cert, l->chain))
		rc = -ENOMEM;
	else if (X509_verify_cert(ctx) != 1)
		rc = cf_error_set(err, -EKEYEXPIRED, "%s is not valid now: %s", options->cert_path,
				  X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	if (rc == 0)
		return 0;
fail:
	loaded_free(l);
	return rc;
}

static int load_files(const struct ca_enroll_options *options, struct loaded *l,
		      struct cf_error *err)
{
	int rc = load_files_once(options, l, err);

	// While ca_write_credentials replaces the files, the old certificate
	// sits with the new chain for a moment, which fails to verify when the
	// CA's intermediate changed. A second read after a pause gets the new set.
	if (rc == -EKEYEXPIRED) {
		usleep(CREDENTIAL_READ_PAUSE_MS * 1000);
		cf_error_reset(err);
		rc = load_files_once(options, l, err);
	}
	return rc;
}

static SSL_CTX *make_context(const struct loaded *l, bool server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(ctx, l->cert) != 1 || SSL_CTX_use_PrivateKey(ctx, l->key) != 1 ||
	    !X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), l->root))
		goto fail;
	for (int i = 0; i < sk_X509_num(l->chain); i++) {
		X509 *cert = sk_X509_value(l->chain, i);
		// The peer has the root already; send only intermediates. They are
		// also trusted here, so a peer that sends only its leaf verifies.
		if (X509_check_issued(cert, cert) == X509_V_OK)
			continue;
		if (SSL_CTX_add1_chain_cert(ctx, cert) != 1 ||
		    !X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert))
			goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	// Callers with non-blocking sockets may retry a write from a new buffer.
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (server) {
		static const unsigned char session_context[] = "coffer-mtls";
		SSL_CTX_set_session_id_context(ctx, session_context, sizeof(session_context) - 1);
		STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
		if (names != NULL) {
			sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(l->root)));
			SSL_CTX_set0_CA_list(ctx, names);
		}
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

// Builds both contexts from the files and swaps them in.
static int install(struct ca_renewer *renewer, struct cf_error *err)
{
	struct loaded l;
	int rc = load_files(&renewer->enroll, &l, err);
	if (rc != 0)
		return rc;

	SSL_CTX *server_ctx = make_context(&l, true);
	SSL_CTX *client_ctx = make_context(&l, false);
	if (server_ctx == NULL || client_ctx == NULL) {
		SSL_CTX_free(server_ctx);
		SSL_CTX_free(client_ctx);
		loaded_free(&l);
		return cf_error_set(err, -EIO, "building TLS contexts from %s failed",
				    renewer->enroll.cert_path);
	}

	pthread_mutex_lock(&renewer->lock);
	SSL_CTX_free(renewer->server_ctx);
	SSL_CTX_free(renewer->client_ctx);
	renewer->server_ctx = server_ctx;
	renewer->client_ctx = client_ctx;
	renewer->not_before = asn1_seconds(X509_get0_notBefore(l.cert));
	renewer->not_after = asn1_seconds(X509_get0_notAfter(l.cert));
	ca_serial_hex(l.cert, renewer->serial);
	pthread_mutex_unlock(&renewer->lock);
	loaded_free(&l);
	return 0;
}

static int copy_string(struct ca_renewer *renewer, size_t slot, const char *value,
		       const char **out)
{
	if (value == NULL) {
		*out = NULL;
		return 0;
	}
	renewer->strings[slot] = strdup(value);
	*out = renewer->strings[slot];
	return *out != NULL ? 0 : -ENOMEM;
}

int ca_renewer_new(const struct ca_renewer_options *options, struct ca_renewer **out,
		   struct cf_error *err)
{
	const struct ca_enroll_options *in = &options->enroll;
	int rc;

	if (in->server == NULL || in->root_path == NULL || in->key_path == NULL ||
	    in->cert_path == NULL || in->chain_path == NULL)
		return cf_error_set(err, -EINVAL,
				    "the renewer needs the server, root, key, cert and chain settings");
	if (in->san_count > CA_SAN_MAX)
		return cf_error_set(err, -EINVAL, "more than %d SANs", CA_SAN_MAX);

	struct ca_renewer *renewer = calloc(1, sizeof(*renewer));
	if (renewer == NULL)
		return -ENOMEM;
	pthread_mutex_init(&renewer->lock, NULL);
	pthread_cond_init(&renewer->wake, NULL);
	renewer->enroll = *in;
	renewer->on_renew = options->on_renew;
	renewer->arg = options->arg;
	rc = copy_string(renewer, 0, in->server, &renewer->enroll.server);
	rc = rc ? rc : copy_string(renewer, 1, in->root_path, &renewer->enroll.root_path);
	rc = rc ? rc : copy_string(renewer, 2, in->token, &renewer->enroll.token);
	rc = rc ? rc : copy_string(renewer, 3, in->cn, &renewer->enroll.cn);
	rc = rc ? rc : copy_string(renewer, 4, in->key_path, &renewer->enroll.key_path);
	rc = rc ? rc : copy_string(renewer, 5, in->cert_path, &renewer->enroll.cert_path);
	rc = rc ? rc : copy_string(renewer, 6, in->chain_path, &renewer->enroll.chain_path);
	for (size_t i = 0; i < in->san_count && rc == 0; i++)
		renewer->sans[i] = in->sans[i];
	renewer->enroll.sans = renewer->sans;
	if (rc != 0)
		goto fail;

	// A certificate already on disk that is still valid is reused, so a
	// restart does not need a new token.
	struct cf_error load_err = { 0 };
	rc = install(renewer, &load_err);
	if (rc != 0) {
		if (renewer->enroll.token == NULL) {
			rc = cf_error_set(err, rc,
					  "no valid certificate at %s (%s) and no bootstrap token to enroll",
					  in->cert_path, cf_error_message(&load_err, rc));
			goto fail;
		}
		rc = ca_client_enroll(&renewer->enroll, err);
		if (rc == 0)
			rc = install(renewer, err);
		if (rc != 0)
			goto fail;
		cf_log(CF_LOG_INFO, "ca.enrolled", "serial=%s not_after=%lld server=%s",
		       renewer->serial, (long long)renewer->not_after, renewer->enroll.server);
	}
	// Renewals take the subject and SANs from the current certificate, so
	// the caller's SAN strings, which were not copied, are no longer used.
	renewer->enroll.sans = NULL;
	renewer->enroll.san_count = 0;
	// The token is one-time; drop it from memory once it is no longer needed.
	if (renewer->strings[2] != NULL) {
		cf_wipe(renewer->strings[2], strlen(renewer->strings[2]));
		free(renewer->strings[2]);
		renewer->strings[2] = NULL;
		renewer->enroll.token = NULL;
	}
	*out = renewer;
	return 0;
fail:
	ca_renewer_free(renewer);
	return rc;
}

// Returns the renewal time, two thirds into the lifetime. coffer's CA
// backdates notBefore by CA_BACKDATE, so the lifetime is counted from a
// minute later. For other CAs this renews a little early, which is harmless.
static int64_t renew_time(int64_t not_before, int64_t not_after)
{
	int64_t start = not_before + CA_BACKDATE < not_after ? not_before + CA_BACKDATE : not_before;
	return start + (not_after - start) * 2 / 3;
}

static void *renew_loop(void *arg)
{
	struct ca_renewer *renewer = arg;
	int64_t retry_at = 0;

	// Signals belong to the daemon's own threads (the KMS reads them from
	// a signalfd), so this thread never takes one.
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	pthread_mutex_lock(&renewer->lock);
	while (!renewer->stop) {
		int64_t when = renew_time(renewer->not_before, renewer->not_after);
		if (retry_at > when)
			when = retry_at;
		if (cf_now() < when) {
			struct timespec deadline = { .tv_sec = (time_t)when };
			pthread_cond_timedwait(&renewer->wake, &renewer->lock, &deadline);
			continue;
		}

		pthread_mutex_unlock(&renewer->lock);
		struct cf_error err = { 0 };
		int rc = ca_client_reenroll(&renewer->enroll, &err);
		if (rc == 0)
			rc = install(renewer, &err);
		if (rc == 0) {
			cf_log(CF_LOG_INFO, "ca.renewed", "serial=%s not_after=%lld", renewer->serial,
			       (long long)renewer->not_after);
			if (renewer->on_renew != NULL)
				renewer->on_renew(renewer->arg);
		} else {
			char quoted[CF_ERROR_MAX + 16];
			cf_log(CF_LOG_ERROR, "ca.renew_failed", "error=%s retry_in=%ds",
			       cf_log_quote(quoted, sizeof(quoted), cf_error_message(&err, rc)),
			       RENEW_RETRY);
		}
		pthread_mutex_lock(&renewer->lock);
		retry_at = rc == 0 ? 0 : cf_now() + RENEW_RETRY;
	}
	pthread_mutex_unlock(&renewer->lock);
	return NULL;
}

int ca_renewer_start(struct ca_renewer *renewer, struct cf_error *err)
{
	if (renewer->started)
		return 0;
	int rc = pthread_create(&renewer->thread, NULL, renew_loop, renewer);
	if (rc != 0)
		return cf_error_set(err, -rc, "cannot start the renewal thread: %s", strerror(rc));
	renewer->started = true;
	return 0;
}

static SSL_CTX *context_ref(struct ca_renewer *renewer, bool server)
{
	pthread_mutex_lock(&renewer->lock);
	SSL_CTX *ctx = server ? renewer->server_ctx : renewer->client_ctx;
	if (ctx != NULL)
		SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&renewer->lock);
	return ctx;
}

SSL_CTX *ca_renewer_server_ctx(struct ca_renewer *renewer)
{
	return context_ref(renewer, true);
}

SSL_CTX *ca_renewer_client_ctx(struct ca_renewer *renewer)
{
	return context_ref(renewer, false);
}

int64_t ca_renewer_not_after(struct ca_renewer *renewer)
{
	pthread_mutex_lock(&renewer->lock);
	int64_t not_after = renewer->not_after;
	pthread_mutex_unlock(&renewer->lock);
	return not_after;
}

void ca_renewer_serial(struct ca_renewer *renewer, char serial[CA_SERIAL_HEX_SIZE])
{
	pthread_mutex_lock(&renewer->lock);
	memcpy(serial, renewer->serial, CA_SERIAL_HEX_SIZE);
	pthread_mutex_unlock(&renewer->lock);
}

void ca_renewer_free(struct ca_renewer *renewer)
{
	if (renewer == NULL)
		return;
	if (renewer->started) {
		pthread_mutex_lock(&renewer->lock);
		renewer->stop = true;
		pthread_cond_signal(&renewer->wake);
		pthread_mutex_unlock(&renewer->lock);
		pthread_join(renewer->thread, NULL);
	}
	SSL_CTX_free(renewer->server_ctx);
	SSL_CTX_free(renewer->client_ctx);
	for (size_t i = 0; i < sizeof(renewer->strings) / sizeof(renewer->strings[0]); i++) {
		if (renewer->strings[i] != NULL)
			cf_wipe(renewer->strings[i], strlen(renewer->strings[i]));
		free(renewer->strings[i]);
	}
	pthread_cond_destroy(&renewer->wake);
	pthread_mutex_destroy(&renewer->lock);
	free(renewer);
}
