// SPDX-License-Identifier: Apache-2.0
// Arena allocator and growable buffers for the Dockerfile parser. Every
// object of one parse lives in one arena and is freed at once.

#include "scan/dockerfile/dockerfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_SIZE (64 * 1024)

struct df_arena_block {
	struct df_arena_block *next;
	size_t used;
	size_t size;
	max_align_t data[];
};

static void arena_fail(struct df_arena *arena)
{
	if (arena->oom_jump != NULL)
		longjmp(*arena->oom_jump, 1);
	abort();
}

void *df_alloc(struct df_arena *arena, size_t size)
{
	const size_t align = sizeof(max_align_t);
	size_t rounded = (size + align - 1) / align * align;
	if (rounded < size)
		arena_fail(arena);

	struct df_arena_block *block = arena->blocks;
	if (block == NULL || block->size - block->used < rounded) {
		size_t data_size = rounded > ARENA_BLOCK_SIZE ? rounded : ARENA_BLOCK_SIZE;
		block = malloc(sizeof(*block) + data_size);
		if (block == NULL)
			arena_fail(arena);
		block->size = data_size;
		block->used = 0;
		// A large allocation gets its own block behind the current one,
		// so the free space of the current block is not wasted.
		if (data_size > ARENA_BLOCK_SIZE && arena->blocks != NULL) {
			block->next = arena->blocks->next;
			arena->blocks->next = block;
		} else {
			block->next = arena->blocks;
			arena->blocks = block;
		}
	}

	void *ptr = (char *)block->data + block->used;
	block->used += rounded;
	memset(ptr, 0, size);
	return ptr;
}

char *df_strndup(struct df_arena *arena, const char *s, size_t len)
{
	char *copy = df_alloc(arena, len + 1);
	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

char *df_strdup(struct df_arena *arena, const char *s)
{
	return df_strndup(arena, s, strlen(s));
}

void df_grow(struct df_arena *arena, void **items, size_t *capacity, size_t need,
	     size_t item_size)
{
	if (need <= *capacity)
		return;
	size_t grown = *capacity ? *capacity * 2 : 8;
	while (grown < need)
		grown *= 2;
	if (grown > SIZE_MAX / item_size)
		arena_fail(arena);
	void *copy = df_alloc(arena, grown * item_size);
	if (*capacity > 0)
		memcpy(copy, *items, *capacity * item_size);
	*items = copy;
	*capacity = grown;
}

void df_arena_free(struct df_arena *arena)
{
	struct df_arena_block *block = arena->blocks;
	while (block != NULL) {
		struct df_arena_block *next = block->next;
		free(block);
		block = next;
	}
	arena->blocks = NULL;
}

struct df_map_entry {
	struct df_map_entry *next;
	const char *key;
	size_t len;
	void *value;
};

// FNV-1a: fast, and good enough for identifiers.
static size_t hash_key(const char *key, size_t len)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ull;
	}
	return (size_t)h;
}

static struct df_map_entry *map_find(const struct df_map *map, const char *key, size_t len)
{
	if (map->bucket_count == 0)
		return NULL;
	struct df_map_entry *entry = map->buckets[hash_key(key, len) & (map->bucket_count - 1)];
	for (; entry != NULL; entry = entry->next) {
		if (entry->len == len && memcmp(entry->key, key, len) == 0)
			return entry;
	}
	return NULL;
}

void *df_map_get(const struct df_map *map, const char *key, size_t len)
{
	struct df_map_entry *entry = map_find(map, key, len);
	return entry != NULL ? entry->value : NULL;
}

void df_map_put(struct df_arena *arena, struct df_map *map, const char *key, size_t len,
		void *value)
{
	struct df_map_entry *entry = map_find(map, key, len);
	if (entry != NULL) {
		entry->value = value;
		return;
	}

	// Keep at most one entry per bucket on average; the old bucket array
	// stays in the arena, which at most doubles the memory used.
	if (map->count >= map->bucket_count) {
		size_t count = map->bucket_count ? map->bucket_count * 2 : 16;
		struct df_map_entry **buckets = df_alloc(arena, count * sizeof(*buckets));
		for (size_t i = 0; i < map->bucket_count; i++) {
			struct df_map_entry *e = map->buckets[i];
			while (e != NULL) {
				struct df_map_entry *next = e->next;
				size_t slot = hash_key(e->key, e->len) & (count - 1);
				e->next = buckets[slot];
				buckets[slot] = e;
				e = next;
			}
		}
		map->buckets = buckets;
		map->bucket_count = count;
	}

	entry = df_alloc(arena, sizeof(*entry));
	entry->key = key;
	entry->len = len;
	entry->value = value;
	size_t slot = hash_key(key, len) & (map->bucket_count - 1);
	entry->next = map->buckets[slot];
	map->buckets[slot] = entry;
	map->count++;
}

void df_buf_add(struct df_arena *arena, struct df_buf *buf, const char *s, size_t len)
{
	if (buf->len + len + 1 > buf->capacity) {
		void *data = buf->data;
		df_grow(arena, &data, &buf->capacity, buf->len + len + 1, 1);
		buf->data = data;
	}
	memcpy(buf->data + buf->len, s, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void df_buf_addc(struct df_arena *arena, struct df_buf *buf, char c)
{
	df_buf_add(arena, buf, &c, 1);
}

char *df_buf_str(struct df_arena *arena, struct df_buf *buf)
{
	if (buf->data == NULL)
		df_buf_add(arena, buf, "", 0);
	return buf->data;
}

void df_text_position(const struct df_text *text, size_t offset, int *line, int *column)
{
	if (text == NULL || text->segment_count == 0) {
		*line = 0;
		*column = 0;
		return;
	}

	// Binary search for the last segment that starts at or before offset.
	size_t low = 0, high = text->segment_count;
	while (high - low > 1) {
		size_t mid = low + (high - low) / 2;
		if (text->segments[mid].offset <= offset)
			low = mid;
		else
			high = mid;
	}
	const struct df_segment *segment = &text->segments[low];
	*line = segment->line;
	*column = segment->column + (int)(offset - segment->offset);
}
