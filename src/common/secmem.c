// SPDX-License-Identifier: Apache-2.0
// The secure allocator for key material. Memory comes from anonymous
// mappings that are mlocked and excluded from core dumps (MADV_DONTDUMP),
// so no neighbouring heap data shares their pages.
//
// Requests of up to MAX_SLOT_SIZE bytes are carved out of one-page arenas,
// each split into equal slots of one power-of-two size. A KMS Get used to
// cost an mmap, mlock, munlock and munmap of its own; a slot costs a bitmap
// search under a mutex. Larger requests get a mapping of their own, with a
// header page that records the size. Freed slots and mappings are wiped
// with OPENSSL_cleanse first.

#include <coffer/common.h>

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIN_SLOT_SIZE 16
#define MAX_SLOT_SIZE 2048
// A 4 KiB page of 16-byte slots has 256 of them. Larger pages use only the
// first MAX_SLOTS slots of an arena.
#define MAX_SLOTS 256
#define BITMAP_WORDS (MAX_SLOTS / 64)

// Metadata of one arena, kept on the ordinary heap because it is not secret.
struct arena {
	struct arena *next;
	uint8_t *base;
	size_t slot_size;
	size_t slots;
	size_t used;
	uint64_t in_use[BITMAP_WORDS];
};

struct mapping_header {
	size_t map_size;
	size_t user_size;
};

static pthread_mutex_t arenas_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arena *arenas;

static size_t page_size(void)
{
	long size = sysconf(_SC_PAGESIZE);
	return size > 0 ? (size_t)size : 4096;
}

// Maps size bytes, locked in RAM and left out of core dumps.
static void *map_locked(size_t size)
{
	void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	if (mlock(map, size) != 0) {
		munmap(map, size);
		return NULL;
	}
	(void)madvise(map, size, MADV_DONTDUMP);
	return map;
}

static void unmap_locked(void *map, size_t size)
{
	munlock(map, size);
	munmap(map, size);
}

static size_t slot_size_for(size_t size)
{
	size_t slot = MIN_SLOT_SIZE;
	while (slot < size)
		slot *= 2;
	return slot;
}

// Takes a free slot of slot_size bytes, adding an arena when all are full.
// Called with arenas_lock held.
static void *slot_take(size_t slot_size)
{
	struct arena *a;
	for (a = arenas; a != NULL; a = a->next) {
		if (a->slot_size == slot_size && a->used < a->slots)
			break;
	}
	if (a == NULL) {
		size_t page = page_size();
		a = calloc(1, sizeof(*a));
		if (a == NULL)
			return NULL;
		a->base = map_locked(page);
		if (a->base == NULL) {
			free(a);
			return NULL;
		}
		a->slot_size = slot_size;
		a->slots = page / slot_size < MAX_SLOTS ? page / slot_size : MAX_SLOTS;
		a->next = arenas;
		arenas = a;
	}

	for (size_t word = 0; word < BITMAP_WORDS; word++) {
		if (a->in_use[word] == UINT64_MAX)
			continue;
		size_t bit = (size_t)__builtin_ctzll(~a->in_use[word]);
		size_t index = word * 64 + bit;
		if (index >= a->slots)
			break;
		a->in_use[word] |= UINT64_C(1) << bit;
		a->used++;
		return a->base + index * slot_size;
	}
	// used < slots guarantees a clear bit below slots.
	abort();
}

// Finds the arena that contains ptr, or NULL. Called with arenas_lock held.
static struct arena *arena_of(const void *ptr, struct arena **previous)
{
	size_t page = page_size();
	struct arena *prev = NULL;
	for (struct arena *a = arenas; a != NULL; prev = a, a = a->next) {
		if ((uintptr_t)ptr >= (uintptr_t)a->base && (uintptr_t)ptr < (uintptr_t)a->base + page) {
			*previous = prev;
			return a;
		}
	}
	return NULL;
}

// Returns whether another arena of the same slot size has a free slot.
static bool has_spare_arena(const struct arena *except)
{
	for (const struct arena *a = arenas; a != NULL; a = a->next) {
		if (a != except && a->slot_size == except->slot_size && a->used < a->slots)
			return true;
	}
	return false;
}

// Wipes and releases the slot at ptr in arena a, unmapping a when it is
// empty and another arena of its size can take the next request. Called
// with arenas_lock held.
static void slot_release(struct arena *a, struct arena *previous, void *ptr)
{
	size_t offset = (size_t)((uint8_t *)ptr - a->base);
	size_t index = offset / a->slot_size;
	uint64_t bit = UINT64_C(1) << (index % 64);

	// A pointer inside a slot, or a slot that is already free, means a
	// double free or a corrupted pointer. Carrying on could hand one slot
	// to two owners, so the process stops.
	if (offset % a->slot_size != 0 || index >= a->slots || !(a->in_use[index / 64] & bit)) {
		fprintf(stderr, "coffer: cf_secure_free: invalid or double free of %p\n", ptr);
		abort();
	}

	OPENSSL_cleanse(ptr, a->slot_size);
	a->in_use[index / 64] &= ~bit;
	a->used--;

	if (a->used == 0 && has_spare_arena(a)) {
		if (previous != NULL)
			previous->next = a->next;
		else
			arenas = a->next;
		unmap_locked(a->base, page_size());
		free(a);
	}
}

static void *mapping_alloc(size_t size)
{
	size_t page = page_size();

	// The header sits in the first page; user data starts on the second.
	size_t map_size = page + ((size + page - 1) / page) * page;
	void *map = map_locked(map_size);
	if (map == NULL)
		return NULL;

	struct mapping_header *header = map;
	header->map_size = map_size;
	header->user_size = size;
	return (char *)map + page;
}

static void mapping_free(void *ptr)
{
	struct mapping_header *header = (void *)((char *)ptr - page_size());
	size_t map_size = header->map_size;
	OPENSSL_cleanse(ptr, header->user_size);
	unmap_locked(header, map_size);
}

void *cf_secure_alloc(size_t size)
{
	if (size == 0 || size > (SIZE_MAX / 2))
		return NULL;
	if (size > MAX_SLOT_SIZE || size > page_size() / 2)
		return mapping_alloc(size);

	size_t slot_size = slot_size_for(size);
	pthread_mutex_lock(&arenas_lock);
	void *ptr = slot_take(slot_size);
	pthread_mutex_unlock(&arenas_lock);

	// Fresh pages are zero and freed slots are wiped to zero. The memset
	// keeps the zeroed-memory promise of common.h even if that changes.
	if (ptr != NULL)
		memset(ptr, 0, slot_size);
	return ptr;
}

void cf_secure_free(void *ptr)
{
	if (ptr == NULL)
		return;

	struct arena *previous = NULL;
	pthread_mutex_lock(&arenas_lock);
	struct arena *a = arena_of(ptr, &previous);
	if (a != NULL)
		slot_release(a, previous, ptr);
	pthread_mutex_unlock(&arenas_lock);

	if (a == NULL)
		mapping_free(ptr);
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

int cf_openssl_secure_heap(size_t size, struct cf_error *err)
{
	if (CRYPTO_secure_malloc_initialized())
		return 0;
	// 32 bytes, the smallest block, is the size of a P-256 scalar.
	int rc = CRYPTO_secure_malloc_init(size, 32);
	if (rc == 1)
		return 0;
	if (rc == 2)
		return 1;
	return cf_error_set(err, -ENOMEM, "cannot set up OpenSSL's secure heap of %zu bytes", size);
}
