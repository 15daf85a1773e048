// SPDX-License-Identifier: Apache-2.0
// Unit tests for the scanner findings collection and its text, JSON and
// SARIF reporters, including a SARIF 2.1.0 schema check through
// tests/tools/validate_json_schema.py.

#include <coffer/scan.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static const struct scan_rule rule_latest = {
	.id = "DL3007",
	.severity = SCAN_SEV_WARNING,
	.title = "Image uses the latest tag",
	.description = "The latest tag changes over time, so builds are not reproducible.",
	.fix = "Pin the image to a version or digest.",
	.help_uri = "docs/rules/DL3007.md",
};

static const struct scan_rule rule_privileged = {
	.id = "PSS-PRIVILEGED",
	.severity = SCAN_SEV_HIGH,
	.title = "Container runs privileged",
	.description = "A privileged container has every capability of the host.",
	.fix = NULL,
	.help_uri = "https://kubernetes.io/docs/concepts/security/pod-security-standards/",
};

static const struct scan_rule rule_style = {
	.id = "CF-DF-001",
	.severity = SCAN_SEV_STYLE,
	.title = "Instruction is lower case",
	.description = NULL,
	.fix = NULL,
	.help_uri = NULL,
};

static const struct scan_rule rule_unused = {
	.id = "CF-DF-099",
	.severity = SCAN_SEV_INFO,
	.title = "Rule without findings",
	.description = "Registered so SARIF lists it.",
	.fix = NULL,
	.help_uri = NULL,
};

// Writes report in format into a string (caller frees).
static char *write_to_string(const struct scan_report *report, enum scan_format format,
			     const struct scan_write_options *options)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	assert_non_null(out);
	assert_int_equal(scan_report_write(report, format, options, out), 0);
	assert_int_equal(fclose(out), 0);
	return text;
}

static json_t *write_to_json(const struct scan_report *report, enum scan_format format)
{
	char *text = write_to_string(report, format, NULL);
	json_error_t error;
	json_t *document = json_loads(text, 0, &error);
	if (document == NULL)
		fail_msg("output is not JSON (%s): %s", error.text, text);
	free(text);
	return document;
}

static struct scan_report *sample_report(void)
{
	struct scan_report *report = scan_report_new("coffer-test");
	assert_non_null(report);

	struct scan_location dockerfile = { .file = "app/Dockerfile", .line = 3, .column = 1 };
	assert_int_equal(scan_report_add(report, &rule_latest, SCAN_SEV_NONE, &dockerfile, NULL,
					 NULL, "image '%s' uses the latest tag", "alpine:latest"),
			 0);

	struct scan_location manifest = { .file = "deploy/pod one.yaml", .line = 12, .column = 9,
					  .end_line = 12, .end_column = 25 };
	json_t *fields = json_pack("{s:s, s:s, s:s}", "object", "Pod/web", "container", "app",
				   "rule_id", "forged");
	assert_int_equal(scan_report_add(report, &rule_privileged, SCAN_SEV_NONE, &manifest, fields,
					 "Set privileged: false.", "container %s is privileged", "app"),
			 0);

	struct scan_location first_line = { .file = "app/Dockerfile", .line = 1, .column = 0 };
	assert_int_equal(scan_report_add(report, &rule_style, SCAN_SEV_NONE, &first_line, NULL, NULL,
					 "instruction 'from' is lower case"),
			 0);

	struct scan_location no_position = { .file = "app/Dockerfile" };
	assert_int_equal(scan_report_add(report, &rule_latest, SCAN_SEV_CRITICAL, &no_position, NULL,
					 NULL, "base image is unpinned"),
			 0);

	assert_int_equal(scan_report_add(report, &rule_style, SCAN_SEV_INFO, NULL, NULL, NULL,
					 "finding without a location"),
			 0);

	scan_report_add_rule(report, &rule_unused);
	scan_report_add_artifact(report, "deploy/empty.yaml");
	return report;
}

static void severity_names_round_trip(void **state)
{
	(void)state;
	for (int s = SCAN_SEV_NONE; s <= SCAN_SEV_CRITICAL; s++) {
		enum scan_severity parsed = SCAN_SEV_NONE;
		assert_int_equal(scan_severity_parse(scan_severity_name(s), &parsed), 0);
		assert_int_equal(parsed, s);
	}
	enum scan_severity parsed = SCAN_SEV_LOW;
	assert_int_equal(scan_severity_parse("severe", &parsed), -EINVAL);
	assert_int_equal(scan_severity_parse("HIGH", &parsed), -EINVAL);
	assert_int_equal(scan_severity_parse(NULL, &parsed), -EINVAL);
	assert_int_equal(parsed, SCAN_SEV_LOW);
	assert_string_equal(scan_severity_name((enum scan_severity)42), "unknown");
}

static void severity_rank_merges_scales(void **state)
{
	(void)state;
	assert_int_equal(scan_severity_rank(SCAN_SEV_WARNING), scan_severity_rank(SCAN_SEV_MEDIUM));
	assert_int_equal(scan_severity_rank(SCAN_SEV_ERROR), scan_severity_rank(SCAN_SEV_HIGH));
	assert_true(scan_severity_rank(SCAN_SEV_NONE) < scan_severity_rank(SCAN_SEV_STYLE));
	assert_true(scan_severity_rank(SCAN_SEV_STYLE) < scan_severity_rank(SCAN_SEV_INFO));
	assert_true(scan_severity_rank(SCAN_SEV_INFO) < scan_severity_rank(SCAN_SEV_LOW));
	assert_true(scan_severity_rank(SCAN_SEV_LOW) < scan_severity_rank(SCAN_SEV_WARNING));
	assert_true(scan_severity_rank(SCAN_SEV_MEDIUM) < scan_severity_rank(SCAN_SEV_ERROR));
	assert_true(scan_severity_rank(SCAN_SEV_HIGH) < scan_severity_rank(SCAN_SEV_CRITICAL));
}

static void format_parse_names(void **state)
{
	(void)state;
	enum scan_format format = SCAN_FORMAT_TEXT;
	assert_int_equal(scan_format_parse("sarif", &format), 0);
	assert_int_equal(format, SCAN_FORMAT_SARIF);
	assert_int_equal(scan_format_parse("json", &format), 0);
	assert_int_equal(format, SCAN_FORMAT_JSON);
	assert_int_equal(scan_format_parse("text", &format), 0);
	assert_int_equal(format, SCAN_FORMAT_TEXT);
	assert_int_equal(scan_format_parse("xml", &format), -EINVAL);
	assert_int_equal(format, SCAN_FORMAT_TEXT);
}

static void report_add_copies_and_defaults(void **state)
{
	(void)state;
	struct scan_report *report = scan_report_new("coffer-test");
	assert_non_null(report);

	char file[] = "Dockerfile";
	struct scan_location location = { .file = file, .line = 2, .column = 5 };
	assert_int_equal(scan_report_add(report, &rule_latest, SCAN_SEV_NONE, &location, NULL, NULL,
					 "value %d", 7),
			 0);
	file[0] = 'X';

	assert_int_equal(scan_report_count(report), 1);
	const struct scan_finding *finding = scan_report_get(report, 0);
	assert_non_null(finding);
	assert_ptr_equal(finding->rule, &rule_latest);
	assert_int_equal(finding->severity, SCAN_SEV_WARNING);
	assert_string_equal(finding->message, "value 7");
	assert_string_equal(finding->fix, rule_latest.fix);
	assert_string_equal(finding->location.file, "Dockerfile");
	assert_int_equal(finding->location.line, 2);
	assert_int_equal(finding->location.column, 5);
	assert_null(finding->fields);
	assert_null(scan_report_get(report, 1));

	scan_report_free(report);
}

static void report_add_rejects_bad_input(void **state)
{
	(void)state;
	struct scan_report *report = scan_report_new("coffer-test");
	assert_non_null(report);

	assert_int_equal(scan_report_add(report, NULL, SCAN_SEV_LOW, NULL, NULL, NULL, "x"), -EINVAL);
	// The array is stolen even though the call fails, so nothing leaks.
	assert_int_equal(scan_report_add(report, &rule_latest, SCAN_SEV_LOW, NULL, json_array(), NULL,
					 "x"),
			 -EINVAL);
	assert_int_equal(scan_report_count(report), 0);

	scan_report_free(report);
}

static void report_sort_orders_by_location(void **state)
{
	(void)state;
	struct scan_report *report = sample_report();
	scan_report_sort(report);

	assert_int_equal(scan_report_count(report), 5);
	// No file first, then app/Dockerfile lines 0, 1, 3, then deploy/.
	assert_null(scan_report_get(report, 0)->location.file);
	assert_string_equal(scan_report_get(report, 1)->message, "base image is unpinned");
	assert_string_equal(scan_report_get(report, 2)->rule->id, "CF-DF-001");
	assert_int_equal(scan_report_get(report, 3)->location.line, 3);
	assert_string_equal(scan_report_get(report, 4)->location.file, "deploy/pod one.yaml");

	scan_report_free(report);
}

static void report_sort_keeps_ties_in_order(void **state)
{
	(void)state;
	struct scan_report *report = scan_report_new("coffer-test");
	assert_non_null(report);

	struct scan_location location = { .file = "f", .line = 1, .column = 1 };
	for (int i = 0; i < 40; i++)
		assert_int_equal(scan_report_add(report, &rule_latest, SCAN_SEV_NONE, &location, NULL,
						 NULL, "%02d", i),
				 0);
	scan_report_sort(report);

	for (int i = 0; i < 40; i++) {
		char expected[8];
		snprintf(expected, sizeof(expected), "%02d", i);
		assert_string_equal(scan_report_get(report, (size_t)i)->message, expected);
	}
	scan_report_free(report);
}

static void report_counts_at_threshold(void **state)
{
	(void)state;
	struct scan_report *report = sample_report();

	// Severities: warning, high, style, critical, info.
	assert_int_equal(scan_report_count_at_least(report, SCAN_SEV_STYLE), 5);
	assert_int_equal(scan_report_count_at_least(report, SCAN_SEV_INFO), 4);
	assert_int_equal(scan_report_count_at_least(report, SCAN_SEV_LOW), 3);
	assert_int_equal(scan_report_count_at_least(report, SCAN_SEV_MEDIUM), 3);
	assert_int_equal(scan_report_count_at_least(report, SCAN_SEV_WARNING), 3);
	assert_int_equal(scan_report_count_at_least(report, SCAN_SEV_ERROR), 2);
	assert_int_equal(scan_report_count_at_least(report, SCAN_SEV_HIGH), 2);
	assert_int_equal(scan_report_count_at_least(report, SCAN_SEV_CRITICAL), 1);

	scan_report_free(report);
}

static void text_lists_one_line_per_finding(void **state)
{
	(void)state;
	struct scan_report *report = sample_report();
	scan_report_sort(report);

	struct scan_write_options options = { .color = false, .show_fix = true };
	char *text = write_to_string(report, SCAN_FORMAT_TEXT, &options);
	assert_string_equal(text,
			    "info CF-DF-001 finding without a location\n"
			    "app/Dockerfile: critical DL3007 base image is unpinned\n"
			    "    fix: Pin the image to a version or digest.\n"
			    "app/Dockerfile:1: style CF-DF-001 instruction 'from' is lower case\n"
			    "app/Dockerfile:3:1: warning DL3007 image 'alpine:latest' uses the latest tag\n"
			    "    fix: Pin the image to a version or digest.\n"
			    "deploy/pod one.yaml:12:9: high PSS-PRIVILEGED container app is privileged\n"
			    "    fix: Set privileged: false.\n");
	free(text);

	options.show_fix = false;
	text = write_to_string(report, SCAN_FORMAT_TEXT, &options);
	assert_null(strstr(text, "fix:"));
	assert_null(strchr(text, '\033'));
	free(text);

	scan_report_free(report);
}

static void text_escapes_control_characters(void **state)
{
	(void)state;
	struct scan_report *report = scan_report_new("coffer-test");
	assert_non_null(report);

	struct scan_location location = { .file = "a\033b", .line = 1, .column = 2 };
	assert_int_equal(scan_report_add(report, &rule_style, SCAN_SEV_NONE, &location, NULL,
					 "line one\nline\ttwo", "bad \033[31m value\r"),
			 0);

	struct scan_write_options options = { .color = false, .show_fix = true };
	char *text = write_to_string(report, SCAN_FORMAT_TEXT, &options);
	assert_string_equal(text, "a\\x1bb:1:2: style CF-DF-001 bad \\x1b[31m value\\x0d\n"
				  "    fix: line one\n"
				  "         line\\ttwo\n");
	free(text);
	scan_report_free(report);
}

static void text_colors_when_enabled(void **state)
{
	(void)state;
	struct scan_report *report = sample_report();

	struct scan_write_options options = { .color = true, .show_fix = true };
	char *text = write_to_string(report, SCAN_FORMAT_TEXT, &options);
	assert_non_null(strstr(text, "\033[1;31mhigh\033[0m"));
	assert_non_null(strstr(text, "\033[33mwarning\033[0m"));
	free(text);

	scan_report_free(report);
}

static void color_wanted_honours_no_color(void **state)
{
	(void)state;
	FILE *file = tmpfile();
	assert_non_null(file);

	assert_int_equal(unsetenv("NO_COLOR"), 0);
	assert_false(scan_color_wanted(file)); // a regular file is no terminal
	fclose(file);

	FILE *terminal = fopen("/dev/tty", "w");
	if (terminal != NULL) {
		assert_true(scan_color_wanted(terminal));
		assert_int_equal(setenv("NO_COLOR", "1", 1), 0);
		assert_false(scan_color_wanted(terminal));
		assert_int_equal(setenv("NO_COLOR", "", 1), 0);
		assert_true(scan_color_wanted(terminal));
		fclose(terminal);
	}
	assert_int_equal(unsetenv("NO_COLOR"), 0);
}

static void json_follows_documented_schema(void **state)
{
	(void)state;
	struct scan_report *report = sample_report();
	scan_report_set(report, "packages", json_pack("[s]", "zlib"));
	scan_report_set(report, "summary", json_string("cannot replace the summary"));
	scan_report_sort(report);

	json_t *document = write_to_json(report, SCAN_FORMAT_JSON);
	assert_string_equal(json_string_value(json_object_get(document, "tool")), "coffer");
	assert_string_equal(json_string_value(json_object_get(document, "version")), COFFER_VERSION);
	assert_string_equal(json_string_value(json_object_get(document, "scanner")), "coffer-test");
	assert_string_equal(json_string_value(json_array_get(json_object_get(document, "packages"), 0)),
			    "zlib");

	json_t *summary = json_object_get(document, "summary");
	assert_true(json_is_object(summary));
	assert_int_equal(json_integer_value(json_object_get(summary, "total")), 5);
	assert_int_equal(json_integer_value(json_object_get(summary, "critical")), 1);
	assert_int_equal(json_integer_value(json_object_get(summary, "high")), 1);
	assert_int_equal(json_integer_value(json_object_get(summary, "error")), 0);
	assert_int_equal(json_integer_value(json_object_get(summary, "medium")), 0);
	assert_int_equal(json_integer_value(json_object_get(summary, "warning")), 1);
	assert_int_equal(json_integer_value(json_object_get(summary, "low")), 0);
	assert_int_equal(json_integer_value(json_object_get(summary, "info")), 1);
	assert_int_equal(json_integer_value(json_object_get(summary, "style")), 1);

	json_t *findings = json_object_get(document, "findings");
	assert_int_equal(json_array_size(findings), 5);

	json_t *unplaced = json_array_get(findings, 0);
	assert_true(json_is_null(json_object_get(unplaced, "file")));
	assert_true(json_is_null(json_object_get(unplaced, "fix")));
	assert_int_equal(json_integer_value(json_object_get(unplaced, "line")), 0);
	assert_int_equal(json_integer_value(json_object_get(unplaced, "column")), 0);
	assert_null(json_object_get(unplaced, "end_line"));

	json_t *privileged = json_array_get(findings, 4);
	assert_string_equal(json_string_value(json_object_get(privileged, "rule_id")), "PSS-PRIVILEGED");
	assert_string_equal(json_string_value(json_object_get(privileged, "severity")), "high");
	assert_string_equal(json_string_value(json_object_get(privileged, "title")),
			    "Container runs privileged");
	assert_string_equal(json_string_value(json_object_get(privileged, "message")),
			    "container app is privileged");
	assert_string_equal(json_string_value(json_object_get(privileged, "fix")),
			    "Set privileged: false.");
	assert_string_equal(json_string_value(json_object_get(privileged, "file")), "deploy/pod one.yaml");
	assert_int_equal(json_integer_value(json_object_get(privileged, "line")), 12);
	assert_int_equal(json_integer_value(json_object_get(privileged, "column")), 9);
	assert_int_equal(json_integer_value(json_object_get(privileged, "end_line")), 12);
	assert_int_equal(json_integer_value(json_object_get(privileged, "end_column")), 25);
	assert_string_equal(json_string_value(json_object_get(privileged, "object")), "Pod/web");
	assert_string_equal(json_string_value(json_object_get(privileged, "container")), "app");
	assert_string_equal(json_string_value(json_object_get(privileged, "help_uri")),
			    rule_privileged.help_uri);

	json_decref(document);
	scan_report_free(report);
}

static json_t *sarif_rule(json_t *rules, const char *id)
{
	for (size_t i = 0; i < json_array_size(rules); i++) {
		json_t *rule = json_array_get(rules, i);
		if (strcmp(json_string_value(json_object_get(rule, "id")), id) == 0)
			return rule;
	}
	fail_msg("rule %s missing from SARIF rules", id);
	return NULL;
}

static void sarif_maps_rules_and_results(void **state)
{
	(void)state;
	struct scan_report *report = sample_report();
	scan_report_sort(report);

	json_t *document = write_to_json(report, SCAN_FORMAT_SARIF);
	assert_string_equal(json_string_value(json_object_get(document, "version")), "2.1.0");
	json_t *run = json_array_get(json_object_get(document, "runs"), 0);
	json_t *driver = json_object_get(json_object_get(run, "tool"), "driver");
	assert_string_equal(json_string_value(json_object_get(driver, "name")), "coffer-test");
	assert_string_equal(json_string_value(json_object_get(driver, "version")), COFFER_VERSION);
	assert_string_equal(json_string_value(json_object_get(driver, "informationUri")),
			    COFFER_SCAN_INFORMATION_URI);

	json_t *rules = json_object_get(driver, "rules");
	assert_int_equal(json_array_size(rules), 4);
	json_t *latest = sarif_rule(rules, "DL3007");
	assert_string_equal(json_string_value(json_object_get(json_object_get(latest, "shortDescription"), "text")),
			    rule_latest.title);
	assert_string_equal(json_string_value(json_object_get(json_object_get(latest, "fullDescription"), "text")),
			    rule_latest.description);
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(latest, "help"), "text")),
			       rule_latest.fix));
	assert_string_equal(json_string_value(json_object_get(latest, "helpUri")),
			    COFFER_SCAN_INFORMATION_URI "docs/rules/DL3007.md");
	assert_string_equal(json_string_value(json_object_get(json_object_get(latest, "defaultConfiguration"),
							      "level")),
			    "warning");
	assert_string_equal(json_string_value(json_object_get(json_object_get(latest, "properties"),
							      "security-severity")),
			    "5.5");

	json_t *privileged = sarif_rule(rules, "PSS-PRIVILEGED");
	assert_string_equal(json_string_value(json_object_get(privileged, "helpUri")), rule_privileged.help_uri);
	assert_string_equal(json_string_value(json_object_get(json_object_get(privileged, "properties"),
							      "security-severity")),
			    "8.0");
	json_t *style = sarif_rule(rules, "CF-DF-001");
	assert_null(json_object_get(json_object_get(style, "properties"), "security-severity"));
	assert_null(json_object_get(style, "helpUri"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(style, "defaultConfiguration"),
							      "level")),
			    "note");
	sarif_rule(rules, "CF-DF-099");

	json_t *results = json_object_get(run, "results");
	assert_int_equal(json_array_size(results), 5);
	for (size_t i = 0; i < json_array_size(results); i++) {
		json_t *result = json_array_get(results, i);
		json_int_t index = json_integer_value(json_object_get(result, "ruleIndex"));
		json_t *indexed = json_array_get(rules, (size_t)index);
		assert_string_equal(json_string_value(json_object_get(indexed, "id")),
				    json_string_value(json_object_get(result, "ruleId")));
	}

	// Sorted order: no location, Dockerfile without line, line 1, line 3, pod.
	assert_null(json_object_get(json_array_get(results, 0), "locations"));
	json_t *critical = json_array_get(results, 1);
	assert_string_equal(json_string_value(json_object_get(critical, "level")), "error");
	json_t *physical = json_object_get(json_array_get(json_object_get(critical, "locations"), 0),
					   "physicalLocation");
	assert_string_equal(json_string_value(json_object_get(json_object_get(physical, "artifactLocation"),
							      "uri")),
			    "app/Dockerfile");
	assert_null(json_object_get(physical, "region"));

	json_t *style_result = json_array_get(results, 2);
	json_t *region = json_object_get(json_object_get(json_array_get(json_object_get(style_result,
											   "locations"),
									    0),
							 "physicalLocation"),
					 "region");
	assert_int_equal(json_integer_value(json_object_get(region, "startLine")), 1);
	assert_null(json_object_get(region, "startColumn"));

	json_t *pod = json_array_get(results, 4);
	json_t *message = json_object_get(pod, "message");
	assert_string_equal(json_string_value(json_object_get(message, "text")),
			    "container app is privileged");
	physical = json_object_get(json_array_get(json_object_get(pod, "locations"), 0), "physicalLocation");
	assert_string_equal(json_string_value(json_object_get(json_object_get(physical, "artifactLocation"),
							      "uri")),
			    "deploy/pod%20one.yaml");
	region = json_object_get(physical, "region");
	assert_int_equal(json_integer_value(json_object_get(region, "startLine")), 12);
	assert_int_equal(json_integer_value(json_object_get(region, "startColumn")), 9);
	assert_int_equal(json_integer_value(json_object_get(region, "endColumn")), 25);
	json_t *properties = json_object_get(pod, "properties");
	assert_string_equal(json_string_value(json_object_get(properties, "object")), "Pod/web");
	assert_string_equal(json_string_value(json_object_get(properties, "severity")), "high");

	json_t *artifacts = json_object_get(run, "artifacts");
	assert_int_equal(json_array_size(artifacts), 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(artifacts, 2),
									      "location"),
							      "uri")),
			    "deploy/empty.yaml");

	json_decref(document);
	scan_report_free(report);
}

// Runs tests/tools/validate_json_schema.py SCHEMA FILE and returns its
// exit status, or -1 when it could not run.
static int run_validator(const char *schema, const char *file)
{
	const char *source_dir = getenv("COFFER_SOURCE_DIR");
	assert_non_null(source_dir);
	char script[4096];
	snprintf(script, sizeof(script), "%s/tests/tools/validate_json_schema.py", source_dir);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/usr/bin/python3", "python3", script, schema, file, (char *)NULL);
		_exit(127);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void sarif_validates_against_schema(void **state)
{
	(void)state;
	const char *shared_dir = getenv("COFFER_SHARED_DIR");
	char schema[4096];
	snprintf(schema, sizeof(schema), "%s/corpus/schemas/sarif-schema-2.1.0.json",
		 shared_dir != NULL ? shared_dir : "");
	if (shared_dir == NULL || access(schema, R_OK) != 0) {
		const char *required = getenv("COFFER_REQUIRE_PRIVILEGED");
		if (required != NULL && strcmp(required, "1") == 0)
			fail_msg("SARIF schema %s not found; set COFFER_SHARED_DIR", schema);
		print_message("SARIF schema %s not found; set COFFER_SHARED_DIR to check it\n", schema);
		skip();
	}

	char path[] = "/tmp/scan-core-sarif-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *out = fdopen(fd, "w");
	assert_non_null(out);

	struct scan_report *report = sample_report();
	scan_report_sort(report);
	assert_int_equal(scan_report_write(report, SCAN_FORMAT_SARIF, NULL, out), 0);
	assert_int_equal(fclose(out), 0);
	scan_report_free(report);

	int status = run_validator(schema, path);
	unlink(path);
	assert_int_equal(status, 0);
}

static void sarif_validator_rejects_bad_document(void **state)
{
	(void)state;
	const char *shared_dir = getenv("COFFER_SHARED_DIR");
	char schema[4096];
	snprintf(schema, sizeof(schema), "%s/corpus/schemas/sarif-schema-2.1.0.json",
		 shared_dir != NULL ? shared_dir : "");
	if (shared_dir == NULL || access(schema, R_OK) != 0)
		skip();

	char path[] = "/tmp/scan-core-sarif-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char bad[] = "{\"version\": \"2.1.0\", \"runs\": [{\"results\": []}]}\n";
	assert_int_equal(write(fd, bad, sizeof(bad) - 1), (ssize_t)(sizeof(bad) - 1));
	close(fd);

	int status = run_validator(schema, path);
	unlink(path);
	assert_int_equal(status, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(severity_names_round_trip),
		cmocka_unit_test(severity_rank_merges_scales),
		cmocka_unit_test(format_parse_names),
		cmocka_unit_test(report_add_copies_and_defaults),
		cmocka_unit_test(report_add_rejects_bad_input),
		cmocka_unit_test(report_sort_orders_by_location),
		cmocka_unit_test(report_sort_keeps_ties_in_order),
		cmocka_unit_test(report_counts_at_threshold),
		cmocka_unit_test(text_lists_one_line_per_finding),
		cmocka_unit_test(text_escapes_control_characters),
		cmocka_unit_test(text_colors_when_enabled),
		cmocka_unit_test(color_wanted_honours_no_color),
		cmocka_unit_test(json_follows_documented_schema),
		cmocka_unit_test(sarif_maps_rules_and_results),
		cmocka_unit_test(sarif_validates_against_schema),
		cmocka_unit_test(sarif_validator_rejects_bad_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
