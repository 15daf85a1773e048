// SPDX-License-Identifier: Apache-2.0
// `coffer scan image` and `coffer scan rootfs`: list the packages of a saved
// image or a root filesystem, match them against the offline vulnerability
// database, check the image configuration, and report.

#include "cli.h"

#include <coffer/image.h>
#include <coffer/image_ignore.h>
#include <coffer/scan.h>
#include <coffer/vulndb.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct image_command {
	const char *db_path;
	const char *format;
	const char *fail_on;
	const char *ignore_path;
	const char *output_path;
	const char *image_ref;
	bool ignore_unfixed;
	bool progress;
	bool no_color;
};

// Rules for configuration findings; vulnerabilities get one rule per id.
static const struct scan_rule image_rules[] = {
	{ "IMG-ROOT-USER", SCAN_SEV_MEDIUM, "Image runs as root",
	  "The image config sets no user or sets root, so its processes run as root unless the runtime overrides it.",
	  "Add a USER instruction with an unprivileged user.", NULL },
	{ "IMG-SECRET-ENV", SCAN_SEV_HIGH, "Secret in the image environment",
	  "A variable in the image config's Env looks like a secret; anyone who can pull the image can read it.",
	  "Pass secrets at run time (secrets mounts or an orchestrator secret), not in ENV.", NULL },
	{ "IMG-SECRET-HISTORY", SCAN_SEV_HIGH, "Secret in the image history",
	  "A build step recorded in the image history contains a secret value.",
	  "Use build secrets (RUN --mount=type=secret) instead of arguments or ENV.", NULL },
	{ "IMG-PRIVATE-KEY", SCAN_SEV_HIGH, "Private key in a layer",
	  "A layer contains a private key. Deleting it in a later layer does not remove it from the image.",
	  "Remove the key from the build context and rebuild; rotate the key.", NULL },
	{ "IMG-CLOUD-CREDENTIALS", SCAN_SEV_HIGH, "Credentials file in a layer",
	  "A layer contains a cloud or registry credentials file. Deleting it in a later layer does not remove it from the image.",
	  "Remove the file from the build and rotate the credentials.", NULL },
	{ "IMG-SETUID", SCAN_SEV_LOW, "setuid or setgid file",
	  "A file with the setuid or setgid bit can raise privileges inside the container.",
	  "Remove the bit (chmod u-s,g-s) unless the file needs it.", NULL },
	{ "IMG-WORLD-WRITABLE", SCAN_SEV_LOW, "World-writable file",
	  "Any user in the container can modify this file or directory.",
	  "Restrict the mode (chmod o-w) or add the sticky bit to shared directories.", NULL },
	{ "IMG-GIT-DIR", SCAN_SEV_MEDIUM, ".git directory in the image",
	  "A .git directory ships the repository history, which may contain secrets and source code.",
	  "Add .git to .dockerignore.", NULL },
};

static const struct scan_rule *image_rule(const char *id)
{
	for (size_t i = 0; i < sizeof(image_rules) / sizeof(image_rules[0]); i++) {
		if (strcmp(image_rules[i].id, id) == 0)
			return &image_rules[i];
	}
	return NULL;
}

static void print_usage(FILE *out, const char *name)
{
	fprintf(out,
		"Usage: coffer scan %s %s [OPTIONS]\n\n"
		"Lists the installed packages, matches them against the offline vulnerability\n"
		"database and checks the image configuration.\n\n"
		"Options:\n"
		"      --db FILE          vulnerability database (default: $COFFER_VULNDB, else\n"
		"                         ~/.cache/coffer/vulndb.sqlite); packages are only\n"
		"                         listed when it does not exist\n"
		"  -f, --format FORMAT    text (default), json, sarif or cyclonedx\n"
		"  -o, --output FILE      write the report to FILE instead of standard output\n"
		SCAN_FAIL_ON_HELP
		"                         The default is none. This command reads no\n"
		"                         .coffer.yaml.\n"
		"      --no-color         no colours in output; this command never prints any,\n"
		"                         and takes the option as the other scanners do\n"
		"      --ignore-unfixed   leave out vulnerabilities without a fixed version\n"
		"      --ignore-file FILE accepted findings: 'ID [package=NAME]\n"
		"                         expires=YYYY-MM-DD reason=TEXT' per line\n"
		"%s"
		"      --no-progress      no progress bar, even on a terminal\n"
		"  -h, --help             print this help\n\n"
		"Exit status: 0 when no finding is at or above --fail-on, 1 when one is,\n"
		"2 for a usage error or input that cannot be read.\n",
		name, strcmp(name, "image") == 0 ? "ARCHIVE|OCI-DIR" : "DIR",
		strcmp(name, "image") == 0
			? "      --image REF        image to scan in an archive with several (tag or\n"
			  "                         0-based index)\n"
			: "");
}

static void show_progress(void *context, uint64_t done, uint64_t total)
{
	(void)context;
	if (total == 0)
		return;
	int percent = (int)(done * 100 / total);
	int filled = percent / 5;
	fprintf(stderr, "\rscanning [%-20.*s] %3d%%", filled, "####################", percent);
	if (done >= total)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static char *default_db_path(void)
{
	const char *env = getenv("COFFER_VULNDB");
	if (env != NULL && *env != '\0')
		return strdup(env);
	const char *cache = getenv("XDG_CACHE_HOME");
	char *path = NULL;
	int n;
	if (cache != NULL && *cache != '\0')
		n = asprintf(&path, "%s/coffer/vulndb.sqlite", cache);
	else
		n = asprintf(&path, "%s/.cache/coffer/vulndb.sqlite",
			     getenv("HOME") != NULL ? getenv("HOME") : "/root");
	return n < 0 ? NULL : path;
}

// Rules for advisories live as long as the report; the command owns them.
struct advisory_rules {
	struct scan_rule *items;
	size_t count;
};

static void advisory_rules_free(struct advisory_rules *rules)
{
	for (size_t i = 0; i < rules->count; i++) {
		free((char *)rules->items[i].id);
		free((char *)rules->items[i].title);
	}
	free(rules->items);
}

static const struct scan_rule *advisory_rule(struct advisory_rules *rules,
					     const struct vulndb_match *m)
{
	for (size_t i = 0; i < rules->count; i++) {
		if (strcmp(rules->items[i].id, m->id) == 0)
			return &rules->items[i];
	}
	return NULL;
}

// Creates one rule per distinct advisory id before any finding is added,
// so that the rule array never moves while the report points into it.
static int build_advisory_rules(struct advisory_rules *rules, const struct vulndb_match_list *matches)
{
	rules->items = calloc(matches->count ? matches->count : 1, sizeof(*rules->items));
	if (rules->items == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < matches->count; i++) {
		const struct vulndb_match *m = &matches->items[i];
		if (advisory_rule(rules, m) != NULL)
			continue;
		struct scan_rule *r = &rules->items[rules->count++];
		r->id = strdup(m->id);
		r->severity = m->severity;
		r->title = strdup(m->summary != NULL ? m->summary : m->id);
		r->description = "The installed package version is affected by this published vulnerability.";
		r->fix = NULL;
		if (r->id == NULL || r->title == NULL)
			return -ENOMEM;
	}
	return 0;
}

static json_t *layer_fields(const struct image_scan *scan, int layer)
{
	json_t *fields = json_object();
	if (layer >= 0 && (size_t)layer < scan->layer_count) {
		json_object_set_new(fields, "layer", json_string(scan->layers[layer].diff_id));
		json_object_set_new(fields, "layer_index", json_integer(layer));
		if (scan->layers[layer].created_by != NULL)
			json_object_set_new(fields, "created_by",
					    json_string(scan->layers[layer].created_by));
	} else {
		json_object_set_new(fields, "layer", json_null());
	}
	return fields;
}

static json_t *ignored_entry(const char *id, const char *package,
			     const struct image_ignore_entry *entry)
{
	return json_pack("{s:s, s:s?, s:s, s:s}", "id", id, "package", package, "expires",
			 entry->expires, "reason", entry->reason);
}

static int add_vulnerabilities(struct scan_report *report, const struct image_scan *scan,
			       const struct vulndb_match_list *matches, struct advisory_rules *rules,
			       const struct image_command *cmd, const struct image_ignore *ignore,
			       json_t *ignored, json_t *vulnerabilities)
{
	for (size_t i = 0; i < matches->count; i++) {
		const struct vulndb_match *m = &matches->items[i];
		const struct image_package *p = &scan->packages[m->package];
		if (cmd->ignore_unfixed && m->fixed_version == NULL)
			continue;
		const struct image_ignore_entry *entry =
			image_ignore_match(ignore, m->id, m->aliases, p->name);
		if (entry == NULL && strcmp(p->source_name, p->name) != 0)
			entry = image_ignore_match(ignore, m->id, m->aliases, p->source_name);
		if (entry != NULL) {
			json_array_append_new(ignored, ignored_entry(m->id, p->name, entry));
			continue;
		}

		json_t *fields = layer_fields(scan, p->layer);
		json_object_set_new(fields, "id", json_string(m->id));
		json_object_set(fields, "aliases", m->aliases);
		json_object_set_new(fields, "package", json_string(p->name));
		json_object_set_new(fields, "installed_version", json_string(p->version));
		json_object_set_new(fields, "fixed_version", m->fixed_version != NULL
								     ? json_string(m->fixed_version)
								     : json_null());
		json_object_set_new(fields, "source_package", json_string(p->source_name));
		json_object_set_new(fields, "source_version", json_string(p->source_version));
		json_object_set_new(fields, "ecosystem", json_string(p->ecosystem));
		json_object_set_new(fields, "package_type",
				    json_string(image_package_type_name(p->type)));
		json_object_set_new(fields, "severity_source", json_string(m->severity_source));
		json_object_set_new(fields, "cvss_vector", m->cvss_vector != NULL
								   ? json_string(m->cvss_vector)
								   : json_null());
		if (m->cvss_score >= 0)
			json_object_set_new(fields, "cvss_score", json_real(m->cvss_score));

		// The "vulnerabilities" list repeats these fields with the severity,
		// for readers that want vulnerabilities without other findings.
		json_t *listed = json_deep_copy(fields);
		json_object_set_new(listed, "severity", json_string(scan_severity_name(m->severity)));
		json_object_set_new(listed, "summary", m->summary != NULL ? json_string(m->summary)
									  : json_null());
		json_array_append_new(vulnerabilities, listed);

		struct scan_location location = { .file = p->path };
		char fix[512];
		snprintf(fix, sizeof(fix), "upgrade %s to %s or later", p->name,
			 m->fixed_version != NULL ? m->fixed_version : "(no fixed version yet)");
		int rc = scan_report_add(report, advisory_rule(rules, m), m->severity, &location,
					 fields, m->fixed_version != NULL ? fix : "no fixed version is available yet",
					 "%s %s is affected by %s%s%s", p->name, p->version, m->id,
					 m->fixed_version != NULL ? ", fixed in " : " (unfixed)",
					 m->fixed_version != NULL ? m->fixed_version : "");
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int add_config_findings(struct scan_report *report, const struct image_scan *scan,
			       const struct image_ignore *ignore, json_t *ignored)
{
	for (size_t i = 0; i < scan->finding_count; i++) {
		const struct image_finding *f = &scan->findings[i];
		const struct image_ignore_entry *entry = image_ignore_match(ignore, f->rule_id, NULL,
									    NULL);
		if (entry != NULL) {
			json_array_append_new(ignored, ignored_entry(f->rule_id, NULL, entry));
			continue;
		}
		json_t *fields = layer_fields(scan, f->layer);
		if (f->path != NULL)
			json_object_set_new(fields, "path", json_sprintf("/%s", f->path));
		struct scan_location location = { .file = scan->source };
		int rc = scan_report_add(report, image_rule(f->rule_id), SCAN_SEV_NONE, &location,
					 fields, NULL, "%s", f->message);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static json_t *image_summary(const struct image_scan *scan)
{
	json_t *layers = json_array();
	for (size_t i = 0; i < scan->layer_count; i++)
		json_array_append_new(layers,
				      json_pack("{s:s, s:s, s:s?}", "diff_id",
						scan->layers[i].diff_id, "blob", scan->layers[i].digest,
						"created_by", scan->layers[i].created_by));
	return json_pack("{s:s, s:s, s:{s:s?, s:s?, s:s?, s:s?}, s:o}", "source", scan->source,
			 "format", scan->format, "os", "id", scan->os.id, "version_id",
			 scan->os.version_id, "pretty_name", scan->os.pretty_name, "ecosystem",
			 scan->os.ecosystem, "layers", layers);
}

// Copies text into buf for a terminal: control characters, which could come
// from a hostile image, become '?', and long text is cut with "...".
static const char *terminal_text(const char *text, char *buf, size_t size)
{
	size_t i = 0;
	if (text == NULL)
		text = "-";
	for (; text[i] != '\0' && i + 1 < size; i++)
		buf[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
	buf[i] = '\0';
	if (text[i] != '\0' && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}

static const char *field_text(const struct scan_finding *f, const char *key)
{
	return json_string_value(json_object_get(f->fields, key));
}

enum { TABLE_COLUMNS = 6, TABLE_CELL = 48 };

static void table_cells(const struct scan_finding *f, char cells[TABLE_COLUMNS][TABLE_CELL])
{
	char layer[16] = "-";
	json_t *index = json_object_get(f->fields, "layer_index");
	if (json_is_integer(index))
		snprintf(layer, sizeof(layer), "%lld", (long long)json_integer_value(index));
	terminal_text(scan_severity_name(f->severity), cells[0], TABLE_CELL);
	terminal_text(f->rule->id, cells[1], TABLE_CELL);
	terminal_text(field_text(f, "package"), cells[2], TABLE_CELL);
	terminal_text(field_text(f, "installed_version"), cells[3], TABLE_CELL);
	terminal_text(field_text(f, "fixed_version"), cells[4], TABLE_CELL);
	terminal_text(layer, cells[5], TABLE_CELL);
}

// Orders table rows by severity, highest first, then package and id.
static int compare_rows(const void *x, const void *y)
{
	const struct scan_finding *a = *(const struct scan_finding *const *)x;
	const struct scan_finding *b = *(const struct scan_finding *const *)y;
	int rank = scan_severity_rank(b->severity) - scan_severity_rank(a->severity);
	if (rank != 0)
		return rank;
	int rc = strcmp(field_text(a, "package"), field_text(b, "package"));
	return rc != 0 ? rc : strcmp(a->rule->id, b->rule->id);
}

// Writes the text report: a summary line, a table of vulnerabilities and
// then the configuration findings, one per line with their fix hints.
static int write_text(FILE *out, const char *target, const struct image_scan *scan,
		      const struct scan_report *report)
{
	static const char *const headings[TABLE_COLUMNS] = { "SEVERITY", "ID", "PACKAGE",
							     "INSTALLED", "FIXED", "LAYER" };
	char cells[TABLE_COLUMNS][TABLE_CELL];
	char name[128];
	int widths[TABLE_COLUMNS];
	size_t vulnerabilities = 0;

	fprintf(out, "%s: %s, %zu packages, %zu layers\n", target,
		terminal_text(scan->os.pretty_name != NULL ? scan->os.pretty_name : "unknown OS",
			      name, sizeof(name)),
		scan->package_count, scan->layer_count);

	for (int c = 0; c < TABLE_COLUMNS; c++)
		widths[c] = (int)strlen(headings[c]);
	for (size_t i = 0; i < scan_report_count(report); i++) {
		const struct scan_finding *f = scan_report_get(report, i);
		if (field_text(f, "installed_version") == NULL)
			continue;
		vulnerabilities++;
		table_cells(f, cells);
		for (int c = 0; c < TABLE_COLUMNS; c++) {
			int len = (int)strlen(cells[c]);
			widths[c] = len > widths[c] ? len : widths[c];
		}
	}

	if (vulnerabilities > 0) {
		fputc('\n', out);
		for (int c = 0; c + 1 < TABLE_COLUMNS; c++)
			fprintf(out, "%-*s  ", widths[c], headings[c]);
		fprintf(out, "%s\n", headings[TABLE_COLUMNS - 1]);
		const struct scan_finding **rows = calloc(vulnerabilities, sizeof(*rows));
		if (rows == NULL)
			return -ENOMEM;
		size_t n = 0;
		for (size_t i = 0; i < scan_report_count(report); i++) {
			const struct scan_finding *f = scan_report_get(report, i);
			if (field_text(f, "installed_version") != NULL)
				rows[n++] = f;
		}
		qsort(rows, n, sizeof(*rows), compare_rows);
		for (size_t i = 0; i < n; i++) {
			table_cells(rows[i], cells);
			for (int c = 0; c + 1 < TABLE_COLUMNS; c++)
				fprintf(out, "%-*s  ", widths[c], cells[c]);
			fprintf(out, "%s\n", cells[TABLE_COLUMNS - 1]);
		}
		free(rows);
	}

	bool first = true;
	for (size_t i = 0; i < scan_report_count(report); i++) {
		const struct scan_finding *f = scan_report_get(report, i);
		if (field_text(f, "installed_version") != NULL)
			continue;
		char message[512], fix[512];
		if (first)
			fputc('\n', out);
		first = false;
		fprintf(out, "%s %s %s\n", scan_severity_name(f->severity), f->rule->id,
			terminal_text(f->message, message, sizeof(message)));
		if (f->fix != NULL)
			fprintf(out, "    fix: %s\n", terminal_text(f->fix, fix, sizeof(fix)));
	}
	fprintf(out, "\n%zu vulnerabilities, %zu other findings\n", vulnerabilities,
		scan_report_count(report) - vulnerabilities);
	return ferror(out) ? -EIO : 0;
}

static int write_json_document(json_t *document, FILE *out)
{
	if (document == NULL)
		return -ENOMEM;
	int rc = json_dumpf(document, out, JSON_INDENT(2) | JSON_ENSURE_ASCII) == 0 ? 0 : -EIO;
	fputc('\n', out);
	json_decref(document);
	return rc;
}

static int run_scan(const char *target, bool rootfs, const struct image_command *cmd)
{
	struct cf_error err = { 0 };
	struct image_options options;
	struct image_scan *scan = NULL;
	struct vulndb *db = NULL;
	struct vulndb_match_list matches = { 0 };
	struct advisory_rules rules = { 0 };
	struct image_ignore ignore = { 0 };
	struct scan_report *report = NULL;
	enum scan_severity fail_on = SCAN_SEV_NONE;
	enum scan_format format = SCAN_FORMAT_TEXT;
	bool cyclonedx = strcmp(cmd->format, "cyclonedx") == 0;
	char *db_path = NULL;
	FILE *out = stdout;
	int exit_code = CLI_EXIT_USAGE;
	int rc;

	if (!cyclonedx && scan_format_parse(cmd->format, &format) != 0)
		return cli_usage_error("invalid --format '%s'; use text, json, sarif or cyclonedx",
				       cmd->format);
	if (cmd->fail_on != NULL && scan_severity_parse(cmd->fail_on, &fail_on) != 0)
		return cli_usage_error("invalid --fail-on '%s'; use " SCAN_FAIL_ON_LEVELS,
				       cmd->fail_on);
	if (cmd->ignore_path != NULL) {
		rc = image_ignore_load(cmd->ignore_path, cf_now(), &ignore, &err);
		if (rc != 0) {
			cli_fail(rc, &err);
			return CLI_EXIT_USAGE;
		}
	}

	image_options_init(&options);
	options.image_ref = cmd->image_ref;
	if (cmd->progress && isatty(STDERR_FILENO)) {
		options.progress = show_progress;
		options.progress_context = NULL;
	}
	rc = rootfs ? image_scan_rootfs(target, &options, &scan, &err)
		    : image_scan_archive(target, &options, &scan, &err);
	if (rc != 0) {
		cli_fail(rc, &err);
		goto out;
	}

	db_path = cmd->db_path != NULL ? strdup(cmd->db_path) : default_db_path();
	if (db_path == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (cmd->db_path != NULL || access(db_path, F_OK) == 0) {
		rc = vulndb_open(db_path, false, &db, &err);
		if (rc == 0)
			rc = vulndb_match_scan(db, scan, &matches, &err);
		if (rc != 0) {
			cli_fail(rc, &err);
			goto out;
		}
	} else {
		fprintf(stderr,
			"coffer: no vulnerability database at %s; listing packages only (import one with 'coffer db import OSV_PATH --db %s')\n",
			db_path, db_path);
	}

	report = scan_report_new(rootfs ? "coffer-rootfs" : "coffer-image");
	json_t *ignored = json_array();
	if (report == NULL || ignored == NULL || build_advisory_rules(&rules, &matches) != 0) {
		json_decref(ignored);
		rc = -ENOMEM;
		cli_fail(rc, NULL);
		goto out;
	}
	scan_report_add_artifact(report, target);
	json_t *vulnerabilities = json_array();
	rc = add_vulnerabilities(report, scan, &matches, &rules, cmd, &ignore, ignored,
				 vulnerabilities);
	scan_report_set(report, "vulnerabilities", vulnerabilities);
	if (rc == 0)
		rc = add_config_findings(report, scan, &ignore, ignored);
	if (rc != 0) {
		json_decref(ignored);
		cli_fail(rc, NULL);
		goto out;
	}

	json_t *expired = json_array();
	for (size_t i = 0; i < ignore.count; i++) {
		const struct image_ignore_entry *e = &ignore.entries[i];
		if (!e->expired)
			continue;
		fprintf(stderr, "coffer: ignore entry %s%s%s expired on %s and no longer applies (%s)\n",
			e->id, e->package != NULL ? " package=" : "",
			e->package != NULL ? e->package : "", e->expires, e->reason);
		json_array_append_new(expired, json_pack("{s:s, s:s?, s:s, s:s}", "id", e->id,
							 "package", e->package, "expires",
							 e->expires, "reason", e->reason));
	}
	scan_report_set(report, "image", image_summary(scan));
	scan_report_set(report, "packages", image_packages_json(scan));
	scan_report_set(report, "ignored", ignored);
	scan_report_set(report, "expired_ignores", expired);
	scan_report_set(report, "vulnerability_database",
			db != NULL ? json_string(db_path) : json_null());

	if (cmd->output_path != NULL) {
		out = fopen(cmd->output_path, "w");
		if (out == NULL) {
			fprintf(stderr, "coffer: cannot write %s: %s\n", cmd->output_path,
				strerror(errno));
			out = stdout;
			goto out;
		}
	}
	if (cyclonedx) {
		rc = write_json_document(image_cyclonedx(scan, &matches), out);
	} else {
		struct scan_write_options write_options = { .color = !cmd->no_color &&
									      scan_color_wanted(out),
							    .show_fix = true };
		if (format == SCAN_FORMAT_TEXT)
			rc = write_text(out, target, scan, report);
		else
			rc = scan_report_write(report, format, &write_options, out);
	}
	if (rc != 0) {
		cli_fail(rc, NULL);
		exit_code = CLI_EXIT_FAILED;
		goto out;
	}

	exit_code = CLI_EXIT_OK;
	if (fail_on != SCAN_SEV_NONE && scan_report_count_at_least(report, fail_on) > 0)
		exit_code = CLI_EXIT_FAILED;
out:
	if (out != stdout)
		fclose(out);
	scan_report_free(report);
	advisory_rules_free(&rules);
	vulndb_match_list_free(&matches);
	vulndb_close(db);
	image_scan_free(scan);
	image_ignore_free(&ignore);
	free(db_path);
	return exit_code;
}

static int parse_and_run(int argc, char **argv, bool rootfs)
{
	const char *name = rootfs ? "rootfs" : "image";
	struct image_command cmd = { .format = "text", .progress = true };
	static const struct option long_options[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "fail-on", required_argument, NULL, 'F' },
		{ "ignore-unfixed", no_argument, NULL, 'U' },
		{ "ignore-file", required_argument, NULL, 'I' },
		{ "image", required_argument, NULL, 'i' },
		{ "no-progress", no_argument, NULL, 'P' },
		{ "no-color", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "f:o:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'd':
			cmd.db_path = optarg;
			break;
		case 'f':
			cmd.format = optarg;
			break;
		case 'o':
			cmd.output_path = optarg;
			break;
		case 'F':
			cmd.fail_on = optarg;
			break;
		case 'U':
			cmd.ignore_unfixed = true;
			break;
		case 'I':
			cmd.ignore_path = optarg;
			break;
		case 'i':
			if (rootfs)
				return cli_usage_error("--image applies to 'coffer scan image' only");
			cmd.image_ref = optarg;
			break;
		case 'P':
			cmd.progress = false;
			break;
		case 'C':
			cmd.no_color = true;
			break;
		case 'h':
			print_usage(stdout, name);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error("invalid option '%s'; run 'coffer scan %s --help'",
					       argv[optind - 1], name);
		}
	}
	if (optind + 1 != argc) {
		print_usage(stderr, name);
		return CLI_EXIT_USAGE;
	}
	return run_scan(argv[optind], rootfs, &cmd);
}

int cmd_scan_image(int argc, char **argv)
{
	return parse_and_run(argc, argv, false);
}

int cmd_scan_rootfs(int argc, char **argv)
{
	return parse_and_run(argc, argv, true);
}
