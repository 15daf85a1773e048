// SPDX-License-Identifier: Apache-2.0
// Dockerfile security linter: parses a Dockerfile as BuildKit does and runs
// coffer's rule table over it, adding findings to a scan_report. Rule ids
// reuse hadolint's DL ids where the check is the same; the others are
// CF-DF-NNN. docs/rules/ has one page per rule.

#ifndef COFFER_SCAN_DOCKERFILE_H
#define COFFER_SCAN_DOCKERFILE_H

#include <coffer/scan.h>

// Larger inputs are rejected; real Dockerfiles are a few kilobytes.
#define SCAN_DOCKERFILE_MAX_SIZE (32u * 1024 * 1024)

// Lints size bytes of one Dockerfile. path names the file in findings;
// context_dir is the build context searched for .dockerignore (NULL skips
// that check, as for standard input). Syntax errors are findings (rule
// CF-DF-000), not failures. Returns 0, or -ENOMEM or -EFBIG with err set.
int scan_dockerfile_lint(struct scan_report *report, const struct scan_config *config,
			 const char *path, const char *context_dir, const char *data, size_t size,
			 struct cf_error *err);

// Reads path and lints it, with the file's directory as build context.
// Returns 0 or a negative errno (unreadable or too large) with err set.
int scan_dockerfile_lint_file(struct scan_report *report, const struct scan_config *config,
			      const char *path, struct cf_error *err);

// The rule table, for SARIF metadata and --list-rules.
size_t scan_dockerfile_rule_count(void);
const struct scan_rule *scan_dockerfile_rule(size_t index);

// True when a file name is one the directory search picks up: Dockerfile,
// Containerfile, NAME.Dockerfile, Dockerfile.NAME or Containerfile.NAME.
bool scan_dockerfile_name_matches(const char *name);

#endif
