// SPDX-License-Identifier: Apache-2.0
// KMIP (Key Management Interoperability Protocol, OASIS, versions 1.0 to
// 1.4): the TTLV codec, request and response messages, a client and the
// server behind `coffer kms serve`. Tag and enumeration values are those of
// the KMIP 1.4 specification.

#ifndef COFFER_KMIP_H
#define COFFER_KMIP_H

#include <coffer/common.h>

// ---- TTLV ------------------------------------------------------------------

// Item types (KMIP 1.4, 9.1.1.2).
enum kmip_type {
	KMIP_TYPE_STRUCTURE = 0x01,
	KMIP_TYPE_INTEGER = 0x02,
	KMIP_TYPE_LONG_INTEGER = 0x03,
	KMIP_TYPE_BIG_INTEGER = 0x04,
	KMIP_TYPE_ENUMERATION = 0x05,
	KMIP_TYPE_BOOLEAN = 0x06,
	KMIP_TYPE_TEXT_STRING = 0x07,
	KMIP_TYPE_BYTE_STRING = 0x08,
	KMIP_TYPE_DATE_TIME = 0x09,
	KMIP_TYPE_INTERVAL = 0x0A,
};

// Tags used by coffer (KMIP 1.4, 9.1.3.1).
enum kmip_tag {
	KMIP_TAG_ACTIVATION_DATE = 0x420001,
	KMIP_TAG_ATTRIBUTE = 0x420008,
	KMIP_TAG_ATTRIBUTE_INDEX = 0x420009,
	KMIP_TAG_ATTRIBUTE_NAME = 0x42000A,
	KMIP_TAG_ATTRIBUTE_VALUE = 0x42000B,
	KMIP_TAG_AUTHENTICATION = 0x42000C,
	KMIP_TAG_BATCH_COUNT = 0x42000D,
	KMIP_TAG_BATCH_ERROR_CONTINUATION_OPTION = 0x42000E,
	KMIP_TAG_BATCH_ITEM = 0x42000F,
	KMIP_TAG_BATCH_ORDER_OPTION = 0x420010,
	KMIP_TAG_BLOCK_CIPHER_MODE = 0x420011,
	KMIP_TAG_COMPROMISE_OCCURRENCE_DATE = 0x420021,
	KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM = 0x420028,
	KMIP_TAG_CRYPTOGRAPHIC_LENGTH = 0x42002A,
	KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS = 0x42002B,
	KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK = 0x42002C,
	KMIP_TAG_DEACTIVATION_DATE = 0x42002F,
	KMIP_TAG_DESTROY_DATE = 0x420033,
	KMIP_TAG_INITIAL_DATE = 0x420039,
	KMIP_TAG_IV_COUNTER_NONCE = 0x42003D,
	KMIP_TAG_KEY_BLOCK = 0x420040,
	KMIP_TAG_KEY_COMPRESSION_TYPE = 0x420041,
	KMIP_TAG_KEY_FORMAT_TYPE = 0x420042,
	KMIP_TAG_KEY_MATERIAL = 0x420043,
	KMIP_TAG_KEY_VALUE = 0x420045,
	KMIP_TAG_KEY_WRAPPING_DATA = 0x420046,
	KMIP_TAG_KEY_WRAPPING_SPECIFICATION = 0x420047,
	KMIP_TAG_LAST_CHANGE_DATE = 0x420048,
	KMIP_TAG_MAXIMUM_ITEMS = 0x42004F,
	KMIP_TAG_MAXIMUM_RESPONSE_SIZE = 0x420050,
	KMIP_TAG_NAME = 0x420053,
	KMIP_TAG_NAME_TYPE = 0x420054,
	KMIP_TAG_NAME_VALUE = 0x420055,
	KMIP_TAG_OBJECT_GROUP = 0x420056,
	KMIP_TAG_OBJECT_TYPE = 0x420057,
	KMIP_TAG_OPERATION = 0x42005C,
	KMIP_TAG_PADDING_METHOD = 0x42005F,
	KMIP_TAG_PROTOCOL_VERSION = 0x420069,
	KMIP_TAG_PROTOCOL_VERSION_MAJOR = 0x42006A,
	KMIP_TAG_PROTOCOL_VERSION_MINOR = 0x42006B,
	KMIP_TAG_QUERY_FUNCTION = 0x420074,
	KMIP_TAG_REQUEST_HEADER = 0x420077,
	KMIP_TAG_REQUEST_MESSAGE = 0x420078,
	KMIP_TAG_REQUEST_PAYLOAD = 0x420079,
	KMIP_TAG_RESPONSE_HEADER = 0x42007A,
	KMIP_TAG_RESPONSE_MESSAGE = 0x42007B,
	KMIP_TAG_RESPONSE_PAYLOAD = 0x42007C,
	KMIP_TAG_RESULT_MESSAGE = 0x42007D,
	KMIP_TAG_RESULT_REASON = 0x42007E,
	KMIP_TAG_RESULT_STATUS = 0x42007F,
	KMIP_TAG_REVOCATION_MESSAGE = 0x420080,
	KMIP_TAG_REVOCATION_REASON = 0x420081,
	KMIP_TAG_REVOCATION_REASON_CODE = 0x420082,
	KMIP_TAG_SECRET_DATA = 0x420085,
	KMIP_TAG_SECRET_DATA_TYPE = 0x420086,
	KMIP_TAG_SERVER_INFORMATION = 0x420088,
	KMIP_TAG_STATE = 0x42008D,
	KMIP_TAG_SYMMETRIC_KEY = 0x42008F,
	KMIP_TAG_TEMPLATE_ATTRIBUTE = 0x420091,
	KMIP_TAG_TIME_STAMP = 0x420092,
	KMIP_TAG_UNIQUE_BATCH_ITEM_ID = 0x420093,
	KMIP_TAG_UNIQUE_IDENTIFIER = 0x420094,
	KMIP_TAG_VENDOR_IDENTIFICATION = 0x42009D,
	KMIP_TAG_DATA = 0x4200C2,
	KMIP_TAG_RANDOM_IV = 0x4200C5,
	KMIP_TAG_TAG_LENGTH = 0x4200CE,
	KMIP_TAG_LOCATED_ITEMS = 0x4200D5,
	KMIP_TAG_AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA = 0x4200FE,
	KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG = 0x4200FF,
};

// Default limits; the server and the client use these unless configured.
#define KMIP_DEFAULT_MAX_MESSAGE (1024 * 1024)
#define KMIP_DEFAULT_MAX_DEPTH 16
#define KMIP_HEADER_SIZE 8

struct kmip_limits {
	size_t max_message;   // bytes, including the outer 8-byte header
	unsigned max_depth;   // nesting levels, the outer structure is level 1
};

// A decoded item. Text, byte strings and big integers point into the
// buffer that was decoded, so that buffer must outlive the tree.
struct kmip_item {
	uint32_t tag;
	enum kmip_type type;
	union {
		int32_t integer;
		int64_t long_integer;    // also Date-Time, in seconds since the epoch
		uint32_t enumeration;    // also Interval, in seconds
		bool boolean;
		struct {
			const uint8_t *data; // not NUL-terminated
			size_t size;
		} bytes;                 // Text String, Byte String, Big Integer
		struct {
			struct kmip_item *items;
			size_t count;
		} structure;
	} v;
};

// Decodes one complete TTLV item (normally a request or response message)
// of exactly size bytes. It rejects wrong lengths for fixed-size types,
// non-zero padding, unknown types and Booleans other than 0 and 1. Text
// Strings are not checked for valid UTF-8. limits may be NULL for the
// defaults. Returns 0, -EMSGSIZE past limits->max_message, -ELOOP past
// limits->max_depth, -EBADMSG for malformed input, or -ENOMEM.
int kmip_decode(const uint8_t *data, size_t size, const struct kmip_limits *limits,
		struct kmip_item **root, struct cf_error *err);

// Frees a tree from kmip_decode. NULL is accepted.
void kmip_item_free(struct kmip_item *root);

// Reads the 8-byte header of a message and returns its total size (header
// included) in total. Returns -EBADMSG when it is not a Structure or when
// the tag is not expected_tag, -EMSGSIZE when it exceeds max_message.
int kmip_frame_size(const uint8_t header[KMIP_HEADER_SIZE], uint32_t expected_tag,
		    size_t max_message, size_t *total, struct cf_error *err);

// Returns the first child of structure with tag (after the child `after`
// when it is not NULL), or NULL. structure may be NULL or of another type.
const struct kmip_item *kmip_find(const struct kmip_item *structure, uint32_t tag);
const struct kmip_item *kmip_find_next(const struct kmip_item *structure, uint32_t tag,
				       const struct kmip_item *after);

// Typed lookups of a child: return 0, -ENOENT when it is missing, or
// -EBADMSG when it has another type.
int kmip_get_int(const struct kmip_item *structure, uint32_t tag, int32_t *value);
int kmip_get_enum(const struct kmip_item *structure, uint32_t tag, uint32_t *value);
int kmip_get_long(const struct kmip_item *structure, uint32_t tag, int64_t *value);
int kmip_get_bool(const struct kmip_item *structure, uint32_t tag, bool *value);
int kmip_get_datetime(const struct kmip_item *structure, uint32_t tag, int64_t *value);
// Copies a Text String child into text as a NUL-terminated string; -ENAMETOOLONG
// when it does not fit, -EBADMSG when it contains a NUL byte.
int kmip_get_text(const struct kmip_item *structure, uint32_t tag, char *text, size_t size);
int kmip_get_bytes(const struct kmip_item *structure, uint32_t tag,
		   const uint8_t **data, size_t *size);

// An encoding buffer. Errors are sticky: after the first failure every
// call is ignored and kmip_buf_error returns it. kmip_buf_free wipes the
// contents, because responses carry key material.
struct kmip_buf {
	uint8_t *data;
	size_t size;
	size_t capacity;
	size_t max_size;
	int error;
};

void kmip_buf_init(struct kmip_buf *buf, size_t max_size);
void kmip_buf_free(struct kmip_buf *buf);
void kmip_buf_reset(struct kmip_buf *buf);
int kmip_buf_error(const struct kmip_buf *buf);

// Starts a Structure and returns its offset for kmip_enc_end.
size_t kmip_enc_begin(struct kmip_buf *buf, uint32_t tag);
void kmip_enc_end(struct kmip_buf *buf, size_t offset);
void kmip_enc_int(struct kmip_buf *buf, uint32_t tag, int32_t value);
void kmip_enc_long(struct kmip_buf *buf, uint32_t tag, int64_t value);
// value is the two's complement, big-endian, and is sign-extended to a
// multiple of 8 bytes.
void kmip_enc_bigint(struct kmip_buf *buf, uint32_t tag, const uint8_t *value, size_t size);
void kmip_enc_enum(struct kmip_buf *buf, uint32_t tag, uint32_t value);
void kmip_enc_bool(struct kmip_buf *buf, uint32_t tag, bool value);
void kmip_enc_text(struct kmip_buf *buf, uint32_t tag, const char *text);
void kmip_enc_text_n(struct kmip_buf *buf, uint32_t tag, const char *text, size_t size);
void kmip_enc_bytes(struct kmip_buf *buf, uint32_t tag, const uint8_t *data, size_t size);
void kmip_enc_datetime(struct kmip_buf *buf, uint32_t tag, int64_t seconds);
void kmip_enc_interval(struct kmip_buf *buf, uint32_t tag, uint32_t seconds);
// Appends an item decoded earlier (with its children) unchanged.
void kmip_enc_item(struct kmip_buf *buf, const struct kmip_item *item);
// Appends bytes that already are one or more complete TTLV items.
void kmip_enc_raw(struct kmip_buf *buf, const uint8_t *data, size_t size);

// ---- messages ----------------------------------------------------------------

enum kmip_operation {
	KMIP_OP_CREATE = 0x01,
	KMIP_OP_REGISTER = 0x03,
	KMIP_OP_LOCATE = 0x08,
	KMIP_OP_CHECK = 0x09,
	KMIP_OP_GET = 0x0A,
	KMIP_OP_GET_ATTRIBUTES = 0x0B,
	KMIP_OP_GET_ATTRIBUTE_LIST = 0x0C,
	KMIP_OP_ADD_ATTRIBUTE = 0x0D,
	KMIP_OP_MODIFY_ATTRIBUTE = 0x0E,
	KMIP_OP_DELETE_ATTRIBUTE = 0x0F,
	KMIP_OP_ACTIVATE = 0x12,
	KMIP_OP_REVOKE = 0x13,
	KMIP_OP_DESTROY = 0x14,
	KMIP_OP_QUERY = 0x18,
	KMIP_OP_DISCOVER_VERSIONS = 0x1E,
	KMIP_OP_ENCRYPT = 0x1F,
	KMIP_OP_DECRYPT = 0x20,
};

enum kmip_result_status {
	KMIP_STATUS_SUCCESS = 0,
	KMIP_STATUS_OPERATION_FAILED = 1,
	KMIP_STATUS_OPERATION_PENDING = 2,
	KMIP_STATUS_OPERATION_UNDONE = 3,
};

enum kmip_result_reason {
	KMIP_REASON_NONE = 0, // not a KMIP value: the response carried no reason
	KMIP_REASON_ITEM_NOT_FOUND = 0x01,
	KMIP_REASON_RESPONSE_TOO_LARGE = 0x02,
	KMIP_REASON_AUTHENTICATION_NOT_SUCCESSFUL = 0x03,
	KMIP_REASON_INVALID_MESSAGE = 0x04,
	KMIP_REASON_OPERATION_NOT_SUPPORTED = 0x05,
	KMIP_REASON_MISSING_DATA = 0x06,
	KMIP_REASON_INVALID_FIELD = 0x07,
	KMIP_REASON_FEATURE_NOT_SUPPORTED = 0x08,
	KMIP_REASON_CRYPTOGRAPHIC_FAILURE = 0x0A,
	KMIP_REASON_ILLEGAL_OPERATION = 0x0B,
	KMIP_REASON_PERMISSION_DENIED = 0x0C,
	KMIP_REASON_INDEX_OUT_OF_BOUNDS = 0x0E,
	KMIP_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED = 0x10,
	KMIP_REASON_GENERAL_FAILURE = 0x100,
};

// Batch Error Continuation Option values.
enum kmip_batch_error_option {
	KMIP_BATCH_CONTINUE = 1,
	KMIP_BATCH_STOP = 2,
	KMIP_BATCH_UNDO = 3,
};

// Most batch items accepted in one request; more get Invalid Message.
#define KMIP_MAX_BATCH_ITEMS 1000

struct kmip_version {
	int32_t major;
	int32_t minor;
};

struct kmip_request_item {
	uint32_t operation;
	const struct kmip_item *batch_id; // Unique Batch Item ID, or NULL
	const struct kmip_item *payload;  // Request Payload, or NULL
};

struct kmip_request {
	struct kmip_item *root;
	struct kmip_version version;
	int32_t max_response_size;        // 0 when the header has none
	uint32_t batch_error_option;      // KMIP_BATCH_STOP when absent
	size_t count;
	struct kmip_request_item *items;
};

// Parses a Request Message. On failure, req->version contains the
// protocol version when the header could be read (else 1.0), so the error
// response can use it. Returns 0, -EBADMSG (not a valid request), -EMSGSIZE,
// -ELOOP or -ENOMEM. The tree points into data.
int kmip_request_parse(const uint8_t *data, size_t size, const struct kmip_limits *limits,
		       struct kmip_request *req, struct cf_error *err);
void kmip_request_free(struct kmip_request *req);

struct kmip_response_item {
	uint32_t operation;               // 0 when the item has none
	const struct kmip_item *batch_id;
	uint32_t status;
	uint32_t reason;                  // KMIP_REASON_NONE when absent
	const struct kmip_item *message;  // Result Message (Text String) or NULL
	const struct kmip_item *payload;
};

struct kmip_response {
	struct kmip_item *root;
	struct kmip_version version;
	int64_t time_stamp;
	size_t count;
	struct kmip_response_item *items;
};

int kmip_response_parse(const uint8_t *data, size_t size, const struct kmip_limits *limits,
			struct kmip_response *resp, struct cf_error *err);
void kmip_response_free(struct kmip_response *resp);

// Writes a Request Header with the given version and batch count and
// returns the offset of the Request Message for kmip_enc_end.
size_t kmip_enc_request_start(struct kmip_buf *buf, struct kmip_version version,
			      int32_t batch_count);
size_t kmip_enc_response_start(struct kmip_buf *buf, struct kmip_version version,
			       int64_t time_stamp, int32_t batch_count);

const char *kmip_operation_name(uint32_t operation);
const char *kmip_state_name(uint32_t state);
const char *kmip_reason_name(uint32_t reason);

// ---- client ----------------------------------------------------------------
// A KMIP client over mutual TLS. It connects on first use, keeps the
// connection for later requests, and reconnects once when a reused
// connection turns out to be closed. A handle is used by one thread at a time.

#define KMIP_ID_MAX 64

struct kmip_client;
struct ca_renewer;

struct kmip_client_options {
	const char *host;        // IP address or DNS name
	const char *port;        // default "5696"
	const char *cert_path;   // client certificate (PEM)
	const char *key_path;    // client private key (PEM)
	const char *ca_path;     // CA bundle for the server certificate
	int timeout_ms;          // connect and per-request timeout; default 10000
	// Microseconds to poll for each response before sleeping, while fewer
	// clients of the process wait than there are CPUs. On a lightly loaded
	// machine, this saves the cost of waking an idle CPU. 0 (default)
	// sleeps at once.
	int busy_poll_us;
	struct kmip_version version; // default 1.4
	// When set, each new connection takes its TLS context from this renewer
	// (a certificate from coffer's CA, renewed in the background).
	struct ca_renewer *renewer;
};

int kmip_client_new(struct kmip_client **client, const struct kmip_client_options *options,
		    struct cf_error *err);
void kmip_client_free(struct kmip_client *client);

// Sends a complete request message and parses the response into resp,
// which the caller frees with kmip_response_free. resp points into a buffer
// the client keeps until the next call. Returns 0 (even when batch items
// failed: check resp->items), or -ECONNREFUSED, -ETIMEDOUT, -EPROTO,
// -EBADMSG and the like when no valid response arrived.
int kmip_client_call(struct kmip_client *client, const struct kmip_buf *request,
		     struct kmip_response *resp, struct cf_error *err);

// Maps a failed batch item to a negative errno and records its reason and
// message in err. Returns 0 for a successful item.
int kmip_result_error(const struct kmip_response_item *item, struct cf_error *err);

// Creates an AES key of bits (128, 192 or 256) with an optional Name, and
// activates it when activate is set (in the same batch).
int kmip_client_create(struct kmip_client *client, int bits, const char *name,
		       bool activate, char id[KMIP_ID_MAX], struct cf_error *err);
// Fetches key material into a buffer from cf_secure_alloc.
int kmip_client_get(struct kmip_client *client, const char *id, uint8_t **material,
		    size_t *size, struct cf_error *err);
int kmip_client_activate(struct kmip_client *client, const char *id, struct cf_error *err);
// Adds a Text String instance of a custom attribute (name starts with x-).
int kmip_client_add_text_attribute(struct kmip_client *client, const char *id, const char *name,
				   const char *text, struct cf_error *err);
// reason_code is a KMIP Revocation Reason Code (6: Cessation of Operation).
int kmip_client_revoke(struct kmip_client *client, const char *id, uint32_t reason_code,
		       struct cf_error *err);
int kmip_client_destroy(struct kmip_client *client, const char *id, struct cf_error *err);
// Finds the ids of the caller's objects whose Name is name; count receives
// how many were written to ids (at most max).
int kmip_client_locate_name(struct kmip_client *client, const char *name,
			    char (*ids)[KMIP_ID_MAX], size_t max, size_t *count,
			    struct cf_error *err);
// Reads the State attribute (KMIP State enumeration).
int kmip_client_get_state(struct kmip_client *client, const char *id, uint32_t *state,
			  struct cf_error *err);

#endif
