// SPDX-License-Identifier: Apache-2.0
// Shared model for coffer's scanners (Dockerfile, image, Kubernetes):
// findings with rule id, severity, message, location and fix hint, one set
// of reporters (text, JSON, SARIF 2.1.0), and the .coffer.yaml
// configuration. Each scanner parses its input into its own model, runs
// its rule table and adds findings to a scan_report.

#ifndef COFFER_SCAN_H
#define COFFER_SCAN_H

#include <coffer/common.h>
#include <jansson.h>
#include <stdio.h>

// One ordered scale for lint findings and vulnerabilities. warning ranks
// with medium and error with high, so one --fail-on threshold serves both.
enum scan_severity {
	SCAN_SEV_NONE = 0,
	SCAN_SEV_STYLE,
	SCAN_SEV_INFO,
	SCAN_SEV_LOW,
	SCAN_SEV_WARNING,
	SCAN_SEV_MEDIUM,
	SCAN_SEV_ERROR,
	SCAN_SEV_HIGH,
	SCAN_SEV_CRITICAL,
};

const char *scan_severity_name(enum scan_severity severity);
// Parses "style", "info", "low", "warning", "medium", "error", "high",
// "critical" or "none"; returns 0 or -EINVAL.
int scan_severity_parse(const char *name, enum scan_severity *severity);
// Rank used for thresholds: warning == medium, error == high.
int scan_severity_rank(enum scan_severity severity);

// The --fail-on levels that scan_severity_parse accepts, lowest rank first,
// for help text and error messages of every scanner command.
#define SCAN_FAIL_ON_LEVELS "style, info, low, warning, medium, error, high, critical or none"

// --fail-on help lines shared by the scanner commands; the option column
// is 25 characters wide.
#define SCAN_FAIL_ON_HELP \
	"      --fail-on LEVEL    exit 1 when a finding is at or above LEVEL: style,\n" \
	"                         info, low, warning, medium, error, high, critical,\n" \
	"                         or none to never exit 1. warning ranks with medium\n" \
	"                         and error with high, so --fail-on critical ignores\n" \
	"                         error findings.\n"

// Static description of a rule; lives as long as the program.
struct scan_rule {
	const char *id;          // "DL3007", "CF-DF-001", "PSS-PRIVILEGED"
	enum scan_severity severity;
	const char *title;       // one line
	const char *description; // what is wrong and why it matters
	const char *fix;         // fix hint
	const char *help_uri;    // docs/rules page, relative or absolute
};

struct scan_location {
	const char *file; // copied by the report
	int line;         // 1-based; 0 when unknown
	int column;       // 1-based; 0 when unknown
	int end_line;
	int end_column;
};

struct scan_finding {
	const struct scan_rule *rule;
	enum scan_severity severity; // may differ from rule->severity (override)
	char *message;
	char *fix;
	struct scan_location location;
	// Extra scanner-specific fields (object, container, path, package,
	// installed_version, layer, ...) written into JSON as top-level keys
	// of the finding and into SARIF as result properties. May be NULL.
	json_t *fields;
};

enum scan_format {
	SCAN_FORMAT_TEXT,
	SCAN_FORMAT_JSON,
	SCAN_FORMAT_SARIF,
};

int scan_format_parse(const char *name, enum scan_format *format);

struct scan_report;

// tool_name is the SARIF driver name, such as "coffer-dockerfile".
struct scan_report *scan_report_new(const char *tool_name);
void scan_report_free(struct scan_report *report);

// Adds a finding. message is printf-style; fields (a JSON object, or NULL)
// is stolen, also when the call fails. The report keeps a pointer to rule
// and registers it for SARIF. SCAN_SEV_NONE as severity takes
// rule->severity, a NULL fix takes rule->fix, and location may be NULL.
// The location's file is also recorded as an artifact. Returns 0, -EINVAL
// (no rule, or fields not an object) or -ENOMEM.
int scan_report_add(struct scan_report *report, const struct scan_rule *rule,
		    enum scan_severity severity, const struct scan_location *location,
		    json_t *fields, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

// Registers a rule in the SARIF rules table even when it has no finding.
void scan_report_add_rule(struct scan_report *report, const struct scan_rule *rule);

// Sets a top-level key of the JSON output (for example "packages" for the
// image scanner); value is stolen.
void scan_report_set(struct scan_report *report, const char *key, json_t *value);

// Records an input file that was scanned (listed in SARIF artifacts).
void scan_report_add_artifact(struct scan_report *report, const char *file);

// Sets the absolute URI written as SARIF runs[0].tool.driver.informationUri
// and used as the base of relative rule help_uri values. The default is
// COFFER_SCAN_INFORMATION_URI.
int scan_report_set_information_uri(struct scan_report *report, const char *uri);

#ifndef COFFER_SCAN_INFORMATION_URI
// NOTE: placeholder, because coffer has no published home page yet. The
// .invalid top-level domain (RFC 2606) never resolves.
#define COFFER_SCAN_INFORMATION_URI "https://coffer.invalid/"
#endif

size_t scan_report_count(const struct scan_report *report);
const struct scan_finding *scan_report_get(const struct scan_report *report, size_t i);

// Sorts findings by file, line, column and rule id for stable output.
void scan_report_sort(struct scan_report *report);

// Number of findings whose rank is at or above threshold's rank.
size_t scan_report_count_at_least(const struct scan_report *report,
				  enum scan_severity threshold);

struct scan_write_options {
	bool color;      // ANSI colours in text output
	bool show_fix;   // print fix hints in text output
};

int scan_report_write(const struct scan_report *report, enum scan_format format,
		      const struct scan_write_options *options, FILE *out);

// Text colour only on a terminal and when NO_COLOR is unset or empty.
bool scan_color_wanted(FILE *out);

// Builds the JSON or SARIF document that scan_report_write prints, for
// callers that embed or inspect it. Returns a new reference, or NULL when
// out of memory. docs/scan-output.md describes both documents.
json_t *scan_report_to_json(const struct scan_report *report);
json_t *scan_report_to_sarif(const struct scan_report *report);

// ---- configuration (.coffer.yaml) ----------------------------------------

struct scan_severity_override {
	char *rule_id;
	enum scan_severity severity;
};

// Value types of dockerfile.label-schema, with hadolint's names.
enum scan_label_type {
	SCAN_LABEL_TEXT,    // "text": any non-empty value
	SCAN_LABEL_URL,     // "url"
	SCAN_LABEL_RFC3339, // "rfc3339": a timestamp
	SCAN_LABEL_SPDX,    // "spdx": a license expression
	SCAN_LABEL_HASH,    // "hash": a git commit hash
	SCAN_LABEL_SEMVER,  // "semver"
	SCAN_LABEL_EMAIL,   // "email"
};

struct scan_label_schema {
	char *name;
	enum scan_label_type type;
};

struct scan_config {
	char *path; // file it was loaded from, or NULL for defaults
	char **ignore;
	size_t ignore_count;
	struct scan_severity_override *overrides;
	size_t override_count;
	enum scan_severity fail_on; // default SCAN_SEV_WARNING
	bool fail_on_set;
	// dockerfile:
	char **trusted_registries;
	size_t trusted_registry_count;
	char **allowed_images;
	size_t allowed_image_count;
	// Labels the final image must have, and the type of their values; with
	// strict_labels, other labels are reported too.
	struct scan_label_schema *label_schema;
	size_t label_schema_count;
	bool strict_labels;
	// k8s:
	char *profile; // "baseline" or "restricted"; NULL = restricted
	char **encrypted_provisioners;
	size_t encrypted_provisioner_count;
	char **encrypted_storage_classes;
	size_t encrypted_storage_class_count;
};

// Loads path, or when path is NULL searches .coffer.yaml from the current
// directory up to the repository root (a directory holding .git) or /.
// A missing file gives defaults. Unknown keys and bad values are errors
// that name the key, line and column.
int scan_config_load(struct scan_config *config, const char *path, struct cf_error *err);

// Parses a configuration held in memory; name is used in error messages
// and stored as config->path. Returns 0, -EINVAL or -ENOMEM.
int scan_config_load_buffer(struct scan_config *config, const char *data, size_t size,
			    const char *name, struct cf_error *err);
void scan_config_free(struct scan_config *config);

bool scan_config_ignored(const struct scan_config *config, const char *rule_id);
// Returns the override for rule_id, or fallback.
enum scan_severity scan_config_severity(const struct scan_config *config,
					const char *rule_id, enum scan_severity fallback);

#endif
