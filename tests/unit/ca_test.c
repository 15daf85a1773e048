// SPDX-License-Identifier: Apache-2.0
// The CA library without HTTP: helpers (base64, durations, SANs), request
// parsing and policy, and issuance, renewal, revocation, the CRL and the
// audit chain against a CA created in a temporary directory.

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <coffer/ca.h>

#include "ca/ca_internal.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

struct fixture {
	char dir[64];
	struct ca *ca;
};

static int setup_ca(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cf_error err = { 0 };
	struct ca_options options = { 0 };

	assert_non_null(f);
	strcpy(f->dir, "/tmp/ca-unit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	strcat(f->dir, "/ca");
	assert_int_equal(ca_init(f->dir, "unit", NULL, &err), 0);
	options.dir = f->dir;
	assert_int_equal(ca_open(&options, &f->ca, &err), 0);
	*state = f;
	return 0;
}

static int teardown_ca(void **state)
{
	struct fixture *f = *state;
	char command[128];

	ca_close(f->ca);
	*strrchr(f->dir, '/') = '\0';
	snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
	assert_int_equal(system(command), 0);
	free(f);
	return 0;
}

// Builds a DER request signed by a new key of the given type.
static uint8_t *make_csr(const char *curve_or_rsa, const char *cn, const char *sans,
			 size_t *size, EVP_PKEY **key_out)
{
	EVP_PKEY *key = strcmp(curve_or_rsa, "RSA") == 0 ? EVP_RSA_gen(2048)
							 : EVP_EC_gen(curve_or_rsa);
	X509_REQ *req = X509_REQ_new();
	assert_non_null(key);
	assert_non_null(req);
	X509_REQ_set_pubkey(req, key);
	if (cn != NULL)
		X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
					   (const unsigned char *)cn, -1, -1, 0);
	if (sans != NULL) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans);
		assert_non_null(ext);
		sk_X509_EXTENSION_push(exts, ext);
		X509_REQ_add_extensions(req, exts);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);

	unsigned char *der = NULL;
	int len = i2d_X509_REQ(req, &der);
	assert_true(len > 0);
	uint8_t *copy = malloc((size_t)len);
	memcpy(copy, der, (size_t)len);
	OPENSSL_free(der);
	X509_REQ_free(req);
	*size = (size_t)len;
	if (key_out != NULL)
		*key_out = key;
	else
		EVP_PKEY_free(key);
	return copy;
}

// Encodes and parses cert again, as a peer would receive it. Issued
// certificates keep the public key as bytes until parsed.
static X509 *reparse(X509 *cert)
{
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der);
	const unsigned char *p = der;
	X509 *copy = d2i_X509(NULL, &p, len);
	assert_non_null(copy);
	OPENSSL_free(der);
	X509_free(cert);
	return copy;
}

static void create_token(struct ca *ca, const char *san, int64_t ttl, int64_t lifetime,
			 char token[CA_TOKEN_TEXT_SIZE])
{
	struct cf_error err = { 0 };
	const char *sans[] = { san };
	struct ca_token_options options = {
		.sans = sans, .san_count = 1, .ttl = ttl, .profile = CA_PROFILE_BOTH,
		.lifetime = lifetime,
	};
	assert_int_equal(ca_token_create(ca, &options, token, CA_TOKEN_TEXT_SIZE, &err), 0);
}

static void base64_decode_cases(void **state)
{
	(void)state;
	uint8_t *out = NULL;
	size_t size = 0;

	assert_int_equal(ca_base64_decode("aGVsbG8=", 8, &out, &size), 0);
	assert_int_equal(size, 5);
	assert_memory_equal(out, "hello", 5);
	free(out);

	assert_int_equal(ca_base64_decode("aGVs\r\nbG8", 9, &out, &size), 0);
	assert_int_equal(size, 5);
	free(out);

	assert_int_equal(ca_base64_decode("aGVsbG8==", 9, &out, &size), -EINVAL);
	assert_int_equal(ca_base64_decode("a", 1, &out, &size), -EINVAL);
	assert_int_equal(ca_base64_decode("aG=s", 4, &out, &size), -EINVAL);
	assert_int_equal(ca_base64_decode("!!!!", 4, &out, &size), -EINVAL);
	assert_int_equal(ca_base64_decode("", 0, &out, &size), -EINVAL);
}

static void duration_parse_cases(void **state)
{
	(void)state;
	int64_t seconds = 0;

	assert_int_equal(ca_parse_duration("90", &seconds), 0);
	assert_int_equal(seconds, 90);
	assert_int_equal(ca_parse_duration("15m", &seconds), 0);
	assert_int_equal(seconds, 900);
	assert_int_equal(ca_parse_duration("24h", &seconds), 0);
	assert_int_equal(seconds, 86400);
	assert_int_equal(ca_parse_duration("7d", &seconds), 0);
	assert_int_equal(seconds, 7 * 86400);
	assert_int_equal(ca_parse_duration("0", &seconds), -EINVAL);
	assert_int_equal(ca_parse_duration("-5m", &seconds), -EINVAL);
	assert_int_equal(ca_parse_duration("5w", &seconds), -EINVAL);
	assert_int_equal(ca_parse_duration("h", &seconds), -EINVAL);
}

static void san_normalize_cases(void **state)
{
	(void)state;
	char out[CA_SAN_TEXT_MAX];

	assert_int_equal(ca_san_normalize("Node1.Example", out, NULL), 0);
	assert_string_equal(out, "DNS:node1.example");
	assert_int_equal(ca_san_normalize("10.0.0.1", out, NULL), 0);
	assert_string_equal(out, "IP:10.0.0.1");
	assert_int_equal(ca_san_normalize("IP:0:0::1", out, NULL), 0);
	assert_string_equal(out, "IP:::1");
	assert_int_equal(ca_san_normalize("spiffe://coffer/node/a", out, NULL), 0);
	assert_string_equal(out, "URI:spiffe://coffer/node/a");
	assert_int_equal(ca_san_normalize("DNS:bad name", out, NULL), -EINVAL);
	assert_int_equal(ca_san_normalize("*.example", out, NULL), -EINVAL);
	assert_int_equal(ca_san_normalize("IP:300.1.1.1", out, NULL), -EINVAL);
	assert_int_equal(ca_san_normalize("URI:noscheme", out, NULL), -EINVAL);
	assert_int_equal(ca_san_normalize("", out, NULL), -EINVAL);
}

static void csr_parse_and_policy(void **state)
{
	(void)state;
	struct cf_error err = { 0 };
	X509_REQ *req = NULL;
	size_t size = 0;
	const char *allowed[] = { "DNS:a.test", "IP:127.0.0.1" };

	uint8_t *der = make_csr("P-256", "a.test", "DNS:a.test,IP:127.0.0.1", &size, NULL);
	assert_int_equal(ca_csr_parse(der, size, &req, &err), 0);
	assert_int_equal(ca_policy_check(req, allowed, 2, &err), 0);
	assert_int_equal(ca_policy_check(req, allowed, 1, &err), -EPERM);
	X509_REQ_free(req);

	// A flipped byte in the signature must fail proof of possession.
	der[size - 3] ^= 0x01;
	cf_error_reset(&err);
	assert_int_equal(ca_csr_parse(der, size, &req, &err), -EINVAL);
	free(der);

	// A point off the curve must be rejected when the key is imported,
	// before the signature is checked.
	der = make_csr("P-256", "a.test", "DNS:a.test", &size, NULL);
	static const uint8_t point_prefix[] = { 0x03, 0x42, 0x00, 0x04 };
	uint8_t *point = memmem(der, size, point_prefix, sizeof(point_prefix));
	assert_non_null(point);
	point[sizeof(point_prefix) + 63] ^= 0x01; // last byte of Y
	cf_error_reset(&err);
	assert_int_equal(ca_csr_parse(der, size, &req, &err), -EINVAL);
	assert_non_null(strstr(err.message, "public key is invalid"));
	free(der);

	der = make_csr("P-256", "other.test", "DNS:a.test", &size, NULL);
	assert_int_equal(ca_csr_parse(der, size, &req, &err), 0);
	cf_error_reset(&err);
	assert_int_equal(ca_policy_check(req, allowed, 2, &err), -EPERM);
	assert_non_null(strstr(err.message, "other.test"));
	X509_REQ_free(req);
	free(der);

	der = make_csr("P-384", NULL, "DNS:a.test", &size, NULL);
	assert_int_equal(ca_csr_parse(der, size, &req, &err), 0);
	assert_int_equal(ca_policy_check(req, allowed, 2, &err), 0);
	X509_REQ_free(req);
	free(der);

	der = make_csr("P-521", "a.test", "DNS:a.test", &size, NULL);
	cf_error_reset(&err);
	assert_int_equal(ca_csr_parse(der, size, &req, &err), -EINVAL);
	assert_non_null(strstr(err.message, "secp521r1"));
	free(der);

	der = make_csr("P-256", "a.test", NULL, &size, NULL);
	assert_int_equal(ca_csr_parse(der, size, &req, &err), 0);
	cf_error_reset(&err);
	assert_int_equal(ca_policy_check(req, allowed, 2, &err), -EINVAL);
	X509_REQ_free(req);
	free(der);

	der = make_csr("P-256", "a.test", "email:x@a.test", &size, NULL);
	assert_int_equal(ca_csr_parse(der, size, &req, &err), 0);
	assert_int_equal(ca_policy_check(req, allowed, 2, &err), -EPERM);
	X509_REQ_free(req);
	free(der);

	uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	assert_int_equal(ca_csr_parse(junk, sizeof(junk), &req, &err), -EINVAL);
}

static void init_rejects_existing(void **state)
{
	struct fixture *f = *state;
	struct cf_error err = { 0 };
	char path[128];
	struct stat st;

	assert_int_equal(ca_init(f->dir, "again", NULL, &err), -EEXIST);
	snprintf(path, sizeof(path), "%s/ca.key", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/root.key", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

// Writes a master key file with one KEK (version 1) of the given byte.
static void write_master_key(const char *path, int byte, unsigned mode)
{
	FILE *file = fopen(path, "w");
	assert_non_null(file);
	fprintf(file, "kek 1 ");
	for (int i = 0; i < 32; i++)
		fprintf(file, "%02x", byte);
	fprintf(file, "\n");
	assert_int_equal(fclose(file), 0);
	assert_int_equal(chmod(path, mode), 0);
}

// Rejects any passphrase request, so OpenSSL never prompts on a terminal.
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return -1;
}

static void encrypted_keys_need_master_key(void **state)
{
	(void)state;
	char base[64], dir[96], right[96], wrong[96], open_mode[96], key_path[128];
	struct cf_error err = { 0 };
	struct ca *ca = NULL;
	struct stat st;

	strcpy(base, "/tmp/ca-unit-mk.XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/ca", base);
	snprintf(right, sizeof(right), "%s/master.key", base);
	snprintf(wrong, sizeof(wrong), "%s/wrong.key", base);
	snprintf(open_mode, sizeof(open_mode), "%s/open.key", base);
	write_master_key(right, 0x5a, 0600);
	write_master_key(wrong, 0xa5, 0600);
	write_master_key(open_mode, 0x5a, 0644);

	assert_int_equal(ca_init(dir, "sealed", right, &err), 0);

	// Neither key file parses as a plain private key.
	static const char *const key_names[] = { "ca.key", "root.key" };
	for (size_t i = 0; i < 2; i++) {
		snprintf(key_path, sizeof(key_path), "%s/%s", dir, key_names[i]);
		assert_int_equal(stat(key_path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		FILE *file = fopen(key_path, "r");
		assert_non_null(file);
		EVP_PKEY *plain = PEM_read_PrivateKey(file, NULL, no_passphrase, NULL);
		fclose(file);
		assert_null(plain);
		ERR_clear_error();
	}

	struct ca_options options = { .dir = dir, .master_key_path = right };
	assert_int_equal(ca_open(&options, &ca, &err), 0);
	ca_close(ca);
	ca = NULL;

	options.master_key_path = NULL;
	cf_error_reset(&err);
	assert_int_equal(ca_open(&options, &ca, &err), -ENOKEY);
	assert_non_null(strstr(cf_error_message(&err, -ENOKEY), "--master-key"));

	options.master_key_path = wrong;
	cf_error_reset(&err);
	assert_int_equal(ca_open(&options, &ca, &err), -EKEYREJECTED);
	assert_non_null(strstr(cf_error_message(&err, -EKEYREJECTED), wrong));

	options.master_key_path = open_mode;
	cf_error_reset(&err);
	assert_int_equal(ca_open(&options, &ca, &err), -EPERM);
	assert_non_null(strstr(cf_error_message(&err, -EPERM), open_mode));
	assert_null(ca);

	char command[128];
	snprintf(command, sizeof(command), "rm -rf '%s'", base);
	assert_int_equal(system(command), 0);
}

static void enroll_issues_per_policy(void **state)
{
	struct fixture *f = *state;
	struct cf_error err = { 0 };
	char token[CA_TOKEN_TEXT_SIZE];
	size_t size = 0;
	X509 *cert = NULL;

	create_token(f->ca, "DNS:node.test", 600, 0, token);
	uint8_t *der = make_csr("P-256", NULL, "DNS:node.test", &size, NULL);
	assert_int_equal(ca_enroll(f->ca, token, der, size, &cert, &err), 0);
	cert = reparse(cert);

	// CN filled from the SAN, 24 h lifetime plus the backdating.
	char cn[64];
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
	assert_string_equal(cn, "node.test");
	int days = 0, seconds = 0;
	ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert), X509_get0_notAfter(cert));
	assert_int_equal(days * 86400 + seconds, 86400 + CA_BACKDATE);
	assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	assert_int_equal(X509_check_issued(ca_issuer_cert(f->ca), cert), X509_V_OK);
	assert_int_equal(ca_check_client_cert(f->ca, cert, NULL, &err), 0);
	X509_free(cert);

	// One-time: the same token again is rejected.
	cf_error_reset(&err);
	assert_int_equal(ca_enroll(f->ca, token, der, size, &cert, &err), -EACCES);
	assert_non_null(strstr(err.message, "already used"));

	// A wrong secret for a known id is rejected.
	create_token(f->ca, "DNS:node.test", 600, 0, token);
	char forged[CA_TOKEN_TEXT_SIZE];
	strcpy(forged, token);
	forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == '0' ? '1' : '0';
	cf_error_reset(&err);
	assert_int_equal(ca_enroll(f->ca, forged, der, size, &cert, &err), -EACCES);
	assert_non_null(strstr(err.message, "wrong secret"));
	assert_int_equal(ca_enroll(f->ca, "not-a-token", der, size, &cert, &err), -EACCES);
	free(der);
}

static void enroll_token_expiry(void **state)
{
	struct fixture *f = *state;
	struct cf_error err = { 0 };
	char token[CA_TOKEN_TEXT_SIZE];
	size_t size = 0;
	X509 *cert = NULL;

	create_token(f->ca, "DNS:late.test", 1, 0, token);
	uint8_t *der = make_csr("P-256", "late.test", "DNS:late.test", &size, NULL);
	sleep(2);
	assert_int_equal(ca_enroll(f->ca, token, der, size, &cert, &err), -EACCES);
	assert_non_null(strstr(err.message, "expired"));
	free(der);
}

static void reenroll_revoke_and_crl(void **state)
{
	struct fixture *f = *state;
	struct cf_error err = { 0 };
	char token[CA_TOKEN_TEXT_SIZE], serial[CA_SERIAL_HEX_SIZE];
	size_t size = 0;
	X509 *cert = NULL, *renewed = NULL;

	create_token(f->ca, "URI:spiffe://coffer/node/r", 600, 3600, token);
	uint8_t *der = make_csr("P-256", NULL, "URI:spiffe://coffer/node/r", &size, NULL);
	assert_int_equal(ca_enroll(f->ca, token, der, size, &cert, &err), 0);
	cert = reparse(cert);
	free(der);

	der = make_csr("RSA", "spiffe://coffer/node/r", "URI:spiffe://coffer/node/r", &size, NULL);
	assert_int_equal(ca_reenroll(f->ca, cert, NULL, der, size, &renewed, &err), 0);
	renewed = reparse(renewed);
	free(der);
	int days = 0, seconds = 0;
	ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(renewed), X509_get0_notAfter(renewed));
	assert_int_equal(days * 86400 + seconds, 3600 + CA_BACKDATE);

	der = make_csr("P-256", NULL, "URI:spiffe://coffer/node/other", &size, NULL);
	cf_error_reset(&err);
	X509 *unused = NULL;
	assert_int_equal(ca_reenroll(f->ca, renewed, NULL, der, size, &unused, &err), -EPERM);
	assert_null(unused);
	free(der);

	ASN1_INTEGER *raw = X509_get_serialNumber(renewed);
	BIGNUM *bn = ASN1_INTEGER_to_BN(raw, NULL);
	char *hex = BN_bn2hex(bn);
	snprintf(serial, sizeof(serial), "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	assert_int_equal(ca_revoke(f->ca, serial, &err), 0);
	assert_int_equal(ca_revoke(f->ca, serial, &err), -EALREADY);
	assert_int_equal(ca_revoke(f->ca, "abc", &err), -ENOENT);
	assert_int_equal(ca_revoke(f->ca, "xyz", &err), -EINVAL);
	cf_error_reset(&err);
	assert_int_equal(ca_check_client_cert(f->ca, renewed, NULL, &err), -EACCES);
	assert_non_null(strstr(err.message, "revoked"));

	uint8_t *crl_der = NULL;
	size_t crl_size = 0;
	assert_int_equal(ca_crl_der(f->ca, &crl_der, &crl_size, &err), 0);
	const unsigned char *p = crl_der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)crl_size);
	assert_non_null(crl);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca_issuer_cert(f->ca))), 1);
	X509_REVOKED *entry = NULL;
	assert_int_equal(X509_CRL_get0_by_serial(crl, &entry, X509_get_serialNumber(renewed)), 1);
	X509_CRL_free(crl);
	free(crl_der);

	X509_free(cert);
	X509_free(renewed);
}

// Encodes certs with OpenSSL's PKCS7 API, as a reference for the DER that
// ca_pkcs7_certs_der writes directly.
static int openssl_pkcs7_der(X509 *const *certs, size_t count, unsigned char **der)
{
	PKCS7 *p7 = PKCS7_new();
	assert_non_null(p7);
	assert_true(PKCS7_set_type(p7, NID_pkcs7_signed));
	assert_true(PKCS7_content_new(p7, NID_pkcs7_data));
	for (size_t i = 0; i < count; i++)
		assert_true(PKCS7_add_certificate(p7, certs[i]));
	int len = i2d_PKCS7(p7, der);
	PKCS7_free(p7);
	return len;
}

static void pkcs7_matches_openssl(void **state)
{
	struct fixture *f = *state;
	struct cf_error err = { 0 };
	X509 *certs[2] = { ca_issuer_cert(f->ca), ca_root_cert(f->ca) };

	for (size_t count = 0; count <= 2; count++) {
		uint8_t *der = NULL;
		size_t size = 0;
		unsigned char *expected = NULL;

		assert_int_equal(ca_pkcs7_certs_der(certs, count, &der, &size, &err), 0);
		int expected_len = openssl_pkcs7_der(certs, count, &expected);
		assert_true(expected_len > 0);
		assert_int_equal(size, (size_t)expected_len);
		assert_memory_equal(der, expected, size);

		const unsigned char *p = der;
		PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)size);
		assert_non_null(p7);
		assert_ptr_equal(p, der + size);
		// An empty certificates field is left out, so OpenSSL gives NULL.
		STACK_OF(X509) *parsed = p7->d.sign->cert;
		assert_int_equal(parsed != NULL ? sk_X509_num(parsed) : 0, (int)count);
		PKCS7_free(p7);
		OPENSSL_free(expected);
		free(der);
	}
}

static void cacerts_and_audit(void **state)
{
	struct fixture *f = *state;
	struct cf_error err = { 0 };
	uint8_t *der = NULL;
	size_t size = 0;

	assert_int_equal(ca_cacerts_der(f->ca, &der, &size, &err), 0);
	const unsigned char *p = der;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)size);
	assert_non_null(p7);
	assert_true(PKCS7_type_is_signed(p7));
	assert_int_equal(sk_X509_num(p7->d.sign->cert), 2);
	PKCS7_free(p7);
	free(der);

	int64_t records = 0, first_broken = 0;
	assert_int_equal(ca_audit_verify(f->ca, &records, &first_broken, &err), 0);
	// ca init, tokens, issuances and revocations were all recorded.
	assert_true(records >= 8);
}

static int count_certs(const struct ca_cert_info *info, void *arg)
{
	(*(int *)arg)++;
	assert_int_equal(strlen(info->serial), CA_SERIAL_HEX_SIZE - 1);
	return 0;
}

static void list_shows_issued(void **state)
{
	struct fixture *f = *state;
	struct cf_error err = { 0 };
	int count = 0;

	assert_int_equal(ca_list(f->ca, count_certs, &count, &err), 0);
	assert_int_equal(count, 3);
}

// Two requests may pass ca_enroll_prepare with the same token, because it
// reads the token outside a write transaction. Only the first may be
// recorded, alone or in one batch with the second.
static void enroll_record_rechecks_token(void **state)
{
	struct fixture *f = *state;
	struct cf_error err = { 0 };
	char token[CA_TOKEN_TEXT_SIZE];
	struct ca_enrollment first, second;
	size_t size = 0;
	struct ca_leaf cert = { 0 };
	int issued_before = 0, issued_after = 0;

	assert_int_equal(ca_list(f->ca, count_certs, &issued_before, &err), 0);
	uint8_t *der = make_csr("P-256", NULL, "DNS:twice.test", &size, NULL);
	for (int batching = 0; batching <= 1; batching++) {
		create_token(f->ca, "DNS:twice.test", 600, 0, token);
		assert_int_equal(ca_enroll_prepare(f->ca, token, der, size, &first, &err), 0);
		assert_int_equal(ca_enroll_prepare(f->ca, token, der, size, &second, &err), 0);
		ca_batch_set(f->ca, batching == 1);

		assert_int_equal(ca_enroll_record(f->ca, &first, &cert, &err), 0);
		assert_non_null(cert.der);
		ca_leaf_clear(&cert);
		cf_error_reset(&err);
		assert_int_equal(ca_enroll_record(f->ca, &second, &cert, &err), -EACCES);
		assert_non_null(strstr(err.message, "already used"));
		assert_null(cert.der);
		assert_int_equal(ca_batch_commit(f->ca, &err), 0);
		ca_batch_set(f->ca, false);

		ca_enrollment_clear(&first);
		ca_enrollment_clear(&second);
	}
	free(der);

	assert_int_equal(ca_list(f->ca, count_certs, &issued_after, &err), 0);
	assert_int_equal(issued_after - issued_before, 2);
}

// A token whose row changes between ca_enroll_prepare and
// ca_enroll_record is not consumed, and the error names the reason.
static void enroll_record_rejects_changed_token(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *sql;
		const char *message;
	} cases[] = {
		{ "UPDATE tokens SET expires_at = 1", "has expired" },
		{ "UPDATE tokens SET profile = 1", "changed during the enrollment" },
		{ "UPDATE tokens SET lifetime = lifetime + 1", "changed during the enrollment" },
		{ "UPDATE tokens SET sans = 'DNS:other.test'", "changed during the enrollment" },
		{ "DELETE FROM tokens", "is unknown" },
	};
	size_t size = 0;
	uint8_t *der = make_csr("P-256", NULL, "DNS:edited.test", &size, NULL);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cf_error err = { 0 };
		char token[CA_TOKEN_TEXT_SIZE];
		struct ca_enrollment enrollment;
		struct ca_leaf cert = { 0 };
		int issued_before = 0, issued_after = 0;

		assert_int_equal(ca_list(f->ca, count_certs, &issued_before, &err), 0);
		create_token(f->ca, "DNS:edited.test", 600, 0, token);
		assert_int_equal(ca_enroll_prepare(f->ca, token, der, size, &enrollment, &err), 0);
		assert_int_equal(sqlite3_exec(f->ca->db, cases[i].sql, NULL, NULL, NULL), SQLITE_OK);

		assert_int_equal(ca_enroll_record(f->ca, &enrollment, &cert, &err), -EACCES);
		assert_non_null(strstr(err.message, cases[i].message));
		assert_null(cert.der);
		assert_int_equal(ca_list(f->ca, count_certs, &issued_after, &err), 0);
		assert_int_equal(issued_after, issued_before);
		ca_enrollment_clear(&enrollment);
	}
	free(der);
}

// With the hook attached, commits no longer checkpoint, so the database
// file grows only when the background thread copies the WAL into it.
static void checkpointer_copies_wal(void **state)
{
	struct fixture *f = *state;
	struct cf_error err = { 0 };
	struct ca_checkpointer *checkpointer = NULL;
	char path[128], token[CA_TOKEN_TEXT_SIZE];
	struct stat before, after;

	assert_int_equal(sqlite3_wal_checkpoint_v2(f->ca->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
						   NULL, NULL),
			 SQLITE_OK);
	snprintf(path, sizeof(path), "%s/ca.db", f->dir);
	assert_int_equal(stat(path, &before), 0);

	assert_int_equal(ca_checkpointer_start(f->dir, &checkpointer, &err), 0);
	ca_checkpointer_attach(checkpointer, f->ca);
	// Each token is one commit of a few pages: enough for 1000 WAL frames.
	for (int i = 0; i < 600; i++)
		create_token(f->ca, "DNS:wal.test", 600, 0, token);

	bool grew = false;
	for (int i = 0; i < 100 && !grew; i++) {
		assert_int_equal(stat(path, &after), 0);
		grew = after.st_size > before.st_size;
		if (!grew)
			usleep(100 * 1000);
	}
	ca_checkpointer_detach(f->ca);
	ca_checkpointer_stop(checkpointer);
	assert_true(grew);
}

// Returns the DER of the TBSCertificate, the first element of cert.
static void tbs_span(const uint8_t *cert, size_t size, const uint8_t **start, size_t *len)
{
	const unsigned char *p = cert;
	long content = 0;
	int tag = 0, xclass = 0;
	assert_int_equal(ASN1_get_object(&p, &content, &tag, &xclass, (long)size) & 0x80, 0);
	const unsigned char *tbs = p;
	assert_int_equal(ASN1_get_object(&p, &content, &tag, &xclass, (long)(cert + size - p)) & 0x80,
			 0);
	*start = tbs;
	*len = (size_t)(p - tbs) + (size_t)content;
}

// ca_leaf_build must write the same TBSCertificate as ca_cert_build for
// the same inputs, across serials that need a leading zero or lose one,
// both kinds of Time, every profile and every SAN type.
static void leaf_der_matches_builder(void **state)
{
	struct fixture *f = *state;
	struct ca *ca = f->ca;
	static const uint8_t serials[][CA_SERIAL_SIZE] = {
		{ 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8 },
		{ 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
		{ 0, 0, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 },
		{ 0, 0x90, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 },
	};
	static const int64_t not_afters[] = { 1800000000, 2556144000 }; // 2027, 2051
	static const enum ca_profile profiles[] = { CA_PROFILE_SERVER, CA_PROFILE_CLIENT,
						    CA_PROFILE_BOTH };
	struct ca_san_list sans = { 0 };
	const char *names[] = { "DNS:leaf.test", "IP:10.1.2.3", "IP:2001:db8::7",
				"URI:spiffe://coffer/node/leaf" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		strcpy(sans.names[sans.count++], names[i]);

	size_t csr_size = 0;
	uint8_t *csr = make_csr("P-256", "leaf.test", "DNS:leaf.test", &csr_size, NULL);
	struct cf_error err = { 0 };
	X509_REQ *req = NULL;
	assert_int_equal(ca_csr_parse(csr, csr_size, &req, &err), 0);
	X509_PUBKEY *public_key = X509_REQ_get_X509_PUBKEY(req);
	unsigned char *spki = NULL;
	int spki_len = i2d_X509_PUBKEY(public_key, &spki);
	const unsigned char *key_bits = NULL;
	int key_bits_len = 0;
	assert_true(spki_len > 0);
	assert_true(X509_PUBKEY_get0_param(NULL, &key_bits, &key_bits_len, NULL, public_key));

	for (size_t s = 0; s < sizeof(serials) / sizeof(serials[0]); s++) {
		size_t t = s % 2, p = s % 3;
		struct ca_cert_spec old_spec = {
			.cn = "leaf.test", .sans = &sans, .public_key_info = public_key,
			.issuer = ca->issuer, .signing_key = ca->issuer_key,
			.signing_context = ca->issuer_signing, .not_before = 1700000000,
			.not_after = not_afters[t], .profile = profiles[p], .path_length = -1,
		};
		struct ca_leaf_spec spec = {
			.cn = "leaf.test", .sans = &sans, .spki = spki, .spki_size = (size_t)spki_len,
			.key_bits = key_bits, .key_bits_size = (size_t)key_bits_len,
			.not_before = 1700000000, .not_after = not_afters[t], .profile = profiles[p],
			.serial = serials[s],
		};
		X509 *old = NULL;
		assert_int_equal(ca_cert_build(&old_spec, &old, &err), 0);
		BIGNUM *bn = BN_bin2bn(serials[s], CA_SERIAL_SIZE, NULL);
		ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
		assert_true(X509_set_serialNumber(old, serial));
		unsigned char *old_tbs = NULL;
		int old_len = i2d_re_X509_tbs(old, &old_tbs);
		assert_true(old_len > 0);

		struct ca_leaf leaf;
		assert_int_equal(ca_leaf_build(ca, &spec, &leaf, &err), 0);
		const uint8_t *tbs = NULL;
		size_t tbs_len = 0;
		tbs_span(leaf.der, leaf.der_size, &tbs, &tbs_len);
		assert_int_equal(tbs_len, (size_t)old_len);
		assert_memory_equal(tbs, old_tbs, tbs_len);

		// The signature verifies with the issuer's key.
		X509 *parsed = NULL;
		assert_int_equal(ca_leaf_to_x509(&leaf, &parsed, &err), 0);
		assert_int_equal(X509_verify(parsed, ca->issuer_key), 1);
		char hex[CA_SERIAL_HEX_SIZE];
		assert_int_equal(ca_serial_hex(parsed, hex), 0);
		assert_string_equal(hex, leaf.serial);
		assert_string_equal(leaf.cn, "leaf.test");

		X509_free(parsed);
		ca_leaf_clear(&leaf);
		OPENSSL_free(old_tbs);
		ASN1_INTEGER_free(serial);
		BN_free(bn);
		X509_free(old);
	}

	// The common name must be printable ASCII of 1 to 64 characters.
	static const char *const bad_names[] = {
		"", "caf\xc3\xa9.test",
		"a123456789012345678901234567890123456789012345678901234567890123456789"
	};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		struct ca_leaf_spec spec = {
			.cn = bad_names[i], .sans = &sans, .spki = spki,
			.spki_size = (size_t)spki_len, .key_bits = key_bits,
			.key_bits_size = (size_t)key_bits_len, .not_before = 1700000000,
			.not_after = 1800000000, .profile = CA_PROFILE_BOTH,
		};
		struct ca_leaf leaf;
		cf_error_reset(&err);
		assert_int_equal(ca_leaf_build(ca, &spec, &leaf, &err), -EINVAL);
		assert_null(leaf.der);
	}
	OPENSSL_free(spki);
	X509_REQ_free(req);
	free(csr);
}

// A key and a certificate for the credential tests, issued by the CA.
static void make_credentials(struct ca *ca, const char *cn, EVP_PKEY **key, X509 **cert)
{
	struct cf_error err = { 0 };
	struct ca_san_list sans = { .count = 1 };
	snprintf(sans.names[0], sizeof(sans.names[0]), "DNS:%s", cn);
	*key = EVP_EC_gen("P-256");
	assert_non_null(*key);
	struct ca_cert_spec spec = {
		.cn = cn, .sans = &sans, .public_key = *key, .issuer = ca->issuer,
		.signing_key = ca->issuer_key, .not_before = cf_now() - 60,
		.not_after = cf_now() + 3600, .profile = CA_PROFILE_BOTH, .path_length = -1,
	};
	assert_int_equal(ca_cert_build(&spec, cert, &err), 0);
}

struct replacer {
	const struct ca_enroll_options *options;
	EVP_PKEY *keys[2];
	X509 *certs[2];
	STACK_OF(X509) *chain;
	int rounds;
	int failures;
};

static void *replace_repeatedly(void *arg)
{
	struct replacer *r = arg;
	for (int i = 0; i < r->rounds; i++) {
		struct cf_error err = { 0 };
		if (ca_write_credentials(r->options, r->keys[i % 2], r->certs[i % 2], r->chain,
					 &err) != 0)
			r->failures++;
	}
	return NULL;
}

// Readers of the files that coffer enroll replaces never get a key and a
// certificate that do not belong together, also while replacements run and
// after one stopped between its renames.
static void credentials_replace_for_readers(void **state)
{
	struct fixture *f = *state;
	char dir[PATH_MAX], key_path[PATH_MAX], cert_path[PATH_MAX], chain_path[PATH_MAX];
	char key_new[PATH_MAX + 8];
	struct cf_error err = { 0 };
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/creds", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(key_path, sizeof(key_path), "%s/node.key", dir);
	snprintf(cert_path, sizeof(cert_path), "%s/node.pem", dir);
	snprintf(chain_path, sizeof(chain_path), "%s/node.chain", dir);
	snprintf(key_new, sizeof(key_new), "%s.new", key_path);
	struct ca_enroll_options options = {
		.key_path = key_path, .cert_path = cert_path, .chain_path = chain_path,
	};
	struct replacer r = { .options = &options, .rounds = 200 };
	make_credentials(f->ca, "a.test", &r.keys[0], &r.certs[0]);
	make_credentials(f->ca, "b.test", &r.keys[1], &r.certs[1]);
	r.chain = sk_X509_new_null();
	sk_X509_push(r.chain, f->ca->issuer);

	assert_int_equal(ca_write_credentials(&options, r.keys[0], r.certs[0], r.chain, &err), 0);
	assert_int_equal(stat(key_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_not_equal(access(key_new, F_OK), 0);

	pthread_t writer;
	assert_int_equal(pthread_create(&writer, NULL, replace_repeatedly, &r), 0);
	for (int i = 0; i < 400; i++) {
		EVP_PKEY *key = NULL;
		X509 *cert = NULL;
		STACK_OF(X509) *chain = NULL;
		assert_int_equal(ca_read_credentials(&options, &key, &cert, &chain, &err), 0);
		assert_int_equal(X509_check_private_key(cert, key), 1);
		assert_int_equal(sk_X509_num(chain), 1);
		EVP_PKEY_free(key);
		X509_free(cert);
		sk_X509_pop_free(chain, X509_free);
	}
	pthread_join(writer, NULL);
	assert_int_equal(r.failures, 0);

	// A replacement that stopped after renaming the certificate: the
	// reader renames KEY.new into place.
	assert_int_equal(ca_write_credentials(&options, r.keys[0], r.certs[0], r.chain, &err), 0);
	assert_int_equal(ca_write_pem_key(key_new, r.keys[1], &err), 0);
	assert_int_equal(ca_write_pem_certs(cert_path, &r.certs[1], 1, &err), 0);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	assert_int_equal(ca_read_credentials(&options, &key, &cert, NULL, &err), 0);
	assert_int_equal(X509_cmp(cert, r.certs[1]), 0);
	assert_int_equal(EVP_PKEY_eq(key, r.keys[1]), 1);
	assert_int_not_equal(access(key_new, F_OK), 0);
	assert_int_equal(stat(key_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	EVP_PKEY_free(key);
	X509_free(cert);

	// Without a matching KEY.new, a mismatch is an error.
	assert_int_equal(ca_write_pem_certs(cert_path, &r.certs[0], 1, &err), 0);
	key = NULL;
	cert = NULL;
	cf_error_reset(&err);
	assert_int_equal(ca_read_credentials(&options, &key, &cert, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.message, "does not match"));
	assert_null(key);
	assert_null(cert);

	sk_X509_free(r.chain);
	for (int i = 0; i < 2; i++) {
		EVP_PKEY_free(r.keys[i]);
		X509_free(r.certs[i]);
	}
}

int main(void)
{
	const struct CMUnitTest helpers[] = {
		cmocka_unit_test(base64_decode_cases),
		cmocka_unit_test(duration_parse_cases),
		cmocka_unit_test(san_normalize_cases),
		cmocka_unit_test(csr_parse_and_policy),
		cmocka_unit_test(encrypted_keys_need_master_key),
	};
	// These share one CA and run in order: the later ones count what the
	// earlier ones issued.
	const struct CMUnitTest issuance[] = {
		cmocka_unit_test(init_rejects_existing),
		cmocka_unit_test(enroll_issues_per_policy),
		cmocka_unit_test(enroll_token_expiry),
		cmocka_unit_test(reenroll_revoke_and_crl),
		cmocka_unit_test(pkcs7_matches_openssl),
		cmocka_unit_test(cacerts_and_audit),
		cmocka_unit_test(list_shows_issued),
		cmocka_unit_test(enroll_record_rechecks_token),
		cmocka_unit_test(enroll_record_rejects_changed_token),
		cmocka_unit_test(checkpointer_copies_wal),
		cmocka_unit_test(leaf_der_matches_builder),
		cmocka_unit_test(credentials_replace_for_readers),
	};
	int failed = cmocka_run_group_tests_name("ca helpers", helpers, NULL, NULL);
	failed += cmocka_run_group_tests_name("ca issuance", issuance, setup_ca, teardown_ca);
	return failed;
}
