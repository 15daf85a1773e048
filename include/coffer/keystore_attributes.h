// SPDX-License-Identifier: Apache-2.0
// Client-settable attributes of key store objects (for KMIP: Name, Object
// Group, Cryptographic Usage Mask, custom "x-" attributes and the like),
// kept in a table of the key store's own database. Values are opaque byte
// strings chosen by the caller; the KMS stores each value's TTLV encoding.
// Access follows the object's owner rule (-EPERM for other callers).

#ifndef COFFER_KEYSTORE_ATTRIBUTES_H
#define COFFER_KEYSTORE_ATTRIBUTES_H

#include <coffer/keystore.h>

#define KS_ATTR_NAME_MAX 128
#define KS_ATTR_VALUE_MAX 4096

// Creates the attribute table when missing. Call once after ks_open.
int ks_attr_init(struct ks_store *store, struct cf_error *err);

// Appends a value of attribute name to object id and returns its index
// (0 for the first value of that name).
int ks_attr_add(struct ks_store *store, const struct ks_caller *caller, const char *id,
		const char *name, const uint8_t *value, size_t size, int *index,
		struct cf_error *err);

// Replaces the value at index. Returns -ENOENT when there is none.
int ks_attr_modify(struct ks_store *store, const struct ks_caller *caller, const char *id,
		   const char *name, int index, const uint8_t *value, size_t size,
		   struct cf_error *err);

// Deletes the value at index. Returns -ENOENT when there is none.
int ks_attr_delete(struct ks_store *store, const struct ks_caller *caller, const char *id,
		   const char *name, int index, struct cf_error *err);

// Calls visit for each value of object id, ordered by name and index; with
// name set, only for that attribute. Stops early and returns visit's value
// when it is non-zero.
int ks_attr_foreach(struct ks_store *store, const struct ks_caller *caller, const char *id,
		    const char *name,
		    int (*visit)(const char *name, int index, const uint8_t *value,
				 size_t size, void *arg),
		    void *arg, struct cf_error *err);

// Returns 1 when object id has a value of name equal to value, 0 when not,
// or a negative errno. The caller must already have access to the object.
int ks_attr_match(struct ks_store *store, const char *id, const char *name,
		  const uint8_t *value, size_t size);

// Group commit for servers. After ks_sync_defer(store, true), commits no
// longer wait for fsync (SQLite WAL with synchronous=NORMAL), so they can
// be lost on power failure but never on a process crash. ks_sync then
// makes every change committed so far durable with one fsync, and a
// server calls it before it sends the response to a request that changed
// anything.
int ks_sync_defer(struct ks_store *store, bool defer, struct cf_error *err);
int ks_sync(struct ks_store *store, struct cf_error *err);

// Group commit of the audit records of successful Gets, for servers. With
// max_records > 0, up to that many such records share one transaction
// instead of one commit (a WAL write) each. The batch is committed when it
// is full, by ks_flush_read_audit, before any mutation's transaction
// starts, by ks_sync and by ks_close. The cost: a process crash loses the
// records of the open batch, so the caller bounds its age by calling
// ks_flush_read_audit on a timer. Mutations and their records are not
// batched, and the SHA-256 chain is unchanged because records are still
// appended one by one in order. 0 turns batching off (the default).
int ks_batch_read_audit(struct ks_store *store, int max_records, struct cf_error *err);
int ks_flush_read_audit(struct ks_store *store, struct cf_error *err);

#endif
