// SPDX-License-Identifier: Apache-2.0
// OpenSSL EVP wrappers. Every context is freed and every temporary buffer
// holding key material is wiped on all paths.

#include <coffer/crypto.h>

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <string.h>

int cf_random(void *buf, size_t size)
{
	if (size > INT32_MAX)
		return -EINVAL;
	if (RAND_bytes(buf, (int)size) != 1)
		return -EIO;
	return 0;
}

int cf_hkdf(const char *digest, const uint8_t *salt, size_t salt_size,
	    const uint8_t *ikm, size_t ikm_size, const uint8_t *info,
	    size_t info_size, uint8_t *out, size_t out_size)
{
	int rc = -EIO;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[5];
	size_t n = 0;

	if (kdf == NULL)
		return -EIO;
	ctx = EVP_KDF_CTX_new(kdf);
	if (ctx == NULL)
		goto out;

	params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
							(char *)digest, 0);
	params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
							 (void *)ikm, ikm_size);
	if (salt != NULL && salt_size > 0)
		params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
								 (void *)salt, salt_size);
	if (info != NULL && info_size > 0)
		params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
								 (void *)info, info_size);
	params[n] = OSSL_PARAM_construct_end();

	if (EVP_KDF_derive(ctx, out, out_size, params) == 1)
		rc = 0;

out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

static int gcm_init(EVP_CIPHER_CTX *ctx, int encrypt, const uint8_t *key,
		    const uint8_t *nonce, size_t nonce_size)
{
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) != 1)
		return -EIO;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)nonce_size, NULL) != 1)
		return -EINVAL;
	if (EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, encrypt) != 1)
		return -EIO;
	return 0;
}

int cf_gcm_seal(const uint8_t key[CF_AES256_KEY_SIZE], const uint8_t *nonce,
		size_t nonce_size, const uint8_t *aad, size_t aad_size,
		const uint8_t *in, size_t in_size, uint8_t *out,
		uint8_t tag[CF_GCM_TAG_SIZE])
{
	int rc = -EIO, len = 0;

	if (in_size > INT32_MAX || aad_size > INT32_MAX || nonce_size == 0)
		return -EINVAL;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;

	rc = gcm_init(ctx, 1, key, nonce, nonce_size);
	if (rc != 0)
		goto out;
	rc = -EIO;
	if (aad_size > 0 && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aad_size) != 1)
		goto out;
	if (in_size > 0 && EVP_EncryptUpdate(ctx, out, &len, in, (int)in_size) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, out + len, &len) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CF_GCM_TAG_SIZE, tag) != 1)
		goto out;
	rc = 0;

out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int cf_gcm_open(const uint8_t key[CF_AES256_KEY_SIZE], const uint8_t *nonce,
		size_t nonce_size, const uint8_t *aad, size_t aad_size,
		const uint8_t *in, size_t in_size, const uint8_t tag[CF_GCM_TAG_SIZE],
		uint8_t *out)
{
	int rc = -EIO, len = 0;

	if (in_size > INT32_MAX || aad_size > INT32_MAX || nonce_size == 0)
		return -EINVAL;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;

	rc = gcm_init(ctx, 0, key, nonce, nonce_size);
	if (rc != 0)
		goto out;
	rc = -EIO;
	if (aad_size > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_size) != 1)
		goto out;
	if (in_size > 0 && EVP_DecryptUpdate(ctx, out, &len, in, (int)in_size) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CF_GCM_TAG_SIZE, (void *)tag) != 1)
		goto out;
	if (EVP_DecryptFinal_ex(ctx, out + len, &len) != 1) {
		// Authentication failed: never hand back unauthenticated plaintext.
		cf_wipe(out, in_size);
		rc = -EBADMSG;
		goto out;
	}
	rc = 0;

out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int cf_key_wrap(const uint8_t kek[CF_AES256_KEY_SIZE], const uint8_t *aad,
		size_t aad_size, const uint8_t *key, size_t key_size,
		uint8_t *wrapped)
{
	uint8_t *nonce = wrapped + 1;
	uint8_t *ciphertext = nonce + CF_GCM_NONCE_SIZE;

	wrapped[0] = CF_WRAP_VERSION;
	// A random 96-bit nonce per wrap: each KEK wraps far fewer than 2^32
	// keys, which keeps the nonce-collision probability negligible.
	int rc = cf_random(nonce, CF_GCM_NONCE_SIZE);
	if (rc != 0)
		return rc;
	return cf_gcm_seal(kek, nonce, CF_GCM_NONCE_SIZE, aad, aad_size, key, key_size,
			   ciphertext, ciphertext + key_size);
}

int cf_key_unwrap(const uint8_t kek[CF_AES256_KEY_SIZE], const uint8_t *aad,
		  size_t aad_size, const uint8_t *wrapped, size_t wrapped_size,
		  uint8_t *key)
{
	if (wrapped_size <= CF_WRAP_OVERHEAD || wrapped[0] != CF_WRAP_VERSION)
		return -EBADMSG;

	size_t key_size = wrapped_size - CF_WRAP_OVERHEAD;
	const uint8_t *nonce = wrapped + 1;
	const uint8_t *ciphertext = nonce + CF_GCM_NONCE_SIZE;
	return cf_gcm_open(kek, nonce, CF_GCM_NONCE_SIZE, aad, aad_size, ciphertext,
			   key_size, ciphertext + key_size, key);
}

int cf_sha256(const void *data, size_t size, uint8_t out[32])
{
	unsigned int len = 0;
	if (EVP_Digest(data, size, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return -EIO;
	return 0;
}
