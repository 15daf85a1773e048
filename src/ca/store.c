// SPDX-License-Identifier: Apache-2.0
// The CA's state directory: creating the root and intermediate, opening
// them, and the SQLite database of tokens, issued certificates and
// revocations, with the CRL built from it.
//
// Layout of DIR: root.pem, root.key, ca.pem, ca.key (keys 0600, encrypted
// under a master key file when one is given), chain.pem
// (intermediate then root) and ca.db (WAL mode). The database also contains
// the audit chain. Each issuance, token creation and revocation appends a
// record in the same transaction as the change it describes.

#include "ca_internal.h"

#include <coffer/audit.h>
#include <coffer/crypto.h>

#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>

// How long a built CRL is served before it is rebuilt, and how far ahead
// its nextUpdate lies.
#define CA_CRL_REUSE 3600
#define CA_CRL_VALIDITY (2 * 3600)

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS tokens ("
	" id TEXT PRIMARY KEY,"
	" secret_hash BLOB NOT NULL,"
	" sans TEXT NOT NULL,"
	" profile INTEGER NOT NULL,"
	" lifetime INTEGER NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL,"
	" used_at INTEGER,"
	" used_serial TEXT);"
	"CREATE TABLE IF NOT EXISTS certs ("
	" serial TEXT PRIMARY KEY,"
	" subject TEXT NOT NULL,"
	" sans TEXT NOT NULL,"
	" profile INTEGER NOT NULL,"
	" not_before INTEGER NOT NULL,"
	" not_after INTEGER NOT NULL,"
	" issued_at INTEGER NOT NULL,"
	" authorized_by TEXT NOT NULL,"
	" revoked_at INTEGER);";

static void path_join(char *out, size_t size, const char *dir, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static int db_exec(sqlite3 *db, const char *sql, struct cf_error *err)
{
	char *message = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
		int rc = cf_error_set(err, -EIO, "database error: %s",
				      message != NULL ? message : sqlite3_errmsg(db));
		sqlite3_free(message);
		return rc;
	}
	return 0;
}

static int db_open(const char *dir, bool create, sqlite3 **out, struct cf_error *err)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);

	path_join(path, sizeof(path), dir, "ca.db");
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		int rc = cf_error_set(err, -EIO, "cannot open %s: %s", path,
				      db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db, 5000);
	if (create)
		chmod(path, 0600);

	// WAL with synchronous=NORMAL: a commit is durable once the WAL is
	// synced at checkpoint; a power cut may lose the last commits, never
	// corrupt the database.
	int rc = db_exec(db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;",
			 err);
	if (rc == 0)
		rc = db_exec(db, schema, err);
	if (rc == 0)
		rc = cf_audit_init(db, err);
	if (rc != 0) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

// Serialises write transactions of all handles in this process. Each EST
// server thread owns a handle, and waiting on this mutex is far cheaper
// than SQLite's busy handler, which sleeps in steps of milliseconds.
// Other processes (the CLI) still meet the busy handler.
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

void ca_write_lock_acquire(void)
{
	pthread_mutex_lock(&write_lock);
}

void ca_write_lock_release(void)
{
	pthread_mutex_unlock(&write_lock);
}

// Runs one of the prepared transaction statements.
static int step_once(struct ca *ca, sqlite3_stmt *stmt, struct cf_error *err)
{
	int step = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (step != SQLITE_DONE)
		return cf_error_set(err, -EIO, "database error: %s", sqlite3_errmsg(ca->db));
	return 0;
}

int ca_db_begin(struct ca *ca, struct cf_error *err)
{
	if (!ca->batch_open) {
		pthread_mutex_lock(&write_lock);
		int rc = step_once(ca, ca->begin, err);
		if (rc != 0) {
			pthread_mutex_unlock(&write_lock);
			return rc;
		}
		ca->batch_open = ca->batching;
	}
	if (!ca->batching)
		return 0;
	// A savepoint lets one request undo its own changes without touching
	// the others of the batch. The batch stays open on failure.
	return step_once(ca, ca->savepoint, err);
}

int ca_db_commit(struct ca *ca, struct cf_error *err)
{
	if (ca->batching)
		return step_once(ca, ca->release, err);
	int rc = step_once(ca, ca->commit, err);
	// A failed COMMIT leaves the transaction open; ca_db_rollback ends it
	// and releases the lock.
	if (rc == 0)
		pthread_mutex_unlock(&write_lock);
	return rc;
}

void ca_db_rollback(struct ca *ca)
{
	if (ca->batching) {
		// Both fail harmlessly when ca_db_begin failed before the savepoint.
		sqlite3_step(ca->rollback_to);
		sqlite3_reset(ca->rollback_to);
		sqlite3_step(ca->release);
		sqlite3_reset(ca->release);
		return;
	}
	// ROLLBACK fails harmlessly when a failed COMMIT already ended the
	// transaction.
	sqlite3_step(ca->rollback);
	sqlite3_reset(ca->rollback);
	pthread_mutex_unlock(&write_lock);
}

void ca_batch_set(struct ca *ca, bool enabled)
{
	ca->batching = enabled;
}

bool ca_batch_pending(const struct ca *ca)
{
	return ca->batch_open;
}

void ca_batch_rollback(struct ca *ca)
{
	if (!ca->batch_open)
		return;
	ca->batch_open = false;
	sqlite3_step(ca->rollback);
	sqlite3_reset(ca->rollback);
	pthread_mutex_unlock(&write_lock);
}

int ca_batch_commit(struct ca *ca, struct cf_error *err)
{
	if (!ca->batch_open)
		return 0;
	ca->batch_open = false;
	int rc = step_once(ca, ca->commit, err);
	if (rc != 0) {
		sqlite3_step(ca->rollback);
		sqlite3_reset(ca->rollback);
	}
	pthread_mutex_unlock(&write_lock);
	return rc;
}

int ca_init(const char *dir, const char *name, const char *master_key_path,
	    struct cf_error *err)
{
	char path[PATH_MAX];
	EVP_PKEY *root_key = NULL, *issuer_key = NULL;
	X509 *root = NULL, *issuer = NULL;
	sqlite3 *db = NULL;
	int rc;

	static const char *const files[] = { "root.key", "root.pem", "ca.key", "ca.pem", "ca.db" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		path_join(path, sizeof(path), dir, files[i]);
		if (access(path, F_OK) == 0)
			return cf_error_set(err, -EEXIST,
					    "%s already exists; will not overwrite the existing CA in %s",
					    path, dir);
	}
	if (master_key_path != NULL) {
		rc = ca_check_master_key(master_key_path, err);
		if (rc != 0)
			return rc;
	}
	rc = cf_mkdir_p(dir, 0700, err);
	if (rc != 0)
		return rc;

	int64_t now = cf_now();
	char root_name[256], issuer_name[256];
	snprintf(root_name, sizeof(root_name), "%s Root CA", name);
	snprintf(issuer_name, sizeof(issuer_name), "%s Issuing CA", name);

	rc = ca_key_generate(CA_KEY_P256, &root_key, err);
	if (rc == 0)
		rc = ca_key_generate(CA_KEY_P256, &issuer_key, err);
	if (rc != 0)
		goto out;

	struct ca_cert_spec root_spec = {
		.cn = root_name, .public_key = root_key, .signing_key = root_key,
		.not_before = now - CA_BACKDATE, .not_after = now + CA_ROOT_LIFETIME,
		.is_ca = true, .path_length = 1,
	};
	rc = ca_cert_build(&root_spec, &root, err);
	if (rc != 0)
		goto out;

	struct ca_cert_spec issuer_spec = {
		.cn = issuer_name, .public_key = issuer_key, .issuer = root, .signing_key = root_key,
		.not_before = now - CA_BACKDATE, .not_after = now + CA_ISSUER_LIFETIME,
		.is_ca = true, .path_length = 0,
	};
	rc = ca_cert_build(&issuer_spec, &issuer, err);
	if (rc != 0)
		goto out;

	path_join(path, sizeof(path), dir, "root.key");
	rc = ca_write_ca_key(path, root_key, master_key_path, err);
	if (rc != 0)
		goto out;
	path_join(path, sizeof(path), dir, "ca.key");
	rc = ca_write_ca_key(path, issuer_key, master_key_path, err);
	if (rc != 0)
		goto out;
	path_join(path, sizeof(path), dir, "root.pem");
	rc = ca_write_pem_certs(path, &root, 1, err);
	if (rc != 0)
		goto out;
	path_join(path, sizeof(path), dir, "ca.pem");
	rc = ca_write_pem_certs(path, &issuer, 1, err);
	if (rc != 0)
		goto out;
	X509 *chain[2] = { issuer, root };
	path_join(path, sizeof(path), dir, "chain.pem");
	rc = ca_write_pem_certs(path, chain, 2, err);
	if (rc != 0)
		goto out;

	rc = db_open(dir, true, &db, err);
	if (rc != 0)
		goto out;
	char serial[CA_SERIAL_HEX_SIZE], detail[512];
	ca_serial_hex(issuer, serial);
	snprintf(detail, sizeof(detail), "name=%s issuer_serial=%s", name, serial);
	rc = cf_audit_append(db, "admin", "ca.init", dir, "ok", detail, err);
out:
	sqlite3_close(db);
	X509_free(root);
	X509_free(issuer);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(issuer_key);
	return rc;
}

static int check_key_mode(const char *path, struct cf_error *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return cf_error_set(err, -errno, "cannot stat %s: %s", path, strerror(errno));
	if ((st.st_mode & 077) != 0)
		return cf_error_set(err, -EPERM,
				    "%s is readable by group or others (mode %03o); run chmod 600 %s",
				    path, (unsigned)(st.st_mode & 0777), path);
	return 0;
}

static int prepare(struct ca *ca, const char *sql, sqlite3_stmt **out, struct cf_error *err)
{
	if (sqlite3_prepare_v3(ca->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
		return cf_error_set(err, -EIO, "database error: %s", sqlite3_errmsg(ca->db));
	return 0;
}

int ca_open(const struct ca_options *options, struct ca **out, struct cf_error *err)
{
	char path[PATH_MAX];
	int rc;

	struct ca *ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		return -ENOMEM;
	if (strlen(options->dir) >= sizeof(ca->dir)) {
		free(ca);
		return cf_error_set(err, -ENAMETOOLONG, "CA directory path is too long");
	}
	strcpy(ca->dir, options->dir);
	if (options->master_key_path != NULL) {
		if (strlen(options->master_key_path) >= sizeof(ca->master_key_path)) {
			free(ca);
			return cf_error_set(err, -ENAMETOOLONG, "master key file path is too long");
		}
		strcpy(ca->master_key_path, options->master_key_path);
	}
	ca->lifetime = options->lifetime > 0 ? options->lifetime : CA_DEFAULT_LIFETIME;
	ca->max_lifetime = options->max_lifetime > 0 ? options->max_lifetime : CA_DEFAULT_MAX_LIFETIME;
	if (ca->lifetime > ca->max_lifetime) {
		rc = cf_error_set(err, -EINVAL,
				  "the default lifetime (%lld s) exceeds the maximum lifetime (%lld s)",
				  (long long)ca->lifetime, (long long)ca->max_lifetime);
		goto fail;
	}

	path_join(path, sizeof(path), ca->dir, "ca.pem");
	if (access(path, F_OK) != 0) {
		rc = cf_error_set(err, -ENOENT, "%s has no CA; run 'coffer ca init --dir %s' first",
				  ca->dir, ca->dir);
		goto fail;
	}
	rc = ca_read_pem_cert(path, &ca->issuer, err);
	if (rc != 0)
		goto fail;
	path_join(path, sizeof(path), ca->dir, "root.pem");
	rc = ca_read_pem_cert(path, &ca->root, err);
	if (rc != 0)
		goto fail;
	path_join(path, sizeof(path), ca->dir, "ca.key");
	rc = check_key_mode(path, err);
	if (rc == 0)
		rc = ca_read_ca_key(path, options->master_key_path, &ca->issuer_key, err);
	if (rc != 0)
		goto fail;
	if (X509_check_private_key(ca->issuer, ca->issuer_key) != 1) {
		rc = cf_error_set(err, -EINVAL, "%s does not match the certificate in ca.pem", path);
		goto fail;
	}

	ca->issuer_digest = ca_signing_digest(ca->issuer_key);
	ca->issuer_signing = EVP_MD_CTX_new();
	if (ca->issuer_signing == NULL ||
	    EVP_DigestSignInit(ca->issuer_signing, NULL, ca->issuer_digest, NULL, ca->issuer_key) != 1) {
		rc = cf_error_set(err, -EIO, "setting up signing with %s failed", path);
		goto fail;
	}
	rc = ca_leaf_setup(ca, err);
	if (rc != 0)
		goto fail;
	ca->trust = X509_STORE_new();
	if (ca->trust == NULL || !X509_STORE_add_cert(ca->trust, ca->root) ||
	    !X509_STORE_add_cert(ca->trust, ca->issuer)) {
		rc = -ENOMEM;
		goto fail;
	}

	rc = db_open(ca->dir, false, &ca->db, err);
	if (rc != 0)
		goto fail;
	rc = prepare(ca,
		     "SELECT secret_hash, sans, profile, lifetime, expires_at, used_at"
		     " FROM tokens WHERE id = ?1", &ca->token_select, err);
	if (rc == 0)
		rc = prepare(ca,
			     "UPDATE tokens SET used_at = ?2, used_serial = ?3 WHERE id = ?1"
			     " AND used_at IS NULL AND expires_at > ?2 AND secret_hash = ?4"
			     " AND sans = ?5 AND profile = ?6 AND lifetime = ?7",
			     &ca->token_consume, err);
	if (rc == 0)
		rc = prepare(ca,
			     "INSERT INTO certs (serial, subject, sans, profile, not_before, not_after,"
			     " issued_at, authorized_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			     &ca->cert_insert, err);
	if (rc == 0)
		rc = prepare(ca, "SELECT profile, not_before, not_after, revoked_at FROM certs"
				 " WHERE serial = ?1", &ca->cert_select, err);
	if (rc == 0)
		rc = prepare(ca, "BEGIN IMMEDIATE", &ca->begin, err);
	if (rc == 0)
		rc = prepare(ca, "COMMIT", &ca->commit, err);
	if (rc == 0)
		rc = prepare(ca, "ROLLBACK", &ca->rollback, err);
	if (rc == 0)
		rc = prepare(ca, "SAVEPOINT request", &ca->savepoint, err);
	if (rc == 0)
		rc = prepare(ca, "RELEASE request", &ca->release, err);
	if (rc == 0)
		rc = prepare(ca, "ROLLBACK TO request", &ca->rollback_to, err);
	if (rc != 0)
		goto fail;
	ca->crl_stale = true;
	*out = ca;
	return 0;
fail:
	ca_close(ca);
	return rc;
}

void ca_close(struct ca *ca)
{
	if (ca == NULL)
		return;
	ca_batch_rollback(ca);
	sqlite3_finalize(ca->token_select);
	sqlite3_finalize(ca->token_consume);
	sqlite3_finalize(ca->cert_insert);
	sqlite3_finalize(ca->cert_select);
	sqlite3_finalize(ca->begin);
	sqlite3_finalize(ca->commit);
	sqlite3_finalize(ca->rollback);
	sqlite3_finalize(ca->savepoint);
	sqlite3_finalize(ca->release);
	sqlite3_finalize(ca->rollback_to);
	cf_audit_statements_free(&ca->audit);
	sqlite3_close(ca->db);
	ca_leaf_teardown(ca);
	EVP_MD_CTX_free(ca->issuer_signing);
	X509_STORE_free(ca->trust);
	X509_free(ca->root);
	X509_free(ca->issuer);
	EVP_PKEY_free(ca->issuer_key);
	free(ca->crl);
	free(ca);
}

X509 *ca_root_cert(const struct ca *ca)
{
	return ca->root;
}

X509 *ca_issuer_cert(const struct ca *ca)
{
	return ca->issuer;
}

int ca_token_create(struct ca *ca, const struct ca_token_options *options,
		    char *token, size_t token_size, struct cf_error *err)
{
	uint8_t id[8], secret[32], hash[32];
	char id_hex[2 * sizeof(id) + 1], secret_hex[2 * sizeof(secret) + 1];
	struct ca_san_list sans = { 0 };
	char sans_text[sizeof(((struct ca_cert_info *)0)->sans)];
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (token_size < CA_TOKEN_TEXT_SIZE)
		return cf_error_set(err, -EINVAL, "token buffer is too small");
	if (options->san_count == 0 || options->san_count > CA_SAN_MAX)
		return cf_error_set(err, -EINVAL, "a token needs between 1 and %d SANs", CA_SAN_MAX);
	if (options->ttl <= 0)
		return cf_error_set(err, -EINVAL, "the token TTL must be positive");
	if (options->profile < CA_PROFILE_SERVER || options->profile > CA_PROFILE_BOTH)
		return cf_error_set(err, -EINVAL, "unknown certificate profile %d", (int)options->profile);
	int64_t lifetime = options->lifetime > 0 ? options->lifetime : ca->lifetime;
	if (lifetime > ca->max_lifetime)
		return cf_error_set(err, -EINVAL,
				    "lifetime %lld s exceeds the CA's maximum of %lld s",
				    (long long)lifetime, (long long)ca->max_lifetime);
	for (size_t i = 0; i < options->san_count; i++) {
		rc = ca_san_normalize(options->sans[i], sans.names[sans.count], err);
		if (rc != 0)
			return rc;
		sans.count++;
	}
	ca_sans_join(&sans, sans_text, sizeof(sans_text));

	if (cf_random(id, sizeof(id)) != 0 || cf_random(secret, sizeof(secret)) != 0)
		return cf_error_set(err, -EIO, "random number generation failed");
	cf_hex_encode(id, sizeof(id), id_hex);
	cf_hex_encode(secret, sizeof(secret), secret_hex);
	cf_sha256(secret_hex, strlen(secret_hex), hash);

	int64_t now = cf_now();
	rc = ca_db_begin(ca, err);
	if (rc != 0)
		goto out;
	rc = prepare(ca,
		     "INSERT INTO tokens (id, secret_hash, sans, profile, lifetime, created_at,"
		     " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &stmt, err);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, id_hex, -1, SQLITE_STATIC);
		sqlite3_bind_blob(stmt, 2, hash, sizeof(hash), SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, sans_text, -1, SQLITE_STATIC);
		sqlite3_bind_int(stmt, 4, options->profile);
		sqlite3_bind_int64(stmt, 5, lifetime);
		sqlite3_bind_int64(stmt, 6, now);
		sqlite3_bind_int64(stmt, 7, now + options->ttl);
		if (sqlite3_step(stmt) != SQLITE_DONE)
			rc = cf_error_set(err, -EIO, "storing the token failed: %s",
					  sqlite3_errmsg(ca->db));
	}
	if (rc == 0) {
		char detail[sizeof(sans_text) + 64];
		snprintf(detail, sizeof(detail), "sans=%s expires_at=%lld", sans_text,
			 (long long)(now + options->ttl));
		rc = cf_audit_append(ca->db, "admin", "ca.token.create", id_hex, "ok", detail, err);
	}
	if (rc == 0)
		rc = ca_db_commit(ca, err);
	if (rc != 0) {
		ca_db_rollback(ca);
		goto out;
	}
	snprintf(token, token_size, "%s.%s", id_hex, secret_hex);
out:
	sqlite3_finalize(stmt);
	cf_wipe(secret, sizeof(secret));
	cf_wipe(secret_hex, sizeof(secret_hex));
	return rc;
}

// Inserts the certificate's row and its audit record.
static int record_issued(struct ca *ca, const char *serial, const char *cn,
			 const struct ca_san_list *sans, enum ca_profile profile,
			 int64_t not_before, int64_t not_after, const char *authorized_by,
			 struct cf_error *err)
{
	char sans_text[CA_SAN_MAX * CA_SAN_TEXT_MAX];
	sqlite3_stmt *stmt = ca->cert_insert;

	ca_sans_join(sans, sans_text, sizeof(sans_text));
	sqlite3_reset(stmt);
	sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, cn, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, sans_text, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 4, profile);
	sqlite3_bind_int64(stmt, 5, not_before);
	sqlite3_bind_int64(stmt, 6, not_after);
	sqlite3_bind_int64(stmt, 7, cf_now());
	sqlite3_bind_text(stmt, 8, authorized_by, -1, SQLITE_STATIC);
	int step = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (step != SQLITE_DONE)
		return cf_error_set(err, -EIO, "recording certificate %s failed: %s", serial,
				    sqlite3_errmsg(ca->db));

	char detail[sizeof(sans_text) + 384];
	snprintf(detail, sizeof(detail), "subject=CN=%s sans=%s not_after=%lld", cn, sans_text,
		 (long long)not_after);
	return cf_audit_append_cached(ca->db, &ca->audit, authorized_by, "ca.issue", serial, "ok",
				      detail, err);
}

int ca_record_cert(struct ca *ca, X509 *cert, const struct ca_san_list *sans,
		   enum ca_profile profile, const char *authorized_by, struct cf_error *err)
{
	char serial[CA_SERIAL_HEX_SIZE], cn[256] = "";
	time_t not_before = 0, not_after = 0;
	struct tm tm;

	ca_serial_hex(cert, serial);
	ca_subject_cn(X509_get_subject_name(cert), cn, sizeof(cn));
	if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm))
		not_before = timegm(&tm);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm))
		not_after = timegm(&tm);
	return record_issued(ca, serial, cn, sans, profile, not_before, not_after, authorized_by,
			     err);
}

int ca_record_leaf(struct ca *ca, const struct ca_leaf *leaf, const struct ca_san_list *sans,
		   enum ca_profile profile, const char *authorized_by, struct cf_error *err)
{
	return record_issued(ca, leaf->serial, leaf->cn, sans, profile, leaf->not_before,
			     leaf->not_after, authorized_by, err);
}

int ca_list(struct ca *ca, int (*fn)(const struct ca_cert_info *info, void *arg),
	    void *arg, struct cf_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc = prepare(ca,
			 "SELECT serial, subject, sans, profile, not_before, not_after,"
			 " coalesce(revoked_at, 0) FROM certs ORDER BY issued_at, rowid", &stmt, err);
	if (rc != 0)
		return rc;

	int step;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct ca_cert_info info = { 0 };
		snprintf(info.serial, sizeof(info.serial), "%s", sqlite3_column_text(stmt, 0));
		snprintf(info.subject, sizeof(info.subject), "%s", sqlite3_column_text(stmt, 1));
		snprintf(info.sans, sizeof(info.sans), "%s", sqlite3_column_text(stmt, 2));
		info.profile = (enum ca_profile)sqlite3_column_int(stmt, 3);
		info.not_before = sqlite3_column_int64(stmt, 4);
		info.not_after = sqlite3_column_int64(stmt, 5);
		info.revoked_at = sqlite3_column_int64(stmt, 6);
		rc = fn(&info, arg);
		if (rc != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = cf_error_set(err, -EIO, "listing certificates failed: %s", sqlite3_errmsg(ca->db));
	sqlite3_finalize(stmt);
	return rc;
}

// Accepts up to 32 hex digits, with optional colons (as openssl prints
// serials), and writes the canonical zero-padded lowercase form.
static int serial_canonical(const char *text, char out[CA_SERIAL_HEX_SIZE])
{
	char digits[CA_SERIAL_HEX_SIZE];
	size_t count = 0;

	if (strncmp(text, "0x", 2) == 0 || strncmp(text, "0X", 2) == 0)
		text += 2;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || count == CA_SERIAL_HEX_SIZE - 1)
			return -EINVAL;
		digits[count++] = (char)tolower((unsigned char)*p);
	}
	if (count == 0)
		return -EINVAL;
	size_t pad = CA_SERIAL_HEX_SIZE - 1 - count;
	memset(out, '0', pad);
	memcpy(out + pad, digits, count);
	out[CA_SERIAL_HEX_SIZE - 1] = '\0';
	return 0;
}

int ca_revoke(struct ca *ca, const char *serial_text, struct cf_error *err)
{
	char serial[CA_SERIAL_HEX_SIZE];
	int rc;

	if (serial_canonical(serial_text, serial) != 0)
		return cf_error_set(err, -EINVAL,
				    "serial '%s' is not a hex number of at most 32 digits", serial_text);

	rc = ca_db_begin(ca, err);
	if (rc != 0)
		return rc;
	sqlite3_stmt *stmt = ca->cert_select;
	sqlite3_reset(stmt);
	sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	int step = sqlite3_step(stmt);
	if (step != SQLITE_ROW) {
		rc = cf_error_set(err, -ENOENT, "no certificate with serial %s was issued by this CA",
				  serial);
	} else if (sqlite3_column_type(stmt, 3) != SQLITE_NULL) {
		rc = cf_error_set(err, -EALREADY, "certificate %s is already revoked", serial);
	}
	sqlite3_reset(stmt);

	sqlite3_stmt *update = NULL;
	if (rc == 0)
		rc = prepare(ca, "UPDATE certs SET revoked_at = ?2 WHERE serial = ?1", &update, err);
	if (rc == 0) {
		sqlite3_bind_text(update, 1, serial, -1, SQLITE_STATIC);
		sqlite3_bind_int64(update, 2, cf_now());
		if (sqlite3_step(update) != SQLITE_DONE)
			rc = cf_error_set(err, -EIO, "revoking %s failed: %s", serial,
					  sqlite3_errmsg(ca->db));
	}
	sqlite3_finalize(update);
	if (rc == 0)
		rc = cf_audit_append(ca->db, "admin", "ca.revoke", serial, "ok", NULL, err);
	if (rc == 0)
		rc = ca_db_commit(ca, err);
	if (rc != 0) {
		ca_db_rollback(ca);
		return rc;
	}
	ca->crl_stale = true;
	return 0;
}

static int64_t data_version(struct ca *ca)
{
	sqlite3_stmt *stmt = NULL;
	int64_t version = -1;
	if (sqlite3_prepare_v2(ca->db, "PRAGMA data_version", -1, &stmt, NULL) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW)
		version = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return version;
}

static int add_revoked(X509_CRL *crl, const char *serial_hex, int64_t revoked_at)
{
	uint8_t bytes[CA_SERIAL_SIZE];
	if (cf_hex_decode(serial_hex, bytes, sizeof(bytes)) != 0)
		return -EINVAL;

	X509_REVOKED *entry = X509_REVOKED_new();
	BIGNUM *bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
	ASN1_INTEGER *serial = bn != NULL ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)revoked_at);
	int rc = -ENOMEM;

	if (entry != NULL && serial != NULL && when != NULL &&
	    X509_REVOKED_set_serialNumber(entry, serial) &&
	    X509_REVOKED_set_revocationDate(entry, when) && X509_CRL_add0_revoked(crl, entry)) {
		entry = NULL;
		rc = 0;
	}
	X509_REVOKED_free(entry);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(when);
	BN_free(bn);
	return rc;
}

static int build_crl(struct ca *ca, int64_t now, struct cf_error *err)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = ASN1_TIME_set(NULL, (time_t)now);
	ASN1_TIME *next = ASN1_TIME_set(NULL, (time_t)(now + CA_CRL_VALIDITY));
	ASN1_INTEGER *number = ASN1_INTEGER_new();
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	sqlite3_stmt *stmt = NULL;
	unsigned char *der = NULL;
	int rc = -EIO;

	if (crl == NULL || last == NULL || next == NULL || number == NULL || akid == NULL)
		goto out;
	// The CRL number only has to increase (RFC 5280 5.2.3); the build time
	// in seconds does, as long as the clock does not go back.
	if (!X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->issuer)) ||
	    !X509_CRL_set1_lastUpdate(crl, last) || !X509_CRL_set1_nextUpdate(crl, next) ||
	    !ASN1_INTEGER_set_int64(number, now) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, X509V3_ADD_DEFAULT))
		goto out;
	const ASN1_OCTET_STRING *issuer_id = X509_get0_subject_key_id(ca->issuer);
	akid->keyid = issuer_id != NULL ? ASN1_OCTET_STRING_dup(issuer_id) : NULL;
	if (akid->keyid == NULL ||
	    !X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, X509V3_ADD_DEFAULT))
		goto out;

	rc = prepare(ca, "SELECT serial, revoked_at FROM certs WHERE revoked_at IS NOT NULL"
			 " AND not_after > ?1", &stmt, err);
	if (rc != 0)
		goto out;
	sqlite3_bind_int64(stmt, 1, now);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		rc = add_revoked(crl, (const char *)sqlite3_column_text(stmt, 0),
				 sqlite3_column_int64(stmt, 1));
		if (rc != 0)
			goto out;
	}
	rc = -EIO;
	if (!X509_CRL_sort(crl) || X509_CRL_sign(crl, ca->issuer_key, EVP_sha256()) <= 0)
		goto out;
	int len = i2d_X509_CRL(crl, &der);
	if (len <= 0)
		goto out;
	uint8_t *copy = malloc((size_t)len);
	if (copy == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(copy, der, (size_t)len);
	free(ca->crl);
	ca->crl = copy;
	ca->crl_size = (size_t)len;
	ca->crl_built_at = now;
	rc = 0;
out:
	if (rc != 0)
		cf_error_set(err, rc, "building the CRL failed");
	sqlite3_finalize(stmt);
	OPENSSL_free(der);
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	return rc;
}

int ca_crl_der(struct ca *ca, uint8_t **der, size_t *size, struct cf_error *err)
{
	int64_t now = cf_now();
	int64_t version = data_version(ca);

	if (ca->crl_stale || ca->crl == NULL || version != ca->crl_data_version ||
	    now - ca->crl_built_at >= CA_CRL_REUSE) {
		int rc = build_crl(ca, now, err);
		if (rc != 0)
			return rc;
		ca->crl_stale = false;
		ca->crl_data_version = version;
	}
	*der = malloc(ca->crl_size);
	if (*der == NULL)
		return -ENOMEM;
	memcpy(*der, ca->crl, ca->crl_size);
	*size = ca->crl_size;
	return 0;
}

int ca_cacerts_der(struct ca *ca, uint8_t **der, size_t *size, struct cf_error *err)
{
	X509 *chain[2] = { ca->issuer, ca->root };
	return ca_pkcs7_certs_der(chain, 2, der, size, err);
}

int ca_audit_verify(struct ca *ca, int64_t *records, int64_t *first_broken,
		    struct cf_error *err)
{
	return cf_audit_verify(ca->db, records, first_broken, err);
}

int ca_parse_duration(const char *text, int64_t *seconds)
{
	char *end = NULL;
	errno = 0;
	long long value = strtoll(text, &end, 10);
	if (errno != 0 || end == text || value <= 0)
		return -EINVAL;

	int64_t unit = 1;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		unit = 1;
	else if (strcmp(end, "m") == 0)
		unit = 60;
	else if (strcmp(end, "h") == 0)
		unit = 3600;
	else if (strcmp(end, "d") == 0)
		unit = 86400;
	else
		return -EINVAL;
	if (value > INT64_MAX / unit / 2)
		return -EINVAL;
	*seconds = value * unit;
	return 0;
}
