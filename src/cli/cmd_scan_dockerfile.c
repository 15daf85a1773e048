// SPDX-License-Identifier: Apache-2.0
// `coffer scan dockerfile`: lints Dockerfiles given as files, directories
// (searched for Dockerfile and Containerfile names, see SEARCHED_NAMES)
// or - for standard input, and prints one report for all of them.

#include "cli.h"

#include <coffer/scan.h>
#include <coffer/scan_dockerfile.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// File names that a directory search lints, for error messages. The
// matching itself is scan_dockerfile_name_matches.
#define SEARCHED_NAMES \
	"Dockerfile, Dockerfile.*, *.Dockerfile, Containerfile, Containerfile.* and *.Containerfile"

// Directory levels searched below each directory argument.
#define MAX_SEARCH_DEPTH 32

static void print_help(FILE *out)
{
	fputs("Usage: coffer scan dockerfile [OPTIONS] PATH...\n"
	      "\n"
	      "Lints Dockerfiles for insecure practice. PATH is a Dockerfile, - for\n"
	      "standard input (named - in findings), or a directory searched recursively\n"
	      "for Dockerfile, Dockerfile.*, *.Dockerfile, Containerfile, Containerfile.*\n"
	      "and *.Containerfile. An explicitly named file is linted whatever its name.\n"
	      "\n"
	      "Options:\n"
	      "  -f, --format FORMAT    output format: text (default), json or sarif\n"
	      "  -o, --output FILE      write the report to FILE instead of standard output\n"
	      SCAN_FAIL_ON_HELP
	      "                         The default is warning, or fail-on in .coffer.yaml.\n"
	      "  -c, --config FILE      read the configuration from FILE instead of the\n"
	      "                         nearest .coffer.yaml\n"
	      "      --no-config        use no configuration file\n"
	      "      --ignore IDS       skip the rules in the comma-separated list IDS\n"
	      "                         (may be repeated)\n"
	      "      --no-color         no colours in text output (NO_COLOR=1 does the same)\n"
	      "      --no-fix           leave fix hints out of text output\n"
	      "      --list-rules       print the rule table in the chosen format and exit\n"
	      "  -h, --help             print this help\n"
	      "\n"
	      "Inline pragmas: '# coffer ignore=ID,...' skips rules for the next\n"
	      "instruction, '# coffer global ignore=ID,...' for the whole file, and\n"
	      "'# hadolint ignore=DL...' is honoured for the DL rules.\n"
	      "\n"
	      "Exit status: 0 when no finding is at or above --fail-on, 1 when one is,\n"
	      "2 for a usage error, input that cannot be read, or a directory without\n"
	      "Dockerfiles.\n",
	      out);
}

struct scan_run {
	struct scan_report *report;
	const struct scan_config *config;
	size_t files_found; // matching files seen by lint_directory
	bool input_error;
};

static void lint_path(struct scan_run *run, const char *path)
{
	struct cf_error err = { 0 };
	int rc = scan_dockerfile_lint_file(run->report, run->config, path, &err);
	if (rc < 0) {
		fprintf(stderr, "coffer: %s\n", cf_error_message(&err, rc));
		run->input_error = true;
	}
}

static void lint_stdin(struct scan_run *run)
{
	char *data = NULL;
	size_t size = 0, capacity = 0;
	for (;;) {
		if (capacity - size < 65536) {
			if (capacity > SCAN_DOCKERFILE_MAX_SIZE) {
				fprintf(stderr, "coffer: standard input is larger than the %u-byte limit\n",
					SCAN_DOCKERFILE_MAX_SIZE);
				run->input_error = true;
				free(data);
				return;
			}
			capacity = capacity ? capacity * 2 : 65536;
			char *grown = realloc(data, capacity);
			if (grown == NULL) {
				fprintf(stderr, "coffer: out of memory reading standard input\n");
				run->input_error = true;
				free(data);
				return;
			}
			data = grown;
		}
		size_t n = fread(data + size, 1, capacity - size, stdin);
		size += n;
		if (n == 0)
			break;
	}
	if (ferror(stdin)) {
		fprintf(stderr, "coffer: cannot read standard input: %s\n", strerror(errno));
		run->input_error = true;
		free(data);
		return;
	}

	struct cf_error err = { 0 };
	int rc = scan_dockerfile_lint(run->report, run->config, "-", NULL, data, size, &err);
	if (rc < 0) {
		fprintf(stderr, "coffer: %s\n", cf_error_message(&err, rc));
		run->input_error = true;
	}
	free(data);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

// Lints matching files below dir in name order, skipping hidden
// directories and node_modules.
static void lint_directory(struct scan_run *run, const char *dir, int depth)
{
	DIR *handle = opendir(dir);
	if (handle == NULL) {
		fprintf(stderr, "coffer: cannot open directory %s: %s\n", dir, strerror(errno));
		run->input_error = true;
		return;
	}

	char **names = NULL;
	size_t count = 0, capacity = 0;
	struct dirent *entry;
	while ((entry = readdir(handle)) != NULL) {
		if (entry->d_name[0] == '.' && (scan_dockerfile_name_matches(entry->d_name) == false))
			continue;
		if (count == capacity) {
			capacity = capacity ? capacity * 2 : 32;
			char **grown = realloc(names, capacity * sizeof(*names));
			if (grown == NULL)
				break;
			names = grown;
		}
		names[count] = strdup(entry->d_name);
		if (names[count] != NULL)
			count++;
	}
	closedir(handle);
	if (count > 0)
		qsort(names, count, sizeof(*names), compare_names);

	for (size_t i = 0; i < count; i++) {
		char *path = NULL;
		if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
			run->input_error = true;
			continue;
		}
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (depth < MAX_SEARCH_DEPTH && strcmp(names[i], "node_modules") != 0)
				lint_directory(run, path, depth + 1);
		} else if (S_ISREG(st.st_mode) && scan_dockerfile_name_matches(names[i])) {
			run->files_found++;
			lint_path(run, path);
		}
		free(path);
	}
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

static void lint_argument(struct scan_run *run, const char *arg)
{
	if (strcmp(arg, "-") == 0) {
		lint_stdin(run);
		return;
	}
	struct stat st;
	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
		size_t len = strlen(arg);
		char *dir = strdup(arg);
		if (dir == NULL) {
			run->input_error = true;
			return;
		}
		while (len > 1 && dir[len - 1] == '/')
			dir[--len] = '\0';

		// A directory without Dockerfiles is an input error, so that a
		// mistyped path fails the scan instead of passing with no findings.
		size_t found_before = run->files_found;
		lint_directory(run, dir, 0);
		if (run->files_found == found_before) {
			fprintf(stderr,
				"coffer: %s: no Dockerfile found; searched for " SEARCHED_NAMES "\n",
				dir);
			run->input_error = true;
		}
		free(dir);
		return;
	}
	lint_path(run, arg);
}

static int list_rules(enum scan_format format, bool color)
{
	struct scan_report *report = scan_report_new("coffer-dockerfile");
	if (report == NULL)
		return cli_fail(-ENOMEM, NULL);
	for (size_t i = 0; i < scan_dockerfile_rule_count(); i++)
		scan_report_add_rule(report, scan_dockerfile_rule(i));

	int rc = 0;
	if (format == SCAN_FORMAT_TEXT) {
		for (size_t i = 0; i < scan_dockerfile_rule_count(); i++) {
			const struct scan_rule *rule = scan_dockerfile_rule(i);
			printf("%-10s %-8s %s\n", rule->id, scan_severity_name(rule->severity),
			       rule->title);
		}
	} else if (format == SCAN_FORMAT_JSON) {
		json_t *rules = json_array();
		for (size_t i = 0; rules != NULL && i < scan_dockerfile_rule_count(); i++) {
			const struct scan_rule *rule = scan_dockerfile_rule(i);
			json_array_append_new(rules, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id",
							       rule->id, "severity",
							       scan_severity_name(rule->severity), "title",
							       rule->title, "description", rule->description,
							       "fix", rule->fix, "help_uri", rule->help_uri));
		}
		rc = rules == NULL || json_dumpf(rules, stdout, JSON_INDENT(2)) != 0 ? -ENOMEM : 0;
		putchar('\n');
		json_decref(rules);
	} else {
		struct scan_write_options options = { .color = color, .show_fix = true };
		rc = scan_report_write(report, format, &options, stdout);
	}
	scan_report_free(report);
	return rc < 0 ? cli_fail(rc, NULL) : CLI_EXIT_OK;
}

enum {
	OPT_FAIL_ON = 256,
	OPT_NO_CONFIG,
	OPT_NO_COLOR,
	OPT_NO_FIX,
	OPT_LIST_RULES,
	OPT_IGNORE,
};

struct dockerfile_cli {
	enum scan_format format;
	enum scan_severity fail_on;
	bool fail_on_given;
	const char *output;
	const char *config_path;
	bool no_config;
	bool no_color;
	bool show_fix;
	bool rules_only;
	const char **ignore_lists;
	size_t ignore_list_count;
};

// Parses options; returns -1 to go on, or an exit code.
static int parse_options(int argc, char **argv, struct dockerfile_cli *cli)
{
	static const struct option long_options[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "fail-on", required_argument, NULL, OPT_FAIL_ON },
		{ "config", required_argument, NULL, 'c' },
		{ "no-config", no_argument, NULL, OPT_NO_CONFIG },
		{ "no-color", no_argument, NULL, OPT_NO_COLOR },
		{ "no-fix", no_argument, NULL, OPT_NO_FIX },
		{ "list-rules", no_argument, NULL, OPT_LIST_RULES },
		{ "ignore", required_argument, NULL, OPT_IGNORE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "f:o:c:h", long_options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (scan_format_parse(optarg, &cli->format) < 0)
				return cli_usage_error("invalid --format '%s'; use text, json or sarif",
						       optarg);
			break;
		case 'o':
			cli->output = optarg;
			break;
		case OPT_FAIL_ON:
			if (scan_severity_parse(optarg, &cli->fail_on) < 0)
				return cli_usage_error("invalid --fail-on '%s'; use " SCAN_FAIL_ON_LEVELS,
						       optarg);
			cli->fail_on_given = true;
			break;
		case 'c':
			cli->config_path = optarg;
			break;
		case OPT_NO_CONFIG:
			cli->no_config = true;
			break;
		case OPT_NO_COLOR:
			cli->no_color = true;
			break;
		case OPT_NO_FIX:
			cli->show_fix = false;
			break;
		case OPT_LIST_RULES:
			cli->rules_only = true;
			break;
		case OPT_IGNORE:
			cli->ignore_lists[cli->ignore_list_count++] = optarg;
			break;
		case 'h':
			print_help(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error("invalid option '%s'; run 'coffer scan dockerfile --help'",
					       argv[optind - 1]);
		}
	}
	if (cli->no_config && cli->config_path != NULL)
		return cli_usage_error("--config and --no-config cannot be used together");
	return -1;
}

// Loads the configuration (or defaults with --no-config) and applies
// --ignore and --fail-on; returns -1 to go on, or an exit code.
static int load_config(struct dockerfile_cli *cli, struct scan_config *config)
{
	int status = scan_cli_load_config(config, cli->no_config, cli->config_path,
					  cli->ignore_lists, cli->ignore_list_count);
	if (status >= 0)
		return status;
	if (!cli->fail_on_given && config->fail_on_set)
		cli->fail_on = config->fail_on;
	return -1;
}

int cmd_scan_dockerfile(int argc, char **argv)
{
	const char *ignore_lists[argc > 0 ? argc : 1];
	struct dockerfile_cli cli = {
		.format = SCAN_FORMAT_TEXT,
		.fail_on = SCAN_SEV_WARNING,
		.show_fix = true,
		.ignore_lists = ignore_lists,
	};
	int status = parse_options(argc, argv, &cli);
	if (status >= 0)
		return status;
	if (cli.rules_only) {
		bool color = !cli.no_color && cli.format == SCAN_FORMAT_TEXT &&
			     scan_color_wanted(stdout);
		return list_rules(cli.format, color);
	}
	if (optind >= argc)
		return cli_usage_error("no Dockerfile given; pass a file, a directory or - for standard input");

	struct scan_config config = { 0 };
	struct scan_run run = { .config = &config };
	status = load_config(&cli, &config);
	if (status >= 0)
		goto out;

	run.report = scan_report_new("coffer-dockerfile");
	if (run.report == NULL) {
		status = cli_fail(-ENOMEM, NULL);
		goto out;
	}
	for (size_t i = 0; i < scan_dockerfile_rule_count(); i++)
		scan_report_add_rule(run.report, scan_dockerfile_rule(i));

	for (int i = optind; i < argc; i++)
		lint_argument(&run, argv[i]);

	scan_report_sort(run.report);
	status = scan_cli_write_report(run.report, cli.format, cli.output, cli.no_color,
				       cli.show_fix);
	if (status >= 0)
		goto out;

	if (run.input_error)
		status = CLI_EXIT_USAGE;
	else if (cli.fail_on != SCAN_SEV_NONE &&
		 scan_report_count_at_least(run.report, cli.fail_on) > 0)
		status = CLI_EXIT_FAILED;
	else
		status = CLI_EXIT_OK;

out:
	scan_report_free(run.report);
	scan_config_free(&config);
	return status;
}
