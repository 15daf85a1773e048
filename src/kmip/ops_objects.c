// SPDX-License-Identifier: Apache-2.0
// KMIP operations on managed objects: Create, Register, Get, Check and the
// lifecycle operations Activate, Revoke and Destroy. State rules (an Active
// object must be revoked before Destroy) are the key store's.

#include "service.h"

#include <errno.h>
#include <string.h>

#define TEMPLATE_MAX_STORED 64

// Attributes of a Create or Register request's Template-Attribute.
struct template {
	bool has_algorithm;
	uint32_t algorithm;
	bool has_length;
	int32_t length;
	bool activate;
	char first_name[KS_NAME_MAX];
	size_t stored_count;
	char stored_names[TEMPLATE_MAX_STORED][KS_ATTR_NAME_MAX];
	const struct kmip_item *stored_values[TEMPLATE_MAX_STORED];
};

static int read_name_value(struct op_context *ctx, const struct kmip_item *value,
			   char *text, size_t size)
{
	int rc = kmip_get_text(value, KMIP_TAG_NAME_VALUE, text, size);
	if (rc == -ENAMETOOLONG)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD, "Name Value is longer than %zu bytes",
			       size - 1);
	if (rc != 0)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "Name needs a Name Value text string");
	return 0;
}

static int parse_template(struct op_context *ctx, const struct kmip_item *payload,
			  struct template *t)
{
	memset(t, 0, sizeof(*t));

	const struct kmip_item *tmpl = kmip_find(payload, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	if (tmpl == NULL)
		return 0;
	if (tmpl->type != KMIP_TYPE_STRUCTURE)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD, "Template-Attribute is not a structure");
	if (kmip_find(tmpl, KMIP_TAG_NAME) != NULL)
		return op_fail(ctx, KMIP_REASON_FEATURE_NOT_SUPPORTED,
			       "templates referenced by name are not supported; send the attributes instead");

	const struct kmip_item *attribute = NULL;
	while ((attribute = kmip_find_next(tmpl, KMIP_TAG_ATTRIBUTE, attribute)) != NULL) {
		char name[KS_ATTR_NAME_MAX];
		int32_t index;
		const struct kmip_item *value;
		if (op_parse_attribute(ctx, attribute, name, &index, &value) != 0)
			return -1;

		if (strcmp(name, "Cryptographic Algorithm") == 0) {
			if (value->type != KMIP_TYPE_ENUMERATION)
				return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
					       "Cryptographic Algorithm is not an enumeration");
			t->has_algorithm = true;
			t->algorithm = value->v.enumeration;
		} else if (strcmp(name, "Cryptographic Length") == 0) {
			if (value->type != KMIP_TYPE_INTEGER)
				return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
					       "Cryptographic Length is not an integer");
			t->has_length = true;
			t->length = value->v.integer;
		} else if (strcmp(name, "Activation Date") == 0) {
			if (value->type != KMIP_TYPE_DATE_TIME)
				return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
					       "Activation Date is not a Date-Time");
			// NOTE: a future Activation Date is not scheduled; the object
			// stays Pre-Active until an explicit Activate.
			t->activate = value->v.long_integer <= cf_now();
		} else if (op_attribute_is_stored(name)) {
			if (t->stored_count == TEMPLATE_MAX_STORED)
				return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
					       "more than %d attributes in one template",
					       TEMPLATE_MAX_STORED);
			if (strcmp(name, "Name") == 0 && t->first_name[0] == '\0' &&
			    read_name_value(ctx, value, t->first_name, sizeof(t->first_name)) != 0)
				return -1;
			memcpy(t->stored_names[t->stored_count], name, KS_ATTR_NAME_MAX);
			t->stored_values[t->stored_count] = value;
			t->stored_count++;
		} else {
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "attribute '%s' cannot be set by a client", name);
		}
	}
	return 0;
}

static int store_template(struct op_context *ctx, const char *id, const struct template *t)
{
	for (size_t i = 0; i < t->stored_count; i++) {
		if (op_store_attribute(ctx, id, t->stored_names[i], t->stored_values[i], NULL) != 0)
			return -1;
	}
	return 0;
}

static int reply_created(struct kmip_buf *out, uint32_t object_type, const char *id)
{
	size_t payload = kmip_enc_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	kmip_enc_enum(out, KMIP_TAG_OBJECT_TYPE, object_type);
	kmip_enc_text(out, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	kmip_enc_end(out, payload);
	return 0;
}

int op_create(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out)
{
	uint32_t object_type;
	struct template t;
	struct cf_error err = { 0 };
	char id[KS_ID_MAX];

	if (kmip_get_enum(payload, KMIP_TAG_OBJECT_TYPE, &object_type) != 0)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA, "Create needs an Object Type");
	if (object_type != KMIP_OBJECT_SYMMETRIC_KEY)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "Create supports Object Type Symmetric Key (2) only, not %u",
			       object_type);
	if (parse_template(ctx, payload, &t) != 0)
		return -1;
	if (!t.has_algorithm || !t.has_length)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA,
			       "Create needs Cryptographic Algorithm and Cryptographic Length attributes");
	if (t.algorithm != KMIP_ALGORITHM_AES)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "Cryptographic Algorithm %u is not supported; use AES (3)", t.algorithm);
	if (t.length != 128 && t.length != 192 && t.length != 256)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "Cryptographic Length %d is invalid for AES; use 128, 192 or 256",
			       t.length);

	int rc = ks_create_key(ctx->store, ctx->caller, KS_ALG_AES, t.length,
			       t.first_name[0] != '\0' ? t.first_name : NULL, t.activate, id, &err);
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, "-");
	if (store_template(ctx, id, &t) != 0)
		return -1;

	memcpy(ctx->placeholder, id, KS_ID_MAX);
	return reply_created(out, object_type, id);
}

// Finds the Key Material byte string of a Key Block, raw or inside a
// Transparent Symmetric Key structure.
static int read_key_block(struct op_context *ctx, const struct kmip_item *block,
			  uint32_t *format, const uint8_t **material, size_t *size)
{
	if (block == NULL || block->type != KMIP_TYPE_STRUCTURE)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA, "the object has no Key Block");
	if (kmip_get_enum(block, KMIP_TAG_KEY_FORMAT_TYPE, format) != 0)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA, "Key Block has no Key Format Type");
	if (kmip_find(block, KMIP_TAG_KEY_WRAPPING_DATA) != NULL)
		return op_fail(ctx, KMIP_REASON_FEATURE_NOT_SUPPORTED,
			       "wrapped key material is not supported; register the plain key");
	if (kmip_find(block, KMIP_TAG_KEY_COMPRESSION_TYPE) != NULL)
		return op_fail(ctx, KMIP_REASON_FEATURE_NOT_SUPPORTED,
			       "Key Compression Type is not supported");

	const struct kmip_item *value = kmip_find(block, KMIP_TAG_KEY_VALUE);
	if (value == NULL || value->type != KMIP_TYPE_STRUCTURE)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA, "Key Block has no Key Value structure");

	const struct kmip_item *holder = value;
	if (*format == KMIP_KEY_FORMAT_TRANSPARENT_SYMMETRIC) {
		holder = kmip_find(value, KMIP_TAG_KEY_MATERIAL);
		if (kmip_get_bytes(holder, KMIP_TAG_KEY, material, size) != 0)
			return op_fail(ctx, KMIP_REASON_MISSING_DATA,
				       "Transparent Symmetric Key needs a Key byte string");
		return 0;
	}
	if (kmip_get_bytes(holder, KMIP_TAG_KEY_MATERIAL, material, size) != 0)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA,
			       "Key Value needs a Key Material byte string");
	return 0;
}

int op_register(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out)
{
	uint32_t object_type, format;
	struct template t;
	struct cf_error err = { 0 };
	char id[KS_ID_MAX];
	const uint8_t *material;
	size_t size;
	uint32_t secret_type = KMIP_SECRET_DATA_PASSWORD;
	int rc;

	if (kmip_get_enum(payload, KMIP_TAG_OBJECT_TYPE, &object_type) != 0)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA, "Register needs an Object Type");
	if (parse_template(ctx, payload, &t) != 0)
		return -1;

	if (object_type == KMIP_OBJECT_SYMMETRIC_KEY) {
		const struct kmip_item *key = kmip_find(payload, KMIP_TAG_SYMMETRIC_KEY);
		const struct kmip_item *block = kmip_find(key, KMIP_TAG_KEY_BLOCK);
		if (read_key_block(ctx, block, &format, &material, &size) != 0)
			return -1;
		if (format != KMIP_KEY_FORMAT_RAW && format != KMIP_KEY_FORMAT_TRANSPARENT_SYMMETRIC)
			return op_fail(ctx, KMIP_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED,
				       "symmetric keys are accepted in Raw (1) or Transparent Symmetric Key (7) format, not %u",
				       format);
		uint32_t algorithm = t.has_algorithm ? t.algorithm : 0;
		kmip_get_enum(block, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, &algorithm);
		if (algorithm != KMIP_ALGORITHM_AES)
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "Cryptographic Algorithm %u is not supported; use AES (3)",
				       algorithm);
		if (size != 16 && size != 24 && size != 32)
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "AES key material has %zu bytes; use 16, 24 or 32", size);
		int32_t length = (int32_t)size * 8;
		kmip_get_int(block, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, &length);
		if (length != (int32_t)size * 8)
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "Cryptographic Length %d does not match %zu bytes of key material",
				       length, size);
		rc = ks_register(ctx->store, ctx->caller, KS_SYMMETRIC_KEY, KS_ALG_AES, length,
				 material, size, t.first_name[0] != '\0' ? t.first_name : NULL,
				 t.activate, id, &err);
	} else if (object_type == KMIP_OBJECT_SECRET_DATA) {
		const struct kmip_item *secret = kmip_find(payload, KMIP_TAG_SECRET_DATA);
		if (secret == NULL || secret->type != KMIP_TYPE_STRUCTURE)
			return op_fail(ctx, KMIP_REASON_MISSING_DATA,
				       "Register of Secret Data needs a Secret Data structure");
		kmip_get_enum(secret, KMIP_TAG_SECRET_DATA_TYPE, &secret_type);
		const struct kmip_item *block = kmip_find(secret, KMIP_TAG_KEY_BLOCK);
		if (read_key_block(ctx, block, &format, &material, &size) != 0)
			return -1;
		if (format != KMIP_KEY_FORMAT_OPAQUE && format != KMIP_KEY_FORMAT_RAW)
			return op_fail(ctx, KMIP_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED,
				       "secret data is accepted in Opaque (2) or Raw (1) format, not %u",
				       format);
		if (size == 0 || size > 4096)
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "secret data has %zu bytes; use 1 to 4096", size);
		rc = ks_register(ctx->store, ctx->caller, KS_SECRET_DATA, KS_ALG_NONE,
				 (int)size * 8, material, size,
				 t.first_name[0] != '\0' ? t.first_name : NULL, t.activate, id, &err);
	} else {
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "Register supports Symmetric Key (2) and Secret Data (7), not Object Type %u",
			       object_type);
	}
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, "-");
	if (store_template(ctx, id, &t) != 0)
		return -1;
	if (object_type == KMIP_OBJECT_SECRET_DATA) {
		uint8_t encoded[4] = { (uint8_t)(secret_type >> 24), (uint8_t)(secret_type >> 16),
				       (uint8_t)(secret_type >> 8), (uint8_t)secret_type };
		rc = ks_attr_add(ctx->store, ctx->caller, id, OP_HIDDEN_SECRET_DATA_TYPE, encoded,
				 sizeof(encoded), NULL, &err);
		if (rc != 0)
			return op_store_fail(ctx, rc, &err, id);
	}

	// Unlike Create, the Register response has no Object Type.
	memcpy(ctx->placeholder, id, KS_ID_MAX);
	return op_reply_id(out, id);
}

static int read_secret_type(const char *name, int index, const uint8_t *value, size_t size,
			    void *arg)
{
	(void)name;
	(void)index;
	if (size == 4)
		*(uint32_t *)arg = (uint32_t)value[0] << 24 | (uint32_t)value[1] << 16 |
				   (uint32_t)value[2] << 8 | value[3];
	return 0;
}

static void encode_key_block(struct kmip_buf *out, uint32_t format, const uint8_t *material,
			     size_t size, const struct ks_object_info *info)
{
	size_t block = kmip_enc_begin(out, KMIP_TAG_KEY_BLOCK);
	kmip_enc_enum(out, KMIP_TAG_KEY_FORMAT_TYPE, format);
	size_t value = kmip_enc_begin(out, KMIP_TAG_KEY_VALUE);
	if (format == KMIP_KEY_FORMAT_TRANSPARENT_SYMMETRIC) {
		size_t holder = kmip_enc_begin(out, KMIP_TAG_KEY_MATERIAL);
		kmip_enc_bytes(out, KMIP_TAG_KEY, material, size);
		kmip_enc_end(out, holder);
	} else {
		kmip_enc_bytes(out, KMIP_TAG_KEY_MATERIAL, material, size);
	}
	kmip_enc_end(out, value);
	if (info->type == KS_SYMMETRIC_KEY) {
		kmip_enc_enum(out, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, (uint32_t)info->algorithm);
		kmip_enc_int(out, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, info->bits);
	}
	kmip_enc_end(out, block);
}

int op_get(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out)
{
	char id[KS_ID_MAX];
	struct ks_object_info info;
	struct cf_error err = { 0 };
	uint8_t *material = NULL;
	size_t size = 0;
	uint32_t format = 0;
	int rc;

	if (op_get_id(ctx, payload, id) != 0)
		return -1;
	if (kmip_find(payload, KMIP_TAG_KEY_WRAPPING_SPECIFICATION) != NULL)
		return op_fail(ctx, KMIP_REASON_FEATURE_NOT_SUPPORTED,
			       "Get with a Key Wrapping Specification is not supported");
	if (kmip_find(payload, KMIP_TAG_KEY_COMPRESSION_TYPE) != NULL)
		return op_fail(ctx, KMIP_REASON_FEATURE_NOT_SUPPORTED,
			       "Key Compression Type is not supported");
	bool format_requested = kmip_get_enum(payload, KMIP_TAG_KEY_FORMAT_TYPE, &format) == 0;

	rc = ks_get_info(ctx->store, ctx->caller, id, &info, &err);
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, id);

	if (info.type == KS_SYMMETRIC_KEY) {
		if (!format_requested)
			format = KMIP_KEY_FORMAT_RAW;
		if (format != KMIP_KEY_FORMAT_RAW && format != KMIP_KEY_FORMAT_TRANSPARENT_SYMMETRIC)
			return op_fail(ctx, KMIP_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED,
				       "symmetric key %s is available as Raw (1) or Transparent Symmetric Key (7), not %u",
				       id, format);
	} else {
		if (!format_requested)
			format = KMIP_KEY_FORMAT_OPAQUE;
		if (format != KMIP_KEY_FORMAT_OPAQUE && format != KMIP_KEY_FORMAT_RAW)
			return op_fail(ctx, KMIP_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED,
				       "secret data %s is available as Opaque (2) or Raw (1), not %u",
				       id, format);
	}

	rc = ks_get_material(ctx->store, ctx->caller, id, &material, &size, &err);
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, id);

	uint32_t object_type = info.type == KS_SYMMETRIC_KEY ? KMIP_OBJECT_SYMMETRIC_KEY
							     : KMIP_OBJECT_SECRET_DATA;
	size_t start = kmip_enc_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	kmip_enc_enum(out, KMIP_TAG_OBJECT_TYPE, object_type);
	kmip_enc_text(out, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	if (info.type == KS_SYMMETRIC_KEY) {
		size_t key = kmip_enc_begin(out, KMIP_TAG_SYMMETRIC_KEY);
		encode_key_block(out, format, material, size, &info);
		kmip_enc_end(out, key);
	} else {
		uint32_t secret_type = KMIP_SECRET_DATA_PASSWORD;
		ks_attr_foreach(ctx->store, ctx->caller, id, OP_HIDDEN_SECRET_DATA_TYPE,
				read_secret_type, &secret_type, NULL);
		size_t secret = kmip_enc_begin(out, KMIP_TAG_SECRET_DATA);
		kmip_enc_enum(out, KMIP_TAG_SECRET_DATA_TYPE, secret_type);
		encode_key_block(out, format, material, size, &info);
		kmip_enc_end(out, secret);
	}
	kmip_enc_end(out, start);
	cf_secure_free(material);
	return 0;
}

static int read_usage_mask(const char *name, int index, const uint8_t *value, size_t size,
			   void *arg)
{
	struct kmip_item *item = NULL;

	(void)name;
	(void)index;
	if (kmip_decode(value, size, NULL, &item, NULL) == 0 && item->type == KMIP_TYPE_INTEGER)
		*(int64_t *)arg = item->v.integer;
	kmip_item_free(item);
	return 0;
}

int op_check(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out)
{
	char id[KS_ID_MAX];
	struct ks_object_info info;
	struct cf_error err = { 0 };
	int32_t wanted_mask;

	if (op_get_id(ctx, payload, id) != 0)
		return -1;
	int rc = ks_get_info(ctx->store, ctx->caller, id, &info, &err);
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, id);
	if (info.state == KS_DESTROYED || info.state == KS_DESTROYED_COMPROMISED)
		return op_fail(ctx, KMIP_REASON_ITEM_NOT_FOUND, "object %s is destroyed", id);

	if (kmip_get_int(payload, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, &wanted_mask) == 0) {
		int64_t mask = -1;
		ks_attr_foreach(ctx->store, ctx->caller, id, "Cryptographic Usage Mask",
				read_usage_mask, &mask, NULL);
		if (mask >= 0 && ((uint32_t)wanted_mask & ~(uint32_t)mask) != 0)
			return op_fail(ctx, KMIP_REASON_ILLEGAL_OPERATION,
				       "object %s has Cryptographic Usage Mask 0x%x, which does not allow 0x%x",
				       id, (unsigned)mask, (unsigned)wanted_mask);
	}
	return op_reply_id(out, id);
}

int op_activate(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out)
{
	char id[KS_ID_MAX];
	struct cf_error err = { 0 };

	if (op_get_id(ctx, payload, id) != 0)
		return -1;
	int rc = ks_activate(ctx->store, ctx->caller, id, &err);
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, id);
	return op_reply_id(out, id);
}

int op_revoke(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out)
{
	char id[KS_ID_MAX];
	struct cf_error err = { 0 };
	uint32_t code;

	if (op_get_id(ctx, payload, id) != 0)
		return -1;
	const struct kmip_item *reason = kmip_find(payload, KMIP_TAG_REVOCATION_REASON);
	if (kmip_get_enum(reason, KMIP_TAG_REVOCATION_REASON_CODE, &code) != 0)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA,
			       "Revoke needs a Revocation Reason with a Revocation Reason Code");

	// KMIP codes: 1 Unspecified, 2 Key Compromise, 3 CA Compromise, 4 to 7
	// the other non-compromise reasons (Cessation of Operation is 6).
	enum ks_revocation_reason ks_reason;
	if (code == 2 || code == 3)
		ks_reason = KS_REVOKE_KEY_COMPROMISE;
	else if (code == 1)
		ks_reason = KS_REVOKE_UNSPECIFIED;
	else if (code >= 4 && code <= 7)
		ks_reason = KS_REVOKE_CESSATION_OF_OPERATION;
	else
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "Revocation Reason Code %u is invalid; use 1 to 7", code);

	int rc = ks_revoke(ctx->store, ctx->caller, id, ks_reason, &err);
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, id);
	return op_reply_id(out, id);
}

int op_destroy(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out)
{
	char id[KS_ID_MAX];
	struct cf_error err = { 0 };

	if (op_get_id(ctx, payload, id) != 0)
		return -1;
	int rc = ks_destroy(ctx->store, ctx->caller, id, &err);
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, id);
	return op_reply_id(out, id);
}
