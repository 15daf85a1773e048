// SPDX-License-Identifier: Apache-2.0
// Builds position-keeping node trees from libyaml events (see tree.h for
// the limits and how aliases are bounded). Nodes and strings live in one
// arena per stream, so a stream is freed in one step and aliases can share
// nodes without reference counts.

#include "scan/k8s/tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define ARENA_CHUNK_SIZE (64 * 1024)
#define MERGE_MAX_DEPTH 64

struct arena_chunk {
	struct arena_chunk *next;
	size_t used;
	size_t size;
	max_align_t data[];
};

struct anchor_slot {
	char *name; // NULL when the slot is free
	struct k8s_node *node;
};

struct k8s_stream {
	struct arena_chunk *chunks;
	struct k8s_document *documents;
	size_t document_count;
	size_t document_capacity;
};

struct frame {
	struct k8s_node *node;
	size_t child_start; // first index of this collection's children in pending
	char *anchor;       // owned; registered when the collection ends
};

struct builder {
	struct k8s_stream *stream;
	const struct k8s_limits *limits;
	const char *data;
	size_t size;
	struct frame *frames;
	size_t depth;
	size_t frame_capacity;
	struct k8s_node **pending;
	size_t pending_count;
	size_t pending_capacity;
	struct anchor_slot *anchors; // open addressing, capacity a power of two
	size_t anchor_count;
	size_t anchor_capacity;
	struct k8s_node *root;
	struct cf_error *err;
};

void k8s_limits_default(struct k8s_limits *limits)
{
	limits->max_input_bytes = 64u * 1024 * 1024;
	limits->max_scalar_bytes = 4u * 1024 * 1024;
	limits->max_depth = 512;
	limits->max_weight = 1000000;
	limits->max_documents = 100000;
}

// ---- arena -----------------------------------------------------------------

static void *arena_alloc(struct k8s_stream *stream, size_t size)
{
	const size_t align = sizeof(max_align_t);
	size = (size + align - 1) / align * align;

	struct arena_chunk *chunk = stream->chunks;
	if (chunk == NULL || chunk->size - chunk->used < size) {
		size_t capacity = size > ARENA_CHUNK_SIZE ? size : ARENA_CHUNK_SIZE;
		chunk = malloc(sizeof(*chunk) + capacity);
		if (chunk == NULL)
			return NULL;
		chunk->used = 0;
		chunk->size = capacity;
		chunk->next = stream->chunks;
		stream->chunks = chunk;
	}

	void *ptr = (char *)chunk->data + chunk->used;
	chunk->used += size;
	return ptr;
}

static char *arena_strndup(struct k8s_stream *stream, const char *text, size_t length)
{
	char *copy = arena_alloc(stream, length + 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, text, length);
	copy[length] = '\0';
	return copy;
}

void k8s_stream_free(struct k8s_stream *stream)
{
	if (stream == NULL)
		return;
	struct arena_chunk *chunk = stream->chunks;
	while (chunk != NULL) {
		struct arena_chunk *next = chunk->next;
		free(chunk);
		chunk = next;
	}
	free(stream->documents);
	free(stream);
}

size_t k8s_stream_count(const struct k8s_stream *stream)
{
	return stream->document_count;
}

const struct k8s_document *k8s_stream_get(const struct k8s_stream *stream, size_t i)
{
	if (i >= stream->document_count)
		return NULL;
	return &stream->documents[i];
}

// ---- anchors ---------------------------------------------------------------

static uint64_t hash_name(const char *name)
{
	uint64_t hash = 14695981039346656037ull; // FNV-1a
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		hash ^= *p;
		hash *= 1099511628211ull;
	}
	return hash;
}

static void anchors_clear(struct builder *b)
{
	for (size_t i = 0; i < b->anchor_capacity; i++) {
		free(b->anchors[i].name);
		b->anchors[i].name = NULL;
	}
	b->anchor_count = 0;
}

static struct anchor_slot *anchor_find_slot(struct anchor_slot *slots, size_t capacity,
					    const char *name)
{
	size_t mask = capacity - 1;
	size_t i = (size_t)hash_name(name) & mask;
	while (slots[i].name != NULL && strcmp(slots[i].name, name) != 0)
		i = (i + 1) & mask;
	return &slots[i];
}

static int anchors_grow(struct builder *b)
{
	size_t capacity = b->anchor_capacity ? b->anchor_capacity * 2 : 64;
	struct anchor_slot *slots = calloc(capacity, sizeof(*slots));
	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < b->anchor_capacity; i++) {
		if (b->anchors[i].name == NULL)
			continue;
		*anchor_find_slot(slots, capacity, b->anchors[i].name) = b->anchors[i];
	}
	free(b->anchors);
	b->anchors = slots;
	b->anchor_capacity = capacity;
	return 0;
}

// Registers name for node, taking ownership of name. A later anchor with
// the same name replaces the earlier one, as YAML specifies.
static int anchor_register(struct builder *b, char *name, struct k8s_node *node)
{
	if (b->anchor_count * 2 >= b->anchor_capacity) {
		int rc = anchors_grow(b);
		if (rc != 0) {
			free(name);
			return rc;
		}
	}

	struct anchor_slot *slot = anchor_find_slot(b->anchors, b->anchor_capacity, name);
	if (slot->name != NULL) {
		free(name);
	} else {
		slot->name = name;
		b->anchor_count++;
	}
	slot->node = node;
	return 0;
}

static struct k8s_node *anchor_lookup(struct builder *b, const char *name)
{
	if (b->anchor_capacity == 0)
		return NULL;
	struct anchor_slot *slot = anchor_find_slot(b->anchors, b->anchor_capacity, name);
	return slot->name != NULL ? slot->node : NULL;
}

// ---- building --------------------------------------------------------------

static int pending_push(struct builder *b, struct k8s_node *node)
{
	if (b->pending_count == b->pending_capacity) {
		size_t capacity = b->pending_capacity ? b->pending_capacity * 2 : 256;
		struct k8s_node **grown = realloc(b->pending, capacity * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		b->pending = grown;
		b->pending_capacity = capacity;
	}
	b->pending[b->pending_count++] = node;
	return 0;
}

// Checks the expanded size of a finished node against the limit.
static int check_weight(struct builder *b, const struct k8s_node *node)
{
	if (node->weight <= b->limits->max_weight)
		return 0;
	return cf_error_set(b->err, -E2BIG,
			    "line %d column %d: the document expands to more than %llu nodes "
			    "through aliases (an alias bomb); remove the repeated aliases",
			    node->line, node->column,
			    (unsigned long long)b->limits->max_weight);
}

// Attaches a finished node to the open collection, or makes it the root.
static int attach(struct builder *b, struct k8s_node *node)
{
	int rc = check_weight(b, node);
	if (rc != 0)
		return rc;
	if (b->depth == 0) {
		b->root = node;
		return 0;
	}
	return pending_push(b, node);
}

static struct k8s_node *node_new(struct builder *b, enum k8s_node_type type,
				 const yaml_mark_t *mark)
{
	struct k8s_node *node = arena_alloc(b->stream, sizeof(*node));
	if (node == NULL)
		return NULL;
	memset(node, 0, sizeof(*node));
	node->type = type;
	node->line = (int)mark->line + 1;
	node->column = (int)mark->column + 1;
	node->weight = 1;
	return node;
}

static int take_anchor(const yaml_char_t *anchor, char **copy)
{
	*copy = NULL;
	if (anchor == NULL)
		return 0;
	*copy = strdup((const char *)anchor);
	return *copy == NULL ? -ENOMEM : 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *event)
{
	size_t length = event->data.scalar.length;
	if (length > b->limits->max_scalar_bytes)
		return cf_error_set(b->err, -E2BIG,
				    "line %zu column %zu: scalar of %zu bytes is larger than "
				    "the %zu-byte limit; no Kubernetes object can hold it",
				    event->start_mark.line + 1, event->start_mark.column + 1,
				    length, b->limits->max_scalar_bytes);

	struct k8s_node *node = node_new(b, K8S_NODE_SCALAR, &event->start_mark);
	if (node == NULL)
		return -ENOMEM;
	node->value = arena_strndup(b->stream, (const char *)event->data.scalar.value, length);
	if (node->value == NULL)
		return -ENOMEM;
	node->length = length;
	node->plain = event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		      event->data.scalar.plain_implicit;

	char *anchor = NULL;
	int rc = take_anchor(event->data.scalar.anchor, &anchor);
	if (rc == 0 && anchor != NULL)
		rc = anchor_register(b, anchor, node);
	if (rc != 0)
		return rc;
	return attach(b, node);
}

static int on_alias(struct builder *b, const yaml_event_t *event)
{
	const char *name = (const char *)event->data.alias.anchor;
	struct k8s_node *node = anchor_lookup(b, name);
	if (node == NULL)
		return cf_error_set(b->err, -EINVAL,
				    "line %zu column %zu: alias *%s refers to no earlier, "
				    "complete anchor &%s",
				    event->start_mark.line + 1, event->start_mark.column + 1,
				    name, name);
	return attach(b, node);
}

static int on_collection_start(struct builder *b, const yaml_event_t *event,
			       enum k8s_node_type type)
{
	if (b->depth >= b->limits->max_depth)
		return cf_error_set(b->err, -E2BIG,
				    "line %zu column %zu: collections are nested more than %u "
				    "levels deep",
				    event->start_mark.line + 1, event->start_mark.column + 1,
				    b->limits->max_depth);

	if (b->depth == b->frame_capacity) {
		size_t capacity = b->frame_capacity ? b->frame_capacity * 2 : 32;
		struct frame *grown = realloc(b->frames, capacity * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		b->frames = grown;
		b->frame_capacity = capacity;
	}

	struct k8s_node *node = node_new(b, type, &event->start_mark);
	if (node == NULL)
		return -ENOMEM;

	const yaml_char_t *anchor = type == K8S_NODE_MAPPING ? event->data.mapping_start.anchor
							     : event->data.sequence_start.anchor;
	struct frame *frame = &b->frames[b->depth];
	int rc = take_anchor(anchor, &frame->anchor);
	if (rc != 0)
		return rc;
	frame->node = node;
	frame->child_start = b->pending_count;
	b->depth++;
	return 0;
}

static int on_collection_end(struct builder *b)
{
	struct frame *frame = &b->frames[b->depth - 1];
	struct k8s_node *node = frame->node;
	size_t children = b->pending_count - frame->child_start;

	if (children > 0) {
		node->items = arena_alloc(b->stream, children * sizeof(*node->items));
		if (node->items == NULL)
			return -ENOMEM;
		memcpy(node->items, b->pending + frame->child_start,
		       children * sizeof(*node->items));
	}
	node->count = node->type == K8S_NODE_MAPPING ? children / 2 : children;
	for (size_t i = 0; i < children; i++)
		node->weight += node->items[i]->weight;
	b->pending_count = frame->child_start;

	char *anchor = frame->anchor;
	frame->anchor = NULL;
	b->depth--;
	if (anchor != NULL) {
		int rc = anchor_register(b, anchor, node);
		if (rc != 0)
			return rc;
	}
	return attach(b, node);
}

static int add_document(struct builder *b, int line)
{
	struct k8s_stream *stream = b->stream;
	if (stream->document_count >= b->limits->max_documents)
		return cf_error_set(b->err, -E2BIG,
				    "line %d: the stream holds more than %zu documents",
				    line, b->limits->max_documents);

	if (stream->document_count == stream->document_capacity) {
		size_t capacity = stream->document_capacity ? stream->document_capacity * 2 : 8;
		struct k8s_document *grown =
			realloc(stream->documents, capacity * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		stream->documents = grown;
		stream->document_capacity = capacity;
	}

	struct k8s_document *doc = &stream->documents[stream->document_count];
	doc->root = k8s_node_is_null(b->root) ? NULL : b->root;
	doc->index = (int)stream->document_count + 1;
	doc->line = line;
	stream->document_count++;
	return 0;
}

// Converts a byte offset to a 1-based line and column for reader errors,
// which libyaml reports by offset only.
static void offset_position(const char *data, size_t size, size_t offset, int *line,
			    int *column)
{
	*line = 1;
	*column = 1;
	if (offset > size)
		offset = size;
	for (size_t i = 0; i < offset; i++) {
		if (data[i] == '\n') {
			(*line)++;
			*column = 1;
		} else {
			(*column)++;
		}
	}
}

static int parser_error(struct builder *b, const yaml_parser_t *parser)
{
	const char *problem = parser->problem ? parser->problem : "unknown error";

	if (parser->error == YAML_MEMORY_ERROR)
		return cf_error_set(b->err, -ENOMEM, "out of memory while parsing YAML");

	if (parser->error == YAML_READER_ERROR) {
		int line, column;
		offset_position(b->data, b->size, parser->problem_offset, &line, &column);
		if (parser->problem_value != -1)
			return cf_error_set(b->err, -EINVAL,
					    "line %d column %d: invalid input: %s (byte 0x%02x); "
					    "the file must be UTF-8 or UTF-16 text",
					    line, column, problem, parser->problem_value & 0xff);
		return cf_error_set(b->err, -EINVAL,
				    "line %d column %d: invalid input: %s; the file must be "
				    "UTF-8 or UTF-16 text",
				    line, column, problem);
	}

	if (parser->context != NULL)
		return cf_error_set(b->err, -EINVAL,
				    "line %zu column %zu: invalid YAML: %s %s (line %zu column %zu)",
				    parser->problem_mark.line + 1, parser->problem_mark.column + 1,
				    problem, parser->context, parser->context_mark.line + 1,
				    parser->context_mark.column + 1);
	return cf_error_set(b->err, -EINVAL, "line %zu column %zu: invalid YAML: %s",
			    parser->problem_mark.line + 1, parser->problem_mark.column + 1,
			    problem);
}

static int handle_event(struct builder *b, const yaml_event_t *event)
{
	switch (event->type) {
	case YAML_DOCUMENT_START_EVENT:
		b->root = NULL;
		anchors_clear(b);
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		return add_document(b, b->root ? b->root->line : (int)event->start_mark.line + 1);
	case YAML_SCALAR_EVENT:
		return on_scalar(b, event);
	case YAML_ALIAS_EVENT:
		return on_alias(b, event);
	case YAML_SEQUENCE_START_EVENT:
		return on_collection_start(b, event, K8S_NODE_SEQUENCE);
	case YAML_MAPPING_START_EVENT:
		return on_collection_start(b, event, K8S_NODE_MAPPING);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_collection_end(b);
	default:
		return 0;
	}
}

int k8s_stream_parse(const char *data, size_t size, const struct k8s_limits *limits,
		     struct k8s_stream **out, struct cf_error *err)
{
	struct k8s_limits defaults;
	if (limits == NULL) {
		k8s_limits_default(&defaults);
		limits = &defaults;
	}

	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return -ENOMEM;
	if (size > limits->max_input_bytes)
		return cf_error_set(err, -E2BIG, "input of %zu bytes is larger than the %zu-byte limit",
				    size, limits->max_input_bytes);

	struct builder b = {
		.stream = *out,
		.limits = limits,
		.data = data,
		.size = size,
		.err = err,
	};

	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, size);

	int rc = 0;
	bool done = false;
	while (!done) {
		yaml_event_t event;
		if (!yaml_parser_parse(&parser, &event)) {
			rc = parser_error(&b, &parser);
			break;
		}
		done = event.type == YAML_STREAM_END_EVENT;
		rc = handle_event(&b, &event);
		yaml_event_delete(&event);
		if (rc != 0)
			break;
	}
	yaml_parser_delete(&parser);

	for (size_t i = 0; i < b.depth; i++)
		free(b.frames[i].anchor);
	anchors_clear(&b);
	free(b.anchors);
	free(b.frames);
	free(b.pending);
	if (rc == -ENOMEM)
		cf_error_set(err, rc, "out of memory while parsing YAML");
	return rc;
}

// ---- reading ---------------------------------------------------------------

bool k8s_node_is_null(const struct k8s_node *node)
{
	if (node == NULL)
		return true;
	if (node->type != K8S_NODE_SCALAR || !node->plain)
		return false;
	const char *v = node->value;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

bool k8s_node_is_mapping(const struct k8s_node *node)
{
	return node != NULL && node->type == K8S_NODE_MAPPING;
}

bool k8s_node_is_sequence(const struct k8s_node *node)
{
	return node != NULL && node->type == K8S_NODE_SEQUENCE;
}

const char *k8s_node_string(const struct k8s_node *node)
{
	if (node == NULL || node->type != K8S_NODE_SCALAR || k8s_node_is_null(node))
		return NULL;
	return node->value;
}

bool k8s_node_equals(const struct k8s_node *node, const char *s)
{
	const char *v = k8s_node_string(node);
	return v != NULL && strcmp(v, s) == 0;
}

static bool key_matches(const struct k8s_node *key, const char *name)
{
	return key->type == K8S_NODE_SCALAR && strcmp(key->value, name) == 0;
}

static bool is_merge_key(const struct k8s_node *key)
{
	return key->type == K8S_NODE_SCALAR && key->plain && strcmp(key->value, "<<") == 0;
}

// Finds key in a mapping, then in the mappings merged into it with "<<", and
// returns the value node, or the key node when want_key is set.
static const struct k8s_node *map_find(const struct k8s_node *node, const char *key, int depth,
				       bool want_key)
{
	if (node == NULL || node->type != K8S_NODE_MAPPING || depth > MERGE_MAX_DEPTH)
		return NULL;

	for (size_t i = node->count; i-- > 0;) {
		if (key_matches(node->items[2 * i], key) && !is_merge_key(node->items[2 * i]))
			return node->items[2 * i + (want_key ? 0 : 1)];
	}

	// Merge keys: explicit keys win, then the merged mappings in order.
	for (size_t i = 0; i < node->count; i++) {
		if (!is_merge_key(node->items[2 * i]))
			continue;
		const struct k8s_node *merged = node->items[2 * i + 1];
		if (merged->type == K8S_NODE_MAPPING) {
			const struct k8s_node *found = map_find(merged, key, depth + 1, want_key);
			if (found != NULL)
				return found;
		} else if (merged->type == K8S_NODE_SEQUENCE) {
			for (size_t j = 0; j < merged->count; j++) {
				const struct k8s_node *found =
					map_find(merged->items[j], key, depth + 1, want_key);
				if (found != NULL)
					return found;
			}
		}
	}
	return NULL;
}

const struct k8s_node *k8s_map_get(const struct k8s_node *node, const char *key)
{
	return map_find(node, key, 0, false);
}

const struct k8s_node *k8s_map_key(const struct k8s_node *node, const char *key)
{
	return map_find(node, key, 0, true);
}

const struct k8s_node *k8s_map_at(const struct k8s_node *node, const char *key,
				  const struct k8s_node *fallback)
{
	const struct k8s_node *found = k8s_map_key(node, key);
	return found ? found : fallback;
}

const struct k8s_node *k8s_map_path(const struct k8s_node *node, const char *path)
{
	char key[128];

	while (node != NULL && *path != '\0') {
		const char *dot = strchr(path, '.');
		size_t length = dot ? (size_t)(dot - path) : strlen(path);
		if (length >= sizeof(key))
			return NULL;
		memcpy(key, path, length);
		key[length] = '\0';
		node = k8s_map_get(node, key);
		path += length;
		if (*path == '.')
			path++;
	}
	return node;
}

bool k8s_node_bool(const struct k8s_node *node, bool *value)
{
	static const char *const truths[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
					      "on", "On", "ON", "y", "Y" };
	static const char *const falsehoods[] = { "false", "False", "FALSE", "no", "No", "NO",
						  "off", "Off", "OFF", "n", "N" };

	if (node == NULL || node->type != K8S_NODE_SCALAR || !node->plain)
		return false;
	for (size_t i = 0; i < sizeof(truths) / sizeof(truths[0]); i++) {
		if (strcmp(node->value, truths[i]) == 0) {
			*value = true;
			return true;
		}
		if (strcmp(node->value, falsehoods[i]) == 0) {
			*value = false;
			return true;
		}
	}
	return false;
}

bool k8s_node_is_true(const struct k8s_node *node)
{
	bool value;
	return k8s_node_bool(node, &value) && value;
}

bool k8s_node_is_false(const struct k8s_node *node)
{
	bool value;
	return k8s_node_bool(node, &value) && !value;
}

bool k8s_node_int(const struct k8s_node *node, long long *value)
{
	if (node == NULL || node->type != K8S_NODE_SCALAR || !node->plain)
		return false;

	const char *text = node->value;
	int base = 10;
	const char *digits = text;
	if (*digits == '+' || *digits == '-')
		digits++;
	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		base = 16;
	if (*digits == '\0')
		return false;

	char *end;
	errno = 0;
	long long parsed = strtoll(text, &end, base);
	if (errno != 0 || *end != '\0' || end == text)
		return false;
	*value = parsed;
	return true;
}
