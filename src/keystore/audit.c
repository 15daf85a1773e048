// SPDX-License-Identifier: Apache-2.0
// SHA-256-chained audit records in SQLite. Record n stores prev = hash of
// record n-1 (32 zero bytes for the first) and hash = SHA-256(prev || each
// field length-prefixed), so an edited field, a removed record or records
// out of order break the chain at the first record affected.
//
// Removing the newest records leaves a shorter chain that still verifies,
// so verification can take an anchor (a head recorded earlier) that must
// still be in the chain.

#include <coffer/audit.h>
#include <coffer/crypto.h>

#include <errno.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define AUDIT_HASH_SIZE CF_AUDIT_HASH_SIZE

static const char audit_schema[] =
	"CREATE TABLE IF NOT EXISTS audit ("
	" seq INTEGER PRIMARY KEY,"
	" time INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" operation TEXT NOT NULL,"
	" object TEXT NOT NULL,"
	" result TEXT NOT NULL,"
	" detail TEXT,"
	" prev BLOB NOT NULL,"
	" hash BLOB NOT NULL)";

int cf_audit_init(struct sqlite3 *db, struct cf_error *err)
{
	char *message = NULL;
	if (sqlite3_exec(db, audit_schema, NULL, NULL, &message) != SQLITE_OK) {
		int rc = cf_error_set(err, -EIO, "cannot create the audit table: %s",
				      message ? message : "unknown error");
		sqlite3_free(message);
		return rc;
	}
	return 0;
}

static void hash_field(EVP_MD_CTX *ctx, const char *value)
{
	uint32_t len = value ? (uint32_t)strlen(value) : 0xffffffffu;
	uint8_t prefix[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			      (uint8_t)len };
	EVP_DigestUpdate(ctx, prefix, sizeof(prefix));
	if (value != NULL)
		EVP_DigestUpdate(ctx, value, strlen(value));
}

// Computes a record's hash; a NULL detail hashes differently from "".
static int audit_hash(const uint8_t prev[AUDIT_HASH_SIZE], int64_t seq, int64_t time,
		      const char *actor, const char *operation, const char *object,
		      const char *result, const char *detail, uint8_t out[AUDIT_HASH_SIZE])
{
	char numbers[64];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;

	snprintf(numbers, sizeof(numbers), "%lld/%lld", (long long)seq, (long long)time);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, prev, AUDIT_HASH_SIZE);
	hash_field(ctx, numbers);
	hash_field(ctx, actor);
	hash_field(ctx, operation);
	hash_field(ctx, object);
	hash_field(ctx, result);
	hash_field(ctx, detail);
	int ok = EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
	return ok == 1 && len == AUDIT_HASH_SIZE ? 0 : -EIO;
}

static int prepare_once(sqlite3 *db, sqlite3_stmt **stmt, const char *sql,
			struct cf_error *err)
{
	if (*stmt != NULL)
		return 0;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL) != SQLITE_OK)
		return cf_error_set(err, -EIO, "audit: %s", sqlite3_errmsg(db));
	return 0;
}

int cf_audit_append_cached(struct sqlite3 *db, struct cf_audit_statements *cache,
			   const char *actor, const char *operation, const char *object,
			   const char *result, const char *detail, struct cf_error *err)
{
	int rc;
	uint8_t prev[AUDIT_HASH_SIZE] = { 0 }, hash[AUDIT_HASH_SIZE];
	int64_t seq = 1, now = cf_now();

	rc = prepare_once(db, &cache->last,
			  "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", err);
	if (rc == 0)
		rc = prepare_once(db, &cache->insert,
				  "INSERT INTO audit(seq, time, actor, operation, object, result,"
				  " detail, prev, hash) VALUES (?,?,?,?,?,?,?,?,?)",
				  err);
	if (rc != 0)
		return rc;

	sqlite3_stmt *last = cache->last, *insert = cache->insert;
	if (sqlite3_step(last) == SQLITE_ROW) {
		seq = sqlite3_column_int64(last, 0) + 1;
		if (sqlite3_column_bytes(last, 1) == AUDIT_HASH_SIZE)
			memcpy(prev, sqlite3_column_blob(last, 1), AUDIT_HASH_SIZE);
	}
	// Resetting ends the statement's read, so it holds no lock between calls.
	sqlite3_reset(last);

	rc = audit_hash(prev, seq, now, actor, operation, object, result, detail, hash);
	if (rc != 0)
		return rc;

	sqlite3_bind_int64(insert, 1, seq);
	sqlite3_bind_int64(insert, 2, now);
	sqlite3_bind_text(insert, 3, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(insert, 4, operation, -1, SQLITE_STATIC);
	sqlite3_bind_text(insert, 5, object, -1, SQLITE_STATIC);
	sqlite3_bind_text(insert, 6, result, -1, SQLITE_STATIC);
	if (detail != NULL)
		sqlite3_bind_text(insert, 7, detail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(insert, 8, prev, AUDIT_HASH_SIZE, SQLITE_STATIC);
	sqlite3_bind_blob(insert, 9, hash, AUDIT_HASH_SIZE, SQLITE_STATIC);
	if (sqlite3_step(insert) != SQLITE_DONE)
		rc = cf_error_set(err, -EIO, "cannot append an audit record: %s",
				  sqlite3_errmsg(db));
	sqlite3_reset(insert);
	// The bound values point into this frame and the caller's strings.
	sqlite3_clear_bindings(insert);
	return rc;
}

void cf_audit_statements_free(struct cf_audit_statements *cache)
{
	sqlite3_finalize(cache->last);
	sqlite3_finalize(cache->insert);
	cache->last = NULL;
	cache->insert = NULL;
}

int cf_audit_append(struct sqlite3 *db, const char *actor, const char *operation,
		    const char *object, const char *result, const char *detail,
		    struct cf_error *err)
{
	struct cf_audit_statements cache = { 0 };
	int rc = cf_audit_append_cached(db, &cache, actor, operation, object, result, detail,
					err);
	cf_audit_statements_free(&cache);
	return rc;
}

static const char *column_text(sqlite3_stmt *stmt, int column)
{
	return (const char *)sqlite3_column_text(stmt, column);
}

int cf_audit_verify(struct sqlite3 *db, int64_t *records, int64_t *first_broken,
		    struct cf_error *err)
{
	struct cf_audit_point head;
	return cf_audit_verify_anchored(db, NULL, &head, records, first_broken, err);
}

int cf_audit_verify_anchored(struct sqlite3 *db, const struct cf_audit_point *anchor,
			     struct cf_audit_point *head, int64_t *records,
			     int64_t *first_broken, struct cf_error *err)
{
	int rc = 0, step;
	sqlite3_stmt *stmt = NULL;
	uint8_t prev[AUDIT_HASH_SIZE] = { 0 }, hash[AUDIT_HASH_SIZE];
	int64_t expected_seq = 1, count = 0;
	bool anchor_seen = false;

	memset(head, 0, sizeof(*head));
	if (first_broken != NULL)
		*first_broken = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT seq, time, actor, operation, object, result, detail,"
			       " prev, hash FROM audit ORDER BY seq",
			       -1, &stmt, NULL) != SQLITE_OK) {
		rc = cf_error_set(err, -EIO, "audit: %s", sqlite3_errmsg(db));
		goto out;
	}

	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(stmt, 0);
		count++;

		bool linked = seq == expected_seq &&
			      sqlite3_column_bytes(stmt, 7) == AUDIT_HASH_SIZE &&
			      sqlite3_column_bytes(stmt, 8) == AUDIT_HASH_SIZE &&
			      memcmp(sqlite3_column_blob(stmt, 7), prev, AUDIT_HASH_SIZE) == 0;
		if (linked) {
			rc = audit_hash(prev, seq, sqlite3_column_int64(stmt, 1),
					column_text(stmt, 2), column_text(stmt, 3),
					column_text(stmt, 4), column_text(stmt, 5),
					column_text(stmt, 6), hash);
			if (rc != 0)
				goto out;
			linked = memcmp(sqlite3_column_blob(stmt, 8), hash, AUDIT_HASH_SIZE) == 0;
		}
		if (!linked) {
			// A gap in seq means the records before this one were removed.
			if (first_broken != NULL)
				*first_broken = seq;
			rc = cf_error_set(err, -EBADMSG,
					  "audit chain broken at record %lld (expected record %lld);"
					  " it was edited, or records before it were removed",
					  (long long)seq, (long long)expected_seq);
			goto out;
		}
		memcpy(prev, sqlite3_column_blob(stmt, 8), AUDIT_HASH_SIZE);
		expected_seq = seq + 1;
		head->seq = seq;
		memcpy(head->hash, prev, AUDIT_HASH_SIZE);
		if (anchor != NULL && seq == anchor->seq) {
			anchor_seen = true;
			if (memcmp(prev, anchor->hash, AUDIT_HASH_SIZE) != 0) {
				if (first_broken != NULL)
					*first_broken = seq;
				rc = cf_error_set(err, -EBADMSG,
						  "audit record %lld does not match the anchor: the"
						  " chain was rewritten from there or earlier",
						  (long long)seq);
				goto out;
			}
		}
	}
	if (step != SQLITE_DONE) {
		rc = cf_error_set(err, -EIO, "audit: %s", sqlite3_errmsg(db));
	} else if (anchor != NULL && !anchor_seen) {
		if (first_broken != NULL)
			*first_broken = head->seq + 1;
		rc = cf_error_set(err, -EBADMSG,
				  "audit record %lld of the anchor is missing: the chain ends at"
				  " record %lld, so its newest records were removed",
				  (long long)anchor->seq, (long long)head->seq);
	}

out:
	if (records != NULL)
		*records = count;
	sqlite3_finalize(stmt);
	return rc;
}
