// SPDX-License-Identifier: Apache-2.0
// OSV advisories in SQLite. Each advisory is one row of `advisories`, and
// each affected package one row of `affected`, indexed by (package,
// ecosystem). Ranges and explicit versions stay OSV JSON, because matching
// evaluates them in the ecosystem's version order. A re-imported advisory
// replaces the stored one.

#include <coffer/vulndb.h>

#include "scan/vulndb/internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fts.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VULNDB_SCHEMA_VERSION "1"
#define OSV_DOCUMENT_MAX (32u << 20)

static const char vulndb_schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS sources(path TEXT PRIMARY KEY, imported_at INTEGER NOT NULL,"
	"  files INTEGER NOT NULL, advisories INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS advisories(id TEXT PRIMARY KEY, modified TEXT,"
	"  published TEXT, withdrawn TEXT, summary TEXT, aliases TEXT NOT NULL,"
	"  severity TEXT, source TEXT);"
	"CREATE TABLE IF NOT EXISTS affected(advisory_id TEXT NOT NULL, ecosystem TEXT NOT NULL,"
	"  package TEXT NOT NULL, ranges TEXT NOT NULL, versions TEXT NOT NULL,"
	"  severity TEXT);"
	"CREATE INDEX IF NOT EXISTS affected_by_package ON affected(package, ecosystem);"
	"CREATE INDEX IF NOT EXISTS affected_by_advisory ON affected(advisory_id);"
	"INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '" VULNDB_SCHEMA_VERSION "');";

static int db_error(struct vulndb *db, struct cf_error *err, const char *what)
{
	return cf_error_set(err, -EIO, "vulnerability database %s: %s failed: %s", db->path, what,
			    sqlite3_errmsg(db->db));
}

int vulndb_open(const char *path, bool create, struct vulndb **out, struct cf_error *err)
{
	struct vulndb *db = calloc(1, sizeof(*db));
	int rc = 0;
	if (db == NULL)
		return -ENOMEM;
	db->path = strdup(path);
	if (db->path == NULL) {
		free(db);
		return -ENOMEM;
	}

	int flags = create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
	if (!create) {
		struct stat st;
		if (stat(path, &st) != 0) {
			rc = cf_error_set(err, -ENOENT,
					  "vulnerability database %s not found; create it with 'coffer db import OSV_PATH --db %s'",
					  path, path);
			goto fail;
		}
	}
	if (sqlite3_open_v2(path, &db->db, flags, NULL) != SQLITE_OK) {
		rc = cf_error_set(err, -EIO, "cannot open vulnerability database %s: %s", path,
				  db->db != NULL ? sqlite3_errmsg(db->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->db, 5000);
	if (create) {
		if (sqlite3_exec(db->db, vulndb_schema, NULL, NULL, NULL) != SQLITE_OK) {
			rc = db_error(db, err, "creating the schema");
			goto fail;
		}
	}

	sqlite3_stmt *check = NULL;
	if (sqlite3_prepare_v2(db->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
			       &check, NULL) != SQLITE_OK ||
	    sqlite3_step(check) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(check, 0), VULNDB_SCHEMA_VERSION) != 0) {
		sqlite3_finalize(check);
		rc = cf_error_set(err, -EINVAL,
				  "%s is not a coffer vulnerability database (schema version %s expected)",
				  path, VULNDB_SCHEMA_VERSION);
		goto fail;
	}
	sqlite3_finalize(check);
	*out = db;
	return 0;
fail:
	vulndb_close(db);
	return rc;
}

void vulndb_close(struct vulndb *db)
{
	if (db == NULL)
		return;
	sqlite3_finalize(db->insert_advisory);
	sqlite3_finalize(db->delete_affected);
	sqlite3_finalize(db->insert_affected);
	sqlite3_close(db->db);
	free(db->path);
	free(db);
}

// ---- import ------------------------------------------------------------------------

static int prepare_import(struct vulndb *db, struct cf_error *err)
{
	if (db->insert_advisory != NULL)
		return 0;
	if (sqlite3_prepare_v2(db->db,
			       "INSERT OR REPLACE INTO advisories(id, modified, published, withdrawn,"
			       " summary, aliases, severity, source) VALUES (?,?,?,?,?,?,?,?)",
			       -1, &db->insert_advisory, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db->db, "DELETE FROM affected WHERE advisory_id = ?", -1,
			       &db->delete_affected, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db->db,
			       "INSERT INTO affected(advisory_id, ecosystem, package, ranges,"
			       " versions, severity) VALUES (?,?,?,?,?,?)",
			       -1, &db->insert_affected, NULL) != SQLITE_OK)
		return db_error(db, err, "preparing statements");
	return 0;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int index, const char *text)
{
	if (text != NULL)
		sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, index);
}

// Normalises a PyPI project name as PEP 503 does, in place.
static void normalize_pypi_name(char *name)
{
	size_t w = 0;
	for (size_t i = 0; name[i] != '\0'; i++) {
		char c = (char)tolower((unsigned char)name[i]);
		if (c == '_' || c == '.')
			c = '-';
		if (c == '-' && w > 0 && name[w - 1] == '-')
			continue;
		name[w++] = c;
	}
	name[w] = '\0';
}

// Stores the vendor's own rating of an affected package, when the OSV
// document carries one (GHSA, Ubuntu, AlmaLinux and others use these keys).
static const char *vendor_severity(json_t *affected)
{
	const char *s = json_string_value(
		json_object_get(json_object_get(affected, "ecosystem_specific"), "severity"));
	if (s == NULL)
		s = json_string_value(json_object_get(
			json_object_get(affected, "database_specific"), "severity"));
	return s;
}

static int store_advisory(struct vulndb *db, json_t *doc, const char *origin, struct cf_error *err)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	json_t *affected = json_object_get(doc, "affected");
	if (id == NULL || *id == '\0')
		return cf_error_set(err, -EINVAL, "%s: not an OSV advisory (no \"id\")", origin);

	json_t *aliases = json_object_get(doc, "aliases");
	char *aliases_text = json_is_array(aliases) ? json_dumps(aliases, JSON_COMPACT) : NULL;
	json_t *severity = json_object_get(doc, "severity");
	char *severity_text = json_is_array(severity) ? json_dumps(severity, JSON_COMPACT) : NULL;
	int rc = 0;

	sqlite3_stmt *s = db->insert_advisory;
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	bind_text_or_null(s, 2, json_string_value(json_object_get(doc, "modified")));
	bind_text_or_null(s, 3, json_string_value(json_object_get(doc, "published")));
	bind_text_or_null(s, 4, json_string_value(json_object_get(doc, "withdrawn")));
	bind_text_or_null(s, 5, json_string_value(json_object_get(doc, "summary")));
	bind_text_or_null(s, 6, aliases_text != NULL ? aliases_text : "[]");
	bind_text_or_null(s, 7, severity_text);
	bind_text_or_null(s, 8, origin);
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = db_error(db, err, "storing an advisory");
		goto out;
	}

	sqlite3_reset(db->delete_affected);
	sqlite3_bind_text(db->delete_affected, 1, id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(db->delete_affected) != SQLITE_DONE) {
		rc = db_error(db, err, "replacing an advisory");
		goto out;
	}

	for (size_t i = 0; i < json_array_size(affected); i++) {
		json_t *a = json_array_get(affected, i);
		json_t *package = json_object_get(a, "package");
		const char *ecosystem = json_string_value(json_object_get(package, "ecosystem"));
		const char *name = json_string_value(json_object_get(package, "name"));
		if (ecosystem == NULL || name == NULL)
			continue;

		char *name_copy = strdup(name);
		json_t *ranges = json_object_get(a, "ranges");
		json_t *versions = json_object_get(a, "versions");
		char *ranges_text = json_is_array(ranges) ? json_dumps(ranges, JSON_COMPACT)
							  : strdup("[]");
		char *versions_text = json_is_array(versions) ? json_dumps(versions, JSON_COMPACT)
							      : strdup("[]");
		if (name_copy == NULL || ranges_text == NULL || versions_text == NULL) {
			free(name_copy);
			free(ranges_text);
			free(versions_text);
			rc = -ENOMEM;
			goto out;
		}
		if (strcmp(ecosystem, "PyPI") == 0)
			normalize_pypi_name(name_copy);

		s = db->insert_affected;
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, ecosystem, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 3, name_copy, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 4, ranges_text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 5, versions_text, -1, SQLITE_TRANSIENT);
		bind_text_or_null(s, 6, vendor_severity(a));
		int step = sqlite3_step(s);
		free(name_copy);
		free(ranges_text);
		free(versions_text);
		if (step != SQLITE_DONE) {
			rc = db_error(db, err, "storing an affected package");
			goto out;
		}
	}
out:
	free(aliases_text);
	free(severity_text);
	return rc;
}

int vulndb_import_buffer(struct vulndb *db, const char *data, size_t size, const char *origin,
			 struct cf_error *err)
{
	int rc = prepare_import(db, err);
	if (rc != 0)
		return rc;

	json_error_t jerr;
	json_t *doc = json_loadb(data, size, 0, &jerr);
	if (doc == NULL)
		return cf_error_set(err, -EINVAL, "%s: invalid JSON: %s (line %d)", origin, jerr.text,
				    jerr.line);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return cf_error_set(err, -EINVAL, "%s: an OSV advisory must be a JSON object",
				    origin);
	}
	rc = store_advisory(db, doc, origin, err);
	json_decref(doc);
	return rc;
}

static bool has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);
	return n >= m && strcmp(name + n - m, suffix) == 0;
}

// Imports one document from a directory or archive: failures other than
// running out of memory or a database error only count as skipped.
static int import_member(struct vulndb *db, const char *data, size_t size, const char *origin,
			 struct vulndb_import_stats *stats, struct cf_error *err)
{
	struct cf_error member_err = { 0 };
	stats->files++;
	int rc = vulndb_import_buffer(db, data, size, origin, &member_err);
	if (rc == -ENOMEM || rc == -EIO) {
		cf_error_set(err, rc, "%s", cf_error_message(&member_err, rc));
		return rc;
	}
	if (rc != 0) {
		stats->skipped++;
		return 0;
	}
	stats->advisories++;
	return 0;
}

static int import_zip(struct vulndb *db, const char *path, struct vulndb_import_stats *stats,
		      struct cf_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *entry;
	char *buf = NULL;
	int rc = 0;

	if (a == NULL)
		return -ENOMEM;
	archive_read_support_format_zip(a);
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		rc = cf_error_set(err, -EINVAL, "cannot read %s: %s", path, archive_error_string(a));
		goto out;
	}
	for (;;) {
		int r = archive_read_next_header(a, &entry);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			rc = cf_error_set(err, -EINVAL, "cannot read %s: %s", path,
					  archive_error_string(a));
			goto out;
		}
		const char *name = archive_entry_pathname(entry);
		if (archive_entry_filetype(entry) != AE_IFREG || name == NULL ||
		    !has_suffix(name, ".json"))
			continue;
		la_int64_t size = archive_entry_size(entry);
		if (size < 0 || (uint64_t)size > OSV_DOCUMENT_MAX) {
			stats->files++;
			stats->skipped++;
			continue;
		}
		free(buf);
		buf = malloc((size_t)size + 1);
		if (buf == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		la_ssize_t n = archive_read_data(a, buf, (size_t)size);
		if (n != size) {
			rc = cf_error_set(err, -EINVAL, "%s: cannot read %s: %s", path, name,
					  archive_error_string(a));
			goto out;
		}
		rc = import_member(db, buf, (size_t)size, name, stats, err);
		if (rc != 0)
			goto out;
	}
out:
	free(buf);
	archive_read_free(a);
	return rc;
}

static int import_file(struct vulndb *db, const char *path, bool single,
		       struct vulndb_import_stats *stats, struct cf_error *err)
{
	char *data = NULL;
	size_t size = 0;
	int rc = cf_read_file(path, OSV_DOCUMENT_MAX, &data, &size, err);
	if (rc != 0)
		return rc;
	if (single) {
		stats->files++;
		rc = vulndb_import_buffer(db, data, size, path, err);
		if (rc == 0)
			stats->advisories++;
	} else {
		rc = import_member(db, data, size, path, stats, err);
	}
	free(data);
	return rc;
}

static int import_dir(struct vulndb *db, const char *path, struct vulndb_import_stats *stats,
		      struct cf_error *err)
{
	char *paths[] = { (char *)path, NULL };
	FTS *fts = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
	if (fts == NULL)
		return cf_error_set(err, -errno, "cannot walk %s: %s", path, strerror(errno));
	int rc = 0;
	FTSENT *ent;
	while (rc == 0 && (ent = fts_read(fts)) != NULL) {
		if (ent->fts_info != FTS_F)
			continue;
		if (has_suffix(ent->fts_name, ".json"))
			rc = import_file(db, ent->fts_path, false, stats, err);
		else if (has_suffix(ent->fts_name, ".zip"))
			rc = import_zip(db, ent->fts_path, stats, err);
	}
	fts_close(fts);
	return rc;
}

int vulndb_import(struct vulndb *db, const char *path, struct vulndb_import_stats *stats,
		  struct cf_error *err)
{
	struct stat st;
	memset(stats, 0, sizeof(*stats));
	if (stat(path, &st) != 0)
		return cf_error_set(err, -errno, "cannot import %s: %s", path, strerror(errno));

	int rc = prepare_import(db, err);
	if (rc != 0)
		return rc;
	if (sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(db, err, "starting the import");

	if (S_ISDIR(st.st_mode))
		rc = import_dir(db, path, stats, err);
	else if (has_suffix(path, ".zip"))
		rc = import_zip(db, path, stats, err);
	else
		rc = import_file(db, path, true, stats, err);

	if (rc == 0) {
		sqlite3_stmt *s = NULL;
		if (sqlite3_prepare_v2(db->db,
				       "INSERT OR REPLACE INTO sources(path, imported_at, files, advisories)"
				       " VALUES (?,?,?,?)",
				       -1, &s, NULL) != SQLITE_OK) {
			rc = db_error(db, err, "recording the source");
		} else {
			sqlite3_bind_text(s, 1, path, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(s, 2, cf_now());
			sqlite3_bind_int64(s, 3, (sqlite3_int64)stats->files);
			sqlite3_bind_int64(s, 4, (sqlite3_int64)stats->advisories);
			if (sqlite3_step(s) != SQLITE_DONE)
				rc = db_error(db, err, "recording the source");
		}
		sqlite3_finalize(s);
	}
	if (rc == 0 && sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = db_error(db, err, "committing the import");
	if (rc != 0)
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

// ---- info -----------------------------------------------------------------------------

json_t *vulndb_info(struct vulndb *db, struct cf_error *err)
{
	json_t *info = json_object();
	json_t *ecosystems = json_object();
	json_t *sources = json_array();
	sqlite3_stmt *s = NULL;

	if (info == NULL || ecosystems == NULL || sources == NULL)
		goto fail;
	json_object_set_new(info, "path", json_string(db->path));
	json_object_set_new(info, "schema_version", json_string(VULNDB_SCHEMA_VERSION));

	if (sqlite3_prepare_v2(db->db,
			       "SELECT count(*), count(withdrawn) FROM advisories", -1, &s,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		db_error(db, err, "counting advisories");
		goto fail;
	}
	json_object_set_new(info, "advisories", json_integer(sqlite3_column_int64(s, 0)));
	json_object_set_new(info, "withdrawn", json_integer(sqlite3_column_int64(s, 1)));
	sqlite3_finalize(s);
	s = NULL;

	if (sqlite3_prepare_v2(db->db,
			       "SELECT ecosystem, count(DISTINCT advisory_id) FROM affected"
			       " GROUP BY ecosystem ORDER BY ecosystem",
			       -1, &s, NULL) != SQLITE_OK) {
		db_error(db, err, "counting ecosystems");
		goto fail;
	}
	while (sqlite3_step(s) == SQLITE_ROW)
		json_object_set_new(ecosystems, (const char *)sqlite3_column_text(s, 0),
				    json_integer(sqlite3_column_int64(s, 1)));
	sqlite3_finalize(s);
	s = NULL;

	if (sqlite3_prepare_v2(db->db,
			       "SELECT path, imported_at, files, advisories FROM sources ORDER BY path",
			       -1, &s, NULL) != SQLITE_OK) {
		db_error(db, err, "listing sources");
		goto fail;
	}
	while (sqlite3_step(s) == SQLITE_ROW)
		json_array_append_new(sources,
				      json_pack("{s:s, s:I, s:I, s:I}", "path",
						(const char *)sqlite3_column_text(s, 0), "imported_at",
						(json_int_t)sqlite3_column_int64(s, 1), "files",
						(json_int_t)sqlite3_column_int64(s, 2), "advisories",
						(json_int_t)sqlite3_column_int64(s, 3)));
	sqlite3_finalize(s);

	json_object_set_new(info, "ecosystems", ecosystems);
	json_object_set_new(info, "sources", sources);
	return info;
fail:
	sqlite3_finalize(s);
	json_decref(info);
	json_decref(ecosystems);
	json_decref(sources);
	return NULL;
}
