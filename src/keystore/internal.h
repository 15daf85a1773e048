// SPDX-License-Identifier: Apache-2.0
// Key store internals shared by the files of src/keystore/ (and by KMIP
// extensions that keep their tables in the same database).

#ifndef COFFER_KEYSTORE_INTERNAL_H
#define COFFER_KEYSTORE_INTERNAL_H

#include <coffer/audit.h>
#include <coffer/crypto.h>
#include <coffer/keystore.h>

#include <sqlite3.h>

#define KS_MAX_KEK_VERSIONS 64
#define KS_STATEMENT_CACHE_SIZE 8

// One KEK version from the master key file; key points into secure memory.
struct ks_kek {
	int version;
	uint8_t *key;
};

struct ks_store {
	sqlite3 *db;
	char master_key_path[4096];
	// KEK versions in file order; the last one wraps new keys.
	struct ks_kek keks[KS_MAX_KEK_VERSIONS];
	size_t kek_count;
	// Prepared statements reused by ks_statement, keyed by their SQL text.
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
		bool in_use;
	} statements[KS_STATEMENT_CACHE_SIZE];
	struct cf_audit_statements audit;
	// Read audit batching (ks_batch_read_audit): the maximum number of
	// records per batch, 0 when off, whether this store opened the current
	// transaction for a batch, and how many records it holds.
	int read_batch_max;
	bool read_batch_open;
	int read_batch_records;
};

// Reads (or, with create, makes) the master key file and fills store->keks.
// Refuses a file readable or writable by group or others, or owned by
// another user, naming the file and its mode.
int ks_master_key_load(struct ks_store *store, const char *path, bool create,
		       struct cf_error *err);
// Appends a new random KEK version to the master key file (fsynced).
int ks_master_key_add_version(struct ks_store *store, struct cf_error *err);
void ks_master_key_free(struct ks_store *store);
const struct ks_kek *ks_kek_find(const struct ks_store *store, int version);
const struct ks_kek *ks_kek_current(const struct ks_store *store);

// Builds the additional authenticated data that binds a wrapped key to its
// record: "coffer-ks-v1|ID|KEK_VERSION".
size_t ks_wrap_aad(char *buf, size_t size, const char *id, int kek_version);

// Returns in *stmt a prepared statement for sql, taken from the store's
// cache when it is there and free. Give it back with ks_statement_done,
// which resets it and clears its bindings. sql must be a string literal
// (the cache keeps the pointer).
int ks_statement(struct ks_store *store, const char *sql, sqlite3_stmt **stmt,
		 struct cf_error *err);
void ks_statement_done(struct ks_store *store, sqlite3_stmt *stmt);

// Appends an audit record with the store's cached statements.
int ks_audit_record(struct ks_store *store, const char *actor, const char *operation,
		    const char *object, const char *result, const char *detail,
		    struct cf_error *err);

// BEGIN IMMEDIATE / COMMIT / ROLLBACK on the store's database. ks_begin
// first commits an open batch of read audit records.
int ks_begin(struct ks_store *store, struct cf_error *err);
int ks_commit(struct ks_store *store, struct cf_error *err);
void ks_rollback(struct ks_store *store);

#endif
