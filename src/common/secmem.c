// SPDX-License-Identifier: Apache-2.0
// The secure allocator for key material. Each allocation is its own
// anonymous mapping, so it can be mlocked and excluded from core dumps
// (MADV_DONTDUMP) without touching neighbouring heap data; a header page
// records the size. Key buffers are few and small, so a page each is cheap.

#include <coffer/common.h>

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct secmem_header {
	size_t map_size;
	size_t user_size;
};

static size_t page_size(void)
{
	long size = sysconf(_SC_PAGESIZE);
	return size > 0 ? (size_t)size : 4096;
}

void *cf_secure_alloc(size_t size)
{
	size_t page = page_size();
	if (size == 0 || size > (SIZE_MAX / 2))
		return NULL;

	// The header sits in the first page; user data starts on the second.
	size_t map_size = page + ((size + page - 1) / page) * page;
	void *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;

	if (mlock(map, map_size) != 0) {
		munmap(map, map_size);
		return NULL;
	}
	(void)madvise(map, map_size, MADV_DONTDUMP);

	struct secmem_header *header = map;
	header->map_size = map_size;
	header->user_size = size;
	return (char *)map + page;
}

void cf_secure_free(void *ptr)
{
	if (ptr == NULL)
		return;

	struct secmem_header *header = (void *)((char *)ptr - page_size());
	size_t map_size = header->map_size;
	OPENSSL_cleanse(ptr, header->user_size);
	munlock(header, map_size);
	munmap(header, map_size);
}

void cf_wipe(void *ptr, size_t size)
{
	if (ptr != NULL && size > 0)
		OPENSSL_cleanse(ptr, size);
}

bool cf_ct_equal(const void *a, const void *b, size_t size)
{
	// CRYPTO_memcmp reads every byte whatever the contents, unlike memcmp.
	return CRYPTO_memcmp(a, b, size) == 0;
}
