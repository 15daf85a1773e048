// SPDX-License-Identifier: Apache-2.0
// Leaf certificates written as DER directly, for the issuance path. With
// OpenSSL 3.0, building an X509 object, adding six extensions, encoding
// the TBSCertificate to sign it and encoding the whole certificate again
// for the reply took about as many instructions (counted by callgrind) as
// the ECDSA signature. Here the TBSCertificate is written once, in the
// layout that ca_cert_build produces for a leaf, which the unit tests
// check byte for byte. It is signed with a copy of the CA's prepared
// signing context and kept as DER until the reply. CA certificates still
// use ca_cert_build.

#include "ca_internal.h"

#include <coffer/crypto.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>

// A buffer that DER is appended to. Nested items are written content
// first and then given their header by der_wrap, which moves the content
// up to make room. The contents of a certificate are at most a few KiB.
struct der_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool failed; // set when an allocation failed, after which writes do nothing
};

static bool der_reserve(struct der_buf *b, size_t more)
{
	if (b->failed)
		return false;
	if (b->len + more <= b->cap)
		return true;
	size_t cap = b->cap > 0 ? b->cap : 1024;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *grown = realloc(b->data, cap);
	if (grown == NULL) {
		b->failed = true;
		return false;
	}
	b->data = grown;
	b->cap = cap;
	return true;
}

static void der_put(struct der_buf *b, const void *bytes, size_t size)
{
	if (!der_reserve(b, size))
		return;
	memcpy(b->data + b->len, bytes, size);
	b->len += size;
}

static void der_put_byte(struct der_buf *b, uint8_t byte)
{
	der_put(b, &byte, 1);
}

// Gives the bytes written since start a DER header with tag.
static void der_wrap(struct der_buf *b, size_t start, uint8_t tag)
{
	size_t content = b->len - start;
	size_t header = ca_der_header_size(content);
	if (!der_reserve(b, header))
		return;
	memmove(b->data + start + header, b->data + start, content);
	ca_der_put_header(b->data + start, tag, content);
	b->len += header;
}

// Writes tag, length and bytes as one primitive item.
static void der_put_item(struct der_buf *b, uint8_t tag, const void *bytes, size_t size)
{
	uint8_t header[8];
	uint8_t *end = ca_der_put_header(header, tag, size);
	der_put(b, header, (size_t)(end - header));
	der_put(b, bytes, size);
}

#define DER_SEQUENCE 0x30
#define DER_SET 0x31
#define DER_INTEGER 0x02
#define DER_BIT_STRING 0x03
#define DER_OCTET_STRING 0x04
#define DER_OID 0x06
#define DER_UTF8_STRING 0x0c
#define DER_UTC_TIME 0x17
#define DER_GENERALIZED_TIME 0x18
#define DER_BOOLEAN_TRUE "\x01\x01\xff"

// Content octets of the object identifiers used below (RFC 5280 4.2.1
// and 4.1.2.4, and RFC 5280's id-kp values).
static const uint8_t oid_common_name[] = { 0x55, 0x04, 0x03 };
static const uint8_t oid_basic_constraints[] = { 0x55, 0x1d, 0x13 };
static const uint8_t oid_key_usage[] = { 0x55, 0x1d, 0x0f };
static const uint8_t oid_subject_key_id[] = { 0x55, 0x1d, 0x0e };
static const uint8_t oid_authority_key_id[] = { 0x55, 0x1d, 0x23 };
static const uint8_t oid_ext_key_usage[] = { 0x55, 0x1d, 0x25 };
static const uint8_t oid_subject_alt_name[] = { 0x55, 0x1d, 0x11 };
static const uint8_t oid_server_auth[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };
static const uint8_t oid_client_auth[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02 };

// GeneralName tags: [2] dNSName, [6] uniformResourceIdentifier and
// [7] iPAddress, all IMPLICIT and primitive.
#define GENERAL_NAME_DNS 0x82
#define GENERAL_NAME_URI 0x86
#define GENERAL_NAME_IP 0x87

// Writes a Time: UTCTime for the years 1950 to 2049, GeneralizedTime
// otherwise (RFC 5280 4.1.2.5).
static int der_put_time(struct der_buf *b, int64_t seconds)
{
	time_t t = (time_t)seconds;
	struct tm tm;
	char text[32];

	if (gmtime_r(&t, &tm) == NULL)
		return -EINVAL;
	int year = tm.tm_year + 1900;
	if (year < 0 || year > 9999)
		return -EINVAL;
	bool utc = year >= 1950 && year < 2050;
	int len = snprintf(text, sizeof(text), utc ? "%02d%02d%02d%02d%02d%02dZ"
						   : "%04d%02d%02d%02d%02d%02dZ",
			   utc ? year % 100 : year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			   tm.tm_min, tm.tm_sec);
	der_put_item(b, utc ? DER_UTC_TIME : DER_GENERALIZED_TIME, text, (size_t)len);
	return 0;
}

// Writes an INTEGER for the unsigned big-endian bytes: leading zero bytes
// dropped, and one 0x00 added when the first byte has its top bit set.
static void der_put_unsigned(struct der_buf *b, const uint8_t *bytes, size_t size)
{
	while (size > 1 && bytes[0] == 0) {
		bytes++;
		size--;
	}
	size_t start = b->len;
	if (bytes[0] & 0x80)
		der_put_byte(b, 0);
	der_put(b, bytes, size);
	der_wrap(b, start, DER_INTEGER);
}

// Starts an Extension: SEQUENCE { extnID, critical (only when TRUE),
// extnValue OCTET STRING { value } }. The caller writes the value and
// closes both with end_extension.
static void begin_extension(struct der_buf *b, const uint8_t *oid, size_t oid_size,
			    bool critical, size_t *extension_start, size_t *value_start)
{
	*extension_start = b->len;
	der_put_item(b, DER_OID, oid, oid_size);
	if (critical)
		der_put(b, DER_BOOLEAN_TRUE, 3);
	*value_start = b->len;
}

static void end_extension(struct der_buf *b, size_t extension_start, size_t value_start)
{
	der_wrap(b, value_start, DER_OCTET_STRING);
	der_wrap(b, extension_start, DER_SEQUENCE);
}

static int put_san(struct der_buf *b, const char *san)
{
	const char *value = ca_san_value(san);

	if (strncmp(san, "IP:", 3) == 0) {
		uint8_t address[16];
		if (inet_pton(AF_INET, value, address) == 1)
			der_put_item(b, GENERAL_NAME_IP, address, 4);
		else if (inet_pton(AF_INET6, value, address) == 1)
			der_put_item(b, GENERAL_NAME_IP, address, 16);
		else
			return -EINVAL;
		return 0;
	}
	uint8_t tag = strncmp(san, "URI:", 4) == 0 ? GENERAL_NAME_URI : GENERAL_NAME_DNS;
	der_put_item(b, tag, value, strlen(value));
	return 0;
}

static int put_extensions(struct der_buf *b, const struct ca *ca,
			  const struct ca_leaf_spec *spec)
{
	uint8_t key_id[EVP_MAX_MD_SIZE];
	unsigned int key_id_len = 0;
	size_t extension, value, inner;

	// SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2, method 1),
	// as X509_pubkey_digest computes it for ca_cert_build.
	if (EVP_Digest(spec->key_bits, spec->key_bits_size, key_id, &key_id_len, ca->leaf_sha1,
		       NULL) != 1)
		return -EIO;

	size_t start = b->len;
	// basicConstraints, critical: cA FALSE is the default, so the
	// SEQUENCE is empty.
	begin_extension(b, oid_basic_constraints, sizeof(oid_basic_constraints), true,
			&extension, &value);
	der_put(b, "\x30\x00", 2);
	end_extension(b, extension, value);

	// keyUsage, critical: digitalSignature (bit 0), 7 unused bits.
	begin_extension(b, oid_key_usage, sizeof(oid_key_usage), true, &extension, &value);
	der_put(b, "\x03\x02\x07\x80", 4);
	end_extension(b, extension, value);

	begin_extension(b, oid_subject_key_id, sizeof(oid_subject_key_id), false, &extension,
			&value);
	der_put_item(b, DER_OCTET_STRING, key_id, key_id_len);
	end_extension(b, extension, value);

	// authorityKeyIdentifier: SEQUENCE { [0] keyIdentifier } with the
	// issuer's subject key id.
	begin_extension(b, oid_authority_key_id, sizeof(oid_authority_key_id), false,
			&extension, &value);
	inner = b->len;
	der_put_item(b, 0x80, ca->leaf_issuer_key_id, ca->leaf_issuer_key_id_size);
	der_wrap(b, inner, DER_SEQUENCE);
	end_extension(b, extension, value);

	begin_extension(b, oid_ext_key_usage, sizeof(oid_ext_key_usage), false, &extension,
			&value);
	inner = b->len;
	if (spec->profile & CA_PROFILE_SERVER)
		der_put_item(b, DER_OID, oid_server_auth, sizeof(oid_server_auth));
	if (spec->profile & CA_PROFILE_CLIENT)
		der_put_item(b, DER_OID, oid_client_auth, sizeof(oid_client_auth));
	der_wrap(b, inner, DER_SEQUENCE);
	end_extension(b, extension, value);

	begin_extension(b, oid_subject_alt_name, sizeof(oid_subject_alt_name), false,
			&extension, &value);
	inner = b->len;
	for (size_t i = 0; i < spec->sans->count; i++) {
		if (put_san(b, spec->sans->names[i]) != 0)
			return -EINVAL;
	}
	der_wrap(b, inner, DER_SEQUENCE);
	end_extension(b, extension, value);

	der_wrap(b, start, DER_SEQUENCE);
	der_wrap(b, start, 0xa3); // [3] EXPLICIT extensions
	return 0;
}

// The common name is a SAN value, which ca_san_normalize keeps to
// printable ASCII, and X.520 allows at most 64 characters.
static bool common_name_valid(const char *cn)
{
	size_t len = strlen(cn);
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)cn[i] < 0x20 || (unsigned char)cn[i] > 0x7e)
			return false;
	}
	return true;
}

static int put_tbs(struct der_buf *b, const struct ca *ca, const struct ca_leaf_spec *spec,
		   const uint8_t serial[CA_SERIAL_SIZE])
{
	size_t start = b->len, inner;

	der_put(b, "\xa0\x03\x02\x01\x02", 5); // [0] EXPLICIT version v3
	der_put_unsigned(b, serial, CA_SERIAL_SIZE);
	der_put(b, ca->leaf_algorithm, ca->leaf_algorithm_size);
	der_put(b, ca->leaf_issuer_name, ca->leaf_issuer_name_size);

	inner = b->len;
	if (der_put_time(b, spec->not_before) != 0 || der_put_time(b, spec->not_after) != 0)
		return -EINVAL;
	der_wrap(b, inner, DER_SEQUENCE);

	// Name: SEQUENCE { SET { SEQUENCE { commonName, UTF8String } } }
	inner = b->len;
	der_put_item(b, DER_OID, oid_common_name, sizeof(oid_common_name));
	der_put_item(b, DER_UTF8_STRING, spec->cn, strlen(spec->cn));
	der_wrap(b, inner, DER_SEQUENCE);
	der_wrap(b, inner, DER_SET);
	der_wrap(b, inner, DER_SEQUENCE);

	der_put(b, spec->spki, spec->spki_size);
	int rc = put_extensions(b, ca, spec);
	if (rc != 0)
		return rc;
	der_wrap(b, start, DER_SEQUENCE);
	return 0;
}

static int random_serial(uint8_t serial[CA_SERIAL_SIZE])
{
	static const uint8_t zero[CA_SERIAL_SIZE];
	do {
		if (cf_random(serial, CA_SERIAL_SIZE) != 0)
			return -EIO;
	} while (memcmp(serial, zero, CA_SERIAL_SIZE) == 0);
	return 0;
}

int ca_leaf_build(const struct ca *ca, const struct ca_leaf_spec *spec, struct ca_leaf *out,
		  struct cf_error *err)
{
	struct der_buf b = { 0 };
	uint8_t serial[CA_SERIAL_SIZE];
	uint8_t *signature = NULL;
	EVP_MD_CTX *signing = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!common_name_valid(spec->cn))
		return cf_error_set(err, -EINVAL,
				    "common name '%s' is invalid (at most 64 characters)", spec->cn);
	if (spec->serial != NULL)
		memcpy(serial, spec->serial, CA_SERIAL_SIZE);
	else if (random_serial(serial) != 0)
		return cf_error_set(err, -EIO, "random number generation failed");

	rc = put_tbs(&b, ca, spec, serial);
	if (rc == 0 && b.failed)
		rc = -ENOMEM;
	if (rc != 0)
		goto out;

	rc = -EIO;
	size_t tbs_size = b.len, signature_size = 0;
	signing = EVP_MD_CTX_new();
	if (signing == NULL || EVP_MD_CTX_copy_ex(signing, ca->issuer_signing) != 1 ||
	    EVP_DigestSign(signing, NULL, &signature_size, b.data, tbs_size) != 1)
		goto out;
	signature = malloc(signature_size + 1);
	if (signature == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	// A BIT STRING's first content byte counts the unused bits: none.
	signature[0] = 0;
	if (EVP_DigestSign(signing, signature + 1, &signature_size, b.data, tbs_size) != 1)
		goto out;

	der_put(&b, ca->leaf_algorithm, ca->leaf_algorithm_size);
	der_put_item(&b, DER_BIT_STRING, signature, signature_size + 1);
	der_wrap(&b, 0, DER_SEQUENCE);
	if (b.failed) {
		rc = -ENOMEM;
		goto out;
	}

	out->der = b.data;
	out->der_size = b.len;
	b.data = NULL;
	cf_hex_encode(serial, CA_SERIAL_SIZE, out->serial);
	snprintf(out->cn, sizeof(out->cn), "%s", spec->cn);
	out->not_before = spec->not_before;
	out->not_after = spec->not_after;
	rc = 0;
out:
	if (rc != 0) {
		ERR_clear_error();
		cf_error_set(err, rc, "building the certificate for '%s' failed", spec->cn);
	}
	EVP_MD_CTX_free(signing);
	free(signature);
	free(b.data);
	return rc;
}

void ca_leaf_clear(struct ca_leaf *leaf)
{
	free(leaf->der);
	leaf->der = NULL;
	leaf->der_size = 0;
}

int ca_leaf_to_x509(const struct ca_leaf *leaf, X509 **out, struct cf_error *err)
{
	const unsigned char *p = leaf->der;
	X509 *cert = d2i_X509(NULL, &p, (long)leaf->der_size);
	if (cert == NULL)
		return cf_error_set(err, -EIO, "decoding certificate %s failed", leaf->serial);
	*out = cert;
	return 0;
}

int ca_leaf_setup(struct ca *ca, struct cf_error *err)
{
	uint8_t algorithm[128];
	OSSL_PARAM params[] = {
		OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, algorithm,
					sizeof(algorithm)),
		OSSL_PARAM_END,
	};
	EVP_PKEY_CTX *pkey_ctx = EVP_MD_CTX_get_pkey_ctx(ca->issuer_signing);
	const ASN1_OCTET_STRING *key_id = X509_get0_subject_key_id(ca->issuer);
	unsigned char *name = NULL;

	// The signature's AlgorithmIdentifier, as the signature provider
	// encodes it for the prepared digest and key.
	if (pkey_ctx == NULL || EVP_PKEY_CTX_get_params(pkey_ctx, params) != 1 ||
	    !OSSL_PARAM_modified(&params[0]) || params[0].return_size == 0 ||
	    params[0].return_size > sizeof(algorithm))
		goto fail;
	ca->leaf_algorithm = malloc(params[0].return_size);
	if (ca->leaf_algorithm == NULL)
		goto fail;
	memcpy(ca->leaf_algorithm, algorithm, params[0].return_size);
	ca->leaf_algorithm_size = params[0].return_size;

	int name_len = i2d_X509_NAME(X509_get_subject_name(ca->issuer), &name);
	if (name_len <= 0)
		goto fail;
	ca->leaf_issuer_name = malloc((size_t)name_len);
	if (ca->leaf_issuer_name == NULL)
		goto fail;
	memcpy(ca->leaf_issuer_name, name, (size_t)name_len);
	ca->leaf_issuer_name_size = (size_t)name_len;
	OPENSSL_free(name);
	name = NULL;

	if (key_id == NULL || ASN1_STRING_length(key_id) <= 0 ||
	    (size_t)ASN1_STRING_length(key_id) > sizeof(ca->leaf_issuer_key_id))
		goto fail;
	memcpy(ca->leaf_issuer_key_id, ASN1_STRING_get0_data(key_id),
	       (size_t)ASN1_STRING_length(key_id));
	ca->leaf_issuer_key_id_size = (size_t)ASN1_STRING_length(key_id);

	ca->leaf_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	if (ca->leaf_sha1 == NULL)
		goto fail;
	return 0;
fail:
	OPENSSL_free(name);
	ERR_clear_error();
	return cf_error_set(err, -EIO, "preparing leaf certificates for issuer %s failed",
			    ca->dir);
}

void ca_leaf_teardown(struct ca *ca)
{
	free(ca->leaf_algorithm);
	free(ca->leaf_issuer_name);
	EVP_MD_free(ca->leaf_sha1);
	ca->leaf_algorithm = NULL;
	ca->leaf_issuer_name = NULL;
	ca->leaf_sha1 = NULL;
}
