// SPDX-License-Identifier: Apache-2.0
// The manifest loader: positions, several documents, JSON, anchors, merge
// keys, scalar types, and hostile input (alias bombs, deep nesting, huge
// scalars, invalid UTF-8) that must fail cleanly within fixed limits.

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "scan/k8s/tree.h"

static struct k8s_stream *parse_ok(const char *text)
{
	struct k8s_stream *stream = NULL;
	struct cf_error err = { 0 };
	int rc = k8s_stream_parse(text, strlen(text), NULL, &stream, &err);
	if (rc != 0)
		print_error("unexpected parse error: %s\n", cf_error_message(&err, rc));
	assert_int_equal(rc, 0);
	return stream;
}

static int parse_fail(const char *data, size_t size, struct cf_error *err)
{
	struct k8s_stream *stream = NULL;
	int rc = k8s_stream_parse(data, size, NULL, &stream, err);
	k8s_stream_free(stream);
	assert_int_not_equal(rc, 0);
	return rc;
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

static void positions_of_nested_nodes(void **state)
{
	(void)state;
	struct k8s_stream *stream = parse_ok("apiVersion: v1\n"
					     "kind: Pod\n"
					     "spec:\n"
					     "  containers:\n"
					     "    - name: app\n"
					     "      securityContext:\n"
					     "        privileged: true\n");
	const struct k8s_document *doc = k8s_stream_get(stream, 0);
	const struct k8s_node *containers = k8s_map_path(doc->root, "spec.containers");
	assert_true(k8s_node_is_sequence(containers));
	assert_int_equal(containers->count, 1);

	const struct k8s_node *container = containers->items[0];
	assert_int_equal(container->line, 5);
	assert_int_equal(container->column, 7);

	const struct k8s_node *privileged = k8s_map_path(container, "securityContext.privileged");
	assert_non_null(privileged);
	assert_int_equal(privileged->line, 7);
	assert_int_equal(privileged->column, 21);
	assert_true(k8s_node_is_true(privileged));
	k8s_stream_free(stream);
}

static void several_documents_and_empty_ones(void **state)
{
	(void)state;
	struct k8s_stream *stream = parse_ok("---\n"
					     "kind: A\n"
					     "---\n"
					     "---\n"
					     "kind: B\n"
					     "...\n"
					     "---\n"
					     "kind: C\n");
	assert_int_equal(k8s_stream_count(stream), 4);
	assert_string_equal(k8s_node_string(k8s_map_get(k8s_stream_get(stream, 0)->root, "kind")),
			    "A");
	assert_null(k8s_stream_get(stream, 1)->root);
	assert_int_equal(k8s_stream_get(stream, 2)->index, 3);
	assert_int_equal(k8s_stream_get(stream, 2)->line, 5);
	assert_string_equal(k8s_node_string(k8s_map_get(k8s_stream_get(stream, 3)->root, "kind")),
			    "C");
	k8s_stream_free(stream);
}

static void only_separator_is_empty_document(void **state)
{
	(void)state;
	struct k8s_stream *stream = parse_ok("---\n");
	assert_int_equal(k8s_stream_count(stream), 1);
	assert_null(k8s_stream_get(stream, 0)->root);
	k8s_stream_free(stream);

	stream = parse_ok("");
	assert_int_equal(k8s_stream_count(stream), 0);
	k8s_stream_free(stream);
}

static void json_with_positions(void **state)
{
	(void)state;
	struct k8s_stream *stream = parse_ok("{\n"
					     "\t\"kind\": \"Pod\",\n"
					     "\t\"spec\": {\"hostNetwork\": true,\n"
					     "\t\t\"hostPID\": \"true\"}\n"
					     "}\n");
	const struct k8s_node *root = k8s_stream_get(stream, 0)->root;
	const struct k8s_node *host_network = k8s_map_path(root, "spec.hostNetwork");
	assert_true(k8s_node_is_true(host_network));
	assert_int_equal(host_network->line, 3);
	// A quoted "true" is a string, not a boolean.
	assert_false(k8s_node_is_true(k8s_map_path(root, "spec.hostPID")));
	k8s_stream_free(stream);
}

static void anchors_aliases_and_merge_keys(void **state)
{
	(void)state;
	struct k8s_stream *stream = parse_ok("base: &base\n"
					     "  privileged: true\n"
					     "  runAsUser: 0\n"
					     "copy: *base\n"
					     "merged:\n"
					     "  <<: *base\n"
					     "  runAsUser: 1000\n");
	const struct k8s_node *root = k8s_stream_get(stream, 0)->root;
	assert_ptr_equal(k8s_map_get(root, "copy"), k8s_map_get(root, "base"));
	assert_true(k8s_node_is_true(k8s_map_path(root, "merged.privileged")));

	long long uid = -1;
	assert_true(k8s_node_int(k8s_map_path(root, "merged.runAsUser"), &uid));
	assert_int_equal(uid, 1000);
	k8s_stream_free(stream);
}

static void last_duplicate_key_wins(void **state)
{
	(void)state;
	struct k8s_stream *stream = parse_ok("privileged: false\nprivileged: true\n");
	assert_true(k8s_node_is_true(k8s_map_get(k8s_stream_get(stream, 0)->root, "privileged")));
	k8s_stream_free(stream);
}

static void scalar_types(void **state)
{
	(void)state;
	struct k8s_stream *stream = parse_ok("a: yes\nb: 'yes'\nc: ~\nd: 0x10\ne: 08x\nf: -3\n"
					     "g: Off\nh: null\n");
	const struct k8s_node *root = k8s_stream_get(stream, 0)->root;
	long long number = 0;

	assert_true(k8s_node_is_true(k8s_map_get(root, "a")));
	assert_false(k8s_node_is_true(k8s_map_get(root, "b")));
	assert_true(k8s_node_is_null(k8s_map_get(root, "c")));
	assert_true(k8s_node_int(k8s_map_get(root, "d"), &number));
	assert_int_equal(number, 16);
	assert_false(k8s_node_int(k8s_map_get(root, "e"), &number));
	assert_true(k8s_node_int(k8s_map_get(root, "f"), &number));
	assert_int_equal(number, -3);
	assert_true(k8s_node_is_false(k8s_map_get(root, "g")));
	assert_null(k8s_node_string(k8s_map_get(root, "h")));
	k8s_stream_free(stream);
}

static void alias_bomb_rejected_quickly(void **state)
{
	(void)state;
	const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
			   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
			   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
			   "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
			   "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
			   "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	struct cf_error err = { 0 };
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);

	assert_int_equal(parse_fail(bomb, strlen(bomb), &err), -E2BIG);
	assert_non_null(strstr(err.message, "alias"));
	assert_non_null(strstr(err.message, "line 6"));
	assert_true(seconds_since(&start) < 1.0);
}

static void recursive_alias_rejected(void **state)
{
	(void)state;
	const char *text = "a: &a [1, *a]\n";
	struct cf_error err = { 0 };
	assert_int_equal(parse_fail(text, strlen(text), &err), -EINVAL);
	assert_non_null(strstr(err.message, "*a"));
}

static void undefined_alias_rejected(void **state)
{
	(void)state;
	const char *text = "a: *nowhere\n";
	struct cf_error err = { 0 };
	assert_int_equal(parse_fail(text, strlen(text), &err), -EINVAL);
	assert_non_null(strstr(err.message, "line 1 column 4"));
}

static void deep_nesting_rejected(void **state)
{
	(void)state;
	const size_t levels = 10000;
	char *text = malloc(2 * levels + 1);
	assert_non_null(text);
	memset(text, '[', levels);
	memset(text + levels, ']', levels);
	text[2 * levels] = '\0';

	struct cf_error err = { 0 };
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(parse_fail(text, 2 * levels, &err), -E2BIG);
	assert_non_null(strstr(err.message, "nested more than 512 levels"));
	assert_true(seconds_since(&start) < 2.0);
	free(text);
}

static void deep_block_nesting_rejected(void **state)
{
	(void)state;
	// "- " repeated: each level is a block sequence inside the previous one.
	const size_t levels = 10000;
	char *text = malloc(2 * levels + 3);
	assert_non_null(text);
	for (size_t i = 0; i < levels; i++)
		memcpy(text + 2 * i, "- ", 2);
	memcpy(text + 2 * levels, "x\n", 3);

	struct cf_error err = { 0 };
	assert_int_equal(parse_fail(text, strlen(text), &err), -E2BIG);
	free(text);
}

static void huge_scalar_rejected(void **state)
{
	(void)state;
	const size_t size = 5u * 1024 * 1024;
	char *text = malloc(size + 16);
	assert_non_null(text);
	memcpy(text, "data: ", 6);
	memset(text + 6, 'x', size);
	memcpy(text + 6 + size, "\n", 2);

	struct cf_error err = { 0 };
	assert_int_equal(parse_fail(text, strlen(text), &err), -E2BIG);
	assert_non_null(strstr(err.message, "scalar of"));
	free(text);
}

static void input_over_limit_rejected(void **state)
{
	(void)state;
	struct k8s_limits limits;
	k8s_limits_default(&limits);
	limits.max_input_bytes = 8;

	struct k8s_stream *stream = NULL;
	struct cf_error err = { 0 };
	assert_int_equal(k8s_stream_parse("kind: Pod\n", 10, &limits, &stream, &err), -E2BIG);
	assert_non_null(strstr(err.message, "limit"));
	k8s_stream_free(stream);
}

static void invalid_utf8_rejected(void **state)
{
	(void)state;
	const char text[] = "kind: Pod\nmetadata:\n  name: b\xff\xfe" "d\n";
	struct cf_error err = { 0 };
	assert_int_equal(parse_fail(text, sizeof(text) - 1, &err), -EINVAL);
	assert_non_null(strstr(err.message, "line 3"));
	assert_non_null(strstr(err.message, "UTF-8"));
}

static void syntax_error_keeps_earlier_documents(void **state)
{
	(void)state;
	const char *text = "kind: A\n---\nkey: [unclosed\n";
	struct k8s_stream *stream = NULL;
	struct cf_error err = { 0 };
	assert_int_equal(k8s_stream_parse(text, strlen(text), NULL, &stream, &err), -EINVAL);
	assert_non_null(stream);
	assert_int_equal(k8s_stream_count(stream), 1);
	assert_non_null(strstr(err.message, "invalid YAML"));
	k8s_stream_free(stream);
}

static void binary_garbage_rejected(void **state)
{
	(void)state;
	const unsigned char text[] = { 'a', ':', ' ', 0x00, 0x01, 0x02, '\n' };
	struct cf_error err = { 0 };
	parse_fail((const char *)text, sizeof(text), &err);
	assert_true(err.message[0] != '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(positions_of_nested_nodes),
		cmocka_unit_test(several_documents_and_empty_ones),
		cmocka_unit_test(only_separator_is_empty_document),
		cmocka_unit_test(json_with_positions),
		cmocka_unit_test(anchors_aliases_and_merge_keys),
		cmocka_unit_test(last_duplicate_key_wins),
		cmocka_unit_test(scalar_types),
		cmocka_unit_test(alias_bomb_rejected_quickly),
		cmocka_unit_test(recursive_alias_rejected),
		cmocka_unit_test(undefined_alias_rejected),
		cmocka_unit_test(deep_nesting_rejected),
		cmocka_unit_test(deep_block_nesting_rejected),
		cmocka_unit_test(huge_scalar_rejected),
		cmocka_unit_test(input_over_limit_rejected),
		cmocka_unit_test(invalid_utf8_rejected),
		cmocka_unit_test(syntax_error_keeps_earlier_documents),
		cmocka_unit_test(binary_garbage_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
