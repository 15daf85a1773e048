// SPDX-License-Identifier: Apache-2.0
// Append-only audit log in an SQLite table whose records are chained by
// SHA-256. Each record stores the hash of the record before it, and its own
// hash over its fields and that link. Editing a record, or removing one
// that has a successor, breaks the chain at that point. Used by the key store and the CA.

#ifndef COFFER_AUDIT_H
#define COFFER_AUDIT_H

#include <coffer/common.h>

struct sqlite3;
struct sqlite3_stmt;

// Creates the audit table in db when missing.
int cf_audit_init(struct sqlite3 *db, struct cf_error *err);

// Appends one record. Call inside the caller's transaction when the record
// must commit atomically with the change it describes. detail may be NULL.
// Never pass secrets: ids and identities only.
int cf_audit_append(struct sqlite3 *db, const char *actor, const char *operation,
		    const char *object, const char *result, const char *detail,
		    struct cf_error *err);

// Prepared statements of cf_audit_append_cached, reused across calls on
// one database handle. Zero-initialise it, and release it with
// cf_audit_statements_free before the handle is closed.
struct cf_audit_statements {
	struct sqlite3_stmt *last;
	struct sqlite3_stmt *insert;
};

// Same as cf_audit_append, but prepares its statements only on the first
// call with cache and keeps them there.
int cf_audit_append_cached(struct sqlite3 *db, struct cf_audit_statements *cache,
			   const char *actor, const char *operation, const char *object,
			   const char *result, const char *detail, struct cf_error *err);
void cf_audit_statements_free(struct cf_audit_statements *cache);

// Walks every record. Returns 0 when the chain is intact; -EBADMSG with
// first_broken set to the sequence number of the first bad record
// otherwise. records receives the number of records read.
int cf_audit_verify(struct sqlite3 *db, int64_t *records, int64_t *first_broken,
		    struct cf_error *err);

// A record's place in the chain: its sequence number and hash. The chain
// alone cannot show that its newest records were removed, so operators
// keep the head of an earlier verification elsewhere and pass it back as
// an anchor.
#define CF_AUDIT_HASH_SIZE 32
struct cf_audit_point {
	int64_t seq;
	uint8_t hash[CF_AUDIT_HASH_SIZE];
};

// Does what cf_audit_verify does, writes the newest record to head (seq 0
// when there is none), and, when anchor is not NULL, also fails with
// -EBADMSG unless record anchor->seq exists with anchor->hash.
int cf_audit_verify_anchored(struct sqlite3 *db, const struct cf_audit_point *anchor,
			     struct cf_audit_point *head, int64_t *records,
			     int64_t *first_broken, struct cf_error *err);

#endif
