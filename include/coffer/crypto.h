// SPDX-License-Identifier: Apache-2.0
// Thin wrappers over OpenSSL 3's EVP API: random bytes, HKDF (RFC 5869),
// AES-256-GCM with additional authenticated data, and key wrapping.

#ifndef COFFER_CRYPTO_H
#define COFFER_CRYPTO_H

#include <coffer/common.h>

#define CF_AES256_KEY_SIZE 32
#define CF_GCM_TAG_SIZE 16
#define CF_GCM_NONCE_SIZE 12

// Wrapped-key layout: 1-byte format version, 12-byte random nonce, the
// ciphertext (same length as the key) and the 16-byte GCM tag.
#define CF_WRAP_VERSION 1
#define CF_WRAP_OVERHEAD (1 + CF_GCM_NONCE_SIZE + CF_GCM_TAG_SIZE)

// Fills buf with bytes from OpenSSL's CSPRNG. Returns 0 or -EIO.
int cf_random(void *buf, size_t size);

// HKDF (RFC 5869) with digest "SHA256" or "SHA512": extract with salt
// (NULL for none, which RFC 5869 treats as a string of zeros), then expand
// with info to out_size bytes. Returns 0 or a negative errno.
int cf_hkdf(const char *digest, const uint8_t *salt, size_t salt_size,
	    const uint8_t *ikm, size_t ikm_size, const uint8_t *info,
	    size_t info_size, uint8_t *out, size_t out_size);

// AES-256-GCM encryption of in (in_size bytes) into out (same size) with
// the given nonce, writing the tag. aad may be NULL when aad_size is 0.
int cf_gcm_seal(const uint8_t key[CF_AES256_KEY_SIZE], const uint8_t *nonce,
		size_t nonce_size, const uint8_t *aad, size_t aad_size,
		const uint8_t *in, size_t in_size, uint8_t *out,
		uint8_t tag[CF_GCM_TAG_SIZE]);

// AES-256-GCM decryption; returns -EBADMSG when the tag does not verify, in
// which case out is wiped and must not be used.
int cf_gcm_open(const uint8_t key[CF_AES256_KEY_SIZE], const uint8_t *nonce,
		size_t nonce_size, const uint8_t *aad, size_t aad_size,
		const uint8_t *in, size_t in_size, const uint8_t tag[CF_GCM_TAG_SIZE],
		uint8_t *out);

// Wraps key (key_size bytes) under kek, binding aad (for the key store: the
// key's id and the KEK version), into wrapped, which must hold
// key_size + CF_WRAP_OVERHEAD bytes.
int cf_key_wrap(const uint8_t kek[CF_AES256_KEY_SIZE], const uint8_t *aad,
		size_t aad_size, const uint8_t *key, size_t key_size,
		uint8_t *wrapped);

// Unwraps into key (wrapped_size - CF_WRAP_OVERHEAD bytes). Returns -EBADMSG
// when the wrapped key was altered, wrapped under another KEK, or moved to
// a record with different aad.
int cf_key_unwrap(const uint8_t kek[CF_AES256_KEY_SIZE], const uint8_t *aad,
		  size_t aad_size, const uint8_t *wrapped, size_t wrapped_size,
		  uint8_t *key);

// SHA-256 of data into out.
int cf_sha256(const void *data, size_t size, uint8_t out[32]);

#endif
