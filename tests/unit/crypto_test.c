// SPDX-License-Identifier: Apache-2.0
// Crypto wrappers against published vectors: HKDF (RFC 5869 appendix A,
// SHA-256 cases 1 and 3) and AES-256-GCM (McGrew and Viega's GCM spec,
// test cases 13 to 15), plus the key-wrap binding to its additional data.

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <coffer/crypto.h>

static void from_hex(const char *hex, uint8_t *out, size_t size)
{
	assert_int_equal(cf_hex_decode(hex, out, size), 0);
}

static void hkdf_rfc5869_case1(void **state)
{
	(void)state;
	uint8_t ikm[22], salt[13], info[10], okm[42], expected[42];
	memset(ikm, 0x0b, sizeof(ikm));
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(info); i++)
		info[i] = (uint8_t)(0xf0 + i);
	from_hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
		 "34007208d5b887185865", expected, sizeof(expected));

	assert_int_equal(cf_hkdf("SHA256", salt, sizeof(salt), ikm, sizeof(ikm), info,
				 sizeof(info), okm, sizeof(okm)), 0);
	assert_memory_equal(okm, expected, sizeof(okm));
}

static void hkdf_rfc5869_case3_no_salt(void **state)
{
	(void)state;
	uint8_t ikm[22], okm[42], expected[42];
	memset(ikm, 0x0b, sizeof(ikm));
	from_hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
		 "9d201395faa4b61a96c8", expected, sizeof(expected));

	assert_int_equal(cf_hkdf("SHA256", NULL, 0, ikm, sizeof(ikm), NULL, 0, okm,
				 sizeof(okm)), 0);
	assert_memory_equal(okm, expected, sizeof(okm));
}

static void gcm_case13_empty(void **state)
{
	(void)state;
	uint8_t key[32] = { 0 }, iv[12] = { 0 }, tag[16], expected[16];
	from_hex("530f8afbc74536b9a963b4f1c4cb738b", expected, 16);

	assert_int_equal(cf_gcm_seal(key, iv, 12, NULL, 0, NULL, 0, NULL, tag), 0);
	assert_memory_equal(tag, expected, 16);
}

static void gcm_case14_zero_block(void **state)
{
	(void)state;
	uint8_t key[32] = { 0 }, iv[12] = { 0 }, plain[16] = { 0 };
	uint8_t out[16], tag[16], expected_ct[16], expected_tag[16];
	from_hex("cea7403d4d606b6e074ec5d3baf39d18", expected_ct, 16);
	from_hex("d0d1c8a799996bf0265b98b5d48ab919", expected_tag, 16);

	assert_int_equal(cf_gcm_seal(key, iv, 12, NULL, 0, plain, 16, out, tag), 0);
	assert_memory_equal(out, expected_ct, 16);
	assert_memory_equal(tag, expected_tag, 16);
}

static void gcm_case15_roundtrip(void **state)
{
	(void)state;
	uint8_t key[32], iv[12], plain[64], expected_ct[64], expected_tag[16];
	uint8_t out[64], tag[16], back[64];
	from_hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key, 32);
	from_hex("cafebabefacedbaddecaf888", iv, 12);
	from_hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
		 plain, 64);
	from_hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
		 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
		 expected_ct, 64);
	from_hex("b094dac5d93471bdec1a502270e3cc6c", expected_tag, 16);

	assert_int_equal(cf_gcm_seal(key, iv, 12, NULL, 0, plain, 64, out, tag), 0);
	assert_memory_equal(out, expected_ct, 64);
	assert_memory_equal(tag, expected_tag, 16);

	assert_int_equal(cf_gcm_open(key, iv, 12, NULL, 0, out, 64, tag, back), 0);
	assert_memory_equal(back, plain, 64);

	out[10] ^= 1;
	assert_int_equal(cf_gcm_open(key, iv, 12, NULL, 0, out, 64, tag, back), -EBADMSG);
}

static void wrap_rejects_other_key_id(void **state)
{
	(void)state;
	uint8_t kek[32], key[32], wrapped[32 + CF_WRAP_OVERHEAD], back[32];
	const char *aad = "key-1|kek-v1";
	const char *moved = "key-2|kek-v1";
	assert_int_equal(cf_random(kek, sizeof(kek)), 0);
	assert_int_equal(cf_random(key, sizeof(key)), 0);

	assert_int_equal(cf_key_wrap(kek, (const uint8_t *)aad, strlen(aad), key, 32, wrapped), 0);
	assert_int_equal(cf_key_unwrap(kek, (const uint8_t *)aad, strlen(aad), wrapped,
				       sizeof(wrapped), back), 0);
	assert_memory_equal(back, key, 32);

	assert_int_equal(cf_key_unwrap(kek, (const uint8_t *)moved, strlen(moved), wrapped,
				       sizeof(wrapped), back), -EBADMSG);
}

static void secure_alloc_roundtrip(void **state)
{
	(void)state;
	uint8_t *buf = cf_secure_alloc(64);
	assert_non_null(buf);
	for (int i = 0; i < 64; i++)
		assert_int_equal(buf[i], 0);
	memset(buf, 0xaa, 64);
	cf_secure_free(buf);
	cf_secure_free(NULL);
}

static void ct_equal_compares(void **state)
{
	(void)state;
	assert_true(cf_ct_equal("abcd", "abcd", 4));
	assert_false(cf_ct_equal("abcd", "abce", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hkdf_rfc5869_case1),
		cmocka_unit_test(hkdf_rfc5869_case3_no_salt),
		cmocka_unit_test(gcm_case13_empty),
		cmocka_unit_test(gcm_case14_zero_block),
		cmocka_unit_test(gcm_case15_roundtrip),
		cmocka_unit_test(wrap_rejects_other_key_id),
		cmocka_unit_test(secure_alloc_roundtrip),
		cmocka_unit_test(ct_equal_compares),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
