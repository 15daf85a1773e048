// SPDX-License-Identifier: Apache-2.0
// JSON reporter. The document layout is a stable interface for scripts and
// is described in docs/scan-output.md: top-level tool, version, scanner,
// findings and summary, plus the keys a scanner set with scan_report_set.

#include "scan/report/report.h"

#include <string.h>

// Severities listed in every summary, highest first, so the summary always
// has the same keys even when a count is zero.
static const enum scan_severity summary_order[] = {
	SCAN_SEV_CRITICAL, SCAN_SEV_HIGH, SCAN_SEV_ERROR, SCAN_SEV_MEDIUM,
	SCAN_SEV_WARNING, SCAN_SEV_LOW, SCAN_SEV_INFO, SCAN_SEV_STYLE,
};

// Keys of a finding that scanner fields may not use, including the ones
// written only when known (end_line, end_column, help_uri).
static const char *const finding_core_keys[] = {
	"rule_id", "severity", "title", "message", "fix", "file", "line", "column",
	"end_line", "end_column", "help_uri",
};

static bool is_core_key(const char *key)
{
	for (size_t i = 0; i < sizeof(finding_core_keys) / sizeof(finding_core_keys[0]); i++) {
		if (strcmp(key, finding_core_keys[i]) == 0)
			return true;
	}
	return false;
}

static json_t *string_or_null(const char *text)
{
	return text != NULL ? json_string(text) : json_null();
}

// Builds one finding: the core keys first, then the scanner's fields. A
// field named like a core key is left out, so it can never replace
// rule_id, severity or the location.
static json_t *finding_to_json(const struct scan_finding *finding)
{
	json_t *object = json_object();
	if (object == NULL)
		return NULL;

	const struct scan_location *location = &finding->location;
	int rc = json_object_set_new(object, "rule_id", json_string(finding->rule->id));
	rc |= json_object_set_new(object, "severity",
				  json_string(scan_severity_name(finding->severity)));
	rc |= json_object_set_new(object, "title", string_or_null(finding->rule->title));
	rc |= json_object_set_new(object, "message", json_string(finding->message));
	rc |= json_object_set_new(object, "fix", string_or_null(finding->fix));
	rc |= json_object_set_new(object, "file", string_or_null(location->file));
	rc |= json_object_set_new(object, "line", json_integer(location->line > 0 ? location->line : 0));
	rc |= json_object_set_new(object, "column",
				  json_integer(location->column > 0 ? location->column : 0));
	if (location->end_line > 0)
		rc |= json_object_set_new(object, "end_line", json_integer(location->end_line));
	if (location->end_column > 0)
		rc |= json_object_set_new(object, "end_column", json_integer(location->end_column));
	if (finding->rule->help_uri != NULL)
		rc |= json_object_set_new(object, "help_uri", json_string(finding->rule->help_uri));

	const char *key;
	json_t *value;
	json_object_foreach(finding->fields, key, value) {
		if (!is_core_key(key))
			rc |= json_object_set(object, key, value);
	}

	if (rc != 0) {
		json_decref(object);
		return NULL;
	}
	return object;
}

static json_t *summary_to_json(const struct scan_report *report)
{
	size_t counts[SCAN_SEV_CRITICAL + 1] = { 0 };
	for (size_t i = 0; i < report->count; i++) {
		enum scan_severity severity = report->entries[i].finding.severity;
		if ((size_t)severity <= SCAN_SEV_CRITICAL)
			counts[severity]++;
	}

	json_t *summary = json_object();
	if (summary == NULL)
		return NULL;

	int rc = json_object_set_new(summary, "total", json_integer((json_int_t)report->count));
	for (size_t i = 0; i < sizeof(summary_order) / sizeof(summary_order[0]); i++) {
		enum scan_severity severity = summary_order[i];
		rc |= json_object_set_new(summary, scan_severity_name(severity),
					  json_integer((json_int_t)counts[severity]));
	}
	if (rc != 0) {
		json_decref(summary);
		return NULL;
	}
	return summary;
}

json_t *scan_report_to_json(const struct scan_report *report)
{
	json_t *document = json_object();
	json_t *findings = json_array();
	if (document == NULL || findings == NULL)
		goto fail;

	int rc = json_object_set_new(document, "tool", json_string("coffer"));
	rc |= json_object_set_new(document, "version", json_string(COFFER_VERSION));
	rc |= json_object_set_new(document, "scanner", json_string(report->tool_name));

	for (size_t i = 0; i < report->count; i++) {
		json_t *finding = finding_to_json(&report->entries[i].finding);
		if (finding == NULL || json_array_append_new(findings, finding) != 0)
			goto fail;
	}
	rc |= json_object_set_new(document, "findings", findings);
	findings = NULL;
	rc |= json_object_set_new(document, "summary", summary_to_json(report));

	// Keys from scan_report_set follow the core keys and never replace them.
	const char *key;
	json_t *value;
	json_object_foreach(report->properties, key, value) {
		if (json_object_get(document, key) == NULL)
			rc |= json_object_set(document, key, value);
	}

	if (rc != 0)
		goto fail;
	return document;

fail:
	json_decref(findings);
	json_decref(document);
	return NULL;
}
