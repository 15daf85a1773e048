// SPDX-License-Identifier: Apache-2.0
// The gocryptfs on-disk format (version 2 with the default feature flags
// HKDF, GCMIV128, DirIV, EMENames, LongNames and Raw64): key derivation,
// the file header, AES-256-GCM content blocks, EME file names and the
// long-name scheme. docs/gocryptfs-format.md describes the format and the
// reason for each choice. Decoders take untrusted bytes and never assert.

#ifndef COFFER_GCFS_H
#define COFFER_GCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GCFS_MASTER_KEY_SIZE 32
#define GCFS_KEY_SIZE 32

#define GCFS_HEADER_VERSION 2
#define GCFS_FILE_ID_SIZE 16
#define GCFS_HEADER_SIZE (2 + GCFS_FILE_ID_SIZE)

#define GCFS_BLOCK_SIZE 4096
#define GCFS_NONCE_SIZE 16
#define GCFS_TAG_SIZE 16
#define GCFS_BLOCK_OVERHEAD (GCFS_NONCE_SIZE + GCFS_TAG_SIZE)
#define GCFS_CIPHER_BLOCK_SIZE (GCFS_BLOCK_SIZE + GCFS_BLOCK_OVERHEAD)

#define GCFS_DIRIV_SIZE 16
#define GCFS_DIRIV_NAME "gocryptfs.diriv"
#define GCFS_CONF_NAME "gocryptfs.conf"
#define GCFS_LONGNAME_PREFIX "gocryptfs.longname."
#define GCFS_LONGNAME_SUFFIX ".name"

// Longest plaintext name (bytes), as for every Linux filesystem.
#define GCFS_NAME_MAX 255
// Encoded names longer than this are stored as gocryptfs.longname.HASH.
#define GCFS_ENCODED_NAME_MAX 255
// Buffer size for an encoded name: 255 bytes pad to 256, which encode to
// 342 base64 characters, plus the terminating NUL.
#define GCFS_ENCODED_BUF 344
// "gocryptfs.longname." + 43 base64 characters of SHA-256 + ".name" + NUL.
#define GCFS_LONGNAME_BUF 72
// Longest symlink target accepted (bytes), as PATH_MAX.
#define GCFS_SYMLINK_MAX 4095

// Content and name keys, both derived from the 32-byte master key with
// HKDF-SHA256. Allocate with gcfs_keys_new so they sit in locked memory.
struct gcfs_keys {
	uint8_t content[GCFS_KEY_SIZE];
	uint8_t name[GCFS_KEY_SIZE];
};

// Derives both keys from master into a buffer from cf_secure_alloc.
// Returns 0, -ENOMEM or -EIO.
int gcfs_keys_new(struct gcfs_keys **keys, const uint8_t master[GCFS_MASTER_KEY_SIZE]);
void gcfs_keys_free(struct gcfs_keys *keys);

// Cipher contexts keyed once with the content and name keys, reused for
// every block and name so the hot path allocates nothing. One context
// belongs to one thread at a time.
struct gcfs_ctx;

int gcfs_ctx_new(struct gcfs_ctx **ctx, const struct gcfs_keys *keys);
void gcfs_ctx_free(struct gcfs_ctx *ctx);

// ---- file header -----------------------------------------------------------

void gcfs_header_encode(uint8_t out[GCFS_HEADER_SIZE], const uint8_t file_id[GCFS_FILE_ID_SIZE]);

// Parses a header; returns 0, -EINVAL for a short buffer, -EPROTO for an
// unknown version or an all-zero file id.
int gcfs_header_decode(const uint8_t *in, size_t size, uint8_t file_id[GCFS_FILE_ID_SIZE]);

// ---- content blocks --------------------------------------------------------

// Plaintext size of a file whose ciphertext has cipher_size bytes, or
// -EINVAL when no valid file has that size (a block with fewer than 33
// bytes, or a lone partial header).
int64_t gcfs_plain_size(uint64_t cipher_size);

// Ciphertext size for plain_size bytes of plaintext (0 stays 0: an empty
// file has no header).
uint64_t gcfs_cipher_size(uint64_t plain_size);

// Seals plain (1 to GCFS_BLOCK_SIZE bytes) as block block_no of the file
// with file_id into out (plain_size + GCFS_BLOCK_OVERHEAD bytes), with the
// given nonce. file_id is NULL for symlink targets, which have no header.
int gcfs_block_seal(struct gcfs_ctx *ctx, uint64_t block_no, const uint8_t *file_id,
		    const uint8_t nonce[GCFS_NONCE_SIZE], const uint8_t *plain,
		    size_t plain_size, uint8_t *out);

// Opens a sealed block into plain (at most GCFS_BLOCK_SIZE bytes) and
// stores its size. A full-size block of zero bytes is a file hole and
// opens to zeros. Returns -EBADMSG when the tag does not verify (plain is
// wiped), -EINVAL for a malformed block (too short, too long, zero nonce).
int gcfs_block_open(struct gcfs_ctx *ctx, uint64_t block_no, const uint8_t *file_id,
		    const uint8_t *cipher, size_t cipher_size, uint8_t *plain,
		    size_t *plain_size);

// ---- names -----------------------------------------------------------------

// EME wide-block encryption (Halevi and Rogaway) of size bytes (a multiple
// of 16, from 16 to 2048) with the name key and a 16-byte tweak. in and
// out may be the same buffer.
int gcfs_eme(struct gcfs_ctx *ctx, bool encrypt, const uint8_t tweak[16],
	     const uint8_t *in, size_t size, uint8_t *out);

// base64url without padding. encode writes a NUL-terminated string and
// returns its length or -ENAMETOOLONG. decode returns the byte count or
// -EINVAL for characters outside the alphabet or an impossible length.
int gcfs_base64_encode(const uint8_t *in, size_t size, char *out, size_t out_size);
int gcfs_base64_decode(const char *in, size_t len, uint8_t *out, size_t out_size);

// Encrypts one plaintext name (no '/', not "." or "..", 1 to 255 bytes)
// for the directory with diriv into its encoded form (the real on-disk
// name unless longer than GCFS_ENCODED_NAME_MAX).
int gcfs_name_encrypt(struct gcfs_ctx *ctx, const uint8_t diriv[GCFS_DIRIV_SIZE],
		      const char *name, char out[GCFS_ENCODED_BUF]);

// Decrypts an encoded name and returns 0 or a negative errno. -EINVAL:
// not an encrypted name at all (not valid base64, not a whole number of
// blocks). -EBADMSG: a wrong key or a damaged name (bad padding, or a name
// that contains '/' or NUL or is "." or "..").
int gcfs_name_decrypt(struct gcfs_ctx *ctx, const uint8_t diriv[GCFS_DIRIV_SIZE],
		      const char *encoded,
		      char out[GCFS_NAME_MAX + 1]);

// True when an encoded name must be stored under a long-name hash.
bool gcfs_name_is_long(const char *encoded);

// Writes "gocryptfs.longname." plus base64url of SHA-256 of encoded.
int gcfs_longname_hash(const char *encoded, char out[GCFS_LONGNAME_BUF]);

// Classifies an on-disk name: 0 a plain encoded name, 1 a long-name file
// (gocryptfs.longname.HASH), 2 its .name companion.
int gcfs_longname_kind(const char *disk_name);

// ---- symlinks --------------------------------------------------------------

// Encrypts a symlink target as one block (number 0, no file id) and
// encodes it with base64url. out_size must be at least
// 4 * (GCFS_SYMLINK_MAX + GCFS_BLOCK_OVERHEAD) / 3 + 2.
int gcfs_symlink_encrypt(struct gcfs_ctx *ctx, const char *target, char *out, size_t out_size);

// Decrypts an encoded symlink target into out (NUL-terminated). Returns
// -EBADMSG on a bad tag and -EINVAL for malformed input.
int gcfs_symlink_decrypt(struct gcfs_ctx *ctx, const char *encoded, size_t len,
			 char *out, size_t out_size);

// Plaintext length of an encoded symlink target of len characters.
size_t gcfs_symlink_plain_size(size_t len);

#endif
