// SPDX-License-Identifier: Apache-2.0
// The key store: managed objects (symmetric keys, secret data) stored
// wrapped under a key-encryption key (KEK) in SQLite, with KMIP lifecycle
// states and a SHA-256-chained audit log. The storage manager embeds it
// directly; the KMS serves it over KMIP. Handles are not thread-safe: a
// caller that shares one between threads serialises calls itself.

#ifndef COFFER_KEYSTORE_H
#define COFFER_KEYSTORE_H

#include <coffer/audit.h>
#include <coffer/common.h>

#define KS_ID_MAX 64
#define KS_OWNER_MAX 256
#define KS_NAME_MAX 256

// Values are KMIP's State enumeration (KMIP 1.4, 9.1.3.2.24).
enum ks_state {
	KS_PRE_ACTIVE = 1,
	KS_ACTIVE = 2,
	KS_DEACTIVATED = 3,
	KS_COMPROMISED = 4,
	KS_DESTROYED = 5,
	KS_DESTROYED_COMPROMISED = 6,
};

// Values are KMIP's Object Type enumeration.
enum ks_object_type {
	KS_SYMMETRIC_KEY = 2,
	KS_SECRET_DATA = 7,
};

// Values are KMIP's Cryptographic Algorithm enumeration.
enum ks_algorithm {
	KS_ALG_NONE = 0,
	KS_ALG_AES = 3,
};

// Values are KMIP's Revocation Reason Code enumeration.
enum ks_revocation_reason {
	KS_REVOKE_UNSPECIFIED = 1,
	KS_REVOKE_KEY_COMPROMISE = 2,
	KS_REVOKE_CESSATION_OF_OPERATION = 6,
};

struct ks_store;

struct ks_options {
	// Directory for keys.db; created with mode 0700 when missing.
	const char *dir;
	// Master key file holding the KEK versions; default DIR/master.key.
	// It must be mode 0600 (or stricter) and owned by the current user.
	const char *master_key_path;
	// Create the master key file when it does not exist (first start).
	bool create_master_key;
};

// The identity making a request: "local" for the embedded store, or a
// client's certificate identity for the KMS. Administrators may use every
// object; others only the objects they own.
struct ks_caller {
	const char *identity;
	bool admin;
};

struct ks_object_info {
	char id[KS_ID_MAX];
	char owner[KS_OWNER_MAX];
	char name[KS_NAME_MAX];
	enum ks_object_type type;
	enum ks_algorithm algorithm;
	int bits;
	enum ks_state state;
	int kek_version;
	int64_t created;
	int64_t activated;
	int64_t deactivated;
	int64_t destroyed;
};

int ks_open(struct ks_store **store, const struct ks_options *options,
	    struct cf_error *err);
void ks_close(struct ks_store *store);

// Creates a random symmetric key of bits (128, 192 or 256) from OpenSSL's
// CSPRNG, stores it wrapped and returns its id. With activate the key
// starts Active, otherwise Pre-Active. name may be NULL.
int ks_create_key(struct ks_store *store, const struct ks_caller *caller,
		  enum ks_algorithm algorithm, int bits, const char *name,
		  bool activate, char id[KS_ID_MAX], struct cf_error *err);

// Stores caller-supplied key material (a symmetric key or secret data)
// wrapped, Pre-Active unless activate is set.
int ks_register(struct ks_store *store, const struct ks_caller *caller,
		enum ks_object_type type, enum ks_algorithm algorithm, int bits,
		const uint8_t *material, size_t size, const char *name,
		bool activate, char id[KS_ID_MAX], struct cf_error *err);

// Unwraps an object's material into a buffer from cf_secure_alloc, which the
// caller releases with cf_secure_free. Destroyed objects return -ENOKEY;
// objects of another owner -EPERM.
int ks_get_material(struct ks_store *store, const struct ks_caller *caller,
		    const char *id, uint8_t **material, size_t *size,
		    struct cf_error *err);

int ks_get_info(struct ks_store *store, const struct ks_caller *caller,
		const char *id, struct ks_object_info *info, struct cf_error *err);

// Pre-Active -> Active.
int ks_activate(struct ks_store *store, const struct ks_caller *caller,
		const char *id, struct cf_error *err);

// Active or Pre-Active -> Deactivated, or -> Compromised for
// KS_REVOKE_KEY_COMPROMISE.
int ks_revoke(struct ks_store *store, const struct ks_caller *caller,
	      const char *id, enum ks_revocation_reason reason,
	      struct cf_error *err);

// Overwrites the wrapped material and marks the object Destroyed (or
// Destroyed Compromised). An Active object must be revoked first (-EBUSY).
// The id stays known, so later requests get a clear "destroyed" error.
int ks_destroy(struct ks_store *store, const struct ks_caller *caller,
	       const char *id, struct cf_error *err);

// Calls visit for every object the caller may see, in creation order.
// Stops early and returns visit's value when it is non-zero.
int ks_foreach(struct ks_store *store, const struct ks_caller *caller,
	       int (*visit)(const struct ks_object_info *info, void *arg),
	       void *arg, struct cf_error *err);

// Walks the audit chain. Returns 0 when every record links to the one
// before it; -EBADMSG and the sequence number of the first broken record
// otherwise. records receives the number of records checked.
int ks_audit_verify(struct ks_store *store, int64_t *records,
		    int64_t *first_broken, struct cf_error *err);
// Does the same with an anchor, as cf_audit_verify_anchored does.
int ks_audit_verify_anchored(struct ks_store *store, const struct cf_audit_point *anchor,
			     struct cf_audit_point *head, int64_t *records,
			     int64_t *first_broken, struct cf_error *err);

// Appends an audit record through cf_audit_append (also used for events outside the key store,
// such as an export of a derived key). detail may be NULL.
int ks_audit_append(struct ks_store *store, const char *actor,
		    const char *operation, const char *object,
		    const char *result, const char *detail);

// Creates a new KEK version in the master key file and rewraps every stored
// key under it in one transaction; key material does not change. Only an
// administrator may rotate. Older versions stay in the file.
int ks_rotate_kek(struct ks_store *store, const struct ks_caller *caller, int *new_version,
		  int64_t *rewrapped, struct cf_error *err);

// Reads one KEK from a master key file in the format ks_open uses, with the
// same owner and mode checks, for other components that encrypt under it.
// version 0 selects the newest. *kek is CF_AES256_KEY_SIZE bytes from
// cf_secure_alloc, released by the caller with cf_secure_free. Returns
// -ENOENT when the file or the version does not exist.
int ks_master_key_read(const char *path, int version, uint8_t **kek, int *loaded_version,
		       struct cf_error *err);

// "pre-active", "active", ... for messages and listings.
const char *ks_state_name(enum ks_state state);

// Database handle for components that extend the store in the same file
// (KMIP attributes); they must use the store's own transaction helpers.
struct sqlite3 *ks_database(struct ks_store *store);

#endif
