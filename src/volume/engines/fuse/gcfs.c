// SPDX-License-Identifier: Apache-2.0
// The gocryptfs format on OpenSSL: GCM contexts with a 128-bit IV for
// content, AES-256-ECB for the EME name mode, HKDF-SHA256 for the keys.
// Every function that reads on-disk bytes checks lengths before use.

#include "gcfs.h"

#include <coffer/common.h>
#include <coffer/crypto.h>

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

// HKDF info strings of gocryptfs: they separate the content key from the
// name key, so neither reveals the other.
static const char INFO_CONTENT[] = "AES-GCM file content encryption";
static const char INFO_NAMES[] = "EME filename encryption";

// EME handles at most 128 blocks of 16 bytes.
#define EME_MAX_BLOCKS 128

struct gcfs_ctx {
	EVP_CIPHER_CTX *gcm_seal;
	EVP_CIPHER_CTX *gcm_open;
	EVP_CIPHER_CTX *ecb_encrypt;
	EVP_CIPHER_CTX *ecb_decrypt;
	// L multiplied by 2^1 .. 2^128 for the current key, with L = E(0).
	uint8_t l_table[EME_MAX_BLOCKS][16];
};

int gcfs_keys_new(struct gcfs_keys **keys, const uint8_t master[GCFS_MASTER_KEY_SIZE])
{
	struct gcfs_keys *k = cf_secure_alloc(sizeof(*k));
	if (k == NULL)
		return -ENOMEM;

	int rc = cf_hkdf("SHA256", NULL, 0, master, GCFS_MASTER_KEY_SIZE,
			 (const uint8_t *)INFO_CONTENT, strlen(INFO_CONTENT),
			 k->content, sizeof(k->content));
	if (rc == 0)
		rc = cf_hkdf("SHA256", NULL, 0, master, GCFS_MASTER_KEY_SIZE,
			     (const uint8_t *)INFO_NAMES, strlen(INFO_NAMES),
			     k->name, sizeof(k->name));
	if (rc != 0) {
		cf_secure_free(k);
		return rc;
	}
	*keys = k;
	return 0;
}

void gcfs_keys_free(struct gcfs_keys *keys)
{
	cf_secure_free(keys);
}

// Doubles x in GF(2^128) with byte 0 least significant, as EME defines.
static void gf_double(uint8_t out[16], const uint8_t in[16])
{
	uint8_t carry = in[15] >> 7;
	for (int i = 15; i > 0; i--)
		out[i] = (uint8_t)((in[i] << 1) | (in[i - 1] >> 7));
	out[0] = (uint8_t)(in[0] << 1);
	if (carry)
		out[0] ^= 0x87;
}

static int ecb_run(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t size, uint8_t *out)
{
	int len = 0;
	if (EVP_CipherUpdate(ctx, out, &len, in, (int)size) != 1 || (size_t)len != size)
		return -EIO;
	return 0;
}

static int gcm_context(EVP_CIPHER_CTX **out, int encrypt, const uint8_t *key)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCFS_NONCE_SIZE, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, encrypt) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return -EIO;
	}
	*out = ctx;
	return 0;
}

static int ecb_context(EVP_CIPHER_CTX **out, int encrypt, const uint8_t *key)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_ecb(), NULL, key, NULL, encrypt) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return -EIO;
	}
	*out = ctx;
	return 0;
}

// NOTE: OpenSSL keeps the expanded AES key schedules of these contexts in
// its ordinary heap, which is not locked in RAM. EVP_CIPHER_CTX_free wipes
// them when the context is freed.
int gcfs_ctx_new(struct gcfs_ctx **out, const struct gcfs_keys *keys)
{
	struct gcfs_ctx *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return -ENOMEM;

	int rc = gcm_context(&ctx->gcm_seal, 1, keys->content);
	if (rc == 0)
		rc = gcm_context(&ctx->gcm_open, 0, keys->content);
	if (rc == 0)
		rc = ecb_context(&ctx->ecb_encrypt, 1, keys->name);
	if (rc == 0)
		rc = ecb_context(&ctx->ecb_decrypt, 0, keys->name);
	if (rc != 0) {
		gcfs_ctx_free(ctx);
		return rc;
	}

	uint8_t zero[16] = { 0 }, l[16];
	rc = ecb_run(ctx->ecb_encrypt, zero, sizeof(zero), l);
	if (rc != 0) {
		gcfs_ctx_free(ctx);
		return rc;
	}
	for (int i = 0; i < EME_MAX_BLOCKS; i++) {
		gf_double(l, l);
		memcpy(ctx->l_table[i], l, 16);
	}
	cf_wipe(l, sizeof(l));
	*out = ctx;
	return 0;
}

void gcfs_ctx_free(struct gcfs_ctx *ctx)
{
	if (ctx == NULL)
		return;
	EVP_CIPHER_CTX_free(ctx->gcm_seal);
	EVP_CIPHER_CTX_free(ctx->gcm_open);
	EVP_CIPHER_CTX_free(ctx->ecb_encrypt);
	EVP_CIPHER_CTX_free(ctx->ecb_decrypt);
	cf_wipe(ctx->l_table, sizeof(ctx->l_table));
	free(ctx);
}

// ---- file header -----------------------------------------------------------

void gcfs_header_encode(uint8_t out[GCFS_HEADER_SIZE], const uint8_t file_id[GCFS_FILE_ID_SIZE])
{
	out[0] = (uint8_t)(GCFS_HEADER_VERSION >> 8);
	out[1] = (uint8_t)(GCFS_HEADER_VERSION & 0xff);
	memcpy(out + 2, file_id, GCFS_FILE_ID_SIZE);
}

static bool all_zero(const uint8_t *data, size_t size)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < size; i++)
		acc |= data[i];
	return acc == 0;
}

int gcfs_header_decode(const uint8_t *in, size_t size, uint8_t file_id[GCFS_FILE_ID_SIZE])
{
	if (size < GCFS_HEADER_SIZE)
		return -EINVAL;
	unsigned version = ((unsigned)in[0] << 8) | in[1];
	if (version != GCFS_HEADER_VERSION)
		return -EPROTO;
	if (all_zero(in + 2, GCFS_FILE_ID_SIZE))
		return -EPROTO;
	memcpy(file_id, in + 2, GCFS_FILE_ID_SIZE);
	return 0;
}

// ---- content blocks --------------------------------------------------------

int64_t gcfs_plain_size(uint64_t cipher_size)
{
	if (cipher_size == 0)
		return 0;
	if (cipher_size < GCFS_HEADER_SIZE)
		return -EINVAL;

	uint64_t body = cipher_size - GCFS_HEADER_SIZE;
	uint64_t blocks = body / GCFS_CIPHER_BLOCK_SIZE;
	uint64_t rest = body % GCFS_CIPHER_BLOCK_SIZE;
	if (rest != 0 && rest <= GCFS_BLOCK_OVERHEAD)
		return -EINVAL;

	uint64_t plain = blocks * GCFS_BLOCK_SIZE;
	if (rest != 0)
		plain += rest - GCFS_BLOCK_OVERHEAD;
	return (int64_t)plain;
}

uint64_t gcfs_cipher_size(uint64_t plain_size)
{
	if (plain_size == 0)
		return 0;
	uint64_t blocks = plain_size / GCFS_BLOCK_SIZE;
	uint64_t rest = plain_size % GCFS_BLOCK_SIZE;
	uint64_t size = GCFS_HEADER_SIZE + blocks * GCFS_CIPHER_BLOCK_SIZE;
	if (rest != 0)
		size += rest + GCFS_BLOCK_OVERHEAD;
	return size;
}

// Additional data of a block: its number as 8 big-endian bytes, then the
// file id, so a block cannot move within a file or to another file.
static size_t block_aad(uint8_t aad[8 + GCFS_FILE_ID_SIZE], uint64_t block_no,
			const uint8_t *file_id)
{
	for (int i = 7; i >= 0; i--) {
		aad[i] = (uint8_t)(block_no & 0xff);
		block_no >>= 8;
	}
	if (file_id == NULL)
		return 8;
	memcpy(aad + 8, file_id, GCFS_FILE_ID_SIZE);
	return 8 + GCFS_FILE_ID_SIZE;
}

int gcfs_block_seal(struct gcfs_ctx *ctx, uint64_t block_no, const uint8_t *file_id,
		    const uint8_t nonce[GCFS_NONCE_SIZE], const uint8_t *plain,
		    size_t plain_size, uint8_t *out)
{
	uint8_t aad[8 + GCFS_FILE_ID_SIZE];
	size_t aad_size = block_aad(aad, block_no, file_id);
	EVP_CIPHER_CTX *c = ctx->gcm_seal;
	int len = 0;

	if (plain_size == 0 || plain_size > GCFS_BLOCK_SIZE)
		return -EINVAL;

	memcpy(out, nonce, GCFS_NONCE_SIZE);
	uint8_t *body = out + GCFS_NONCE_SIZE;
	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &len, aad, (int)aad_size) != 1 ||
	    EVP_EncryptUpdate(c, body, &len, plain, (int)plain_size) != 1 ||
	    EVP_EncryptFinal_ex(c, body + len, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCFS_TAG_SIZE, body + plain_size) != 1)
		return -EIO;
	return 0;
}

int gcfs_block_open(struct gcfs_ctx *ctx, uint64_t block_no, const uint8_t *file_id,
		    const uint8_t *cipher, size_t cipher_size, uint8_t *plain,
		    size_t *plain_size)
{
	if (cipher_size <= GCFS_BLOCK_OVERHEAD || cipher_size > GCFS_CIPHER_BLOCK_SIZE)
		return -EINVAL;

	// Only holes have a zero nonce, so the whole block is checked for
	// zeros only when its nonce is zero. A hole made by truncate or a
	// sparse write reads back as zeros. A zero nonce in a partial or
	// nonzero block is damaged data.
	if (all_zero(cipher, GCFS_NONCE_SIZE)) {
		if (cipher_size != GCFS_CIPHER_BLOCK_SIZE || !all_zero(cipher, cipher_size))
			return -EINVAL;
		memset(plain, 0, GCFS_BLOCK_SIZE);
		*plain_size = GCFS_BLOCK_SIZE;
		return 0;
	}

	uint8_t aad[8 + GCFS_FILE_ID_SIZE];
	size_t aad_size = block_aad(aad, block_no, file_id);
	size_t size = cipher_size - GCFS_BLOCK_OVERHEAD;
	const uint8_t *body = cipher + GCFS_NONCE_SIZE;
	uint8_t tag[GCFS_TAG_SIZE];
	EVP_CIPHER_CTX *c = ctx->gcm_open;
	int len = 0;

	memcpy(tag, body + size, GCFS_TAG_SIZE);
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, cipher) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &len, aad, (int)aad_size) != 1 ||
	    EVP_DecryptUpdate(c, plain, &len, body, (int)size) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCFS_TAG_SIZE, tag) != 1)
		return -EIO;
	if (EVP_DecryptFinal_ex(c, plain + len, &len) != 1) {
		cf_wipe(plain, size);
		return -EBADMSG;
	}
	*plain_size = size;
	return 0;
}

// ---- EME -------------------------------------------------------------------

static void xor16(uint8_t *out, const uint8_t *a, const uint8_t *b)
{
	for (int i = 0; i < 16; i++)
		out[i] = a[i] ^ b[i];
}

// EME as published by Halevi and Rogaway: mask with multiples of L, one
// ECB pass, mix all blocks through one extra AES call keyed by the tweak,
// then a second masked ECB pass. Decryption is the same walk with the
// inverse cipher.
int gcfs_eme(struct gcfs_ctx *ctx, bool encrypt, const uint8_t tweak[16],
	     const uint8_t *in, size_t size, uint8_t *out)
{
	EVP_CIPHER_CTX *ecb = encrypt ? ctx->ecb_encrypt : ctx->ecb_decrypt;
	size_t m = size / 16;
	uint8_t buf[EME_MAX_BLOCKS * 16];
	uint8_t mp[16], mc[16], mask[16], ccc1[16];
	int rc = -EINVAL;

	if (size == 0 || size % 16 != 0 || m > EME_MAX_BLOCKS)
		return -EINVAL;

	// PPP_j = E(P_j xor 2^j L), all blocks in one ECB call.
	for (size_t j = 0; j < m; j++)
		xor16(buf + 16 * j, in + 16 * j, ctx->l_table[j]);
	rc = ecb_run(ecb, buf, size, buf);
	if (rc != 0)
		goto out;

	// MP = T xor the sum of all PPP_j; MC = E(MP); M = MP xor MC.
	memcpy(mp, tweak, 16);
	for (size_t j = 0; j < m; j++)
		xor16(mp, mp, buf + 16 * j);
	rc = ecb_run(ecb, mp, 16, mc);
	if (rc != 0)
		goto out;
	xor16(mask, mp, mc);

	// CCC_j = PPP_j xor 2^(j-1) M for the later blocks; CCC_1 absorbs
	// their sum so that every output block depends on every input block.
	xor16(ccc1, mc, tweak);
	for (size_t j = 1; j < m; j++) {
		gf_double(mask, mask);
		xor16(buf + 16 * j, buf + 16 * j, mask);
		xor16(ccc1, ccc1, buf + 16 * j);
	}
	memcpy(buf, ccc1, 16);

	// C_j = E(CCC_j) xor 2^j L.
	rc = ecb_run(ecb, buf, size, buf);
	if (rc != 0)
		goto out;
	for (size_t j = 0; j < m; j++)
		xor16(out + 16 * j, buf + 16 * j, ctx->l_table[j]);

out:
	cf_wipe(buf, size <= sizeof(buf) ? size : sizeof(buf));
	cf_wipe(mp, sizeof(mp));
	cf_wipe(mc, sizeof(mc));
	cf_wipe(mask, sizeof(mask));
	cf_wipe(ccc1, sizeof(ccc1));
	return rc;
}

// ---- base64url without padding ---------------------------------------------

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int gcfs_base64_encode(const uint8_t *in, size_t size, char *out, size_t out_size)
{
	size_t need = (size / 3) * 4 + (size % 3 ? size % 3 + 1 : 0);
	if (need + 1 > out_size)
		return -ENAMETOOLONG;

	size_t o = 0, i = 0;
	for (; i + 3 <= size; i += 3) {
		uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
		out[o++] = B64[(v >> 18) & 63];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = B64[(v >> 6) & 63];
		out[o++] = B64[v & 63];
	}
	if (size - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = B64[(v >> 18) & 63];
		out[o++] = B64[(v >> 12) & 63];
	} else if (size - i == 2) {
		uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
		out[o++] = B64[(v >> 18) & 63];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = B64[(v >> 6) & 63];
	}
	out[o] = '\0';
	return (int)o;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int gcfs_base64_decode(const char *in, size_t len, uint8_t *out, size_t out_size)
{
	if (len % 4 == 1)
		return -EINVAL;
	size_t need = (len / 4) * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (need > out_size || need > INT32_MAX)
		return -EINVAL;

	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	// Unused trailing bits must be zero, so each name has one encoding.
	if (acc != 0)
		return -EINVAL;
	return (int)o;
}

// ---- names -----------------------------------------------------------------

static bool name_valid(const char *name, size_t len)
{
	if (len == 0 || len > GCFS_NAME_MAX)
		return false;
	if (memchr(name, '/', len) != NULL || memchr(name, '\0', len) != NULL)
		return false;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	return true;
}

int gcfs_name_encrypt(struct gcfs_ctx *ctx, const uint8_t diriv[GCFS_DIRIV_SIZE],
		      const char *name, char out[GCFS_ENCODED_BUF])
{
	size_t len = strnlen(name, GCFS_NAME_MAX + 1);
	uint8_t buf[GCFS_NAME_MAX + 16];

	if (len > GCFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (!name_valid(name, len))
		return -EINVAL;

	// PKCS#7 padding: always 1 to 16 bytes, each holding the pad length.
	size_t pad = 16 - len % 16;
	memcpy(buf, name, len);
	memset(buf + len, (int)pad, pad);

	int rc = gcfs_eme(ctx, true, diriv, buf, len + pad, buf);
	if (rc == 0) {
		rc = gcfs_base64_encode(buf, len + pad, out, GCFS_ENCODED_BUF);
		if (rc > 0)
			rc = 0;
	}
	cf_wipe(buf, sizeof(buf));
	return rc;
}

int gcfs_name_decrypt(struct gcfs_ctx *ctx, const uint8_t diriv[GCFS_DIRIV_SIZE],
		      const char *encoded, char out[GCFS_NAME_MAX + 1])
{
	uint8_t buf[GCFS_ENCODED_BUF];
	size_t len = strnlen(encoded, GCFS_ENCODED_BUF);
	int rc = -EINVAL;

	if (len >= GCFS_ENCODED_BUF)
		return -EINVAL;
	int size = gcfs_base64_decode(encoded, len, buf, sizeof(buf));
	if (size <= 0 || size % 16 != 0 || size > GCFS_NAME_MAX + 1)
		return -EINVAL;

	rc = gcfs_eme(ctx, false, diriv, buf, (size_t)size, buf);
	if (rc != 0)
		goto out;

	rc = -EBADMSG;
	uint8_t pad = buf[size - 1];
	if (pad == 0 || pad > 16 || pad > size)
		goto out;
	for (int i = size - pad; i < size; i++) {
		if (buf[i] != pad)
			goto out;
	}
	size_t name_len = (size_t)size - pad;
	if (!name_valid((const char *)buf, name_len))
		goto out;
	memcpy(out, buf, name_len);
	out[name_len] = '\0';
	rc = 0;

out:
	cf_wipe(buf, sizeof(buf));
	return rc;
}

bool gcfs_name_is_long(const char *encoded)
{
	return strlen(encoded) > GCFS_ENCODED_NAME_MAX;
}

int gcfs_longname_hash(const char *encoded, char out[GCFS_LONGNAME_BUF])
{
	uint8_t digest[32];
	size_t prefix = strlen(GCFS_LONGNAME_PREFIX);

	int rc = cf_sha256(encoded, strlen(encoded), digest);
	if (rc != 0)
		return rc;
	memcpy(out, GCFS_LONGNAME_PREFIX, prefix);
	rc = gcfs_base64_encode(digest, sizeof(digest), out + prefix, GCFS_LONGNAME_BUF - prefix);
	return rc < 0 ? rc : 0;
}

int gcfs_longname_kind(const char *disk_name)
{
	size_t prefix = strlen(GCFS_LONGNAME_PREFIX);
	size_t suffix = strlen(GCFS_LONGNAME_SUFFIX);
	size_t len = strlen(disk_name);

	if (len <= prefix || strncmp(disk_name, GCFS_LONGNAME_PREFIX, prefix) != 0)
		return 0;
	if (len > prefix + suffix &&
	    strcmp(disk_name + len - suffix, GCFS_LONGNAME_SUFFIX) == 0)
		return 2;
	return 1;
}

// ---- symlinks --------------------------------------------------------------

int gcfs_symlink_encrypt(struct gcfs_ctx *ctx, const char *target, char *out, size_t out_size)
{
	size_t len = strnlen(target, GCFS_SYMLINK_MAX + 1);
	uint8_t sealed[GCFS_CIPHER_BLOCK_SIZE];
	uint8_t nonce[GCFS_NONCE_SIZE];

	if (len == 0 || len > GCFS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	int rc = cf_random(nonce, sizeof(nonce));
	if (rc != 0)
		return rc;
	rc = gcfs_block_seal(ctx, 0, NULL, nonce, (const uint8_t *)target, len, sealed);
	if (rc != 0)
		return rc;
	rc = gcfs_base64_encode(sealed, len + GCFS_BLOCK_OVERHEAD, out, out_size);
	return rc < 0 ? rc : 0;
}

int gcfs_symlink_decrypt(struct gcfs_ctx *ctx, const char *encoded, size_t len,
			 char *out, size_t out_size)
{
	uint8_t sealed[GCFS_CIPHER_BLOCK_SIZE];
	uint8_t plain[GCFS_BLOCK_SIZE];
	size_t plain_size = 0;

	int size = gcfs_base64_decode(encoded, len, sealed, sizeof(sealed));
	if (size < 0)
		return -EINVAL;
	int rc = gcfs_block_open(ctx, 0, NULL, sealed, (size_t)size, plain, &plain_size);
	if (rc != 0)
		return rc;
	if (plain_size + 1 > out_size || memchr(plain, '\0', plain_size) != NULL) {
		cf_wipe(plain, plain_size);
		return -EINVAL;
	}
	memcpy(out, plain, plain_size);
	out[plain_size] = '\0';
	cf_wipe(plain, plain_size);
	return 0;
}

size_t gcfs_symlink_plain_size(size_t len)
{
	size_t bytes = (len / 4) * 3 + (len % 4 ? len % 4 - 1 : 0);
	return bytes > GCFS_BLOCK_OVERHEAD ? bytes - GCFS_BLOCK_OVERHEAD : 0;
}
