// SPDX-License-Identifier: Apache-2.0
// Object attributes in the key store's SQLite database: one row per value,
// keyed by object id, attribute name and index. Every change is audited.

#include <coffer/keystore_attributes.h>

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static int sql_error(struct ks_store *store, struct cf_error *err, const char *what)
{
	return cf_error_set(err, -EIO, "key store attributes: %s failed: %s", what,
			    sqlite3_errmsg(ks_database(store)));
}

int ks_attr_init(struct ks_store *store, struct cf_error *err)
{
	static const char schema[] =
		"CREATE TABLE IF NOT EXISTS object_attributes ("
		" object_id TEXT NOT NULL,"
		" name TEXT NOT NULL,"
		" idx INTEGER NOT NULL,"
		" value BLOB NOT NULL,"
		" PRIMARY KEY (object_id, name, idx));"
		"CREATE TABLE IF NOT EXISTS sync_marker ("
		" id INTEGER PRIMARY KEY CHECK (id = 1),"
		" synced_at INTEGER NOT NULL)";

	if (sqlite3_exec(ks_database(store), schema, NULL, NULL, NULL) != SQLITE_OK)
		return sql_error(store, err, "creating the attribute table");
	return 0;
}

int ks_sync_defer(struct ks_store *store, bool defer, struct cf_error *err)
{
	const char *sql = defer ? "PRAGMA locking_mode=EXCLUSIVE; PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL";
	if (sqlite3_exec(ks_database(store), sql, NULL, NULL, NULL) != SQLITE_OK)
		return sql_error(store, err, "changing the synchronous mode");
	return 0;
}

int ks_sync(struct ks_store *store, struct cf_error *err)
{
	// A commit with synchronous=FULL fsyncs the write-ahead log, and with
	// it every frame that earlier NORMAL commits appended. The marker row
	// gives that commit something to write.
	static const char sql[] =
		"PRAGMA synchronous=FULL;"
		"INSERT OR REPLACE INTO sync_marker (id, synced_at) VALUES (1, strftime('%s', 'now'));"
		"PRAGMA synchronous=NORMAL";

	int rc = ks_flush_read_audit(store, err);
	if (rc != 0)
		return rc;
	if (sqlite3_exec(ks_database(store), sql, NULL, NULL, NULL) != SQLITE_OK) {
		rc = sql_error(store, err, "syncing the key store");
		sqlite3_exec(ks_database(store), "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
		return rc;
	}
	return 0;
}

// Checks that the caller may use object id (owner or administrator).
static int check_access(struct ks_store *store, const struct ks_caller *caller,
			const char *id, struct cf_error *err)
{
	struct ks_object_info info;
	return ks_get_info(store, caller, id, &info, err);
}

static int check_value(const char *name, size_t size, struct cf_error *err)
{
	if (strlen(name) == 0 || strlen(name) >= KS_ATTR_NAME_MAX)
		return cf_error_set(err, -EINVAL,
				    "attribute name of %zu characters is invalid; use 1 to %d",
				    strlen(name), KS_ATTR_NAME_MAX - 1);
	if (size > KS_ATTR_VALUE_MAX)
		return cf_error_set(err, -EINVAL,
				    "value of attribute '%s' has %zu bytes; the maximum is %d",
				    name, size, KS_ATTR_VALUE_MAX);
	return 0;
}

static void audit(struct ks_store *store, const struct ks_caller *caller,
		  const char *operation, const char *id, const char *name, int index)
{
	char detail[KS_ATTR_NAME_MAX + 32];
	snprintf(detail, sizeof(detail), "attribute=%s index=%d", name, index);
	ks_audit_append(store, caller->identity, operation, id, "ok", detail);
}

int ks_attr_add(struct ks_store *store, const struct ks_caller *caller, const char *id,
		const char *name, const uint8_t *value, size_t size, int *index,
		struct cf_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = check_value(name, size, err);
	if (rc == 0)
		rc = check_access(store, caller, id, err);
	if (rc != 0)
		return rc;

	static const char sql[] =
		"INSERT INTO object_attributes (object_id, name, idx, value)"
		" SELECT ?1, ?2, COALESCE(MAX(idx) + 1, 0), ?3 FROM object_attributes"
		" WHERE object_id = ?1 AND name = ?2 RETURNING idx";
	if (sqlite3_prepare_v2(ks_database(store), sql, -1, &stmt, NULL) != SQLITE_OK)
		return sql_error(store, err, "preparing the attribute insert");
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 3, size > 0 ? value : (const void *)"", (int)size, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		rc = sql_error(store, err, "adding an attribute");
		goto out;
	}
	int added = sqlite3_column_int(stmt, 0);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		rc = sql_error(store, err, "adding an attribute");
		goto out;
	}
	if (index != NULL)
		*index = added;
	audit(store, caller, "add-attribute", id, name, added);

out:
	sqlite3_finalize(stmt);
	return rc;
}

int ks_attr_modify(struct ks_store *store, const struct ks_caller *caller, const char *id,
		   const char *name, int index, const uint8_t *value, size_t size,
		   struct cf_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = check_value(name, size, err);
	if (rc == 0)
		rc = check_access(store, caller, id, err);
	if (rc != 0)
		return rc;

	static const char sql[] =
		"UPDATE object_attributes SET value = ?4"
		" WHERE object_id = ?1 AND name = ?2 AND idx = ?3";
	if (sqlite3_prepare_v2(ks_database(store), sql, -1, &stmt, NULL) != SQLITE_OK)
		return sql_error(store, err, "preparing the attribute update");
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 3, index);
	sqlite3_bind_blob(stmt, 4, size > 0 ? value : (const void *)"", (int)size, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		rc = sql_error(store, err, "modifying an attribute");
		goto out;
	}
	if (sqlite3_changes(ks_database(store)) == 0) {
		rc = cf_error_set(err, -ENOENT, "object %s has no attribute '%s' at index %d",
				  id, name, index);
		goto out;
	}
	audit(store, caller, "modify-attribute", id, name, index);

out:
	sqlite3_finalize(stmt);
	return rc;
}

int ks_attr_delete(struct ks_store *store, const struct ks_caller *caller, const char *id,
		   const char *name, int index, struct cf_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = check_access(store, caller, id, err);
	if (rc != 0)
		return rc;

	static const char sql[] =
		"DELETE FROM object_attributes WHERE object_id = ?1 AND name = ?2 AND idx = ?3";
	if (sqlite3_prepare_v2(ks_database(store), sql, -1, &stmt, NULL) != SQLITE_OK)
		return sql_error(store, err, "preparing the attribute delete");
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 3, index);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		rc = sql_error(store, err, "deleting an attribute");
		goto out;
	}
	if (sqlite3_changes(ks_database(store)) == 0) {
		rc = cf_error_set(err, -ENOENT, "object %s has no attribute '%s' at index %d",
				  id, name, index);
		goto out;
	}
	audit(store, caller, "delete-attribute", id, name, index);

out:
	sqlite3_finalize(stmt);
	return rc;
}

int ks_attr_foreach(struct ks_store *store, const struct ks_caller *caller, const char *id,
		    const char *name,
		    int (*visit)(const char *name, int index, const uint8_t *value,
				 size_t size, void *arg),
		    void *arg, struct cf_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = check_access(store, caller, id, err);
	if (rc != 0)
		return rc;

	static const char sql[] =
		"SELECT name, idx, value FROM object_attributes"
		" WHERE object_id = ?1 AND (?2 IS NULL OR name = ?2) ORDER BY name, idx";
	if (sqlite3_prepare_v2(ks_database(store), sql, -1, &stmt, NULL) != SQLITE_OK)
		return sql_error(store, err, "preparing the attribute query");
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	if (name != NULL)
		sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);

	for (;;) {
		int step = sqlite3_step(stmt);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			rc = sql_error(store, err, "reading attributes");
			break;
		}
		const char *row_name = (const char *)sqlite3_column_text(stmt, 0);
		int index = sqlite3_column_int(stmt, 1);
		const uint8_t *value = sqlite3_column_blob(stmt, 2);
		size_t size = (size_t)sqlite3_column_bytes(stmt, 2);
		rc = visit(row_name, index, value, size, arg);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(stmt);
	return rc;
}

int ks_attr_match(struct ks_store *store, const char *id, const char *name,
		  const uint8_t *value, size_t size)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	static const char sql[] =
		"SELECT 1 FROM object_attributes"
		" WHERE object_id = ?1 AND name = ?2 AND value = ?3 LIMIT 1";
	if (sqlite3_prepare_v2(ks_database(store), sql, -1, &stmt, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 3, size > 0 ? value : (const void *)"", (int)size, SQLITE_STATIC);

	int step = sqlite3_step(stmt);
	if (step == SQLITE_ROW)
		rc = 1;
	else if (step == SQLITE_DONE)
		rc = 0;
	else
		rc = -EIO;
	sqlite3_finalize(stmt);
	return rc;
}
