// SPDX-License-Identifier: Apache-2.0
// The master key file: the key-encryption keys (KEKs) of the key store, one
// line per version ("kek VERSION HEX"), newest last. It is created on first
// start with mode 0600. The store rejects a file that others can read or
// write, because anyone who reads it can unwrap every stored key.

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MASTER_KEY_FILE_MAX (KS_MAX_KEK_VERSIONS * 96 + 256)

static const char master_key_header[] =
	"# coffer master key file: key-encryption keys, newest last. Keep it secret.\n";

static int fsync_parent(const char *path)
{
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

static int write_all(int fd, const char *data, size_t size)
{
	while (size > 0) {
		ssize_t n = write(fd, data, size);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		size -= (size_t)n;
	}
	return 0;
}

// Writes "kek VERSION HEX\n" for a fresh random KEK to fd. The line is built
// in a secure buffer because it contains the key in hex.
static int append_kek_line(int fd, int version, struct cf_error *err)
{
	int rc;
	uint8_t *kek = cf_secure_alloc(CF_AES256_KEY_SIZE);
	char *line = cf_secure_alloc(128);

	if (kek == NULL || line == NULL) {
		rc = cf_error_set(err, -ENOMEM, "cannot allocate locked memory for a new KEK");
		goto out;
	}
	rc = cf_random(kek, CF_AES256_KEY_SIZE);
	if (rc != 0) {
		cf_error_set(err, rc, "the random generator failed");
		goto out;
	}

	int len = snprintf(line, 128, "kek %d ", version);
	cf_hex_encode(kek, CF_AES256_KEY_SIZE, line + len);
	len += 2 * CF_AES256_KEY_SIZE;
	line[len++] = '\n';

	rc = write_all(fd, line, (size_t)len);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (rc != 0)
		cf_error_set(err, rc, "cannot write the master key file: %s", strerror(-rc));

out:
	cf_secure_free(kek);
	cf_secure_free(line);
	return rc;
}

static int create_master_key_file(const char *path, struct cf_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot create master key file %s: %s", path,
				    strerror(errno));

	int rc = write_all(fd, master_key_header, strlen(master_key_header));
	if (rc == 0)
		rc = append_kek_line(fd, 1, err);
	close(fd);
	if (rc == 0)
		rc = fsync_parent(path);
	if (rc != 0) {
		unlink(path);
		return cf_error_set(err, rc, "cannot create master key file %s: %s", path,
				    strerror(-rc));
	}
	cf_log(CF_LOG_INFO, "keystore.master_key_created", "path=%s kek_version=1", path);
	return 0;
}

static int check_master_key_file(int fd, const char *path, struct cf_error *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return cf_error_set(err, -errno, "cannot stat %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return cf_error_set(err, -EINVAL, "master key file %s is not a regular file", path);
	if (st.st_uid != geteuid())
		return cf_error_set(err, -EPERM,
				    "master key file %s is owned by uid %u, not by uid %u that runs"
				    " coffer; fix the owner with chown",
				    path, (unsigned)st.st_uid, (unsigned)geteuid());
	if ((st.st_mode & 077) != 0)
		return cf_error_set(err, -EPERM,
				    "master key file %s has mode %04o, which lets other users read"
				    " or change it; run 'chmod 600 %s' and check who copied it",
				    path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

static int parse_kek_line(struct ks_store *store, const char *line, const char *path,
			  int line_number, struct cf_error *err)
{
	int version = 0, consumed = 0;
	if (sscanf(line, "kek %d %n", &version, &consumed) != 1 || version <= 0)
		return cf_error_set(err, -EINVAL, "%s:%d: expected 'kek VERSION HEX'", path,
				    line_number);

	const char *hex = line + consumed;
	size_t hex_len = strcspn(hex, " \t\r\n");
	if (hex_len != 2 * CF_AES256_KEY_SIZE)
		return cf_error_set(err, -EINVAL, "%s:%d: a KEK must be %d hex digits", path,
				    line_number, 2 * CF_AES256_KEY_SIZE);
	if (store->kek_count == KS_MAX_KEK_VERSIONS)
		return cf_error_set(err, -E2BIG, "%s holds more than %d KEK versions", path,
				    KS_MAX_KEK_VERSIONS);
	if (ks_kek_find(store, version) != NULL)
		return cf_error_set(err, -EINVAL, "%s:%d: KEK version %d appears twice", path,
				    line_number, version);

	uint8_t *key = cf_secure_alloc(CF_AES256_KEY_SIZE);
	char digits[2 * CF_AES256_KEY_SIZE + 1];
	if (key == NULL)
		return cf_error_set(err, -ENOMEM, "cannot allocate locked memory for a KEK");
	memcpy(digits, hex, hex_len);
	digits[hex_len] = '\0';
	int rc = cf_hex_decode(digits, key, CF_AES256_KEY_SIZE);
	cf_wipe(digits, sizeof(digits));
	if (rc != 0) {
		cf_secure_free(key);
		return cf_error_set(err, -EINVAL, "%s:%d: the KEK is not valid hex", path,
				    line_number);
	}

	store->keks[store->kek_count].version = version;
	store->keks[store->kek_count].key = key;
	store->kek_count++;
	return 0;
}

int ks_master_key_load(struct ks_store *store, const char *path, bool create,
		       struct cf_error *err)
{
	int rc = 0;
	char *text = NULL;
	size_t size = 0;

	snprintf(store->master_key_path, sizeof(store->master_key_path), "%s", path);
	if (access(path, F_OK) != 0) {
		if (!create)
			return cf_error_set(err, -ENOENT, "master key file %s not found", path);
		rc = create_master_key_file(path, err);
		if (rc != 0)
			return rc;
	}

	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot open master key file %s: %s", path,
				    strerror(errno));
	rc = check_master_key_file(fd, path, err);
	close(fd);
	if (rc != 0)
		return rc;

	rc = cf_read_file(path, MASTER_KEY_FILE_MAX, &text, &size, err);
	if (rc != 0)
		return rc;

	int line_number = 0;
	for (char *line = text; line != NULL && *line != '\0';) {
		char *next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		line_number++;
		if (line[0] != '#' && line[0] != '\0') {
			rc = parse_kek_line(store, line, path, line_number, err);
			if (rc != 0)
				break;
		}
		line = next;
	}
	cf_wipe(text, size);
	free(text);

	if (rc == 0 && store->kek_count == 0)
		rc = cf_error_set(err, -EINVAL, "master key file %s holds no KEK", path);
	if (rc != 0)
		ks_master_key_free(store);
	return rc;
}

int ks_master_key_add_version(struct ks_store *store, struct cf_error *err)
{
	const struct ks_kek *current = ks_kek_current(store);
	int version = current ? current->version + 1 : 1;

	int fd = open(store->master_key_path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot open master key file %s: %s",
				    store->master_key_path, strerror(errno));
	int rc = append_kek_line(fd, version, err);
	close(fd);
	if (rc != 0)
		return rc;

	// Reload so the in-memory list matches the file exactly. The path is
	// copied first because loading rewrites store->master_key_path.
	char path[sizeof(store->master_key_path)];
	memcpy(path, store->master_key_path, sizeof(path));
	ks_master_key_free(store);
	return ks_master_key_load(store, path, false, err);
}

void ks_master_key_free(struct ks_store *store)
{
	for (size_t i = 0; i < store->kek_count; i++)
		cf_secure_free(store->keks[i].key);
	store->kek_count = 0;
}

const struct ks_kek *ks_kek_find(const struct ks_store *store, int version)
{
	for (size_t i = 0; i < store->kek_count; i++) {
		if (store->keks[i].version == version)
			return &store->keks[i];
	}
	return NULL;
}

const struct ks_kek *ks_kek_current(const struct ks_store *store)
{
	return store->kek_count > 0 ? &store->keks[store->kek_count - 1] : NULL;
}

int ks_master_key_read(const char *path, int version, uint8_t **kek, int *loaded_version,
		       struct cf_error *err)
{
	struct ks_store *store = calloc(1, sizeof(*store));
	if (store == NULL)
		return cf_error_set(err, -ENOMEM, "out of memory reading %s", path);
	int rc = ks_master_key_load(store, path, false, err);
	if (rc != 0)
		goto out;

	const struct ks_kek *found =
		version == 0 ? ks_kek_current(store) : ks_kek_find(store, version);
	if (found == NULL) {
		rc = cf_error_set(err, -ENOENT, "master key file %s has no KEK version %d", path,
				  version);
		goto out;
	}
	*kek = cf_secure_alloc(CF_AES256_KEY_SIZE);
	if (*kek == NULL) {
		rc = cf_error_set(err, -ENOMEM, "cannot allocate locked memory for a KEK");
		goto out;
	}
	memcpy(*kek, found->key, CF_AES256_KEY_SIZE);
	*loaded_version = found->version;
out:
	ks_master_key_free(store);
	free(store);
	return rc;
}
