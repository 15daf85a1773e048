// SPDX-License-Identifier: Apache-2.0
// The KMS request engine (kms_handle_request) against a key store in a
// temporary directory: batches with the ID placeholder, Batch Error
// Continuation, attributes, Locate filters, lifecycle rules, ownership,
// Encrypt/Decrypt and Invalid Message replies.

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <coffer/keystore_attributes.h>
#include <coffer/kms.h>

struct fixture {
	char dir[64];
	struct ks_store *store;
	struct kmip_buf request;
	struct kmip_buf response;
	struct kmip_response parsed;
};

static const struct ks_caller alice = { "spiffe://coffer/test/alice", false };
static const struct ks_caller bob = { "spiffe://coffer/test/bob", false };
static const struct ks_caller admin = { "spiffe://coffer/test/admin", true };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/coffer-kms-unit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	struct ks_options options = { .dir = f->dir, .create_master_key = true };
	assert_int_equal(ks_open(&f->store, &options, NULL), 0);
	assert_int_equal(ks_attr_init(f->store, NULL), 0);
	assert_int_equal(ks_sync_defer(f->store, true, NULL), 0);
	kmip_buf_init(&f->request, 0);
	kmip_buf_init(&f->response, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char command[128];

	kmip_response_free(&f->parsed);
	kmip_buf_free(&f->request);
	kmip_buf_free(&f->response);
	ks_close(f->store);
	snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
	assert_int_equal(system(command), 0);
	free(f);
	return 0;
}

// ---- request building ---------------------------------------------------------

static size_t begin_request(struct fixture *f, int count, int minor, uint32_t error_option)
{
	kmip_buf_reset(&f->request);
	size_t message = kmip_enc_begin(&f->request, KMIP_TAG_REQUEST_MESSAGE);
	size_t header = kmip_enc_begin(&f->request, KMIP_TAG_REQUEST_HEADER);
	size_t version = kmip_enc_begin(&f->request, KMIP_TAG_PROTOCOL_VERSION);
	kmip_enc_int(&f->request, KMIP_TAG_PROTOCOL_VERSION_MAJOR, 1);
	kmip_enc_int(&f->request, KMIP_TAG_PROTOCOL_VERSION_MINOR, minor);
	kmip_enc_end(&f->request, version);
	if (error_option != 0)
		kmip_enc_enum(&f->request, KMIP_TAG_BATCH_ERROR_CONTINUATION_OPTION, error_option);
	kmip_enc_int(&f->request, KMIP_TAG_BATCH_COUNT, count);
	kmip_enc_end(&f->request, header);
	return message;
}

static size_t begin_item(struct fixture *f, uint32_t operation, int number, size_t *payload)
{
	uint8_t id = (uint8_t)number;
	size_t item = kmip_enc_begin(&f->request, KMIP_TAG_BATCH_ITEM);
	kmip_enc_enum(&f->request, KMIP_TAG_OPERATION, operation);
	kmip_enc_bytes(&f->request, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, &id, 1);
	*payload = kmip_enc_begin(&f->request, KMIP_TAG_REQUEST_PAYLOAD);
	return item;
}

static void end_item(struct fixture *f, size_t item, size_t payload)
{
	kmip_enc_end(&f->request, payload);
	kmip_enc_end(&f->request, item);
}

static void put_text_attribute(struct fixture *f, const char *name, const char *value)
{
	size_t a = kmip_enc_begin(&f->request, KMIP_TAG_ATTRIBUTE);
	kmip_enc_text(&f->request, KMIP_TAG_ATTRIBUTE_NAME, name);
	kmip_enc_text(&f->request, KMIP_TAG_ATTRIBUTE_VALUE, value);
	kmip_enc_end(&f->request, a);
}

static void put_name_attribute(struct fixture *f, const char *name)
{
	size_t a = kmip_enc_begin(&f->request, KMIP_TAG_ATTRIBUTE);
	kmip_enc_text(&f->request, KMIP_TAG_ATTRIBUTE_NAME, "Name");
	size_t v = kmip_enc_begin(&f->request, KMIP_TAG_ATTRIBUTE_VALUE);
	kmip_enc_text(&f->request, KMIP_TAG_NAME_VALUE, name);
	kmip_enc_enum(&f->request, KMIP_TAG_NAME_TYPE, 1);
	kmip_enc_end(&f->request, v);
	kmip_enc_end(&f->request, a);
}

static void put_create_payload(struct fixture *f, int bits, const char *name, const char *group)
{
	kmip_enc_enum(&f->request, KMIP_TAG_OBJECT_TYPE, 2);
	size_t t = kmip_enc_begin(&f->request, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	size_t a = kmip_enc_begin(&f->request, KMIP_TAG_ATTRIBUTE);
	kmip_enc_text(&f->request, KMIP_TAG_ATTRIBUTE_NAME, "Cryptographic Algorithm");
	kmip_enc_enum(&f->request, KMIP_TAG_ATTRIBUTE_VALUE, 3);
	kmip_enc_end(&f->request, a);
	a = kmip_enc_begin(&f->request, KMIP_TAG_ATTRIBUTE);
	kmip_enc_text(&f->request, KMIP_TAG_ATTRIBUTE_NAME, "Cryptographic Length");
	kmip_enc_int(&f->request, KMIP_TAG_ATTRIBUTE_VALUE, bits);
	kmip_enc_end(&f->request, a);
	if (name != NULL)
		put_name_attribute(f, name);
	if (group != NULL)
		put_text_attribute(f, "Object Group", group);
	kmip_enc_end(&f->request, t);
}

// Sends the request built so far as caller and parses the response.
static void send_as(struct fixture *f, const struct ks_caller *caller, size_t message)
{
	kmip_enc_end(&f->request, message);
	assert_int_equal(kmip_buf_error(&f->request), 0);
	kmip_response_free(&f->parsed);
	assert_int_equal(kms_handle_request(f->store, caller, f->request.data, f->request.size,
					    &f->response), 0);
	assert_int_equal(kmip_response_parse(f->response.data, f->response.size, NULL, &f->parsed,
					     NULL), 0);
}

static void assert_success(struct fixture *f, size_t index)
{
	assert_true(index < f->parsed.count);
	assert_int_equal(f->parsed.items[index].status, KMIP_STATUS_SUCCESS);
}

static void assert_failure(struct fixture *f, size_t index, uint32_t reason)
{
	assert_true(index < f->parsed.count);
	assert_int_equal(f->parsed.items[index].status, KMIP_STATUS_OPERATION_FAILED);
	assert_int_equal(f->parsed.items[index].reason, reason);
}

static void item_id(struct fixture *f, size_t index, char id[KS_ID_MAX])
{
	assert_int_equal(kmip_get_text(f->parsed.items[index].payload, KMIP_TAG_UNIQUE_IDENTIFIER,
				       id, KS_ID_MAX), 0);
}

static void create_key(struct fixture *f, const struct ks_caller *caller, const char *name,
		       const char *group, char id[KS_ID_MAX])
{
	size_t payload;
	size_t message = begin_request(f, 1, 4, 0);
	size_t item = begin_item(f, KMIP_OP_CREATE, 0, &payload);
	put_create_payload(f, 256, name, group);
	end_item(f, item, payload);
	send_as(f, caller, message);
	assert_success(f, 0);
	item_id(f, 0, id);
}

static void simple_request(struct fixture *f, const struct ks_caller *caller,
			   uint32_t operation, const char *id)
{
	size_t payload;
	size_t message = begin_request(f, 1, 4, 0);
	size_t item = begin_item(f, operation, 0, &payload);
	if (id != NULL)
		kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	end_item(f, item, payload);
	send_as(f, caller, message);
}

static uint32_t state_of(struct fixture *f, const char *id)
{
	size_t payload;
	size_t message = begin_request(f, 1, 4, 0);
	size_t item = begin_item(f, KMIP_OP_GET_ATTRIBUTES, 0, &payload);
	kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	kmip_enc_text(&f->request, KMIP_TAG_ATTRIBUTE_NAME, "State");
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_success(f, 0);
	const struct kmip_item *attribute = kmip_find(f->parsed.items[0].payload, KMIP_TAG_ATTRIBUTE);
	uint32_t state = 0;
	assert_int_equal(kmip_get_enum(attribute, KMIP_TAG_ATTRIBUTE_VALUE, &state), 0);
	return state;
}

// ---- tests -------------------------------------------------------------------------

static void batch_uses_id_placeholder(void **state)
{
	struct fixture *f = *state;
	size_t payload, item;

	size_t message = begin_request(f, 3, 4, 0);
	item = begin_item(f, KMIP_OP_CREATE, 0, &payload);
	put_create_payload(f, 128, "placeholder-key", NULL);
	end_item(f, item, payload);
	item = begin_item(f, KMIP_OP_ACTIVATE, 1, &payload);
	end_item(f, item, payload);
	item = begin_item(f, KMIP_OP_GET, 2, &payload);
	end_item(f, item, payload);
	send_as(f, &alice, message);

	assert_int_equal(f->parsed.count, 3);
	assert_int_equal(f->parsed.version.minor, 4);
	for (size_t i = 0; i < 3; i++) {
		assert_success(f, i);
		assert_int_equal(f->parsed.items[i].batch_id->v.bytes.data[0], i);
	}
	char created[KS_ID_MAX], got[KS_ID_MAX];
	item_id(f, 0, created);
	item_id(f, 2, got);
	assert_string_equal(created, got);
	const struct kmip_item *key = kmip_find(f->parsed.items[2].payload, KMIP_TAG_SYMMETRIC_KEY);
	const struct kmip_item *value = kmip_find(kmip_find(key, KMIP_TAG_KEY_BLOCK), KMIP_TAG_KEY_VALUE);
	const uint8_t *material;
	size_t size;
	assert_int_equal(kmip_get_bytes(value, KMIP_TAG_KEY_MATERIAL, &material, &size), 0);
	assert_int_equal(size, 16);
	assert_int_equal(state_of(f, created), 2);
}

static void batch_stops_or_continues(void **state)
{
	struct fixture *f = *state;
	size_t payload, item;

	// Stop (the default): the failing second item ends the batch.
	size_t message = begin_request(f, 3, 2, 0);
	item = begin_item(f, KMIP_OP_DISCOVER_VERSIONS, 0, &payload);
	end_item(f, item, payload);
	item = begin_item(f, KMIP_OP_GET, 1, &payload);
	kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, "no-such-key");
	end_item(f, item, payload);
	item = begin_item(f, KMIP_OP_DISCOVER_VERSIONS, 2, &payload);
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_int_equal(f->parsed.version.minor, 2);
	assert_int_equal(f->parsed.count, 2);
	assert_success(f, 0);
	assert_failure(f, 1, KMIP_REASON_ITEM_NOT_FOUND);

	// Continue: the response lists every item.
	message = begin_request(f, 3, 2, KMIP_BATCH_CONTINUE);
	item = begin_item(f, KMIP_OP_DISCOVER_VERSIONS, 0, &payload);
	end_item(f, item, payload);
	item = begin_item(f, KMIP_OP_GET, 1, &payload);
	kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, "no-such-key");
	end_item(f, item, payload);
	item = begin_item(f, 0x21, 2, &payload);
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_int_equal(f->parsed.count, 3);
	assert_success(f, 0);
	assert_failure(f, 1, KMIP_REASON_ITEM_NOT_FOUND);
	assert_failure(f, 2, KMIP_REASON_OPERATION_NOT_SUPPORTED);
	assert_non_null(f->parsed.items[2].message);
}

static void discover_versions_intersects(void **state)
{
	struct fixture *f = *state;
	size_t payload;

	size_t message = begin_request(f, 1, 0, 0);
	size_t item = begin_item(f, KMIP_OP_DISCOVER_VERSIONS, 0, &payload);
	int offered[][2] = { { 2, 0 }, { 1, 2 }, { 1, 4 } };
	for (size_t i = 0; i < 3; i++) {
		size_t v = kmip_enc_begin(&f->request, KMIP_TAG_PROTOCOL_VERSION);
		kmip_enc_int(&f->request, KMIP_TAG_PROTOCOL_VERSION_MAJOR, offered[i][0]);
		kmip_enc_int(&f->request, KMIP_TAG_PROTOCOL_VERSION_MINOR, offered[i][1]);
		kmip_enc_end(&f->request, v);
	}
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_success(f, 0);

	const struct kmip_item *v1 = kmip_find(f->parsed.items[0].payload, KMIP_TAG_PROTOCOL_VERSION);
	const struct kmip_item *v2 = kmip_find_next(f->parsed.items[0].payload,
						    KMIP_TAG_PROTOCOL_VERSION, v1);
	int32_t minor;
	assert_int_equal(kmip_get_int(v1, KMIP_TAG_PROTOCOL_VERSION_MINOR, &minor), 0);
	assert_int_equal(minor, 4);
	assert_int_equal(kmip_get_int(v2, KMIP_TAG_PROTOCOL_VERSION_MINOR, &minor), 0);
	assert_int_equal(minor, 2);
	assert_null(kmip_find_next(f->parsed.items[0].payload, KMIP_TAG_PROTOCOL_VERSION, v2));
}

static void lifecycle_rules(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];

	create_key(f, &alice, "life", NULL, id);
	assert_int_equal(state_of(f, id), 1);
	simple_request(f, &alice, KMIP_OP_ACTIVATE, id);
	assert_success(f, 0);
	simple_request(f, &alice, KMIP_OP_DESTROY, id);
	assert_failure(f, 0, KMIP_REASON_ILLEGAL_OPERATION);

	size_t payload;
	size_t message = begin_request(f, 1, 4, 0);
	size_t item = begin_item(f, KMIP_OP_REVOKE, 0, &payload);
	kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	size_t reason = kmip_enc_begin(&f->request, KMIP_TAG_REVOCATION_REASON);
	kmip_enc_enum(&f->request, KMIP_TAG_REVOCATION_REASON_CODE, 6);
	kmip_enc_end(&f->request, reason);
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_success(f, 0);
	assert_int_equal(state_of(f, id), 3);

	simple_request(f, &alice, KMIP_OP_DESTROY, id);
	assert_success(f, 0);
	assert_int_equal(state_of(f, id), 5);
	simple_request(f, &alice, KMIP_OP_GET, id);
	assert_failure(f, 0, KMIP_REASON_ITEM_NOT_FOUND);
	simple_request(f, &alice, KMIP_OP_CHECK, id);
	assert_failure(f, 0, KMIP_REASON_ITEM_NOT_FOUND);
}

static void ownership_is_enforced(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];

	create_key(f, &alice, "owned", NULL, id);
	simple_request(f, &bob, KMIP_OP_GET, id);
	assert_failure(f, 0, KMIP_REASON_PERMISSION_DENIED);
	simple_request(f, &bob, KMIP_OP_GET_ATTRIBUTES, id);
	assert_failure(f, 0, KMIP_REASON_PERMISSION_DENIED);
	simple_request(f, &bob, KMIP_OP_ACTIVATE, id);
	assert_failure(f, 0, KMIP_REASON_PERMISSION_DENIED);
	simple_request(f, &admin, KMIP_OP_GET, id);
	assert_success(f, 0);
}

static void attributes_add_modify_delete(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	size_t payload, item, message;

	create_key(f, &alice, "attrs", "group-a", id);

	message = begin_request(f, 1, 4, 0);
	item = begin_item(f, KMIP_OP_ADD_ATTRIBUTE, 0, &payload);
	kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	put_text_attribute(f, "Object Group", "group-b");
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_success(f, 0);
	int32_t index = -1;
	const struct kmip_item *attribute = kmip_find(f->parsed.items[0].payload, KMIP_TAG_ATTRIBUTE);
	assert_int_equal(kmip_get_int(attribute, KMIP_TAG_ATTRIBUTE_INDEX, &index), 0);
	assert_int_equal(index, 1);

	message = begin_request(f, 1, 4, 0);
	item = begin_item(f, KMIP_OP_ADD_ATTRIBUTE, 0, &payload);
	kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	put_text_attribute(f, "x-purpose", "database");
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_success(f, 0);

	message = begin_request(f, 1, 4, 0);
	item = begin_item(f, KMIP_OP_MODIFY_ATTRIBUTE, 0, &payload);
	kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	put_text_attribute(f, "x-purpose", "logs");
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_success(f, 0);

	// Server-managed attributes cannot be changed.
	message = begin_request(f, 1, 4, 0);
	item = begin_item(f, KMIP_OP_ADD_ATTRIBUTE, 0, &payload);
	kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	put_text_attribute(f, "State", "1");
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_failure(f, 0, KMIP_REASON_INVALID_FIELD);

	// Get Attribute List shows the new names.
	simple_request(f, &alice, KMIP_OP_GET_ATTRIBUTE_LIST, id);
	assert_success(f, 0);
	bool has_group = false, has_custom = false;
	const struct kmip_item *name = NULL;
	while ((name = kmip_find_next(f->parsed.items[0].payload, KMIP_TAG_ATTRIBUTE_NAME, name))) {
		has_group |= name->v.bytes.size == 12 && memcmp(name->v.bytes.data, "Object Group", 12) == 0;
		has_custom |= name->v.bytes.size == 9 && memcmp(name->v.bytes.data, "x-purpose", 9) == 0;
	}
	assert_true(has_group);
	assert_true(has_custom);

	message = begin_request(f, 1, 4, 0);
	item = begin_item(f, KMIP_OP_DELETE_ATTRIBUTE, 0, &payload);
	kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	kmip_enc_text(&f->request, KMIP_TAG_ATTRIBUTE_NAME, "x-purpose");
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_success(f, 0);
	attribute = kmip_find(f->parsed.items[0].payload, KMIP_TAG_ATTRIBUTE);
	const struct kmip_item *value = kmip_find(attribute, KMIP_TAG_ATTRIBUTE_VALUE);
	assert_non_null(value);
	assert_int_equal(value->v.bytes.size, 4);
	assert_memory_equal(value->v.bytes.data, "logs", 4);

	message = begin_request(f, 1, 4, 0);
	item = begin_item(f, KMIP_OP_DELETE_ATTRIBUTE, 0, &payload);
	kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	kmip_enc_text(&f->request, KMIP_TAG_ATTRIBUTE_NAME, "x-purpose");
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_failure(f, 0, KMIP_REASON_ITEM_NOT_FOUND);
}

static size_t located(struct fixture *f)
{
	size_t n = 0;
	const struct kmip_item *id = NULL;
	while ((id = kmip_find_next(f->parsed.items[0].payload, KMIP_TAG_UNIQUE_IDENTIFIER, id)))
		n++;
	return n;
}

static void locate_filters(void **state)
{
	struct fixture *f = *state;
	char a[KS_ID_MAX], b[KS_ID_MAX], c[KS_ID_MAX], found[KS_ID_MAX];
	size_t payload, item, message;

	create_key(f, &alice, "loc-a", "blue", a);
	create_key(f, &alice, "loc-b", "blue", b);
	create_key(f, &alice, "loc-c", "green", c);
	simple_request(f, &alice, KMIP_OP_ACTIVATE, b);

	message = begin_request(f, 1, 4, 0);
	item = begin_item(f, KMIP_OP_LOCATE, 0, &payload);
	put_name_attribute(f, "loc-b");
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_success(f, 0);
	assert_int_equal(located(f), 1);
	item_id(f, 0, found);
	assert_string_equal(found, b);

	message = begin_request(f, 1, 4, 0);
	item = begin_item(f, KMIP_OP_LOCATE, 0, &payload);
	put_text_attribute(f, "Object Group", "blue");
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_int_equal(located(f), 2);
	int32_t total = 0;
	assert_int_equal(kmip_get_int(f->parsed.items[0].payload, KMIP_TAG_LOCATED_ITEMS, &total), 0);
	assert_int_equal(total, 2);

	// Group blue and State Pre-Active: only a.
	message = begin_request(f, 1, 4, 0);
	item = begin_item(f, KMIP_OP_LOCATE, 0, &payload);
	put_text_attribute(f, "Object Group", "blue");
	size_t s = kmip_enc_begin(&f->request, KMIP_TAG_ATTRIBUTE);
	kmip_enc_text(&f->request, KMIP_TAG_ATTRIBUTE_NAME, "State");
	kmip_enc_enum(&f->request, KMIP_TAG_ATTRIBUTE_VALUE, 1);
	kmip_enc_end(&f->request, s);
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_int_equal(located(f), 1);
	item_id(f, 0, found);
	assert_string_equal(found, a);

	// Maximum Items, and KMIP 1.2 has no Located Items.
	message = begin_request(f, 1, 2, 0);
	item = begin_item(f, KMIP_OP_LOCATE, 0, &payload);
	kmip_enc_int(&f->request, KMIP_TAG_MAXIMUM_ITEMS, 2);
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_int_equal(located(f), 2);
	assert_null(kmip_find(f->parsed.items[0].payload, KMIP_TAG_LOCATED_ITEMS));

	// Locate finds none of them for another identity.
	message = begin_request(f, 1, 4, 0);
	item = begin_item(f, KMIP_OP_LOCATE, 0, &payload);
	put_text_attribute(f, "Object Group", "blue");
	end_item(f, item, payload);
	send_as(f, &bob, message);
	assert_success(f, 0);
	assert_int_equal(located(f), 0);
}

static void encrypt_decrypt_round_trip(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	static const uint8_t plain[] = "thirty-one bytes of plain text.";
	uint32_t modes[] = { 1, 9 };

	create_key(f, &alice, "cipher", NULL, id);
	simple_request(f, &alice, KMIP_OP_ACTIVATE, id);

	for (size_t m = 0; m < 2; m++) {
		size_t payload, item, message, params;

		message = begin_request(f, 1, 4, 0);
		item = begin_item(f, KMIP_OP_ENCRYPT, 0, &payload);
		kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, id);
		params = kmip_enc_begin(&f->request, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
		kmip_enc_enum(&f->request, KMIP_TAG_BLOCK_CIPHER_MODE, modes[m]);
		kmip_enc_end(&f->request, params);
		kmip_enc_bytes(&f->request, KMIP_TAG_DATA, plain, sizeof(plain));
		end_item(f, item, payload);
		send_as(f, &alice, message);
		assert_success(f, 0);

		const struct kmip_item *out = f->parsed.items[0].payload;
		const uint8_t *cipher, *iv, *tag = NULL;
		size_t cipher_size, iv_size, tag_size = 0;
		assert_int_equal(kmip_get_bytes(out, KMIP_TAG_DATA, &cipher, &cipher_size), 0);
		assert_int_equal(kmip_get_bytes(out, KMIP_TAG_IV_COUNTER_NONCE, &iv, &iv_size), 0);
		assert_int_equal(iv_size, modes[m] == 9 ? 12 : 16);
		// PKCS#5 padding always adds 1 to 16 bytes.
		assert_int_equal(cipher_size, modes[m] == 9 ? sizeof(plain) : (sizeof(plain) / 16 + 1) * 16);
		if (modes[m] == 9) {
			assert_int_equal(kmip_get_bytes(out, KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG, &tag,
							&tag_size), 0);
			assert_int_equal(tag_size, 16);
		}

		// Copies, because the next request replaces the response buffer.
		uint8_t saved[64], saved_iv[16], saved_tag[16];
		memcpy(saved, cipher, cipher_size);
		memcpy(saved_iv, iv, iv_size);
		if (tag != NULL)
			memcpy(saved_tag, tag, tag_size);

		message = begin_request(f, 1, 4, 0);
		item = begin_item(f, KMIP_OP_DECRYPT, 0, &payload);
		kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, id);
		params = kmip_enc_begin(&f->request, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
		kmip_enc_enum(&f->request, KMIP_TAG_BLOCK_CIPHER_MODE, modes[m]);
		kmip_enc_end(&f->request, params);
		kmip_enc_bytes(&f->request, KMIP_TAG_DATA, saved, cipher_size);
		kmip_enc_bytes(&f->request, KMIP_TAG_IV_COUNTER_NONCE, saved_iv, iv_size);
		if (tag != NULL)
			kmip_enc_bytes(&f->request, KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG, saved_tag,
				       tag_size);
		end_item(f, item, payload);
		send_as(f, &alice, message);
		assert_success(f, 0);
		const uint8_t *back;
		size_t back_size;
		assert_int_equal(kmip_get_bytes(f->parsed.items[0].payload, KMIP_TAG_DATA, &back,
						&back_size), 0);
		assert_int_equal(back_size, sizeof(plain));
		assert_memory_equal(back, plain, sizeof(plain));
	}
}

static void invalid_messages_get_replies(void **state)
{
	struct fixture *f = *state;
	static const uint8_t garbage[] = { 0x42, 0x00, 0x78, 0x01, 0x00, 0x00, 0x00, 0x08,
					   0x42, 0x00, 0x20, 0x02, 0x00, 0x00, 0x00, 0x09 };

	kmip_response_free(&f->parsed);
	assert_int_equal(kms_handle_request(f->store, &alice, garbage, sizeof(garbage),
					    &f->response), 0);
	assert_int_equal(kmip_response_parse(f->response.data, f->response.size, NULL, &f->parsed,
					     NULL), 0);
	assert_int_equal(f->parsed.count, 1);
	assert_failure(f, 0, KMIP_REASON_INVALID_MESSAGE);

	// An unsupported protocol version is refused per item.
	size_t payload;
	size_t message = begin_request(f, 1, 9, 0);
	size_t item = begin_item(f, KMIP_OP_GET, 0, &payload);
	kmip_enc_text(&f->request, KMIP_TAG_UNIQUE_IDENTIFIER, "x");
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_failure(f, 0, KMIP_REASON_INVALID_MESSAGE);

	// Create with a bad length and with no template.
	message = begin_request(f, 1, 4, 0);
	item = begin_item(f, KMIP_OP_CREATE, 0, &payload);
	put_create_payload(f, 100, NULL, NULL);
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_failure(f, 0, KMIP_REASON_INVALID_FIELD);
	message = begin_request(f, 1, 4, 0);
	item = begin_item(f, KMIP_OP_CREATE, 0, &payload);
	kmip_enc_enum(&f->request, KMIP_TAG_OBJECT_TYPE, 2);
	end_item(f, item, payload);
	send_as(f, &alice, message);
	assert_failure(f, 0, KMIP_REASON_MISSING_DATA);

	// Operations that need an id fail without one or a placeholder.
	simple_request(f, &alice, KMIP_OP_GET, NULL);
	assert_failure(f, 0, KMIP_REASON_MISSING_DATA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(batch_uses_id_placeholder, setup, teardown),
		cmocka_unit_test_setup_teardown(batch_stops_or_continues, setup, teardown),
		cmocka_unit_test_setup_teardown(discover_versions_intersects, setup, teardown),
		cmocka_unit_test_setup_teardown(lifecycle_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(ownership_is_enforced, setup, teardown),
		cmocka_unit_test_setup_teardown(attributes_add_modify_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(locate_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(encrypt_decrypt_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(invalid_messages_get_replies, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
