// SPDX-License-Identifier: Apache-2.0
// KMIP attribute operations (Get Attributes, Get Attribute List, Add,
// Modify and Delete Attribute) and Locate. Server-managed attributes come
// from the key store's object record. Client-settable ones (Name, Object
// Group, Cryptographic Usage Mask and custom "x-"/"y-" attributes) are
// stored as the TTLV encoding of their Attribute Value.

#include "service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOCATE_MAX_FILTERS 32

static const char *const stored_attributes[] = {
	"Name", "Object Group", "Cryptographic Usage Mask", "Operation Policy Name",
	"Contact Information",
};

static bool is_custom(const char *name)
{
	return strncmp(name, "x-", 2) == 0 || strncmp(name, "y-", 2) == 0;
}

bool op_attribute_is_stored(const char *name)
{
	if (is_custom(name))
		return true;
	for (size_t i = 0; i < sizeof(stored_attributes) / sizeof(stored_attributes[0]); i++) {
		if (strcmp(name, stored_attributes[i]) == 0)
			return true;
	}
	return false;
}

bool op_attribute_is_multi(const char *name)
{
	return is_custom(name) || strcmp(name, "Name") == 0 || strcmp(name, "Object Group") == 0;
}

// Checks the type of a client-settable attribute value.
static int check_value_type(struct op_context *ctx, const char *name,
			    const struct kmip_item *value)
{
	char text[KS_NAME_MAX];
	uint32_t name_type;

	if (is_custom(name))
		return 0;
	if (strcmp(name, "Name") == 0) {
		if (value->type != KMIP_TYPE_STRUCTURE ||
		    kmip_get_text(value, KMIP_TAG_NAME_VALUE, text, sizeof(text)) != 0 ||
		    kmip_get_enum(value, KMIP_TAG_NAME_TYPE, &name_type) != 0)
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "Name needs a Name Value text (under %d bytes) and a Name Type",
				       KS_NAME_MAX);
		return 0;
	}
	if (strcmp(name, "Cryptographic Usage Mask") == 0) {
		if (value->type != KMIP_TYPE_INTEGER)
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "Cryptographic Usage Mask is not an integer");
		return 0;
	}
	if (value->type != KMIP_TYPE_TEXT_STRING)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD, "%s is not a text string", name);
	return 0;
}

int op_parse_attribute(struct op_context *ctx, const struct kmip_item *attribute,
		       char name[KS_ATTR_NAME_MAX], int32_t *index,
		       const struct kmip_item **value)
{
	if (attribute->type != KMIP_TYPE_STRUCTURE)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD, "Attribute is not a structure");
	int rc = kmip_get_text(attribute, KMIP_TAG_ATTRIBUTE_NAME, name, KS_ATTR_NAME_MAX);
	if (rc != 0 || name[0] == '\0')
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "Attribute needs an Attribute Name text of 1 to %d bytes",
			       KS_ATTR_NAME_MAX - 1);
	*index = 0;
	rc = kmip_get_int(attribute, KMIP_TAG_ATTRIBUTE_INDEX, index);
	if (rc == -EBADMSG || *index < 0)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "Attribute Index of '%s' is not a non-negative integer", name);
	*value = kmip_find(attribute, KMIP_TAG_ATTRIBUTE_VALUE);
	if (*value == NULL)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA, "attribute '%s' has no Attribute Value",
			       name);
	return 0;
}

int op_store_attribute(struct op_context *ctx, const char *id, const char *name,
		       const struct kmip_item *value, int *index)
{
	struct kmip_buf encoded;
	struct cf_error err = { 0 };

	if (check_value_type(ctx, name, value) != 0)
		return -1;
	kmip_buf_init(&encoded, KS_ATTR_VALUE_MAX);
	kmip_enc_item(&encoded, value);
	if (kmip_buf_error(&encoded) != 0) {
		kmip_buf_free(&encoded);
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "value of attribute '%s' exceeds %d bytes", name, KS_ATTR_VALUE_MAX);
	}
	int rc = ks_attr_add(ctx->store, ctx->caller, id, name, encoded.data, encoded.size,
			     index, &err);
	kmip_buf_free(&encoded);
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, id);
	return 0;
}

// ---- reading attributes --------------------------------------------------------

// One attribute written into a response (name, optional index, value).
static void begin_attribute(struct kmip_buf *out, const char *name, int index, size_t *start)
{
	*start = kmip_enc_begin(out, KMIP_TAG_ATTRIBUTE);
	kmip_enc_text(out, KMIP_TAG_ATTRIBUTE_NAME, name);
	if (index > 0)
		kmip_enc_int(out, KMIP_TAG_ATTRIBUTE_INDEX, index);
}

static void put_enum_attribute(struct kmip_buf *out, const char *name, uint32_t value)
{
	size_t start;
	begin_attribute(out, name, 0, &start);
	kmip_enc_enum(out, KMIP_TAG_ATTRIBUTE_VALUE, value);
	kmip_enc_end(out, start);
}

static void put_date_attribute(struct kmip_buf *out, const char *name, int64_t value)
{
	size_t start;
	begin_attribute(out, name, 0, &start);
	kmip_enc_datetime(out, KMIP_TAG_ATTRIBUTE_VALUE, value);
	kmip_enc_end(out, start);
}

// Names of the server-managed attributes an object has, in output order.
static size_t managed_names(const struct ks_object_info *info, const char *names[12])
{
	size_t n = 0;

	names[n++] = "Unique Identifier";
	names[n++] = "Object Type";
	if (info->type == KS_SYMMETRIC_KEY) {
		names[n++] = "Cryptographic Algorithm";
		names[n++] = "Cryptographic Length";
	}
	names[n++] = "State";
	names[n++] = "Initial Date";
	if (info->activated > 0)
		names[n++] = "Activation Date";
	if (info->deactivated > 0)
		names[n++] = "Deactivation Date";
	if (info->destroyed > 0)
		names[n++] = "Destroy Date";
	return n;
}

static void put_managed(struct kmip_buf *out, const struct ks_object_info *info,
			const char *name)
{
	size_t start;

	if (strcmp(name, "Unique Identifier") == 0) {
		begin_attribute(out, name, 0, &start);
		kmip_enc_text(out, KMIP_TAG_ATTRIBUTE_VALUE, info->id);
		kmip_enc_end(out, start);
	} else if (strcmp(name, "Object Type") == 0) {
		put_enum_attribute(out, name, info->type == KS_SYMMETRIC_KEY ? KMIP_OBJECT_SYMMETRIC_KEY
									     : KMIP_OBJECT_SECRET_DATA);
	} else if (strcmp(name, "Cryptographic Algorithm") == 0) {
		put_enum_attribute(out, name, (uint32_t)info->algorithm);
	} else if (strcmp(name, "Cryptographic Length") == 0) {
		begin_attribute(out, name, 0, &start);
		kmip_enc_int(out, KMIP_TAG_ATTRIBUTE_VALUE, info->bits);
		kmip_enc_end(out, start);
	} else if (strcmp(name, "State") == 0) {
		put_enum_attribute(out, name, (uint32_t)info->state);
	} else if (strcmp(name, "Initial Date") == 0) {
		put_date_attribute(out, name, info->created);
	} else if (strcmp(name, "Activation Date") == 0) {
		put_date_attribute(out, name, info->activated);
	} else if (strcmp(name, "Deactivation Date") == 0) {
		put_date_attribute(out, name, info->deactivated);
	} else if (strcmp(name, "Destroy Date") == 0) {
		put_date_attribute(out, name, info->destroyed);
	}
}

struct attribute_output {
	struct kmip_buf *out;
	bool names_only;
	size_t count;
	bool has_name;
};

static int output_stored(const char *name, int index, const uint8_t *value, size_t size,
			 void *arg)
{
	struct attribute_output *o = arg;

	if (name[0] == '_')
		return 0;
	if (strcmp(name, "Name") == 0)
		o->has_name = true;
	if (o->names_only) {
		if (index == 0)
			kmip_enc_text(o->out, KMIP_TAG_ATTRIBUTE_NAME, name);
	} else {
		size_t start;
		begin_attribute(o->out, name, index, &start);
		kmip_enc_raw(o->out, value, size);
		kmip_enc_end(o->out, start);
	}
	o->count++;
	return 0;
}

// Writes the key store's own name as a Name attribute for objects that
// were created with a name but have no Name in the attribute table.
static void output_store_name(struct attribute_output *o, const struct ks_object_info *info)
{
	if (o->has_name || info->name[0] == '\0')
		return;
	if (o->names_only) {
		kmip_enc_text(o->out, KMIP_TAG_ATTRIBUTE_NAME, "Name");
		return;
	}
	size_t start;
	begin_attribute(o->out, "Name", 0, &start);
	size_t value = kmip_enc_begin(o->out, KMIP_TAG_ATTRIBUTE_VALUE);
	kmip_enc_text(o->out, KMIP_TAG_NAME_VALUE, info->name);
	kmip_enc_enum(o->out, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_TEXT);
	kmip_enc_end(o->out, value);
	kmip_enc_end(o->out, start);
}

static int write_attributes(struct op_context *ctx, const struct kmip_item *payload,
			    const char *id, bool names_only, struct kmip_buf *out)
{
	struct ks_object_info info;
	struct cf_error err = { 0 };
	const char *managed[12];

	int rc = ks_get_info(ctx->store, ctx->caller, id, &info, &err);
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, id);
	size_t managed_count = managed_names(&info, managed);

	size_t start = kmip_enc_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	kmip_enc_text(out, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	struct attribute_output o = { .out = out, .names_only = names_only };

	const struct kmip_item *requested = names_only ? NULL
						       : kmip_find(payload, KMIP_TAG_ATTRIBUTE_NAME);
	if (requested == NULL) {
		for (size_t i = 0; i < managed_count; i++) {
			if (names_only)
				kmip_enc_text(out, KMIP_TAG_ATTRIBUTE_NAME, managed[i]);
			else
				put_managed(out, &info, managed[i]);
		}
		rc = ks_attr_foreach(ctx->store, ctx->caller, id, NULL, output_stored, &o, &err);
		if (rc != 0)
			return op_store_fail(ctx, rc, &err, id);
		output_store_name(&o, &info);
		kmip_enc_end(out, start);
		return 0;
	}

	for (; requested != NULL;
	     requested = kmip_find_next(payload, KMIP_TAG_ATTRIBUTE_NAME, requested)) {
		char name[KS_ATTR_NAME_MAX];
		if (requested->type != KMIP_TYPE_TEXT_STRING ||
		    requested->v.bytes.size >= sizeof(name) ||
		    memchr(requested->v.bytes.data, 0, requested->v.bytes.size) != NULL)
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "Attribute Name is not a valid text string");
		memcpy(name, requested->v.bytes.data, requested->v.bytes.size);
		name[requested->v.bytes.size] = '\0';
		if (name[0] == '_')
			continue;

		for (size_t i = 0; i < managed_count; i++) {
			if (strcmp(managed[i], name) == 0)
				put_managed(out, &info, name);
		}
		rc = ks_attr_foreach(ctx->store, ctx->caller, id, name, output_stored, &o, &err);
		if (rc != 0)
			return op_store_fail(ctx, rc, &err, id);
		if (strcmp(name, "Name") == 0)
			output_store_name(&o, &info);
	}
	kmip_enc_end(out, start);
	return 0;
}

int op_get_attributes(struct op_context *ctx, const struct kmip_item *payload,
		      struct kmip_buf *out)
{
	char id[KS_ID_MAX];
	if (op_get_id(ctx, payload, id) != 0)
		return -1;
	return write_attributes(ctx, payload, id, false, out);
}

int op_get_attribute_list(struct op_context *ctx, const struct kmip_item *payload,
			  struct kmip_buf *out)
{
	char id[KS_ID_MAX];
	if (op_get_id(ctx, payload, id) != 0)
		return -1;
	return write_attributes(ctx, payload, id, true, out);
}

// ---- changing attributes -------------------------------------------------------

static int count_values(const char *name, int index, const uint8_t *value, size_t size,
			void *arg)
{
	(void)name;
	(void)index;
	(void)value;
	(void)size;
	(*(int *)arg)++;
	return 0;
}

static int reply_attribute(struct kmip_buf *out, const char *id, const char *name, int index,
			   const struct kmip_item *value)
{
	size_t start = kmip_enc_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	kmip_enc_text(out, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	size_t attribute;
	begin_attribute(out, name, index, &attribute);
	kmip_enc_item(out, value);
	kmip_enc_end(out, attribute);
	kmip_enc_end(out, start);
	return 0;
}

static int parse_change(struct op_context *ctx, const struct kmip_item *payload,
			char id[KS_ID_MAX], char name[KS_ATTR_NAME_MAX], int32_t *index,
			const struct kmip_item **value)
{
	if (op_get_id(ctx, payload, id) != 0)
		return -1;
	const struct kmip_item *attribute = kmip_find(payload, KMIP_TAG_ATTRIBUTE);
	if (attribute == NULL)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA, "the request has no Attribute");
	if (op_parse_attribute(ctx, attribute, name, index, value) != 0)
		return -1;
	if (!op_attribute_is_stored(name))
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "attribute '%s' is managed by the server and cannot be changed", name);
	return 0;
}

int op_add_attribute(struct op_context *ctx, const struct kmip_item *payload,
		     struct kmip_buf *out)
{
	char id[KS_ID_MAX], name[KS_ATTR_NAME_MAX];
	int32_t index;
	const struct kmip_item *value;
	struct cf_error err = { 0 };

	if (parse_change(ctx, payload, id, name, &index, &value) != 0)
		return -1;
	if (!op_attribute_is_multi(name)) {
		int existing = 0;
		int rc = ks_attr_foreach(ctx->store, ctx->caller, id, name, count_values,
					 &existing, &err);
		if (rc != 0)
			return op_store_fail(ctx, rc, &err, id);
		if (existing > 0)
			return op_fail(ctx, KMIP_REASON_ILLEGAL_OPERATION,
				       "object %s already has attribute '%s'; use Modify Attribute",
				       id, name);
	}
	int added;
	if (op_store_attribute(ctx, id, name, value, &added) != 0)
		return -1;
	return reply_attribute(out, id, name, added, value);
}

int op_modify_attribute(struct op_context *ctx, const struct kmip_item *payload,
			struct kmip_buf *out)
{
	char id[KS_ID_MAX], name[KS_ATTR_NAME_MAX];
	int32_t index;
	const struct kmip_item *value;
	struct kmip_buf encoded;
	struct cf_error err = { 0 };

	if (parse_change(ctx, payload, id, name, &index, &value) != 0)
		return -1;
	if (check_value_type(ctx, name, value) != 0)
		return -1;
	kmip_buf_init(&encoded, KS_ATTR_VALUE_MAX);
	kmip_enc_item(&encoded, value);
	int rc = kmip_buf_error(&encoded);
	if (rc == 0)
		rc = ks_attr_modify(ctx->store, ctx->caller, id, name, index, encoded.data,
				    encoded.size, &err);
	kmip_buf_free(&encoded);
	if (rc == -EMSGSIZE)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD, "value of attribute '%s' exceeds %d bytes",
			       name, KS_ATTR_VALUE_MAX);
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, id);
	return reply_attribute(out, id, name, index, value);
}

struct found_value {
	int index;
	struct kmip_buf *copy;
};

static int copy_value(const char *name, int index, const uint8_t *value, size_t size, void *arg)
{
	struct found_value *f = arg;
	(void)name;
	if (index != f->index)
		return 0;
	kmip_enc_raw(f->copy, value, size);
	return 1;
}

int op_delete_attribute(struct op_context *ctx, const struct kmip_item *payload,
			struct kmip_buf *out)
{
	char id[KS_ID_MAX], name[KS_ATTR_NAME_MAX];
	int32_t index = 0;
	struct cf_error err = { 0 };

	if (op_get_id(ctx, payload, id) != 0)
		return -1;
	int rc = kmip_get_text(payload, KMIP_TAG_ATTRIBUTE_NAME, name, sizeof(name));
	if (rc != 0)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA,
			       "Delete Attribute needs an Attribute Name text");
	if (kmip_get_int(payload, KMIP_TAG_ATTRIBUTE_INDEX, &index) == -EBADMSG || index < 0)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "Attribute Index is not a non-negative integer");
	if (!op_attribute_is_stored(name))
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "attribute '%s' is managed by the server and cannot be deleted", name);

	// The response carries the deleted value, so read it first.
	struct kmip_buf copy;
	kmip_buf_init(&copy, KS_ATTR_VALUE_MAX + KMIP_HEADER_SIZE);
	struct found_value f = { index, &copy };
	rc = ks_attr_foreach(ctx->store, ctx->caller, id, name, copy_value, &f, &err);
	if (rc == 1)
		rc = ks_attr_delete(ctx->store, ctx->caller, id, name, index, &err);
	else if (rc == 0)
		rc = cf_error_set(&err, -ENOENT, "object %s has no attribute '%s' at index %d", id,
				  name, index);
	if (rc != 0) {
		kmip_buf_free(&copy);
		return op_store_fail(ctx, rc, &err, id);
	}

	size_t start = kmip_enc_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	kmip_enc_text(out, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	size_t attribute;
	begin_attribute(out, name, index, &attribute);
	kmip_enc_raw(out, copy.data, copy.size);
	kmip_enc_end(out, attribute);
	kmip_enc_end(out, start);
	kmip_buf_free(&copy);
	return 0;
}

// ---- Locate ----------------------------------------------------------------

struct locate_filter {
	char name[KS_ATTR_NAME_MAX];
	const struct kmip_item *value;
	uint8_t *encoded;         // stored attributes: the value's TTLV encoding
	size_t encoded_size;
	char text[KS_NAME_MAX];   // Name filters: the Name Value
};

struct locate_state {
	struct op_context *ctx;
	struct locate_filter filters[LOCATE_MAX_FILTERS];
	size_t filter_count;
	int32_t max_items;        // 0 for no limit
	int32_t offset;
	int32_t matched;
	int32_t returned;
	struct kmip_buf *out;
	int error;
};

static bool match_managed(const struct locate_filter *f, const struct ks_object_info *info,
			  bool *handled)
{
	const struct kmip_item *v = f->value;

	*handled = true;
	if (strcmp(f->name, "Object Type") == 0) {
		uint32_t type = info->type == KS_SYMMETRIC_KEY ? KMIP_OBJECT_SYMMETRIC_KEY
							       : KMIP_OBJECT_SECRET_DATA;
		return v->type == KMIP_TYPE_ENUMERATION && v->v.enumeration == type;
	}
	if (strcmp(f->name, "State") == 0)
		return v->type == KMIP_TYPE_ENUMERATION && v->v.enumeration == (uint32_t)info->state;
	if (strcmp(f->name, "Cryptographic Algorithm") == 0)
		return v->type == KMIP_TYPE_ENUMERATION &&
		       v->v.enumeration == (uint32_t)info->algorithm;
	if (strcmp(f->name, "Cryptographic Length") == 0)
		return v->type == KMIP_TYPE_INTEGER && v->v.integer == info->bits;
	if (strcmp(f->name, "Unique Identifier") == 0)
		return v->type == KMIP_TYPE_TEXT_STRING && v->v.bytes.size == strlen(info->id) &&
		       memcmp(v->v.bytes.data, info->id, v->v.bytes.size) == 0;
	*handled = false;
	return false;
}

static int visit_object(const struct ks_object_info *info, void *arg)
{
	struct locate_state *s = arg;

	for (size_t i = 0; i < s->filter_count; i++) {
		const struct locate_filter *f = &s->filters[i];
		bool handled;
		bool ok = match_managed(f, info, &handled);
		if (!handled) {
			int rc = ks_attr_match(s->ctx->store, info->id, f->name, f->encoded,
					       f->encoded_size);
			if (rc < 0) {
				s->error = rc;
				return 1;
			}
			ok = rc == 1;
			if (!ok && strcmp(f->name, "Name") == 0)
				ok = strcmp(f->text, info->name) == 0;
		}
		if (!ok)
			return 0;
	}

	s->matched++;
	if (s->matched <= s->offset)
		return 0;
	if (s->max_items > 0 && s->returned >= s->max_items)
		return 0;
	kmip_enc_text(s->out, KMIP_TAG_UNIQUE_IDENTIFIER, info->id);
	if (s->returned == 0)
		memcpy(s->ctx->placeholder, info->id, KS_ID_MAX);
	s->returned++;
	return 0;
}

static int parse_filters(struct op_context *ctx, const struct kmip_item *payload,
			 struct locate_state *s)
{
	const struct kmip_item *attribute = NULL;

	while ((attribute = kmip_find_next(payload, KMIP_TAG_ATTRIBUTE, attribute)) != NULL) {
		if (s->filter_count == LOCATE_MAX_FILTERS)
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "Locate accepts at most %d attributes", LOCATE_MAX_FILTERS);
		struct locate_filter *f = &s->filters[s->filter_count];
		int32_t index;
		if (op_parse_attribute(ctx, attribute, f->name, &index, &f->value) != 0)
			return -1;
		s->filter_count++;

		bool handled;
		struct ks_object_info probe = { 0 };
		match_managed(f, &probe, &handled);
		if (handled)
			continue;
		if (!op_attribute_is_stored(f->name))
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "Locate cannot filter on attribute '%s'", f->name);
		if (strcmp(f->name, "Name") == 0 &&
		    kmip_get_text(f->value, KMIP_TAG_NAME_VALUE, f->text, sizeof(f->text)) != 0)
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "Name filter needs a Name Value text string");

		struct kmip_buf encoded;
		kmip_buf_init(&encoded, KS_ATTR_VALUE_MAX);
		kmip_enc_item(&encoded, f->value);
		if (kmip_buf_error(&encoded) != 0) {
			kmip_buf_free(&encoded);
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "value of filter '%s' exceeds %d bytes", f->name,
				       KS_ATTR_VALUE_MAX);
		}
		f->encoded = encoded.data;
		f->encoded_size = encoded.size;
	}
	return 0;
}

static void free_filters(struct locate_state *s)
{
	for (size_t i = 0; i < s->filter_count; i++) {
		struct kmip_buf b = { .data = s->filters[i].encoded,
				      .capacity = s->filters[i].encoded_size };
		kmip_buf_free(&b);
	}
}

int op_locate(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out)
{
	struct locate_state *s = calloc(1, sizeof(*s));
	struct cf_error err = { 0 };
	int rc;

	if (s == NULL)
		return op_fail(ctx, KMIP_REASON_GENERAL_FAILURE, "out of memory");
	s->ctx = ctx;
	s->out = out;
	if (kmip_get_int(payload, KMIP_TAG_MAXIMUM_ITEMS, &s->max_items) == -EBADMSG ||
	    s->max_items < 0) {
		rc = op_fail(ctx, KMIP_REASON_INVALID_FIELD, "Maximum Items is not a non-negative integer");
		goto out;
	}
	if (kmip_get_int(payload, KMIP_TAG_OFFSET_ITEMS, &s->offset) == -EBADMSG || s->offset < 0) {
		rc = op_fail(ctx, KMIP_REASON_INVALID_FIELD, "Offset Items is not a non-negative integer");
		goto out;
	}
	rc = parse_filters(ctx, payload, s);
	if (rc != 0)
		goto out;

	size_t start = kmip_enc_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	// Located Items (KMIP 1.3 and later) precedes the identifiers, but its
	// value is known only after the walk, so it is patched in afterwards.
	bool located_items = ctx->version.major > 1 || ctx->version.minor >= 3;
	size_t located_at = out->size;
	if (located_items)
		kmip_enc_int(out, KMIP_TAG_LOCATED_ITEMS, 0);

	rc = ks_foreach(ctx->store, ctx->caller, visit_object, s, &err);
	if (s->error != 0) {
		rc = op_store_fail(ctx, s->error, &err, "-");
		goto out;
	}
	if (rc != 0) {
		rc = op_store_fail(ctx, rc, &err, "-");
		goto out;
	}
	if (located_items && kmip_buf_error(out) == 0) {
		uint8_t *p = out->data + located_at + KMIP_HEADER_SIZE;
		uint32_t n = (uint32_t)s->matched;
		p[0] = (uint8_t)(n >> 24);
		p[1] = (uint8_t)(n >> 16);
		p[2] = (uint8_t)(n >> 8);
		p[3] = (uint8_t)n;
	}
	kmip_enc_end(out, start);

out:
	free_filters(s);
	free(s);
	return rc;
}
