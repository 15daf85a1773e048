// SPDX-License-Identifier: Apache-2.0
// The Certificate Authority. A root and an issuing intermediate live in a
// state directory, and an issuance policy governs short-lived leaf
// certificates requested with one-time bootstrap tokens through an EST
// (RFC 7030) server over HTTPS. The client side enrolls, and its renewer
// keeps a daemon's certificate fresh and hands out TLS contexts built from it.
//
// A struct ca handle is not thread-safe; the EST server uses one handle from
// its single event-loop thread.

#ifndef COFFER_CA_H
#define COFFER_CA_H

#include <coffer/common.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

// A serial number is 16 random bytes (128 bits), printed as 32 hex digits.
#define CA_SERIAL_SIZE 16
#define CA_SERIAL_HEX_SIZE (2 * CA_SERIAL_SIZE + 1)
// Maximum number of subject alternative names on a token or a certificate.
#define CA_SAN_MAX 16
// Maximum length of one SAN in its text form ("DNS:name", "IP:addr", "URI:uri").
#define CA_SAN_TEXT_MAX 256
// Buffer size for a bootstrap token in its printed form "ID.SECRET".
#define CA_TOKEN_TEXT_SIZE 96
// Largest enrollment request body accepted (base64 of a PKCS#10 request).
#define CA_REQUEST_MAX (64 * 1024)

#define CA_DEFAULT_LIFETIME (24 * 3600)
#define CA_DEFAULT_MAX_LIFETIME (7 * 24 * 3600)
// Leaf certificates start this many seconds in the past, so a peer whose
// clock is slightly behind accepts a certificate issued just now.
#define CA_BACKDATE 60

// Extended key usages a certificate carries; a token fixes the profile of
// every certificate issued with it, and renewal keeps it.
enum ca_profile {
	CA_PROFILE_SERVER = 1, // serverAuth
	CA_PROFILE_CLIENT = 2, // clientAuth
	CA_PROFILE_BOTH = 3,   // serverAuth and clientAuth
};

// Key types for keys that coffer generates (enrollment, ca init).
enum ca_key_type {
	CA_KEY_P256 = 0,
	CA_KEY_P384 = 1,
	CA_KEY_RSA2048 = 2,
	CA_KEY_RSA3072 = 3,
};

struct ca;

// ---- state directory ---------------------------------------------------

// Creates a CA in dir: root.key/root.pem (ECDSA P-256, 10 years),
// ca.key/ca.pem (issuing intermediate, ECDSA P-256, 5 years), chain.pem
// (intermediate then root) and ca.db. Private keys are written with mode
// 0600 and dir is created with mode 0700. Returns -EEXIST, changing
// nothing, when dir already contains a CA. name goes into both subjects.
// With master_key_path (a coffer master key file, see keystore.h), both
// private keys are encrypted at rest under its newest KEK; with NULL they
// are written unencrypted.
int ca_init(const char *dir, const char *name, const char *master_key_path,
	    struct cf_error *err);

struct ca_options {
	const char *dir;
	// Leaf lifetime in seconds when a token does not set one (0: 24 h).
	int64_t lifetime;
	// Maximum lifetime a token may set, in seconds (0: 7 days).
	int64_t max_lifetime;
	// Master key file that decrypts ca.key when ca_init encrypted it; NULL
	// for a CA with unencrypted keys.
	const char *master_key_path;
};

// Opens an existing CA directory created by ca_init.
int ca_open(const struct ca_options *options, struct ca **out, struct cf_error *err);
void ca_close(struct ca *ca);

// The root certificate and the issuing intermediate (borrowed references).
X509 *ca_root_cert(const struct ca *ca);
X509 *ca_issuer_cert(const struct ca *ca);

// ---- bootstrap tokens --------------------------------------------------

struct ca_token_options {
	// SANs the token allows, each "DNS:name", "IP:address" or "URI:uri".
	const char *const *sans;
	size_t san_count;
	// Seconds until the token expires (must be > 0).
	int64_t ttl;
	enum ca_profile profile;
	// Lifetime of the certificates issued with it; 0 for the CA's default.
	int64_t lifetime;
};

// Creates a one-time token and writes its text ("ID.SECRET") into token,
// which must hold CA_TOKEN_TEXT_SIZE bytes. Only the SHA-256 of the secret
// is stored, so the text cannot be shown again.
int ca_token_create(struct ca *ca, const struct ca_token_options *options,
		    char *token, size_t token_size, struct cf_error *err);

// ---- issuance ----------------------------------------------------------

// Decodes base64 (line breaks and surrounding white space allowed) into a
// malloc'd buffer. Returns -EINVAL on malformed input.
int ca_base64_decode(const char *text, size_t size, uint8_t **out, size_t *out_size);

// Parses a DER PKCS#10 request and verifies its signature (proof of
// possession). Returns -EINVAL with a message for malformed input, an
// unsupported key (P-256, P-384 and RSA 2048+ are accepted) or a bad
// signature.
int ca_csr_parse(const uint8_t *der, size_t size, X509_REQ **out, struct cf_error *err);

// Checks req against the policy for a new certificate that may carry only
// the SANs in allowed (text forms as for tokens). Every requested SAN must
// be allowed and at least one must be requested. The subject CN, when
// present, must equal one of the requested SAN values. Returns -EPERM when
// the request names more than allowed, -EINVAL when it is malformed.
int ca_policy_check(X509_REQ *req, const char *const *allowed, size_t allowed_count,
		    struct cf_error *err);

// Issues a certificate for a new enrollment authorized by token (the text
// printed by ca_token_create). The certificate is meant to be encoded and
// sent: its public key is kept as bytes, so X509_get0_pubkey returns NULL
// until the DER is parsed again. The token is consumed in the same
// transaction that records the certificate and its audit record. Returns
// -EACCES for an unknown, used or expired token, -EPERM for a request the
// token does not allow, -EINVAL for a malformed request.
int ca_enroll(struct ca *ca, const char *token, const uint8_t *csr_der, size_t csr_size,
	      X509 **out, struct cf_error *err);

// Verifies that cert (presented over TLS, with chain as sent by the peer,
// which may be NULL) was issued by this CA, is within its validity period
// and is not revoked. Returns -EACCES with the reason otherwise.
int ca_check_client_cert(struct ca *ca, X509 *cert, STACK_OF(X509) *chain,
			 struct cf_error *err);

// Issues a renewal for current, which must pass ca_check_client_cert; the
// request must carry exactly the subject and SANs of current. The new
// certificate keeps current's profile and lifetime.
int ca_reenroll(struct ca *ca, X509 *current, STACK_OF(X509) *chain,
		const uint8_t *csr_der, size_t csr_size, X509 **out, struct cf_error *err);

// ---- records, revocation, CRL -----------------------------------------

struct ca_cert_info {
	char serial[CA_SERIAL_HEX_SIZE];
	char subject[256];
	char sans[CA_SAN_MAX * CA_SAN_TEXT_MAX];
	enum ca_profile profile;
	int64_t not_before;
	int64_t not_after;
	// 0 when not revoked.
	int64_t revoked_at;
};

// Calls fn for every issued certificate, oldest first; a non-zero return
// from fn stops the walk and is returned.
int ca_list(struct ca *ca, int (*fn)(const struct ca_cert_info *info, void *arg),
	    void *arg, struct cf_error *err);

// Revokes the certificate with serial (32 hex digits). Returns -ENOENT for
// an unknown serial and -EALREADY when it is already revoked.
int ca_revoke(struct ca *ca, const char *serial, struct cf_error *err);

// The current CRL, signed by the issuing intermediate, DER in a malloc'd
// buffer. It is rebuilt whenever the revocation list changed (also by
// another process) and otherwise reused for up to an hour.
int ca_crl_der(struct ca *ca, uint8_t **der, size_t *size, struct cf_error *err);

// The CA chain (intermediate and root) as a DER PKCS#7 certs-only
// structure, in a malloc'd buffer.
int ca_cacerts_der(struct ca *ca, uint8_t **der, size_t *size, struct cf_error *err);

// Verifies the CA directory's audit chain (see coffer/audit.h).
int ca_audit_verify(struct ca *ca, int64_t *records, int64_t *first_broken,
		    struct cf_error *err);

// ---- EST server ---------------------------------------------------------

struct ca_server_options {
	// "HOST:PORT"; port 0 picks a free port.
	const char *listen;
	// When set, the bound port is written here after listening starts.
	const char *port_file;
	// Event-loop threads; 0 uses one per online CPU (at most 16).
	int threads;
	// Extra SANs ("DNS:name", "IP:addr") for the server's TLS certificate,
	// such as the Service name clients reach it by in a cluster.
	const char *const *tls_sans;
	size_t tls_san_count;
};

// Serves EST over HTTPS until SIGINT or SIGTERM:
//   GET  /.well-known/est/cacerts         base64 PKCS#7 certs-only
//   POST /.well-known/est/simpleenroll    base64 PKCS#10, bootstrap token
//   POST /.well-known/est/simplereenroll  base64 PKCS#10, client certificate
//   GET  /crl                             DER CRL (application/pkix-crl)
// The server's TLS certificate is issued at start by the intermediate for
// the listen host (localhost and the loopback addresses for a wildcard
// address) plus options->tls_sans.
int ca_serve(struct ca *ca, const struct ca_server_options *options, struct cf_error *err);

// ---- client: enrollment and renewal -------------------------------------

struct ca_enroll_options {
	// "HOST:PORT" of the EST server.
	const char *server;
	// The CA's root certificate (PEM), trusted for the server and the chain.
	const char *root_path;
	// Bootstrap token text; NULL for renewal with the current certificate.
	const char *token;
	// Subject CN; NULL uses the first SAN's value.
	const char *cn;
	const char *const *sans;
	size_t san_count;
	enum ca_key_type key_type;
	// Output files: the private key (0600), the certificate and the chain
	// (intermediate, then root; 0644). Files are replaced atomically.
	const char *key_path;
	const char *cert_path;
	const char *chain_path;
};

// Generates a key on this host, sends a CSR to simpleenroll with the token,
// verifies the returned certificate against the root and writes the files.
int ca_client_enroll(const struct ca_enroll_options *options, struct cf_error *err);

// Renews the certificate in options->cert_path: authenticates over TLS with
// the current key and certificate, sends a CSR for a newly generated key
// with the same subject and SANs to simplereenroll, and replaces the files.
int ca_client_reenroll(const struct ca_enroll_options *options, struct cf_error *err);

struct ca_renewer;

struct ca_renewer_options {
	// Enrollment settings; token is used only when no valid certificate is
	// found at cert_path at start.
	struct ca_enroll_options enroll;
	// Called from the renewer thread after each successful renewal.
	void (*on_renew)(void *arg);
	void *arg;
};

// Loads the certificate at enroll.cert_path when it is still valid and
// chains to the root, otherwise enrolls with the token. Copies options.
int ca_renewer_new(const struct ca_renewer_options *options, struct ca_renewer **out,
		   struct cf_error *err);

// Starts a thread that renews at two thirds of the certificate's lifetime
// and retries failures every 10 seconds (never later than expiry allows).
int ca_renewer_start(struct ca_renewer *renewer, struct cf_error *err);

// TLS contexts built from the current certificate; both require the peer
// to present a certificate chaining to the root (TLS 1.2 or later). Each
// call returns a new reference that the caller releases with SSL_CTX_free,
// so a connection keeps its context while new connections get a renewed
// one.
SSL_CTX *ca_renewer_server_ctx(struct ca_renewer *renewer);
SSL_CTX *ca_renewer_client_ctx(struct ca_renewer *renewer);

// The current certificate's notAfter and serial (hex).
int64_t ca_renewer_not_after(struct ca_renewer *renewer);
void ca_renewer_serial(struct ca_renewer *renewer, char serial[CA_SERIAL_HEX_SIZE]);

// Stops the thread (when started) and frees everything.
void ca_renewer_free(struct ca_renewer *renewer);

// ---- small helpers shared with the CLI ----------------------------------

// Parses "90", "90s", "15m", "24h" or "7d" into seconds (> 0).
int ca_parse_duration(const char *text, int64_t *seconds);

// Normalises one SAN: "DNS:x", "IP:x" and "URI:x" are checked and kept,
// a bare IP address becomes "IP:", a bare "scheme://..." becomes "URI:",
// anything else "DNS:". out must hold CA_SAN_TEXT_MAX bytes.
int ca_san_normalize(const char *text, char *out, struct cf_error *err);

#endif
