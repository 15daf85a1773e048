// SPDX-License-Identifier: Apache-2.0
// The findings collection every scanner fills: findings with copied strings,
// the rules and input files they refer to, sorting and threshold counts.
// A report is used by one thread at a time.

#include "scan/report/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct scan_report *scan_report_new(const char *tool_name)
{
	struct scan_report *report = calloc(1, sizeof(*report));
	if (report == NULL)
		return NULL;

	report->tool_name = strdup(tool_name != NULL ? tool_name : "coffer");
	report->information_uri = strdup(COFFER_SCAN_INFORMATION_URI);
	report->properties = json_object();
	if (report->tool_name == NULL || report->information_uri == NULL ||
	    report->properties == NULL) {
		scan_report_free(report);
		return NULL;
	}
	return report;
}

static void finding_clear(struct scan_finding *finding)
{
	free(finding->message);
	free(finding->fix);
	free((char *)finding->location.file);
	json_decref(finding->fields);
}

void scan_report_free(struct scan_report *report)
{
	if (report == NULL)
		return;

	for (size_t i = 0; i < report->count; i++)
		finding_clear(&report->entries[i].finding);
	free(report->entries);
	free(report->rules);
	for (size_t i = 0; i < report->artifact_count; i++)
		free(report->artifacts[i]);
	free(report->artifacts);
	json_decref(report->properties);
	free(report->information_uri);
	free(report->tool_name);
	free(report);
}

// Makes room for one more element in a growing array of element_size
// bytes. Returns 0 or -ENOMEM, leaving the array unchanged on failure.
static int array_reserve(void **array, size_t *capacity, size_t count, size_t element_size)
{
	if (count < *capacity)
		return 0;

	size_t new_capacity = *capacity != 0 ? *capacity * 2 : 16;
	if (new_capacity > SIZE_MAX / element_size)
		return -ENOMEM;
	void *grown = realloc(*array, new_capacity * element_size);
	if (grown == NULL)
		return -ENOMEM;
	*array = grown;
	*capacity = new_capacity;
	return 0;
}

long report_rule_index(const struct scan_report *report, const struct scan_rule *rule)
{
	for (size_t i = 0; i < report->rule_count; i++) {
		if (report->rules[i] == rule)
			return (long)i;
	}
	for (size_t i = 0; i < report->rule_count; i++) {
		if (strcmp(report->rules[i]->id, rule->id) == 0)
			return (long)i;
	}
	return -1;
}

long report_artifact_index(const struct scan_report *report, const char *file)
{
	for (size_t i = 0; i < report->artifact_count; i++) {
		if (strcmp(report->artifacts[i], file) == 0)
			return (long)i;
	}
	return -1;
}

static int rule_register(struct scan_report *report, const struct scan_rule *rule)
{
	if (report_rule_index(report, rule) >= 0)
		return 0;

	int rc = array_reserve((void **)&report->rules, &report->rule_capacity,
			       report->rule_count, sizeof(report->rules[0]));
	if (rc != 0)
		return rc;
	report->rules[report->rule_count++] = rule;
	return 0;
}

static int artifact_register(struct scan_report *report, const char *file)
{
	if (report_artifact_index(report, file) >= 0)
		return 0;

	int rc = array_reserve((void **)&report->artifacts, &report->artifact_capacity,
			       report->artifact_count, sizeof(report->artifacts[0]));
	if (rc != 0)
		return rc;
	char *copy = strdup(file);
	if (copy == NULL)
		return -ENOMEM;
	report->artifacts[report->artifact_count++] = copy;
	return 0;
}

int scan_report_add(struct scan_report *report, const struct scan_rule *rule,
		    enum scan_severity severity, const struct scan_location *location,
		    json_t *fields, const char *fix, const char *fmt, ...)
{
	if (rule == NULL || rule->id == NULL || (fields != NULL && !json_is_object(fields))) {
		json_decref(fields);
		return -EINVAL;
	}

	struct scan_finding finding = {
		.rule = rule,
		.severity = severity != SCAN_SEV_NONE ? severity : rule->severity,
		.fields = fields,
	};
	if (location != NULL)
		finding.location = *location;
	finding.location.file = NULL;

	va_list ap;
	va_start(ap, fmt);
	int length = vasprintf(&finding.message, fmt, ap);
	va_end(ap);
	if (length < 0) {
		finding.message = NULL;
		goto nomem;
	}

	const char *fix_text = fix != NULL ? fix : rule->fix;
	if (fix_text != NULL) {
		finding.fix = strdup(fix_text);
		if (finding.fix == NULL)
			goto nomem;
	}

	if (location != NULL && location->file != NULL) {
		finding.location.file = strdup(location->file);
		if (finding.location.file == NULL)
			goto nomem;
		if (artifact_register(report, location->file) != 0)
			goto nomem;
	}

	if (rule_register(report, rule) != 0)
		goto nomem;
	if (array_reserve((void **)&report->entries, &report->capacity, report->count,
			  sizeof(report->entries[0])) != 0)
		goto nomem;

	report->entries[report->count].finding = finding;
	report->entries[report->count].sequence = report->next_sequence++;
	report->count++;
	return 0;

nomem:
	finding_clear(&finding);
	return -ENOMEM;
}

void scan_report_add_rule(struct scan_report *report, const struct scan_rule *rule)
{
	if (rule == NULL || rule->id == NULL)
		return;
	if (rule_register(report, rule) != 0 && report->deferred_error == 0)
		report->deferred_error = -ENOMEM;
}

void scan_report_set(struct scan_report *report, const char *key, json_t *value)
{
	if (key == NULL || value == NULL) {
		json_decref(value);
		return;
	}
	if (json_object_set_new(report->properties, key, value) != 0 &&
	    report->deferred_error == 0)
		report->deferred_error = -ENOMEM;
}

void scan_report_add_artifact(struct scan_report *report, const char *file)
{
	if (file == NULL)
		return;
	if (artifact_register(report, file) != 0 && report->deferred_error == 0)
		report->deferred_error = -ENOMEM;
}

int scan_report_set_information_uri(struct scan_report *report, const char *uri)
{
	if (uri == NULL || strstr(uri, "://") == NULL)
		return -EINVAL;

	char *copy = strdup(uri);
	if (copy == NULL)
		return -ENOMEM;
	free(report->information_uri);
	report->information_uri = copy;
	return 0;
}

size_t scan_report_count(const struct scan_report *report)
{
	return report->count;
}

const struct scan_finding *scan_report_get(const struct scan_report *report, size_t i)
{
	if (i >= report->count)
		return NULL;
	return &report->entries[i].finding;
}

// NULL (no file) sorts before every file name.
static int compare_strings(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int compare_ints(int a, int b)
{
	return (a > b) - (a < b);
}

static int compare_entries(const void *left, const void *right)
{
	const struct report_entry *a = left;
	const struct report_entry *b = right;

	int order = compare_strings(a->finding.location.file, b->finding.location.file);
	if (order == 0)
		order = compare_ints(a->finding.location.line, b->finding.location.line);
	if (order == 0)
		order = compare_ints(a->finding.location.column, b->finding.location.column);
	if (order == 0)
		order = strcmp(a->finding.rule->id, b->finding.rule->id);
	if (order == 0)
		order = (a->sequence > b->sequence) - (a->sequence < b->sequence);
	return order;
}

void scan_report_sort(struct scan_report *report)
{
	if (report->count > 1)
		qsort(report->entries, report->count, sizeof(report->entries[0]), compare_entries);
}

size_t scan_report_count_at_least(const struct scan_report *report,
				  enum scan_severity threshold)
{
	int rank = scan_severity_rank(threshold);
	size_t matched = 0;

	for (size_t i = 0; i < report->count; i++) {
		if (scan_severity_rank(report->entries[i].finding.severity) >= rank)
			matched++;
	}
	return matched;
}

int scan_report_write(const struct scan_report *report, enum scan_format format,
		      const struct scan_write_options *options, FILE *out)
{
	static const struct scan_write_options defaults = { .color = false, .show_fix = true };

	if (report->deferred_error != 0)
		return report->deferred_error;
	if (options == NULL)
		options = &defaults;

	if (format == SCAN_FORMAT_TEXT)
		return report_write_text(report, options, out);

	json_t *document = NULL;
	if (format == SCAN_FORMAT_JSON)
		document = scan_report_to_json(report);
	else if (format == SCAN_FORMAT_SARIF)
		document = scan_report_to_sarif(report);
	else
		return -EINVAL;
	if (document == NULL)
		return -ENOMEM;

	int rc = json_dumpf(document, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(document);
	if (rc != 0 || fputc('\n', out) == EOF || fflush(out) != 0)
		return -EIO;
	return 0;
}
