// SPDX-License-Identifier: Apache-2.0
// KMIP Encrypt and Decrypt with an Active AES key held by the server:
// AES-GCM (12-byte nonce by default, tag of 4 to 16 bytes, additional
// authenticated data) and AES-CBC with PKCS#5 padding or none. Single-part
// requests only; the streaming fields of KMIP 1.3 are rejected.

#include "service.h"

#include <errno.h>
#include <string.h>

#include <coffer/crypto.h>

#include <openssl/evp.h>

#define GCM_DEFAULT_NONCE 12
#define GCM_DEFAULT_TAG 16
#define CBC_IV_SIZE 16

struct cipher_request {
	char id[KS_ID_MAX];
	uint32_t mode;
	uint32_t padding;
	int32_t tag_length;
	const uint8_t *data;
	size_t data_size;
	const uint8_t *iv;
	size_t iv_size;
	const uint8_t *aad;
	size_t aad_size;
	const uint8_t *tag;
	size_t tag_size;
};

static int parse_cipher_request(struct op_context *ctx, const struct kmip_item *payload,
				bool decrypt, struct cipher_request *r)
{
	memset(r, 0, sizeof(*r));
	if (op_get_id(ctx, payload, r->id) != 0)
		return -1;
	if (kmip_find(payload, 0x4200D6) != NULL || kmip_find(payload, 0x4200D7) != NULL ||
	    kmip_find(payload, 0x4200D8) != NULL)
		return op_fail(ctx, KMIP_REASON_FEATURE_NOT_SUPPORTED,
			       "streaming (Correlation Value, Init or Final Indicator) is not supported");

	const struct kmip_item *params = kmip_find(payload, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
	if (kmip_get_enum(params, KMIP_TAG_BLOCK_CIPHER_MODE, &r->mode) != 0)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA,
			       "Cryptographic Parameters need a Block Cipher Mode (CBC 1 or GCM 9)");
	if (r->mode != KMIP_MODE_CBC && r->mode != KMIP_MODE_GCM)
		return op_fail(ctx, KMIP_REASON_FEATURE_NOT_SUPPORTED,
			       "Block Cipher Mode %u is not supported; use CBC (1) or GCM (9)", r->mode);
	if (r->mode == KMIP_MODE_GCM && ctx->version.major == 1 && ctx->version.minor < 4)
		return op_fail(ctx, KMIP_REASON_FEATURE_NOT_SUPPORTED,
			       "AES-GCM needs KMIP 1.4 or later, which added the Authenticated Encryption Tag");
	uint32_t algorithm = KMIP_ALGORITHM_AES;
	kmip_get_enum(params, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, &algorithm);
	if (algorithm != KMIP_ALGORITHM_AES)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "Cryptographic Algorithm %u is not supported; use AES (3)", algorithm);
	r->padding = r->mode == KMIP_MODE_CBC ? KMIP_PADDING_PKCS5 : KMIP_PADDING_NONE;
	kmip_get_enum(params, KMIP_TAG_PADDING_METHOD, &r->padding);
	if (r->mode == KMIP_MODE_CBC && r->padding != KMIP_PADDING_PKCS5 &&
	    r->padding != KMIP_PADDING_NONE)
		return op_fail(ctx, KMIP_REASON_FEATURE_NOT_SUPPORTED,
			       "Padding Method %u is not supported with CBC; use PKCS5 (3) or None (1)",
			       r->padding);
	r->tag_length = GCM_DEFAULT_TAG;
	kmip_get_int(params, KMIP_TAG_TAG_LENGTH, &r->tag_length);
	if (r->tag_length < 4 || r->tag_length > 16)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "Tag Length %d is invalid; use 4 to 16 bytes", r->tag_length);

	if (kmip_get_bytes(payload, KMIP_TAG_DATA, &r->data, &r->data_size) != 0)
		return op_fail(ctx, KMIP_REASON_MISSING_DATA, "the request has no Data byte string");
	kmip_get_bytes(payload, KMIP_TAG_IV_COUNTER_NONCE, &r->iv, &r->iv_size);
	kmip_get_bytes(payload, KMIP_TAG_AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA, &r->aad,
		       &r->aad_size);
	if (decrypt) {
		if (r->iv == NULL)
			return op_fail(ctx, KMIP_REASON_MISSING_DATA,
				       "Decrypt needs the IV/Counter/Nonce used for encryption");
		if (r->mode == KMIP_MODE_GCM &&
		    kmip_get_bytes(payload, KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG, &r->tag,
				   &r->tag_size) != 0)
			return op_fail(ctx, KMIP_REASON_MISSING_DATA,
				       "GCM decryption needs an Authenticated Encryption Tag");
	}
	if (r->mode == KMIP_MODE_CBC && r->iv != NULL && r->iv_size != CBC_IV_SIZE)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "CBC needs a %d-byte IV, not %zu bytes", CBC_IV_SIZE, r->iv_size);
	if (r->mode == KMIP_MODE_GCM && r->iv != NULL && (r->iv_size == 0 || r->iv_size > 128))
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "GCM nonce of %zu bytes is invalid; use 1 to 128 (12 recommended)",
			       r->iv_size);
	return 0;
}

static int read_mask(const char *name, int index, const uint8_t *value, size_t size, void *arg)
{
	struct kmip_item *item = NULL;

	(void)name;
	(void)index;
	if (kmip_decode(value, size, NULL, &item, NULL) == 0 && item->type == KMIP_TYPE_INTEGER)
		*(int64_t *)arg = item->v.integer;
	kmip_item_free(item);
	return 0;
}

// Fetches the key for an operation: it must be an Active AES key whose
// Cryptographic Usage Mask, when set, allows the operation.
static int fetch_key(struct op_context *ctx, const char *id, uint32_t usage, uint8_t **key,
		     size_t *key_size)
{
	struct ks_object_info info;
	struct cf_error err = { 0 };

	int rc = ks_get_info(ctx->store, ctx->caller, id, &info, &err);
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, id);
	if (info.type != KS_SYMMETRIC_KEY || info.algorithm != KS_ALG_AES)
		return op_fail(ctx, KMIP_REASON_ILLEGAL_OPERATION, "object %s is not an AES key", id);
	if (info.state != KS_ACTIVE)
		return op_fail(ctx, KMIP_REASON_ILLEGAL_OPERATION,
			       "key %s is not Active; activate it before using it", id);

	int64_t mask = -1;
	ks_attr_foreach(ctx->store, ctx->caller, id, "Cryptographic Usage Mask", read_mask, &mask,
			NULL);
	if (mask >= 0 && ((uint32_t)mask & usage) == 0)
		return op_fail(ctx, KMIP_REASON_PERMISSION_DENIED,
			       "Cryptographic Usage Mask 0x%x of key %s does not allow this operation",
			       (unsigned)mask, id);

	rc = ks_get_material(ctx->store, ctx->caller, id, key, key_size, &err);
	if (rc != 0)
		return op_store_fail(ctx, rc, &err, id);
	return 0;
}

static const EVP_CIPHER *select_cipher(uint32_t mode, size_t key_size)
{
	if (mode == KMIP_MODE_GCM) {
		switch (key_size) {
		case 16: return EVP_aes_128_gcm();
		case 24: return EVP_aes_192_gcm();
		case 32: return EVP_aes_256_gcm();
		}
	} else {
		switch (key_size) {
		case 16: return EVP_aes_128_cbc();
		case 24: return EVP_aes_192_cbc();
		case 32: return EVP_aes_256_cbc();
		}
	}
	return NULL;
}

// Runs the cipher over r->data into out (which has room for data plus one
// block) and sets *out_size. For GCM encryption, writes the tag to tag.
static int run_cipher(const struct cipher_request *r, bool decrypt, const uint8_t *key,
		      size_t key_size, const uint8_t *iv, size_t iv_size, uint8_t *out,
		      size_t *out_size, uint8_t *tag)
{
	const EVP_CIPHER *cipher = select_cipher(r->mode, key_size);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int rc = -EIO, n = 0, final = 0;

	if (cipher == NULL || c == NULL)
		goto out;
	if (EVP_CipherInit_ex(c, cipher, NULL, NULL, NULL, decrypt ? 0 : 1) != 1)
		goto out;
	if (r->mode == KMIP_MODE_GCM &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)iv_size, NULL) != 1)
		goto out;
	if (EVP_CipherInit_ex(c, NULL, NULL, key, iv, -1) != 1)
		goto out;
	if (r->mode == KMIP_MODE_CBC)
		EVP_CIPHER_CTX_set_padding(c, r->padding == KMIP_PADDING_PKCS5 ? 1 : 0);
	if (r->mode == KMIP_MODE_GCM && r->aad_size > 0 &&
	    EVP_CipherUpdate(c, NULL, &n, r->aad, (int)r->aad_size) != 1)
		goto out;
	if (decrypt && r->mode == KMIP_MODE_GCM &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, (int)r->tag_size, (void *)r->tag) != 1)
		goto out;
	if (EVP_CipherUpdate(c, out, &n, r->data, (int)r->data_size) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &final) != 1) {
		rc = -EBADMSG;
		goto out;
	}
	if (!decrypt && r->mode == KMIP_MODE_GCM &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, r->tag_length, tag) != 1)
		goto out;
	*out_size = (size_t)n + (size_t)final;
	rc = 0;

out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

static int cipher_operation(struct op_context *ctx, const struct kmip_item *payload,
			    struct kmip_buf *out, bool decrypt)
{
	struct cipher_request r;
	uint8_t *key = NULL, *result = NULL;
	size_t key_size = 0, result_size = 0;
	uint8_t generated_iv[CBC_IV_SIZE];
	uint8_t tag[16];
	int rc;

	if (parse_cipher_request(ctx, payload, decrypt, &r) != 0)
		return -1;
	if (r.data_size > INT32_MAX - 32)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD, "Data is too large");
	if (r.mode == KMIP_MODE_CBC && r.padding == KMIP_PADDING_NONE && r.data_size % 16 != 0)
		return op_fail(ctx, KMIP_REASON_INVALID_FIELD,
			       "CBC without padding needs Data in multiples of 16 bytes, not %zu",
			       r.data_size);
	if (fetch_key(ctx, r.id, decrypt ? KMIP_USAGE_DECRYPT : KMIP_USAGE_ENCRYPT, &key,
		      &key_size) != 0)
		return -1;

	const uint8_t *iv = r.iv;
	size_t iv_size = r.iv_size;
	bool send_iv = false;
	if (iv == NULL) {
		iv_size = r.mode == KMIP_MODE_GCM ? GCM_DEFAULT_NONCE : CBC_IV_SIZE;
		if (cf_random(generated_iv, iv_size) != 0) {
			rc = op_fail(ctx, KMIP_REASON_CRYPTOGRAPHIC_FAILURE, "random IV generation failed");
			goto out;
		}
		iv = generated_iv;
		send_iv = true;
	}

	result = cf_secure_alloc(r.data_size + 32);
	if (result == NULL) {
		rc = op_fail(ctx, KMIP_REASON_GENERAL_FAILURE,
			     "out of locked memory for %zu bytes of data", r.data_size);
		goto out;
	}
	rc = run_cipher(&r, decrypt, key, key_size, iv, iv_size, result, &result_size, tag);
	if (rc == -EBADMSG) {
		rc = op_fail(ctx, KMIP_REASON_CRYPTOGRAPHIC_FAILURE,
			     decrypt ? "decryption with key %s failed: wrong key, IV, tag or padding"
				     : "encryption with key %s failed",
			     r.id);
		goto out;
	}
	if (rc != 0) {
		rc = op_fail(ctx, KMIP_REASON_CRYPTOGRAPHIC_FAILURE, "cipher setup for key %s failed",
			     r.id);
		goto out;
	}

	size_t start = kmip_enc_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	kmip_enc_text(out, KMIP_TAG_UNIQUE_IDENTIFIER, r.id);
	kmip_enc_bytes(out, KMIP_TAG_DATA, result, result_size);
	if (send_iv)
		kmip_enc_bytes(out, KMIP_TAG_IV_COUNTER_NONCE, iv, iv_size);
	if (!decrypt && r.mode == KMIP_MODE_GCM)
		kmip_enc_bytes(out, KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG, tag, (size_t)r.tag_length);
	kmip_enc_end(out, start);
	rc = 0;

out:
	if (result != NULL) {
		cf_wipe(result, r.data_size + 32);
		cf_secure_free(result);
	}
	cf_secure_free(key);
	return rc;
}

int op_encrypt(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out)
{
	return cipher_operation(ctx, payload, out, false);
}

int op_decrypt(struct op_context *ctx, const struct kmip_item *payload, struct kmip_buf *out)
{
	return cipher_operation(ctx, payload, out, true);
}
