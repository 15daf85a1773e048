// SPDX-License-Identifier: Apache-2.0
// Command-line steps shared by the `coffer scan` subcommands: loading
// .coffer.yaml with --ignore lists applied, and writing a report to
// standard output or --output. Each returns -1 to go on, or an exit code.

#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int scan_cli_add_ignored(struct scan_config *config, const char *list)
{
	char *copy = strdup(list);
	if (copy == NULL)
		return -ENOMEM;

	int rc = 0;
	char *saved = NULL;
	for (char *id = strtok_r(copy, ", ", &saved); id != NULL; id = strtok_r(NULL, ", ", &saved)) {
		char **grown = realloc(config->ignore, (config->ignore_count + 1) * sizeof(*grown));
		if (grown == NULL) {
			rc = -ENOMEM;
			break;
		}
		config->ignore = grown;
		config->ignore[config->ignore_count] = strdup(id);
		if (config->ignore[config->ignore_count] == NULL) {
			rc = -ENOMEM;
			break;
		}
		config->ignore_count++;
	}
	free(copy);
	return rc;
}

int scan_cli_load_config(struct scan_config *config, bool no_config, const char *path,
			 const char *const *ignore_lists, size_t ignore_list_count)
{
	struct cf_error err = { 0 };
	int rc = 0;

	if (!no_config)
		rc = scan_config_load(config, path, &err);
	if (rc < 0) {
		fprintf(stderr, "coffer: %s\n", cf_error_message(&err, rc));
		return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; i < ignore_list_count; i++) {
		rc = scan_cli_add_ignored(config, ignore_lists[i]);
		if (rc < 0)
			return cli_fail(rc, NULL);
	}
	return -1;
}

int scan_cli_write_report(const struct scan_report *report, enum scan_format format,
			  const char *output, bool no_color, bool show_fix)
{
	FILE *out = stdout;
	if (output != NULL) {
		out = fopen(output, "w");
		if (out == NULL) {
			fprintf(stderr, "coffer: cannot write %s: %s\n", output, strerror(errno));
			return CLI_EXIT_USAGE;
		}
	}

	struct scan_write_options options = {
		.color = !no_color && format == SCAN_FORMAT_TEXT && scan_color_wanted(out),
		.show_fix = show_fix,
	};
	int rc = scan_report_write(report, format, &options, out);
	if (out != stdout && fclose(out) != 0 && rc == 0)
		rc = -errno;
	else if (out == stdout && fflush(stdout) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		fprintf(stderr, "coffer: writing the report failed: %s\n", strerror(-rc));
		return CLI_EXIT_FAILED;
	}
	return -1;
}
