// SPDX-License-Identifier: Apache-2.0
// Internal interface between the KMS request dispatcher (service.c) and the
// operation handlers (ops_*.c).

#ifndef COFFER_KMIP_SERVICE_H
#define COFFER_KMIP_SERVICE_H

#include <coffer/keystore.h>
#include <coffer/keystore_attributes.h>
#include <coffer/kmip.h>

#define OP_MESSAGE_MAX 256

// Values of KMIP enumerations the handlers use.
enum {
	KMIP_OBJECT_SYMMETRIC_KEY = 2,
	KMIP_OBJECT_SECRET_DATA = 7,
	KMIP_KEY_FORMAT_RAW = 1,
	KMIP_KEY_FORMAT_OPAQUE = 2,
	KMIP_KEY_FORMAT_TRANSPARENT_SYMMETRIC = 7,
	KMIP_ALGORITHM_AES = 3,
	KMIP_NAME_TYPE_TEXT = 1,
	KMIP_SECRET_DATA_PASSWORD = 1,
	KMIP_USAGE_ENCRYPT = 0x04,
	KMIP_USAGE_DECRYPT = 0x08,
	KMIP_MODE_CBC = 1,
	KMIP_MODE_GCM = 9,
	KMIP_PADDING_NONE = 1,
	KMIP_PADDING_PKCS5 = 3,
	KMIP_TAG_KEY = 0x42003F,
	KMIP_TAG_OFFSET_ITEMS = 0x4200D4,
};

// Attribute names stored by the service but hidden from clients start
// with '_', which no KMIP attribute name does.
#define OP_HIDDEN_SECRET_DATA_TYPE "_secret_data_type"

// State of one batch item while it runs.
struct op_context {
	struct ks_store *store;
	const struct ks_caller *caller;
	struct kmip_version version;
	// ID placeholder: the id set by the last Create, Register or Locate in
	// this batch, "" when none.
	char placeholder[KS_ID_MAX];
	uint32_t reason;
	char message[OP_MESSAGE_MAX];
	size_t failures;    // failed items so far in this request
	bool changed;       // an item changed the store, so it must be synced
};

// Handlers write a complete Response Payload into out and return 0, or
// call op_fail / op_store_fail and return their value.
typedef int (*op_handler)(struct op_context *ctx, const struct kmip_item *payload,
			  struct kmip_buf *out);

// Records a failure reason and message; returns -1.
int op_fail(struct op_context *ctx, uint32_t reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

// Maps a key store error to a result reason (the one place that does), and
// audits permission denials.
int op_store_fail(struct op_context *ctx, int rc, const struct cf_error *err,
		  const char *id);

// Reads the Unique Identifier of payload, or the ID placeholder when the
// field is absent.
int op_get_id(struct op_context *ctx, const struct kmip_item *payload, char id[KS_ID_MAX]);

// Writes a response payload holding only Unique Identifier id.
int op_reply_id(struct kmip_buf *out, const char *id);

// Parses one Attribute structure from a request. value is the Attribute
// Value item (NULL when missing).
int op_parse_attribute(struct op_context *ctx, const struct kmip_item *attribute,
		       char name[KS_ATTR_NAME_MAX], int32_t *index,
		       const struct kmip_item **value);

// True for attributes that clients may set and the attribute table holds.
bool op_attribute_is_stored(const char *name);
// True for stored attributes that may have several values.
bool op_attribute_is_multi(const char *name);

// Stores an attribute value (its TTLV encoding) for object id.
int op_store_attribute(struct op_context *ctx, const char *id, const char *name,
		       const struct kmip_item *value, int *index);

int op_create(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out);
int op_register(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out);
int op_get(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out);
int op_check(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out);
int op_activate(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out);
int op_revoke(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out);
int op_destroy(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out);
int op_get_attributes(struct op_context *ctx, const struct kmip_item *payload,
		      struct kmip_buf *out);
int op_get_attribute_list(struct op_context *ctx, const struct kmip_item *payload,
			  struct kmip_buf *out);
int op_add_attribute(struct op_context *ctx, const struct kmip_item *payload,
		     struct kmip_buf *out);
int op_modify_attribute(struct op_context *ctx, const struct kmip_item *payload,
			struct kmip_buf *out);
int op_delete_attribute(struct op_context *ctx, const struct kmip_item *payload,
			struct kmip_buf *out);
int op_locate(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out);
int op_encrypt(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out);
int op_decrypt(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out);

#endif
