// SPDX-License-Identifier: Apache-2.0
// KMIP request and response messages: header fields, batch items and the
// names of operations and result reasons for logs and error messages.

#include <coffer/kmip.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_version(const struct kmip_item *header, struct kmip_version *version,
			 struct cf_error *err)
{
	const struct kmip_item *pv = kmip_find(header, KMIP_TAG_PROTOCOL_VERSION);

	if (pv == NULL || pv->type != KMIP_TYPE_STRUCTURE)
		return cf_error_set(err, -EBADMSG, "header has no Protocol Version structure");
	if (kmip_get_int(pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR, &version->major) != 0 ||
	    kmip_get_int(pv, KMIP_TAG_PROTOCOL_VERSION_MINOR, &version->minor) != 0)
		return cf_error_set(err, -EBADMSG,
				    "Protocol Version needs integer Major and Minor fields");
	return 0;
}

// Counts the Batch Item children and checks them against the Batch Count.
static int collect_batch(const struct kmip_item *root, int32_t batch_count,
			 size_t *count, struct cf_error *err)
{
	size_t n = 0;

	for (size_t i = 0; i < root->v.structure.count; i++) {
		const struct kmip_item *child = &root->v.structure.items[i];
		if (child->tag != KMIP_TAG_BATCH_ITEM)
			continue;
		if (child->type != KMIP_TYPE_STRUCTURE)
			return cf_error_set(err, -EBADMSG, "Batch Item is not a structure");
		n++;
	}
	if (n == 0)
		return cf_error_set(err, -EBADMSG, "message has no Batch Item");
	if (n > KMIP_MAX_BATCH_ITEMS)
		return cf_error_set(err, -EBADMSG,
				    "message has %zu batch items; the maximum is %d",
				    n, KMIP_MAX_BATCH_ITEMS);
	if (batch_count < 0 || (size_t)batch_count != n)
		return cf_error_set(err, -EBADMSG,
				    "Batch Count is %d but the message has %zu batch items",
				    batch_count, n);
	*count = n;
	return 0;
}

int kmip_request_parse(const uint8_t *data, size_t size, const struct kmip_limits *limits,
		       struct kmip_request *req, struct cf_error *err)
{
	int rc;

	memset(req, 0, sizeof(*req));
	req->version = (struct kmip_version){ 1, 0 };
	req->batch_error_option = KMIP_BATCH_STOP;

	rc = kmip_decode(data, size, limits, &req->root, err);
	if (rc != 0)
		return rc;

	const struct kmip_item *root = req->root;
	if (root->tag != KMIP_TAG_REQUEST_MESSAGE || root->type != KMIP_TYPE_STRUCTURE) {
		rc = cf_error_set(err, -EBADMSG, "message is not a Request Message (tag 0x%06x)",
				  root->tag);
		goto fail;
	}
	const struct kmip_item *header = kmip_find(root, KMIP_TAG_REQUEST_HEADER);
	if (header == NULL || header->type != KMIP_TYPE_STRUCTURE) {
		rc = cf_error_set(err, -EBADMSG, "request has no Request Header structure");
		goto fail;
	}
	rc = parse_version(header, &req->version, err);
	if (rc != 0)
		goto fail;

	int32_t batch_count;
	if (kmip_get_int(header, KMIP_TAG_BATCH_COUNT, &batch_count) != 0) {
		rc = cf_error_set(err, -EBADMSG, "Request Header has no integer Batch Count");
		goto fail;
	}
	rc = kmip_get_int(header, KMIP_TAG_MAXIMUM_RESPONSE_SIZE, &req->max_response_size);
	if (rc == -EBADMSG) {
		cf_error_set(err, rc, "Maximum Response Size is not an integer");
		goto fail;
	}
	rc = kmip_get_enum(header, KMIP_TAG_BATCH_ERROR_CONTINUATION_OPTION,
			   &req->batch_error_option);
	if (rc == -EBADMSG) {
		cf_error_set(err, rc, "Batch Error Continuation Option is not an enumeration");
		goto fail;
	}

	rc = collect_batch(root, batch_count, &req->count, err);
	if (rc != 0)
		goto fail;
	req->items = calloc(req->count, sizeof(*req->items));
	if (req->items == NULL) {
		rc = cf_error_set(err, -ENOMEM, "out of memory parsing a KMIP request");
		goto fail;
	}

	const struct kmip_item *item = NULL;
	for (size_t i = 0; i < req->count; i++) {
		item = kmip_find_next(root, KMIP_TAG_BATCH_ITEM, item);
		struct kmip_request_item *out = &req->items[i];
		if (kmip_get_enum(item, KMIP_TAG_OPERATION, &out->operation) != 0) {
			rc = cf_error_set(err, -EBADMSG, "batch item %zu has no Operation enumeration",
					  i + 1);
			goto fail;
		}
		out->batch_id = kmip_find(item, KMIP_TAG_UNIQUE_BATCH_ITEM_ID);
		if (out->batch_id != NULL && out->batch_id->type != KMIP_TYPE_BYTE_STRING) {
			rc = cf_error_set(err, -EBADMSG,
					  "batch item %zu: Unique Batch Item ID is not a byte string",
					  i + 1);
			goto fail;
		}
		if (req->count > 1 && out->batch_id == NULL) {
			rc = cf_error_set(err, -EBADMSG,
					  "batch item %zu of %zu has no Unique Batch Item ID",
					  i + 1, req->count);
			goto fail;
		}
		out->payload = kmip_find(item, KMIP_TAG_REQUEST_PAYLOAD);
		if (out->payload != NULL && out->payload->type != KMIP_TYPE_STRUCTURE) {
			rc = cf_error_set(err, -EBADMSG,
					  "batch item %zu: Request Payload is not a structure", i + 1);
			goto fail;
		}
	}
	return 0;

fail:
	free(req->items);
	req->items = NULL;
	req->count = 0;
	kmip_item_free(req->root);
	req->root = NULL;
	return rc;
}

void kmip_request_free(struct kmip_request *req)
{
	free(req->items);
	kmip_item_free(req->root);
	memset(req, 0, sizeof(*req));
}

int kmip_response_parse(const uint8_t *data, size_t size, const struct kmip_limits *limits,
			struct kmip_response *resp, struct cf_error *err)
{
	int rc;

	memset(resp, 0, sizeof(*resp));
	rc = kmip_decode(data, size, limits, &resp->root, err);
	if (rc != 0)
		return rc;

	const struct kmip_item *root = resp->root;
	if (root->tag != KMIP_TAG_RESPONSE_MESSAGE || root->type != KMIP_TYPE_STRUCTURE) {
		rc = cf_error_set(err, -EBADMSG, "message is not a Response Message (tag 0x%06x)",
				  root->tag);
		goto fail;
	}
	const struct kmip_item *header = kmip_find(root, KMIP_TAG_RESPONSE_HEADER);
	if (header == NULL || header->type != KMIP_TYPE_STRUCTURE) {
		rc = cf_error_set(err, -EBADMSG, "response has no Response Header structure");
		goto fail;
	}
	rc = parse_version(header, &resp->version, err);
	if (rc != 0)
		goto fail;
	kmip_get_datetime(header, KMIP_TAG_TIME_STAMP, &resp->time_stamp);

	int32_t batch_count;
	if (kmip_get_int(header, KMIP_TAG_BATCH_COUNT, &batch_count) != 0) {
		rc = cf_error_set(err, -EBADMSG, "Response Header has no integer Batch Count");
		goto fail;
	}
	rc = collect_batch(root, batch_count, &resp->count, err);
	if (rc != 0)
		goto fail;
	resp->items = calloc(resp->count, sizeof(*resp->items));
	if (resp->items == NULL) {
		rc = cf_error_set(err, -ENOMEM, "out of memory parsing a KMIP response");
		goto fail;
	}

	const struct kmip_item *item = NULL;
	for (size_t i = 0; i < resp->count; i++) {
		item = kmip_find_next(root, KMIP_TAG_BATCH_ITEM, item);
		struct kmip_response_item *out = &resp->items[i];
		kmip_get_enum(item, KMIP_TAG_OPERATION, &out->operation);
		out->batch_id = kmip_find(item, KMIP_TAG_UNIQUE_BATCH_ITEM_ID);
		if (kmip_get_enum(item, KMIP_TAG_RESULT_STATUS, &out->status) != 0) {
			rc = cf_error_set(err, -EBADMSG,
					  "response batch item %zu has no Result Status", i + 1);
			goto fail;
		}
		kmip_get_enum(item, KMIP_TAG_RESULT_REASON, &out->reason);
		out->message = kmip_find(item, KMIP_TAG_RESULT_MESSAGE);
		if (out->message != NULL && out->message->type != KMIP_TYPE_TEXT_STRING)
			out->message = NULL;
		out->payload = kmip_find(item, KMIP_TAG_RESPONSE_PAYLOAD);
		if (out->payload != NULL && out->payload->type != KMIP_TYPE_STRUCTURE)
			out->payload = NULL;
	}
	return 0;

fail:
	free(resp->items);
	resp->items = NULL;
	resp->count = 0;
	kmip_item_free(resp->root);
	resp->root = NULL;
	return rc;
}

void kmip_response_free(struct kmip_response *resp)
{
	free(resp->items);
	kmip_item_free(resp->root);
	memset(resp, 0, sizeof(*resp));
}

static void enc_version(struct kmip_buf *buf, struct kmip_version version)
{
	size_t pv = kmip_enc_begin(buf, KMIP_TAG_PROTOCOL_VERSION);
	kmip_enc_int(buf, KMIP_TAG_PROTOCOL_VERSION_MAJOR, version.major);
	kmip_enc_int(buf, KMIP_TAG_PROTOCOL_VERSION_MINOR, version.minor);
	kmip_enc_end(buf, pv);
}

size_t kmip_enc_request_start(struct kmip_buf *buf, struct kmip_version version,
			      int32_t batch_count)
{
	size_t message = kmip_enc_begin(buf, KMIP_TAG_REQUEST_MESSAGE);
	size_t header = kmip_enc_begin(buf, KMIP_TAG_REQUEST_HEADER);
	enc_version(buf, version);
	kmip_enc_int(buf, KMIP_TAG_BATCH_COUNT, batch_count);
	kmip_enc_end(buf, header);
	return message;
}

size_t kmip_enc_response_start(struct kmip_buf *buf, struct kmip_version version,
			       int64_t time_stamp, int32_t batch_count)
{
	size_t message = kmip_enc_begin(buf, KMIP_TAG_RESPONSE_MESSAGE);
	size_t header = kmip_enc_begin(buf, KMIP_TAG_RESPONSE_HEADER);
	enc_version(buf, version);
	kmip_enc_datetime(buf, KMIP_TAG_TIME_STAMP, time_stamp);
	kmip_enc_int(buf, KMIP_TAG_BATCH_COUNT, batch_count);
	kmip_enc_end(buf, header);
	return message;
}

const char *kmip_operation_name(uint32_t operation)
{
	switch (operation) {
	case KMIP_OP_CREATE: return "Create";
	case KMIP_OP_REGISTER: return "Register";
	case KMIP_OP_LOCATE: return "Locate";
	case KMIP_OP_CHECK: return "Check";
	case KMIP_OP_GET: return "Get";
	case KMIP_OP_GET_ATTRIBUTES: return "Get Attributes";
	case KMIP_OP_GET_ATTRIBUTE_LIST: return "Get Attribute List";
	case KMIP_OP_ADD_ATTRIBUTE: return "Add Attribute";
	case KMIP_OP_MODIFY_ATTRIBUTE: return "Modify Attribute";
	case KMIP_OP_DELETE_ATTRIBUTE: return "Delete Attribute";
	case KMIP_OP_ACTIVATE: return "Activate";
	case KMIP_OP_REVOKE: return "Revoke";
	case KMIP_OP_DESTROY: return "Destroy";
	case KMIP_OP_QUERY: return "Query";
	case KMIP_OP_DISCOVER_VERSIONS: return "Discover Versions";
	case KMIP_OP_ENCRYPT: return "Encrypt";
	case KMIP_OP_DECRYPT: return "Decrypt";
	default: return "unsupported operation";
	}
}

const char *kmip_reason_name(uint32_t reason)
{
	switch (reason) {
	case KMIP_REASON_NONE: return "no reason given";
	case KMIP_REASON_ITEM_NOT_FOUND: return "Item Not Found";
	case KMIP_REASON_RESPONSE_TOO_LARGE: return "Response Too Large";
	case KMIP_REASON_AUTHENTICATION_NOT_SUCCESSFUL: return "Authentication Not Successful";
	case KMIP_REASON_INVALID_MESSAGE: return "Invalid Message";
	case KMIP_REASON_OPERATION_NOT_SUPPORTED: return "Operation Not Supported";
	case KMIP_REASON_MISSING_DATA: return "Missing Data";
	case KMIP_REASON_INVALID_FIELD: return "Invalid Field";
	case KMIP_REASON_FEATURE_NOT_SUPPORTED: return "Feature Not Supported";
	case KMIP_REASON_CRYPTOGRAPHIC_FAILURE: return "Cryptographic Failure";
	case KMIP_REASON_ILLEGAL_OPERATION: return "Illegal Operation";
	case KMIP_REASON_PERMISSION_DENIED: return "Permission Denied";
	case KMIP_REASON_INDEX_OUT_OF_BOUNDS: return "Index Out of Bounds";
	case KMIP_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED: return "Key Format Type Not Supported";
	case KMIP_REASON_GENERAL_FAILURE: return "General Failure";
	default: return "unknown reason";
	}
}

const char *kmip_state_name(uint32_t state)
{
	switch (state) {
	case 1: return "Pre-Active";
	case 2: return "Active";
	case 3: return "Deactivated";
	case 4: return "Compromised";
	case 5: return "Destroyed";
	case 6: return "Destroyed Compromised";
	default: return "unknown";
	}
}
