// SPDX-License-Identifier: Apache-2.0
// YAML documents as trees of nodes that keep their source line and column,
// built from libyaml's event stream. The Kubernetes checker reads manifests
// only through this API.
//
// Limits: the builder keeps an explicit stack, so deep input never recurses.
// Anchors are registered when their node is complete, so an alias can only
// refer to an earlier, finished node and the node graph has no cycles. An
// alias shares the anchored node instead of copying it, and every document
// counts its size with aliases expanded, so an alias bomb is rejected before
// any walk over the tree could take exponential time.

#ifndef COFFER_SCAN_K8S_TREE_H
#define COFFER_SCAN_K8S_TREE_H

#include <coffer/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum k8s_node_type {
	K8S_NODE_SCALAR,
	K8S_NODE_MAPPING,
	K8S_NODE_SEQUENCE,
};

struct k8s_node {
	enum k8s_node_type type;
	int line;   // 1-based
	int column; // 1-based
	// Scalars: NUL-terminated text (may also contain NUL bytes when quoted
	// with escapes; length is authoritative). plain is true for unquoted
	// scalars without an explicit tag, the only ones that can be null,
	// booleans or numbers.
	const char *value;
	size_t length;
	bool plain;
	// Sequences: count items. Mappings: count pairs, stored as
	// items[2 * i] (key) and items[2 * i + 1] (value).
	struct k8s_node **items;
	size_t count;
	// Number of nodes in this subtree with every alias expanded.
	uint64_t weight;
};

struct k8s_document {
	struct k8s_node *root; // NULL for an empty document ("---" alone)
	int index;             // 1-based position in the stream
	int line;              // line of the document start
};

struct k8s_limits {
	size_t max_input_bytes;   // whole stream
	size_t max_scalar_bytes;  // one scalar
	unsigned max_depth;       // nested collections
	uint64_t max_weight;      // nodes per document with aliases expanded
	size_t max_documents;     // documents per stream
};

// Defaults: 64 MiB of input, 4 MiB per scalar (the API server stores no
// object above about 1.5 MiB), 512 levels, 1,000,000 expanded nodes per
// document and 100,000 documents.
void k8s_limits_default(struct k8s_limits *limits);

struct k8s_stream;

// Parses a YAML (or JSON) stream of any number of documents. On failure the
// documents parsed before the error are kept in *stream (which the caller
// frees) and err names the line and column. Returns 0, -EINVAL for invalid
// or hostile input, -E2BIG past a limit, or -ENOMEM.
int k8s_stream_parse(const char *data, size_t size, const struct k8s_limits *limits,
		     struct k8s_stream **stream, struct cf_error *err);
void k8s_stream_free(struct k8s_stream *stream);

size_t k8s_stream_count(const struct k8s_stream *stream);
const struct k8s_document *k8s_stream_get(const struct k8s_stream *stream, size_t i);

// ---- reading nodes ---------------------------------------------------------

// Returns the value of key in a mapping (the last one when a key repeats,
// then keys merged in with "<<"), or NULL when node is not a mapping or the
// key is missing. A null value is returned as a node; see k8s_node_is_null.
const struct k8s_node *k8s_map_get(const struct k8s_node *node, const char *key);

// Returns the key node of key (for its position), or NULL like k8s_map_get.
const struct k8s_node *k8s_map_key(const struct k8s_node *node, const char *key);

// Returns the key node of key when present, else fallback: the position to
// report for a field that holds a collection, whose own node starts on the
// line after the key in block style.
const struct k8s_node *k8s_map_at(const struct k8s_node *node, const char *key,
				  const struct k8s_node *fallback);

// Follows a dotted path of mapping keys ("securityContext.privileged").
const struct k8s_node *k8s_map_path(const struct k8s_node *node, const char *path);

bool k8s_node_is_null(const struct k8s_node *node);
bool k8s_node_is_mapping(const struct k8s_node *node);
bool k8s_node_is_sequence(const struct k8s_node *node);

// Returns the text of a non-null scalar, or NULL for anything else.
const char *k8s_node_string(const struct k8s_node *node);

// True when node is a scalar whose text equals s.
bool k8s_node_equals(const struct k8s_node *node, const char *s);

// Reads a plain boolean as Kubernetes' YAML decoder does (YAML 1.1: true,
// yes, on, y and their capitalised forms). Returns false when node is not
// a boolean.
bool k8s_node_bool(const struct k8s_node *node, bool *value);
bool k8s_node_is_true(const struct k8s_node *node);
bool k8s_node_is_false(const struct k8s_node *node);

// Reads a plain decimal (or 0x hexadecimal) integer; false when node is not
// an integer.
bool k8s_node_int(const struct k8s_node *node, long long *value);

#endif
