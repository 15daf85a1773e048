// SPDX-License-Identifier: Apache-2.0
// Tests of the secure allocator: slots carved from shared locked pages,
// separate mappings for large buffers, zeroing, and reuse after free.

#include <coffer/common.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static bool all_zero(const uint8_t *buf, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		if (buf[i] != 0)
			return false;
	}
	return true;
}

static void secmem_sizes_zeroed_and_disjoint(void **state)
{
	(void)state;
	static const size_t sizes[] = { 1, 15, 16, 17, 32, 33, 100, 512, 2047, 2048, 2049, 5000, 70000 };
	enum { COUNT = sizeof(sizes) / sizeof(sizes[0]) };
	uint8_t *buffers[COUNT];

	for (size_t i = 0; i < COUNT; i++) {
		buffers[i] = cf_secure_alloc(sizes[i]);
		assert_non_null(buffers[i]);
		assert_true(all_zero(buffers[i], sizes[i]));
		memset(buffers[i], (int)(i + 1), sizes[i]);
	}
	// Each buffer still holds its own pattern, so none overlaps another.
	for (size_t i = 0; i < COUNT; i++) {
		for (size_t j = 0; j < sizes[i]; j++)
			assert_int_equal(buffers[i][j], (int)(i + 1));
	}
	for (size_t i = 0; i < COUNT; i++)
		cf_secure_free(buffers[i]);
}

static void secmem_reused_slot_is_zeroed(void **state)
{
	(void)state;
	uint8_t *first = cf_secure_alloc(32);
	assert_non_null(first);
	memset(first, 0xaa, 32);
	cf_secure_free(first);

	uint8_t *second = cf_secure_alloc(32);
	assert_non_null(second);
	assert_true(all_zero(second, 32));
	cf_secure_free(second);
}

static void secmem_many_small_buffers(void **state)
{
	(void)state;
	// More 32-byte buffers than one 4 KiB page holds, so new arenas are
	// added, and freeing in an interleaved order empties and releases them.
	enum { COUNT = 600 };
	static uint8_t *buffers[COUNT];

	for (size_t i = 0; i < COUNT; i++) {
		buffers[i] = cf_secure_alloc(32);
		assert_non_null(buffers[i]);
		memset(buffers[i], (int)(i % 251 + 1), 32);
	}
	for (size_t i = 0; i < COUNT; i++)
		assert_int_equal(buffers[i][31], (int)(i % 251 + 1));
	for (size_t i = 0; i < COUNT; i += 2)
		cf_secure_free(buffers[i]);
	for (size_t i = 1; i < COUNT; i += 2)
		cf_secure_free(buffers[i]);
}

static void secmem_rejects_invalid_sizes(void **state)
{
	(void)state;
	assert_null(cf_secure_alloc(0));
	assert_null(cf_secure_alloc(SIZE_MAX));
	cf_secure_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(secmem_sizes_zeroed_and_disjoint),
		cmocka_unit_test(secmem_reused_slot_is_zeroed),
		cmocka_unit_test(secmem_many_small_buffers),
		cmocka_unit_test(secmem_rejects_invalid_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
