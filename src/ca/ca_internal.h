// SPDX-License-Identifier: Apache-2.0
// Pieces shared by the CA's source files: the handle, X.509 building
// helpers, SAN text forms and file writing.

#ifndef COFFER_CA_INTERNAL_H
#define COFFER_CA_INTERNAL_H

#include <coffer/audit.h>
#include <coffer/ca.h>

#include <limits.h>
#include <sqlite3.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#define CA_ROOT_LIFETIME (10LL * 365 * 24 * 3600)
#define CA_ISSUER_LIFETIME (5LL * 365 * 24 * 3600)

struct ca {
	char dir[PATH_MAX];
	// Master key file that decrypts ca.key; empty when the key is plain.
	char master_key_path[PATH_MAX];
	sqlite3 *db;
	X509 *root;
	X509 *issuer;
	EVP_PKEY *issuer_key;
	const EVP_MD *issuer_digest;
	// EVP_DigestSignInit done once with issuer_key and issuer_digest. Each
	// leaf is signed with a copy, which skips the algorithm fetches that
	// OpenSSL 3.0 does on every EVP_DigestSignInit.
	EVP_MD_CTX *issuer_signing;
	// Pieces of every leaf's DER that depend only on the issuer, for
	// ca_leaf_build: the signature AlgorithmIdentifier of issuer_signing,
	// the issuer's subject Name, its subject key id, and SHA-1 for the
	// leaf's own key id.
	uint8_t *leaf_algorithm;
	size_t leaf_algorithm_size;
	uint8_t *leaf_issuer_name;
	size_t leaf_issuer_name_size;
	uint8_t leaf_issuer_key_id[EVP_MAX_MD_SIZE];
	size_t leaf_issuer_key_id_size;
	EVP_MD *leaf_sha1;
	// Root and intermediate, for verifying client certificates.
	X509_STORE *trust;
	int64_t lifetime;
	int64_t max_lifetime;

	// Statements on the issuance path, prepared once.
	sqlite3_stmt *token_select;
	sqlite3_stmt *token_consume;
	sqlite3_stmt *cert_insert;
	sqlite3_stmt *cert_select;
	sqlite3_stmt *begin;
	sqlite3_stmt *commit;
	sqlite3_stmt *rollback;
	struct cf_audit_statements audit;

	// Group commit (ca_batch_set): each ca_db_begin .. ca_db_commit runs
	// in a savepoint of one open transaction, which ca_batch_commit commits.
	bool batching;
	bool batch_open;
	sqlite3_stmt *savepoint;
	sqlite3_stmt *release;
	sqlite3_stmt *rollback_to;

	// Cached CRL: rebuilt when crl_stale is set (a revocation through this
	// handle), when PRAGMA data_version moved (another connection wrote),
	// or after CA_CRL_REUSE seconds.
	uint8_t *crl;
	size_t crl_size;
	int64_t crl_built_at;
	int64_t crl_data_version;
	bool crl_stale;
};

// A certificate's SANs in text form ("DNS:x", "IP:x", "URI:x").
struct ca_san_list {
	size_t count;
	char names[CA_SAN_MAX][CA_SAN_TEXT_MAX];
};

// Everything needed to sign one certificate.
struct ca_cert_spec {
	const char *cn;
	const struct ca_san_list *sans; // NULL for CA certificates
	EVP_PKEY *public_key;
	// When set, the subject key is copied from here instead of encoding
	// public_key, which OpenSSL 3.0 does through its slow encoder search.
	X509_PUBKEY *public_key_info;
	X509 *issuer;                   // NULL for a self-signed root
	EVP_PKEY *signing_key;
	// Digest for the signature; NULL picks one from signing_key.
	const EVP_MD *digest;
	// When set, a copy of this context signs, and signing_key and digest
	// are not used.
	const EVP_MD_CTX *signing_context;
	int64_t not_before;
	int64_t not_after;
	bool is_ca;
	int path_length;                // for CA certificates; -1 for none
	enum ca_profile profile;        // for leaf certificates
};

int ca_key_generate(enum ca_key_type type, EVP_PKEY **out, struct cf_error *err);

// Returns the digest to sign with key: SHA-384 for P-384, SHA-256 otherwise.
const EVP_MD *ca_signing_digest(EVP_PKEY *key);

// Builds and signs a certificate with a fresh random serial.
int ca_cert_build(const struct ca_cert_spec *spec, X509 **out, struct cf_error *err);

// Writes the serial of cert as CA_SERIAL_HEX_SIZE - 1 lowercase hex digits.
int ca_serial_hex(const X509 *cert, char out[CA_SERIAL_HEX_SIZE]);

// Collects the SANs of a certificate or request into text form. Returns
// -EPERM for a SAN type the CA never issues (email, directory names, ...)
// and -EINVAL for a malformed one.
int ca_sans_from_names(const GENERAL_NAMES *names, struct ca_san_list *out,
		       struct cf_error *err);
int ca_sans_from_cert(const X509 *cert, struct ca_san_list *out, struct cf_error *err);

// Joins the list with ", " into out; splits such a string back.
void ca_sans_join(const struct ca_san_list *list, char *out, size_t size);
int ca_sans_split(const char *text, struct ca_san_list *out, struct cf_error *err);

// The value part of a SAN text form ("DNS:a.b" -> "a.b").
const char *ca_san_value(const char *san);

// The subject CN of cert or NULL, copied into out.
int ca_subject_cn(const X509_NAME *name, char *out, size_t size);

// Writes data to path atomically (temp file, fsync, rename) with mode.
int ca_write_file(const char *path, const void *data, size_t size, unsigned mode,
		  struct cf_error *err);
int ca_write_pem_key(const char *path, EVP_PKEY *key, struct cf_error *err);
int ca_write_pem_certs(const char *path, X509 *const *certs, size_t count,
		       struct cf_error *err);
int ca_read_pem_key(const char *path, EVP_PKEY **out, struct cf_error *err);
int ca_read_pem_cert(const char *path, X509 **out, struct cf_error *err);

// Replaces the key (mode 0600), certificate and chain files of options so
// that readers can tell a replacement in progress from a valid set. All
// three are first written whole to PATH.new, then renamed over the old
// files, chain first and key last, so every state in between pairs the
// new certificate with the old key or the old certificate with the new
// chain. ca_read_credentials waits out the first. The second is a valid
// set unless the CA's intermediate changed, which chain verification
// catches.
int ca_write_credentials(const struct ca_enroll_options *options, EVP_PKEY *key, X509 *cert,
			 STACK_OF(X509) *chain, struct cf_error *err);

// Attempts and pause of ca_read_credentials: about one second in all.
#define CREDENTIAL_READ_ATTEMPTS 20
#define CREDENTIAL_READ_PAUSE_MS 50

// Reads the key and certificate, and the chain when chain is not NULL,
// that ca_write_credentials wrote. A key that does not match the
// certificate is read again for up to about a second. After half that
// time, a KEY.new that matches the certificate, left by a replacement
// that stopped before its last rename, is renamed into place. Returns
// -EINVAL when the two still do not match.
int ca_read_credentials(const struct ca_enroll_options *options, EVP_PKEY **key,
			X509 **cert, STACK_OF(X509) **chain, struct cf_error *err);

// Checks that the master key file can be read and has a KEK.
int ca_check_master_key(const char *master_key_path, struct cf_error *err);
// Writes a CA private key with mode 0600, encrypted under the newest KEK of
// the master key file, or as plain PKCS#8 PEM when master_key_path is NULL.
int ca_write_ca_key(const char *path, EVP_PKEY *key, const char *master_key_path,
		    struct cf_error *err);
// Reads a key written by ca_write_ca_key. An encrypted file needs
// master_key_path (-ENOKEY without it) and fails with -EKEYREJECTED when
// that master key does not decrypt it. A plain file is read either way.
int ca_read_ca_key(const char *path, const char *master_key_path, EVP_PKEY **out,
		   struct cf_error *err);

// Inputs of a leaf certificate besides the issuer (leaf.c).
struct ca_leaf_spec {
	const char *cn; // printable ASCII, 1 to 64 characters
	const struct ca_san_list *sans;
	// The subject's SubjectPublicKeyInfo as DER, and the contents of its
	// subjectPublicKey BIT STRING (for the subject key id).
	const uint8_t *spki;
	size_t spki_size;
	const uint8_t *key_bits;
	size_t key_bits_size;
	int64_t not_before;
	int64_t not_after;
	enum ca_profile profile;
	// NULL for a random serial. Tests set a fixed one.
	const uint8_t *serial;
};

// A signed leaf certificate as DER, with the fields its records need.
struct ca_leaf {
	uint8_t *der; // malloc'd
	size_t der_size;
	char serial[CA_SERIAL_HEX_SIZE];
	char cn[65];
	int64_t not_before;
	int64_t not_after;
};

// Reads from the issuer what every leaf repeats. ca_open calls it.
int ca_leaf_setup(struct ca *ca, struct cf_error *err);
void ca_leaf_teardown(struct ca *ca);
// Builds and signs a leaf with the same content as ca_cert_build would.
int ca_leaf_build(const struct ca *ca, const struct ca_leaf_spec *spec, struct ca_leaf *out,
		  struct cf_error *err);
// Frees the DER. Clearing a leaf twice is safe.
void ca_leaf_clear(struct ca_leaf *leaf);
int ca_leaf_to_x509(const struct ca_leaf *leaf, X509 **out, struct cf_error *err);

// Size of a DER tag and length header for content of len bytes, and
// writing one, which returns the position after it.
size_t ca_der_header_size(size_t len);
uint8_t *ca_der_put_header(uint8_t *p, uint8_t tag, size_t len);

// Builds a DER PKCS#7 certs-only structure.
int ca_pkcs7_certs_der(X509 *const *certs, size_t count, uint8_t **der, size_t *size,
		       struct cf_error *err);

// Builds the same structure around one certificate given as DER.
int ca_pkcs7_cert_der(const uint8_t *cert, size_t cert_size, uint8_t **der, size_t *size,
		      struct cf_error *err);

// Base64 without line breaks, into a malloc'd NUL-terminated string.
int ca_base64_encode(const uint8_t *data, size_t size, char **out);

// Parses and verifies a request as enrollment does and collects the SANs
// and CN it names, checked for form as ca_policy_check does.
int ca_csr_identity(const uint8_t *der, size_t size, struct ca_san_list *sans, char *cn,
		    size_t cn_size, struct cf_error *err);

// Records one issued certificate; call inside a transaction.
int ca_record_cert(struct ca *ca, X509 *cert, const struct ca_san_list *sans,
		   enum ca_profile profile, const char *authorized_by, struct cf_error *err);
int ca_record_leaf(struct ca *ca, const struct ca_leaf *leaf, const struct ca_san_list *sans,
		   enum ca_profile profile, const char *authorized_by, struct cf_error *err);

#define CA_TOKEN_ID_HEX 16
#define CA_TOKEN_HASH_SIZE 32 // SHA-256 of the token secret

// A new enrollment between its two steps. ca_enroll_prepare does all that
// needs no write transaction: it parses and verifies the request, checks
// the token and the SANs and signs the certificate. ca_enroll_record then
// checks the token again, records the certificate and consumes the token
// in one transaction (a savepoint while batching). A certificate whose
// record step fails is freed unsent, so it was never issued.
struct ca_enrollment {
	char token_id[CA_TOKEN_ID_HEX + 1];
	uint8_t secret_hash[CA_TOKEN_HASH_SIZE];
	struct ca_san_list sans;
	// The token's SANs as stored, its profile and lifetime, when checked.
	char token_sans[CA_SAN_MAX * CA_SAN_TEXT_MAX];
	enum ca_profile profile;
	int64_t lifetime;
	struct ca_leaf leaf;
};

int ca_enroll_prepare(struct ca *ca, const char *token, const uint8_t *csr_der, size_t csr_size,
		      struct ca_enrollment *out, struct cf_error *err);
// On success moves the certificate to *out. Callers that batch must not
// send it before ca_batch_commit returns 0.
int ca_enroll_record(struct ca *ca, struct ca_enrollment *enrollment, struct ca_leaf *out,
		     struct cf_error *err);
// ca_reenroll with the certificate as DER.
int ca_reenroll_leaf(struct ca *ca, X509 *current, STACK_OF(X509) *chain,
		     const uint8_t *csr_der, size_t csr_size, struct ca_leaf *out,
		     struct cf_error *err);
// Frees the certificate, if still held, and wipes the secret's hash.
void ca_enrollment_clear(struct ca_enrollment *enrollment);

int ca_db_begin(struct ca *ca, struct cf_error *err);
int ca_db_commit(struct ca *ca, struct cf_error *err);
void ca_db_rollback(struct ca *ca);

// Group commit for the EST server: while batching is set, changes stay in
// one write transaction, holding the process-wide write lock, until
// ca_batch_commit. Callers must not report a change as done before that
// commit returns 0. ca_batch_pending tells whether a transaction is open.
// Clear batching only when no transaction is open.
void ca_batch_set(struct ca *ca, bool enabled);
bool ca_batch_pending(const struct ca *ca);
int ca_batch_commit(struct ca *ca, struct cf_error *err);
// Rolls back an open batch, from the thread that opened it (the write lock
// is a mutex). Used at shutdown, when its replies can no longer be sent.
void ca_batch_rollback(struct ca *ca);

// The process-wide mutex that serialises write transactions of all
// handles, for code that must keep them off the database for a moment.
void ca_write_lock_acquire(void);
void ca_write_lock_release(void);

// Background WAL checkpoints (checkpoint.c). Attached handles stop
// checkpointing inside their commits, and a thread with its own connection
// to the CA's database checkpoints instead. Detach every handle before
// ca_checkpointer_stop.
struct ca_checkpointer;
int ca_checkpointer_start(const char *dir, struct ca_checkpointer **out, struct cf_error *err);
void ca_checkpointer_attach(struct ca_checkpointer *checkpointer, struct ca *ca);
// Restores SQLite's automatic checkpoint on the handle.
void ca_checkpointer_detach(struct ca *ca);
void ca_checkpointer_stop(struct ca_checkpointer *checkpointer);

#endif
