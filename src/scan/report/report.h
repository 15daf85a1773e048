// SPDX-License-Identifier: Apache-2.0
// Private layout of struct scan_report, shared by the collection code and
// the three writers (text.c, json.c, sarif.c).

#ifndef COFFER_SCAN_REPORT_PRIVATE_H
#define COFFER_SCAN_REPORT_PRIVATE_H

#include <coffer/scan.h>

// A finding plus its insertion number, which breaks ties when sorting so
// equal findings keep the order the scanner added them in.
struct report_entry {
	struct scan_finding finding;
	size_t sequence;
};

struct scan_report {
	char *tool_name;
	char *information_uri;

	struct report_entry *entries;
	size_t count;
	size_t capacity;
	size_t next_sequence;

	// Rules in the order they were first seen; SARIF ruleIndex points here.
	const struct scan_rule **rules;
	size_t rule_count;
	size_t rule_capacity;

	// Scanned files in the order they were first seen (SARIF artifacts).
	char **artifacts;
	size_t artifact_count;
	size_t artifact_capacity;

	// Extra top-level keys of the JSON output, from scan_report_set.
	json_t *properties;

	// First allocation failure in a function that returns void, reported
	// by scan_report_write so no output silently loses data.
	int deferred_error;
};

// Index of rule in report->rules (matched by pointer, then by id), or -1.
long report_rule_index(const struct scan_report *report, const struct scan_rule *rule);

// Index of file in report->artifacts, or -1.
long report_artifact_index(const struct scan_report *report, const char *file);

int report_write_text(const struct scan_report *report,
		      const struct scan_write_options *options, FILE *out);

#endif
