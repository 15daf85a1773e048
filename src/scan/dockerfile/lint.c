// SPDX-License-Identifier: Apache-2.0
// Entry points of the Dockerfile linter: parse, run the rule groups, and
// hand findings to the report.

#include <coffer/scan_dockerfile.h>

#include "scan/dockerfile/dockerfile.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int run_rules(struct df_lint *lint)
{
	jmp_buf oom;
	lint->file->arena.oom_jump = &oom;
	if (setjmp(oom) != 0) {
		lint->file->arena.oom_jump = NULL;
		return -ENOMEM;
	}

	df_check_instructions(lint);
	df_check_shell(lint);
	df_check_secrets(lint);
	df_check_labels(lint);
	lint->file->arena.oom_jump = NULL;
	return lint->error;
}

int scan_dockerfile_lint(struct scan_report *report, const struct scan_config *config,
			 const char *path, const char *context_dir, const char *data, size_t size,
			 struct cf_error *err)
{
	if (size > SCAN_DOCKERFILE_MAX_SIZE)
		return cf_error_set(err, -EFBIG, "%s: %zu bytes is larger than the %u-byte limit",
				    path, size, SCAN_DOCKERFILE_MAX_SIZE);

	struct df_file file;
	int rc = df_parse(data, size, &file);
	if (rc < 0) {
		df_file_free(&file);
		return cf_error_set(err, rc, "%s: out of memory while parsing", path);
	}

	scan_report_add_artifact(report, path);
	struct df_lint lint = {
		.file = &file,
		.report = report,
		.config = config,
		.path = path,
		.context_dir = context_dir,
	};
	rc = run_rules(&lint);
	df_file_free(&file);
	if (rc < 0)
		return cf_error_set(err, rc, "%s: recording findings failed", path);
	return 0;
}

int scan_dockerfile_lint_file(struct scan_report *report, const struct scan_config *config,
			      const char *path, struct cf_error *err)
{
	char *data = NULL;
	size_t size = 0;
	int rc = cf_read_file(path, SCAN_DOCKERFILE_MAX_SIZE, &data, &size, err);
	if (rc == -EFBIG) {
		cf_error_reset(err);
		return cf_error_set(err, rc, "%s is larger than the %u-byte limit for a Dockerfile",
				    path, SCAN_DOCKERFILE_MAX_SIZE);
	}
	if (rc < 0)
		return rc;

	char *copy = strdup(path);
	if (copy == NULL) {
		free(data);
		return cf_error_set(err, -ENOMEM, "out of memory");
	}
	rc = scan_dockerfile_lint(report, config, path, dirname(copy), data, size, err);
	free(copy);
	free(data);
	return rc;
}

size_t scan_dockerfile_rule_count(void)
{
	return DF_RULE_COUNT;
}

const struct scan_rule *scan_dockerfile_rule(size_t index)
{
	return index < DF_RULE_COUNT ? &df_rules[index] : NULL;
}

static bool ends_with_case(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcasecmp(s + n - m, suffix) == 0;
}

bool scan_dockerfile_name_matches(const char *name)
{
	if (ends_with_case(name, ".dockerignore"))
		return false;
	if (strcmp(name, "Dockerfile") == 0 || strcmp(name, "Containerfile") == 0)
		return true;
	if (strncmp(name, "Dockerfile.", 11) == 0 || strncmp(name, "Containerfile.", 14) == 0)
		return true;
	return ends_with_case(name, ".Dockerfile") || ends_with_case(name, ".Containerfile");
}
