// SPDX-License-Identifier: Apache-2.0
// The shared corpus of real manifests: every file parses without an input
// error, and its findings equal the reviewed golden result kept under
// tests/golden/k8s/<file>.json. COFFER_UPDATE_GOLDEN=1 rewrites the golden
// files instead of comparing; review the diff before committing it.

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <coffer/scan_k8s.h>

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

// Lists the corpus files in name order; returns their number.
static size_t list_corpus(const char *dir, char ***names)
{
	DIR *handle = opendir(dir);
	if (handle == NULL)
		print_error("cannot open the corpus %s: %s\n", dir, strerror(errno));
	assert_non_null(handle);

	size_t count = 0;
	*names = NULL;
	struct dirent *entry;
	while ((entry = readdir(handle)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		*names = realloc(*names, (count + 1) * sizeof(**names));
		assert_non_null(*names);
		(*names)[count++] = strdup(entry->d_name);
	}
	closedir(handle);
	qsort(*names, count, sizeof(**names), compare_names);
	return count;
}

static json_t *scan_file(const char *path, const char *name)
{
	char *data = NULL;
	size_t size = 0;
	struct cf_error err = { 0 };
	assert_int_equal(cf_read_file(path, 64u << 20, &data, &size, &err), 0);

	struct scan_report *report = scan_report_new("coffer-k8s");
	struct scan_k8s_options options = { .profile = SCAN_K8S_PROFILE_RESTRICTED };
	struct scan_k8s *scan = scan_k8s_new(&options, report);
	assert_non_null(scan);

	int rc = scan_k8s_add_buffer(scan, name, data, size);
	if (rc != 0)
		print_error("%s\n", scan_k8s_error(scan, 0));
	assert_int_equal(rc, 0);
	assert_int_equal(scan_k8s_error_count(scan), 0);
	assert_int_equal(scan_k8s_run(scan), 0);
	scan_report_sort(report);

	json_t *document = scan_report_to_json(report);
	assert_non_null(document);
	json_t *result = json_pack("{s:s, s:I, s:O}", "file", name, "documents",
				   (json_int_t)scan_k8s_document_count(scan), "findings",
				   json_object_get(document, "findings"));
	assert_non_null(result);

	json_decref(document);
	scan_k8s_free(scan);
	scan_report_free(report);
	free(data);
	return result;
}

static void report_difference(const char *name, json_t *expected, json_t *actual)
{
	json_t *want = json_object_get(expected, "findings");
	json_t *got = json_object_get(actual, "findings");
	size_t count = json_array_size(want) > json_array_size(got) ? json_array_size(want)
								    : json_array_size(got);

	print_error("%s: findings differ from the golden file (%zu expected, %zu found)\n", name,
		    json_array_size(want), json_array_size(got));
	for (size_t i = 0; i < count; i++) {
		json_t *a = json_array_get(want, i);
		json_t *b = json_array_get(got, i);
		if (a != NULL && b != NULL && json_equal(a, b))
			continue;
		char *a_text = a ? json_dumps(a, JSON_COMPACT) : NULL;
		char *b_text = b ? json_dumps(b, JSON_COMPACT) : NULL;
		print_error("  first difference at finding %zu\n  expected: %s\n  found:    %s\n", i,
			    a_text ? a_text : "(none)", b_text ? b_text : "(none)");
		free(a_text);
		free(b_text);
		return;
	}
}

static void corpus_matches_golden(void **state)
{
	(void)state;
	const char *shared = getenv("COFFER_SHARED_DIR");
	const char *source = getenv("COFFER_SOURCE_DIR");
	assert_non_null(shared);
	assert_non_null(source);
	bool update = getenv("COFFER_UPDATE_GOLDEN") != NULL &&
		      strcmp(getenv("COFFER_UPDATE_GOLDEN"), "1") == 0;

	char corpus[4096];
	snprintf(corpus, sizeof(corpus), "%s/corpus/k8s", shared);
	char **names;
	size_t count = list_corpus(corpus, &names);
	assert_true(count >= 80);

	size_t mismatches = 0;
	for (size_t i = 0; i < count; i++) {
		char path[4096], golden[4096];
		snprintf(path, sizeof(path), "%s/%s", corpus, names[i]);
		snprintf(golden, sizeof(golden), "%s/tests/golden/k8s/%s.json", source, names[i]);
		json_t *actual = scan_file(path, names[i]);

		if (update) {
			assert_int_equal(json_dump_file(actual, golden,
							JSON_INDENT(2) | JSON_PRESERVE_ORDER), 0);
		} else {
			json_error_t error;
			json_t *expected = json_load_file(golden, 0, &error);
			if (expected == NULL) {
				print_error("%s: cannot read golden file %s: %s\n", names[i], golden,
					    error.text);
				mismatches++;
			} else if (!json_equal(expected, actual)) {
				report_difference(names[i], expected, actual);
				mismatches++;
			}
			json_decref(expected);
		}
		json_decref(actual);
		free(names[i]);
	}
	free(names);
	assert_int_equal(mismatches, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(corpus_matches_golden),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
