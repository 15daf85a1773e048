// SPDX-License-Identifier: Apache-2.0
// Unit tests for the .coffer.yaml loader: the full schema, every error
// class (unknown key, wrong type, duplicate key, bad value) with its
// line:column, and the search from the current directory upwards.

#include <coffer/scan.h>

#include <errno.h>
#include <limits.h>
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

static int load_text(struct scan_config *config, const char *text, struct cf_error *err)
{
	cf_error_reset(err);
	return scan_config_load_buffer(config, text, strlen(text), "test.yaml", err);
}

static void config_defaults_when_empty(void **state)
{
	(void)state;
	struct scan_config config;
	struct cf_error err = { 0 };

	const char *empty_inputs[] = { "", "# only a comment\n", "~\n", "---\n" };
	for (size_t i = 0; i < sizeof(empty_inputs) / sizeof(empty_inputs[0]); i++) {
		assert_int_equal(load_text(&config, empty_inputs[i], &err), 0);
		assert_int_equal(config.ignore_count, 0);
		assert_int_equal(config.override_count, 0);
		assert_int_equal(config.fail_on, SCAN_SEV_WARNING);
		assert_false(config.fail_on_set);
		assert_null(config.profile);
		assert_string_equal(config.path, "test.yaml");
		scan_config_free(&config);
	}
}

static void config_loads_full_schema(void **state)
{
	(void)state;
	struct scan_config config;
	struct cf_error err = { 0 };
	const char *text =
		"# coffer settings\n"
		"ignore: [DL3007, CF-DF-001]\n"
		"severity:\n"
		"  DL3008: high\n"
		"  PSS-PRIVILEGED: critical\n"
		"fail-on: medium\n"
		"dockerfile:\n"
		"  trusted-registries: [registry.example.com, ghcr.io/acme]\n"
		"  allowed-images:\n"
		"    - alpine:3.19\n"
		"k8s:\n"
		"  profile: baseline\n"
		"  encrypted-provisioners: [coffer.io/encrypted]\n"
		"  encrypted-storage-classes: [coffer-encrypted, fast-encrypted]\n";

	int rc = load_text(&config, text, &err);
	if (rc != 0)
		fail_msg("load failed: %s", err.message);

	assert_int_equal(config.ignore_count, 2);
	assert_string_equal(config.ignore[0], "DL3007");
	assert_string_equal(config.ignore[1], "CF-DF-001");
	assert_true(scan_config_ignored(&config, "DL3007"));
	assert_true(scan_config_ignored(&config, "CF-DF-001"));
	assert_false(scan_config_ignored(&config, "DL3008"));

	assert_int_equal(config.override_count, 2);
	assert_int_equal(scan_config_severity(&config, "DL3008", SCAN_SEV_LOW), SCAN_SEV_HIGH);
	assert_int_equal(scan_config_severity(&config, "PSS-PRIVILEGED", SCAN_SEV_LOW),
			 SCAN_SEV_CRITICAL);
	assert_int_equal(scan_config_severity(&config, "DL3007", SCAN_SEV_LOW), SCAN_SEV_LOW);

	assert_true(config.fail_on_set);
	assert_int_equal(config.fail_on, SCAN_SEV_MEDIUM);

	assert_int_equal(config.trusted_registry_count, 2);
	assert_string_equal(config.trusted_registries[1], "ghcr.io/acme");
	assert_int_equal(config.allowed_image_count, 1);
	assert_string_equal(config.allowed_images[0], "alpine:3.19");

	assert_string_equal(config.profile, "baseline");
	assert_int_equal(config.encrypted_provisioner_count, 1);
	assert_string_equal(config.encrypted_provisioners[0], "coffer.io/encrypted");
	assert_int_equal(config.encrypted_storage_class_count, 2);
	assert_string_equal(config.encrypted_storage_classes[1], "fast-encrypted");

	scan_config_free(&config);
	assert_null(config.path);
	assert_int_equal(config.ignore_count, 0);
}

static void config_accepts_null_sections(void **state)
{
	(void)state;
	struct scan_config config;
	struct cf_error err = { 0 };

	int rc = load_text(&config, "ignore:\nseverity: ~\ndockerfile: null\nk8s:\n", &err);
	if (rc != 0)
		fail_msg("load failed: %s", err.message);
	assert_int_equal(config.ignore_count, 0);
	assert_int_equal(config.override_count, 0);
	scan_config_free(&config);
}

struct error_case {
	const char *text;
	const char *expected; // substring of the error message
};

static void config_rejects_bad_input(void **state)
{
	(void)state;
	static const struct error_case cases[] = {
		{ "ignores: [DL3007]\n", "test.yaml:1:1: unknown key 'ignores'" },
		{ "fail-on: low\nverbose: true\n", "test.yaml:2:1: unknown key 'verbose'" },
		{ "dockerfile:\n  registries: [x]\n", "test.yaml:2:3: unknown key 'dockerfile.registries'" },
		{ "k8s:\n  mode: strict\n", "test.yaml:2:3: unknown key 'k8s.mode'" },
		{ "ignore: DL3007\n", "test.yaml:1:9: 'ignore' must be a list of strings, not a scalar" },
		{ "ignore: [[DL3007]]\n", "test.yaml:1:10: 'ignore' must be a string, not a list" },
		{ "ignore: ['']\n", "test.yaml:1:10: 'ignore' must not be empty" },
		{ "ignore: [\"A\\0B\"]\n", "'ignore' contains a NUL character" },
		{ "severity: [high]\n", "test.yaml:1:11: 'severity' must be a mapping, not a list" },
		{ "severity:\n  DL3007: severe\n", "test.yaml:2:11: invalid severity 'severe' for 'DL3007'" },
		{ "severity:\n  DL3007: none\n", "invalid severity 'none' for 'DL3007'" },
		{ "severity:\n  DL3007: [high]\n", "test.yaml:2:11: 'DL3007' must be a string, not a list" },
		{ "severity:\n  DL3007: high\n  DL3007: low\n",
		  "test.yaml:3:3: duplicate key 'DL3007' (first at line 2)" },
		{ "fail-on: low\nfail-on: high\n", "test.yaml:2:1: duplicate key 'fail-on' (first at line 1)" },
		{ "fail-on: HIGH\n", "test.yaml:1:10: invalid severity 'HIGH' for 'fail-on'" },
		{ "fail-on:\n", "test.yaml:1:9: 'fail-on' must not be empty" },
		{ "fail-on: {level: high}\n", "'fail-on' must be a string, not a mapping" },
		{ "dockerfile: [a]\n", "test.yaml:1:13: 'dockerfile' must be a mapping, not a list" },
		{ "dockerfile:\n  allowed-images: alpine\n",
		  "'dockerfile.allowed-images' must be a list of strings" },
		{ "k8s: {profile: privileged}\n",
		  "test.yaml:1:16: invalid value 'privileged' for 'k8s.profile'; use baseline or restricted" },
		{ "k8s:\n  encrypted-provisioners: [{a: b}]\n",
		  "'k8s.encrypted-provisioners' must be a string, not a mapping" },
		{ "k8s:\n  encrypted-storage-classes: x\n", "'k8s.encrypted-storage-classes' must be a list" },
		{ "- ignore\n", "test.yaml:1:1: 'top level' must be a mapping, not a list" },
		{ "? [a, b]\n: c\n", "test.yaml:1:3: keys of 'top level' must be non-empty strings" },
		{ "ignore: [a, b\n", "test.yaml:2:1: invalid YAML" },
		{ "ignore:\n  - a\n - b\n", "invalid YAML" },
		{ "fail-on: low\n---\nfail-on: high\n", "test.yaml:3:1: more than one YAML document" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scan_config config;
		struct cf_error err = { 0 };
		int rc = load_text(&config, cases[i].text, &err);
		if (rc != -EINVAL)
			fail_msg("case %zu: expected -EINVAL, got %d for:\n%s", i, rc, cases[i].text);
		if (strstr(err.message, cases[i].expected) == NULL)
			fail_msg("case %zu: expected '%s' in '%s'", i, cases[i].expected, err.message);
		// A failed load leaves the defaults, so a caller may free it or not.
		assert_null(config.path);
		assert_int_equal(config.ignore_count, 0);
		assert_int_equal(config.override_count, 0);
		assert_int_equal(config.fail_on, SCAN_SEV_WARNING);
		scan_config_free(&config);
	}
}

static void config_rejects_oversized_buffer(void **state)
{
	(void)state;
	size_t size = 1024 * 1024 + 1;
	char *data = malloc(size);
	assert_non_null(data);
	memset(data, '#', size);

	struct scan_config config;
	struct cf_error err = { 0 };
	assert_int_equal(scan_config_load_buffer(&config, data, size, "big.yaml", &err), -EFBIG);
	assert_non_null(strstr(err.message, "big.yaml"));
	free(data);
}

static void config_checks_many_duplicate_keys(void **state)
{
	(void)state;
	// 20000 distinct keys load quickly, because duplicates are found by
	// sorting; the same list with one key repeated at the end is rejected.
	size_t capacity = 20000 * 16 + 64;
	char *text = malloc(capacity);
	assert_non_null(text);
	size_t used = (size_t)snprintf(text, capacity, "severity:\n");
	for (int i = 0; i < 20000; i++)
		used += (size_t)snprintf(text + used, capacity - used, "  R%05d: low\n", i);

	struct scan_config config;
	struct cf_error err = { 0 };
	assert_int_equal(scan_config_load_buffer(&config, text, used, "many.yaml", &err), 0);
	assert_int_equal(config.override_count, 20000);
	assert_int_equal(scan_config_severity(&config, "R19999", SCAN_SEV_HIGH), SCAN_SEV_LOW);
	scan_config_free(&config);

	used += (size_t)snprintf(text + used, capacity - used, "  R00042: high\n");
	cf_error_reset(&err);
	assert_int_equal(scan_config_load_buffer(&config, text, used, "many.yaml", &err), -EINVAL);
	assert_non_null(strstr(err.message, "many.yaml:20002:3: duplicate key 'R00042' (first at line 44)"));
	free(text);
}

// ---- file search -----------------------------------------------------------

struct search_fixture {
	char root[64];
	char old_cwd[PATH_MAX];
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void make_dir(const char *path)
{
	assert_int_equal(mkdir(path, 0700), 0);
}

static int search_setup(void **state)
{
	struct search_fixture *fixture = calloc(1, sizeof(*fixture));
	if (fixture == NULL)
		return -1;
	strcpy(fixture->root, "/tmp/scan-core-config-XXXXXX");
	if (mkdtemp(fixture->root) == NULL || getcwd(fixture->old_cwd, sizeof(fixture->old_cwd)) == NULL) {
		free(fixture);
		return -1;
	}
	*state = fixture;
	return 0;
}

static int search_teardown(void **state)
{
	struct search_fixture *fixture = *state;
	if (chdir(fixture->old_cwd) != 0)
		return -1;
	char command[256];
	snprintf(command, sizeof(command), "rm -rf '%s'", fixture->root);
	int rc = system(command);
	free(fixture);
	return rc == 0 ? 0 : -1;
}

static void enter(const struct search_fixture *fixture, const char *relative)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", fixture->root, relative);
	assert_int_equal(chdir(path), 0);
}

static void config_search_finds_parent_file(void **state)
{
	struct search_fixture *fixture = *state;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/repo", fixture->root);
	make_dir(path);
	snprintf(path, sizeof(path), "%s/repo/.git", fixture->root);
	make_dir(path);
	snprintf(path, sizeof(path), "%s/repo/app", fixture->root);
	make_dir(path);
	snprintf(path, sizeof(path), "%s/repo/app/deep", fixture->root);
	make_dir(path);
	snprintf(path, sizeof(path), "%s/repo/.coffer.yaml", fixture->root);
	write_file(path, "fail-on: high\n");

	enter(fixture, "repo/app/deep");
	struct scan_config config;
	struct cf_error err = { 0 };
	int rc = scan_config_load(&config, NULL, &err);
	if (rc != 0)
		fail_msg("search failed: %s", err.message);
	assert_non_null(config.path);
	assert_non_null(strstr(config.path, "/repo/.coffer.yaml"));
	assert_int_equal(config.fail_on, SCAN_SEV_HIGH);
	scan_config_free(&config);

	// A closer file wins over the one at the repository root.
	snprintf(path, sizeof(path), "%s/repo/app/.coffer.yaml", fixture->root);
	write_file(path, "fail-on: low\n");
	assert_int_equal(scan_config_load(&config, NULL, &err), 0);
	assert_non_null(strstr(config.path, "/repo/app/.coffer.yaml"));
	assert_int_equal(config.fail_on, SCAN_SEV_LOW);
	scan_config_free(&config);
}

static void config_search_stops_at_repository_root(void **state)
{
	struct search_fixture *fixture = *state;
	char path[PATH_MAX];

	// The file above the repository must not apply inside it.
	snprintf(path, sizeof(path), "%s/.coffer.yaml", fixture->root);
	write_file(path, "fail-on: critical\n");
	snprintf(path, sizeof(path), "%s/repo", fixture->root);
	make_dir(path);
	snprintf(path, sizeof(path), "%s/repo/.git", fixture->root);
	write_file(path, "gitdir: /elsewhere\n"); // a worktree's .git is a file
	snprintf(path, sizeof(path), "%s/repo/src", fixture->root);
	make_dir(path);

	enter(fixture, "repo/src");
	struct scan_config config;
	struct cf_error err = { 0 };
	assert_int_equal(scan_config_load(&config, NULL, &err), 0);
	assert_null(config.path);
	assert_int_equal(config.fail_on, SCAN_SEV_WARNING);
	scan_config_free(&config);

	// Outside any repository the search goes on upwards and finds it.
	snprintf(path, sizeof(path), "%s/plain", fixture->root);
	make_dir(path);
	enter(fixture, "plain");
	assert_int_equal(scan_config_load(&config, NULL, &err), 0);
	assert_non_null(config.path);
	assert_int_equal(config.fail_on, SCAN_SEV_CRITICAL);
	scan_config_free(&config);
}

static void config_explicit_path_errors(void **state)
{
	struct search_fixture *fixture = *state;
	char path[PATH_MAX];
	struct scan_config config;
	struct cf_error err = { 0 };

	snprintf(path, sizeof(path), "%s/missing.yaml", fixture->root);
	assert_int_equal(scan_config_load(&config, path, &err), -ENOENT);
	assert_non_null(strstr(err.message, "missing.yaml"));

	snprintf(path, sizeof(path), "%s/bad.yaml", fixture->root);
	write_file(path, "ignore: [a]\nfail-on: fatal\n");
	cf_error_reset(&err);
	assert_int_equal(scan_config_load(&config, path, &err), -EINVAL);
	char expected[PATH_MAX + 64];
	snprintf(expected, sizeof(expected), "%s:2:10: invalid severity 'fatal'", path);
	assert_non_null(strstr(err.message, expected));

	snprintf(path, sizeof(path), "%s/good.yaml", fixture->root);
	write_file(path, "k8s:\n  profile: restricted\n");
	assert_int_equal(scan_config_load(&config, path, &err), 0);
	assert_string_equal(config.path, path);
	assert_string_equal(config.profile, "restricted");
	scan_config_free(&config);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_defaults_when_empty),
		cmocka_unit_test(config_loads_full_schema),
		cmocka_unit_test(config_accepts_null_sections),
		cmocka_unit_test(config_rejects_bad_input),
		cmocka_unit_test(config_rejects_oversized_buffer),
		cmocka_unit_test(config_checks_many_duplicate_keys),
		cmocka_unit_test_setup_teardown(config_search_finds_parent_file, search_setup,
						search_teardown),
		cmocka_unit_test_setup_teardown(config_search_stops_at_repository_root, search_setup,
						search_teardown),
		cmocka_unit_test_setup_teardown(config_explicit_path_errors, search_setup,
						search_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
