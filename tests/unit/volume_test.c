// SPDX-License-Identifier: Apache-2.0
// Volume manager on the real fscrypt engine: a small ext4 pool image is
// loop-mounted in a temporary state directory. Needs root; without it the
// test skips, or fails when COFFER_REQUIRE_PRIVILEGED=1.

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include <coffer/volume.h>
#include <sqlite3.h>

struct fixture {
	char dir[64];
	struct vol_config config;
	struct vol_manager *manager;
};

static struct fixture fx;

static int open_manager(void)
{
	return vol_manager_open(&fx.manager, &fx.config, NULL);
}

static int setup_group(void **state)
{
	(void)state;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/coffer-vol-test.XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	fx.config.state_dir = fx.dir;
	fx.config.pool_size = 256ull << 20;
	fx.config.default_engine = "fscrypt";
	struct cf_error err = { 0 };
	int rc = vol_manager_open(&fx.manager, &fx.config, &err);
	if (rc != 0)
		fprintf(stderr, "vol_manager_open: %s\n", cf_error_message(&err, rc));
	return rc;
}

static int teardown_group(void **state)
{
	(void)state;
	char command[160];
	vol_manager_close(fx.manager);
	snprintf(command, sizeof(command), "rm -rf %s", fx.dir);
	return system(command) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void names_validated(void **state)
{
	(void)state;
	assert_int_equal(vol_name_validate("db-1.data_x", NULL), 0);
	assert_int_equal(vol_name_validate("", NULL), -EINVAL);
	assert_int_equal(vol_name_validate("../etc", NULL), -EINVAL);
	assert_int_equal(vol_name_validate("-x", NULL), -EINVAL);
	assert_int_equal(vol_name_validate("a/b", NULL), -EINVAL);
	assert_int_equal(vol_name_validate(".hidden", NULL), -EINVAL);
	char long_name[140];
	memset(long_name, 'a', 129);
	long_name[129] = '\0';
	assert_int_equal(vol_name_validate(long_name, NULL), -EINVAL);
	long_name[128] = '\0';
	assert_int_equal(vol_name_validate(long_name, NULL), 0);
}

static void unknown_option_lists_known(void **state)
{
	(void)state;
	struct vol_option options[] = { { "size", "10G" } };
	struct cf_error err = { 0 };
	assert_int_equal(vol_create(fx.manager, "opt", options, 1, &err), -EINVAL);
	assert_non_null(strstr(err.message, "size"));
	assert_non_null(strstr(err.message, "engine"));
	assert_non_null(strstr(err.message, "shared"));
	struct vol_info info;
	assert_int_equal(vol_inspect(fx.manager, "opt", &info, NULL), -ENOENT);
}

static void lifecycle_locks_and_shreds(void **state)
{
	(void)state;
	char path[VOL_PATH_MAX], file[VOL_PATH_MAX + 32];
	struct vol_info info;
	struct cf_error err = { 0 };

	assert_int_equal(vol_create(fx.manager, "life", NULL, 0, &err), 0);
	assert_int_equal(vol_create(fx.manager, "life", NULL, 0, NULL), -EEXIST);
	assert_int_equal(vol_inspect(fx.manager, "life", &info, NULL), 0);
	assert_int_equal(info.state, VOL_READY);
	assert_string_equal(info.status, "locked");
	assert_string_equal(info.engine, "fscrypt");

	assert_int_equal(vol_mount(fx.manager, "life", "container-a", path, &err), 0);
	snprintf(file, sizeof(file), "%s/secret-name.txt", path);
	write_file(file, "hello from container a\n");
	assert_int_equal(vol_inspect(fx.manager, "life", &info, NULL), 0);
	assert_int_equal(info.state, VOL_MOUNTED);
	assert_string_equal(info.status, "unlocked");
	assert_int_equal(info.users, 1);

	// A second container may not share it.
	char other[VOL_PATH_MAX];
	memset(&err, 0, sizeof(err));
	assert_int_equal(vol_mount(fx.manager, "life", "container-b", other, &err), -EBUSY);
	assert_non_null(strstr(err.message, "container-a"));
	assert_int_equal(vol_remove(fx.manager, "life", NULL), -EBUSY);

	assert_int_equal(vol_unmount(fx.manager, "life", "container-a", NULL), 0);
	assert_int_equal(vol_inspect(fx.manager, "life", &info, NULL), 0);
	assert_int_equal(info.state, VOL_READY);
	assert_string_equal(info.status, "locked");

	// Locked: the plaintext name is gone and content reads fail.
	assert_int_equal(access(file, F_OK), -1);
	DIR *dir = opendir(path);
	assert_non_null(dir);
	struct dirent *entry;
	int files = 0;
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		files++;
		assert_null(strstr(entry->d_name, "secret-name"));
		char cipher[VOL_PATH_MAX + 300];
		snprintf(cipher, sizeof(cipher), "%s/%s", path, entry->d_name);
		int fd = open(cipher, O_RDONLY);
		assert_int_equal(fd, -1);
		assert_int_equal(errno, ENOKEY);
	}
	closedir(dir);
	assert_int_equal(files, 1);

	// Remount: same data back.
	assert_int_equal(vol_mount(fx.manager, "life", "container-c", path, NULL), 0);
	char buf[64] = "";
	FILE *f = fopen(file, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "hello from container a\n");
	assert_int_equal(vol_unmount(fx.manager, "life", "container-c", NULL), 0);

	// Remove: directory gone and key destroyed.
	assert_int_equal(vol_inspect(fx.manager, "life", &info, NULL), 0);
	char key_id[64];
	snprintf(key_id, sizeof(key_id), "%s", info.key_id);
	assert_int_equal(vol_remove(fx.manager, "life", NULL), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(vol_inspect(fx.manager, "life", &info, NULL), -ENOENT);

	char db[128];
	sqlite3 *handle = NULL;
	sqlite3_stmt *stmt = NULL;
	snprintf(db, sizeof(db), "%s/keys/keys.db", fx.dir);
	assert_int_equal(sqlite3_open(db, &handle), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(handle, "SELECT state, wrapped IS NULL FROM objects WHERE id = ?",
					    -1, &stmt, NULL), SQLITE_OK);
	sqlite3_bind_text(stmt, 1, key_id, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), 5); // KMIP Destroyed
	assert_int_equal(sqlite3_column_int(stmt, 1), 1);
	sqlite3_finalize(stmt);
	sqlite3_close(handle);
}

static void shared_volume_allows_two(void **state)
{
	(void)state;
	char a[VOL_PATH_MAX], b[VOL_PATH_MAX];
	struct vol_option options[] = { { "shared", "true" } };
	struct vol_info info;

	assert_int_equal(vol_create(fx.manager, "both", options, 1, NULL), 0);
	assert_int_equal(vol_mount(fx.manager, "both", "one", a, NULL), 0);
	assert_int_equal(vol_mount(fx.manager, "both", "two", b, NULL), 0);
	assert_string_equal(a, b);
	assert_int_equal(vol_unmount(fx.manager, "both", "one", NULL), 0);
	assert_int_equal(vol_inspect(fx.manager, "both", &info, NULL), 0);
	assert_int_equal(info.state, VOL_MOUNTED);
	assert_string_equal(info.status, "unlocked");
	assert_int_equal(vol_unmount(fx.manager, "both", "two", NULL), 0);
	assert_int_equal(vol_inspect(fx.manager, "both", &info, NULL), 0);
	assert_string_equal(info.status, "locked");
	assert_int_equal(vol_remove(fx.manager, "both", NULL), 0);
}

static void busy_volume_stays_marked(void **state)
{
	(void)state;
	char path[VOL_PATH_MAX], file[VOL_PATH_MAX + 16];
	struct vol_info info;
	struct cf_error err = { 0 };

	assert_int_equal(vol_create(fx.manager, "busy", NULL, 0, NULL), 0);
	assert_int_equal(vol_mount(fx.manager, "busy", "c1", path, NULL), 0);
	snprintf(file, sizeof(file), "%s/open.txt", path);
	int fd = open(file, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);

	assert_int_equal(vol_unmount(fx.manager, "busy", "c1", &err), -EBUSY);
	assert_non_null(strstr(err.message, "busy"));
	assert_int_equal(vol_inspect(fx.manager, "busy", &info, NULL), 0);
	assert_int_equal(info.state, VOL_MOUNTED);

	close(fd);
	assert_int_equal(vol_lock_all(fx.manager, NULL), 0);
	assert_int_equal(vol_inspect(fx.manager, "busy", &info, NULL), 0);
	assert_int_equal(info.state, VOL_READY);
	assert_string_equal(info.status, "locked");
	assert_int_equal(vol_remove(fx.manager, "busy", NULL), 0);
}

static void claims_enforce_one_container(void **state)
{
	(void)state;
	char path[VOL_PATH_MAX], shared_path[VOL_PATH_MAX];
	struct vol_option shared[] = { { "shared", "true" } };
	struct cf_error err = { 0 };

	assert_int_equal(vol_create(fx.manager, "claimed", NULL, 0, NULL), 0);
	assert_int_equal(vol_mount(fx.manager, "claimed", "podman-pseudo-id", path, NULL), 0);
	const char *paths[] = { "/etc", path };

	assert_int_equal(vol_claim(fx.manager, "first", paths, 2, NULL), 0);
	assert_int_equal(vol_claim(fx.manager, "first", paths, 2, NULL), 0);
	assert_int_equal(vol_claim(fx.manager, "second", paths, 2, &err), -EBUSY);
	assert_non_null(strstr(err.message, "already used by container first"));
	assert_non_null(strstr(err.message, "shared=true"));

	// Paths that are not coffer volumes never conflict.
	assert_int_equal(vol_claim(fx.manager, "second", paths, 1, NULL), 0);

	assert_int_equal(vol_release(fx.manager, "first", NULL), 0);
	assert_int_equal(vol_claim(fx.manager, "second", paths, 2, NULL), 0);
	assert_int_equal(vol_release(fx.manager, "second", NULL), 0);

	assert_int_equal(vol_create(fx.manager, "claimed-shared", shared, 1, NULL), 0);
	assert_int_equal(vol_mount(fx.manager, "claimed-shared", "podman-pseudo-id", shared_path,
				   NULL), 0);
	const char *shared_paths[] = { shared_path };
	assert_int_equal(vol_claim(fx.manager, "one", shared_paths, 1, NULL), 0);
	assert_int_equal(vol_claim(fx.manager, "two", shared_paths, 1, NULL), 0);

	// The last unmount locks the volume and drops its claims.
	assert_int_equal(vol_claim(fx.manager, "third", paths, 2, NULL), 0);
	assert_int_equal(vol_unmount(fx.manager, "claimed", "podman-pseudo-id", NULL), 0);
	assert_int_equal(vol_mount(fx.manager, "claimed", "podman-pseudo-id", path, NULL), 0);
	assert_int_equal(vol_claim(fx.manager, "fourth", paths, 2, NULL), 0);

	assert_int_equal(vol_unmount(fx.manager, "claimed", "podman-pseudo-id", NULL), 0);
	assert_int_equal(vol_unmount(fx.manager, "claimed-shared", "podman-pseudo-id", NULL), 0);

	// A runtime that still lists a locked volume's directory is rejected:
	// the container would see the bare directory, not the volume.
	struct cf_error locked_err = { 0 };
	assert_int_equal(vol_claim(fx.manager, "fifth", paths, 2, &locked_err), -ENOTCONN);
	assert_non_null(strstr(locked_err.message, "not mounted by coffer"));
	assert_int_equal(vol_claim(fx.manager, "fifth", paths, 1, NULL), 0);
	assert_int_equal(vol_release(fx.manager, "fifth", NULL), 0);
	assert_int_equal(vol_remove(fx.manager, "claimed", NULL), 0);
	assert_int_equal(vol_remove(fx.manager, "claimed-shared", NULL), 0);
}

// Simulates crashes by editing the state the way an interrupted step
// leaves it, then reopens the manager.
static void recovery_finishes_or_rolls_back(void **state)
{
	(void)state;
	char path[VOL_PATH_MAX], db[128], orphan[VOL_PATH_MAX];
	struct vol_info info;
	sqlite3 *handle = NULL;

	assert_int_equal(vol_create(fx.manager, "keep", NULL, 0, NULL), 0);
	assert_int_equal(vol_create(fx.manager, "half-created", NULL, 0, NULL), 0);
	assert_int_equal(vol_create(fx.manager, "half-removed", NULL, 0, NULL), 0);
	assert_int_equal(vol_mount(fx.manager, "keep", "c1", path, NULL), 0);

	snprintf(db, sizeof(db), "%s/volumes.db", fx.dir);
	assert_int_equal(sqlite3_open(db, &handle), SQLITE_OK);
	assert_int_equal(sqlite3_exec(handle,
				      "UPDATE volumes SET state = 'creating' WHERE name = 'half-created';"
				      "UPDATE volumes SET state = 'removing' WHERE name = 'half-removed';",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(handle);
	snprintf(orphan, sizeof(orphan), "%s/pool/volumes/orphan-dir", fx.dir);
	assert_int_equal(mkdir(orphan, 0755), 0);

	// Reopen: recovery runs on the states left above.
	vol_manager_close(fx.manager);
	fx.manager = NULL;
	assert_int_equal(open_manager(), 0);

	assert_int_equal(vol_inspect(fx.manager, "keep", &info, NULL), 0);
	assert_int_equal(info.state, VOL_READY);
	assert_int_equal(info.users, 0);
	assert_string_equal(info.status, "locked");
	assert_int_equal(vol_inspect(fx.manager, "half-created", &info, NULL), -ENOENT);
	assert_int_equal(vol_inspect(fx.manager, "half-removed", &info, NULL), -ENOENT);
	assert_int_equal(access(orphan, F_OK), -1);

	char again[VOL_PATH_MAX];
	assert_int_equal(vol_mount(fx.manager, "keep", "c2", again, NULL), 0);
	assert_int_equal(vol_unmount(fx.manager, "keep", "c2", NULL), 0);
	assert_int_equal(vol_remove(fx.manager, "keep", NULL), 0);
}

int main(void)
{
	if (geteuid() != 0 || access("/dev/loop-control", F_OK) != 0) {
		const char *required = getenv("COFFER_REQUIRE_PRIVILEGED");
		fprintf(stderr, "volume_test needs root and loop devices\n");
		return required != NULL && strcmp(required, "1") == 0 ? 1 : 77;
	}

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_validated),
		cmocka_unit_test(unknown_option_lists_known),
		cmocka_unit_test(lifecycle_locks_and_shreds),
		cmocka_unit_test(shared_volume_allows_two),
		cmocka_unit_test(busy_volume_stays_marked),
		cmocka_unit_test(claims_enforce_one_container),
		cmocka_unit_test(recovery_finishes_or_rolls_back),
	};
	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
