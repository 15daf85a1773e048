// SPDX-License-Identifier: Apache-2.0
// The KMS protocol engine: parses a request message, runs its batch items
// in order against the key store, and encodes one response message in the
// request's protocol version. Each item's payload is built in a scratch
// buffer first, so a failing item leaves no partial payload behind.
//
// Batch Error Continuation: Continue runs every item. Stop (the default)
// and Undo end the batch at the first failure, and the response lists only
// the items that ran. NOTE: Undo does not roll back the items that succeeded before
// the failure.

#include "service.h"

#include <coffer/kms.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct kmip_version supported_versions[] = {
	{ 1, 4 }, { 1, 3 }, { 1, 2 }, { 1, 1 }, { 1, 0 },
};
#define SUPPORTED_VERSION_COUNT (sizeof(supported_versions) / sizeof(supported_versions[0]))

int op_fail(struct op_context *ctx, uint32_t reason, const char *fmt, ...)
{
	va_list ap;

	ctx->reason = reason;
	va_start(ap, fmt);
	vsnprintf(ctx->message, sizeof(ctx->message), fmt, ap);
	va_end(ap);
	return -1;
}

int op_store_fail(struct op_context *ctx, int rc, const struct cf_error *err, const char *id)
{
	const char *text = cf_error_message(err, rc);

	switch (rc) {
	case -ENOENT:
	case -ENOKEY:
		return op_fail(ctx, KMIP_REASON_ITEM_NOT_FOUND, "%s", text);
	case -EPERM:
	case -EACCES:
		ks_audit_append(ctx->store, ctx->caller->identity, "access", id,
				"permission-denied", NULL);
		return op_fail(ctx, KMIP_REASON_PERMISSION_DENIED,
			       "permission denied: object %s belongs to another identity", id);
	case -EBUSY:
	case -EALREADY:
		return op_fail(ctx, KMIP_REASON_ILLEGAL_OPERATION, "%s", text);
	case -EINVAL:
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD, "%s", text);
	case -ENOTSUP:
		return op_fail(ctx, KMIP_REASON_FEATURE_NOT_SUPPORTED, "%s", text);
	default:
		return op_fail(ctx, KMIP_REASON_GENERAL_FAILURE, "%s", text);
	}
}

int op_get_id(struct op_context *ctx, const struct kmip_item *payload, char id[KS_ID_MAX])
{
	int rc = kmip_get_text(payload, KMIP_TAG_UNIQUE_IDENTIFIER, id, KS_ID_MAX);

	if (rc == 0)
		return 0;
	if (rc == -ENOENT) {
		if (ctx->placeholder[0] == '\0')
			return op_fail(ctx, KMIP_REASON_MISSING_DATA,
				       "Unique Identifier is missing and no earlier batch item set the ID placeholder");
		memcpy(id, ctx->placeholder, KS_ID_MAX);
		return 0;
	}
	if (rc == -ENAMETOOLONG)
		return op_fail(ctx, KMIP_REASON_ITEM_NOT_FOUND,
			       "Unique Identifier is longer than %d bytes, so no such object exists",
			       KS_ID_MAX - 1);
	return op_fail(ctx, KMIP_REASON_INVALID_FIELD, "Unique Identifier is not a valid text string");
}

int op_reply_id(struct kmip_buf *out, const char *id)
{
	size_t payload = kmip_enc_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	kmip_enc_text(out, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	kmip_enc_end(out, payload);
	return 0;
}

static bool version_supported(struct kmip_version v)
{
	for (size_t i = 0; i < SUPPORTED_VERSION_COUNT; i++) {
		if (supported_versions[i].major == v.major && supported_versions[i].minor == v.minor)
			return true;
	}
	return false;
}

// Discover Versions: the versions both sides support, in the server's
// order of preference, or all of the server's when the request lists none.
static int op_discover_versions(struct op_context *ctx, const struct kmip_item *payload,
				struct kmip_buf *out)
{
	bool offered[SUPPORTED_VERSION_COUNT] = { false };
	bool any = false;
	const struct kmip_item *pv = NULL;

	while ((pv = kmip_find_next(payload, KMIP_TAG_PROTOCOL_VERSION, pv)) != NULL) {
		struct kmip_version v;
		if (kmip_get_int(pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR, &v.major) != 0 ||
		    kmip_get_int(pv, KMIP_TAG_PROTOCOL_VERSION_MINOR, &v.minor) != 0)
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "Protocol Version needs integer Major and Minor fields");
		any = true;
		for (size_t i = 0; i < SUPPORTED_VERSION_COUNT; i++) {
			if (supported_versions[i].major == v.major &&
			    supported_versions[i].minor == v.minor)
				offered[i] = true;
		}
	}

	size_t start = kmip_enc_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	for (size_t i = 0; i < SUPPORTED_VERSION_COUNT; i++) {
		if (any && !offered[i])
			continue;
		size_t s = kmip_enc_begin(out, KMIP_TAG_PROTOCOL_VERSION);
		kmip_enc_int(out, KMIP_TAG_PROTOCOL_VERSION_MAJOR, supported_versions[i].major);
		kmip_enc_int(out, KMIP_TAG_PROTOCOL_VERSION_MINOR, supported_versions[i].minor);
		kmip_enc_end(out, s);
	}
	kmip_enc_end(out, start);
	return 0;
}

static const uint32_t supported_operations[] = {
	KMIP_OP_CREATE, KMIP_OP_REGISTER, KMIP_OP_LOCATE, KMIP_OP_CHECK, KMIP_OP_GET,
	KMIP_OP_GET_ATTRIBUTES, KMIP_OP_GET_ATTRIBUTE_LIST, KMIP_OP_ADD_ATTRIBUTE,
	KMIP_OP_MODIFY_ATTRIBUTE, KMIP_OP_DELETE_ATTRIBUTE, KMIP_OP_ACTIVATE,
	KMIP_OP_REVOKE, KMIP_OP_DESTROY, KMIP_OP_QUERY, KMIP_OP_DISCOVER_VERSIONS,
	KMIP_OP_ENCRYPT, KMIP_OP_DECRYPT,
};

// Query: operations, object types and server information; other query
// functions are ignored, as KMIP allows.
static int op_query(struct op_context *ctx, const struct kmip_item *payload,
		    struct kmip_buf *out)
{
	bool operations = false, objects = false, server = false;
	const struct kmip_item *fn = NULL;

	(void)ctx;
	while ((fn = kmip_find_next(payload, KMIP_TAG_QUERY_FUNCTION, fn)) != NULL) {
		if (fn->type != KMIP_TYPE_ENUMERATION)
			return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
				       "Query Function is not an enumeration");
		operations |= fn->v.enumeration == 1;
		objects |= fn->v.enumeration == 2;
		server |= fn->v.enumeration == 3;
	}

	size_t start = kmip_enc_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	if (operations) {
		for (size_t i = 0; i < sizeof(supported_operations) / sizeof(supported_operations[0]); i++)
			kmip_enc_enum(out, KMIP_TAG_OPERATION, supported_operations[i]);
	}
	if (objects) {
		kmip_enc_enum(out, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_SYMMETRIC_KEY);
		kmip_enc_enum(out, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_SECRET_DATA);
	}
	if (server) {
		kmip_enc_text(out, KMIP_TAG_VENDOR_IDENTIFICATION, "coffer " COFFER_VERSION);
		size_t info = kmip_enc_begin(out, KMIP_TAG_SERVER_INFORMATION);
		kmip_enc_end(out, info);
	}
	kmip_enc_end(out, start);
	return 0;
}

static op_handler find_handler(uint32_t operation)
{
	switch (operation) {
	case KMIP_OP_CREATE: return op_create;
	case KMIP_OP_REGISTER: return op_register;
	case KMIP_OP_LOCATE: return op_locate;
	case KMIP_OP_CHECK: return op_check;
	case KMIP_OP_GET: return op_get;
	case KMIP_OP_GET_ATTRIBUTES: return op_get_attributes;
	case KMIP_OP_GET_ATTRIBUTE_LIST: return op_get_attribute_list;
	case KMIP_OP_ADD_ATTRIBUTE: return op_add_attribute;
	case KMIP_OP_MODIFY_ATTRIBUTE: return op_modify_attribute;
	case KMIP_OP_DELETE_ATTRIBUTE: return op_delete_attribute;
	case KMIP_OP_ACTIVATE: return op_activate;
	case KMIP_OP_REVOKE: return op_revoke;
	case KMIP_OP_DESTROY: return op_destroy;
	case KMIP_OP_QUERY: return op_query;
	case KMIP_OP_DISCOVER_VERSIONS: return op_discover_versions;
	case KMIP_OP_ENCRYPT: return op_encrypt;
	case KMIP_OP_DECRYPT: return op_decrypt;
	default: return NULL;
	}
}

static void log_failure(const struct op_context *ctx, uint32_t operation)
{
	char identity[KS_OWNER_MAX + 8], message[OP_MESSAGE_MAX + 8];
	char op_name[64], reason[64];

	cf_log(CF_LOG_INFO, "kmip_failure", "identity=%s operation=%s reason=%s message=%s",
	       cf_log_quote(identity, sizeof(identity), ctx->caller->identity),
	       cf_log_quote(op_name, sizeof(op_name), kmip_operation_name(operation)),
	       cf_log_quote(reason, sizeof(reason), kmip_reason_name(ctx->reason)),
	       cf_log_quote(message, sizeof(message), ctx->message));
}

static bool changes_store(uint32_t operation)
{
	switch (operation) {
	case KMIP_OP_CREATE:
	case KMIP_OP_REGISTER:
	case KMIP_OP_ADD_ATTRIBUTE:
	case KMIP_OP_MODIFY_ATTRIBUTE:
	case KMIP_OP_DELETE_ATTRIBUTE:
	case KMIP_OP_ACTIVATE:
	case KMIP_OP_REVOKE:
	case KMIP_OP_DESTROY:
		return true;
	default:
		return false;
	}
}

// Runs one batch item and appends its response batch item to out.
static bool run_item(struct op_context *ctx, const struct kmip_request *req,
		     const struct kmip_request_item *item, struct kmip_buf *scratch,
		     struct kmip_buf *out)
{
	int rc;

	ctx->reason = KMIP_REASON_NONE;
	ctx->message[0] = '\0';
	kmip_buf_reset(scratch);

	op_handler handler = find_handler(item->operation);
	if (handler == NULL) {
		rc = op_fail(ctx, KMIP_REASON_OPERATION_NOT_SUPPORTED,
			     "operation 0x%02x is not supported by this server", item->operation);
	} else if (!version_supported(req->version) && item->operation != KMIP_OP_DISCOVER_VERSIONS) {
		rc = op_fail(ctx, KMIP_REASON_INVALID_MESSAGE,
			     "protocol version %d.%d is not supported; use 1.0 to 1.4",
			     req->version.major, req->version.minor);
	} else {
		static const struct kmip_item empty = { .type = KMIP_TYPE_STRUCTURE };
		rc = handler(ctx, item->payload != NULL ? item->payload : &empty, scratch);
		ctx->changed |= changes_store(item->operation);
		if (rc == 0 && kmip_buf_error(scratch) != 0)
			rc = op_fail(ctx, KMIP_REASON_RESPONSE_TOO_LARGE,
				     "the response payload exceeds the maximum message size");
		if (rc == 0 && req->max_response_size > 0 &&
		    scratch->size > (size_t)req->max_response_size)
			rc = op_fail(ctx, KMIP_REASON_RESPONSE_TOO_LARGE,
				     "the response payload has %zu bytes, more than the Maximum Response Size of %d",
				     scratch->size, req->max_response_size);
	}

	size_t start = kmip_enc_begin(out, KMIP_TAG_BATCH_ITEM);
	if (handler != NULL)
		kmip_enc_enum(out, KMIP_TAG_OPERATION, item->operation);
	if (item->batch_id != NULL)
		kmip_enc_item(out, item->batch_id);
	if (rc == 0) {
		kmip_enc_enum(out, KMIP_TAG_RESULT_STATUS, KMIP_STATUS_SUCCESS);
		kmip_enc_raw(out, scratch->data, scratch->size);
	} else {
		kmip_enc_enum(out, KMIP_TAG_RESULT_STATUS, KMIP_STATUS_OPERATION_FAILED);
		kmip_enc_enum(out, KMIP_TAG_RESULT_REASON, ctx->reason);
		kmip_enc_text(out, KMIP_TAG_RESULT_MESSAGE, ctx->message);
		// One line per request: a batch of many failing items would
		// otherwise flood the log.
		if (ctx->failures++ == 0)
			log_failure(ctx, item->operation);
	}
	kmip_enc_end(out, start);
	return rc == 0;
}

static int reply_error(struct kmip_version version, uint32_t reason, const char *text,
		       struct kmip_buf *response)
{
	kmip_buf_reset(response);
	size_t message = kmip_enc_response_start(response, version, cf_now(), 1);
	size_t item = kmip_enc_begin(response, KMIP_TAG_BATCH_ITEM);
	kmip_enc_enum(response, KMIP_TAG_RESULT_STATUS, KMIP_STATUS_OPERATION_FAILED);
	kmip_enc_enum(response, KMIP_TAG_RESULT_REASON, reason);
	kmip_enc_text(response, KMIP_TAG_RESULT_MESSAGE, text);
	kmip_enc_end(response, item);
	kmip_enc_end(response, message);
	return kmip_buf_error(response);
}

// Rewrites the Batch Count of a response started by kmip_enc_response_start.
static void patch_batch_count(struct kmip_buf *response, size_t message, int32_t count)
{
	// Response Message header (8), Response Header header (8), Protocol
	// Version (8 + 2 * 16), Time Stamp (16), Batch Count header (8).
	size_t offset = message + 8 + 8 + 40 + 16 + 8;
	if (kmip_buf_error(response) != 0 || offset + 4 > response->size)
		return;
	uint8_t *p = response->data + offset;
	p[0] = (uint8_t)((uint32_t)count >> 24);
	p[1] = (uint8_t)((uint32_t)count >> 16);
	p[2] = (uint8_t)((uint32_t)count >> 8);
	p[3] = (uint8_t)count;
}

int kms_handle_request(struct ks_store *store, const struct ks_caller *caller,
		       const uint8_t *request, size_t size, struct kmip_buf *response)
{
	return kms_handle_request_locked(store, NULL, caller, request, size, response);
}

int kms_handle_request_locked(struct ks_store *store, pthread_mutex_t *store_lock,
			      const struct ks_caller *caller, const uint8_t *request, size_t size,
			      struct kmip_buf *response)
{
	struct kmip_request req;
	struct cf_error err = { 0 };
	struct kmip_limits limits = { response->max_size, KMIP_DEFAULT_MAX_DEPTH };

	int rc = kmip_request_parse(request, size, &limits, &req, &err);
	if (rc == -ENOMEM)
		return rc;
	if (rc != 0) {
		char quoted[CF_ERROR_MAX + 8], identity[KS_OWNER_MAX + 8];
		cf_log(CF_LOG_WARN, "kmip_invalid_message", "identity=%s bytes=%zu error=%s",
		       cf_log_quote(identity, sizeof(identity), caller->identity), size,
		       cf_log_quote(quoted, sizeof(quoted), cf_error_message(&err, rc)));
		return reply_error(req.version, KMIP_REASON_INVALID_MESSAGE,
				   cf_error_message(&err, rc), response);
	}

	struct op_context ctx = { .store = store, .caller = caller, .version = req.version };
	struct kmip_buf scratch;
	kmip_buf_init(&scratch, response->max_size);

	kmip_buf_reset(response);
	size_t message = kmip_enc_response_start(response, req.version, cf_now(),
						 (int32_t)req.count);
	if (store_lock != NULL)
		pthread_mutex_lock(store_lock);
	size_t answered = 0;
	for (size_t i = 0; i < req.count; i++) {
		bool ok = run_item(&ctx, &req, &req.items[i], &scratch, response);
		answered++;
		if (!ok && req.batch_error_option != KMIP_BATCH_CONTINUE)
			break;
	}
	// Changes become durable before the response is sent, so a Create that
	// got its response survives power loss even when the store defers syncs.
	int sync_rc = ctx.changed ? ks_sync(store, &err) : 0;
	if (store_lock != NULL)
		pthread_mutex_unlock(store_lock);

	if (ctx.failures > 1)
		cf_log(CF_LOG_INFO, "kmip_failures", "batch_items=%zu failed=%zu", answered,
		       ctx.failures);
	patch_batch_count(response, message, (int32_t)answered);
	kmip_enc_end(response, message);

	kmip_buf_free(&scratch);
	kmip_request_free(&req);

	if (sync_rc != 0) {
		char quoted[CF_ERROR_MAX + 8];
		cf_log(CF_LOG_ERROR, "kms_sync_failed", "error=%s",
		       cf_log_quote(quoted, sizeof(quoted), cf_error_message(&err, sync_rc)));
		return reply_error(ctx.version, KMIP_REASON_GENERAL_FAILURE,
				   "the key store could not be synced to disk; retry the request",
				   response);
	}
	if (kmip_buf_error(response) == -EMSGSIZE)
		return reply_error(ctx.version, KMIP_REASON_RESPONSE_TOO_LARGE,
				   "the response exceeds the maximum message size; request fewer items per batch",
				   response);
	return kmip_buf_error(response);
}
