// SPDX-License-Identifier: Apache-2.0
// TTLV (tag, type, length, value) encoding and decoding for KMIP. Every item
// is a 3-byte tag, a 1-byte type, a 4-byte big-endian length and a value
// padded with zeros to a multiple of 8 bytes. The decoder reads only through
// struct ttlv_reader, which checks the remaining length before every fetch.

#include <coffer/kmip.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ttlv_reader {
	const uint8_t *pos;
	size_t left;
};

static int reader_take(struct ttlv_reader *r, size_t size, const uint8_t **out)
{
	if (size > r->left)
		return -EBADMSG;
	*out = r->pos;
	r->pos += size;
	r->left -= size;
	return 0;
}

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t load_be64(const uint8_t *p)
{
	return (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
}

static size_t padded(size_t length)
{
	return (length + 7) & ~(size_t)7;
}

static bool all_zero(const uint8_t *p, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		if (p[i] != 0)
			return false;
	}
	return true;
}

struct decoder {
	const struct kmip_limits *limits;
	struct cf_error *err;
};

static int decode_item(struct decoder *d, struct ttlv_reader *r, unsigned depth,
		       struct kmip_item *item);

static void free_children(struct kmip_item *item)
{
	if (item->type != KMIP_TYPE_STRUCTURE)
		return;
	for (size_t i = 0; i < item->v.structure.count; i++)
		free_children(&item->v.structure.items[i]);
	free(item->v.structure.items);
	item->v.structure.items = NULL;
	item->v.structure.count = 0;
}

// Counts the direct children of a structure value by walking their
// headers, so the child array is allocated once at its final size.
static int count_children(const uint8_t *value, size_t size, size_t *count)
{
	struct ttlv_reader r = { value, size };
	size_t n = 0;

	while (r.left > 0) {
		const uint8_t *header;
		if (reader_take(&r, KMIP_HEADER_SIZE, &header) != 0)
			return -EBADMSG;
		uint32_t length = load_be32(header + 4);
		uint8_t type = header[3];
		size_t body = type == KMIP_TYPE_STRUCTURE ? length : padded(length);
		const uint8_t *skipped;
		if (reader_take(&r, body, &skipped) != 0)
			return -EBADMSG;
		n++;
	}
	*count = n;
	return 0;
}

static int decode_structure(struct decoder *d, const uint8_t *value, uint32_t length,
			    unsigned depth, struct kmip_item *item)
{
	size_t count;

	if (length % 8 != 0)
		return cf_error_set(d->err, -EBADMSG,
				    "structure 0x%06x has length %u, not a multiple of 8",
				    item->tag, length);
	if (count_children(value, length, &count) != 0)
		return cf_error_set(d->err, -EBADMSG,
				    "structure 0x%06x: a child runs past the end of its parent",
				    item->tag);
	if (count == 0)
		return 0;

	item->v.structure.items = calloc(count, sizeof(struct kmip_item));
	if (item->v.structure.items == NULL)
		return cf_error_set(d->err, -ENOMEM, "out of memory decoding a KMIP message");
	item->v.structure.count = count;

	struct ttlv_reader inner = { value, length };
	for (size_t i = 0; i < count; i++) {
		int rc = decode_item(d, &inner, depth + 1, &item->v.structure.items[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int check_fixed_length(struct decoder *d, uint32_t tag, uint8_t type,
			      uint32_t length, uint32_t expected)
{
	if (length == expected)
		return 0;
	return cf_error_set(d->err, -EBADMSG,
			    "item 0x%06x of type %u has length %u, expected %u",
			    tag, type, length, expected);
}

static int decode_item(struct decoder *d, struct ttlv_reader *r, unsigned depth,
		       struct kmip_item *item)
{
	const uint8_t *header, *value;

	if (depth > d->limits->max_depth)
		return cf_error_set(d->err, -ELOOP, "message nests deeper than %u levels",
				    d->limits->max_depth);
	if (reader_take(r, KMIP_HEADER_SIZE, &header) != 0)
		return cf_error_set(d->err, -EBADMSG, "truncated item header");

	item->tag = (uint32_t)header[0] << 16 | (uint32_t)header[1] << 8 | header[2];
	item->type = header[3];
	uint32_t length = load_be32(header + 4);
	size_t body = item->type == KMIP_TYPE_STRUCTURE ? length : padded(length);
	if (reader_take(r, body, &value) != 0)
		return cf_error_set(d->err, -EBADMSG,
				    "item 0x%06x declares %u bytes but only %zu remain",
				    item->tag, length, r->left);
	if ((item->tag >> 16) != 0x42 && (item->tag >> 16) != 0x54)
		return cf_error_set(d->err, -EBADMSG,
				    "tag 0x%06x is neither a KMIP tag (0x42xxxx) nor an extension tag (0x54xxxx)",
				    item->tag);
	if (!all_zero(value + length, body - length))
		return cf_error_set(d->err, -EBADMSG, "item 0x%06x has non-zero padding",
				    item->tag);

	int rc;
	switch (item->type) {
	case KMIP_TYPE_STRUCTURE:
		return decode_structure(d, value, length, depth, item);
	case KMIP_TYPE_INTEGER:
		rc = check_fixed_length(d, item->tag, item->type, length, 4);
		if (rc == 0)
			item->v.integer = (int32_t)load_be32(value);
		return rc;
	case KMIP_TYPE_ENUMERATION:
	case KMIP_TYPE_INTERVAL:
		rc = check_fixed_length(d, item->tag, item->type, length, 4);
		if (rc == 0)
			item->v.enumeration = load_be32(value);
		return rc;
	case KMIP_TYPE_LONG_INTEGER:
	case KMIP_TYPE_DATE_TIME:
		rc = check_fixed_length(d, item->tag, item->type, length, 8);
		if (rc == 0)
			item->v.long_integer = (int64_t)load_be64(value);
		return rc;
	case KMIP_TYPE_BOOLEAN:
		rc = check_fixed_length(d, item->tag, item->type, length, 8);
		if (rc != 0)
			return rc;
		uint64_t flag = load_be64(value);
		if (flag > 1)
			return cf_error_set(d->err, -EBADMSG,
					    "boolean 0x%06x has value %llu, expected 0 or 1",
					    item->tag, (unsigned long long)flag);
		item->v.boolean = flag == 1;
		return 0;
	case KMIP_TYPE_BIG_INTEGER:
		if (length == 0 || length % 8 != 0)
			return cf_error_set(d->err, -EBADMSG,
					    "big integer 0x%06x has length %u, not a positive multiple of 8",
					    item->tag, length);
		item->v.bytes.data = value;
		item->v.bytes.size = length;
		return 0;
	case KMIP_TYPE_TEXT_STRING:
	case KMIP_TYPE_BYTE_STRING:
		item->v.bytes.data = value;
		item->v.bytes.size = length;
		return 0;
	default:
		return cf_error_set(d->err, -EBADMSG, "item 0x%06x has unknown type 0x%02x",
				    item->tag, item->type);
	}
}

int kmip_decode(const uint8_t *data, size_t size, const struct kmip_limits *limits,
		struct kmip_item **root, struct cf_error *err)
{
	static const struct kmip_limits defaults = {
		KMIP_DEFAULT_MAX_MESSAGE, KMIP_DEFAULT_MAX_DEPTH,
	};
	struct decoder d = { limits != NULL ? limits : &defaults, err };

	*root = NULL;
	if (size > d.limits->max_message)
		return cf_error_set(err, -EMSGSIZE, "message of %zu bytes exceeds the maximum of %zu",
				    size, d.limits->max_message);

	struct kmip_item *item = calloc(1, sizeof(*item));
	if (item == NULL)
		return cf_error_set(err, -ENOMEM, "out of memory decoding a KMIP message");

	struct ttlv_reader r = { data, size };
	int rc = decode_item(&d, &r, 1, item);
	if (rc == 0 && r.left != 0)
		rc = cf_error_set(err, -EBADMSG, "%zu bytes follow the end of the message", r.left);
	if (rc != 0) {
		kmip_item_free(item);
		return rc;
	}
	*root = item;
	return 0;
}

void kmip_item_free(struct kmip_item *root)
{
	if (root == NULL)
		return;
	free_children(root);
	free(root);
}

int kmip_frame_size(const uint8_t header[KMIP_HEADER_SIZE], uint32_t expected_tag,
		    size_t max_message, size_t *total, struct cf_error *err)
{
	uint32_t tag = (uint32_t)header[0] << 16 | (uint32_t)header[1] << 8 | header[2];
	uint32_t length = load_be32(header + 4);

	if (tag != expected_tag || header[3] != KMIP_TYPE_STRUCTURE)
		return cf_error_set(err, -EBADMSG,
				    "message starts with tag 0x%06x type 0x%02x, expected structure 0x%06x",
				    tag, header[3], expected_tag);
	if ((uint64_t)length + KMIP_HEADER_SIZE > max_message)
		return cf_error_set(err, -EMSGSIZE,
				    "message length %u exceeds the maximum of %zu bytes",
				    length, max_message);
	*total = (size_t)length + KMIP_HEADER_SIZE;
	return 0;
}

// ---- lookups -----------------------------------------------------------------

const struct kmip_item *kmip_find_next(const struct kmip_item *structure, uint32_t tag,
				       const struct kmip_item *after)
{
	if (structure == NULL || structure->type != KMIP_TYPE_STRUCTURE)
		return NULL;

	const struct kmip_item *items = structure->v.structure.items;
	size_t start = after != NULL ? (size_t)(after - items) + 1 : 0;
	for (size_t i = start; i < structure->v.structure.count; i++) {
		if (items[i].tag == tag)
			return &items[i];
	}
	return NULL;
}

const struct kmip_item *kmip_find(const struct kmip_item *structure, uint32_t tag)
{
	return kmip_find_next(structure, tag, NULL);
}

static const struct kmip_item *find_typed(const struct kmip_item *structure, uint32_t tag,
					  enum kmip_type type, int *rc)
{
	const struct kmip_item *item = kmip_find(structure, tag);
	if (item == NULL) {
		*rc = -ENOENT;
		return NULL;
	}
	if (item->type != type) {
		*rc = -EBADMSG;
		return NULL;
	}
	*rc = 0;
	return item;
}

int kmip_get_int(const struct kmip_item *structure, uint32_t tag, int32_t *value)
{
	int rc;
	const struct kmip_item *item = find_typed(structure, tag, KMIP_TYPE_INTEGER, &rc);
	if (item != NULL)
		*value = item->v.integer;
	return rc;
}

int kmip_get_enum(const struct kmip_item *structure, uint32_t tag, uint32_t *value)
{
	int rc;
	const struct kmip_item *item = find_typed(structure, tag, KMIP_TYPE_ENUMERATION, &rc);
	if (item != NULL)
		*value = item->v.enumeration;
	return rc;
}

int kmip_get_long(const struct kmip_item *structure, uint32_t tag, int64_t *value)
{
	int rc;
	const struct kmip_item *item = find_typed(structure, tag, KMIP_TYPE_LONG_INTEGER, &rc);
	if (item != NULL)
		*value = item->v.long_integer;
	return rc;
}

int kmip_get_datetime(const struct kmip_item *structure, uint32_t tag, int64_t *value)
{
	int rc;
	const struct kmip_item *item = find_typed(structure, tag, KMIP_TYPE_DATE_TIME, &rc);
	if (item != NULL)
		*value = item->v.long_integer;
	return rc;
}

int kmip_get_bool(const struct kmip_item *structure, uint32_t tag, bool *value)
{
	int rc;
	const struct kmip_item *item = find_typed(structure, tag, KMIP_TYPE_BOOLEAN, &rc);
	if (item != NULL)
		*value = item->v.boolean;
	return rc;
}

int kmip_get_text(const struct kmip_item *structure, uint32_t tag, char *text, size_t size)
{
	int rc;
	const struct kmip_item *item = find_typed(structure, tag, KMIP_TYPE_TEXT_STRING, &rc);
	if (item == NULL)
		return rc;
	if (item->v.bytes.size >= size)
		return -ENAMETOOLONG;
	if (memchr(item->v.bytes.data, 0, item->v.bytes.size) != NULL)
		return -EBADMSG;
	memcpy(text, item->v.bytes.data, item->v.bytes.size);
	text[item->v.bytes.size] = '\0';
	return 0;
}

int kmip_get_bytes(const struct kmip_item *structure, uint32_t tag,
		   const uint8_t **data, size_t *size)
{
	int rc;
	const struct kmip_item *item = find_typed(structure, tag, KMIP_TYPE_BYTE_STRING, &rc);
	if (item == NULL)
		return rc;
	*data = item->v.bytes.data;
	*size = item->v.bytes.size;
	return 0;
}

// ---- encoding ----------------------------------------------------------------

void kmip_buf_init(struct kmip_buf *buf, size_t max_size)
{
	memset(buf, 0, sizeof(*buf));
	buf->max_size = max_size != 0 ? max_size : KMIP_DEFAULT_MAX_MESSAGE;
}

void kmip_buf_free(struct kmip_buf *buf)
{
	if (buf->data != NULL) {
		cf_wipe(buf->data, buf->capacity);
		free(buf->data);
	}
	buf->data = NULL;
	buf->size = 0;
	buf->capacity = 0;
	buf->error = 0;
}

void kmip_buf_reset(struct kmip_buf *buf)
{
	if (buf->data != NULL)
		cf_wipe(buf->data, buf->size);
	buf->size = 0;
	buf->error = 0;
}

int kmip_buf_error(const struct kmip_buf *buf)
{
	return buf->error;
}

// Reserves size bytes at the end and returns where they start, or NULL
// (recording the error) when the buffer would exceed its maximum.
static uint8_t *buf_extend(struct kmip_buf *buf, size_t size)
{
	if (buf->error != 0)
		return NULL;
	if (size > buf->max_size - buf->size) {
		buf->error = -EMSGSIZE;
		return NULL;
	}
	if (buf->size + size > buf->capacity) {
		size_t capacity = buf->capacity != 0 ? buf->capacity : 512;
		while (capacity < buf->size + size)
			capacity *= 2;
		uint8_t *grown = malloc(capacity);
		if (grown == NULL) {
			buf->error = -ENOMEM;
			return NULL;
		}
		// Copies instead of realloc so the old block can be wiped.
		if (buf->data != NULL) {
			memcpy(grown, buf->data, buf->size);
			cf_wipe(buf->data, buf->capacity);
			free(buf->data);
		}
		buf->data = grown;
		buf->capacity = capacity;
	}
	uint8_t *start = buf->data + buf->size;
	buf->size += size;
	return start;
}

static void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
	store_be32(p, (uint32_t)(v >> 32));
	store_be32(p + 4, (uint32_t)v);
}

// Appends a header and a zero-filled, padded value area; returns the value.
static uint8_t *put_item(struct kmip_buf *buf, uint32_t tag, enum kmip_type type,
			 size_t length)
{
	if (length > UINT32_MAX) {
		if (buf->error == 0)
			buf->error = -EMSGSIZE;
		return NULL;
	}
	uint8_t *p = buf_extend(buf, KMIP_HEADER_SIZE + padded(length));
	if (p == NULL)
		return NULL;
	p[0] = (uint8_t)(tag >> 16);
	p[1] = (uint8_t)(tag >> 8);
	p[2] = (uint8_t)tag;
	p[3] = (uint8_t)type;
	store_be32(p + 4, (uint32_t)length);
	memset(p + KMIP_HEADER_SIZE, 0, padded(length));
	return p + KMIP_HEADER_SIZE;
}

size_t kmip_enc_begin(struct kmip_buf *buf, uint32_t tag)
{
	size_t offset = buf->size;
	put_item(buf, tag, KMIP_TYPE_STRUCTURE, 0);
	return offset;
}

void kmip_enc_end(struct kmip_buf *buf, size_t offset)
{
	if (buf->error != 0)
		return;
	size_t length = buf->size - offset - KMIP_HEADER_SIZE;
	if (length > UINT32_MAX) {
		buf->error = -EMSGSIZE;
		return;
	}
	store_be32(buf->data + offset + 4, (uint32_t)length);
}

void kmip_enc_int(struct kmip_buf *buf, uint32_t tag, int32_t value)
{
	uint8_t *p = put_item(buf, tag, KMIP_TYPE_INTEGER, 4);
	if (p != NULL)
		store_be32(p, (uint32_t)value);
}

void kmip_enc_long(struct kmip_buf *buf, uint32_t tag, int64_t value)
{
	uint8_t *p = put_item(buf, tag, KMIP_TYPE_LONG_INTEGER, 8);
	if (p != NULL)
		store_be64(p, (uint64_t)value);
}

void kmip_enc_bigint(struct kmip_buf *buf, uint32_t tag, const uint8_t *value, size_t size)
{
	size_t length = padded(size != 0 ? size : 1);
	uint8_t *p = put_item(buf, tag, KMIP_TYPE_BIG_INTEGER, length);
	if (p == NULL)
		return;
	uint8_t fill = size > 0 && (value[0] & 0x80) ? 0xff : 0x00;
	memset(p, fill, length - size);
	if (size > 0)
		memcpy(p + length - size, value, size);
}

void kmip_enc_enum(struct kmip_buf *buf, uint32_t tag, uint32_t value)
{
	uint8_t *p = put_item(buf, tag, KMIP_TYPE_ENUMERATION, 4);
	if (p != NULL)
		store_be32(p, value);
}

void kmip_enc_bool(struct kmip_buf *buf, uint32_t tag, bool value)
{
	uint8_t *p = put_item(buf, tag, KMIP_TYPE_BOOLEAN, 8);
	if (p != NULL)
		store_be64(p, value ? 1 : 0);
}

void kmip_enc_text_n(struct kmip_buf *buf, uint32_t tag, const char *text, size_t size)
{
	uint8_t *p = put_item(buf, tag, KMIP_TYPE_TEXT_STRING, size);
	if (p != NULL && size > 0)
		memcpy(p, text, size);
}

void kmip_enc_text(struct kmip_buf *buf, uint32_t tag, const char *text)
{
	kmip_enc_text_n(buf, tag, text, strlen(text));
}

void kmip_enc_bytes(struct kmip_buf *buf, uint32_t tag, const uint8_t *data, size_t size)
{
	uint8_t *p = put_item(buf, tag, KMIP_TYPE_BYTE_STRING, size);
	if (p != NULL && size > 0)
		memcpy(p, data, size);
}

void kmip_enc_datetime(struct kmip_buf *buf, uint32_t tag, int64_t seconds)
{
	uint8_t *p = put_item(buf, tag, KMIP_TYPE_DATE_TIME, 8);
	if (p != NULL)
		store_be64(p, (uint64_t)seconds);
}

void kmip_enc_interval(struct kmip_buf *buf, uint32_t tag, uint32_t seconds)
{
	uint8_t *p = put_item(buf, tag, KMIP_TYPE_INTERVAL, 4);
	if (p != NULL)
		store_be32(p, seconds);
}

void kmip_enc_item(struct kmip_buf *buf, const struct kmip_item *item)
{
	switch (item->type) {
	case KMIP_TYPE_STRUCTURE: {
		size_t offset = kmip_enc_begin(buf, item->tag);
		for (size_t i = 0; i < item->v.structure.count; i++)
			kmip_enc_item(buf, &item->v.structure.items[i]);
		kmip_enc_end(buf, offset);
		return;
	}
	case KMIP_TYPE_INTEGER:
		kmip_enc_int(buf, item->tag, item->v.integer);
		return;
	case KMIP_TYPE_LONG_INTEGER:
		kmip_enc_long(buf, item->tag, item->v.long_integer);
		return;
	case KMIP_TYPE_DATE_TIME:
		kmip_enc_datetime(buf, item->tag, item->v.long_integer);
		return;
	case KMIP_TYPE_ENUMERATION:
		kmip_enc_enum(buf, item->tag, item->v.enumeration);
		return;
	case KMIP_TYPE_INTERVAL:
		kmip_enc_interval(buf, item->tag, item->v.enumeration);
		return;
	case KMIP_TYPE_BOOLEAN:
		kmip_enc_bool(buf, item->tag, item->v.boolean);
		return;
	case KMIP_TYPE_BIG_INTEGER: {
		uint8_t *p = put_item(buf, item->tag, KMIP_TYPE_BIG_INTEGER, item->v.bytes.size);
		if (p != NULL)
			memcpy(p, item->v.bytes.data, item->v.bytes.size);
		return;
	}
	case KMIP_TYPE_TEXT_STRING:
		kmip_enc_text_n(buf, item->tag, (const char *)item->v.bytes.data,
				item->v.bytes.size);
		return;
	case KMIP_TYPE_BYTE_STRING:
		kmip_enc_bytes(buf, item->tag, item->v.bytes.data, item->v.bytes.size);
		return;
	}
}

void kmip_enc_raw(struct kmip_buf *buf, const uint8_t *data, size_t size)
{
	uint8_t *p = buf_extend(buf, size);
	if (p != NULL && size > 0)
		memcpy(p, data, size);
}
