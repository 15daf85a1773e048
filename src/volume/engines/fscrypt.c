// SPDX-License-Identifier: Apache-2.0
// The fscrypt engine: each volume is a directory with a v2 encryption
// policy (AES-256-XTS contents, AES-256-CTS names, 32-byte name padding) on
// an ext4 pool with the encrypt feature. The pool is either a directory the
// admin names or a sparse image in the state directory that coffer formats
// and loop-mounts.
//
// Keys: the 64-byte fscrypt master key is HKDF-SHA512 of the volume key
// with the label below and no salt (the volume key is already uniformly
// random, so a salt adds nothing). It goes into the filesystem keyring with
// FS_IOC_ADD_ENCRYPTION_KEY on mount and leaves it on the last unmount.
//
// NOTE: while a volume is unlocked, every process on the host that can
// reach its directory sees plaintext: fscrypt keys are per filesystem, not
// per process. Isolation between containers comes from the bind mount.

#include "../engine.h"

#include <coffer/crypto.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fscrypt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define FSCRYPT_KEY_SIZE 64
#define EXT4_MAGIC 0xEF53
#define EXT4_FEATURE_INCOMPAT_ENCRYPT 0x10000
#define LOCK_RETRIES 20
#define LOCK_RETRY_DELAY_MS 150

// Domain-separation label: names the engine and the key format version so
// that the same volume key never yields the same bytes for another engine.
static const char fscrypt_key_label[] = "coffer fscrypt v2 master key, format 1";

struct fscrypt_state {
	char pool[VOL_PATH_MAX];    // mounted ext4 root
	char volumes[VOL_PATH_MAX]; // pool/volumes
	char image[VOL_PATH_MAX];   // pool image, when coffer made it
	bool mounted_by_us;
};

static int run_command(char *const argv[], struct cf_error *err)
{
	pid_t pid;
	int status;
	posix_spawn_file_actions_t actions;

	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	int rc = posix_spawnp(&pid, argv[0], &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (rc != 0)
		return cf_error_set(err, -rc, "cannot run %s: %s", argv[0], strerror(rc));

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return cf_error_set(err, -errno, "waiting for %s failed", argv[0]);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cf_error_set(err, -EIO, "%s failed with status %d", argv[0],
				    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

static bool is_mount_point(const char *path)
{
	struct stat st, parent;
	char up[VOL_PATH_MAX + 4];

	snprintf(up, sizeof(up), "%s/..", path);
	if (stat(path, &st) != 0 || stat(up, &parent) != 0)
		return false;
	return st.st_dev != parent.st_dev || st.st_ino == parent.st_ino;
}

// Reads the ext4 superblock of the image: 1 when it is ext4 with the
// encrypt feature, 0 when it holds no ext4 filesystem, -EINVAL when it is
// ext4 without the feature.
static int image_format(const char *image)
{
	uint8_t super[1024];
	int fd = open(image, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = pread(fd, super, sizeof(super), 1024);
	close(fd);
	if (n != (ssize_t)sizeof(super))
		return 0;

	unsigned magic = (unsigned)super[0x38] | (unsigned)super[0x39] << 8;
	if (magic != EXT4_MAGIC)
		return 0;
	uint32_t incompat = (uint32_t)super[0x60] | (uint32_t)super[0x61] << 8 |
			    (uint32_t)super[0x62] << 16 | (uint32_t)super[0x63] << 24;
	return (incompat & EXT4_FEATURE_INCOMPAT_ENCRYPT) ? 1 : -EINVAL;
}

static int make_pool_image(struct fscrypt_state *state, const struct vol_config *config,
			   struct cf_error *err)
{
	int rc;
	uint64_t size = config->pool_size ? config->pool_size : (uint64_t)10 << 30;

	snprintf(state->image, sizeof(state->image), "%s/pool.img", config->state_dir);
	int fd = open(state->image, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot create pool image %s: %s", state->image,
				    strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size == 0 && ftruncate(fd, (off_t)size) != 0) {
		rc = cf_error_set(err, -errno, "cannot size pool image %s: %s", state->image,
				  strerror(errno));
		close(fd);
		return rc;
	}
	close(fd);

	rc = image_format(state->image);
	if (rc == -EINVAL)
		return cf_error_set(err, -EINVAL,
				    "pool image %s holds ext4 without the encrypt feature; enable it"
				    " with 'tune2fs -O encrypt %s'",
				    state->image, state->image);
	if (rc < 0)
		return cf_error_set(err, rc, "cannot read pool image %s", state->image);
	if (rc == 0) {
		char *mkfs[] = { "mkfs.ext4", "-q", "-F", "-O", "encrypt", "-L", "coffer-pool",
				 "-E", "nodiscard", state->image, NULL };
		rc = run_command(mkfs, err);
		if (rc != 0)
			return rc;
		cf_log(CF_LOG_INFO, "fscrypt.pool_formatted", "image=%s size=%llu", state->image,
		       (unsigned long long)size);
	}
	return 0;
}

struct mount_lookup {
	const char *mount_point;
	char source[VOL_PATH_MAX];
};

// Records the source of the last mount on lookup->mount_point (the one on top).
static int note_source(const char *mount_point, const char *fstype, const char *source,
		       void *arg)
{
	(void)fstype;
	struct mount_lookup *lookup = arg;
	if (strcmp(mount_point, lookup->mount_point) == 0)
		snprintf(lookup->source, sizeof(lookup->source), "%s", source);
	return 0;
}

// Finds the loop device mounted on mountpoint in /proc/self/mountinfo and
// checks that its backing file is image. Returns 0 when it is, -EEXIST when
// something else is mounted there.
static int check_pool_mount(const char *mountpoint, const char *image, struct cf_error *err)
{
	char wanted_mount[VOL_PATH_MAX], wanted_image[VOL_PATH_MAX];
	struct mount_lookup lookup = { .mount_point = wanted_mount };

	if (realpath(mountpoint, wanted_mount) == NULL || realpath(image, wanted_image) == NULL)
		return cf_error_set(err, -errno, "cannot inspect the mount on %s", mountpoint);
	int rc = cf_mount_foreach(note_source, &lookup);
	if (rc != 0)
		return cf_error_set(err, rc, "cannot inspect the mount on %s", mountpoint);
	const char *device = lookup.source;

	char backing_path[VOL_PATH_MAX], backing[VOL_PATH_MAX] = "";
	const char *name = strrchr(device, '/');
	if (strncmp(device, "/dev/loop", 9) == 0 && name != NULL) {
		snprintf(backing_path, sizeof(backing_path), "/sys/block/%s/loop/backing_file", name + 1);
		FILE *f = fopen(backing_path, "r");
		if (f != NULL) {
			if (fgets(backing, sizeof(backing), f) != NULL)
				backing[strcspn(backing, "\n")] = '\0';
			fclose(f);
		}
	}
	if (strcmp(backing, wanted_image) != 0)
		return cf_error_set(err, -EEXIST,
				    "%s is already a mount point, but not of the pool image %s"
				    " (mounted: %s); unmount it or use another --state-dir",
				    mountpoint, image, device[0] ? device : "unknown");
	return 0;
}

static int mount_pool_image(struct fscrypt_state *state, struct cf_error *err)
{
	int rc = cf_mkdir_p(state->pool, 0700, err);
	if (rc != 0)
		return rc;
	if (is_mount_point(state->pool)) {
		// Left mounted by a previous run (for example after SIGKILL): take
		// it over, so this run unmounts it at a clean stop.
		rc = check_pool_mount(state->pool, state->image, err);
		if (rc == 0) {
			state->mounted_by_us = true;
			cf_log(CF_LOG_INFO, "fscrypt.pool_reused", "image=%s mountpoint=%s",
			       state->image, state->pool);
		}
		return rc;
	}

	// mount(8) sets up the loop device and handles races with other
	// processes taking free loop devices at the same time.
	char *mount_argv[] = { "mount", "-t", "ext4", "-o", "loop,nodev,nosuid",
			       state->image, state->pool, NULL };
	rc = run_command(mount_argv, err);
	if (rc != 0) {
		cf_error_prefix(err, "cannot loop-mount pool image %s on %s", state->image,
				state->pool);
		return rc;
	}
	state->mounted_by_us = true;
	cf_log(CF_LOG_INFO, "fscrypt.pool_mounted", "image=%s mountpoint=%s", state->image,
	       state->pool);
	return 0;
}

// Checks that path is on a filesystem that supports encryption policies.
static int check_pool_support(const char *path, struct cf_error *err)
{
	struct fscrypt_get_policy_ex_arg arg = { .policy_size = sizeof(arg.policy) };
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot open pool %s: %s", path, strerror(errno));
	int rc = ioctl(fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &arg);
	int saved = errno;
	close(fd);
	if (rc == 0 || saved == ENODATA)
		return 0;
	if (saved == EOPNOTSUPP || saved == ENOTTY)
		return cf_error_set(err, -EOPNOTSUPP,
				    "pool %s does not support encryption: it must be ext4 made with"
				    " '-O encrypt' (or 'tune2fs -O encrypt' on an unmounted device)",
				    path);
	return cf_error_set(err, -saved, "cannot query encryption support of %s: %s", path,
			    strerror(saved));
}

static int fscrypt_probe(const struct vol_config *config, char *reason, size_t reason_size,
			 struct cf_error *err)
{
	char driver[128];
	bool fast = vol_kernel_xts_accelerated(driver, sizeof(driver));

	snprintf(reason, reason_size, "kernel fscrypt; AES-XTS driver %s (%s)", driver,
		 fast ? "hardware-accelerated" : "software");
	if (geteuid() != 0)
		return cf_error_set(err, -EPERM, "the fscrypt engine needs root to manage kernel keys");
	if (access("/sys/fs/ext4/features/encryption", F_OK) != 0)
		return cf_error_set(err, -EOPNOTSUPP,
				    "the kernel's ext4 has no encryption support"
				    " (/sys/fs/ext4/features/encryption is missing; build with"
				    " CONFIG_FS_ENCRYPTION)");
	if (config->pool_path == NULL && access("/dev/loop-control", F_OK) != 0)
		return cf_error_set(err, -ENODEV,
				    "/dev/loop-control is missing, so the pool image cannot be"
				    " mounted; load the loop module or name a pool with --pool");
	return 0;
}

static int fscrypt_open(void **out, const struct vol_config *config, struct cf_error *err)
{
	int rc;
	struct fscrypt_state *state = calloc(1, sizeof(*state));
	if (state == NULL)
		return cf_error_set(err, -ENOMEM, "out of memory");

	if (config->pool_path != NULL) {
		snprintf(state->pool, sizeof(state->pool), "%s", config->pool_path);
	} else {
		snprintf(state->pool, sizeof(state->pool), "%s/pool", config->state_dir);
		rc = make_pool_image(state, config, err);
		if (rc == 0)
			rc = mount_pool_image(state, err);
		if (rc != 0)
			goto fail;
	}

	rc = check_pool_support(state->pool, err);
	if (rc != 0)
		goto fail;
	snprintf(state->volumes, sizeof(state->volumes), "%s/volumes", state->pool);
	rc = cf_mkdir_p(state->volumes, 0711, err);
	if (rc != 0)
		goto fail;

	*out = state;
	return 0;

fail:
	free(state);
	return rc;
}

static void fscrypt_close(void *opaque)
{
	struct fscrypt_state *state = opaque;
	if (state == NULL)
		return;
	if (state->mounted_by_us && umount2(state->pool, 0) != 0)
		cf_log(CF_LOG_WARN, "fscrypt.pool_unmount_failed", "mountpoint=%s error=\"%s\"",
		       state->pool, strerror(errno));
	free(state);
}

static void volume_dir(const struct fscrypt_state *state, const char *name, char *path,
		       size_t size)
{
	snprintf(path, size, "%s/%s", state->volumes, name);
}

static int derive_key(const uint8_t *key, size_t key_size, uint8_t *out)
{
	return cf_hkdf("SHA512", NULL, 0, key, key_size, (const uint8_t *)fscrypt_key_label,
		       sizeof(fscrypt_key_label) - 1, out, FSCRYPT_KEY_SIZE);
}

// Adds the derived key to the filesystem keyring through fd and returns
// its identifier.
static int add_key(int fd, const uint8_t *key, size_t key_size,
		   uint8_t identifier[FSCRYPT_KEY_IDENTIFIER_SIZE], struct cf_error *err)
{
	size_t arg_size = sizeof(struct fscrypt_add_key_arg) + FSCRYPT_KEY_SIZE;
	struct fscrypt_add_key_arg *arg = cf_secure_alloc(arg_size);
	if (arg == NULL)
		return cf_error_set(err, -ENOMEM, "cannot allocate locked memory for a key");

	int rc = derive_key(key, key_size, arg->raw);
	if (rc != 0) {
		cf_error_set(err, rc, "key derivation failed");
		goto out;
	}
	arg->key_spec.type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
	arg->raw_size = FSCRYPT_KEY_SIZE;
	if (ioctl(fd, FS_IOC_ADD_ENCRYPTION_KEY, arg) != 0) {
		rc = cf_error_set(err, -errno, "FS_IOC_ADD_ENCRYPTION_KEY failed: %s",
				  strerror(errno));
		goto out;
	}
	memcpy(identifier, arg->key_spec.u.identifier, FSCRYPT_KEY_IDENTIFIER_SIZE);

out:
	cf_secure_free(arg);
	return rc;
}

static int remove_key(int fd, const uint8_t identifier[FSCRYPT_KEY_IDENTIFIER_SIZE],
		      uint32_t *status_flags)
{
	struct fscrypt_remove_key_arg arg;
	memset(&arg, 0, sizeof(arg));
	arg.key_spec.type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
	memcpy(arg.key_spec.u.identifier, identifier, FSCRYPT_KEY_IDENTIFIER_SIZE);
	if (ioctl(fd, FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS, &arg) != 0)
		return -errno;
	*status_flags = arg.removal_status_flags;
	return 0;
}

// Reads the directory's v2 policy: 0 with its key identifier, -ENODATA
// when the directory has no policy.
static int get_policy(int fd, uint8_t identifier[FSCRYPT_KEY_IDENTIFIER_SIZE])
{
	struct fscrypt_get_policy_ex_arg arg = { .policy_size = sizeof(arg.policy) };
	if (ioctl(fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &arg) != 0)
		return -errno;
	if (arg.policy.version != FSCRYPT_POLICY_V2)
		return -EINVAL;
	memcpy(identifier, arg.policy.v2.master_key_identifier, FSCRYPT_KEY_IDENTIFIER_SIZE);
	return 0;
}

// Opens the unencrypted pool root. Keys are added and removed through it,
// because an open descriptor on the volume directory itself would keep one
// of the volume's inodes in use and make key removal incomplete.
static int open_pool(const struct fscrypt_state *state, int *fd, struct cf_error *err)
{
	*fd = open(state->volumes, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return cf_error_set(err, -errno, "cannot open pool directory %s: %s", state->volumes,
				    strerror(errno));
	return 0;
}

static int open_volume(const struct fscrypt_state *state, const char *name, int *fd,
		       struct cf_error *err)
{
	char path[VOL_PATH_MAX];
	volume_dir(state, name, path, sizeof(path));
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return cf_error_set(err, -errno, "cannot open volume directory %s: %s", path,
				    strerror(errno));
	return 0;
}

static int fscrypt_prepare(void *opaque, const char *name, const uint8_t *key, size_t key_size,
			   struct cf_error *err)
{
	struct fscrypt_state *state = opaque;
	char path[VOL_PATH_MAX];
	uint8_t added[FSCRYPT_KEY_IDENTIFIER_SIZE], existing[FSCRYPT_KEY_IDENTIFIER_SIZE];
	uint32_t flags;
	int fd = -1, pool_fd = -1, rc;

	volume_dir(state, name, path, sizeof(path));
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return cf_error_set(err, -errno, "cannot create volume directory %s: %s", path,
				    strerror(errno));
	rc = open_pool(state, &pool_fd, err);
	if (rc != 0)
		return rc;
	rc = add_key(pool_fd, key, key_size, added, err);
	if (rc != 0)
		goto out;
	rc = open_volume(state, name, &fd, err);
	if (rc != 0)
		goto remove;

	rc = get_policy(fd, existing);
	if (rc == 0) {
		// Recovery repeats prepare: accept a policy made with this key.
		if (memcmp(existing, added, sizeof(added)) != 0)
			rc = cf_error_set(err, -EEXIST,
					  "volume directory %s is already encrypted with another key",
					  path);
	} else if (rc == -ENODATA) {
		struct fscrypt_policy_v2 policy;
		memset(&policy, 0, sizeof(policy));
		policy.version = FSCRYPT_POLICY_V2;
		policy.contents_encryption_mode = FSCRYPT_MODE_AES_256_XTS;
		policy.filenames_encryption_mode = FSCRYPT_MODE_AES_256_CTS;
		policy.flags = FSCRYPT_POLICY_FLAGS_PAD_32;
		memcpy(policy.master_key_identifier, added, sizeof(added));
		rc = ioctl(fd, FS_IOC_SET_ENCRYPTION_POLICY, &policy) == 0 ? 0 : -errno;
		if (rc != 0)
			cf_error_set(err, rc, "cannot set the encryption policy on %s: %s", path,
				     strerror(-rc));
	} else {
		cf_error_set(err, rc, "cannot read the encryption policy of %s: %s", path,
			     strerror(-rc));
	}

	close(fd);

remove:
	// The volume starts locked: the key leaves the kernel until mount.
	remove_key(pool_fd, added, &flags);
out:
	close(pool_fd);
	return rc;
}

static int fscrypt_unlock(void *opaque, const char *name, const uint8_t *key, size_t key_size,
			  char path[VOL_PATH_MAX], struct cf_error *err)
{
	struct fscrypt_state *state = opaque;
	uint8_t added[FSCRYPT_KEY_IDENTIFIER_SIZE], expected[FSCRYPT_KEY_IDENTIFIER_SIZE];
	uint32_t flags;
	int fd, rc;

	rc = open_volume(state, name, &fd, err);
	if (rc != 0)
		return rc;
	rc = get_policy(fd, expected);
	close(fd);
	if (rc != 0)
		return cf_error_set(err, rc, "volume %s has no fscrypt policy: %s", name,
				    strerror(-rc));

	rc = open_pool(state, &fd, err);
	if (rc != 0)
		return rc;
	rc = add_key(fd, key, key_size, added, err);
	if (rc == 0 && memcmp(added, expected, sizeof(added)) != 0) {
		remove_key(fd, added, &flags);
		rc = cf_error_set(err, -EKEYREJECTED,
				  "the key from the key store does not match volume %s's policy",
				  name);
	}
	close(fd);
	if (rc == 0)
		volume_dir(state, name, path, VOL_PATH_MAX);
	return rc;
}

static int fscrypt_lock(void *opaque, const char *name, struct cf_error *err)
{
	struct fscrypt_state *state = opaque;
	uint8_t identifier[FSCRYPT_KEY_IDENTIFIER_SIZE];
	int fd, rc;

	rc = open_volume(state, name, &fd, err);
	if (rc != 0)
		return rc;
	rc = get_policy(fd, identifier);
	close(fd);
	if (rc == -ENODATA)
		return 0; // never prepared: nothing to lock
	if (rc != 0)
		return cf_error_set(err, rc, "cannot read volume %s's policy: %s", name,
				    strerror(-rc));
	rc = open_pool(state, &fd, err);
	if (rc != 0)
		return rc;

	// Write dirty pages while the key is still present; the kernel then
	// evicts the volume's inodes. Files still open keep it "busy".
	syncfs(fd);
	for (int attempt = 0; attempt < LOCK_RETRIES; attempt++) {
		uint32_t flags = 0;
		rc = remove_key(fd, identifier, &flags);
		if (rc == -ENOKEY) {
			rc = 0; // already locked
			break;
		}
		if (rc != 0) {
			cf_error_set(err, rc, "FS_IOC_REMOVE_ENCRYPTION_KEY on volume %s failed: %s",
				     name, strerror(-rc));
			break;
		}
		if (!(flags & FSCRYPT_KEY_REMOVAL_STATUS_FLAG_FILES_BUSY))
			break;
		rc = -EBUSY;
		struct timespec delay = { 0, LOCK_RETRY_DELAY_MS * 1000000L };
		nanosleep(&delay, NULL);
	}
	if (rc == -EBUSY)
		cf_error_set(err, -EBUSY,
			     "volume %s is still in use: files in it are open, so its key could"
			     " not be removed completely; it stays marked busy until they close",
			     name);
	close(fd);
	return rc;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	int rc = (type == FTW_DP) ? rmdir(path) : unlink(path);
	return rc == 0 || errno == ENOENT ? 0 : -errno;
}

static int fscrypt_destroy(void *opaque, const char *name, struct cf_error *err)
{
	struct fscrypt_state *state = opaque;
	char path[VOL_PATH_MAX];

	volume_dir(state, name, path, sizeof(path));
	// Locked volumes show encrypted names; unlink and rmdir work on them.
	int rc = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (rc != 0 && errno != ENOENT)
		return cf_error_set(err, -errno, "cannot delete volume directory %s: %s", path,
				    strerror(errno));
	return 0;
}

static int fscrypt_status(void *opaque, const char *name, char *status, size_t size)
{
	struct fscrypt_state *state = opaque;
	struct fscrypt_get_key_status_arg arg;
	int fd;

	if (open_volume(state, name, &fd, NULL) != 0) {
		snprintf(status, size, "missing");
		return -ENOENT;
	}
	memset(&arg, 0, sizeof(arg));
	arg.key_spec.type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
	int rc = get_policy(fd, arg.key_spec.u.identifier);
	if (rc == 0 && ioctl(fd, FS_IOC_GET_ENCRYPTION_KEY_STATUS, &arg) != 0)
		rc = -errno;
	close(fd);
	if (rc != 0) {
		snprintf(status, size, "unknown (%s)", strerror(-rc));
		return rc;
	}

	switch (arg.status) {
	case FSCRYPT_KEY_STATUS_ABSENT:
		snprintf(status, size, "locked");
		break;
	case FSCRYPT_KEY_STATUS_PRESENT:
		snprintf(status, size, "unlocked");
		break;
	case FSCRYPT_KEY_STATUS_INCOMPLETELY_REMOVED:
		snprintf(status, size, "locking: files still open");
		break;
	default:
		snprintf(status, size, "unknown");
	}
	return 0;
}

static int fscrypt_exists(void *opaque, const char *name)
{
	struct fscrypt_state *state = opaque;
	char path[VOL_PATH_MAX];
	struct stat st;

	volume_dir(state, name, path, sizeof(path));
	if (lstat(path, &st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

static int fscrypt_foreach(void *opaque, int (*visit)(const char *name, void *arg), void *arg)
{
	struct fscrypt_state *state = opaque;
	char **names = NULL;
	size_t count = 0, cap = 0;
	int rc = 0;

	// Names are collected first so visit may delete directories.
	DIR *dir = opendir(state->volumes);
	if (dir == NULL)
		return -errno;
	struct dirent *entry;
	while (rc == 0 && (entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 32;
			char **grown = realloc(names, cap * sizeof(*names));
			if (grown == NULL) {
				rc = -ENOMEM;
				break;
			}
			names = grown;
		}
		names[count] = strdup(entry->d_name);
		if (names[count] == NULL)
			rc = -ENOMEM;
		else
			count++;
	}
	closedir(dir);

	for (size_t i = 0; i < count; i++) {
		if (rc == 0)
			rc = visit(names[i], arg);
		free(names[i]);
	}
	free(names);
	return rc;
}

static void fscrypt_path(void *opaque, const char *name, char path[VOL_PATH_MAX])
{
	volume_dir(opaque, name, path, VOL_PATH_MAX);
}

const struct vol_engine_ops vol_engine_fscrypt = {
	.name = "fscrypt",
	.probe = fscrypt_probe,
	.open = fscrypt_open,
	.close = fscrypt_close,
	.prepare = fscrypt_prepare,
	.unlock = fscrypt_unlock,
	.lock = fscrypt_lock,
	.destroy = fscrypt_destroy,
	.path = fscrypt_path,
	.status = fscrypt_status,
	.exists = fscrypt_exists,
	.foreach = fscrypt_foreach,
};
