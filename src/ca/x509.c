// SPDX-License-Identifier: Apache-2.0
// X.509 helpers for the CA: key generation, certificate building, SAN text
// forms, PKCS#7 certs-only, base64 and PEM/DER files written atomically.

#include "ca_internal.h"

#include <coffer/crypto.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

int ca_key_generate(enum ca_key_type type, EVP_PKEY **out, struct cf_error *err)
{
	EVP_PKEY *key = NULL;

	switch (type) {
	case CA_KEY_P256:
		key = EVP_EC_gen("P-256");
		break;
	case CA_KEY_P384:
		key = EVP_EC_gen("P-384");
		break;
	case CA_KEY_RSA2048:
		key = EVP_RSA_gen(2048);
		break;
	case CA_KEY_RSA3072:
		key = EVP_RSA_gen(3072);
		break;
	default:
		return cf_error_set(err, -EINVAL, "unknown key type %d", (int)type);
	}
	if (key == NULL)
		return cf_error_set(err, -EIO, "key generation failed");
	*out = key;
	return 0;
}

const EVP_MD *ca_signing_digest(EVP_PKEY *key)
{
	char group[32];
	size_t len = 0;
	if (EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &len) &&
	    strcmp(group, "secp384r1") == 0)
		return EVP_sha384();
	return EVP_sha256();
}

static int add_ext(X509 *cert, int nid, void *value, int critical)
{
	return X509_add1_ext_i2d(cert, nid, value, critical, X509V3_ADD_DEFAULT) == 1 ? 0 : -EIO;
}

static int add_key_usage(X509 *cert, bool is_ca)
{
	ASN1_BIT_STRING *usage = ASN1_BIT_STRING_new();
	int rc = -EIO;

	if (usage == NULL)
		return -ENOMEM;
	// Bit numbers from RFC 5280 4.2.1.3.
	if (is_ca) {
		if (!ASN1_BIT_STRING_set_bit(usage, 5, 1) || !ASN1_BIT_STRING_set_bit(usage, 6, 1))
			goto out;
	} else if (!ASN1_BIT_STRING_set_bit(usage, 0, 1)) {
		goto out;
	}
	rc = add_ext(cert, NID_key_usage, usage, 1);
out:
	ASN1_BIT_STRING_free(usage);
	return rc;
}

static int add_extended_key_usage(X509 *cert, enum ca_profile profile)
{
	EXTENDED_KEY_USAGE *usage = sk_ASN1_OBJECT_new_null();
	int rc;

	if (usage == NULL)
		return -ENOMEM;
	if (profile & CA_PROFILE_SERVER)
		sk_ASN1_OBJECT_push(usage, OBJ_nid2obj(NID_server_auth));
	if (profile & CA_PROFILE_CLIENT)
		sk_ASN1_OBJECT_push(usage, OBJ_nid2obj(NID_client_auth));
	rc = add_ext(cert, NID_ext_key_usage, usage, 0);
	// The objects are static entries of OpenSSL's table, so only the stack is freed.
	sk_ASN1_OBJECT_free(usage);
	return rc;
}

static int add_basic_constraints(X509 *cert, bool is_ca, int path_length)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	int rc = -EIO;

	if (bc == NULL)
		return -ENOMEM;
	bc->ca = is_ca ? 0xff : 0;
	if (is_ca && path_length >= 0) {
		bc->pathlen = ASN1_INTEGER_new();
		if (bc->pathlen == NULL || !ASN1_INTEGER_set(bc->pathlen, path_length))
			goto out;
	}
	rc = add_ext(cert, NID_basic_constraints, bc, 1);
out:
	BASIC_CONSTRAINTS_free(bc);
	return rc;
}

// Subject key id: SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2,
// method 1); the authority key id copies the issuer's.
static int add_key_ids(X509 *cert, X509 *issuer)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	int rc = -EIO;

	if (!X509_pubkey_digest(cert, EVP_sha1(), digest, &digest_len))
		return -EIO;
	ASN1_OCTET_STRING *ski = ASN1_OCTET_STRING_new();
	if (ski == NULL || !ASN1_OCTET_STRING_set(ski, digest, (int)digest_len))
		goto out;
	rc = add_ext(cert, NID_subject_key_identifier, ski, 0);
	if (rc != 0)
		goto out;

	const ASN1_OCTET_STRING *issuer_id = issuer != NULL ? X509_get0_subject_key_id(issuer) : ski;
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	if (akid == NULL || issuer_id == NULL) {
		AUTHORITY_KEYID_free(akid);
		rc = -EIO;
		goto out;
	}
	akid->keyid = ASN1_OCTET_STRING_dup(issuer_id);
	rc = akid->keyid != NULL ? add_ext(cert, NID_authority_key_identifier, akid, 0) : -ENOMEM;
	AUTHORITY_KEYID_free(akid);
out:
	ASN1_OCTET_STRING_free(ski);
	return rc;
}

static GENERAL_NAME *san_to_general_name(const char *san)
{
	GENERAL_NAME *name = NULL;
	const char *value = ca_san_value(san);

	if (strncmp(san, "IP:", 3) == 0) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(value);
		name = GENERAL_NAME_new();
		if (ip == NULL || name == NULL) {
			ASN1_OCTET_STRING_free(ip);
			GENERAL_NAME_free(name);
			return NULL;
		}
		GENERAL_NAME_set0_value(name, GEN_IPADD, ip);
		return name;
	}

	int type = strncmp(san, "URI:", 4) == 0 ? GEN_URI : GEN_DNS;
	ASN1_IA5STRING *text = ASN1_IA5STRING_new();
	name = GENERAL_NAME_new();
	if (text == NULL || name == NULL || !ASN1_STRING_set(text, value, (int)strlen(value))) {
		ASN1_IA5STRING_free(text);
		GENERAL_NAME_free(name);
		return NULL;
	}
	GENERAL_NAME_set0_value(name, type, text);
	return name;
}

static int add_sans(X509 *cert, const struct ca_san_list *sans)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	int rc = -ENOMEM;

	if (names == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < sans->count; i++) {
		GENERAL_NAME *name = san_to_general_name(sans->names[i]);
		if (name == NULL || !sk_GENERAL_NAME_push(names, name)) {
			GENERAL_NAME_free(name);
			goto out;
		}
	}
	rc = add_ext(cert, NID_subject_alt_name, names, 0);
out:
	GENERAL_NAMES_free(names);
	return rc;
}

static int set_random_serial(X509 *cert)
{
	uint8_t bytes[CA_SERIAL_SIZE];
	BIGNUM *bn = NULL;
	int rc = -EIO;

	do {
		if (cf_random(bytes, sizeof(bytes)) != 0)
			return -EIO;
		BN_free(bn);
		bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
		if (bn == NULL)
			return -ENOMEM;
	} while (BN_is_zero(bn));

	ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
	if (serial != NULL && X509_set_serialNumber(cert, serial))
		rc = 0;
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return rc;
}

// Copies algorithm and key bits of the request's subjectPublicKeyInfo into
// the certificate, so no EVP_PKEY has to be encoded again.
static int copy_public_key_info(X509 *cert, X509_PUBKEY *from)
{
	ASN1_OBJECT *algorithm = NULL;
	const unsigned char *key = NULL;
	int key_len = 0;
	X509_ALGOR *params = NULL;

	if (!X509_PUBKEY_get0_param(&algorithm, &key, &key_len, &params, from))
		return -EINVAL;

	const ASN1_OBJECT *param_object = NULL;
	const void *param_value = NULL;
	int param_type = V_ASN1_UNDEF;
	X509_ALGOR_get0(&param_object, &param_type, &param_value, params);

	void *value = NULL;
	if (param_type == V_ASN1_OBJECT) {
		value = OBJ_dup(param_value);
		if (value == NULL)
			return -ENOMEM;
	} else if (param_type != V_ASN1_NULL && param_type != V_ASN1_UNDEF) {
		return -EINVAL;
	}
	unsigned char *key_copy = OPENSSL_memdup(key, (size_t)key_len);
	ASN1_OBJECT *algorithm_copy = OBJ_dup(algorithm);
	if (key_copy == NULL || algorithm_copy == NULL ||
	    !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), algorithm_copy, param_type, value,
				    key_copy, key_len)) {
		OPENSSL_free(key_copy);
		ASN1_OBJECT_free(algorithm_copy);
		ASN1_OBJECT_free(value);
		return -ENOMEM;
	}
	return 0;
}

static int set_public_key(X509 *cert, const struct ca_cert_spec *spec)
{
	if (spec->public_key_info != NULL)
		return copy_public_key_info(cert, spec->public_key_info);
	return X509_set_pubkey(cert, spec->public_key) == 1 ? 0 : -EIO;
}

static int sign_cert(X509 *cert, const struct ca_cert_spec *spec)
{
	if (spec->signing_context == NULL) {
		const EVP_MD *digest = spec->digest != NULL ? spec->digest
							    : ca_signing_digest(spec->signing_key);
		return X509_sign(cert, spec->signing_key, digest) > 0 ? 0 : -EIO;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -EIO;
	if (ctx != NULL && EVP_MD_CTX_copy_ex(ctx, spec->signing_context) == 1 &&
	    X509_sign_ctx(cert, ctx) > 0)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	return rc;
}

int ca_cert_build(const struct ca_cert_spec *spec, X509 **out, struct cf_error *err)
{
	X509 *cert = X509_new();
	int rc = -EIO;

	if (cert == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	// The subject is built in the certificate, because X509_set_subject_name
	// would copy it through an encode and decode.
	X509_NAME *subject = X509_get_subject_name(cert);
	if (!X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
					(const unsigned char *)spec->cn, -1, -1, 0)) {
		rc = cf_error_set(err, -EINVAL,
				  "common name '%s' is invalid (at most 64 characters)", spec->cn);
		goto out;
	}

	if (!X509_set_version(cert, X509_VERSION_3) || set_random_serial(cert) != 0 ||
	    !X509_set_issuer_name(cert, spec->issuer != NULL ? X509_get_subject_name(spec->issuer)
							      : subject) ||
	    set_public_key(cert, spec) != 0 ||
	    ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)spec->not_before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)spec->not_after) == NULL)
		goto out;

	if (add_basic_constraints(cert, spec->is_ca, spec->path_length) != 0 ||
	    add_key_usage(cert, spec->is_ca) != 0 || add_key_ids(cert, spec->issuer) != 0)
		goto out;
	if (!spec->is_ca &&
	    (add_extended_key_usage(cert, spec->profile) != 0 || add_sans(cert, spec->sans) != 0))
		goto out;

	if (sign_cert(cert, spec) != 0)
		goto out;
	*out = cert;
	cert = NULL;
	rc = 0;
out:
	if (rc != 0)
		cf_error_set(err, rc, "building the certificate for '%s' failed", spec->cn);
	X509_free(cert);
	return rc;
}

int ca_serial_hex(const X509 *cert, char out[CA_SERIAL_HEX_SIZE])
{
	uint8_t bytes[CA_SERIAL_SIZE];
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	int rc = -EINVAL;

	if (bn != NULL && !BN_is_negative(bn) && BN_num_bytes(bn) <= CA_SERIAL_SIZE &&
	    BN_bn2binpad(bn, bytes, sizeof(bytes)) == CA_SERIAL_SIZE) {
		cf_hex_encode(bytes, sizeof(bytes), out);
		rc = 0;
	}
	BN_free(bn);
	return rc;
}

const char *ca_san_value(const char *san)
{
	const char *colon = strchr(san, ':');
	return colon != NULL ? colon + 1 : san;
}

static bool is_dns_name(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > 253)
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(isalnum(c) || c == '-' || c == '.' || c == '_'))
			return false;
	}
	return name[0] != '.' && name[len - 1] != '.';
}

static bool is_uri(const char *uri)
{
	const char *sep = strstr(uri, "://");
	if (sep == NULL || sep == uri || strlen(uri) >= CA_SAN_TEXT_MAX - 4)
		return false;
	for (const char *p = uri; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7f || c == ',')
			return false;
	}
	return true;
}

static int normalize_ip(const char *text, char *out, size_t size)
{
	unsigned char addr[16];
	char printed[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, text, addr) == 1)
		inet_ntop(AF_INET, addr, printed, sizeof(printed));
	else if (inet_pton(AF_INET6, text, addr) == 1)
		inet_ntop(AF_INET6, addr, printed, sizeof(printed));
	else
		return -EINVAL;
	snprintf(out, size, "IP:%s", printed);
	return 0;
}

int ca_san_normalize(const char *text, char *out, struct cf_error *err)
{
	unsigned char probe[16];

	if (strncmp(text, "IP:", 3) == 0 || inet_pton(AF_INET, text, probe) == 1 ||
	    inet_pton(AF_INET6, text, probe) == 1) {
		const char *value = strncmp(text, "IP:", 3) == 0 ? text + 3 : text;
		if (normalize_ip(value, out, CA_SAN_TEXT_MAX) != 0)
			return cf_error_set(err, -EINVAL, "SAN '%s' is not a valid IP address", text);
		return 0;
	}

	if (strncmp(text, "URI:", 4) == 0 || (strncmp(text, "DNS:", 4) != 0 && strstr(text, "://"))) {
		const char *value = strncmp(text, "URI:", 4) == 0 ? text + 4 : text;
		if (!is_uri(value))
			return cf_error_set(err, -EINVAL,
					    "SAN '%s' is not a valid URI (scheme://..., printable ASCII, no commas)",
					    text);
		snprintf(out, CA_SAN_TEXT_MAX, "URI:%s", value);
		return 0;
	}

	const char *value = strncmp(text, "DNS:", 4) == 0 ? text + 4 : text;
	if (!is_dns_name(value))
		return cf_error_set(err, -EINVAL,
				    "SAN '%s' is not a valid DNS name (letters, digits, '-', '.')", text);
	int len = snprintf(out, CA_SAN_TEXT_MAX, "DNS:%s", value);
	for (int i = 4; i < len; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return 0;
}

static int general_name_text(const GENERAL_NAME *name, char *out, struct cf_error *err)
{
	int type = 0;
	const ASN1_STRING *value = GENERAL_NAME_get0_value(name, &type);
	const unsigned char *data = ASN1_STRING_get0_data(value);
	int len = ASN1_STRING_length(value);
	char text[CA_SAN_TEXT_MAX];

	switch (type) {
	case GEN_DNS:
	case GEN_URI:
		if (len <= 0 || len >= CA_SAN_TEXT_MAX - 4 || memchr(data, '\0', (size_t)len))
			return cf_error_set(err, -EINVAL, "a %s SAN is empty, too long or contains NUL",
					    type == GEN_DNS ? "DNS" : "URI");
		snprintf(text, sizeof(text), "%s:%.*s", type == GEN_DNS ? "DNS" : "URI", len,
			 (const char *)data);
		return ca_san_normalize(text, out, err);
	case GEN_IPADD: {
		char printed[INET6_ADDRSTRLEN];
		if (len == 4)
			inet_ntop(AF_INET, data, printed, sizeof(printed));
		else if (len == 16)
			inet_ntop(AF_INET6, data, printed, sizeof(printed));
		else
			return cf_error_set(err, -EINVAL, "an IP address SAN has %d bytes", len);
		snprintf(out, CA_SAN_TEXT_MAX, "IP:%s", printed);
		return 0;
	}
	default:
		return cf_error_set(err, -EPERM,
				    "SAN type %d is not issued by this CA (only DNS, IP and URI)", type);
	}
}

int ca_sans_from_names(const GENERAL_NAMES *names, struct ca_san_list *out,
		       struct cf_error *err)
{
	out->count = 0;
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		if (out->count == CA_SAN_MAX)
			return cf_error_set(err, -EINVAL, "more than %d SANs", CA_SAN_MAX);
		int rc = general_name_text(sk_GENERAL_NAME_value(names, i), out->names[out->count], err);
		if (rc != 0)
			return rc;
		out->count++;
	}
	return 0;
}

int ca_sans_from_cert(const X509 *cert, struct ca_san_list *out, struct cf_error *err)
{
	int crit = 0;
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	out->count = 0;
	if (names == NULL)
		return 0;
	int rc = ca_sans_from_names(names, out, err);
	GENERAL_NAMES_free(names);
	return rc;
}

void ca_sans_join(const struct ca_san_list *list, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < list->count && used < size; i++) {
		int n = snprintf(out + used, size - used, "%s%s", i > 0 ? ", " : "", list->names[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

int ca_sans_split(const char *text, struct ca_san_list *out, struct cf_error *err)
{
	out->count = 0;
	const char *p = text;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, ",");
		if (out->count == CA_SAN_MAX || len >= CA_SAN_TEXT_MAX)
			return cf_error_set(err, -EINVAL, "stored SAN list '%s' is malformed", text);
		memcpy(out->names[out->count], p, len);
		out->names[out->count][len] = '\0';
		out->count++;
		p += len;
	}
	return 0;
}

int ca_subject_cn(const X509_NAME *name, char *out, size_t size)
{
	int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (index < 0)
		return -ENOENT;
	if (X509_NAME_get_index_by_NID(name, NID_commonName, index) >= 0)
		return -EINVAL;
	const ASN1_STRING *value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
	unsigned char *utf8 = NULL;
	int len = ASN1_STRING_to_UTF8(&utf8, value);
	if (len < 0)
		return -EINVAL;
	int rc = 0;
	if ((size_t)len >= size || memchr(utf8, '\0', (size_t)len) != NULL) {
		rc = -EINVAL;
	} else {
		memcpy(out, utf8, (size_t)len);
		out[len] = '\0';
	}
	OPENSSL_free(utf8);
	return rc;
}

int ca_write_file(const char *path, const void *data, size_t size, unsigned mode,
		  struct cf_error *err)
{
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return cf_error_set(err, -ENAMETOOLONG, "path %s is too long", path);

	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot create a temporary file next to %s: %s",
				    path, strerror(errno));

	int rc = 0;
	if (fchmod(fd, mode) != 0) {
		rc = cf_error_set(err, -errno, "cannot set the mode of %s: %s", tmp, strerror(errno));
		goto fail;
	}
	const char *p = data;
	size_t left = size;
	while (left > 0) {
		ssize_t written = write(fd, p, left);
		if (written < 0 && errno == EINTR)
			continue;
		if (written < 0) {
			rc = cf_error_set(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		p += written;
		left -= (size_t)written;
	}
	if (fsync(fd) != 0) {
		rc = cf_error_set(err, -errno, "cannot sync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		rc = cf_error_set(err, -errno, "cannot rename %s to %s: %s", tmp, path,
				  strerror(errno));
		unlink(tmp);
		return rc;
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return rc;
}

// Runs a PEM writer into a memory BIO and writes the result atomically.
static int write_bio(const char *path, BIO *bio, unsigned mode, struct cf_error *err)
{
	char *data = NULL;
	long size = BIO_get_mem_data(bio, &data);
	if (size < 0)
		return cf_error_set(err, -EIO, "encoding %s failed", path);
	return ca_write_file(path, data, (size_t)size, mode, err);
}

int ca_write_pem_key(const char *path, EVP_PKEY *key, struct cf_error *err)
{
	// A secure-memory BIO keeps the encoded key in OpenSSL's secure heap
	// when one is set up. Its memory is cleansed when the BIO is freed.
	BIO *bio = BIO_new(BIO_s_secmem());
	int rc;

	if (bio == NULL)
		return -ENOMEM;
	if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
		rc = cf_error_set(err, -EIO, "encoding the private key for %s failed", path);
	else
		rc = write_bio(path, bio, 0600, err);
	BIO_free(bio);
	return rc;
}

int ca_write_pem_certs(const char *path, X509 *const *certs, size_t count,
		       struct cf_error *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = 0;

	if (bio == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < count && rc == 0; i++) {
		if (!PEM_write_bio_X509(bio, certs[i]))
			rc = cf_error_set(err, -EIO, "encoding a certificate for %s failed", path);
	}
	if (rc == 0)
		rc = write_bio(path, bio, 0644, err);
	BIO_free(bio);
	return rc;
}

int ca_read_pem_key(const char *path, EVP_PKEY **out, struct cf_error *err)
{
	BIO *bio = BIO_new_file(path, "r");
	if (bio == NULL)
		return cf_error_set(err, -ENOENT, "cannot open the key file %s", path);
	*out = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (*out == NULL)
		return cf_error_set(err, -EINVAL, "%s does not contain a PEM private key", path);
	return 0;
}

int ca_read_pem_cert(const char *path, X509 **out, struct cf_error *err)
{
	BIO *bio = BIO_new_file(path, "r");
	if (bio == NULL)
		return cf_error_set(err, -ENOENT, "cannot open the certificate file %s", path);
	*out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (*out == NULL)
		return cf_error_set(err, -EINVAL, "%s does not contain a PEM certificate", path);
	return 0;
}

// Fixed DER pieces of a certs-only SignedData (RFC 2315 9.1, RFC 7030
// 4.1.3): the signedData content type, and the SignedData fields before
// the certificates (version 1, no digest algorithms, an empty data
// content) and after them (no signers). These are the bytes that
// OpenSSL 3.0's i2d_PKCS7 writes for the same structure.
static const uint8_t pkcs7_signed_data_oid[] = {
	0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
};
static const uint8_t pkcs7_before_certs[] = {
	0x02, 0x01, 0x01,                                           // version
	0x31, 0x00,                                                 // digestAlgorithms
	0x30, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, // contentInfo:
	0x01, 0x07, 0x01, 0xa0, 0x02, 0x04, 0x00,                   // data, empty
};
static const uint8_t pkcs7_after_certs[] = { 0x31, 0x00 }; // signerInfos

size_t ca_der_header_size(size_t len)
{
	size_t size = 2;
	for (size_t rest = len; len >= 0x80 && rest > 0; rest >>= 8)
		size++;
	return size;
}

uint8_t *ca_der_put_header(uint8_t *p, uint8_t tag, size_t len)
{
	*p++ = tag;
	if (len < 0x80) {
		*p++ = (uint8_t)len;
		return p;
	}
	size_t count = ca_der_header_size(len) - 2;
	*p++ = (uint8_t)(0x80 | count);
	for (size_t i = count; i > 0; i--)
		*p++ = (uint8_t)(len >> (8 * (i - 1)));
	return p;
}

struct encoded_cert {
	const uint8_t *der;
	size_t len;
};

// Writes the certs-only structure directly around the certificates' DER.
// With OpenSSL 3.0, building a PKCS7 object and encoding it took about
// twice as long for the one certificate of an enrollment reply.
static int pkcs7_from_parts(const struct encoded_cert *parts, size_t count, uint8_t **der,
			    size_t *size)
{
	size_t certs_len = 0;
	for (size_t i = 0; i < count; i++)
		certs_len += parts[i].len;

	// The certificates field is optional and left out when empty.
	size_t certs_field_len = count > 0 ? ca_der_header_size(certs_len) + certs_len : 0;
	size_t signed_data_len = sizeof(pkcs7_before_certs) + certs_field_len +
				 sizeof(pkcs7_after_certs);
	size_t explicit_len = ca_der_header_size(signed_data_len) + signed_data_len;
	size_t content_info_len = sizeof(pkcs7_signed_data_oid) + ca_der_header_size(explicit_len) +
				  explicit_len;
	size_t total = ca_der_header_size(content_info_len) + content_info_len;
	uint8_t *buf = malloc(total);
	if (buf == NULL)
		return -ENOMEM;

	uint8_t *p = ca_der_put_header(buf, 0x30, content_info_len); // ContentInfo
	memcpy(p, pkcs7_signed_data_oid, sizeof(pkcs7_signed_data_oid));
	p += sizeof(pkcs7_signed_data_oid);
	p = ca_der_put_header(p, 0xa0, explicit_len);    // [0] EXPLICIT content
	p = ca_der_put_header(p, 0x30, signed_data_len); // SignedData
	memcpy(p, pkcs7_before_certs, sizeof(pkcs7_before_certs));
	p += sizeof(pkcs7_before_certs);
	if (count > 0)
		p = ca_der_put_header(p, 0xa0, certs_len); // [0] IMPLICIT certificates
	for (size_t i = 0; i < count; i++) {
		memcpy(p, parts[i].der, parts[i].len);
		p += parts[i].len;
	}
	memcpy(p, pkcs7_after_certs, sizeof(pkcs7_after_certs));
	*der = buf;
	*size = total;
	return 0;
}

int ca_pkcs7_certs_der(X509 *const *certs, size_t count, uint8_t **der, size_t *size,
		       struct cf_error *err)
{
	struct encoded_cert *parts = calloc(count > 0 ? count : 1, sizeof(*parts));
	int rc = -EIO;

	if (parts == NULL)
		return cf_error_set(err, -ENOMEM, "building the PKCS#7 certs-only structure failed");
	for (size_t i = 0; i < count; i++) {
		unsigned char *encoded = NULL;
		int len = i2d_X509(certs[i], &encoded);
		if (len <= 0)
			goto out;
		parts[i].der = encoded;
		parts[i].len = (size_t)len;
	}
	rc = pkcs7_from_parts(parts, count, der, size);
out:
	if (rc != 0)
		cf_error_set(err, rc, "building the PKCS#7 certs-only structure failed");
	for (size_t i = 0; i < count; i++)
		OPENSSL_free((void *)parts[i].der);
	free(parts);
	return rc;
}

int ca_pkcs7_cert_der(const uint8_t *cert, size_t cert_size, uint8_t **der, size_t *size,
		      struct cf_error *err)
{
	struct encoded_cert part = { cert, cert_size };
	int rc = pkcs7_from_parts(&part, 1, der, size);
	if (rc != 0)
		cf_error_set(err, rc, "building the PKCS#7 certs-only structure failed");
	return rc;
}

int ca_base64_encode(const uint8_t *data, size_t size, char **out)
{
	size_t cap = 4 * ((size + 2) / 3) + 1;
	char *text = malloc(cap);
	if (text == NULL)
		return -ENOMEM;
	int len = EVP_EncodeBlock((unsigned char *)text, data, (int)size);
	if (len < 0) {
		free(text);
		return -EIO;
	}
	text[len] = '\0';
	*out = text;
	return 0;
}

static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int ca_base64_decode(const char *text, size_t size, uint8_t **out, size_t *out_size)
{
	uint8_t *buf = malloc(size / 4 * 3 + 3);
	size_t len = 0, padding = 0;
	uint32_t group = 0;
	int filled = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < size; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			padding++;
			if (padding > 2)
				goto bad;
			continue;
		}
		int value = base64_value(c);
		if (value < 0 || padding > 0)
			goto bad;
		group = group << 6 | (uint32_t)value;
		filled++;
		if (filled == 4) {
			buf[len++] = (uint8_t)(group >> 16);
			buf[len++] = (uint8_t)(group >> 8);
			buf[len++] = (uint8_t)group;
			group = 0;
			filled = 0;
		}
	}
	// The tail: 2 symbols carry one byte, 3 carry two; padding, when
	// present, must complete the group.
	if (filled == 1 || (padding > 0 && filled + (int)padding != 4))
		goto bad;
	if (filled == 2) {
		buf[len++] = (uint8_t)(group >> 4);
	} else if (filled == 3) {
		buf[len++] = (uint8_t)(group >> 10);
		buf[len++] = (uint8_t)(group >> 2);
	}
	if (len == 0)
		goto bad;
	*out = buf;
	*out_size = len;
	return 0;
bad:
	free(buf);
	return -EINVAL;
}
