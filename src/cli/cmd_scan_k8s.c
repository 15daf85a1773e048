// SPDX-License-Identifier: Apache-2.0
// `coffer scan k8s`: checks Kubernetes manifests (files, directories or
// standard input) and prints findings as text, JSON or SARIF.

#include "cli.h"

#include <coffer/scan_k8s.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_help(FILE *out)
{
	fputs("Usage: coffer scan k8s [OPTIONS] PATH...\n"
	      "\n"
	      "Checks Kubernetes manifests against the Pod Security Standards, best\n"
	      "practice, RBAC and data-at-rest rules. PATH is a YAML or JSON file, a\n"
	      "directory (searched recursively for *.yaml, *.yml and *.json) or - for\n"
	      "standard input (named - in findings), as in:\n"
	      "helm template ./chart | coffer scan k8s -\n"
	      "An explicitly named file is checked whatever its name.\n"
	      "\n"
	      "Options:\n"
	      "  -f, --format FORMAT    output format: text (default), json or sarif\n"
	      "  -o, --output FILE      write the report to FILE instead of standard output\n"
	      SCAN_FAIL_ON_HELP
	      "                         The default is warning, or fail-on in .coffer.yaml.\n"
	      "      --profile LEVEL    Pod Security Standards level to check: baseline or\n"
	      "                         restricted (default restricted)\n"
	      "  -c, --config FILE      read the configuration from FILE instead of the\n"
	      "                         nearest .coffer.yaml\n"
	      "      --no-config        use no configuration file\n"
	      "      --ignore IDS       skip the rules in the comma-separated list IDS\n"
	      "                         (may be repeated)\n"
	      "      --no-color         no colours in text output (NO_COLOR=1 does the same)\n"
	      "      --no-fix           leave fix hints out of text output\n"
	      "      --list-rules       print every rule id, severity and title, then exit\n"
	      "  -h, --help             print this help\n"
	      "\n"
	      "Objects are skipped for a rule when their metadata, or their pod template's\n"
	      "metadata, has the annotation coffer.io/ignore: \"ID,ID\".\n"
	      "\n"
	      "Exit status: 0 when no finding is at or above --fail-on, 1 when one is,\n"
	      "2 for a usage error, input that cannot be read or parsed, or a directory\n"
	      "without manifests.\n",
	      out);
}

static void print_rules(void)
{
	size_t count;
	const struct scan_rule *rules = scan_k8s_rules(&count);
	for (size_t i = 0; i < count; i++)
		printf("%-28s %-8s %s\n", rules[i].id, scan_severity_name(rules[i].severity),
		       rules[i].title);
}

struct k8s_cli {
	enum scan_format format;
	const char *output;
	const char *fail_on;
	const char *profile;
	const char *config_path;
	bool no_config;
	bool no_color;
	bool show_fix;
	const char **ignore_lists;
	size_t ignore_list_count;
};

enum {
	OPT_FAIL_ON = 256,
	OPT_PROFILE,
	OPT_NO_CONFIG,
	OPT_IGNORE,
	OPT_NO_FIX,
	OPT_NO_COLOR,
	OPT_LIST_RULES,
};

// Parses options; returns -1 to go on, or an exit code.
static int parse_options(int argc, char **argv, struct k8s_cli *cli)
{
	static const struct option options[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'c' },
		{ "fail-on", required_argument, NULL, OPT_FAIL_ON },
		{ "profile", required_argument, NULL, OPT_PROFILE },
		{ "no-config", no_argument, NULL, OPT_NO_CONFIG },
		{ "ignore", required_argument, NULL, OPT_IGNORE },
		{ "no-fix", no_argument, NULL, OPT_NO_FIX },
		{ "no-color", no_argument, NULL, OPT_NO_COLOR },
		{ "list-rules", no_argument, NULL, OPT_LIST_RULES },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "f:o:c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (scan_format_parse(optarg, &cli->format) != 0)
				return cli_usage_error("invalid --format '%s'; use text, json or sarif",
						       optarg);
			break;
		case 'o':
			cli->output = optarg;
			break;
		case 'c':
			cli->config_path = optarg;
			break;
		case OPT_FAIL_ON:
			cli->fail_on = optarg;
			break;
		case OPT_PROFILE:
			cli->profile = optarg;
			break;
		case OPT_NO_CONFIG:
			cli->no_config = true;
			break;
		case OPT_IGNORE:
			cli->ignore_lists[cli->ignore_list_count++] = optarg;
			break;
		case OPT_NO_FIX:
			cli->show_fix = false;
			break;
		case OPT_NO_COLOR:
			cli->no_color = true;
			break;
		case OPT_LIST_RULES:
			print_rules();
			return CLI_EXIT_OK;
		case 'h':
			print_help(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error("invalid option '%s'; run 'coffer scan k8s --help'",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("no manifest given; pass a file, a directory or - for "
				       "standard input");
	return -1;
}

// Resolves --profile and --fail-on against the configuration; returns -1
// to go on, or an exit code.
static int resolve_levels(const struct k8s_cli *cli, const struct scan_config *config,
			  enum scan_k8s_profile *profile, enum scan_severity *fail_on)
{
	const char *profile_name = cli->profile ? cli->profile : config->profile;
	*profile = SCAN_K8S_PROFILE_RESTRICTED;
	if (profile_name != NULL && scan_k8s_profile_parse(profile_name, profile) != 0)
		return cli_usage_error("invalid profile '%s'; use baseline or restricted",
				       profile_name);

	*fail_on = config->fail_on_set ? config->fail_on : SCAN_SEV_WARNING;
	if (cli->fail_on != NULL && scan_severity_parse(cli->fail_on, fail_on) != 0)
		return cli_usage_error("invalid --fail-on '%s'; use " SCAN_FAIL_ON_LEVELS,
				       cli->fail_on);
	return -1;
}

int cmd_scan_k8s(int argc, char **argv)
{
	const char *ignore_lists[argc > 0 ? argc : 1];
	struct k8s_cli cli = {
		.format = SCAN_FORMAT_TEXT,
		.show_fix = true,
		.ignore_lists = ignore_lists,
	};
	int status = parse_options(argc, argv, &cli);
	if (status >= 0)
		return status;

	struct scan_config config = { 0 };
	struct scan_report *report = NULL;
	struct scan_k8s *scan = NULL;
	enum scan_k8s_profile profile;
	enum scan_severity fail_on;

	status = scan_cli_load_config(&config, cli.no_config, cli.config_path, cli.ignore_lists,
				      cli.ignore_list_count);
	if (status < 0)
		status = resolve_levels(&cli, &config, &profile, &fail_on);
	if (status >= 0)
		goto out;

	report = scan_report_new("coffer-k8s");
	struct scan_k8s_options options = { .profile = profile, .config = &config };
	scan = report ? scan_k8s_new(&options, report) : NULL;
	if (scan == NULL) {
		status = cli_fail(-ENOMEM, NULL);
		goto out;
	}

	for (int i = optind; i < argc; i++) {
		int rc = scan_k8s_add_path(scan, argv[i]);
		if (rc == -ENOMEM) {
			status = cli_fail(rc, NULL);
			goto out;
		}
	}
	int rc = scan_k8s_run(scan);
	if (rc != 0) {
		status = cli_fail(rc, NULL);
		goto out;
	}

	scan_report_sort(report);
	status = scan_cli_write_report(report, cli.format, cli.output, cli.no_color,
				       cli.show_fix);
	if (status >= 0)
		goto out;

	for (size_t i = 0; i < scan_k8s_error_count(scan); i++)
		fprintf(stderr, "coffer: %s\n", scan_k8s_error(scan, i));
	if (scan_k8s_error_count(scan) > 0)
		status = CLI_EXIT_USAGE;
	else if (fail_on != SCAN_SEV_NONE && scan_report_count_at_least(report, fail_on) > 0)
		status = CLI_EXIT_FAILED;
	else
		status = CLI_EXIT_OK;

out:
	scan_k8s_free(scan);
	scan_report_free(report);
	scan_config_free(&config);
	return status;
}
