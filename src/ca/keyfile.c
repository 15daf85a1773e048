// SPDX-License-Identifier: Apache-2.0
// The CA's private key files (root.key, ca.key), optionally encrypted at
// rest under a coffer master key file.
//
// An encrypted key file is a PKCS#8 EncryptedPrivateKeyInfo in PEM (PBES2,
// PBKDF2-HMAC-SHA256, AES-256-CBC, as OpenSSL 3 writes it), preceded by one
// line "coffer-ca-key: kek-version=N" naming the master key's KEK version.
// PEM readers skip text before the BEGIN line. The passphrase is the hex
// form of HKDF-SHA256(KEK, info "coffer CA private key v1"), so the file
// is useless without the master key file, and openssl can read it only
// when given that derived passphrase.

#include "ca_internal.h"

#include <coffer/crypto.h>
#include <coffer/keystore.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#define CA_KEY_FILE_MAX (64 * 1024)
#define CA_KEY_HEADER "coffer-ca-key: kek-version="
#define CA_KEY_PASSPHRASE_INFO "coffer CA private key v1"
#define CA_KEY_PASSPHRASE_SIZE (2 * CF_AES256_KEY_SIZE)

static const char encrypted_begin[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----";

// Derives the passphrase of the key files from KEK version (0: newest) of
// the master key file into a NUL-terminated buffer from cf_secure_alloc.
static int passphrase_load(const char *master_key_path, int version, char **passphrase,
			   int *loaded_version, struct cf_error *err)
{
	uint8_t *kek = NULL;
	int rc = ks_master_key_read(master_key_path, version, &kek, loaded_version, err);
	if (rc != 0)
		return rc;

	uint8_t *derived = cf_secure_alloc(CF_AES256_KEY_SIZE);
	*passphrase = cf_secure_alloc(CA_KEY_PASSPHRASE_SIZE + 1);
	if (derived == NULL || *passphrase == NULL) {
		rc = cf_error_set(err, -ENOMEM, "cannot allocate locked memory for the CA key passphrase");
		goto out;
	}
	rc = cf_hkdf("SHA256", NULL, 0, kek, CF_AES256_KEY_SIZE,
		     (const uint8_t *)CA_KEY_PASSPHRASE_INFO, strlen(CA_KEY_PASSPHRASE_INFO), derived,
		     CF_AES256_KEY_SIZE);
	if (rc != 0) {
		rc = cf_error_set(err, rc, "deriving the CA key passphrase from %s failed",
				  master_key_path);
		goto out;
	}
	cf_hex_encode(derived, CF_AES256_KEY_SIZE, *passphrase);
out:
	cf_secure_free(kek);
	cf_secure_free(derived);
	if (rc != 0) {
		cf_secure_free(*passphrase);
		*passphrase = NULL;
	}
	return rc;
}

// pem_password_cb: copies the passphrase in arg, or rejects when there is
// none, so OpenSSL never prompts on the terminal.
static int passphrase_callback(char *buf, int size, int rwflag, void *arg)
{
	(void)rwflag;
	const char *passphrase = arg;
	if (passphrase == NULL)
		return -1;
	int length = (int)strlen(passphrase);
	if (length > size)
		return -1;
	memcpy(buf, passphrase, (size_t)length);
	return length;
}

int ca_check_master_key(const char *master_key_path, struct cf_error *err)
{
	char *passphrase = NULL;
	int version = 0;
	int rc = passphrase_load(master_key_path, 0, &passphrase, &version, err);
	cf_secure_free(passphrase);
	return rc;
}

int ca_write_ca_key(const char *path, EVP_PKEY *key, const char *master_key_path,
		    struct cf_error *err)
{
	if (master_key_path == NULL)
		return ca_write_pem_key(path, key, err);

	char *passphrase = NULL;
	int version = 0;
	int rc = passphrase_load(master_key_path, 0, &passphrase, &version, err);
	if (rc != 0)
		return rc;

	BIO *bio = BIO_new(BIO_s_secmem());
	if (bio == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (BIO_printf(bio, "%s%d\n", CA_KEY_HEADER, version) <= 0 ||
	    !PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), passphrase,
					   CA_KEY_PASSPHRASE_SIZE, NULL, NULL)) {
		rc = cf_error_set(err, -EIO, "encrypting the private key for %s failed", path);
		goto out;
	}
	char *data = NULL;
	long size = BIO_get_mem_data(bio, &data);
	rc = ca_write_file(path, data, (size_t)size, 0600, err);
out:
	BIO_free(bio);
	cf_secure_free(passphrase);
	return rc;
}

// Reads N from the header line. Returns -1 when the line is missing or
// malformed.
static int header_kek_version(const char *text)
{
	if (strncmp(text, CA_KEY_HEADER, strlen(CA_KEY_HEADER)) != 0)
		return -1;
	char *end = NULL;
	long version = strtol(text + strlen(CA_KEY_HEADER), &end, 10);
	if (end == text + strlen(CA_KEY_HEADER) || *end != '\n' || version <= 0 ||
	    version > 1000000)
		return -1;
	return (int)version;
}

int ca_read_ca_key(const char *path, const char *master_key_path, EVP_PKEY **out,
		   struct cf_error *err)
{
	char *text = NULL, *passphrase = NULL;
	size_t size = 0;
	BIO *bio = NULL;
	int rc = cf_read_file(path, CA_KEY_FILE_MAX, &text, &size, err);
	if (rc != 0)
		return rc;

	bool encrypted = strstr(text, encrypted_begin) != NULL;
	if (!encrypted && master_key_path != NULL)
		cf_log(CF_LOG_WARN, "ca.key_not_encrypted",
		       "path=%s master_key=%s hint=\"the key predates the master key; it stays"
		       " readable without it\"",
		       path, master_key_path);
	if (encrypted) {
		int version = header_kek_version(text);
		if (master_key_path == NULL) {
			rc = cf_error_set(err, -ENOKEY,
					  "%s is encrypted under a master key; pass --master-key FILE"
					  " (the file given to 'coffer ca init')",
					  path);
			goto out;
		}
		if (version < 0) {
			rc = cf_error_set(err, -EINVAL,
					  "%s is encrypted but its first line is not '%sN'", path,
					  CA_KEY_HEADER);
			goto out;
		}
		int loaded = 0;
		rc = passphrase_load(master_key_path, version, &passphrase, &loaded, err);
		if (rc != 0)
			goto out;
	}

	bio = BIO_new_mem_buf(text, (int)size);
	if (bio == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	*out = PEM_read_bio_PrivateKey(bio, NULL, passphrase_callback, passphrase);
	ERR_clear_error();
	if (*out == NULL && encrypted)
		rc = cf_error_set(err, -EKEYREJECTED,
				  "cannot decrypt %s with master key file %s; it is not the master"
				  " key file the CA was created with, or the key file is damaged",
				  path, master_key_path);
	else if (*out == NULL)
		rc = cf_error_set(err, -EINVAL, "%s does not contain a PEM private key", path);
out:
	BIO_free(bio);
	cf_secure_free(passphrase);
	cf_wipe(text, size);
	free(text);
	return rc;
}
