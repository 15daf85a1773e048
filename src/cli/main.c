// SPDX-License-Identifier: Apache-2.0
// The `coffer` command: a thin front end over libcoffer. Each subcommand is
// one entry in the table below and one cmd_*.c file.

#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct cli_command commands[] = {
	{ "volume", "create, list, inspect and remove encrypted volumes", cmd_volume },
	{ "storage", "run the Encrypted Storage Manager (Docker volume plugin)", cmd_storage },
	{ "scan", "check Dockerfiles, images and manifests for insecure practice", cmd_scan },
	{ "ca", "run the Certificate Authority (EST server, tokens, revocation)", cmd_ca },
	{ "enroll", "obtain or renew a certificate from a coffer CA over EST", cmd_enroll },
	{ "fuse-server", "serve one FUSE engine volume (started by the storage manager)",
	  cmd_fuse_server },
	{ "kms", "run and administer the Key Management Server (KMIP)", cmd_kms },
	{ "db", "import and inspect the offline vulnerability database", cmd_db },
	{ NULL, NULL, NULL },
};

int cli_exit_code(int rc, bool usage_error)
{
	if (rc == 0)
		return CLI_EXIT_OK;
	if (usage_error)
		return CLI_EXIT_USAGE;
	return CLI_EXIT_FAILED;
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("coffer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_USAGE;
}

int cli_fail(int rc, const struct cf_error *err)
{
	fprintf(stderr, "coffer: %s\n", cf_error_message(err, rc));
	return cli_exit_code(rc, false);
}

const char *cli_command_word(const char *name)
{
	const char *space = strrchr(name, ' ');
	return space == NULL ? name : space + 1;
}

bool cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

static void print_commands(FILE *out, const char *prefix, const struct cli_command *table)
{
	fprintf(out, "Usage: %s COMMAND [OPTIONS]\n\nCommands:\n", prefix);
	for (const struct cli_command *c = table; c->name != NULL; c++)
		fprintf(out, "  %-12s %s\n", c->name, c->summary);
	fprintf(out, "\nRun '%s COMMAND --help' for a command's options.\n", prefix);
}

int cli_dispatch(const char *prefix, const struct cli_command *table, int argc, char **argv)
{
	if (argc < 2) {
		print_commands(stderr, prefix, table);
		return CLI_EXIT_USAGE;
	}
	if (cli_is_help(argv[1])) {
		print_commands(stdout, prefix, table);
		return CLI_EXIT_OK;
	}
	// "help" alone lists the commands; "help COMMAND" runs "COMMAND --help".
	bool help = strcmp(argv[1], "help") == 0;
	if (help && argc < 3) {
		print_commands(stdout, prefix, table);
		return CLI_EXIT_OK;
	}
	char *help_argv[] = { argv[0], help ? argv[2] : NULL, "--help", NULL };
	if (help) {
		argc = 3;
		argv = help_argv;
	}

	// getopt names argv[0] in its messages, so the command gets its whole
	// name ("coffer storage serve"). cli_command_word returns the last word.
	static char full_names[4][64];
	static size_t depth;
	for (const struct cli_command *c = table; c->name != NULL; c++) {
		if (strcmp(c->name, argv[1]) != 0)
			continue;
		if (depth < sizeof(full_names) / sizeof(full_names[0])) {
			snprintf(full_names[depth], sizeof(full_names[depth]), "%s %s", prefix, c->name);
			argv[1] = full_names[depth++];
		}
		return c->run(argc - 1, argv + 1);
	}
	return cli_usage_error("unknown command '%s' for '%s'; run '%s --help' for the list",
			       argv[1], prefix, prefix);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("coffer %s\n", COFFER_VERSION);
		return CLI_EXIT_OK;
	}
	if (argc < 2) {
		print_commands(stderr, "coffer", commands);
		return CLI_EXIT_USAGE;
	}
	return cli_dispatch("coffer", commands, argc, argv);
}
