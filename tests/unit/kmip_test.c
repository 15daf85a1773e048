// SPDX-License-Identifier: Apache-2.0
// TTLV codec and message parsing: the encoding examples of KMIP 1.4
// section 9.1.2 both ways, padding and length rules, limits, and request
// and response messages.

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <coffer/kmip.h>

#define TAG_TEST 0x420020

static size_t from_hex(const char *hex, uint8_t *out, size_t max)
{
	size_t size = strlen(hex) / 2;
	assert_true(size <= max);
	assert_int_equal(cf_hex_decode(hex, out, size), 0);
	return size;
}

static void assert_encoding(struct kmip_buf *buf, const char *hex)
{
	uint8_t expected[256];
	size_t size = from_hex(hex, expected, sizeof(expected));
	assert_int_equal(kmip_buf_error(buf), 0);
	assert_int_equal(buf->size, size);
	assert_memory_equal(buf->data, expected, size);
}

static struct kmip_item *decode_hex(const char *hex, int expected_rc)
{
	static uint8_t data[4096];
	size_t size = from_hex(hex, data, sizeof(data));
	struct kmip_item *root = NULL;
	struct cf_error err = { 0 };
	assert_int_equal(kmip_decode(data, size, NULL, &root, &err), expected_rc);
	return root;
}

static void encode_spec_examples(void **state)
{
	(void)state;
	struct kmip_buf buf;
	kmip_buf_init(&buf, 0);

	kmip_enc_int(&buf, TAG_TEST, 8);
	assert_encoding(&buf, "42002002000000040000000800000000");
	kmip_buf_reset(&buf);

	kmip_enc_long(&buf, TAG_TEST, 123456789000000000LL);
	assert_encoding(&buf, "420020030000000801B69B4BA5749200");
	kmip_buf_reset(&buf);

	static const uint8_t big[] = { 0x03, 0xFD, 0x35, 0xEB, 0x6B, 0xC2, 0xDF,
				       0x46, 0x18, 0x08, 0x00, 0x00 };
	kmip_enc_bigint(&buf, TAG_TEST, big, sizeof(big));
	assert_encoding(&buf, "42002004000000100000000003FD35EB6BC2DF4618080000");
	kmip_buf_reset(&buf);

	kmip_enc_enum(&buf, TAG_TEST, 255);
	assert_encoding(&buf, "4200200500000004000000FF00000000");
	kmip_buf_reset(&buf);

	kmip_enc_bool(&buf, TAG_TEST, true);
	assert_encoding(&buf, "42002006000000080000000000000001");
	kmip_buf_reset(&buf);

	kmip_enc_text(&buf, TAG_TEST, "Hello World");
	assert_encoding(&buf, "420020070000000B48656C6C6F20576F726C640000000000");
	kmip_buf_reset(&buf);

	static const uint8_t bytes[] = { 1, 2, 3 };
	kmip_enc_bytes(&buf, TAG_TEST, bytes, sizeof(bytes));
	assert_encoding(&buf, "42002008000000030102030000000000");
	kmip_buf_reset(&buf);

	kmip_enc_datetime(&buf, TAG_TEST, 0x47DA67F8);
	assert_encoding(&buf, "42002009000000080000000047DA67F8");
	kmip_buf_reset(&buf);

	kmip_enc_interval(&buf, TAG_TEST, 864000);
	assert_encoding(&buf, "4200200A00000004000D2F0000000000");
	kmip_buf_reset(&buf);

	size_t s = kmip_enc_begin(&buf, TAG_TEST);
	kmip_enc_enum(&buf, 0x420004, 254);
	kmip_enc_int(&buf, 0x420005, 255);
	kmip_enc_end(&buf, s);
	assert_encoding(&buf, "42002001000000204200040500000004000000FE00000000"
			      "4200050200000004000000FF00000000");

	kmip_buf_free(&buf);
}

static void decode_spec_examples(void **state)
{
	(void)state;
	struct kmip_item *item;

	item = decode_hex("42002002000000040000000800000000", 0);
	assert_int_equal(item->type, KMIP_TYPE_INTEGER);
	assert_int_equal(item->tag, TAG_TEST);
	assert_int_equal(item->v.integer, 8);
	kmip_item_free(item);

	item = decode_hex("420020030000000801B69B4BA5749200", 0);
	assert_int_equal(item->v.long_integer, 123456789000000000LL);
	kmip_item_free(item);

	item = decode_hex("42002004000000100000000003FD35EB6BC2DF4618080000", 0);
	assert_int_equal(item->type, KMIP_TYPE_BIG_INTEGER);
	assert_int_equal(item->v.bytes.size, 16);
	kmip_item_free(item);

	item = decode_hex("42002006000000080000000000000001", 0);
	assert_true(item->v.boolean);
	kmip_item_free(item);

	item = decode_hex("420020070000000B48656C6C6F20576F726C640000000000", 0);
	assert_int_equal(item->v.bytes.size, 11);
	assert_memory_equal(item->v.bytes.data, "Hello World", 11);
	kmip_item_free(item);

	item = decode_hex("42002009000000080000000047DA67F8", 0);
	assert_int_equal(item->type, KMIP_TYPE_DATE_TIME);
	assert_int_equal(item->v.long_integer, 0x47DA67F8);
	kmip_item_free(item);

	item = decode_hex("4200200A00000004000D2F0000000000", 0);
	assert_int_equal(item->v.enumeration, 864000);
	kmip_item_free(item);

	item = decode_hex("42002001000000204200040500000004000000FE00000000"
			  "4200050200000004000000FF00000000", 0);
	assert_int_equal(item->v.structure.count, 2);
	uint32_t e;
	int32_t i;
	assert_int_equal(kmip_get_enum(item, 0x420004, &e), 0);
	assert_int_equal(e, 254);
	assert_int_equal(kmip_get_int(item, 0x420005, &i), 0);
	assert_int_equal(i, 255);
	assert_int_equal(kmip_get_int(item, 0x420004, &i), -EBADMSG);
	assert_int_equal(kmip_get_int(item, 0x420006, &i), -ENOENT);
	kmip_item_free(item);
}

static void decode_rejects_malformed(void **state)
{
	(void)state;

	// Non-zero padding after an Integer and after a Text String.
	assert_null(decode_hex("42002002000000040000000800000001", -EBADMSG));
	assert_null(decode_hex("42002007000000014100000000000100", -EBADMSG));
	// Wrong fixed lengths.
	assert_null(decode_hex("42002002000000080000000000000008", -EBADMSG));
	assert_null(decode_hex("42002006000000040000000100000000", -EBADMSG));
	// Boolean other than 0 or 1.
	assert_null(decode_hex("42002006000000080000000000000002", -EBADMSG));
	// Length past the end, and a 2 GiB length.
	assert_null(decode_hex("42002008000000100102030000000000", -EBADMSG));
	assert_null(decode_hex("420020080000000080000000", -EBADMSG));
	assert_null(decode_hex("4200200880000000", -EBADMSG));
	// Truncated header, unknown type, trailing bytes, bad tag prefix.
	assert_null(decode_hex("420020020000", -EBADMSG));
	assert_null(decode_hex("4200200B000000040000000800000000", -EBADMSG));
	assert_null(decode_hex("420020020000000400000008000000000000000000000000", -EBADMSG));
	assert_null(decode_hex("43002002000000040000000800000000", -EBADMSG));
	// Structure whose child runs past the structure's own length.
	assert_null(decode_hex("42002001000000084200050200000004000000FF00000000", -EBADMSG));
	// Big Integer of a length that is not a multiple of 8.
	assert_null(decode_hex("4200200400000004000000FF00000000", -EBADMSG));
}

static void decode_enforces_limits(void **state)
{
	(void)state;
	enum { DEPTH = 40 };
	uint8_t data[DEPTH * 8];

	for (int level = 0; level < DEPTH; level++) {
		uint8_t *p = data + level * 8;
		uint32_t length = (uint32_t)(DEPTH - level - 1) * 8;
		p[0] = 0x42;
		p[1] = 0x00;
		p[2] = 0x20;
		p[3] = KMIP_TYPE_STRUCTURE;
		p[4] = (uint8_t)(length >> 24);
		p[5] = (uint8_t)(length >> 16);
		p[6] = (uint8_t)(length >> 8);
		p[7] = (uint8_t)length;
	}

	struct kmip_item *root = NULL;
	struct kmip_limits deep = { KMIP_DEFAULT_MAX_MESSAGE, DEPTH };
	assert_int_equal(kmip_decode(data, sizeof(data), &deep, &root, NULL), 0);
	kmip_item_free(root);

	struct kmip_limits shallow = { KMIP_DEFAULT_MAX_MESSAGE, DEPTH - 1 };
	assert_int_equal(kmip_decode(data, sizeof(data), &shallow, &root, NULL), -ELOOP);
	assert_null(root);

	struct kmip_limits small = { 64, KMIP_DEFAULT_MAX_DEPTH };
	assert_int_equal(kmip_decode(data, sizeof(data), &small, &root, NULL), -EMSGSIZE);

	uint8_t header[8] = { 0x42, 0x00, 0x78, 0x01, 0x7f, 0xff, 0xff, 0xf8 };
	size_t total;
	assert_int_equal(kmip_frame_size(header, KMIP_TAG_REQUEST_MESSAGE,
					 KMIP_DEFAULT_MAX_MESSAGE, &total, NULL), -EMSGSIZE);
	header[4] = 0;
	header[5] = 0;
	header[6] = 1;
	header[7] = 0;
	assert_int_equal(kmip_frame_size(header, KMIP_TAG_REQUEST_MESSAGE,
					 KMIP_DEFAULT_MAX_MESSAGE, &total, NULL), 0);
	assert_int_equal(total, 264);
	assert_int_equal(kmip_frame_size(header, KMIP_TAG_RESPONSE_MESSAGE,
					 KMIP_DEFAULT_MAX_MESSAGE, &total, NULL), -EBADMSG);
}

static void encoder_respects_max_size(void **state)
{
	(void)state;
	struct kmip_buf buf;
	uint8_t data[100] = { 0 };

	kmip_buf_init(&buf, 64);
	kmip_enc_bytes(&buf, TAG_TEST, data, 40);
	assert_int_equal(kmip_buf_error(&buf), 0);
	kmip_enc_bytes(&buf, TAG_TEST, data, 40);
	assert_int_equal(kmip_buf_error(&buf), -EMSGSIZE);
	kmip_buf_free(&buf);
}

static void encode_request(struct kmip_buf *buf, int items)
{
	size_t message = kmip_enc_request_start(buf, (struct kmip_version){ 1, 4 }, items);
	for (int i = 0; i < items; i++) {
		size_t item = kmip_enc_begin(buf, KMIP_TAG_BATCH_ITEM);
		kmip_enc_enum(buf, KMIP_TAG_OPERATION, KMIP_OP_GET);
		uint8_t id = (uint8_t)i;
		kmip_enc_bytes(buf, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, &id, 1);
		size_t payload = kmip_enc_begin(buf, KMIP_TAG_REQUEST_PAYLOAD);
		kmip_enc_text(buf, KMIP_TAG_UNIQUE_IDENTIFIER, "42");
		kmip_enc_end(buf, payload);
		kmip_enc_end(buf, item);
	}
	kmip_enc_end(buf, message);
}

static void request_round_trip(void **state)
{
	(void)state;
	struct kmip_buf buf;
	struct kmip_request req;
	struct cf_error err = { 0 };

	kmip_buf_init(&buf, 0);
	encode_request(&buf, 3);
	assert_int_equal(kmip_request_parse(buf.data, buf.size, NULL, &req, &err), 0);
	assert_int_equal(req.version.major, 1);
	assert_int_equal(req.version.minor, 4);
	assert_int_equal(req.count, 3);
	assert_int_equal(req.batch_error_option, KMIP_BATCH_STOP);
	assert_int_equal(req.items[2].operation, KMIP_OP_GET);
	assert_int_equal(req.items[2].batch_id->v.bytes.data[0], 2);
	char id[16];
	assert_int_equal(kmip_get_text(req.items[1].payload, KMIP_TAG_UNIQUE_IDENTIFIER,
				       id, sizeof(id)), 0);
	assert_string_equal(id, "42");
	kmip_request_free(&req);

	// A batch count that disagrees with the items is rejected.
	buf.data[8 + 8 + 8 + 16 + 16 + 8 + 3] = 5;
	assert_int_equal(kmip_request_parse(buf.data, buf.size, NULL, &req, &err), -EBADMSG);
	assert_int_equal(req.version.minor, 4);
	kmip_buf_free(&buf);
}

static void request_rejects_huge_batch(void **state)
{
	(void)state;
	struct kmip_buf buf;
	struct kmip_request req;

	kmip_buf_init(&buf, 0);
	encode_request(&buf, KMIP_MAX_BATCH_ITEMS + 1);
	assert_int_equal(kmip_buf_error(&buf), 0);
	assert_int_equal(kmip_request_parse(buf.data, buf.size, NULL, &req, NULL), -EBADMSG);
	kmip_buf_free(&buf);
}

static void response_round_trip(void **state)
{
	(void)state;
	struct kmip_buf buf;
	struct kmip_response resp;

	kmip_buf_init(&buf, 0);
	size_t message = kmip_enc_response_start(&buf, (struct kmip_version){ 1, 2 }, 1000, 1);
	size_t item = kmip_enc_begin(&buf, KMIP_TAG_BATCH_ITEM);
	kmip_enc_enum(&buf, KMIP_TAG_OPERATION, KMIP_OP_DESTROY);
	kmip_enc_enum(&buf, KMIP_TAG_RESULT_STATUS, KMIP_STATUS_OPERATION_FAILED);
	kmip_enc_enum(&buf, KMIP_TAG_RESULT_REASON, KMIP_REASON_PERMISSION_DENIED);
	kmip_enc_text(&buf, KMIP_TAG_RESULT_MESSAGE, "not yours");
	kmip_enc_end(&buf, item);
	kmip_enc_end(&buf, message);

	assert_int_equal(kmip_response_parse(buf.data, buf.size, NULL, &resp, NULL), 0);
	assert_int_equal(resp.version.minor, 2);
	assert_int_equal(resp.time_stamp, 1000);
	assert_int_equal(resp.count, 1);
	assert_int_equal(resp.items[0].operation, KMIP_OP_DESTROY);
	assert_int_equal(resp.items[0].status, KMIP_STATUS_OPERATION_FAILED);
	assert_int_equal(resp.items[0].reason, KMIP_REASON_PERMISSION_DENIED);
	assert_non_null(resp.items[0].message);
	assert_null(resp.items[0].payload);
	kmip_response_free(&resp);
	kmip_buf_free(&buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encode_spec_examples),
		cmocka_unit_test(decode_spec_examples),
		cmocka_unit_test(decode_rejects_malformed),
		cmocka_unit_test(decode_enforces_limits),
		cmocka_unit_test(encoder_respects_max_size),
		cmocka_unit_test(request_round_trip),
		cmocka_unit_test(request_rejects_huge_batch),
		cmocka_unit_test(response_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
