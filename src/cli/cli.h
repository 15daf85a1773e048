// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the `coffer` command: the command table, exit codes and
// the one place that maps library errors to them.

#ifndef COFFER_CLI_H
#define COFFER_CLI_H

#include <coffer/common.h>
#include <coffer/scan.h>

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1, // the operation failed (or, for scanners, findings)
	CLI_EXIT_USAGE = 2,  // bad usage or unreadable input
};

// A subcommand: argv[0] is the subcommand's own name.
struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

// Maps a library return value to an exit code: 0 -> 0, -EINVAL and
// -ENOENT on user input -> 2 only when usage_error is set, else 1.
int cli_exit_code(int rc, bool usage_error);

// Prints "coffer: MESSAGE" to stderr and returns CLI_EXIT_USAGE.
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Prints "coffer: MESSAGE" (from err, or strerror) to stderr and returns
// the exit code for rc.
int cli_fail(int rc, const struct cf_error *err);

// True when arg is -h or --help.
bool cli_is_help(const char *arg);

// Returns the last word of a command's argv[0], which cli_dispatch sets to
// the whole command ("coffer kms get" gives "get").
const char *cli_command_word(const char *name);

// Runs a nested command table (for "coffer volume create" and the like).
int cli_dispatch(const char *prefix, const struct cli_command *commands,
		 int argc, char **argv);

// Subcommands; each lives in its own cmd_*.c file.
int cmd_volume(int argc, char **argv);
int cmd_storage(int argc, char **argv);
// `coffer storage hook` and `coffer storage hook-config` (cmd_storage_hook.c).
int storage_hook_command(int argc, char **argv);
int storage_hook_config_command(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_ca(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_fuse_server(int argc, char **argv);
int cmd_volume_export_gocryptfs_key(int argc, char **argv);
int cmd_kms(int argc, char **argv);

// Scanners behind `coffer scan`; the table is in cmd_scan.c.
int cmd_scan_dockerfile(int argc, char **argv);
int cmd_scan_k8s(int argc, char **argv);
int cmd_scan_image(int argc, char **argv);
int cmd_scan_rootfs(int argc, char **argv);
int cmd_db(int argc, char **argv);

// Shared steps of the `coffer scan` subcommands (scan_cli.c). The two
// int-returning steps return -1 to go on, or an exit code.
// scan_cli_add_ignored appends "ID,ID" to config->ignore (0 or -ENOMEM).
int scan_cli_add_ignored(struct scan_config *config, const char *list);
// Loads .coffer.yaml (path, or the search; none with no_config) and
// applies the --ignore lists.
int scan_cli_load_config(struct scan_config *config, bool no_config, const char *path,
			 const char *const *ignore_lists, size_t ignore_list_count);
// Writes the report to output, or standard output when it is NULL.
int scan_cli_write_report(const struct scan_report *report, enum scan_format format,
			  const char *output, bool no_color, bool show_fix);

#endif
