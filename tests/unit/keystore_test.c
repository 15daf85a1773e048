// SPDX-License-Identifier: Apache-2.0
// Embedded key store: lifecycle states, ownership, wrapping bound to the
// record, master key file permissions, audit chain and KEK rotation.

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <coffer/keystore.h>
#include <coffer/keystore_attributes.h>
#include <sqlite3.h>

static const struct ks_caller alice = { "spiffe://coffer/node/alice", false };
static const struct ks_caller bob = { "spiffe://coffer/node/bob", false };
static const struct ks_caller admin = { "admin", true };

struct fixture {
	char dir[64];
	struct ks_store *store;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ks_options options = { .create_master_key = true };
	snprintf(f->dir, sizeof(f->dir), "/tmp/coffer-ks-test.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	options.dir = f->dir;
	if (ks_open(&f->store, &options, NULL) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char command[128];
	ks_close(f->store);
	snprintf(command, sizeof(command), "rm -rf %s", f->dir);
	if (system(command) != 0)
		return -1;
	free(f);
	return 0;
}

static void create_get_roundtrip(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	uint8_t *key = NULL, *again = NULL;
	size_t size = 0, size_again = 0;

	assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 256, "volume/a", true, id, NULL), 0);
	assert_int_equal(ks_get_material(f->store, &alice, id, &key, &size, NULL), 0);
	assert_int_equal(size, 32);
	assert_int_equal(ks_get_material(f->store, &alice, id, &again, &size_again, NULL), 0);
	assert_memory_equal(key, again, 32);
	cf_secure_free(key);
	cf_secure_free(again);

	struct ks_object_info info;
	assert_int_equal(ks_get_info(f->store, &alice, id, &info, NULL), 0);
	assert_int_equal(info.state, KS_ACTIVE);
	assert_string_equal(info.owner, alice.identity);
	assert_string_equal(info.name, "volume/a");
}

static void other_owner_denied(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	uint8_t *key = NULL;
	size_t size = 0;
	struct cf_error err = { 0 };

	assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 128, NULL, true, id, NULL), 0);
	assert_int_equal(ks_get_material(f->store, &bob, id, &key, &size, &err), -EPERM);
	assert_null(key);
	assert_non_null(strstr(err.message, "another identity"));
	assert_int_equal(ks_get_material(f->store, &admin, id, &key, &size, NULL), 0);
	cf_secure_free(key);
}

static void destroy_needs_revoke(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	uint8_t *key = NULL;
	size_t size = 0;

	assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 256, NULL, true, id, NULL), 0);
	assert_int_equal(ks_destroy(f->store, &alice, id, NULL), -EBUSY);
	assert_int_equal(ks_revoke(f->store, &alice, id, KS_REVOKE_CESSATION_OF_OPERATION, NULL), 0);
	assert_int_equal(ks_destroy(f->store, &alice, id, NULL), 0);
	assert_int_equal(ks_get_material(f->store, &alice, id, &key, &size, NULL), -ENOKEY);
	assert_int_equal(ks_destroy(f->store, &alice, id, NULL), -ENOKEY);

	// The wrapped material is gone from the database, not only flagged.
	sqlite3_stmt *stmt = NULL;
	assert_int_equal(sqlite3_prepare_v2(ks_database(f->store),
					    "SELECT wrapped IS NULL FROM objects WHERE id = ?", -1,
					    &stmt, NULL), SQLITE_OK);
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), 1);
	sqlite3_finalize(stmt);
}

static void pre_active_then_activate(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	struct ks_object_info info;

	assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 192, NULL, false, id, NULL), 0);
	assert_int_equal(ks_get_info(f->store, &alice, id, &info, NULL), 0);
	assert_int_equal(info.state, KS_PRE_ACTIVE);
	assert_int_equal(ks_activate(f->store, &alice, id, NULL), 0);
	assert_int_equal(ks_activate(f->store, &alice, id, NULL), -EINVAL);
	assert_int_equal(ks_revoke(f->store, &alice, id, KS_REVOKE_KEY_COMPROMISE, NULL), 0);
	assert_int_equal(ks_get_info(f->store, &alice, id, &info, NULL), 0);
	assert_int_equal(info.state, KS_COMPROMISED);
	assert_int_equal(ks_destroy(f->store, &alice, id, NULL), 0);
	assert_int_equal(ks_get_info(f->store, &alice, id, &info, NULL), 0);
	assert_int_equal(info.state, KS_DESTROYED_COMPROMISED);
}

static void moved_wrapped_key_fails(void **state)
{
	struct fixture *f = *state;
	char a[KS_ID_MAX], b[KS_ID_MAX];
	uint8_t *key = NULL;
	size_t size = 0;
	char sql[256];

	assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 256, NULL, true, a, NULL), 0);
	assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 256, NULL, true, b, NULL), 0);
	snprintf(sql, sizeof(sql),
		 "UPDATE objects SET wrapped = (SELECT wrapped FROM objects WHERE id = '%s')"
		 " WHERE id = '%s'", a, b);
	assert_int_equal(sqlite3_exec(ks_database(f->store), sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(ks_get_material(f->store, &alice, b, &key, &size, NULL), -EBADMSG);
	assert_null(key);
}

static void register_secret_data(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	const uint8_t secret[] = "not a key, but secret";
	uint8_t *back = NULL;
	size_t size = 0;

	assert_int_equal(ks_register(f->store, &alice, KS_SECRET_DATA, KS_ALG_NONE, 0, secret,
				     sizeof(secret), "s", true, id, NULL), 0);
	assert_int_equal(ks_get_material(f->store, &alice, id, &back, &size, NULL), 0);
	assert_int_equal(size, sizeof(secret));
	assert_memory_equal(back, secret, sizeof(secret));
	cf_secure_free(back);
	assert_int_equal(ks_register(f->store, &alice, KS_SYMMETRIC_KEY, KS_ALG_AES, 256, secret,
				     5, NULL, true, id, NULL), -EINVAL);
}

static void audit_chain_detects_edit(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	int64_t records = 0, broken = 0;

	for (int i = 0; i < 5; i++)
		assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 256, NULL, true, id, NULL), 0);
	assert_int_equal(ks_audit_verify(f->store, &records, &broken, NULL), 0);
	assert_true(records >= 10);

	assert_int_equal(sqlite3_exec(ks_database(f->store),
				      "UPDATE audit SET actor = 'mallory' WHERE seq = 4", NULL, NULL,
				      NULL), SQLITE_OK);
	assert_int_equal(ks_audit_verify(f->store, &records, &broken, NULL), -EBADMSG);
	assert_int_equal(broken, 4);
}

static void audit_chain_detects_removal(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	int64_t broken = 0;

	for (int i = 0; i < 3; i++)
		assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 256, NULL, true, id, NULL), 0);
	assert_int_equal(sqlite3_exec(ks_database(f->store), "DELETE FROM audit WHERE seq = 2",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(ks_audit_verify(f->store, NULL, &broken, NULL), -EBADMSG);
	assert_int_equal(broken, 3);
}

static void audit_anchor_detects_truncation(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	struct cf_audit_point head, anchor, later;

	for (int i = 0; i < 3; i++)
		assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 256, NULL, true, id, NULL), 0);
	assert_int_equal(ks_audit_verify_anchored(f->store, NULL, &head, NULL, NULL, NULL), 0);
	assert_true(head.seq >= 3);
	anchor = head;
	assert_int_equal(ks_audit_verify_anchored(f->store, &anchor, &later, NULL, NULL, NULL), 0);
	assert_int_equal(later.seq, head.seq);

	anchor.hash[0] ^= 1;
	assert_int_equal(ks_audit_verify_anchored(f->store, &anchor, &later, NULL, NULL, NULL),
			 -EBADMSG);

	anchor = head;
	char sql[96];
	snprintf(sql, sizeof(sql), "DELETE FROM audit WHERE seq = %lld", (long long)head.seq);
	assert_int_equal(sqlite3_exec(ks_database(f->store), sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(ks_audit_verify(f->store, NULL, NULL, NULL), 0);
	assert_int_equal(ks_audit_verify_anchored(f->store, &anchor, &later, NULL, NULL, NULL),
			 -EBADMSG);
	assert_int_equal(later.seq, head.seq - 1);
}

static void rotate_keeps_keys(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	uint8_t *before = NULL, *after = NULL;
	size_t size = 0;
	int version = 0;
	int64_t count = 0;
	struct ks_object_info info;

	assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 256, NULL, true, id, NULL), 0);
	assert_int_equal(ks_get_material(f->store, &alice, id, &before, &size, NULL), 0);
	assert_int_equal(ks_rotate_kek(f->store, &alice, &version, &count, NULL), -EPERM);
	assert_int_equal(ks_rotate_kek(f->store, &admin, &version, &count, NULL), 0);
	assert_int_equal(version, 2);
	assert_int_equal(count, 1);
	assert_int_equal(ks_get_info(f->store, &alice, id, &info, NULL), 0);
	assert_int_equal(info.kek_version, 2);
	assert_int_equal(ks_get_material(f->store, &alice, id, &after, &size, NULL), 0);
	assert_memory_equal(before, after, 32);
	cf_secure_free(before);
	cf_secure_free(after);
}

static void master_key_mode_checked(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct ks_store *store = NULL;
	struct ks_options options = { .dir = f->dir };
	struct cf_error err = { 0 };
	struct stat st;

	snprintf(path, sizeof(path), "%s/master.key", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(ks_open(&store, &options, &err), -EPERM);
	assert_non_null(strstr(err.message, "chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(ks_open(&store, &options, NULL), 0);
	ks_close(store);
}

static void unsupported_size_rejected(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	struct cf_error err = { 0 };
	assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 100, NULL, true, id, &err), -EINVAL);
	assert_non_null(strstr(err.message, "100 bits"));
}

static int64_t audit_records(struct ks_store *store)
{
	int64_t records = 0;
	assert_int_equal(ks_audit_verify(store, &records, NULL, NULL), 0);
	return records;
}

static void get_and_free(struct ks_store *store, const struct ks_caller *caller, const char *id,
			 int expected)
{
	uint8_t *key = NULL;
	size_t size = 0;
	assert_int_equal(ks_get_material(store, caller, id, &key, &size, NULL), expected);
	cf_secure_free(key);
}

static void read_audit_batch_commits(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	sqlite3 *db = ks_database(f->store);

	assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 256, NULL, true, id, NULL), 0);
	int64_t before = audit_records(f->store);
	assert_int_equal(ks_batch_read_audit(f->store, 4, NULL), 0);

	// Three Gets stay in the open batch transaction.
	for (int i = 0; i < 3; i++)
		get_and_free(f->store, &alice, id, 0);
	assert_int_equal(sqlite3_get_autocommit(db), 0);
	assert_int_equal(audit_records(f->store), before + 3);

	// A denied Get commits the batch before it records the denial.
	get_and_free(f->store, &bob, id, -EPERM);
	assert_int_not_equal(sqlite3_get_autocommit(db), 0);
	assert_int_equal(audit_records(f->store), before + 4);

	// The fourth record of a batch commits it.
	for (int i = 0; i < 4; i++)
		get_and_free(f->store, &alice, id, 0);
	assert_int_not_equal(sqlite3_get_autocommit(db), 0);

	// A mutation commits an open batch first, then runs its own transaction.
	get_and_free(f->store, &alice, id, 0);
	assert_int_equal(sqlite3_get_autocommit(db), 0);
	assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 256, NULL, true, id, NULL), 0);
	assert_int_not_equal(sqlite3_get_autocommit(db), 0);
	assert_int_equal(audit_records(f->store), before + 4 + 4 + 1 + 2);

	// ks_flush_read_audit commits a partial batch.
	get_and_free(f->store, &alice, id, 0);
	assert_int_equal(ks_flush_read_audit(f->store, NULL), 0);
	assert_int_not_equal(sqlite3_get_autocommit(db), 0);
	assert_int_equal(audit_records(f->store), before + 12);
}

static void read_audit_batch_survives_close(void **state)
{
	struct fixture *f = *state;
	char id[KS_ID_MAX];
	struct ks_options options = { .dir = f->dir };

	assert_int_equal(ks_create_key(f->store, &alice, KS_ALG_AES, 256, NULL, true, id, NULL), 0);
	int64_t before = audit_records(f->store);
	assert_int_equal(ks_batch_read_audit(f->store, 100, NULL), 0);
	for (int i = 0; i < 5; i++)
		get_and_free(f->store, &alice, id, 0);

	// ks_close commits the open batch, so a new handle sees every record.
	ks_close(f->store);
	f->store = NULL;
	assert_int_equal(ks_open(&f->store, &options, NULL), 0);
	assert_int_equal(audit_records(f->store), before + 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(create_get_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(other_owner_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(destroy_needs_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(pre_active_then_activate, setup, teardown),
		cmocka_unit_test_setup_teardown(moved_wrapped_key_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(register_secret_data, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_chain_detects_edit, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_chain_detects_removal, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_anchor_detects_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(rotate_keeps_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(master_key_mode_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(unsupported_size_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(read_audit_batch_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(read_audit_batch_survives_close, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
