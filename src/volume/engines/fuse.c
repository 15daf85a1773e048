// SPDX-License-Identifier: Apache-2.0
// The FUSE engine: each volume is a gocryptfs-format ciphertext directory
// (STATE_DIR/fuse-volumes/NAME) served at MOUNT_ROOT/NAME by its own
// `coffer fuse-server` process, so a crash of one volume's server affects
// no other volume.
//
// Keys: the 32-byte gocryptfs master key is HKDF-SHA512 of the volume key
// with the label below and no salt (the volume key is uniformly random).
// It reaches the server over a socketpair, never argv or the environment,
// and the engine keeps a copy in locked memory while the volume is
// unlocked so that it can restart a crashed server.
//
// Supervision: one thread per unlocked volume waits for its server. When
// the server exits while the volume is still unlocked, the thread logs it,
// detaches the dead mount and starts a new server on the same mount point,
// at most MAX_RESTARTS times. Containers that bind-mounted the old mount
// keep a dead mount (ENOTCONN) until they are restarted; only new binds
// see the remounted volume.

#include "../engine.h"
#include "fuse/gcfs.h"
#include "fuse/server.h"

#include <coffer/crypto.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

extern char **environ;

#define MAX_VOLUMES 256
#define MAX_RESTARTS 5
#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_S 10

// Domain-separation label: names the engine and the key format version so
// that the same volume key never yields the same bytes for another engine.
static const char fuse_key_label[] = "coffer gocryptfs master key, format 1";

struct fuse_volume {
	char name[VOL_NAME_MAX + 1];
	char cipher[VOL_PATH_MAX];
	char mount[VOL_PATH_MAX];
	uint8_t *master;      // cf_secure_alloc, GCFS_MASTER_KEY_SIZE bytes
	pid_t pid;            // current server, under fuse_state.lock
	bool stopping;        // set by lock; the supervisor then stops restarting
	bool failed;          // restarts exhausted
	bool uring;           // the server reported the io_uring transport
	unsigned restarts;
	pthread_t supervisor;
	struct fuse_state *state;
};

struct fuse_state {
	char volumes[VOL_PATH_MAX];
	char mounts[VOL_PATH_MAX];
	char uring_mode[16];  // --uring of the servers; empty: their default
	pthread_mutex_t lock; // guards every fuse_volume field above
	struct fuse_volume *slots[MAX_VOLUMES];
};

int vol_fuse_master_key(const uint8_t *key, size_t key_size,
			uint8_t master[GCFS_MASTER_KEY_SIZE])
{
	return cf_hkdf("SHA512", NULL, 0, key, key_size, (const uint8_t *)fuse_key_label,
		       sizeof(fuse_key_label) - 1, master, GCFS_MASTER_KEY_SIZE);
}

// The coffer binary that runs the server: $COFFER_BIN when set (tests and
// installs that move the binary), else this process's own executable.
static int server_binary(char *path, size_t size)
{
	const char *env = getenv("COFFER_BIN");
	if (env != NULL && env[0] != '\0') {
		snprintf(path, size, "%s", env);
		return 0;
	}
	ssize_t len = readlink("/proc/self/exe", path, size - 1);
	if (len <= 0)
		return -errno;
	path[len] = '\0';
	return 0;
}

static int fuse_probe(const struct vol_config *config, char *reason, size_t reason_size,
		      struct cf_error *err)
{
	(void)config;
	char binary[VOL_PATH_MAX];

	snprintf(reason, reason_size, "userspace AES-256-GCM (OpenSSL), gocryptfs format");
	if (access("/dev/fuse", R_OK | W_OK) != 0)
		return cf_error_set(err, -ENODEV, "/dev/fuse is missing or not accessible; load the"
				    " fuse module or pass --device /dev/fuse to the container");
	if (geteuid() != 0)
		return cf_error_set(err, -EPERM, "the fuse engine needs root to mount with"
				    " allow_other for containers");
	if (server_binary(binary, sizeof(binary)) != 0 || access(binary, X_OK) != 0)
		return cf_error_set(err, -ENOENT, "cannot find the coffer binary to run the FUSE"
				    " server; set COFFER_BIN");
	return 0;
}

static int fuse_open(void **out, const struct vol_config *config, struct cf_error *err)
{
	struct fuse_state *state = calloc(1, sizeof(*state));
	if (state == NULL)
		return cf_error_set(err, -ENOMEM, "out of memory");

	snprintf(state->volumes, sizeof(state->volumes), "%s/fuse-volumes", config->state_dir);
	if (config->mount_root != NULL)
		snprintf(state->mounts, sizeof(state->mounts), "%s", config->mount_root);
	else
		snprintf(state->mounts, sizeof(state->mounts), "%s/mounts", config->state_dir);
	if (config->fuse_uring != NULL)
		snprintf(state->uring_mode, sizeof(state->uring_mode), "%s", config->fuse_uring);
	int rc = cf_mkdir_p(state->volumes, 0700, err);
	if (rc == 0)
		rc = cf_mkdir_p(state->mounts, 0755, err);
	if (rc != 0) {
		free(state);
		return rc;
	}
	pthread_mutex_init(&state->lock, NULL);
	*out = state;
	return 0;
}

static void cipher_dir(const struct fuse_state *state, const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", state->volumes, name);
}

static void mount_dir(const struct fuse_state *state, const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", state->mounts, name);
}

static bool is_mounted(const char *path)
{
	struct stat st, parent;
	char up[VOL_PATH_MAX + 4];
	snprintf(up, sizeof(up), "%s/..", path);
	if (stat(path, &st) != 0) {
		// A mount whose server died fails every call with ENOTCONN.
		return errno == ENOTCONN;
	}
	if (stat(up, &parent) != 0)
		return false;
	return st.st_dev != parent.st_dev;
}

// Starts a server for v and waits until it reports the mount live.
// Caller holds state->lock.
static int spawn_server(struct fuse_volume *v, struct cf_error *err)
{
	char binary[VOL_PATH_MAX];
	int pair[2], rc;

	rc = server_binary(binary, sizeof(binary));
	if (rc != 0)
		return cf_error_set(err, rc, "cannot find the coffer binary; set COFFER_BIN");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
		return cf_error_set(err, -errno, "socketpair failed: %s", strerror(errno));

	// The child's end goes to descriptor 3; dup2 clears close-on-exec.
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, pair[1], 3);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	char *argv[11];
	size_t argc = 0;
	argv[argc++] = binary;
	argv[argc++] = "fuse-server";
	argv[argc++] = "--key-fd";
	argv[argc++] = "3";
	argv[argc++] = "--volume";
	argv[argc++] = v->name;
	if (v->state->uring_mode[0] != '\0') {
		argv[argc++] = "--uring";
		argv[argc++] = v->state->uring_mode;
	}
	argv[argc++] = v->cipher;
	argv[argc++] = v->mount;
	argv[argc] = NULL;
	pid_t pid;
	rc = posix_spawn(&pid, binary, &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	close(pair[1]);
	if (rc != 0) {
		close(pair[0]);
		return cf_error_set(err, -rc, "cannot start %s fuse-server: %s", binary, strerror(rc));
	}

	ssize_t sent = send(pair[0], v->master, GCFS_MASTER_KEY_SIZE, MSG_NOSIGNAL);
	char ready[32] = "";
	struct pollfd pfd = { .fd = pair[0], .events = POLLIN };
	ssize_t got = -1;
	if (sent == GCFS_MASTER_KEY_SIZE && poll(&pfd, 1, READY_TIMEOUT_MS) == 1)
		got = recv(pair[0], ready, sizeof(ready) - 1, 0);
	close(pair[0]);
	// "ready TRANSPORT\n" from this version, "ready\n" from older servers.
	if (got < 6 || memcmp(ready, "ready", 5) != 0 || ready[got - 1] != '\n') {
		int status = 0;
		kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
		return cf_error_set(err, -EIO, "the FUSE server for volume %s did not mount %s"
				    " (exit status %d); see its log lines above", v->name, v->mount,
				    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	v->pid = pid;
	v->uring = strcmp(ready, "ready io_uring\n") == 0;
	cf_log(CF_LOG_INFO, "fuse.server_started", "volume=%s pid=%d mount=%s transport=%s",
	       v->name, (int)pid, v->mount, v->uring ? "io_uring" : "dev_fuse");
	return 0;
}

static void *supervise(void *arg)
{
	struct fuse_volume *v = arg;
	struct fuse_state *state = v->state;

	for (;;) {
		pthread_mutex_lock(&state->lock);
		pid_t pid = v->pid;
		pthread_mutex_unlock(&state->lock);

		int status = 0;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;

		pthread_mutex_lock(&state->lock);
		if (v->stopping) {
			v->pid = 0;
			pthread_mutex_unlock(&state->lock);
			return NULL;
		}
		cf_log(CF_LOG_ERROR, "fuse.server_exited", "volume=%s pid=%d status=%d signal=%d",
		       v->name, (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		umount2(v->mount, MNT_DETACH);

		struct cf_error err = { 0 };
		int rc = -EIO;
		while (v->restarts < MAX_RESTARTS && rc != 0) {
			v->restarts++;
			rc = spawn_server(v, &err);
			if (rc != 0)
				cf_log(CF_LOG_ERROR, "fuse.server_restart_failed",
				       "volume=%s attempt=%u error=\"%s\"", v->name, v->restarts,
				       err.message);
		}
		if (rc != 0) {
			v->failed = true;
			v->pid = 0;
			pthread_mutex_unlock(&state->lock);
			return NULL;
		}
		cf_log(CF_LOG_WARN, "fuse.server_restarted", "volume=%s pid=%d restarts=%u",
		       v->name, (int)v->pid, v->restarts);
		pthread_mutex_unlock(&state->lock);
	}
}

static struct fuse_volume **find_slot(struct fuse_state *state, const char *name)
{
	for (size_t i = 0; i < MAX_VOLUMES; i++) {
		if (state->slots[i] != NULL && strcmp(state->slots[i]->name, name) == 0)
			return &state->slots[i];
	}
	return NULL;
}

static void volume_free(struct fuse_volume *v)
{
	if (v == NULL)
		return;
	cf_secure_free(v->master);
	free(v);
}

// NOTE: the format stores nothing that checks the key, so a volume mounted
// with a wrong key shows an empty directory (no name decrypts) instead of
// failing. The key store binds each volume to its key id, which makes this
// unlikely but not impossible after a manual restore.
static int fuse_prepare(void *opaque, const char *name, const uint8_t *key, size_t key_size,
			struct cf_error *err)
{
	(void)key;
	(void)key_size;
	struct fuse_state *state = opaque;
	char path[VOL_PATH_MAX];

	cipher_dir(state, name, path, sizeof(path));
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return cf_error_set(err, -errno, "cannot create volume directory %s: %s", path,
				    strerror(errno));
	return gcfs_init_dir(path, err);
}

static int fuse_unlock(void *opaque, const char *name, const uint8_t *key, size_t key_size,
		       char path[VOL_PATH_MAX], struct cf_error *err)
{
	struct fuse_state *state = opaque;
	int rc;

	pthread_mutex_lock(&state->lock);
	struct fuse_volume **existing = find_slot(state, name);
	if (existing != NULL && !(*existing)->failed) {
		snprintf(path, VOL_PATH_MAX, "%s", (*existing)->mount);
		pthread_mutex_unlock(&state->lock);
		return 0;
	}
	struct fuse_volume **slot = existing;
	for (size_t i = 0; slot == NULL && i < MAX_VOLUMES; i++) {
		if (state->slots[i] == NULL)
			slot = &state->slots[i];
	}
	if (slot == NULL) {
		pthread_mutex_unlock(&state->lock);
		return cf_error_set(err, -ENOSPC, "too many unlocked fuse volumes (limit %d)",
				    MAX_VOLUMES);
	}
	if (existing != NULL) {
		// Restarts were exhausted earlier: reap the supervisor and retry.
		pthread_mutex_unlock(&state->lock);
		pthread_join((*existing)->supervisor, NULL);
		pthread_mutex_lock(&state->lock);
		volume_free(*existing);
		*existing = NULL;
	}

	struct fuse_volume *v = calloc(1, sizeof(*v));
	if (v == NULL) {
		pthread_mutex_unlock(&state->lock);
		return cf_error_set(err, -ENOMEM, "out of memory");
	}
	v->state = state;
	snprintf(v->name, sizeof(v->name), "%s", name);
	cipher_dir(state, name, v->cipher, sizeof(v->cipher));
	mount_dir(state, name, v->mount, sizeof(v->mount));
	v->master = cf_secure_alloc(GCFS_MASTER_KEY_SIZE);
	if (v->master == NULL) {
		rc = cf_error_set(err, -ENOMEM, "cannot allocate locked memory for the key");
		goto fail;
	}
	rc = vol_fuse_master_key(key, key_size, v->master);
	if (rc != 0) {
		cf_error_set(err, rc, "key derivation failed for volume %s", name);
		goto fail;
	}

	if (is_mounted(v->mount))
		umount2(v->mount, MNT_DETACH); // left over from a crashed manager
	if (mkdir(v->mount, 0755) != 0 && errno != EEXIST) {
		rc = cf_error_set(err, -errno, "cannot create mount point %s: %s", v->mount,
				  strerror(errno));
		goto fail;
	}
	rc = spawn_server(v, err);
	if (rc != 0)
		goto fail;
	rc = pthread_create(&v->supervisor, NULL, supervise, v);
	if (rc != 0) {
		kill(v->pid, SIGTERM);
		umount2(v->mount, MNT_DETACH);
		waitpid(v->pid, NULL, 0);
		rc = cf_error_set(err, -rc, "cannot start the supervisor thread");
		goto fail;
	}
	*slot = v;
	snprintf(path, VOL_PATH_MAX, "%s", v->mount);
	pthread_mutex_unlock(&state->lock);
	return 0;

fail:
	pthread_mutex_unlock(&state->lock);
	volume_free(v);
	return rc;
}

// Waits up to STOP_TIMEOUT_S for the supervisor to see the server exit,
// then kills the server.
static void stop_supervisor(struct fuse_volume *v)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += STOP_TIMEOUT_S;
	if (pthread_timedjoin_np(v->supervisor, NULL, &deadline) == 0)
		return;

	pthread_mutex_lock(&v->state->lock);
	pid_t pid = v->pid;
	pthread_mutex_unlock(&v->state->lock);
	cf_log(CF_LOG_WARN, "fuse.server_kill", "volume=%s pid=%d reason=\"no exit after unmount\"",
	       v->name, (int)pid);
	if (pid > 0)
		kill(pid, SIGKILL);
	pthread_join(v->supervisor, NULL);
}

static int fuse_lock(void *opaque, const char *name, struct cf_error *err)
{
	struct fuse_state *state = opaque;
	char mount[VOL_PATH_MAX];

	pthread_mutex_lock(&state->lock);
	struct fuse_volume **slot = find_slot(state, name);
	if (slot == NULL) {
		pthread_mutex_unlock(&state->lock);
		// Not ours (for example after a manager restart): detach a
		// leftover mount so the volume is locked either way.
		mount_dir(state, name, mount, sizeof(mount));
		if (is_mounted(mount))
			umount2(mount, MNT_DETACH);
		return 0;
	}
	struct fuse_volume *v = *slot;
	v->stopping = true;
	if (v->pid > 0 && umount2(v->mount, 0) != 0 && errno == EBUSY) {
		v->stopping = false;
		pthread_mutex_unlock(&state->lock);
		return cf_error_set(err, -EBUSY, "volume %s is busy: files under %s are still open",
				    name, v->mount);
	}
	if (v->pid == 0)
		umount2(v->mount, MNT_DETACH);
	*slot = NULL;
	pthread_mutex_unlock(&state->lock);

	stop_supervisor(v);
	cf_log(CF_LOG_INFO, "fuse.locked", "volume=%s", name);
	volume_free(v);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int fuse_destroy(void *opaque, const char *name, struct cf_error *err)
{
	struct fuse_state *state = opaque;
	char path[VOL_PATH_MAX];

	cipher_dir(state, name, path, sizeof(path));
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		return cf_error_set(err, -errno, "cannot delete volume directory %s: %s", path,
				    strerror(errno));
	mount_dir(state, name, path, sizeof(path));
	if (rmdir(path) != 0 && errno != ENOENT)
		cf_log(CF_LOG_WARN, "fuse.mount_point_left", "volume=%s path=%s error=\"%s\"", name,
		       path, strerror(errno));
	return 0;
}

static int fuse_status(void *opaque, const char *name, char *status, size_t size)
{
	struct fuse_state *state = opaque;

	pthread_mutex_lock(&state->lock);
	struct fuse_volume **slot = find_slot(state, name);
	if (slot == NULL)
		snprintf(status, size, "locked");
	else if ((*slot)->failed)
		snprintf(status, size, "failed: server crashed %u times", (*slot)->restarts);
	else if ((*slot)->restarts > 0)
		snprintf(status, size, "unlocked (server pid %d, %s, restarts: %u)",
			 (int)(*slot)->pid, (*slot)->uring ? "io_uring" : "/dev/fuse",
			 (*slot)->restarts);
	else
		snprintf(status, size, "unlocked (server pid %d, %s)", (int)(*slot)->pid,
			 (*slot)->uring ? "io_uring" : "/dev/fuse");
	pthread_mutex_unlock(&state->lock);
	return 0;
}

static int fuse_exists(void *opaque, const char *name)
{
	struct fuse_state *state = opaque;
	char path[VOL_PATH_MAX];
	struct stat st;

	cipher_dir(state, name, path, sizeof(path));
	if (stat(path, &st) == 0)
		return S_ISDIR(st.st_mode) ? 1 : 0;
	return errno == ENOENT ? 0 : -errno;
}

static int fuse_foreach(void *opaque, int (*visit)(const char *name, void *arg), void *arg)
{
	struct fuse_state *state = opaque;
	DIR *d = opendir(state->volumes);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;

	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		rc = visit(de->d_name, arg);
	}
	closedir(d);
	return rc;
}

static void fuse_close(void *opaque)
{
	struct fuse_state *state = opaque;
	if (state == NULL)
		return;
	for (size_t i = 0; i < MAX_VOLUMES; i++) {
		if (state->slots[i] != NULL)
			fuse_lock(state, state->slots[i]->name, NULL);
	}
	pthread_mutex_destroy(&state->lock);
	free(state);
}

static void fuse_path(void *opaque, const char *name, char path[VOL_PATH_MAX])
{
	mount_dir(opaque, name, path, VOL_PATH_MAX);
}

const struct vol_engine_ops vol_engine_fuse = {
	.name = "fuse",
	.probe = fuse_probe,
	.open = fuse_open,
	.close = fuse_close,
	.prepare = fuse_prepare,
	.unlock = fuse_unlock,
	.lock = fuse_lock,
	.destroy = fuse_destroy,
	.path = fuse_path,
	.status = fuse_status,
	.exists = fuse_exists,
	.foreach = fuse_foreach,
};
