// SPDX-License-Identifier: Apache-2.0
// Issuance policy: PKCS#10 parsing and proof of possession, which names a
// request may carry, and the two ways to get a certificate: a new
// enrollment with a one-time bootstrap token, and a renewal authorized by
// the current certificate.

#include "ca_internal.h"

#include <coffer/crypto.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

// Largest RSA modulus accepted, which bounds the cost of verifying a request.
#define CA_RSA_MAX_BITS 8192

#define TOKEN_ID_HEX CA_TOKEN_ID_HEX
#define TOKEN_SECRET_HEX 64

// Checks the key type from the subjectPublicKeyInfo's algorithm identifier,
// which is cheaper than asking the EVP_PKEY for its parameters.
static int check_public_key(X509_REQ *req, EVP_PKEY *key, struct cf_error *err)
{
	ASN1_OBJECT *algorithm = NULL;
	X509_ALGOR *params = NULL;
	X509_PUBKEY_get0_param(&algorithm, NULL, NULL, &params, X509_REQ_get_X509_PUBKEY(req));
	int nid = OBJ_obj2nid(algorithm);

	if (nid == NID_X9_62_id_ecPublicKey) {
		const void *curve = NULL;
		int type = V_ASN1_UNDEF;
		X509_ALGOR_get0(NULL, &type, &curve, params);
		int curve_nid = type == V_ASN1_OBJECT ? OBJ_obj2nid(curve) : NID_undef;
		if (curve_nid == NID_undef)
			return cf_error_set(err, -EINVAL, "the request's EC key has no named curve");
		if (curve_nid != NID_X9_62_prime256v1 && curve_nid != NID_secp384r1)
			return cf_error_set(err, -EINVAL,
					    "EC curve %s is not accepted (use P-256 or P-384)",
					    OBJ_nid2sn(curve_nid));
		return 0;
	}
	if (nid == NID_rsaEncryption) {
		int bits = EVP_PKEY_get_bits(key);
		if (bits < 2048 || bits > CA_RSA_MAX_BITS)
			return cf_error_set(err, -EINVAL,
					    "RSA key of %d bits is not accepted (2048 to %d bits)", bits,
					    CA_RSA_MAX_BITS);
		return 0;
	}
	return cf_error_set(err, -EINVAL,
			    "key type %s is not accepted (use ECDSA P-256, P-384 or RSA 2048+)",
			    EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key) : "unknown");
}

// ---- fast path for ECDSA requests ----------------------------------------
//
// OpenSSL 3.0's d2i_X509_REQ turns the public key into an EVP_PKEY through
// its decoder search, which costs several times an ECDSA verification. So
// EC requests are parsed here with templates that keep the key as bytes.
// The key is made from a template of the curve's parameters and the point,
// which OpenSSL checks to lie on the curve, and the signature is verified
// over the DER of certificationRequestInfo as received. Other keys take d2i_X509_REQ.

typedef struct {
	X509_ALGOR *algorithm;
	ASN1_BIT_STRING *public_key;
} CA_SPKI;

ASN1_SEQUENCE(CA_SPKI) = {
	ASN1_SIMPLE(CA_SPKI, algorithm, X509_ALGOR),
	ASN1_SIMPLE(CA_SPKI, public_key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CA_SPKI)

typedef struct {
	ASN1_INTEGER *version;
	X509_NAME *subject;
	CA_SPKI *spki;
	STACK_OF(X509_ATTRIBUTE) *attributes;
} CA_REQ_INFO;

ASN1_SEQUENCE(CA_REQ_INFO) = {
	ASN1_SIMPLE(CA_REQ_INFO, version, ASN1_INTEGER),
	ASN1_SIMPLE(CA_REQ_INFO, subject, X509_NAME),
	ASN1_SIMPLE(CA_REQ_INFO, spki, CA_SPKI),
	ASN1_IMP_SET_OF(CA_REQ_INFO, attributes, X509_ATTRIBUTE, 0),
} static_ASN1_SEQUENCE_END(CA_REQ_INFO)

typedef struct {
	CA_REQ_INFO *info;
	X509_ALGOR *signature_algorithm;
	ASN1_BIT_STRING *signature;
} CA_REQ;

ASN1_SEQUENCE(CA_REQ) = {
	ASN1_SIMPLE(CA_REQ, info, CA_REQ_INFO),
	ASN1_SIMPLE(CA_REQ, signature_algorithm, X509_ALGOR),
	ASN1_SIMPLE(CA_REQ, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CA_REQ)

// Finds the DER of the first element inside the outer SEQUENCE.
static int signed_span(const uint8_t *der, size_t size, const uint8_t **start, size_t *length)
{
	const unsigned char *p = der;
	long content = 0;
	int tag = 0, xclass = 0;

	if (ASN1_get_object(&p, &content, &tag, &xclass, (long)size) & 0x80)
		return -EINVAL;
	const unsigned char *info = p;
	if (ASN1_get_object(&p, &content, &tag, &xclass, (long)(der + size - p)) & 0x80)
		return -EINVAL;
	*start = info;
	*length = (size_t)(p - info) + (size_t)content;
	return 0;
}

// Parameter-only keys for the accepted curves and the digests that request
// signatures use, made once per process. With OpenSSL 3.0, copying a
// template's parameters into a new key takes about a third of the time of
// building the curve group from its name. A digest passed as EVP_sha256()
// or its like is fetched by name again on every EVP_DigestVerifyInit.
static EVP_PKEY *curve_p256;
static EVP_PKEY *curve_p384;
static EVP_MD *digest_sha256;
static EVP_MD *digest_sha384;
static EVP_MD *digest_sha512;
static pthread_once_t verify_setup_once = PTHREAD_ONCE_INIT;

static EVP_PKEY *make_curve_template(const char *group)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *params = NULL;
	if (ctx == NULL || EVP_PKEY_paramgen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_group_name(ctx, group) != 1 || EVP_PKEY_paramgen(ctx, &params) != 1)
		params = NULL;
	EVP_PKEY_CTX_free(ctx);
	return params;
}

// These objects live until the process exits. On failure a pointer stays
// NULL, and the requests that need it are rejected.
static void setup_verify(void)
{
	curve_p256 = make_curve_template("P-256");
	curve_p384 = make_curve_template("P-384");
	digest_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	digest_sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
	digest_sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
	ERR_clear_error();
}

// Makes a public key from the curve parameters of curve and the encoded
// point in bits. Setting the point checks that it lies on the curve.
static EVP_PKEY *import_ec_key(const EVP_PKEY *curve, const ASN1_BIT_STRING *bits)
{
	EVP_PKEY *key = EVP_PKEY_new();
	if (curve == NULL || key == NULL || EVP_PKEY_copy_parameters(key, curve) != 1 ||
	    EVP_PKEY_set1_encoded_public_key(key, ASN1_STRING_get0_data(bits),
					     (size_t)ASN1_STRING_length(bits)) != 1) {
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

// Builds an X509_REQ with the parsed subject, key info and attributes, for
// the policy code. It carries no signature: the caller verified it.
static X509_REQ *rebuild_request(const CA_REQ_INFO *info)
{
	X509_REQ *req = X509_REQ_new();
	if (req == NULL || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(req, info->subject))
		goto fail;

	const ASN1_OBJECT *curve = NULL;
	int type = V_ASN1_UNDEF;
	X509_ALGOR_get0(NULL, &type, (const void **)&curve, info->spki->algorithm);
	ASN1_OBJECT *algorithm = OBJ_nid2obj(NID_X9_62_id_ecPublicKey);
	ASN1_OBJECT *curve_copy = OBJ_dup(curve);
	int key_len = ASN1_STRING_length(info->spki->public_key);
	unsigned char *key = OPENSSL_memdup(ASN1_STRING_get0_data(info->spki->public_key),
					    (size_t)key_len);
	if (curve_copy == NULL || key == NULL ||
	    !X509_PUBKEY_set0_param(X509_REQ_get_X509_PUBKEY(req), algorithm, V_ASN1_OBJECT,
				    curve_copy, key, key_len)) {
		ASN1_OBJECT_free(curve_copy);
		OPENSSL_free(key);
		goto fail;
	}
	for (int i = 0; i < sk_X509_ATTRIBUTE_num(info->attributes); i++) {
		if (!X509_REQ_add1_attr(req, sk_X509_ATTRIBUTE_value(info->attributes, i)))
			goto fail;
	}
	return req;
fail:
	X509_REQ_free(req);
	return NULL;
}

// Returns 1 when the request was handled here (*out set, or an error
// recorded in rc), 0 when it must take the general path.
static int parse_ec_request(const uint8_t *der, size_t size, CA_REQ **out, int *rc,
			    struct cf_error *err)
{
	const unsigned char *p = der;
	CA_REQ *parsed = (CA_REQ *)ASN1_item_d2i(NULL, &p, (long)size, ASN1_ITEM_rptr(CA_REQ));
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	int handled = 0;

	if (parsed == NULL || p != der + size ||
	    OBJ_obj2nid(parsed->info->spki->algorithm->algorithm) != NID_X9_62_id_ecPublicKey)
		goto out;
	const ASN1_OBJECT *curve = NULL;
	int type = V_ASN1_UNDEF;
	X509_ALGOR_get0(NULL, &type, (const void **)&curve, parsed->info->spki->algorithm);
	int curve_nid = type == V_ASN1_OBJECT ? OBJ_obj2nid(curve) : NID_undef;
	const char *group = curve_nid == NID_X9_62_prime256v1 ? "P-256"
			    : curve_nid == NID_secp384r1   ? "P-384"
							   : NULL;
	// Other curves take the general path, which rejects them with a message.
	if (group == NULL)
		goto out;

	handled = 1;
	pthread_once(&verify_setup_once, setup_verify);
	const EVP_PKEY *curve_params = curve_nid == NID_X9_62_prime256v1 ? curve_p256 : curve_p384;
	const EVP_MD *digest = NULL;
	switch (OBJ_obj2nid(parsed->signature_algorithm->algorithm)) {
	case NID_ecdsa_with_SHA256:
		digest = digest_sha256;
		break;
	case NID_ecdsa_with_SHA384:
		digest = digest_sha384;
		break;
	case NID_ecdsa_with_SHA512:
		digest = digest_sha512;
		break;
	default:
		*rc = cf_error_set(err, -EINVAL, "the request's signature algorithm is not ECDSA with SHA-2");
		goto out;
	}
	long version = ASN1_INTEGER_get(parsed->info->version);
	if (version != 0) {
		*rc = cf_error_set(err, -EINVAL, "the request has version %ld (expected 0)", version);
		goto out;
	}

	const uint8_t *signed_data = NULL;
	size_t signed_size = 0;
	key = import_ec_key(curve_params, parsed->info->spki->public_key);
	md = EVP_MD_CTX_new();
	if (key == NULL) {
		*rc = cf_error_set(err, -EINVAL, "the request's %s public key is invalid", group);
		goto out;
	}
	if (md == NULL || digest == NULL || signed_span(der, size, &signed_data, &signed_size) != 0 ||
	    EVP_DigestVerifyInit(md, NULL, digest, NULL, key) != 1 ||
	    EVP_DigestVerify(md, ASN1_STRING_get0_data(parsed->signature),
			     (size_t)ASN1_STRING_length(parsed->signature), signed_data,
			     signed_size) != 1) {
		ERR_clear_error();
		*rc = cf_error_set(err, -EINVAL,
				   "the request's signature does not verify with its public key");
		goto out;
	}
	*out = parsed;
	parsed = NULL;
	*rc = 0;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	ASN1_item_free((ASN1_VALUE *)parsed, ASN1_ITEM_rptr(CA_REQ));
	ERR_clear_error();
	return handled;
}

// A request whose signature verified: the fast path's parse of an EC
// request, which keeps the key as bytes, or else an X509_REQ.
struct request {
	CA_REQ *parsed;
	X509_REQ *req;
};

static void request_free(struct request *request)
{
	ASN1_item_free((ASN1_VALUE *)request->parsed, ASN1_ITEM_rptr(CA_REQ));
	X509_REQ_free(request->req);
	memset(request, 0, sizeof(*request));
}

static int request_read(const uint8_t *der, size_t size, struct request *out,
			struct cf_error *err)
{
	const unsigned char *p = der;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (size == 0 || size > CA_REQUEST_MAX)
		return cf_error_set(err, -EINVAL, "the request is empty or larger than %d bytes",
				    CA_REQUEST_MAX);
	if (parse_ec_request(der, size, &out->parsed, &rc, err))
		return rc;

	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)size);
	if (req == NULL)
		return cf_error_set(err, -EINVAL, "the body is not a DER PKCS#10 request");
	if (p != der + size) {
		X509_REQ_free(req);
		return cf_error_set(err, -EINVAL, "%zu bytes follow the PKCS#10 request",
				    (size_t)(der + size - p));
	}

	EVP_PKEY *key = X509_REQ_get0_pubkey(req);
	rc = key != NULL ? check_public_key(req, key, err)
			     : cf_error_set(err, -EINVAL, "the request's public key cannot be read");
	if (rc == 0 && X509_REQ_verify(req, key) != 1)
		rc = cf_error_set(err, -EINVAL,
				  "the request's signature does not verify with its public key");
	if (rc != 0) {
		X509_REQ_free(req);
		return rc;
	}
	out->req = req;
	return 0;
}

int ca_csr_parse(const uint8_t *der, size_t size, X509_REQ **out, struct cf_error *err)
{
	struct request request;
	int rc = request_read(der, size, &request, err);
	if (rc != 0)
		return rc;
	if (request.req != NULL) {
		*out = request.req;
		request.req = NULL;
	} else {
		*out = rebuild_request(request.parsed->info);
		rc = *out != NULL ? 0 : -ENOMEM;
	}
	request_free(&request);
	return rc;
}

static const X509_NAME *request_subject(const struct request *request)
{
	if (request->req != NULL)
		return X509_REQ_get_subject_name(request->req);
	return request->parsed->info->subject;
}

// Returns the extensions in the first value, a SEQUENCE, of the request's
// extensionRequest attribute, or of Microsoft's older attribute type when
// there is none. X509_REQ_get_extensions reads the same two types. Returns
// an empty stack without such an attribute and NULL when it is malformed.
static STACK_OF(X509_EXTENSION) *request_extensions(const struct request *request)
{
	static const int types[] = { NID_ext_req, NID_ms_ext_req };

	if (request->req != NULL)
		return X509_REQ_get_extensions(request->req);
	const STACK_OF(X509_ATTRIBUTE) *attributes = request->parsed->info->attributes;
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (int i = 0; i < sk_X509_ATTRIBUTE_num(attributes); i++) {
			X509_ATTRIBUTE *attribute = sk_X509_ATTRIBUTE_value(attributes, i);
			if (OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attribute)) != types[t])
				continue;
			ASN1_TYPE *value = X509_ATTRIBUTE_get0_type(attribute, 0);
			if (value == NULL)
				return sk_X509_EXTENSION_new_null();
			if (value->type != V_ASN1_SEQUENCE)
				return NULL;
			const unsigned char *p = value->value.sequence->data;
			return (STACK_OF(X509_EXTENSION) *)ASN1_item_d2i(
				NULL, &p, value->value.sequence->length,
				ASN1_ITEM_rptr(X509_EXTENSIONS));
		}
	}
	return sk_X509_EXTENSION_new_null();
}

// Encodes the request's SubjectPublicKeyInfo into a malloc'd *spki and
// points *bits at the contents of its subjectPublicKey BIT STRING, which
// stays valid as long as the request. The fast path's key is written as
// algorithm id-ecPublicKey with the named curve and the point with no
// unused bits, as X509_PUBKEY_set0_param would encode it.
static int request_public_key(const struct request *request, uint8_t **spki, size_t *spki_size,
			      const uint8_t **bits, size_t *bits_size)
{
	if (request->req != NULL) {
		X509_PUBKEY *public_key = X509_REQ_get_X509_PUBKEY(request->req);
		const unsigned char *key_bits = NULL;
		int key_bits_len = 0;
		unsigned char *der = NULL;
		int der_len = i2d_X509_PUBKEY(public_key, &der);
		if (der_len <= 0 ||
		    !X509_PUBKEY_get0_param(NULL, &key_bits, &key_bits_len, NULL, public_key)) {
			OPENSSL_free(der);
			return -EINVAL;
		}
		*spki = malloc((size_t)der_len);
		if (*spki != NULL)
			memcpy(*spki, der, (size_t)der_len);
		OPENSSL_free(der);
		if (*spki == NULL)
			return -ENOMEM;
		*spki_size = (size_t)der_len;
		*bits = key_bits;
		*bits_size = (size_t)key_bits_len;
		return 0;
	}

	static const uint8_t ec_public_key_oid[] = { 0x06, 0x07, 0x2a, 0x86, 0x48,
						     0xce, 0x3d, 0x02, 0x01 };
	const CA_SPKI *key = request->parsed->info->spki;
	const ASN1_OBJECT *curve = NULL;
	int type = V_ASN1_UNDEF;
	X509_ALGOR_get0(NULL, &type, (const void **)&curve, key->algorithm);
	unsigned char curve_der[32], *curve_end = curve_der;
	int curve_len = type == V_ASN1_OBJECT ? i2d_ASN1_OBJECT(curve, NULL) : -1;
	if (curve_len <= 0 || (size_t)curve_len > sizeof(curve_der))
		return -EINVAL;
	i2d_ASN1_OBJECT(curve, &curve_end);

	size_t point_len = (size_t)ASN1_STRING_length(key->public_key);
	size_t algorithm_len = sizeof(ec_public_key_oid) + (size_t)curve_len;
	size_t algorithm_field = ca_der_header_size(algorithm_len) + algorithm_len;
	size_t bits_field = ca_der_header_size(point_len + 1) + point_len + 1;
	size_t total = ca_der_header_size(algorithm_field + bits_field) + algorithm_field +
		       bits_field;
	uint8_t *der = malloc(total);
	if (der == NULL)
		return -ENOMEM;
	uint8_t *p = ca_der_put_header(der, 0x30, algorithm_field + bits_field);
	p = ca_der_put_header(p, 0x30, algorithm_len);
	memcpy(p, ec_public_key_oid, sizeof(ec_public_key_oid));
	p += sizeof(ec_public_key_oid);
	memcpy(p, curve_der, (size_t)curve_len);
	p += curve_len;
	p = ca_der_put_header(p, 0x03, point_len + 1);
	*p++ = 0; // no unused bits
	memcpy(p, ASN1_STRING_get0_data(key->public_key), point_len);
	*spki = der;
	*spki_size = total;
	*bits = ASN1_STRING_get0_data(key->public_key);
	*bits_size = point_len;
	return 0;
}

static bool san_equal(const char *a, const char *b)
{
	// ca_san_normalize lower-cases DNS names and canonicalises addresses,
	// so a plain comparison suffices.
	return strcmp(a, b) == 0;
}

static bool san_list_contains(const struct ca_san_list *list, const char *san)
{
	for (size_t i = 0; i < list->count; i++) {
		if (san_equal(list->names[i], san))
			return true;
	}
	return false;
}

// Collects the SANs and CN that a request names, checked for form: at least one SAN,
// and a CN that is absent (then the first SAN's value is used) or equal to
// one of the SAN values.
static int request_identity(const struct request *request, struct ca_san_list *sans, char *cn,
			    size_t cn_size, struct cf_error *err)
{
	STACK_OF(X509_EXTENSION) *exts = request_extensions(request);
	int crit = 0;
	GENERAL_NAMES *names = exts != NULL ? X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL)
					    : NULL;
	int rc = 0;

	sans->count = 0;
	if (names == NULL && crit == -2)
		rc = cf_error_set(err, -EINVAL, "the request has more than one SAN extension");
	else if (names == NULL)
		rc = cf_error_set(err, -EINVAL,
				  "the request has no subjectAltName extension; request at least one SAN");
	if (rc == 0)
		rc = ca_sans_from_names(names, sans, err);
	if (rc == 0 && sans->count == 0)
		rc = cf_error_set(err, -EINVAL, "the request's subjectAltName extension is empty");
	GENERAL_NAMES_free(names);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (rc != 0)
		return rc;

	int cn_rc = ca_subject_cn(request_subject(request), cn, cn_size);
	if (cn_rc == -ENOENT) {
		snprintf(cn, cn_size, "%s", ca_san_value(sans->names[0]));
		return 0;
	}
	if (cn_rc != 0)
		return cf_error_set(err, -EINVAL, "the request's subject CN is malformed or repeated");
	for (size_t i = 0; i < sans->count; i++) {
		const char *value = ca_san_value(sans->names[i]);
		bool dns = strncmp(sans->names[i], "DNS:", 4) == 0;
		if (dns ? strcasecmp(value, cn) == 0 : strcmp(value, cn) == 0) {
			// Use the SAN's canonical spelling.
			snprintf(cn, cn_size, "%s", value);
			return 0;
		}
	}
	return cf_error_set(err, -EPERM, "the request's CN '%s' is not one of its SANs", cn);
}

static int check_allowed(const struct ca_san_list *requested, const struct ca_san_list *allowed,
			 struct cf_error *err)
{
	for (size_t i = 0; i < requested->count; i++) {
		if (!san_list_contains(allowed, requested->names[i]))
			return cf_error_set(err, -EPERM, "SAN %s is not allowed for this token",
					    requested->names[i]);
	}
	return 0;
}

int ca_csr_identity(const uint8_t *der, size_t size, struct ca_san_list *sans, char *cn,
		    size_t cn_size, struct cf_error *err)
{
	struct request request;
	int rc = request_read(der, size, &request, err);
	if (rc == 0)
		rc = request_identity(&request, sans, cn, cn_size, err);
	request_free(&request);
	return rc;
}

int ca_policy_check(X509_REQ *req, const char *const *allowed, size_t allowed_count,
		    struct cf_error *err)
{
	struct ca_san_list allowed_list = { 0 }, requested;
	char cn[256];

	if (allowed_count > CA_SAN_MAX)
		return cf_error_set(err, -EINVAL, "more than %d allowed SANs", CA_SAN_MAX);
	for (size_t i = 0; i < allowed_count; i++) {
		int rc = ca_san_normalize(allowed[i], allowed_list.names[allowed_list.count], err);
		if (rc != 0)
			return rc;
		allowed_list.count++;
	}
	struct request request = { .req = req };
	int rc = request_identity(&request, &requested, cn, sizeof(cn), err);
	if (rc == 0)
		rc = check_allowed(&requested, &allowed_list, err);
	return rc;
}

static int64_t cert_time(const ASN1_TIME *time)
{
	struct tm tm;
	if (!ASN1_TIME_to_tm(time, &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

static int issue(struct ca *ca, const struct request *request, const char *cn,
		 const struct ca_san_list *sans, enum ca_profile profile, int64_t lifetime,
		 struct ca_leaf *out, struct cf_error *err)
{
	int64_t now = cf_now();
	int64_t not_after = now + lifetime;
	int64_t issuer_not_after = cert_time(X509_get0_notAfter(ca->issuer));

	// A leaf never outlives its issuer.
	if (not_after > issuer_not_after)
		not_after = issuer_not_after;
	if (not_after <= now)
		return cf_error_set(err, -EKEYEXPIRED, "the issuing CA certificate has expired");

	uint8_t *spki = NULL;
	size_t spki_size = 0, bits_size = 0;
	const uint8_t *bits = NULL;
	int rc = request_public_key(request, &spki, &spki_size, &bits, &bits_size);
	if (rc != 0)
		return cf_error_set(err, rc, "the request's public key cannot be encoded");

	struct ca_leaf_spec spec = {
		.cn = cn,
		.sans = sans,
		.spki = spki,
		.spki_size = spki_size,
		.key_bits = bits,
		.key_bits_size = bits_size,
		.not_before = now - CA_BACKDATE,
		.not_after = not_after,
		.profile = profile,
	};
	rc = ca_leaf_build(ca, &spec, out, err);
	free(spki);
	return rc;
}

// Splits "ID.SECRET" into its parts; both are lowercase hex.
static int token_split(const char *token, char id[TOKEN_ID_HEX + 1],
		       char secret[TOKEN_SECRET_HEX + 1])
{
	size_t len = strlen(token);
	if (len != TOKEN_ID_HEX + 1 + TOKEN_SECRET_HEX || token[TOKEN_ID_HEX] != '.')
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = token[i];
		if (i != TOKEN_ID_HEX && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -EINVAL;
	}
	memcpy(id, token, TOKEN_ID_HEX);
	id[TOKEN_ID_HEX] = '\0';
	memcpy(secret, token + TOKEN_ID_HEX + 1, TOKEN_SECRET_HEX);
	secret[TOKEN_SECRET_HEX] = '\0';
	return 0;
}

struct token_row {
	char sans_text[CA_SAN_MAX * CA_SAN_TEXT_MAX];
	struct ca_san_list sans;
	enum ca_profile profile;
	int64_t lifetime;
};

// Looks the token up and checks its secret (by its SHA-256 hash), use and
// expiry. Only a check inside the transaction that consumes the token
// stops two requests from both using it.
static int token_check(struct ca *ca, const char *id, const uint8_t hash[CA_TOKEN_HASH_SIZE],
		       struct token_row *row, struct cf_error *err)
{
	sqlite3_stmt *stmt = ca->token_select;
	int rc = 0;

	sqlite3_reset(stmt);
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	int step = sqlite3_step(stmt);
	if (step != SQLITE_ROW) {
		rc = step == SQLITE_DONE
			     ? cf_error_set(err, -EACCES, "bootstrap token %s is unknown", id)
			     : cf_error_set(err, -EIO, "database error: %s", sqlite3_errmsg(ca->db));
		goto out;
	}
	if (sqlite3_column_bytes(stmt, 0) != CA_TOKEN_HASH_SIZE ||
	    !cf_ct_equal(sqlite3_column_blob(stmt, 0), hash, CA_TOKEN_HASH_SIZE)) {
		rc = cf_error_set(err, -EACCES, "bootstrap token %s has a wrong secret", id);
		goto out;
	}
	if (sqlite3_column_type(stmt, 5) != SQLITE_NULL) {
		rc = cf_error_set(err, -EACCES, "bootstrap token %s was already used", id);
		goto out;
	}
	if (sqlite3_column_int64(stmt, 4) <= cf_now()) {
		rc = cf_error_set(err, -EACCES, "bootstrap token %s has expired", id);
		goto out;
	}
	snprintf(row->sans_text, sizeof(row->sans_text), "%s",
		 (const char *)sqlite3_column_text(stmt, 1));
	rc = ca_sans_split(row->sans_text, &row->sans, err);
	row->profile = (enum ca_profile)sqlite3_column_int(stmt, 2);
	row->lifetime = sqlite3_column_int64(stmt, 3);
out:
	sqlite3_reset(stmt);
	return rc;
}

// Marks the token as used by serial, but only while its row is still the
// one that ca_enroll_prepare checked: unused, unexpired, and with the same
// secret hash, SANs, profile and lifetime. One UPDATE does the check and
// the change. When no row matched, token_check finds the reason.
static int token_consume(struct ca *ca, const struct ca_enrollment *enrollment,
			 struct cf_error *err)
{
	sqlite3_stmt *stmt = ca->token_consume;

	sqlite3_reset(stmt);
	sqlite3_bind_text(stmt, 1, enrollment->token_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, cf_now());
	sqlite3_bind_text(stmt, 3, enrollment->leaf.serial, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 4, enrollment->secret_hash, CA_TOKEN_HASH_SIZE, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, enrollment->token_sans, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 6, enrollment->profile);
	sqlite3_bind_int64(stmt, 7, enrollment->lifetime);
	int step = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (step != SQLITE_DONE)
		return cf_error_set(err, -EIO, "marking token %s as used failed: %s",
				    enrollment->token_id, sqlite3_errmsg(ca->db));
	if (sqlite3_changes(ca->db) == 1)
		return 0;

	struct token_row row;
	int rc = token_check(ca, enrollment->token_id, enrollment->secret_hash, &row, err);
	if (rc != 0)
		return rc;
	// Tokens change only when consumed. A row that passes the check but
	// did not match was edited outside coffer after the certificate was
	// signed.
	return cf_error_set(err, -EACCES, "bootstrap token %s changed during the enrollment",
			    enrollment->token_id);
}

int ca_enroll_prepare(struct ca *ca, const char *token, const uint8_t *csr_der, size_t csr_size,
		      struct ca_enrollment *out, struct cf_error *err)
{
	char secret[TOKEN_SECRET_HEX + 1], cn[256];
	struct token_row row;
	struct request request = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	if (token_split(token, out->token_id, secret) != 0)
		return cf_error_set(err, -EACCES, "the bootstrap token is malformed (expected ID.SECRET)");
	cf_sha256(secret, strlen(secret), out->secret_hash);
	cf_wipe(secret, sizeof(secret));

	rc = request_read(csr_der, csr_size, &request, err);
	if (rc == 0)
		rc = request_identity(&request, &out->sans, cn, sizeof(cn), err);
	// Reading the token outside a write transaction lets the signing below
	// run while other threads commit. ca_enroll_record checks it again.
	if (rc == 0)
		rc = token_check(ca, out->token_id, out->secret_hash, &row, err);
	if (rc == 0)
		rc = check_allowed(&out->sans, &row.sans, err);
	if (rc == 0)
		rc = issue(ca, &request, cn, &out->sans, row.profile, row.lifetime, &out->leaf, err);
	request_free(&request);
	if (rc != 0) {
		ca_enrollment_clear(out);
		return rc;
	}
	out->profile = row.profile;
	out->lifetime = row.lifetime;
	snprintf(out->token_sans, sizeof(out->token_sans), "%s", row.sans_text);
	return 0;
}

int ca_enroll_record(struct ca *ca, struct ca_enrollment *enrollment, struct ca_leaf *out,
		     struct cf_error *err)
{
	char actor[32];

	int rc = ca_db_begin(ca, err);
	if (rc != 0)
		return rc;
	rc = token_consume(ca, enrollment, err);
	snprintf(actor, sizeof(actor), "token:%s", enrollment->token_id);
	if (rc == 0)
		rc = ca_record_leaf(ca, &enrollment->leaf, &enrollment->sans, enrollment->profile,
				    actor, err);
	if (rc == 0)
		rc = ca_db_commit(ca, err);
	if (rc != 0) {
		ca_db_rollback(ca);
		return rc;
	}
	*out = enrollment->leaf;
	enrollment->leaf.der = NULL;
	return 0;
}

void ca_enrollment_clear(struct ca_enrollment *enrollment)
{
	ca_leaf_clear(&enrollment->leaf);
	cf_wipe(enrollment->secret_hash, sizeof(enrollment->secret_hash));
}

int ca_enroll(struct ca *ca, const char *token, const uint8_t *csr_der, size_t csr_size,
	      X509 **out, struct cf_error *err)
{
	struct ca_enrollment *enrollment = malloc(sizeof(*enrollment));
	struct ca_leaf leaf = { 0 };
	if (enrollment == NULL)
		return -ENOMEM;
	int rc = ca_enroll_prepare(ca, token, csr_der, csr_size, enrollment, err);
	if (rc == 0)
		rc = ca_enroll_record(ca, enrollment, &leaf, err);
	if (rc == 0)
		rc = ca_leaf_to_x509(&leaf, out, err);
	ca_leaf_clear(&leaf);
	ca_enrollment_clear(enrollment);
	free(enrollment);
	return rc;
}

int ca_check_client_cert(struct ca *ca, X509 *cert, STACK_OF(X509) *chain,
			 struct cf_error *err)
{
	char serial[CA_SERIAL_HEX_SIZE];
	int rc = 0;

	if (cert == NULL)
		return cf_error_set(err, -EACCES,
				    "no client certificate was presented over TLS; renewal needs the current one");

	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (ctx == NULL || !X509_STORE_CTX_init(ctx, ca->trust, cert, chain)) {
		X509_STORE_CTX_free(ctx);
		return -ENOMEM;
	}
	if (X509_verify_cert(ctx) != 1) {
		int code = X509_STORE_CTX_get_error(ctx);
		rc = cf_error_set(err, -EACCES, "the client certificate is not valid: %s",
				  X509_verify_cert_error_string(code));
	}
	X509_STORE_CTX_free(ctx);
	if (rc != 0)
		return rc;

	// The chain verified; the issuer must be this CA's intermediate, not
	// the root directly (the root issues only the intermediate).
	if (X509_check_issued(ca->issuer, cert) != X509_V_OK)
		return cf_error_set(err, -EACCES, "the client certificate was not issued by this CA");

	if (ca_serial_hex(cert, serial) != 0)
		return cf_error_set(err, -EACCES, "the client certificate's serial is not one of ours");
	sqlite3_stmt *stmt = ca->cert_select;
	sqlite3_reset(stmt);
	sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	int step = sqlite3_step(stmt);
	if (step != SQLITE_ROW)
		rc = cf_error_set(err, -EACCES, "certificate %s is not in this CA's records", serial);
	else if (sqlite3_column_type(stmt, 3) != SQLITE_NULL)
		rc = cf_error_set(err, -EACCES, "certificate %s is revoked", serial);
	sqlite3_reset(stmt);
	return rc;
}

static bool same_sans(const struct ca_san_list *a, const struct ca_san_list *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++) {
		if (!san_list_contains(b, a->names[i]) || !san_list_contains(a, b->names[i]))
			return false;
	}
	return true;
}

int ca_reenroll_leaf(struct ca *ca, X509 *current, STACK_OF(X509) *chain,
		     const uint8_t *csr_der, size_t csr_size, struct ca_leaf *out,
		     struct cf_error *err)
{
	char serial[CA_SERIAL_HEX_SIZE], cn[256], current_cn[256] = "", actor[48];
	struct ca_san_list requested, current_sans;
	struct request request = { 0 };
	struct ca_leaf leaf = { 0 };

	int rc = ca_check_client_cert(ca, current, chain, err);
	if (rc == 0)
		rc = request_read(csr_der, csr_size, &request, err);
	if (rc == 0)
		rc = request_identity(&request, &requested, cn, sizeof(cn), err);
	if (rc == 0)
		rc = ca_sans_from_cert(current, &current_sans, err);
	if (rc != 0)
		goto out;

	ca_subject_cn(X509_get_subject_name(current), current_cn, sizeof(current_cn));
	if (strcmp(cn, current_cn) != 0) {
		rc = cf_error_set(err, -EPERM,
				  "renewal must keep the subject: the request has CN '%s', the current certificate '%s'",
				  cn, current_cn);
		goto out;
	}
	if (!same_sans(&requested, &current_sans)) {
		rc = cf_error_set(err, -EPERM,
				  "renewal must keep the SANs of the current certificate");
		goto out;
	}

	// The renewal keeps the profile and the lifetime of the current one.
	enum ca_profile profile = CA_PROFILE_BOTH;
	int64_t lifetime = ca->lifetime;
	ca_serial_hex(current, serial);
	sqlite3_stmt *stmt = ca->cert_select;
	sqlite3_reset(stmt);
	sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		profile = (enum ca_profile)sqlite3_column_int(stmt, 0);
		lifetime = sqlite3_column_int64(stmt, 2) - sqlite3_column_int64(stmt, 1) - CA_BACKDATE;
	}
	sqlite3_reset(stmt);
	if (lifetime <= 0 || lifetime > ca->max_lifetime)
		lifetime = ca->lifetime;

	// Signing before the transaction keeps it out of the write lock.
	rc = issue(ca, &request, cn, &requested, profile, lifetime, &leaf, err);
	if (rc == 0)
		rc = ca_db_begin(ca, err);
	if (rc != 0)
		goto out;
	snprintf(actor, sizeof(actor), "cert:%s", serial);
	rc = ca_record_leaf(ca, &leaf, &requested, profile, actor, err);
	if (rc == 0)
		rc = ca_db_commit(ca, err);
	if (rc != 0) {
		ca_db_rollback(ca);
		goto out;
	}
	*out = leaf;
	leaf.der = NULL;
out:
	ca_leaf_clear(&leaf);
	request_free(&request);
	return rc;
}

int ca_reenroll(struct ca *ca, X509 *current, STACK_OF(X509) *chain,
		const uint8_t *csr_der, size_t csr_size, X509 **out, struct cf_error *err)
{
	struct ca_leaf leaf = { 0 };
	int rc = ca_reenroll_leaf(ca, current, chain, csr_der, csr_size, &leaf, err);
	if (rc == 0)
		rc = ca_leaf_to_x509(&leaf, out, err);
	ca_leaf_clear(&leaf);
	return rc;
}
