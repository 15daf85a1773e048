// SPDX-License-Identifier: Apache-2.0
// SARIF 2.1.0 reporter (OASIS Static Analysis Results Interchange Format):
// one run whose driver lists every registered rule, one result per finding,
// and the scanned files as artifacts. Paths are written as given, relative
// when the scanner was given a relative path, and percent-encoded.

#include "scan/report/report.h"

#include <stdlib.h>
#include <string.h>

#define SARIF_SCHEMA_URI \
	"https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

// SARIF result level: error for error, high and critical; warning for
// warning and medium; note for the rest.
static const char *severity_level(enum scan_severity severity)
{
	switch (severity) {
	case SCAN_SEV_CRITICAL:
	case SCAN_SEV_HIGH:
	case SCAN_SEV_ERROR:
		return "error";
	case SCAN_SEV_MEDIUM:
	case SCAN_SEV_WARNING:
		return "warning";
	case SCAN_SEV_LOW:
	case SCAN_SEV_INFO:
	case SCAN_SEV_STYLE:
		return "note";
	case SCAN_SEV_NONE:
		break;
	}
	return "none";
}

// CVSS-like score for the rule property "security-severity". GitHub code
// scanning ("SARIF support for code scanning" in GitHub's docs) maps it to
// critical (above 9.0), high (7.0 to 8.9), medium (4.0 to 6.9) and low
// (3.9 or less). Returns NULL for info, style and none, which are not
// security ratings.
static const char *security_severity(enum scan_severity severity)
{
	switch (severity) {
	case SCAN_SEV_CRITICAL:
		return "9.5";
	case SCAN_SEV_HIGH:
	case SCAN_SEV_ERROR:
		return "8.0";
	case SCAN_SEV_MEDIUM:
	case SCAN_SEV_WARNING:
		return "5.5";
	case SCAN_SEV_LOW:
		return "2.0";
	case SCAN_SEV_INFO:
	case SCAN_SEV_STYLE:
	case SCAN_SEV_NONE:
		break;
	}
	return NULL;
}

// Percent-encodes a path into a URI reference. Letters, digits, "-._~" and
// "/" stay, and every other byte becomes %XX. That includes ":", so a first
// segment such as "c:" never reads as a URI scheme.
static json_t *path_to_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t length = strlen(path);

	if (length > (SIZE_MAX - 1) / 3)
		return NULL;
	char *uri = malloc(length * 3 + 1);
	if (uri == NULL)
		return NULL;

	size_t used = 0;
	for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || strchr("-._~/", *p) != NULL;
		if (plain) {
			uri[used++] = (char)*p;
		} else {
			uri[used++] = '%';
			uri[used++] = hex[*p >> 4];
			uri[used++] = hex[*p & 0x0f];
		}
	}
	uri[used] = '\0';

	json_t *string = json_string(uri);
	free(uri);
	return string;
}

// Resolves a rule's help_uri against the information URI: an absolute URI
// is kept, "/path" replaces the base's path and "path" replaces the base's
// last segment. Dot segments are not removed.
static json_t *resolve_help_uri(const char *base, const char *help)
{
	if (strstr(help, "://") != NULL)
		return json_string(help);

	const char *authority = strstr(base, "://");
	if (authority == NULL)
		return NULL;
	authority += 3;

	size_t keep;
	if (help[0] == '/') {
		const char *path = strchr(authority, '/');
		keep = path != NULL ? (size_t)(path - base) : strlen(base);
	} else {
		const char *last = strrchr(authority, '/');
		if (last != NULL) {
			keep = (size_t)(last - base) + 1;
		} else {
			keep = strlen(base);
		}
	}

	char *joined = NULL;
	const char *separator = (help[0] != '/' && base[keep - 1] != '/') ? "/" : "";
	if (asprintf(&joined, "%.*s%s%s", (int)keep, base, separator, help) < 0)
		return NULL;
	json_t *string = json_string(joined);
	free(joined);
	return string;
}

static json_t *message_text(const char *text)
{
	return json_pack("{s:s}", "text", text);
}

static json_t *rule_to_sarif(const struct scan_report *report, const struct scan_rule *rule)
{
	const char *title = rule->title != NULL ? rule->title : rule->id;
	const char *description = rule->description != NULL ? rule->description : title;

	char *help = NULL;
	int length;
	if (rule->fix != NULL)
		length = asprintf(&help, "%s\n\nFix: %s", description, rule->fix);
	else
		length = asprintf(&help, "%s", description);
	if (length < 0)
		return NULL;

	json_t *object = json_object();
	json_t *properties = json_object();
	int rc = object == NULL || properties == NULL;
	if (rc == 0) {
		rc |= json_object_set_new(object, "id", json_string(rule->id));
		rc |= json_object_set_new(object, "shortDescription", message_text(title));
		rc |= json_object_set_new(object, "fullDescription", message_text(description));
		rc |= json_object_set_new(object, "help", message_text(help));
		if (rule->help_uri != NULL)
			rc |= json_object_set_new(object, "helpUri",
						  resolve_help_uri(report->information_uri, rule->help_uri));
		rc |= json_object_set_new(object, "defaultConfiguration",
					  json_pack("{s:s}", "level", severity_level(rule->severity)));

		rc |= json_object_set_new(properties, "severity",
					  json_string(scan_severity_name(rule->severity)));
		const char *score = security_severity(rule->severity);
		if (score != NULL) {
			rc |= json_object_set_new(properties, "security-severity", json_string(score));
			rc |= json_object_set_new(properties, "tags", json_pack("[s]", "security"));
		}
		rc |= json_object_set(object, "properties", properties);
	}
	free(help);
	json_decref(properties);

	if (rc != 0) {
		json_decref(object);
		return NULL;
	}
	return object;
}

static json_t *region_to_sarif(const struct scan_location *location)
{
	json_t *region = json_object();
	if (region == NULL)
		return NULL;

	int rc = json_object_set_new(region, "startLine", json_integer(location->line));
	if (location->column > 0)
		rc |= json_object_set_new(region, "startColumn", json_integer(location->column));
	if (location->end_line >= location->line)
		rc |= json_object_set_new(region, "endLine", json_integer(location->end_line));
	if (location->end_column > 0)
		rc |= json_object_set_new(region, "endColumn", json_integer(location->end_column));

	if (rc != 0) {
		json_decref(region);
		return NULL;
	}
	return region;
}

static json_t *location_to_sarif(const struct scan_report *report,
				 const struct scan_location *location)
{
	json_t *artifact_location = json_object();
	json_t *physical = json_object();
	if (artifact_location == NULL || physical == NULL)
		goto fail;

	int rc = json_object_set_new(artifact_location, "uri", path_to_uri(location->file));
	long index = report_artifact_index(report, location->file);
	if (index >= 0)
		rc |= json_object_set_new(artifact_location, "index", json_integer(index));
	rc |= json_object_set_new(physical, "artifactLocation", artifact_location);
	artifact_location = NULL;
	if (location->line > 0)
		rc |= json_object_set_new(physical, "region", region_to_sarif(location));
	if (rc != 0)
		goto fail;

	return json_pack("[{s:o}]", "physicalLocation", physical);

fail:
	json_decref(artifact_location);
	json_decref(physical);
	return NULL;
}

// Copies a finding's scanner fields into result properties next to its
// severity and fix. A field named "severity" or "fix" is left out, and so
// is a "tags" field, because SARIF reserves that name for a list of
// unique strings.
static json_t *result_properties(const struct scan_finding *finding)
{
	json_t *properties = json_object();
	if (properties == NULL)
		return NULL;

	int rc = json_object_set_new(properties, "severity",
				     json_string(scan_severity_name(finding->severity)));
	if (finding->fix != NULL)
		rc |= json_object_set_new(properties, "fix", json_string(finding->fix));

	const char *key;
	json_t *value;
	json_object_foreach(finding->fields, key, value) {
		if (strcmp(key, "severity") != 0 && strcmp(key, "fix") != 0 &&
		    strcmp(key, "tags") != 0)
			rc |= json_object_set(properties, key, value);
	}

	if (rc != 0) {
		json_decref(properties);
		return NULL;
	}
	return properties;
}

static json_t *result_to_sarif(const struct scan_report *report, const struct scan_finding *finding)
{
	json_t *result = json_object();
	if (result == NULL)
		return NULL;

	int rc = json_object_set_new(result, "ruleId", json_string(finding->rule->id));
	long index = report_rule_index(report, finding->rule);
	if (index >= 0)
		rc |= json_object_set_new(result, "ruleIndex", json_integer(index));
	rc |= json_object_set_new(result, "level", json_string(severity_level(finding->severity)));
	rc |= json_object_set_new(result, "message", message_text(finding->message));
	if (finding->location.file != NULL)
		rc |= json_object_set_new(result, "locations",
					  location_to_sarif(report, &finding->location));
	rc |= json_object_set_new(result, "properties", result_properties(finding));

	if (rc != 0) {
		json_decref(result);
		return NULL;
	}
	return result;
}

json_t *scan_report_to_sarif(const struct scan_report *report)
{
	json_t *rules = json_array();
	json_t *results = json_array();
	json_t *artifacts = json_array();
	json_t *document = NULL;
	if (rules == NULL || results == NULL || artifacts == NULL)
		goto fail;

	for (size_t i = 0; i < report->rule_count; i++) {
		if (json_array_append_new(rules, rule_to_sarif(report, report->rules[i])) != 0)
			goto fail;
	}
	for (size_t i = 0; i < report->count; i++) {
		if (json_array_append_new(results,
					  result_to_sarif(report, &report->entries[i].finding)) != 0)
			goto fail;
	}
	for (size_t i = 0; i < report->artifact_count; i++) {
		json_t *artifact = json_pack("{s:{s:o}}", "location", "uri",
					     path_to_uri(report->artifacts[i]));
		if (json_array_append_new(artifacts, artifact) != 0)
			goto fail;
	}

	json_t *driver = json_pack("{s:s, s:s, s:s, s:s, s:o}",
				   "name", report->tool_name,
				   "version", COFFER_VERSION,
				   "semanticVersion", COFFER_VERSION,
				   "informationUri", report->information_uri,
				   "rules", rules);
	rules = NULL;
	if (driver == NULL)
		goto fail;

	document = json_pack("{s:s, s:s, s:[{s:{s:o}, s:o, s:o}]}",
			     "$schema", SARIF_SCHEMA_URI,
			     "version", "2.1.0",
			     "runs",
			     "tool", "driver", driver,
			     "artifacts", artifacts,
			     "results", results);
	artifacts = NULL;
	results = NULL;
	return document;

fail:
	json_decref(rules);
	json_decref(results);
	json_decref(artifacts);
	return NULL;
}
