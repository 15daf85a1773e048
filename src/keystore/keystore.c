// SPDX-License-Identifier: Apache-2.0
// The embedded key store. Objects live in keys.db (SQLite, WAL,
// synchronous=FULL so a committed key survives power loss, secure_delete so
// overwritten pages are zeroed). Material is wrapped with AES-256-GCM under
// the current KEK, with the id and KEK version as additional data, so a
// wrapped key copied onto another record fails to unwrap. Every operation,
// refused ones included, appends an audit record in the same transaction.
//
// Threads: none of its own; a handle is used by one thread at a time.

#include "internal.h"

#include <coffer/audit.h>
#include <coffer/keystore_attributes.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char keystore_schema[] =
	"CREATE TABLE IF NOT EXISTS objects ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id TEXT NOT NULL UNIQUE,"
	" type INTEGER NOT NULL,"
	" algorithm INTEGER NOT NULL,"
	" bits INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" owner TEXT NOT NULL,"
	" name TEXT,"
	" kek_version INTEGER NOT NULL,"
	" wrapped BLOB,"
	" created INTEGER NOT NULL,"
	" activated INTEGER NOT NULL DEFAULT 0,"
	" deactivated INTEGER NOT NULL DEFAULT 0,"
	" destroyed INTEGER NOT NULL DEFAULT 0,"
	" revocation_reason INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS objects_name ON objects(name);";

static const char *state_names[] = {
	"unknown", "pre-active", "active", "deactivated", "compromised",
	"destroyed", "destroyed-compromised",
};

const char *ks_state_name(enum ks_state state)
{
	if ((int)state < 0 || (size_t)state >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[state];
}

static int exec_sql(sqlite3 *db, const char *sql, struct cf_error *err)
{
	char *message = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
		int rc = cf_error_set(err, -EIO, "key store database: %s (%s)",
				      message ? message : "unknown error", sql);
		sqlite3_free(message);
		return rc;
	}
	return 0;
}

int ks_flush_read_audit(struct ks_store *store, struct cf_error *err)
{
	if (!store->read_batch_open)
		return 0;
	store->read_batch_open = false;
	store->read_batch_records = 0;
	// An I/O error inside the batch may already have rolled it back.
	if (sqlite3_get_autocommit(store->db))
		return 0;
	int rc = exec_sql(store->db, "COMMIT", err);
	if (rc != 0)
		ks_rollback(store);
	return rc;
}

int ks_batch_read_audit(struct ks_store *store, int max_records, struct cf_error *err)
{
	int rc = ks_flush_read_audit(store, err);
	store->read_batch_max = max_records > 0 ? max_records : 0;
	return rc;
}

// Appends the audit record of a successful read, inside the open batch
// when batching is on.
static void audit_read(struct ks_store *store, const char *actor, const char *operation,
		       const char *id)
{
	if (store->read_batch_max > 0 && !store->read_batch_open &&
	    sqlite3_get_autocommit(store->db) && exec_sql(store->db, "BEGIN IMMEDIATE", NULL) == 0)
		store->read_batch_open = true;

	ks_audit_record(store, actor, operation, id, "ok", NULL, NULL);

	if (store->read_batch_open && ++store->read_batch_records >= store->read_batch_max)
		ks_flush_read_audit(store, NULL);
}

int ks_begin(struct ks_store *store, struct cf_error *err)
{
	int rc = ks_flush_read_audit(store, err);
	if (rc != 0)
		return rc;
	return exec_sql(store->db, "BEGIN IMMEDIATE", err);
}

int ks_commit(struct ks_store *store, struct cf_error *err)
{
	return exec_sql(store->db, "COMMIT", err);
}

void ks_rollback(struct ks_store *store)
{
	sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
}

size_t ks_wrap_aad(char *buf, size_t size, const char *id, int kek_version)
{
	int len = snprintf(buf, size, "coffer-ks-v1|%s|%d", id, kek_version);
	return len < 0 ? 0 : (size_t)len;
}

int ks_open(struct ks_store **out, const struct ks_options *options, struct cf_error *err)
{
	int rc;
	char path[4096], master[4096];
	struct ks_store *store = calloc(1, sizeof(*store));
	if (store == NULL)
		return cf_error_set(err, -ENOMEM, "out of memory");

	rc = cf_mkdir_p(options->dir, 0700, err);
	if (rc != 0)
		goto fail;

	snprintf(master, sizeof(master), "%s/master.key", options->dir);
	rc = ks_master_key_load(store, options->master_key_path ? options->master_key_path : master,
				options->create_master_key, err);
	if (rc != 0)
		goto fail;

	snprintf(path, sizeof(path), "%s/keys.db", options->dir);
	if (sqlite3_open_v2(path, &store->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		rc = cf_error_set(err, -EIO, "cannot open key store %s: %s", path,
				  store->db ? sqlite3_errmsg(store->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(store->db, 5000);

	rc = exec_sql(store->db,
		      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		      " PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;",
		      err);
	if (rc != 0 && sqlite3_errcode(store->db) == SQLITE_BUSY) {
		cf_error_reset(err);
		rc = cf_error_set(err, -EBUSY,
				  "key store %s is in use by another process (a running `coffer kms"
				  " serve` or storage manager holds it); stop that process first",
				  path);
	}
	if (rc == 0)
		rc = exec_sql(store->db, keystore_schema, err);
	if (rc == 0)
		rc = cf_audit_init(store->db, err);
	if (rc != 0)
		goto fail;

	*out = store;
	return 0;

fail:
	ks_close(store);
	return rc;
}

void ks_close(struct ks_store *store)
{
	if (store == NULL)
		return;
	if (store->db != NULL && ks_flush_read_audit(store, NULL) != 0)
		cf_log(CF_LOG_ERROR, "keystore.audit_flush_failed",
		       "error=\"the last batch of read audit records could not be committed\"");
	for (size_t i = 0; i < KS_STATEMENT_CACHE_SIZE; i++)
		sqlite3_finalize(store->statements[i].stmt);
	cf_audit_statements_free(&store->audit);
	sqlite3_close(store->db);
	ks_master_key_free(store);
	free(store);
}

struct sqlite3 *ks_database(struct ks_store *store)
{
	return store->db;
}

int ks_audit_append(struct ks_store *store, const char *actor, const char *operation,
		    const char *object, const char *result, const char *detail)
{
	return ks_audit_record(store, actor, operation, object, result, detail, NULL);
}

int ks_audit_record(struct ks_store *store, const char *actor, const char *operation,
		    const char *object, const char *result, const char *detail,
		    struct cf_error *err)
{
	return cf_audit_append_cached(store->db, &store->audit, actor, operation, object, result,
				      detail, err);
}

int ks_statement(struct ks_store *store, const char *sql, sqlite3_stmt **stmt,
		 struct cf_error *err)
{
	size_t free_entry = KS_STATEMENT_CACHE_SIZE;

	for (size_t i = 0; i < KS_STATEMENT_CACHE_SIZE; i++) {
		if (store->statements[i].sql == sql && !store->statements[i].in_use) {
			store->statements[i].in_use = true;
			*stmt = store->statements[i].stmt;
			return 0;
		}
		if (store->statements[i].sql == NULL && free_entry == KS_STATEMENT_CACHE_SIZE)
			free_entry = i;
	}

	// A full cache, or a cached copy already in use further up the stack,
	// gets a one-off statement that ks_statement_done finalizes.
	unsigned flags = free_entry < KS_STATEMENT_CACHE_SIZE ? SQLITE_PREPARE_PERSISTENT : 0;
	if (sqlite3_prepare_v3(store->db, sql, -1, flags, stmt, NULL) != SQLITE_OK) {
		*stmt = NULL;
		return cf_error_set(err, -EIO, "key store: %s", sqlite3_errmsg(store->db));
	}
	if (free_entry < KS_STATEMENT_CACHE_SIZE) {
		store->statements[free_entry].sql = sql;
		store->statements[free_entry].stmt = *stmt;
		store->statements[free_entry].in_use = true;
	}
	return 0;
}

void ks_statement_done(struct ks_store *store, sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return;
	for (size_t i = 0; i < KS_STATEMENT_CACHE_SIZE; i++) {
		if (store->statements[i].stmt == stmt) {
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			store->statements[i].in_use = false;
			return;
		}
	}
	sqlite3_finalize(stmt);
}

int ks_audit_verify(struct ks_store *store, int64_t *records, int64_t *first_broken,
		    struct cf_error *err)
{
	return cf_audit_verify(store->db, records, first_broken, err);
}

int ks_audit_verify_anchored(struct ks_store *store, const struct cf_audit_point *anchor,
			     struct cf_audit_point *head, int64_t *records,
			     int64_t *first_broken, struct cf_error *err)
{
	return cf_audit_verify_anchored(store->db, anchor, head, records, first_broken, err);
}

// Records a refused or failed operation in its own small transaction, so
// the refusal is audited even though the operation's changes roll back.
static void audit_failure(struct ks_store *store, const struct ks_caller *caller,
			  const char *operation, const char *id, int rc)
{
	char detail[64];
	snprintf(detail, sizeof(detail), "errno=%d", -rc);
	if (ks_begin(store, NULL) != 0)
		return;
	if (ks_audit_record(store, caller->identity, operation, id ? id : "-",
			    rc == -EPERM ? "denied" : "failed", detail, NULL) == 0)
		exec_sql(store->db, "COMMIT", NULL);
	else
		ks_rollback(store);
}

static void generate_id(char id[KS_ID_MAX])
{
	uint8_t raw[16];
	char hex[33];

	// A random UUID (version 4): unguessable, so ids reveal nothing.
	cf_random(raw, sizeof(raw));
	raw[6] = (uint8_t)((raw[6] & 0x0f) | 0x40);
	raw[8] = (uint8_t)((raw[8] & 0x3f) | 0x80);
	cf_hex_encode(raw, sizeof(raw), hex);
	snprintf(id, KS_ID_MAX, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
		 hex + 20);
}

static void read_info(sqlite3_stmt *stmt, struct ks_object_info *info)
{
	// Column order of OBJECT_COLUMNS below.
	memset(info, 0, sizeof(*info));
	snprintf(info->id, sizeof(info->id), "%s", (const char *)sqlite3_column_text(stmt, 0));
	info->type = (enum ks_object_type)sqlite3_column_int(stmt, 1);
	info->algorithm = (enum ks_algorithm)sqlite3_column_int(stmt, 2);
	info->bits = sqlite3_column_int(stmt, 3);
	info->state = (enum ks_state)sqlite3_column_int(stmt, 4);
	snprintf(info->owner, sizeof(info->owner), "%s", (const char *)sqlite3_column_text(stmt, 5));
	if (sqlite3_column_type(stmt, 6) != SQLITE_NULL)
		snprintf(info->name, sizeof(info->name), "%s",
			 (const char *)sqlite3_column_text(stmt, 6));
	info->kek_version = sqlite3_column_int(stmt, 7);
	info->created = sqlite3_column_int64(stmt, 8);
	info->activated = sqlite3_column_int64(stmt, 9);
	info->deactivated = sqlite3_column_int64(stmt, 10);
	info->destroyed = sqlite3_column_int64(stmt, 11);
}

#define OBJECT_COLUMNS \
	"id, type, algorithm, bits, state, owner, name, kek_version, created," \
	" activated, deactivated, destroyed"

static bool may_use(const struct ks_caller *caller, const struct ks_object_info *info)
{
	return caller->admin || strcmp(caller->identity, info->owner) == 0;
}

// Loads an object's metadata and checks that the caller may use it.
static int load_object(struct ks_store *store, const struct ks_caller *caller, const char *id,
		       struct ks_object_info *info, struct cf_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = ks_statement(store, "SELECT " OBJECT_COLUMNS " FROM objects WHERE id = ?", &stmt, err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);

	int step = sqlite3_step(stmt);
	if (step == SQLITE_ROW) {
		read_info(stmt, info);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = cf_error_set(err, -ENOENT, "key %s not found", id);
	} else {
		rc = cf_error_set(err, -EIO, "key store: %s", sqlite3_errmsg(store->db));
	}
	ks_statement_done(store, stmt);

	if (rc == 0 && !may_use(caller, info))
		rc = cf_error_set(err, -EPERM, "key %s belongs to another identity; %s may not use it",
				  id, caller->identity);
	return rc;
}

static int store_object(struct ks_store *store, const struct ks_caller *caller,
			enum ks_object_type type, enum ks_algorithm algorithm, int bits,
			const uint8_t *material, size_t size, const char *name, bool activate,
			char id[KS_ID_MAX], struct cf_error *err)
{
	int rc;
	char aad[160];
	sqlite3_stmt *stmt = NULL;
	const struct ks_kek *kek = ks_kek_current(store);
	uint8_t *wrapped = malloc(size + CF_WRAP_OVERHEAD);
	int64_t now = cf_now();

	if (wrapped == NULL)
		return cf_error_set(err, -ENOMEM, "out of memory");

	generate_id(id);
	size_t aad_size = ks_wrap_aad(aad, sizeof(aad), id, kek->version);
	rc = cf_key_wrap(kek->key, (const uint8_t *)aad, aad_size, material, size, wrapped);
	if (rc != 0) {
		cf_error_set(err, rc, "cannot wrap the new key");
		goto out;
	}

	rc = ks_begin(store, err);
	if (rc != 0)
		goto out;
	rc = ks_statement(store,
			  "INSERT INTO objects(id, type, algorithm, bits, state, owner, name,"
			  " kek_version, wrapped, created, activated)"
			  " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			  &stmt, err);
	if (rc != 0)
		goto rollback;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, type);
	sqlite3_bind_int(stmt, 3, algorithm);
	sqlite3_bind_int(stmt, 4, bits);
	sqlite3_bind_int(stmt, 5, activate ? KS_ACTIVE : KS_PRE_ACTIVE);
	sqlite3_bind_text(stmt, 6, caller->identity, -1, SQLITE_STATIC);
	if (name != NULL)
		sqlite3_bind_text(stmt, 7, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 8, kek->version);
	sqlite3_bind_blob(stmt, 9, wrapped, (int)(size + CF_WRAP_OVERHEAD), SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 10, now);
	sqlite3_bind_int64(stmt, 11, activate ? now : 0);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		rc = cf_error_set(err, -EIO, "cannot store key: %s", sqlite3_errmsg(store->db));
		goto rollback;
	}

	rc = ks_audit_record(store, caller->identity,
			     type == KS_SECRET_DATA ? "register" : "create", id, "ok", name, err);
	if (rc == 0 && activate)
		rc = ks_audit_record(store, caller->identity, "activate", id, "ok", NULL, err);
	if (rc != 0)
		goto rollback;
	rc = ks_commit(store, err);
	if (rc != 0)
		goto rollback;
	goto out;

rollback:
	ks_rollback(store);
out:
	ks_statement_done(store, stmt);
	free(wrapped);
	return rc;
}

int ks_create_key(struct ks_store *store, const struct ks_caller *caller,
		  enum ks_algorithm algorithm, int bits, const char *name, bool activate,
		  char id[KS_ID_MAX], struct cf_error *err)
{
	if (algorithm != KS_ALG_AES || (bits != 128 && bits != 192 && bits != 256))
		return cf_error_set(err, -EINVAL,
				    "unsupported key: algorithm %d with %d bits; coffer creates"
				    " AES keys of 128, 192 or 256 bits",
				    (int)algorithm, bits);

	size_t size = (size_t)bits / 8;
	uint8_t *key = cf_secure_alloc(size);
	if (key == NULL)
		return cf_error_set(err, -ENOMEM, "cannot allocate locked memory for a key");

	int rc = cf_random(key, size);
	if (rc != 0)
		cf_error_set(err, rc, "the random generator failed");
	else
		rc = store_object(store, caller, KS_SYMMETRIC_KEY, algorithm, bits, key, size,
				  name, activate, id, err);
	cf_secure_free(key);
	return rc;
}

int ks_register(struct ks_store *store, const struct ks_caller *caller,
		enum ks_object_type type, enum ks_algorithm algorithm, int bits,
		const uint8_t *material, size_t size, const char *name, bool activate,
		char id[KS_ID_MAX], struct cf_error *err)
{
	if (type != KS_SYMMETRIC_KEY && type != KS_SECRET_DATA)
		return cf_error_set(err, -EINVAL, "object type %d cannot be registered", (int)type);
	if (size == 0 || size > 4096)
		return cf_error_set(err, -EINVAL,
				    "key material of %zu bytes; 1 to 4096 bytes are accepted", size);
	if (type == KS_SYMMETRIC_KEY && (size_t)bits != size * 8)
		return cf_error_set(err, -EINVAL,
				    "key length %d bits does not match %zu bytes of material", bits,
				    size);
	return store_object(store, caller, type, algorithm, bits, material, size, name, activate,
			    id, err);
}

int ks_get_material(struct ks_store *store, const struct ks_caller *caller, const char *id,
		    uint8_t **material, size_t *size, struct cf_error *err)
{
	int rc;
	char aad[160];
	struct ks_object_info info;
	sqlite3_stmt *stmt = NULL;
	uint8_t *plain = NULL;

	rc = load_object(store, caller, id, &info, err);
	if (rc == 0 && (info.state == KS_DESTROYED || info.state == KS_DESTROYED_COMPROMISED))
		rc = cf_error_set(err, -ENOKEY, "key %s was destroyed", id);
	if (rc != 0)
		goto out;

	rc = ks_statement(store, "SELECT wrapped FROM objects WHERE id = ?", &stmt, err);
	if (rc != 0)
		goto out;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_ROW ||
	    sqlite3_column_bytes(stmt, 0) <= (int)CF_WRAP_OVERHEAD) {
		rc = cf_error_set(err, -EIO, "key %s has no stored material", id);
		goto out;
	}

	const struct ks_kek *kek = ks_kek_find(store, info.kek_version);
	if (kek == NULL) {
		rc = cf_error_set(err, -ENOKEY,
				  "key %s is wrapped under KEK version %d, which the master key"
				  " file %s does not hold",
				  id, info.kek_version, store->master_key_path);
		goto out;
	}

	size_t wrapped_size = (size_t)sqlite3_column_bytes(stmt, 0);
	size_t plain_size = wrapped_size - CF_WRAP_OVERHEAD;
	plain = cf_secure_alloc(plain_size);
	if (plain == NULL) {
		rc = cf_error_set(err, -ENOMEM, "cannot allocate locked memory for a key");
		goto out;
	}
	size_t aad_size = ks_wrap_aad(aad, sizeof(aad), id, info.kek_version);
	rc = cf_key_unwrap(kek->key, (const uint8_t *)aad, aad_size,
			   sqlite3_column_blob(stmt, 0), wrapped_size, plain);
	if (rc != 0) {
		rc = cf_error_set(err, -EBADMSG,
				  "key %s failed to unwrap: its record was altered or moved", id);
		goto out;
	}

	*material = plain;
	*size = plain_size;
	plain = NULL;

out:
	ks_statement_done(store, stmt);
	cf_secure_free(plain);
	if (rc != 0)
		audit_failure(store, caller, "get", id, rc);
	else
		audit_read(store, caller->identity, "get", id);
	return rc;
}

int ks_get_info(struct ks_store *store, const struct ks_caller *caller, const char *id,
		struct ks_object_info *info, struct cf_error *err)
{
	return load_object(store, caller, id, info, err);
}

// Changes the state of one object inside a transaction after checking the
// transition, optionally wiping its wrapped material.
static int transition(struct ks_store *store, const struct ks_caller *caller, const char *id,
		      const char *operation, int (*check)(const struct ks_object_info *,
							  enum ks_state *, struct cf_error *,
							  int),
		      int argument, struct cf_error *err)
{
	int rc;
	struct ks_object_info info;
	enum ks_state next;
	sqlite3_stmt *stmt = NULL;
	int64_t now = cf_now();

	rc = ks_begin(store, err);
	if (rc != 0)
		return rc;
	rc = load_object(store, caller, id, &info, err);
	if (rc == 0)
		rc = check(&info, &next, err, argument);
	if (rc != 0)
		goto fail;

	bool destroy = next == KS_DESTROYED || next == KS_DESTROYED_COMPROMISED;
	const char *sql =
		destroy ?
			// zeroblob first so the old ciphertext's pages are overwritten
			// (secure_delete zeroes freed pages), then NULL.
			"UPDATE objects SET state = ?1, destroyed = ?2,"
			" wrapped = zeroblob(length(wrapped)) WHERE id = ?3" :
		next == KS_ACTIVE ?
			"UPDATE objects SET state = ?1, activated = ?2 WHERE id = ?3" :
			"UPDATE objects SET state = ?1, deactivated = ?2,"
			" revocation_reason = ?4 WHERE id = ?3";
	if (sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		rc = cf_error_set(err, -EIO, "key store: %s", sqlite3_errmsg(store->db));
		goto fail;
	}
	sqlite3_bind_int(stmt, 1, next);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_text(stmt, 3, id, -1, SQLITE_STATIC);
	if (!destroy && next != KS_ACTIVE)
		sqlite3_bind_int(stmt, 4, argument);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		rc = cf_error_set(err, -EIO, "key store: %s", sqlite3_errmsg(store->db));
		goto fail;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;

	if (destroy) {
		rc = exec_sql(store->db, "UPDATE objects SET wrapped = NULL WHERE wrapped IS NOT NULL"
					 " AND state IN (5, 6)", err);
		if (rc != 0)
			goto fail;
	}

	rc = ks_audit_record(store, caller->identity, operation, id, "ok",
			     ks_state_name(next), err);
	if (rc == 0)
		rc = ks_commit(store, err);
	if (rc != 0)
		goto fail;
	return 0;

fail:
	sqlite3_finalize(stmt);
	ks_rollback(store);
	audit_failure(store, caller, operation, id, rc);
	return rc;
}

static int check_activate(const struct ks_object_info *info, enum ks_state *next,
			  struct cf_error *err, int unused)
{
	(void)unused;
	if (info->state != KS_PRE_ACTIVE)
		return cf_error_set(err, -EINVAL, "key %s is %s; only a pre-active key can be activated",
				    info->id, ks_state_name(info->state));
	*next = KS_ACTIVE;
	return 0;
}

static int check_revoke(const struct ks_object_info *info, enum ks_state *next,
			struct cf_error *err, int reason)
{
	if (reason == KS_REVOKE_KEY_COMPROMISE) {
		if (info->state == KS_DESTROYED || info->state == KS_DESTROYED_COMPROMISED)
			return cf_error_set(err, -ENOKEY, "key %s was destroyed", info->id);
		*next = KS_COMPROMISED;
		return 0;
	}
	if (info->state != KS_ACTIVE && info->state != KS_PRE_ACTIVE)
		return cf_error_set(err, -EINVAL,
				    "key %s is %s; only an active or pre-active key can be revoked",
				    info->id, ks_state_name(info->state));
	*next = KS_DEACTIVATED;
	return 0;
}

static int check_destroy(const struct ks_object_info *info, enum ks_state *next,
			 struct cf_error *err, int unused)
{
	(void)unused;
	switch (info->state) {
	case KS_ACTIVE:
		return cf_error_set(err, -EBUSY, "key %s is active; revoke it before destroying it",
				    info->id);
	case KS_DESTROYED:
	case KS_DESTROYED_COMPROMISED:
		return cf_error_set(err, -ENOKEY, "key %s was already destroyed", info->id);
	case KS_COMPROMISED:
		*next = KS_DESTROYED_COMPROMISED;
		return 0;
	default:
		*next = KS_DESTROYED;
		return 0;
	}
}

int ks_activate(struct ks_store *store, const struct ks_caller *caller, const char *id,
		struct cf_error *err)
{
	return transition(store, caller, id, "activate", check_activate, 0, err);
}

int ks_revoke(struct ks_store *store, const struct ks_caller *caller, const char *id,
	      enum ks_revocation_reason reason, struct cf_error *err)
{
	return transition(store, caller, id, "revoke", check_revoke, (int)reason, err);
}

int ks_destroy(struct ks_store *store, const struct ks_caller *caller, const char *id,
	       struct cf_error *err)
{
	return transition(store, caller, id, "destroy", check_destroy, 0, err);
}

int ks_foreach(struct ks_store *store, const struct ks_caller *caller,
	       int (*visit)(const struct ks_object_info *info, void *arg), void *arg,
	       struct cf_error *err)
{
	sqlite3_stmt *stmt = NULL;
	struct ks_object_info info;
	int rc = 0, step;

	if (sqlite3_prepare_v2(store->db, "SELECT " OBJECT_COLUMNS " FROM objects ORDER BY seq",
			       -1, &stmt, NULL) != SQLITE_OK)
		return cf_error_set(err, -EIO, "key store: %s", sqlite3_errmsg(store->db));

	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		read_info(stmt, &info);
		if (!may_use(caller, &info))
			continue;
		rc = visit(&info, arg);
		if (rc != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = cf_error_set(err, -EIO, "key store: %s", sqlite3_errmsg(store->db));
	sqlite3_finalize(stmt);
	return rc;
}

int ks_rotate_kek(struct ks_store *store, const struct ks_caller *caller, int *new_version,
		  int64_t *rewrapped, struct cf_error *err)
{
	int rc;
	int64_t count = 0;
	sqlite3_stmt *select = NULL, *update = NULL;

	if (!caller->admin)
		return cf_error_set(err, -EPERM, "only an administrator may rotate the KEK");

	rc = ks_master_key_add_version(store, err);
	if (rc != 0)
		return rc;
	const struct ks_kek *kek = ks_kek_current(store);

	rc = ks_begin(store, err);
	if (rc != 0)
		return rc;
	if (sqlite3_prepare_v2(store->db,
			       "SELECT id, kek_version, wrapped FROM objects"
			       " WHERE wrapped IS NOT NULL AND kek_version <> ?",
			       -1, &select, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(store->db,
			       "UPDATE objects SET wrapped = ?, kek_version = ? WHERE id = ?", -1,
			       &update, NULL) != SQLITE_OK) {
		rc = cf_error_set(err, -EIO, "key store: %s", sqlite3_errmsg(store->db));
		goto fail;
	}
	sqlite3_bind_int(select, 1, kek->version);

	while (sqlite3_step(select) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(select, 0);
		int old_version = sqlite3_column_int(select, 1);
		size_t wrapped_size = (size_t)sqlite3_column_bytes(select, 2);
		const struct ks_kek *old = ks_kek_find(store, old_version);
		char aad[160];

		if (old == NULL || wrapped_size <= CF_WRAP_OVERHEAD) {
			rc = cf_error_set(err, -ENOKEY, "key %s cannot be unwrapped (KEK version %d)",
					  id, old_version);
			goto fail;
		}
		size_t size = wrapped_size - CF_WRAP_OVERHEAD;
		uint8_t *plain = cf_secure_alloc(size);
		uint8_t *rewrapped_key = malloc(wrapped_size);
		if (plain == NULL || rewrapped_key == NULL) {
			cf_secure_free(plain);
			free(rewrapped_key);
			rc = cf_error_set(err, -ENOMEM, "out of memory");
			goto fail;
		}

		size_t aad_size = ks_wrap_aad(aad, sizeof(aad), id, old_version);
		rc = cf_key_unwrap(old->key, (const uint8_t *)aad, aad_size,
				   sqlite3_column_blob(select, 2), wrapped_size, plain);
		if (rc == 0) {
			aad_size = ks_wrap_aad(aad, sizeof(aad), id, kek->version);
			rc = cf_key_wrap(kek->key, (const uint8_t *)aad, aad_size, plain, size,
					 rewrapped_key);
		}
		cf_secure_free(plain);
		if (rc == 0) {
			sqlite3_bind_blob(update, 1, rewrapped_key, (int)wrapped_size, SQLITE_TRANSIENT);
			sqlite3_bind_int(update, 2, kek->version);
			sqlite3_bind_text(update, 3, id, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(update) != SQLITE_DONE)
				rc = -EIO;
			sqlite3_reset(update);
		}
		free(rewrapped_key);
		if (rc != 0) {
			rc = cf_error_set(err, rc, "cannot rewrap key %s", id);
			goto fail;
		}
		count++;
	}

	char detail[64];
	snprintf(detail, sizeof(detail), "kek_version=%d rewrapped=%lld", kek->version,
		 (long long)count);
	rc = ks_audit_record(store, caller->identity, "rotate-kek", "-", "ok", detail, err);
	if (rc == 0)
		rc = ks_commit(store, err);
	if (rc != 0)
		goto fail;
	sqlite3_finalize(select);
	sqlite3_finalize(update);
	if (new_version != NULL)
		*new_version = kek->version;
	if (rewrapped != NULL)
		*rewrapped = count;
	cf_log(CF_LOG_INFO, "keystore.kek_rotated", "kek_version=%d rewrapped=%lld",
	       kek->version, (long long)count);
	return 0;

fail:
	sqlite3_finalize(select);
	sqlite3_finalize(update);
	ks_rollback(store);
	return rc;
}
