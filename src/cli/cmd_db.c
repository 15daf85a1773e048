// SPDX-License-Identifier: Apache-2.0
// `coffer db`: the offline vulnerability database (import OSV, show info).

#include "cli.h"

#include <coffer/vulndb.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *db_path_option(int *argc, char **argv)
{
	// --db FILE may appear anywhere; it is removed from argv.
	const char *path = getenv("COFFER_VULNDB");
	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--db") != 0 || i + 1 >= *argc)
			continue;
		path = argv[i + 1];
		memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 2) * sizeof(char *));
		*argc -= 2;
		break;
	}
	return path;
}

static int cmd_db_import(int argc, char **argv)
{
	struct cf_error err = { 0 };
	struct vulndb *db = NULL;
	const char *path = db_path_option(&argc, argv);

	if (argc >= 2 && cli_is_help(argv[1])) {
		printf("Usage: coffer db import OSV_PATH... --db FILE\n\n"
		       "Imports OSV JSON advisories (files, directories searched recursively, or zip\n"
		       "archives such as an ecosystem's all.zip) into the SQLite database FILE,\n"
		       "creating it when missing. An advisory imported again replaces the old copy.\n");
		return CLI_EXIT_OK;
	}
	if (path == NULL)
		return cli_usage_error("missing --db FILE (or set COFFER_VULNDB)");
	if (argc < 2)
		return cli_usage_error("missing OSV_PATH; run 'coffer db import --help'");

	int rc = vulndb_open(path, true, &db, &err);
	if (rc != 0)
		return cli_fail(rc, &err);
	for (int i = 1; i < argc; i++) {
		struct vulndb_import_stats stats;
		rc = vulndb_import(db, argv[i], &stats, &err);
		if (rc != 0) {
			vulndb_close(db);
			cli_fail(rc, &err);
			return CLI_EXIT_USAGE;
		}
		printf("%s: %zu files, %zu advisories imported, %zu skipped\n", argv[i],
		       stats.files, stats.advisories, stats.skipped);
	}
	vulndb_close(db);
	return CLI_EXIT_OK;
}

static int cmd_db_info(int argc, char **argv)
{
	struct cf_error err = { 0 };
	struct vulndb *db = NULL;
	const char *path = db_path_option(&argc, argv);
	bool as_json = false;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("Usage: coffer db info --db FILE [--json]\n\n"
			       "Shows the advisories per ecosystem and when each source was last imported.\n");
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0)
			as_json = true;
		else
			return cli_usage_error("invalid argument '%s'; run 'coffer db info --help'",
					       argv[i]);
	}
	if (path == NULL)
		return cli_usage_error("missing --db FILE (or set COFFER_VULNDB)");

	int rc = vulndb_open(path, false, &db, &err);
	if (rc != 0) {
		cli_fail(rc, &err);
		return CLI_EXIT_USAGE;
	}
	json_t *info = vulndb_info(db, &err);
	vulndb_close(db);
	if (info == NULL)
		return cli_fail(-EIO, &err);

	if (as_json) {
		json_dumpf(info, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(info);
		return CLI_EXIT_OK;
	}

	printf("database:   %s\nadvisories: %lld (%lld withdrawn)\n", path,
	       (long long)json_integer_value(json_object_get(info, "advisories")),
	       (long long)json_integer_value(json_object_get(info, "withdrawn")));
	printf("\necosystems:\n");
	const char *key;
	json_t *value;
	json_object_foreach(json_object_get(info, "ecosystems"), key, value)
		printf("  %-28s %lld advisories\n", key, (long long)json_integer_value(value));
	printf("\nsources:\n");
	size_t i;
	json_array_foreach(json_object_get(info, "sources"), i, value) {
		time_t at = (time_t)json_integer_value(json_object_get(value, "imported_at"));
		struct tm tm;
		char when[32];
		gmtime_r(&at, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		printf("  %s\n    imported %s, %lld advisories from %lld files\n",
		       json_string_value(json_object_get(value, "path")), when,
		       (long long)json_integer_value(json_object_get(value, "advisories")),
		       (long long)json_integer_value(json_object_get(value, "files")));
	}
	json_decref(info);
	return CLI_EXIT_OK;
}

static const struct cli_command db_commands[] = {
	{ "import", "import OSV advisories into the vulnerability database", cmd_db_import },
	{ "info", "show what the vulnerability database contains", cmd_db_info },
	{ NULL, NULL, NULL },
};

int cmd_db(int argc, char **argv)
{
	return cli_dispatch("coffer db", db_commands, argc, argv);
}
