// SPDX-License-Identifier: Apache-2.0
// The volume manager: lifecycle, state and crash recovery of encrypted
// volumes.
//
// State lives in STATE_DIR/volumes.db (SQLite, WAL, synchronous=FULL). Each
// step of create and remove is recorded before it is taken, so a crash at
// any point leaves a row whose state says what to finish or undo:
//   creating, no key id   -> destroy keys made for the name, drop the row
//   creating, key id      -> roll back: destroy storage and key, drop the row
//   removing              -> finish: lock, destroy storage and key, drop row
//   mounted               -> lock (every volume starts locked), users cleared
// Afterwards storage directories without a row are deleted too, so there
// is never a volume without a key, a key without a volume, or a stale
// directory.
//
// Threads: none; the caller serialises calls (the storage manager runs
// them on its event loop).

#include "engine.h"

#include <coffer/crypto.h>

#include <ctype.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct engine_slot {
	const struct vol_engine_ops *ops;
	void *state;
	int probe_rc;
	char reason[160];
};

struct vol_manager {
	sqlite3 *db;
	struct vol_key_provider *keys;
	bool own_keys;
	struct engine_slot engines[8];
	size_t engine_count;
	char default_engine[32];
};

static const char manager_schema[] =
	"CREATE TABLE IF NOT EXISTS volumes ("
	" name TEXT PRIMARY KEY,"
	" state TEXT NOT NULL,"
	" engine TEXT NOT NULL,"
	" engine_reason TEXT NOT NULL DEFAULT '',"
	" key_id TEXT,"
	" shared INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL,"
	" path TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE IF NOT EXISTS users ("
	" volume TEXT NOT NULL REFERENCES volumes(name) ON DELETE CASCADE,"
	" container TEXT NOT NULL,"
	" uses INTEGER NOT NULL,"
	" PRIMARY KEY (volume, container));"
	"CREATE TABLE IF NOT EXISTS claims ("
	" volume TEXT NOT NULL REFERENCES volumes(name) ON DELETE CASCADE,"
	" container TEXT NOT NULL,"
	" PRIMARY KEY (volume, container));";

static const char *const state_names[] = { "creating", "ready", "mounted", "removing" };

const char *vol_state_name(enum vol_state state)
{
	return (unsigned)state < 4 ? state_names[state] : "unknown";
}

static enum vol_state parse_state(const char *name)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, state_names[i]) == 0)
			return (enum vol_state)i;
	}
	return VOL_REMOVING; // unknown text: finish the removal rather than guess
}

static const char known_options[] = "engine (fscrypt, fuse or auto), shared (true or false)";

const char *vol_known_options(void)
{
	return known_options;
}

int vol_name_validate(const char *name, struct cf_error *err)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > VOL_NAME_MAX)
		return cf_error_set(err, -EINVAL,
				    "invalid volume name: it must be 1 to %d characters long",
				    VOL_NAME_MAX);
	if (!isalnum((unsigned char)name[0]))
		return cf_error_set(err, -EINVAL,
				    "invalid volume name '%.*s': it must start with a letter or digit",
				    VOL_NAME_MAX, name);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return cf_error_set(err, -EINVAL,
					    "invalid volume name '%.*s': only letters, digits, '_', '.'"
					    " and '-' are allowed",
					    VOL_NAME_MAX, name);
	}
	return 0;
}

// ---- database helpers ------------------------------------------------------

static int exec_sql(struct vol_manager *manager, const char *sql, struct cf_error *err)
{
	char *message = NULL;
	if (sqlite3_exec(manager->db, sql, NULL, NULL, &message) != SQLITE_OK) {
		int rc = cf_error_set(err, -EIO, "volume database: %s",
				      message ? message : "unknown error");
		sqlite3_free(message);
		return rc;
	}
	return 0;
}

// Runs one statement with up to three text parameters (NULL binds NULL).
static int run_sql(struct vol_manager *manager, const char *sql, const char *a, const char *b,
		   const char *c, struct cf_error *err)
{
	sqlite3_stmt *stmt = NULL;
	const char *params[3] = { a, b, c };

	if (sqlite3_prepare_v2(manager->db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return cf_error_set(err, -EIO, "volume database: %s", sqlite3_errmsg(manager->db));
	for (int i = 0; i < sqlite3_bind_parameter_count(stmt) && i < 3; i++) {
		if (params[i] != NULL)
			sqlite3_bind_text(stmt, i + 1, params[i], -1, SQLITE_STATIC);
	}
	int step = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (step != SQLITE_DONE && step != SQLITE_ROW)
		return cf_error_set(err, -EIO, "volume database: %s", sqlite3_errmsg(manager->db));
	return 0;
}

// Sets the state; every state but mounted clears the mount path.
static int set_state(struct vol_manager *manager, const char *name, enum vol_state state,
		     struct cf_error *err)
{
	// A volume that is no longer mounted has no container using it.
	if (state != VOL_MOUNTED &&
	    run_sql(manager, "DELETE FROM claims WHERE volume = ?1", name, NULL, NULL, err) != 0)
		return err ? err->code : -EIO;
	return run_sql(manager,
		       "UPDATE volumes SET state = ?1,"
		       " path = CASE WHEN ?1 = 'mounted' THEN path ELSE '' END WHERE name = ?2",
		       vol_state_name(state), name, NULL, err);
}

// Reads the container ids of one table (users or claims) for a volume.
static size_t read_containers(struct vol_manager *manager, const char *sql, const char *volume,
			      char ids[VOL_MAX_USERS][VOL_CONTAINER_MAX + 1])
{
	sqlite3_stmt *stmt = NULL;
	size_t count = 0;

	if (sqlite3_prepare_v2(manager->db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(stmt, 1, volume, -1, SQLITE_STATIC);
	while (sqlite3_step(stmt) == SQLITE_ROW && count < VOL_MAX_USERS) {
		snprintf(ids[count], VOL_CONTAINER_MAX + 1, "%s",
			 (const char *)sqlite3_column_text(stmt, 0));
		count++;
	}
	sqlite3_finalize(stmt);
	return count;
}

static void count_users(struct vol_manager *manager, struct vol_info *info)
{
	info->users = read_containers(manager,
				      "SELECT container FROM users WHERE volume = ? ORDER BY container",
				      info->name, info->user_ids);
	info->claims = read_containers(manager,
				       "SELECT container FROM claims WHERE volume = ? ORDER BY container",
				       info->name, info->claim_ids);
}

// The container to name in messages: a claiming container (its real id
// under podman) when there is one, else the id the plugin API sent.
static const char *holder_id(const struct vol_info *info)
{
	if (info->claims > 0)
		return info->claim_ids[0];
	return info->users > 0 ? info->user_ids[0] : "(unknown)";
}

static void read_row(sqlite3_stmt *stmt, struct vol_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", (const char *)sqlite3_column_text(stmt, 0));
	info->state = parse_state((const char *)sqlite3_column_text(stmt, 1));
	snprintf(info->engine, sizeof(info->engine), "%s",
		 (const char *)sqlite3_column_text(stmt, 2));
	snprintf(info->engine_reason, sizeof(info->engine_reason), "%s",
		 (const char *)sqlite3_column_text(stmt, 3));
	if (sqlite3_column_type(stmt, 4) != SQLITE_NULL)
		snprintf(info->key_id, sizeof(info->key_id), "%s",
			 (const char *)sqlite3_column_text(stmt, 4));
	info->shared = sqlite3_column_int(stmt, 5) != 0;
	info->created = sqlite3_column_int64(stmt, 6);
	snprintf(info->path, sizeof(info->path), "%s", (const char *)sqlite3_column_text(stmt, 7));
}

#define VOLUME_COLUMNS "name, state, engine, engine_reason, key_id, shared, created, path"

static int load_volume(struct vol_manager *manager, const char *name, struct vol_info *info,
		       struct cf_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (sqlite3_prepare_v2(manager->db, "SELECT " VOLUME_COLUMNS " FROM volumes WHERE name = ?",
			       -1, &stmt, NULL) != SQLITE_OK)
		return cf_error_set(err, -EIO, "volume database: %s", sqlite3_errmsg(manager->db));
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	int step = sqlite3_step(stmt);
	if (step == SQLITE_ROW) {
		read_row(stmt, info);
		count_users(manager, info);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = cf_error_set(err, -ENOENT, "volume %s not found", name);
	} else {
		rc = cf_error_set(err, -EIO, "volume database: %s", sqlite3_errmsg(manager->db));
	}
	sqlite3_finalize(stmt);
	return rc;
}

// ---- engines ---------------------------------------------------------------

static struct engine_slot *find_engine(struct vol_manager *manager, const char *name)
{
	for (size_t i = 0; i < manager->engine_count; i++) {
		if (strcmp(manager->engines[i].ops->name, name) == 0)
			return &manager->engines[i];
	}
	return NULL;
}

static struct engine_slot *usable_engine(struct vol_manager *manager, const char *name,
					 struct cf_error *err)
{
	struct engine_slot *slot = find_engine(manager, name);
	if (slot == NULL) {
		cf_error_set(err, -EINVAL, "unknown engine '%s'", name);
		return NULL;
	}
	if (slot->state == NULL) {
		cf_error_set(err, slot->probe_rc ? slot->probe_rc : -EOPNOTSUPP,
			     "engine %s is not available on this host: %s", name, slot->reason);
		return NULL;
	}
	return slot;
}

// Chooses the engine for engine=auto: fscrypt where the kernel's AES-XTS
// is hardware-accelerated, else the FUSE engine when it is available, else
// whatever works.
static struct engine_slot *choose_auto(struct vol_manager *manager, char *reason, size_t size,
				       struct cf_error *err)
{
	char driver[128];
	bool fast = vol_kernel_xts_accelerated(driver, sizeof(driver));
	struct engine_slot *fscrypt = find_engine(manager, "fscrypt");
	struct engine_slot *fuse = find_engine(manager, "fuse");
	bool fscrypt_ok = fscrypt != NULL && fscrypt->state != NULL;
	bool fuse_ok = fuse != NULL && fuse->state != NULL;

	if (fscrypt_ok && (fast || !fuse_ok)) {
		snprintf(reason, size, "auto: kernel AES-XTS driver %s is %s%s", driver,
			 fast ? "hardware-accelerated" : "software",
			 fast ? "" : ", and the fuse engine is not available");
		return fscrypt;
	}
	if (fuse_ok) {
		snprintf(reason, size, "auto: kernel AES-XTS driver %s is %s", driver,
			 fscrypt_ok ? "software, so user-space AES-GCM is faster" :
				      "unusable for fscrypt here");
		return fuse;
	}
	cf_error_set(err, -EOPNOTSUPP, "no encryption engine is available on this host");
	return NULL;
}

static int open_engines(struct vol_manager *manager, const struct vol_config *config,
			struct cf_error *err)
{
	const struct vol_engine_ops *const *list = vol_engine_list();

	for (size_t i = 0; list[i] != NULL && manager->engine_count < 8; i++) {
		struct engine_slot *slot = &manager->engines[manager->engine_count++];
		struct cf_error probe_err = { 0 };

		slot->ops = list[i];
		slot->probe_rc = list[i]->probe(config, slot->reason, sizeof(slot->reason),
						&probe_err);
		if (slot->probe_rc == 0)
			slot->probe_rc = list[i]->open(&slot->state, config, &probe_err);
		if (slot->probe_rc != 0) {
			snprintf(slot->reason, sizeof(slot->reason), "%s", probe_err.message);
			slot->state = NULL;
			// A pool named on purpose that cannot work is a configuration
			// error, not a reason to fall back to another engine quietly.
			if (config->pool_path != NULL && strcmp(list[i]->name, "fscrypt") == 0)
				return cf_error_set(err, slot->probe_rc, "the fscrypt pool %s given"
						    " with --pool is unusable: %s; give a mounted ext4"
						    " made with '-O encrypt', or leave out --pool to"
						    " use an image in the state directory",
						    config->pool_path, probe_err.message);
			cf_log(CF_LOG_WARN, "volume.engine_unavailable", "engine=%s error=\"%s\"",
			       list[i]->name, probe_err.message);
			continue;
		}
		cf_log(CF_LOG_INFO, "volume.engine_ready", "engine=%s detail=\"%s\"", list[i]->name,
		       slot->reason);
	}

	for (size_t i = 0; i < manager->engine_count; i++) {
		if (manager->engines[i].state != NULL)
			return 0;
	}
	return cf_error_set(err, -EOPNOTSUPP, "no encryption engine is available: %s",
			    manager->engine_count ? manager->engines[0].reason : "none built");
}

static void fill_status(struct vol_manager *manager, struct vol_info *info)
{
	struct engine_slot *slot = find_engine(manager, info->engine);
	if (slot != NULL && slot->state != NULL)
		slot->ops->status(slot->state, info->name, info->status, sizeof(info->status));
	else
		snprintf(info->status, sizeof(info->status), "engine unavailable");
}

// ---- recovery ----------------------------------------------------------------

static int finish_removal(struct vol_manager *manager, const struct vol_info *info,
			  struct cf_error *err)
{
	struct engine_slot *slot = find_engine(manager, info->engine);
	int rc;

	if (slot != NULL && slot->state != NULL) {
		slot->ops->lock(slot->state, info->name, NULL);
		rc = slot->ops->destroy(slot->state, info->name, err);
		if (rc != 0)
			return rc;
	} else if (slot == NULL || slot->state == NULL) {
		return cf_error_set(err, -EOPNOTSUPP,
				    "cannot delete volume %s: engine %s is not available",
				    info->name, info->engine);
	}

	if (info->key_id[0] != '\0') {
		rc = manager->keys->ops->destroy(manager->keys->state, info->key_id, err);
		if (rc != 0) {
			cf_error_prefix(err, "volume %s: key %s could not be destroyed yet; the"
					" removal stays pending and is retried",
					info->name, info->key_id);
			return rc;
		}
	}
	if (manager->keys->ops->destroy_unrecorded != NULL) {
		rc = manager->keys->ops->destroy_unrecorded(manager->keys->state, info->name, NULL,
							    err);
		if (rc != 0)
			return rc;
	}
	rc = run_sql(manager, "DELETE FROM volumes WHERE name = ?", info->name, NULL, NULL, err);
	if (rc == 0)
		cf_log(CF_LOG_INFO, "volume.removed", "volume=%s key_id=%s", info->name,
		       info->key_id[0] ? info->key_id : "-");
	return rc;
}

struct volume_list {
	struct vol_info *items;
	size_t count;
	size_t cap;
};

static int collect_volume(const struct vol_info *info, void *arg)
{
	struct volume_list *list = arg;
	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		struct vol_info *grown = realloc(list->items, cap * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		list->items = grown;
		list->cap = cap;
	}
	list->items[list->count++] = *info;
	return 0;
}

static int delete_orphan_storage(const char *name, void *arg)
{
	struct engine_slot *slot = ((void **)arg)[0];
	struct vol_manager *manager = ((void **)arg)[1];
	struct vol_info info;

	if (load_volume(manager, name, &info, NULL) == 0)
		return 0;
	cf_log(CF_LOG_WARN, "volume.recover_orphan_storage", "engine=%s volume=%s",
	       slot->ops->name, name);
	slot->ops->lock(slot->state, name, NULL);
	slot->ops->destroy(slot->state, name, NULL);
	return 0;
}

static int recover(struct vol_manager *manager, struct cf_error *err)
{
	struct volume_list list = { 0 };
	int rc = vol_foreach(manager, collect_volume, &list, err);

	for (size_t i = 0; rc == 0 && i < list.count; i++) {
		struct vol_info *info = &list.items[i];
		struct cf_error step = { 0 };
		int step_rc = 0;

		switch (info->state) {
		case VOL_CREATING:
			cf_log(CF_LOG_WARN, "volume.recover_rollback_create", "volume=%s key_id=%s",
			       info->name, info->key_id[0] ? info->key_id : "-");
			step_rc = set_state(manager, info->name, VOL_REMOVING, &step);
			if (step_rc == 0)
				step_rc = finish_removal(manager, info, &step);
			break;
		case VOL_REMOVING:
			cf_log(CF_LOG_WARN, "volume.recover_finish_remove", "volume=%s", info->name);
			step_rc = finish_removal(manager, info, &step);
			break;
		case VOL_MOUNTED:
		case VOL_READY: {
			struct engine_slot *slot = find_engine(manager, info->engine);
			if (slot != NULL && slot->state != NULL)
				step_rc = slot->ops->lock(slot->state, info->name, &step);
			if (step_rc == 0) {
				run_sql(manager, "DELETE FROM users WHERE volume = ?", info->name,
					NULL, NULL, NULL);
				step_rc = set_state(manager, info->name, VOL_READY, &step);
			}
			break;
		}
		}
		if (step_rc != 0)
			cf_log(CF_LOG_ERROR, "volume.recover_failed", "volume=%s error=\"%s\"",
			       info->name, cf_error_message(&step, step_rc));
	}
	free(list.items);
	if (rc != 0)
		return rc;

	for (size_t i = 0; i < manager->engine_count; i++) {
		struct engine_slot *slot = &manager->engines[i];
		void *arg[2] = { slot, manager };
		if (slot->state != NULL && slot->ops->foreach != NULL)
			slot->ops->foreach(slot->state, delete_orphan_storage, arg);
	}
	return 0;
}

// ---- public API ----------------------------------------------------------------

int vol_manager_open(struct vol_manager **out, const struct vol_config *config,
		     struct cf_error *err)
{
	int rc;
	char path[VOL_PATH_MAX];
	struct vol_manager *manager = calloc(1, sizeof(*manager));
	if (manager == NULL)
		return cf_error_set(err, -ENOMEM, "out of memory");

	snprintf(manager->default_engine, sizeof(manager->default_engine), "%s",
		 config->default_engine ? config->default_engine : "auto");
	rc = cf_mkdir_p(config->state_dir, 0700, err);
	if (rc != 0)
		goto fail;

	if (config->keys != NULL) {
		manager->keys = config->keys;
	} else {
		snprintf(path, sizeof(path), "%s/keys", config->state_dir);
		rc = vol_key_provider_embedded(&manager->keys, path, err);
		if (rc != 0)
			goto fail;
		manager->own_keys = true;
	}

	snprintf(path, sizeof(path), "%s/volumes.db", config->state_dir);
	if (sqlite3_open_v2(path, &manager->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		rc = cf_error_set(err, -EIO, "cannot open volume database %s", path);
		goto fail;
	}
	sqlite3_busy_timeout(manager->db, 5000);
	rc = exec_sql(manager, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			       " PRAGMA foreign_keys=ON;", err);
	if (rc == 0)
		rc = exec_sql(manager, manager_schema, err);
	if (rc == 0)
		rc = open_engines(manager, config, err);
	if (rc == 0)
		rc = recover(manager, err);
	if (rc != 0)
		goto fail;

	*out = manager;
	return 0;

fail:
	vol_manager_close(manager);
	return rc;
}

void vol_manager_close(struct vol_manager *manager)
{
	if (manager == NULL)
		return;
	if (manager->db != NULL)
		vol_lock_all(manager, NULL);
	for (size_t i = 0; i < manager->engine_count; i++) {
		if (manager->engines[i].state != NULL)
			manager->engines[i].ops->close(manager->engines[i].state);
	}
	sqlite3_close(manager->db);
	if (manager->own_keys)
		vol_key_provider_free(manager->keys);
	free(manager);
}

struct parsed_options {
	const char *engine;
	bool shared;
};

static int parse_options(const struct vol_option *options, size_t count,
			 struct parsed_options *parsed, struct cf_error *err)
{
	for (size_t i = 0; i < count; i++) {
		const char *key = options[i].key, *value = options[i].value ? options[i].value : "";
		if (strcmp(key, "engine") == 0) {
			if (strcmp(value, "fscrypt") != 0 && strcmp(value, "fuse") != 0 &&
			    strcmp(value, "auto") != 0)
				return cf_error_set(err, -EINVAL,
						    "invalid value '%s' for option engine; use"
						    " fscrypt, fuse or auto",
						    value);
			parsed->engine = value;
		} else if (strcmp(key, "shared") == 0) {
			if (strcmp(value, "true") == 0)
				parsed->shared = true;
			else if (strcmp(value, "false") == 0)
				parsed->shared = false;
			else
				return cf_error_set(err, -EINVAL,
						    "invalid value '%s' for option shared; use true"
						    " or false",
						    value);
		} else {
			return cf_error_set(err, -EINVAL, "unknown volume option '%s'; known options: %s",
					    key, known_options);
		}
	}
	return 0;
}

int vol_create(struct vol_manager *manager, const char *name, const struct vol_option *options,
	       size_t option_count, struct cf_error *err)
{
	struct parsed_options parsed = { .engine = manager->default_engine };
	struct vol_info existing;
	char reason[160] = "", key_id[64] = "";
	uint8_t *key = NULL;
	size_t key_size = 0;
	int rc;

	rc = vol_name_validate(name, err);
	if (rc == 0)
		rc = parse_options(options, option_count, &parsed, err);
	if (rc != 0)
		return rc;
	if (load_volume(manager, name, &existing, NULL) == 0)
		return cf_error_set(err, -EEXIST, "volume %s already exists", name);

	struct engine_slot *slot;
	if (strcmp(parsed.engine, "auto") == 0) {
		slot = choose_auto(manager, reason, sizeof(reason), err);
	} else {
		slot = usable_engine(manager, parsed.engine, err);
		snprintf(reason, sizeof(reason), "requested with engine=%s", parsed.engine);
	}
	if (slot == NULL)
		return err ? err->code : -EOPNOTSUPP;

	// Step 1: the intent record, before any key exists.
	rc = run_sql(manager,
		     "INSERT INTO volumes(name, state, engine, engine_reason, created)"
		     " VALUES (?1, 'creating', ?2, ?3, unixepoch())",
		     name, slot->ops->name, reason, err);
	if (rc == 0 && parsed.shared)
		rc = run_sql(manager, "UPDATE volumes SET shared = 1 WHERE name = ?1", name, NULL,
			     NULL, err);
	if (rc != 0)
		return rc;

	// Step 2: the key, then its id in the record.
	rc = manager->keys->ops->create(manager->keys->state, name, key_id, err);
	if (rc == 0)
		rc = run_sql(manager, "UPDATE volumes SET key_id = ?1 WHERE name = ?2", key_id, name,
			     NULL, err);
	if (rc == 0)
		rc = manager->keys->ops->get(manager->keys->state, key_id, &key, &key_size, err);

	// Step 3: the engine's storage; then the volume is ready.
	if (rc == 0)
		rc = slot->ops->prepare(slot->state, name, key, key_size, err);
	cf_secure_free(key);
	if (rc == 0)
		rc = set_state(manager, name, VOL_READY, err);

	if (rc != 0) {
		struct vol_info info;
		struct cf_error undo = { 0 };
		cf_log(CF_LOG_ERROR, "volume.create_failed", "volume=%s error=\"%s\"", name,
		       cf_error_message(err, rc));
		if (load_volume(manager, name, &info, NULL) == 0 &&
		    set_state(manager, name, VOL_REMOVING, &undo) == 0)
			finish_removal(manager, &info, &undo);
		return rc;
	}
	cf_log(CF_LOG_INFO, "volume.created", "volume=%s engine=%s key_id=%s shared=%s", name,
	       slot->ops->name, key_id, parsed.shared ? "true" : "false");
	return 0;
}

int vol_mount(struct vol_manager *manager, const char *name, const char *container_id,
	      char path[VOL_PATH_MAX], struct cf_error *err)
{
	struct vol_info info;
	uint8_t *key = NULL;
	size_t key_size = 0;
	int rc;

	if (container_id == NULL || container_id[0] == '\0' || strlen(container_id) > VOL_CONTAINER_MAX)
		return cf_error_set(err, -EINVAL, "mount of volume %s needs a container id of 1 to %d"
				    " characters", name, VOL_CONTAINER_MAX);
	rc = vol_name_validate(name, err);
	if (rc == 0)
		rc = load_volume(manager, name, &info, err);
	if (rc != 0)
		return rc;
	if (info.state != VOL_READY && info.state != VOL_MOUNTED)
		return cf_error_set(err, -EBUSY, "volume %s is %s and cannot be mounted", name,
				    vol_state_name(info.state));

	struct engine_slot *slot = usable_engine(manager, info.engine, err);
	if (slot == NULL)
		return err ? err->code : -EOPNOTSUPP;

	bool same_user = false;
	for (size_t i = 0; i < info.users; i++) {
		if (strcmp(info.user_ids[i], container_id) == 0)
			same_user = true;
	}
	if (info.users > 0 && !same_user && !info.shared)
		return cf_error_set(err, -EBUSY,
				    "volume %s is already mounted by container %.64s; coffer volumes"
				    " are never shared between containers unless created with -o"
				    " shared=true",
				    name, holder_id(&info));
	if (!same_user && info.users >= VOL_MAX_USERS)
		return cf_error_set(err, -EUSERS, "volume %s already has %d users", name,
				    VOL_MAX_USERS);

	if (info.state == VOL_MOUNTED && info.path[0] != '\0') {
		// Already unlocked for another use: hand out the same directory.
		snprintf(path, VOL_PATH_MAX, "%s", info.path);
	} else {
		rc = manager->keys->ops->get(manager->keys->state, info.key_id, &key, &key_size, err);
		if (rc == 0)
			rc = slot->ops->unlock(slot->state, name, key, key_size, path, err);
		cf_secure_free(key);
		if (rc != 0) {
			cf_error_prefix(err, "cannot mount volume %s", name);
			return rc;
		}
	}

	rc = run_sql(manager,
		     "INSERT INTO users(volume, container, uses) VALUES (?1, ?2, 1)"
		     " ON CONFLICT(volume, container) DO UPDATE SET uses = uses + 1",
		     name, container_id, NULL, err);
	if (rc == 0)
		rc = run_sql(manager, "UPDATE volumes SET state = 'mounted', path = ?1 WHERE name = ?2",
			     path, name, NULL, err);
	if (rc == 0)
		cf_log(CF_LOG_INFO, "volume.mounted", "volume=%s container=%.64s key_id=%s", name,
		       container_id, info.key_id);
	return rc;
}

int vol_unmount(struct vol_manager *manager, const char *name, const char *container_id,
		struct cf_error *err)
{
	struct vol_info info;
	int rc = vol_name_validate(name, err);
	if (rc == 0)
		rc = load_volume(manager, name, &info, err);
	if (rc != 0)
		return rc;

	bool known = false;
	for (size_t i = 0; i < info.users; i++) {
		if (strcmp(info.user_ids[i], container_id ? container_id : "") == 0)
			known = true;
	}
	if (!known && info.users > 0)
		return cf_error_set(err, -EINVAL, "volume %s is not mounted by container %.64s", name,
				    container_id ? container_id : "(none)");

	if (known) {
		rc = run_sql(manager, "UPDATE users SET uses = uses - 1 WHERE volume = ?1 AND container = ?2",
			     name, container_id, NULL, err);
		if (rc == 0)
			rc = run_sql(manager, "DELETE FROM users WHERE volume = ?1 AND container = ?2"
					      " AND uses <= 0", name, container_id, NULL, err);
		if (rc != 0)
			return rc;
		load_volume(manager, name, &info, NULL);
	}
	if (info.users > 0) {
		cf_log(CF_LOG_INFO, "volume.unmounted", "volume=%s container=%.64s remaining_users=%zu",
		       name, container_id, info.users);
		return 0;
	}

	struct engine_slot *slot = usable_engine(manager, info.engine, err);
	if (slot == NULL)
		return err ? err->code : -EOPNOTSUPP;
	rc = slot->ops->lock(slot->state, name, err);
	if (rc != 0) {
		// Keep it marked mounted so inspect and a later unmount or
		// shutdown try again.
		cf_log(CF_LOG_ERROR, "volume.lock_failed", "volume=%s error=\"%s\"", name,
		       cf_error_message(err, rc));
		return rc;
	}
	rc = set_state(manager, name, VOL_READY, err);
	if (rc == 0)
		cf_log(CF_LOG_INFO, "volume.locked", "volume=%s container=%.64s", name,
		       container_id ? container_id : "-");
	return rc;
}

int vol_remove(struct vol_manager *manager, const char *name, struct cf_error *err)
{
	struct vol_info info;
	int rc = vol_name_validate(name, err);
	if (rc == 0)
		rc = load_volume(manager, name, &info, err);
	if (rc != 0)
		return rc;
	if (info.users > 0)
		return cf_error_set(err, -EBUSY,
				    "volume %s is mounted by container %.64s; stop the container"
				    " before removing the volume",
				    name, holder_id(&info));

	rc = set_state(manager, name, VOL_REMOVING, err);
	if (rc == 0)
		rc = finish_removal(manager, &info, err);
	return rc;
}

int vol_retry_pending(struct vol_manager *manager, struct cf_error *err)
{
	struct volume_list list = { 0 };
	int pending = 0;
	int rc = vol_foreach(manager, collect_volume, &list, err);

	for (size_t i = 0; rc == 0 && i < list.count; i++) {
		if (list.items[i].state != VOL_REMOVING)
			continue;
		struct cf_error step = { 0 };
		if (finish_removal(manager, &list.items[i], &step) != 0) {
			pending++;
			cf_log(CF_LOG_WARN, "volume.remove_pending", "volume=%s error=\"%s\"",
			       list.items[i].name, step.message);
		}
	}
	free(list.items);
	return rc != 0 ? rc : pending;
}

int vol_inspect(struct vol_manager *manager, const char *name, struct vol_info *info,
		struct cf_error *err)
{
	int rc = vol_name_validate(name, err);
	if (rc == 0)
		rc = load_volume(manager, name, info, err);
	if (rc != 0)
		return rc;

	fill_status(manager, info);
	return 0;
}

int vol_foreach(struct vol_manager *manager, int (*visit)(const struct vol_info *info, void *arg),
		void *arg, struct cf_error *err)
{
	sqlite3_stmt *stmt = NULL;
	struct vol_info info;
	int rc = 0;

	if (sqlite3_prepare_v2(manager->db, "SELECT " VOLUME_COLUMNS " FROM volumes ORDER BY name",
			       -1, &stmt, NULL) != SQLITE_OK)
		return cf_error_set(err, -EIO, "volume database: %s", sqlite3_errmsg(manager->db));
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		read_row(stmt, &info);
		count_users(manager, &info);
		fill_status(manager, &info);
		rc = visit(&info, arg);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(stmt);
	return rc;
}

int vol_lock_all(struct vol_manager *manager, struct cf_error *err)
{
	struct volume_list list = { 0 };
	int first = vol_foreach(manager, collect_volume, &list, err);

	for (size_t i = 0; i < list.count; i++) {
		struct vol_info *info = &list.items[i];
		if (info->state != VOL_MOUNTED)
			continue;
		struct engine_slot *slot = find_engine(manager, info->engine);
		if (slot == NULL || slot->state == NULL)
			continue;
		struct cf_error step = { 0 };
		int rc = slot->ops->lock(slot->state, info->name, &step);
		if (rc == 0) {
			run_sql(manager, "DELETE FROM users WHERE volume = ?", info->name, NULL, NULL,
				NULL);
			set_state(manager, info->name, VOL_READY, NULL);
			cf_log(CF_LOG_INFO, "volume.locked", "volume=%s reason=shutdown", info->name);
		} else {
			cf_log(CF_LOG_ERROR, "volume.lock_failed", "volume=%s error=\"%s\"", info->name,
			       step.message);
			if (first == 0)
				first = cf_error_set(err, rc, "%s", step.message);
		}
	}
	free(list.items);
	return first;
}

// Finds the volume whose directory is path, comparing resolved paths so
// that symlinks or doubled slashes in a runtime's mount list still match.
// Returns 1 and the name for a mounted volume, 2 and the name for a volume
// that is not mounted but whose engine would serve it there, and 0 when
// path is not a coffer volume.
static int volume_at_path(struct vol_manager *manager, const char *path,
			  char name[VOL_NAME_MAX + 1])
{
	char wanted[VOL_PATH_MAX], candidate[VOL_PATH_MAX], engine_path[VOL_PATH_MAX];
	sqlite3_stmt *stmt = NULL;
	int found = 0;

	if (realpath(path, wanted) == NULL)
		return 0;
	if (sqlite3_prepare_v2(manager->db, "SELECT name, path, state, engine FROM volumes",
			       -1, &stmt, NULL) != SQLITE_OK)
		return -EIO;
	while (found != 1 && sqlite3_step(stmt) == SQLITE_ROW) {
		const char *volume = (const char *)sqlite3_column_text(stmt, 0);
		const char *volume_path = (const char *)sqlite3_column_text(stmt, 1);
		const char *state = (const char *)sqlite3_column_text(stmt, 2);
		const char *engine = (const char *)sqlite3_column_text(stmt, 3);
		bool mounted = state != NULL && strcmp(state, "mounted") == 0 &&
			       volume_path != NULL && volume_path[0] != '\0';
		if (mounted && realpath(volume_path, candidate) != NULL &&
		    strcmp(candidate, wanted) == 0) {
			snprintf(name, VOL_NAME_MAX + 1, "%s", volume);
			found = 1;
			continue;
		}

		struct engine_slot *slot = engine != NULL ? find_engine(manager, engine) : NULL;
		if (found == 0 && slot != NULL && slot->state != NULL && slot->ops->path != NULL) {
			slot->ops->path(slot->state, volume, engine_path);
			if (realpath(engine_path, candidate) != NULL && strcmp(candidate, wanted) == 0) {
				snprintf(name, VOL_NAME_MAX + 1, "%s", volume);
				found = mounted ? 1 : 2;
			}
		}
	}
	sqlite3_finalize(stmt);
	return found;
}

// Returns the first container other than container_id that claims volume.
static bool other_claim(struct vol_manager *manager, const char *volume, const char *container_id,
			char other[VOL_CONTAINER_MAX + 1])
{
	sqlite3_stmt *stmt = NULL;
	bool found = false;

	if (sqlite3_prepare_v2(manager->db,
			       "SELECT container FROM claims WHERE volume = ?1 AND container <> ?2"
			       " ORDER BY container LIMIT 1",
			       -1, &stmt, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(stmt, 1, volume, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, container_id, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		snprintf(other, VOL_CONTAINER_MAX + 1, "%s", (const char *)sqlite3_column_text(stmt, 0));
		found = true;
	}
	sqlite3_finalize(stmt);
	return found;
}

int vol_claim(struct vol_manager *manager, const char *container_id, const char *const *paths,
	      size_t count, struct cf_error *err)
{
	char (*names)[VOL_NAME_MAX + 1] = calloc(count ? count : 1, sizeof(*names));
	size_t found = 0;
	int rc = 0;

	if (names == NULL)
		return cf_error_set(err, -ENOMEM, "out of memory");
	if (container_id == NULL || container_id[0] == '\0' ||
	    strlen(container_id) > VOL_CONTAINER_MAX) {
		rc = cf_error_set(err, -EINVAL, "a claim needs a container id of 1 to %d characters",
				  VOL_CONTAINER_MAX);
		goto out;
	}

	// Check every volume first, so a rejected claim records nothing.
	for (size_t i = 0; i < count; i++) {
		struct vol_info info;
		char other[VOL_CONTAINER_MAX + 1];

		int match = volume_at_path(manager, paths[i], names[found]);
		if (match < 0) {
			rc = cf_error_set(err, match, "volume database: %s", sqlite3_errmsg(manager->db));
			goto out;
		}
		if (match == 0)
			continue;
		if (match == 2) {
			// The runtime still has the volume's directory from an earlier
			// mount, but coffer does not serve it: the container would write
			// plaintext to the bare directory underneath.
			rc = cf_error_set(err, -ENOTCONN,
					  "volume %s is not mounted by coffer (its storage manager"
					  " restarted or an unmount failed), so the container would"
					  " see an unencrypted directory; stop every container that"
					  " uses it so that the runtime unmounts it, then start them"
					  " again", names[found]);
			cf_log(CF_LOG_WARN, "volume.claim_rejected", "volume=%s container=%.64s"
			       " reason=not_mounted", names[found], container_id);
			goto out;
		}
		if (load_volume(manager, names[found], &info, err) != 0) {
			rc = err ? err->code : -EIO;
			goto out;
		}
		if (!info.shared && other_claim(manager, info.name, container_id, other)) {
			rc = cf_error_set(err, -EBUSY,
					  "volume %s is already used by container %.64s; coffer volumes"
					  " are never shared between containers unless created with -o"
					  " shared=true",
					  info.name, other);
			cf_log(CF_LOG_WARN, "volume.claim_rejected", "volume=%s container=%.64s holder=%.64s",
			       info.name, container_id, other);
			goto out;
		}
		found++;
	}

	for (size_t i = 0; i < found && rc == 0; i++) {
		rc = run_sql(manager, "INSERT OR IGNORE INTO claims(volume, container) VALUES (?1, ?2)",
			     names[i], container_id, NULL, err);
		if (rc == 0)
			cf_log(CF_LOG_INFO, "volume.claimed", "volume=%s container=%.64s", names[i],
			       container_id);
	}

out:
	free(names);
	return rc;
}

int vol_release(struct vol_manager *manager, const char *container_id, struct cf_error *err)
{
	if (container_id == NULL || container_id[0] == '\0')
		return cf_error_set(err, -EINVAL, "a release needs a container id");
	int rc = run_sql(manager, "DELETE FROM claims WHERE container = ?1", container_id, NULL, NULL,
			 err);
	if (rc == 0)
		cf_log(CF_LOG_INFO, "volume.released", "container=%.64s", container_id);
	return rc;
}
