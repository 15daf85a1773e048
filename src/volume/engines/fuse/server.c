// SPDX-License-Identifier: Apache-2.0
// The FUSE server: libfuse3's low-level API over a gocryptfs-format
// ciphertext directory.
//
// Design: every inode the kernel has looked up is a node keyed by (st_dev,
// st_ino), so hard links share one node. A directory node keeps an O_PATH
// descriptor of its ciphertext directory. Other nodes keep a file handle
// (name_to_handle_at) and are reopened with open_by_handle_at when needed,
// so a tree of many files does not need one descriptor per file. Neither
// depends on paths, so renames need no bookkeeping. The libfuse
// multi-threaded loop runs requests in parallel. Each node has a
// read-write lock: reads share it, writes and truncates take it
// exclusively, because a write of part of a block is a read-modify-write
// of the whole block. Each worker thread keeps its own cipher contexts and
// block buffers (thread-specific data), so the data path allocates
// nothing per block. Requests of PARALLEL_MIN_BLOCKS blocks or more are
// sealed or opened in parallel by a pool of one helper per extra CPU. The kernel's writeback cache merges small writes and
// handles O_APPEND, so the server sees large block-aligned writes.
//
// Limits: extended attributes and fallocate are not supported, and the
// ciphertext directory must not be changed by anyone else while mounted.

#include "server.h"

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <coffer/crypto.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

// Largest request the kernel sends with max_pages 256 (libfuse's buffer).
#define MAX_IO (1024 * 1024)
// Largest READ request (128 KiB). The kernel splits a readahead window
// into requests of this size, and separate worker threads open them in
// parallel, where one request of the whole window would run in one thread.
#define MAX_READ (128 * 1024)
// Blocks one request can touch: MAX_IO plus a partial block at each end.
#define MAX_IO_BLOCKS (MAX_IO / GCFS_BLOCK_SIZE + 2)
// w->cipher also holds the header when a read starts at block 0.
#define NODE_BUCKETS 4096
#define DEFAULT_THREADS 16
// Requests of at least this many blocks (512 KiB) are split across the
// block pool. Smaller ones take less time to seal than a thread handoff
// can cost on a busy machine.
#define PARALLEL_MIN_BLOCKS 128
// Writes of at least this many blocks start their disk write-out at once.
#define WRITEOUT_MIN_BLOCKS 32
#define MAX_HELPERS 7
// Integrity errors logged in full before only every 1000th is logged.
#define AUTH_LOG_BURST 100

struct node {
	struct node *next;       // hash chain, under server.table_lock
	dev_t dev;
	ino_t ino;
	uint64_t lookups;        // kernel references, under server.table_lock
	atomic_bool removed;     // its last name was unlinked through this mount
	atomic_int opens;        // open file handles of the kernel
	int fd;                  // O_PATH descriptor (directories), or -1
	struct file_handle *handle; // reopens a non-directory (open_by_handle_at)
	pthread_rwlock_t lock;   // content: shared for reads, exclusive for writes
	pthread_mutex_t id_lock; // guards the cached header and directory IV
	bool id_known;
	uint8_t file_id[GCFS_FILE_ID_SIZE];
	bool diriv_known;
	uint8_t diriv[GCFS_DIRIV_SIZE];
};

struct dir_entry {
	char *name; // plaintext name
	char *disk; // on-disk name, for readdirplus lookups
	ino_t ino;
	unsigned char type;
};

struct dir_handle {
	struct dir_entry *entries;
	size_t count;
};

// Per-thread contexts and buffers, created on a thread's first request.
struct worker {
	struct gcfs_ctx *ctx;
	uint8_t *cipher;  // MAX_IO_BLOCKS sealed blocks
	uint8_t *plain;   // MAX_IO_BLOCKS plaintext blocks
	uint8_t nonces[MAX_IO_BLOCKS * GCFS_NONCE_SIZE];
	// Plaintext of each block to seal: a block of plain, or the request
	// buffer itself when a write covers the whole block (no copy).
	const uint8_t *sources[MAX_IO_BLOCKS];
};

// A range of blocks of one request, run by a pool thread. Tasks live on
// the requesting thread's stack; group counts the ones still running.
struct block_task {
	struct block_task *next;
	int (*fn)(struct gcfs_ctx *ctx, size_t begin, size_t end, void *arg);
	void *arg;
	size_t begin, end;
	int *pending;
	int *rc;
};

// Helper threads that seal or open the blocks of large requests in
// parallel with the FUSE thread that received them. Each helper has its
// own cipher contexts.
struct block_pool {
	pthread_mutex_t lock;
	pthread_cond_t work; // a task was queued, or the pool stops
	pthread_cond_t done; // a task finished
	struct block_task *queue;
	bool stopping;
	size_t helpers;
	pthread_t threads[MAX_HELPERS];
};

struct server {
	const struct gcfs_server_options *options;
	struct gcfs_keys *keys;
	struct node root;
	pthread_mutex_t table_lock;
	struct node *buckets[NODE_BUCKETS];
	pthread_key_t worker_key;
	atomic_uint_fast64_t auth_failures;
	struct block_pool pool;
	// Ordinary descriptor of the ciphertext root for open_by_handle_at,
	// which rejects O_PATH descriptors.
	int mount_fd;
	bool running_as_root;
};

static struct server server;

// ---- helpers -----------------------------------------------------------------

static void worker_free(void *arg)
{
	struct worker *w = arg;
	if (w == NULL)
		return;
	gcfs_ctx_free(w->ctx);
	if (w->plain != NULL)
		cf_wipe(w->plain, (size_t)MAX_IO_BLOCKS * GCFS_BLOCK_SIZE);
	free(w->cipher);
	free(w->plain);
	free(w);
}

static struct worker *worker_get(void)
{
	struct worker *w = pthread_getspecific(server.worker_key);
	if (w != NULL)
		return w;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->cipher = malloc((size_t)MAX_IO_BLOCKS * GCFS_CIPHER_BLOCK_SIZE);
	w->plain = malloc((size_t)MAX_IO_BLOCKS * GCFS_BLOCK_SIZE);
	if (w->cipher == NULL || w->plain == NULL || gcfs_ctx_new(&w->ctx, server.keys) != 0) {
		worker_free(w);
		return NULL;
	}
	pthread_setspecific(server.worker_key, w);
	return w;
}

static struct node *node_of(fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &server.root;
	return (struct node *)(uintptr_t)ino;
}

static void proc_path(char buf[64], int fd)
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

static size_t bucket_of(dev_t dev, ino_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) ^ dev) % NODE_BUCKETS;
}

static void node_init_locks(struct node *n)
{
	pthread_rwlock_init(&n->lock, NULL);
	pthread_mutex_init(&n->id_lock, NULL);
}

// Returns a file handle for name in dirfd, or NULL when the filesystem
// has none. flags are those of name_to_handle_at, so a symlink is not
// followed unless they contain AT_SYMLINK_FOLLOW.
static struct file_handle *handle_at(int dirfd, const char *name, int flags)
{
	struct file_handle *h = malloc(sizeof(*h) + MAX_HANDLE_SZ);
	int mount_id;
	if (h == NULL)
		return NULL;
	h->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dirfd, name, h, &mount_id, flags) != 0) {
		free(h);
		return NULL;
	}
	return h;
}

// Returns a descriptor of the node's ciphertext object opened with flags
// (O_PATH for metadata): the kept descriptor when flags is O_PATH and
// the node has one, else a new one that node_fd_put closes.
static int node_fd(struct node *n, int flags)
{
	if (n->fd >= 0 && flags == O_PATH)
		return n->fd;
	if (n->handle != NULL) {
		int fd = open_by_handle_at(server.mount_fd, n->handle, flags | O_CLOEXEC | O_NOFOLLOW);
		return fd < 0 ? -errno : fd;
	}
	char path[64];
	proc_path(path, n->fd);
	int fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void node_fd_put(struct node *n, int fd)
{
	if (fd >= 0 && fd != n->fd)
		close(fd);
}

// Finds the node of st's inode. Caller holds server.table_lock. Returns
// NULL when the inode has no node yet.
static struct node *node_find_locked(const struct stat *st)
{
	if (st->st_dev == server.root.dev && st->st_ino == server.root.ino)
		return &server.root;
	// A removed node is skipped: its inode number may already belong to
	// a new file, which then gets a node of its own.
	struct node *n = server.buckets[bucket_of(st->st_dev, st->st_ino)];
	while (n != NULL && !(n->dev == st->st_dev && n->ino == st->st_ino &&
			      !atomic_load(&n->removed)))
		n = n->next;
	return n;
}

// Like node_find_locked, and adds a lookup to the node found.
static struct node *node_ref_locked(const struct stat *st)
{
	struct node *n = node_find_locked(st);
	if (n != NULL && n != &server.root)
		n->lookups++;
	return n;
}

static struct node *node_ref(const struct stat *st)
{
	pthread_mutex_lock(&server.table_lock);
	struct node *n = node_ref_locked(st);
	pthread_mutex_unlock(&server.table_lock);
	return n;
}

// Returns the node for st with one more lookup, or NULL when out of
// memory. A new node takes handle, or fd when handle is NULL. Whatever
// the node does not take is released.
static struct node *node_insert(const struct stat *st, int fd, struct file_handle *handle)
{
	pthread_mutex_lock(&server.table_lock);
	struct node *n = node_ref_locked(st);
	bool created = false;
	if (n == NULL) {
		n = calloc(1, sizeof(*n));
		if (n != NULL) {
			n->dev = st->st_dev;
			n->ino = st->st_ino;
			n->handle = handle;
			n->fd = handle != NULL ? -1 : fd;
			n->lookups = 1;
			node_init_locks(n);
			size_t b = bucket_of(st->st_dev, st->st_ino);
			n->next = server.buckets[b];
			server.buckets[b] = n;
			created = true;
		}
	}
	pthread_mutex_unlock(&server.table_lock);

	if (!created || handle != NULL) {
		if (fd >= 0)
			close(fd);
	}
	if (!created)
		free(handle);
	return n;
}

// Creates the node of entry disk in dir, whose attributes are st, or
// returns the existing one. A non-directory is kept as a file handle
// taken by name, which is safe because the kernel runs no lookup while
// the same directory is changed through this mount, and the ciphertext
// directory has no other writers (see Limits above). A directory keeps
// an O_PATH descriptor, and st is refreshed from it in case the name
// changed since st was read.
static int node_new_at(struct node *dir, const char *disk, struct stat *st, struct node **out)
{
	struct file_handle *h = S_ISDIR(st->st_mode) ? NULL : handle_at(dir->fd, disk, 0);
	int fd = -1;
	if (h == NULL) {
		fd = openat(dir->fd, disk, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
			int rc = -errno;
			close(fd);
			return rc;
		}
	}
	*out = node_insert(st, fd, h);
	return *out == NULL ? -ENOMEM : 0;
}

static void node_forget(struct node *n, uint64_t count)
{
	if (n == &server.root)
		return;

	pthread_mutex_lock(&server.table_lock);
	n->lookups = count >= n->lookups ? 0 : n->lookups - count;
	if (n->lookups > 0) {
		pthread_mutex_unlock(&server.table_lock);
		return;
	}
	struct node **link = &server.buckets[bucket_of(n->dev, n->ino)];
	while (*link != NULL && *link != n)
		link = &(*link)->next;
	if (*link == n)
		*link = n->next;
	pthread_mutex_unlock(&server.table_lock);

	if (n->fd >= 0)
		close(n->fd);
	free(n->handle);
	pthread_rwlock_destroy(&n->lock);
	pthread_mutex_destroy(&n->id_lock);
	free(n);
}

// Converts ciphertext attributes to what the plaintext view shows.
static void plain_attr(struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		int64_t size = gcfs_plain_size((uint64_t)st->st_size);
		st->st_size = size < 0 ? 0 : size;
	} else if (S_ISLNK(st->st_mode)) {
		st->st_size = (off_t)gcfs_symlink_plain_size((size_t)st->st_size);
	}
}

static int node_stat(struct node *n, struct stat *st)
{
	int fd = node_fd(n, O_PATH);
	if (fd < 0)
		return fd;
	int rc = fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 ? -errno : 0;
	node_fd_put(n, fd);
	if (rc == 0)
		plain_attr(st);
	return rc;
}

static int read_full(int fd, void *buf, size_t size, off_t off)
{
	size_t done = 0;
	while (done < size) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, size - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (int)done;
}

static int write_full(int fd, const void *buf, size_t size, off_t off)
{
	size_t done = 0;
	while (done < size) {
		ssize_t n = pwrite(fd, (const uint8_t *)buf + done, size - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

static int dir_iv(struct node *dir, uint8_t diriv[GCFS_DIRIV_SIZE])
{
	int rc = 0;

	pthread_mutex_lock(&dir->id_lock);
	if (!dir->diriv_known) {
		int fd = openat(dir->fd, GCFS_DIRIV_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			rc = errno == ENOENT ? -EIO : -errno;
		} else {
			int n = read_full(fd, dir->diriv, GCFS_DIRIV_SIZE, 0);
			close(fd);
			if (n == GCFS_DIRIV_SIZE)
				dir->diriv_known = true;
			else
				rc = -EIO;
		}
		if (rc != 0)
			cf_log(CF_LOG_ERROR, "fuse_diriv_unreadable", "volume=%s dir_ino=%ju error=%d",
			       server.options->volume, (uintmax_t)dir->ino, -rc);
	}
	if (rc == 0)
		memcpy(diriv, dir->diriv, GCFS_DIRIV_SIZE);
	pthread_mutex_unlock(&dir->id_lock);
	return rc;
}

// The on-disk form of a plaintext name in dir: its encoded name, or the
// long-name hash when the encoded name is too long (encoded is kept for
// the .name file).
struct disk_name {
	char encoded[GCFS_ENCODED_BUF];
	char hashed[GCFS_LONGNAME_BUF];
	bool is_long;
	const char *name;
};

static int disk_name_of(struct node *dir, const char *name, struct disk_name *out)
{
	uint8_t diriv[GCFS_DIRIV_SIZE];
	struct worker *w = worker_get();
	if (w == NULL)
		return -ENOMEM;

	int rc = dir_iv(dir, diriv);
	if (rc != 0)
		return rc;
	rc = gcfs_name_encrypt(w->ctx, diriv, name, out->encoded);
	if (rc != 0)
		return rc;
	out->is_long = gcfs_name_is_long(out->encoded);
	if (out->is_long) {
		rc = gcfs_longname_hash(out->encoded, out->hashed);
		if (rc != 0)
			return rc;
		out->name = out->hashed;
	} else {
		out->name = out->encoded;
	}
	return 0;
}

// Writes the .name file that maps a long-name hash back to its name.
static int write_long_name(struct node *dir, const struct disk_name *dn)
{
	char path[GCFS_LONGNAME_BUF + 8];
	snprintf(path, sizeof(path), "%s%s", dn->hashed, GCFS_LONGNAME_SUFFIX);

	int fd = openat(dir->fd, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0)
		return -errno;
	int rc = write_full(fd, dn->encoded, strlen(dn->encoded), 0);
	close(fd);
	if (rc != 0)
		unlinkat(dir->fd, path, 0);
	return rc;
}

static void remove_long_name(struct node *dir, const struct disk_name *dn)
{
	char path[GCFS_LONGNAME_BUF + 8];
	if (!dn->is_long)
		return;
	snprintf(path, sizeof(path), "%s%s", dn->hashed, GCFS_LONGNAME_SUFFIX);
	unlinkat(dir->fd, path, 0);
}

// Gives a new object to the requesting user, since the server runs as root.
static void chown_to_caller(fuse_req_t req, int dirfd, const char *name)
{
	if (!server.running_as_root)
		return;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	if (ctx->uid == geteuid() && ctx->gid == getegid())
		return;
	if (fchownat(dirfd, name, ctx->uid, ctx->gid, AT_SYMLINK_NOFOLLOW) != 0)
		cf_log(CF_LOG_WARN, "fuse_chown_failed", "volume=%s uid=%u gid=%u error=%d",
		       server.options->volume, (unsigned)ctx->uid, (unsigned)ctx->gid, errno);
}

static void entry_fill(struct fuse_entry_param *e, struct node *n, struct stat *st)
{
	plain_attr(st);
	e->ino = n == &server.root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
	e->attr = *st;
	e->attr_timeout = server.options->cache_timeout;
	e->entry_timeout = server.options->cache_timeout;
}

// Looks up the entry disk of dir and adds a kernel reference to its
// node. A name whose inode already has a node costs one fstatat.
static int entry_for(struct node *dir, const char *disk, struct fuse_entry_param *e)
{
	struct stat st;
	memset(e, 0, sizeof(*e));
	if (fstatat(dir->fd, disk, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;

	struct node *n = node_ref(&st);
	if (n == NULL) {
		int rc = node_new_at(dir, disk, &st, &n);
		if (rc != 0)
			return rc;
	}
	entry_fill(e, n, &st);
	return 0;
}

// Like entry_for, for an object that the server has just opened as fd:
// its attributes and handle come from the descriptor.
static int entry_for_open(struct node *dir, const char *disk, int fd,
			  struct fuse_entry_param *e)
{
	struct stat st;
	memset(e, 0, sizeof(*e));
	if (fstat(fd, &st) != 0)
		return -errno;

	struct node *n = node_ref(&st);
	if (n == NULL) {
		struct file_handle *h = handle_at(fd, "", AT_EMPTY_PATH);
		if (h == NULL)
			return entry_for(dir, disk, e);
		n = node_insert(&st, -1, h);
		if (n == NULL)
			return -ENOMEM;
	}
	entry_fill(e, n, &st);
	return 0;
}

static void reply_entry(fuse_req_t req, struct node *dir, const char *disk)
{
	struct fuse_entry_param e;
	int rc = entry_for(dir, disk, &e);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

// ---- block pool ------------------------------------------------------------------

static void *pool_main(void *arg)
{
	(void)arg;
	struct block_pool *pool = &server.pool;
	struct gcfs_ctx *ctx = NULL;
	if (gcfs_ctx_new(&ctx, server.keys) != 0)
		return NULL;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->queue == NULL && !pool->stopping)
			pthread_cond_wait(&pool->work, &pool->lock);
		if (pool->stopping)
			break;
		struct block_task *task = pool->queue;
		pool->queue = task->next;
		pthread_mutex_unlock(&pool->lock);

		int rc = task->fn(ctx, task->begin, task->end, task->arg);

		pthread_mutex_lock(&pool->lock);
		if (rc != 0 && *task->rc == 0)
			*task->rc = rc;
		(*task->pending)--;
		pthread_cond_broadcast(&pool->done);
	}
	pthread_mutex_unlock(&pool->lock);
	gcfs_ctx_free(ctx);
	return NULL;
}

static void pool_start(void)
{
	struct block_pool *pool = &server.pool;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t helpers = cpus > 1 ? (size_t)cpus - 1 : 0;
	if (helpers > MAX_HELPERS)
		helpers = MAX_HELPERS;

	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->work, NULL);
	pthread_cond_init(&pool->done, NULL);
	for (size_t i = 0; i < helpers; i++) {
		if (pthread_create(&pool->threads[i], NULL, pool_main, NULL) != 0)
			break;
		pool->helpers++;
	}
}

static void pool_stop(void)
{
	struct block_pool *pool = &server.pool;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->lock);
	for (size_t i = 0; i < pool->helpers; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_cond_destroy(&pool->work);
	pthread_cond_destroy(&pool->done);
	pthread_mutex_destroy(&pool->lock);
}

// Removes from the queue the first of tasks[0, count) that no helper has
// taken yet, or returns NULL. Caller holds pool->lock.
static struct block_task *pool_take(struct block_pool *pool, struct block_task *tasks,
				    size_t count)
{
	for (struct block_task **link = &pool->queue; *link != NULL; link = &(*link)->next) {
		for (size_t i = 0; i < count; i++) {
			if (*link == &tasks[i]) {
				*link = tasks[i].next;
				return &tasks[i];
			}
		}
	}
	return NULL;
}

// Runs fn over blocks [0, count): small requests in the calling thread,
// large ones split between the calling thread and the pool's helpers.
// Returns the first error of any part.
static int pool_run(struct worker *w, size_t count,
		    int (*fn)(struct gcfs_ctx *ctx, size_t begin, size_t end, void *arg), void *arg)
{
	struct block_pool *pool = &server.pool;
	if (pool->helpers == 0 || count < PARALLEL_MIN_BLOCKS)
		return fn(w->ctx, 0, count, arg);

	size_t parts = pool->helpers + 1;
	size_t per_part = (count + parts - 1) / parts;
	struct block_task tasks[MAX_HELPERS];
	size_t queued = 0;
	int pending = 0, rc = 0;

	pthread_mutex_lock(&pool->lock);
	for (size_t i = 0; i < pool->helpers; i++) {
		size_t begin = per_part * (i + 1);
		if (begin >= count)
			break;
		queued = i + 1;
		size_t end = begin + per_part < count ? begin + per_part : count;
		tasks[i] = (struct block_task){ .next = pool->queue, .fn = fn, .arg = arg,
						.begin = begin, .end = end, .pending = &pending,
						.rc = &rc };
		pool->queue = &tasks[i];
		pending++;
	}
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->lock);

	int own = fn(w->ctx, 0, per_part < count ? per_part : count, arg);

	// Parts that no helper has started yet are run here, so a helper that
	// waits for a CPU on a busy machine does not hold up the request.
	pthread_mutex_lock(&pool->lock);
	while (pending > 0) {
		struct block_task *task = pool_take(pool, tasks, queued);
		if (task == NULL) {
			pthread_cond_wait(&pool->done, &pool->lock);
			continue;
		}
		pthread_mutex_unlock(&pool->lock);
		int part = fn(w->ctx, task->begin, task->end, arg);
		pthread_mutex_lock(&pool->lock);
		if (part != 0 && rc == 0)
			rc = part;
		pending--;
	}
	pthread_mutex_unlock(&pool->lock);
	return own != 0 ? own : rc;
}

// ---- file content --------------------------------------------------------------

static void log_auth_failure(struct node *n, uint64_t block)
{
	uint64_t count = atomic_fetch_add(&server.auth_failures, 1) + 1;
	if (count > AUTH_LOG_BURST && count % 1000 != 0)
		return;

	char link[64], path[PATH_MAX] = "?";
	int fd = node_fd(n, O_PATH);
	if (fd >= 0) {
		proc_path(link, fd);
		ssize_t len = readlink(link, path, sizeof(path) - 1);
		if (len > 0)
			path[len] = '\0';
		node_fd_put(n, fd);
	}
	char quoted[PATH_MAX + 16];
	cf_log(CF_LOG_ERROR, "fuse_block_auth_failed",
	       "volume=%s file=%s ino=%ju block=%" PRIu64 " failures=%" PRIu64,
	       server.options->volume, cf_log_quote(quoted, sizeof(quoted), path),
	       (uintmax_t)n->ino, block, count);
}

// Loads the file id from the header. Returns 0, -ENODATA for an empty
// ciphertext (no header yet) or -EIO for a damaged header.
static int file_id_get(struct node *n, int fd, uint8_t id[GCFS_FILE_ID_SIZE])
{
	int rc = 0;

	pthread_mutex_lock(&n->id_lock);
	if (!n->id_known) {
		uint8_t header[GCFS_HEADER_SIZE];
		int got = read_full(fd, header, sizeof(header), 0);
		if (got < 0)
			rc = got;
		else if (got == 0)
			rc = -ENODATA;
		else if (gcfs_header_decode(header, (size_t)got, n->file_id) != 0)
			rc = -EIO;
		else
			n->id_known = true;
		if (rc == -EIO)
			cf_log(CF_LOG_ERROR, "fuse_header_invalid", "volume=%s ino=%ju",
			       server.options->volume, (uintmax_t)n->ino);
	}
	if (rc == 0)
		memcpy(id, n->file_id, GCFS_FILE_ID_SIZE);
	pthread_mutex_unlock(&n->id_lock);
	return rc;
}

// Takes the file id from a header already read, caching it.
static int file_id_from_header(struct node *n, const uint8_t *header,
			       uint8_t id[GCFS_FILE_ID_SIZE])
{
	int rc = 0;
	pthread_mutex_lock(&n->id_lock);
	if (!n->id_known) {
		if (gcfs_header_decode(header, GCFS_HEADER_SIZE, n->file_id) == 0) {
			n->id_known = true;
		} else {
			rc = -EIO;
			cf_log(CF_LOG_ERROR, "fuse_header_invalid", "volume=%s ino=%ju",
			       server.options->volume, (uintmax_t)n->ino);
		}
	}
	if (rc == 0)
		memcpy(id, n->file_id, GCFS_FILE_ID_SIZE);
	pthread_mutex_unlock(&n->id_lock);
	return rc;
}

// Writes a fresh header to an empty ciphertext. Caller holds n->lock.
static int file_id_create(struct node *n, int fd, uint8_t id[GCFS_FILE_ID_SIZE])
{
	uint8_t header[GCFS_HEADER_SIZE];
	int rc = cf_random(id, GCFS_FILE_ID_SIZE);
	if (rc != 0)
		return rc;
	gcfs_header_encode(header, id);
	rc = write_full(fd, header, sizeof(header), 0);
	if (rc != 0)
		return rc;

	pthread_mutex_lock(&n->id_lock);
	memcpy(n->file_id, id, GCFS_FILE_ID_SIZE);
	n->id_known = true;
	pthread_mutex_unlock(&n->id_lock);
	return 0;
}

static void file_id_forget(struct node *n)
{
	pthread_mutex_lock(&n->id_lock);
	n->id_known = false;
	pthread_mutex_unlock(&n->id_lock);
}

static int plain_size_of(int fd, uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	int64_t plain = gcfs_plain_size((uint64_t)st.st_size);
	if (plain < 0)
		return -EIO;
	*size = (uint64_t)plain;
	return 0;
}

static off_t block_offset(uint64_t block)
{
	return (off_t)(GCFS_HEADER_SIZE + block * GCFS_CIPHER_BLOCK_SIZE);
}

// Reads and opens one block (plaintext length len) into plain.
static int block_load(struct worker *w, struct node *n, int fd, const uint8_t *id,
		      uint64_t block, size_t len, uint8_t *plain)
{
	uint8_t sealed[GCFS_CIPHER_BLOCK_SIZE];
	size_t want = len + GCFS_BLOCK_OVERHEAD, got_plain = 0;

	int got = read_full(fd, sealed, want, block_offset(block));
	if (got < 0)
		return got;
	if ((size_t)got != want)
		return -EIO;
	int rc = gcfs_block_open(w->ctx, block, id, sealed, want, plain, &got_plain);
	if (rc != 0 || got_plain != len) {
		log_auth_failure(n, block);
		return -EIO;
	}
	return 0;
}

struct open_job {
	struct worker *w;
	struct node *n;
	const uint8_t *id;
	const uint8_t *sealed;
	uint64_t first;
	size_t count;
	size_t last_len;
};

static int open_range(struct gcfs_ctx *ctx, size_t begin, size_t end, void *arg)
{
	struct open_job *job = arg;
	for (size_t i = begin; i < end; i++) {
		size_t len = i + 1 == job->count ? job->last_len : GCFS_BLOCK_SIZE;
		size_t opened = 0;
		int rc = gcfs_block_open(ctx, job->first + i, job->id,
					 job->sealed + i * GCFS_CIPHER_BLOCK_SIZE,
					 len + GCFS_BLOCK_OVERHEAD,
					 job->w->plain + i * GCFS_BLOCK_SIZE, &opened);
		if (rc != 0 || opened != len) {
			log_auth_failure(job->n, job->first + i);
			return -EIO;
		}
	}
	return 0;
}

// Reads up to size bytes at off. Caller holds n->lock shared.
static int content_read(struct worker *w, struct node *n, int fd, size_t size, off_t off,
			const uint8_t **out, size_t *out_size)
{
	uint64_t plain_size = 0;
	uint8_t id[GCFS_FILE_ID_SIZE];

	*out_size = 0;
	int rc = plain_size_of(fd, &plain_size);
	if (rc != 0)
		return rc;
	if ((uint64_t)off >= plain_size || size == 0)
		return 0;
	if (size > MAX_IO)
		size = MAX_IO;
	if ((uint64_t)off + size > plain_size)
		size = (size_t)(plain_size - (uint64_t)off);

	uint64_t first = (uint64_t)off / GCFS_BLOCK_SIZE;
	uint64_t last = ((uint64_t)off + size - 1) / GCFS_BLOCK_SIZE;
	uint64_t end_plain = (last + 1) * GCFS_BLOCK_SIZE;
	size_t last_len = end_plain > plain_size ? (size_t)(plain_size - last * GCFS_BLOCK_SIZE)
						 : GCFS_BLOCK_SIZE;
	size_t count = (size_t)(last - first + 1);
	size_t cipher_len = (count - 1) * GCFS_CIPHER_BLOCK_SIZE + last_len + GCFS_BLOCK_OVERHEAD;

	// A read from block 0 fetches the header in the same pread.
	size_t prefix = first == 0 ? GCFS_HEADER_SIZE : 0;
	int got = read_full(fd, w->cipher, cipher_len + prefix, block_offset(first) - (off_t)prefix);
	if (got < 0)
		return got;
	if ((size_t)got != cipher_len + prefix)
		return -EIO;
	if (prefix > 0)
		rc = file_id_from_header(n, w->cipher, id);
	else
		rc = file_id_get(n, fd, id);
	if (rc != 0)
		return rc == -ENODATA ? -EIO : rc;
	const uint8_t *sealed = w->cipher + prefix;

	struct open_job job = { .w = w, .n = n, .id = id, .sealed = sealed, .first = first,
				.count = count, .last_len = last_len };
	rc = pool_run(w, count, open_range, &job);
	if (rc != 0)
		return rc;
	*out = w->plain + (uint64_t)off % GCFS_BLOCK_SIZE;
	*out_size = size;
	return 0;
}

struct seal_job {
	struct worker *w;
	const uint8_t *id;
	uint64_t first;
	size_t count;
	size_t last_len;
};

static int seal_range(struct gcfs_ctx *ctx, size_t begin, size_t end, void *arg)
{
	struct seal_job *job = arg;
	struct worker *w = job->w;
	for (size_t i = begin; i < end; i++) {
		size_t len = i + 1 == job->count ? job->last_len : GCFS_BLOCK_SIZE;
		int rc = gcfs_block_seal(ctx, job->first + i, job->id,
					 w->nonces + i * GCFS_NONCE_SIZE, w->sources[i], len,
					 w->cipher + i * GCFS_CIPHER_BLOCK_SIZE);
		if (rc != 0)
			return rc;
	}
	return 0;
}

// Seals count consecutive plaintext blocks from w->sources into
// w->cipher; every block is full except possibly the last (last_len bytes).
static int seal_blocks(struct worker *w, const uint8_t *id, uint64_t first, size_t count,
		       size_t last_len)
{
	int rc = cf_random(w->nonces, count * GCFS_NONCE_SIZE);
	if (rc != 0)
		return rc;
	struct seal_job job = { .w = w, .id = id, .first = first, .count = count,
				.last_len = last_len };
	return pool_run(w, count, seal_range, &job);
}

// Writes size bytes at off. Caller holds n->lock exclusively. A write
// that starts beyond the block holding the end of the file first pads that
// block to full size, so the blocks in between stay holes.
static int content_write(struct worker *w, struct node *n, int fd, const uint8_t *buf,
			 size_t size, off_t off)
{
	uint64_t plain_size = 0;
	uint8_t id[GCFS_FILE_ID_SIZE];

	if (size == 0)
		return 0;
	if (size > MAX_IO)
		return -EINVAL;
	int rc = plain_size_of(fd, &plain_size);
	if (rc != 0)
		return rc;

	rc = file_id_get(n, fd, id);
	if (rc == -ENODATA)
		rc = file_id_create(n, fd, id);
	if (rc != 0)
		return rc;

	uint64_t first = (uint64_t)off / GCFS_BLOCK_SIZE;
	uint64_t last = ((uint64_t)off + size - 1) / GCFS_BLOCK_SIZE;

	// Pad the old partial last block when the write begins past it.
	uint64_t tail = plain_size % GCFS_BLOCK_SIZE;
	uint64_t tail_block = plain_size / GCFS_BLOCK_SIZE;
	if (tail != 0 && first > tail_block) {
		rc = block_load(w, n, fd, id, tail_block, (size_t)tail, w->plain);
		if (rc != 0)
			return rc;
		memset(w->plain + tail, 0, GCFS_BLOCK_SIZE - tail);
		w->sources[0] = w->plain;
		rc = seal_blocks(w, id, tail_block, 1, GCFS_BLOCK_SIZE);
		if (rc == 0)
			rc = write_full(fd, w->cipher, GCFS_CIPHER_BLOCK_SIZE, block_offset(tail_block));
		if (rc != 0)
			return rc;
		plain_size = (tail_block + 1) * GCFS_BLOCK_SIZE;
	}

	size_t count = (size_t)(last - first + 1);
	size_t last_len = GCFS_BLOCK_SIZE;
	for (size_t i = 0; i < count; i++) {
		uint64_t block = first + i;
		uint64_t start = block * GCFS_BLOCK_SIZE;
		uint8_t *plain = w->plain + i * GCFS_BLOCK_SIZE;
		size_t from = (uint64_t)off > start ? (size_t)((uint64_t)off - start) : 0;
		uint64_t write_end = (uint64_t)off + size;
		size_t to = write_end < start + GCFS_BLOCK_SIZE ? (size_t)(write_end - start)
							      : GCFS_BLOCK_SIZE;
		size_t existing = plain_size > start ? (size_t)(plain_size - start) : 0;
		if (existing > GCFS_BLOCK_SIZE)
			existing = GCFS_BLOCK_SIZE;
		size_t len = existing > to ? existing : to;

		if (from == 0 && to == GCFS_BLOCK_SIZE) {
			w->sources[i] = buf + (start - (uint64_t)off);
			if (i + 1 == count)
				last_len = GCFS_BLOCK_SIZE;
			continue;
		}
		w->sources[i] = plain;

		// Only the first and last blocks can be partial writes.
		if ((from > 0 || to < len) && existing > 0) {
			rc = block_load(w, n, fd, id, block, existing, plain);
			if (rc != 0)
				return rc;
		}
		if (from > existing)
			memset(plain + existing, 0, from - existing);
		memcpy(plain + from, buf + (start + from - (uint64_t)off), to - from);
		if (i + 1 == count)
			last_len = len;
	}

	rc = seal_blocks(w, id, first, count, last_len);
	if (rc != 0)
		return rc;
	size_t cipher_len = (count - 1) * GCFS_CIPHER_BLOCK_SIZE + last_len + GCFS_BLOCK_OVERHEAD;
	rc = write_full(fd, w->cipher, cipher_len, block_offset(first));
	// Start writing a large request's ciphertext to disk now, so disk I/O
	// overlaps the sealing of the next request instead of waiting for fsync.
	if (rc == 0 && count >= WRITEOUT_MIN_BLOCKS)
		(void)sync_file_range(fd, block_offset(first), (off_t)cipher_len,
				      SYNC_FILE_RANGE_WRITE);
	return rc;
}

// Sets the plaintext size. Caller holds n->lock exclusively.
static int content_truncate(struct worker *w, struct node *n, int fd, uint64_t size)
{
	uint64_t plain_size = 0;
	uint8_t id[GCFS_FILE_ID_SIZE];

	int rc = plain_size_of(fd, &plain_size);
	if (rc != 0)
		return rc;
	if (size == plain_size)
		return 0;

	if (size == 0) {
		// An empty file has no header; the next write starts a new file id.
		if (ftruncate(fd, 0) != 0)
			return -errno;
		file_id_forget(n);
		return 0;
	}

	if (size > plain_size) {
		// One zero byte at the new end, written through the normal
		// path: it pads the old last block and leaves holes between.
		static const uint8_t zero = 0;
		return content_write(w, n, fd, &zero, 1, (off_t)(size - 1));
	}

	uint64_t block = size / GCFS_BLOCK_SIZE;
	size_t keep = (size_t)(size % GCFS_BLOCK_SIZE);
	if (keep == 0) {
		if (ftruncate(fd, block_offset(block)) != 0)
			return -errno;
		return 0;
	}

	rc = file_id_get(n, fd, id);
	if (rc != 0)
		return rc == -ENODATA ? -EIO : rc;
	uint64_t old_end = plain_size - block * GCFS_BLOCK_SIZE;
	size_t existing = old_end > GCFS_BLOCK_SIZE ? GCFS_BLOCK_SIZE : (size_t)old_end;
	rc = block_load(w, n, fd, id, block, existing, w->plain);
	if (rc != 0)
		return rc;
	w->sources[0] = w->plain;
	rc = seal_blocks(w, id, block, 1, keep);
	if (rc != 0)
		return rc;
	rc = write_full(fd, w->cipher, keep + GCFS_BLOCK_OVERHEAD, block_offset(block));
	if (rc != 0)
		return rc;
	if (ftruncate(fd, block_offset(block) + (off_t)(keep + GCFS_BLOCK_OVERHEAD)) != 0)
		return -errno;
	return 0;
}

// ---- operations ------------------------------------------------------------------

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_WRITEBACK_CACHE)
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	conn->max_write = MAX_IO;
	conn->max_read = MAX_READ;
	conn->max_readahead = MAX_IO;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct disk_name dn;
	int rc = disk_name_of(node_of(parent), name, &dn);
	if (rc != 0) {
		fuse_reply_err(req, rc == -EINVAL ? ENOENT : -rc);
		return;
	}
	reply_entry(req, node_of(parent), dn.name);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(node_of(ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		node_forget(node_of(forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int rc = 0;
	if (fi != NULL) {
		rc = fstat((int)fi->fh, &st) != 0 ? -errno : 0;
		if (rc == 0)
			plain_attr(&st);
	} else {
		rc = node_stat(node_of(ino), &st);
	}
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, server.options->cache_timeout);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	struct stat st;
	char path[64];
	int rc = 0;

	// With writeback caching the kernel flushes a file's times after
	// every unlink, also when the unlink removed the file. A removed file
	// without open handles has no times left to set, so this fails early.
	int time_bits = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
			FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
	if (fi == NULL && atomic_load(&n->removed) && atomic_load(&n->opens) == 0 &&
	    (to_set & ~time_bits) == 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}

	// An open file is changed through its descriptor, which also works
	// after its last name is gone.
	int meta = fi != NULL ? (int)fi->fh : node_fd(n, O_PATH);
	if (meta < 0) {
		fuse_reply_err(req, -meta);
		return;
	}
	proc_path(path, meta);
	if (to_set & FUSE_SET_ATTR_MODE) {
		if (fchmodat(AT_FDCWD, path, attr->st_mode & 07777, 0) != 0) {
			rc = -errno;
			goto out;
		}
	}
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
		gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;
		if (fchownat(meta, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
			rc = -errno;
			goto out;
		}
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		struct worker *w = worker_get();
		int fd = fi != NULL ? (int)fi->fh : node_fd(n, O_RDWR);
		if (w == NULL || fd < 0) {
			rc = w == NULL ? -ENOMEM : fd;
			if (fd >= 0 && fi == NULL)
				close(fd);
			goto out;
		}
		pthread_rwlock_wrlock(&n->lock);
		rc = content_truncate(w, n, fd, (uint64_t)attr->st_size);
		pthread_rwlock_unlock(&n->lock);
		if (fi == NULL)
			close(fd);
		if (rc != 0)
			goto out;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec times[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			times[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			times[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			times[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			times[1] = attr->st_mtim;
		int r = fi != NULL ? futimens((int)fi->fh, times) : utimensat(AT_FDCWD, path, times, 0);
		if (r != 0) {
			rc = -errno;
			goto out;
		}
	}

	if (fstatat(meta, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
		rc = -errno;

out:
	if (fi == NULL)
		node_fd_put(n, meta);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	plain_attr(&st);
	fuse_reply_attr(req, &st, server.options->cache_timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct node *n = node_of(ino);
	char encoded[6000], target[GCFS_SYMLINK_MAX + 1];
	struct worker *w = worker_get();
	if (w == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}

	int fd = node_fd(n, O_PATH);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	ssize_t len = readlinkat(fd, "", encoded, sizeof(encoded));
	int saved = errno;
	node_fd_put(n, fd);
	if (len < 0) {
		fuse_reply_err(req, saved);
		return;
	}
	int rc = gcfs_symlink_decrypt(w->ctx, encoded, (size_t)len, target, sizeof(target));
	if (rc != 0) {
		log_auth_failure(n, 0);
		fuse_reply_err(req, EIO);
		return;
	}
	fuse_reply_readlink(req, target);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	struct node *dir = node_of(parent);
	struct disk_name dn;
	int rc = disk_name_of(dir, name, &dn);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (dn.is_long && (rc = write_long_name(dir, &dn)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (mknodat(dir->fd, dn.name, mode, rdev) != 0) {
		rc = errno;
		if (rc != EEXIST)
			remove_long_name(dir, &dn);
		fuse_reply_err(req, rc);
		return;
	}
	chown_to_caller(req, dir->fd, dn.name);
	reply_entry(req, dir, dn.name);
}

static int write_diriv(int dirfd)
{
	uint8_t iv[GCFS_DIRIV_SIZE];
	int rc = cf_random(iv, sizeof(iv));
	if (rc != 0)
		return rc;
	int fd = openat(dirfd, GCFS_DIRIV_NAME, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0440);
	if (fd < 0)
		return -errno;
	rc = write_full(fd, iv, sizeof(iv), 0);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct node *dir = node_of(parent);
	struct disk_name dn;
	int rc = disk_name_of(dir, name, &dn);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (dn.is_long && (rc = write_long_name(dir, &dn)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	// Created with mode 0700 and given its final mode once its IV exists,
	// so no other user sees a directory whose names cannot be encrypted.
	if (mkdirat(dir->fd, dn.name, 0700) != 0) {
		rc = errno;
		if (rc != EEXIST)
			remove_long_name(dir, &dn);
		fuse_reply_err(req, rc);
		return;
	}
	int fd = openat(dir->fd, dn.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	rc = fd < 0 ? -errno : write_diriv(fd);
	if (rc == 0 && fchmod(fd, mode & 07777) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		unlinkat(dir->fd, dn.name, AT_REMOVEDIR);
		remove_long_name(dir, &dn);
		fuse_reply_err(req, -rc);
		return;
	}
	chown_to_caller(req, dir->fd, dn.name);
	reply_entry(req, dir, dn.name);
}

// Marks the node of an unlinked object as removed when it has no name
// left, so the kernel's flush of its times after the unlink fails at once.
static void node_mark_removed(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_nlink != 0)
		return;
	pthread_mutex_lock(&server.table_lock);
	struct node *n = node_find_locked(&st);
	if (n != NULL && n != &server.root)
		atomic_store(&n->removed, true);
	pthread_mutex_unlock(&server.table_lock);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_of(parent);
	struct disk_name dn;
	int rc = disk_name_of(dir, name, &dn);
	if (rc != 0) {
		fuse_reply_err(req, rc == -EINVAL ? ENOENT : -rc);
		return;
	}
	// The O_PATH descriptor keeps the inode alive past unlinkat, so the
	// filesystem frees a removed file's blocks at close, after the reply,
	// rather than while the caller waits.
	int keep = openat(dir->fd, dn.name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (unlinkat(dir->fd, dn.name, 0) != 0) {
		rc = errno;
		if (keep >= 0)
			close(keep);
		fuse_reply_err(req, rc);
		return;
	}
	if (keep >= 0)
		node_mark_removed(keep);
	remove_long_name(dir, &dn);
	fuse_reply_err(req, 0);
	if (keep >= 0)
		close(keep);
}

// Returns 1 when a ciphertext directory contains nothing but its IV file,
// 0 when it contains more, or a negative errno.
static int dir_is_empty(int parent_fd, const char *disk)
{
	int fd = openat(parent_fd, disk, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	int rc = 1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, GCFS_DIRIV_NAME) == 0)
			continue;
		rc = 0;
		break;
	}
	closedir(d);
	return rc;
}

// Removes an empty ciphertext directory: its IV file first, then the
// directory. The IV is restored when the directory cannot be removed.
static int remove_dir(int parent_fd, const char *disk)
{
	int rc = dir_is_empty(parent_fd, disk);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return -ENOTEMPTY;

	int fd = openat(parent_fd, disk, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uint8_t iv[GCFS_DIRIV_SIZE];
	int ivfd = openat(fd, GCFS_DIRIV_NAME, O_RDONLY | O_CLOEXEC);
	bool have_iv = ivfd >= 0 && read_full(ivfd, iv, sizeof(iv), 0) == GCFS_DIRIV_SIZE;
	if (ivfd >= 0)
		close(ivfd);
	unlinkat(fd, GCFS_DIRIV_NAME, 0);

	rc = 0;
	if (unlinkat(parent_fd, disk, AT_REMOVEDIR) != 0) {
		rc = -errno;
		if (have_iv) {
			ivfd = openat(fd, GCFS_DIRIV_NAME, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				      0440);
			if (ivfd >= 0) {
				(void)write_full(ivfd, iv, sizeof(iv), 0);
				close(ivfd);
			}
		}
	}
	close(fd);
	return rc;
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_of(parent);
	struct disk_name dn;
	int rc = disk_name_of(dir, name, &dn);
	if (rc == 0)
		rc = remove_dir(dir->fd, dn.name);
	else if (rc == -EINVAL)
		rc = -ENOENT;
	if (rc == 0)
		remove_long_name(dir, &dn);
	fuse_reply_err(req, -rc);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_of(parent);
	struct disk_name dn;
	char encoded[6000];
	struct worker *w = worker_get();
	if (w == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}

	int rc = disk_name_of(dir, name, &dn);
	if (rc == 0)
		rc = gcfs_symlink_encrypt(w->ctx, link, encoded, sizeof(encoded));
	if (rc == 0 && dn.is_long)
		rc = write_long_name(dir, &dn);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (symlinkat(encoded, dir->fd, dn.name) != 0) {
		rc = errno;
		if (rc != EEXIST)
			remove_long_name(dir, &dn);
		fuse_reply_err(req, rc);
		return;
	}
	chown_to_caller(req, dir->fd, dn.name);
	reply_entry(req, dir, dn.name);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct node *dir = node_of(parent), *newdir = node_of(newparent);
	struct disk_name from, to;
	int rc = disk_name_of(dir, name, &from);
	if (rc == -EINVAL)
		rc = -ENOENT;
	if (rc == 0)
		rc = disk_name_of(newdir, newname, &to);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	// With RENAME_EXCHANGE both names stay where they are, so their .name
	// files remain valid; otherwise the target needs one.
	if (!(flags & RENAME_EXCHANGE) && to.is_long) {
		rc = write_long_name(newdir, &to);
		if (rc != 0) {
			fuse_reply_err(req, -rc);
			return;
		}
	}

	// A ciphertext directory always contains its IV file, so an empty target
	// directory must lose it before rename(2) can replace it.
	struct stat st;
	uint8_t iv[GCFS_DIRIV_SIZE];
	bool target_iv_removed = false;
	if (flags == 0 && fstatat(newdir->fd, to.name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode)) {
		struct stat src;
		if (fstatat(dir->fd, from.name, &src, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(src.st_mode) && dir_is_empty(newdir->fd, to.name) == 1) {
			int fd = openat(newdir->fd, to.name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				int ivfd = openat(fd, GCFS_DIRIV_NAME, O_RDONLY | O_CLOEXEC);
				if (ivfd >= 0 && read_full(ivfd, iv, sizeof(iv), 0) == GCFS_DIRIV_SIZE &&
				    unlinkat(fd, GCFS_DIRIV_NAME, 0) == 0)
					target_iv_removed = true;
				if (ivfd >= 0)
					close(ivfd);
				close(fd);
			}
		}
	}

	if (renameat2(dir->fd, from.name, newdir->fd, to.name, flags) != 0) {
		rc = errno;
		if (target_iv_removed) {
			int fd = openat(newdir->fd, to.name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				int ivfd = openat(fd, GCFS_DIRIV_NAME,
						  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0440);
				if (ivfd >= 0) {
					(void)write_full(ivfd, iv, sizeof(iv), 0);
					close(ivfd);
				}
				close(fd);
			}
		}
		fuse_reply_err(req, rc);
		return;
	}
	if (!(flags & RENAME_EXCHANGE) && from.is_long &&
	    !(dir == newdir && strcmp(from.name, to.name) == 0))
		remove_long_name(dir, &from);
	fuse_reply_err(req, 0);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct node *n = node_of(ino), *dir = node_of(newparent);
	struct disk_name dn;
	int rc = disk_name_of(dir, newname, &dn);
	if (rc == 0 && dn.is_long)
		rc = write_long_name(dir, &dn);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	int fd = node_fd(n, O_PATH);
	rc = fd < 0 ? -fd : 0;
	if (rc == 0 && linkat(fd, "", dir->fd, dn.name, AT_EMPTY_PATH) != 0)
		rc = errno;
	node_fd_put(n, fd);
	if (rc != 0) {
		if (rc != EEXIST)
			remove_long_name(dir, &dn);
		fuse_reply_err(req, rc);
		return;
	}
	reply_entry(req, dir, dn.name);
}

static int open_cipher(struct node *n, int flags)
{
	// Always read-write: a partial-block write reads the block first, and
	// the writeback cache reads through write-only handles too.
	int fd = node_fd(n, O_RDWR);
	if ((fd == -EACCES || fd == -EROFS) && (flags & O_ACCMODE) == O_RDONLY)
		fd = node_fd(n, O_RDONLY);
	return fd;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	int fd = open_cipher(n, fi->flags);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	fi->fh = (uint64_t)fd;
	atomic_fetch_add(&n->opens, 1);
	if (fuse_reply_open(req, fi) == -ENOENT) {
		atomic_fetch_sub(&n->opens, 1);
		close(fd);
	}
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct node *dir = node_of(parent);
	struct disk_name dn;
	int rc = disk_name_of(dir, name, &dn);
	if (rc == 0 && dn.is_long)
		rc = write_long_name(dir, &dn);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}

	int flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (fi->flags & O_EXCL);
	int fd = openat(dir->fd, dn.name, flags, mode & 07777);
	if (fd < 0) {
		rc = errno;
		if (rc != EEXIST)
			remove_long_name(dir, &dn);
		fuse_reply_err(req, rc);
		return;
	}
	chown_to_caller(req, dir->fd, dn.name);

	struct fuse_entry_param e;
	rc = entry_for_open(dir, dn.name, fd, &e);
	if (rc != 0) {
		close(fd);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)fd;
	struct node *n = node_of(e.ino);
	atomic_fetch_add(&n->opens, 1);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		atomic_fetch_sub(&n->opens, 1);
		close(fd);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	struct worker *w = worker_get();
	const uint8_t *data = NULL;
	size_t got = 0;
	if (w == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}

	pthread_rwlock_rdlock(&n->lock);
	int rc = content_read(w, n, (int)fi->fh, size, off, &data, &got);
	pthread_rwlock_unlock(&n->lock);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, (const char *)data, got);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	struct worker *w = worker_get();
	if (w == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}

	pthread_rwlock_wrlock(&n->lock);
	int rc = content_write(w, n, (int)fi->fh, (const uint8_t *)buf, size, off);
	pthread_rwlock_unlock(&n->lock);
	if (rc != 0) {
		cf_log(CF_LOG_WARN, "fuse_write_failed", "volume=%s ino=%ju offset=%jd error=%d",
		       server.options->volume, (uintmax_t)n->ino, (intmax_t)off, -rc);
		fuse_reply_err(req, -rc);
	} else {
		fuse_reply_write(req, size);
	}
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	atomic_fetch_sub(&node_of(ino)->opens, 1);
	close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	int rc = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
	fuse_reply_err(req, rc != 0 ? errno : 0);
}

static void dir_handle_free(struct dir_handle *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->count; i++) {
		free(h->entries[i].name);
		free(h->entries[i].disk);
	}
	free(h->entries);
	free(h);
}

static int dir_handle_add(struct dir_handle *h, size_t *cap, const char *name,
			  const char *disk, ino_t ino, unsigned char type)
{
	if (h->count == *cap) {
		size_t grown = *cap ? *cap * 2 : 64;
		struct dir_entry *e = realloc(h->entries, grown * sizeof(*e));
		if (e == NULL)
			return -ENOMEM;
		h->entries = e;
		*cap = grown;
	}
	char *copy = strdup(name);
	char *disk_copy = strdup(disk);
	if (copy == NULL || disk_copy == NULL) {
		free(copy);
		free(disk_copy);
		return -ENOMEM;
	}
	h->entries[h->count++] = (struct dir_entry){ .name = copy, .disk = disk_copy, .ino = ino,
						     .type = type };
	return 0;
}

// Reads the encoded name of a long-name entry from its .name file.
static int read_long_name(int dirfd, const char *disk, char encoded[GCFS_ENCODED_BUF])
{
	char path[NAME_MAX + 8];
	snprintf(path, sizeof(path), "%s%s", disk, GCFS_LONGNAME_SUFFIX);
	int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int got = read_full(fd, encoded, GCFS_ENCODED_BUF - 1, 0);
	close(fd);
	if (got <= 0)
		return -EINVAL;
	encoded[got] = '\0';
	return 0;
}

// Decrypts the on-disk name disk of the directory dirfd into plain.
// Returns 1 when it decrypts, 0 for an entry that is not a name (the IV
// file, gocryptfs.conf in the root, a long name's .name file), -ENODATA
// when a long name's .name file cannot be read, -EINVAL when the name is
// not an encrypted name, and -EBADMSG when it is one that does not decrypt.
static int decrypt_disk_name(struct gcfs_ctx *ctx, int dirfd,
			     const uint8_t diriv[GCFS_DIRIV_SIZE], const char *disk, bool root,
			     char plain[GCFS_NAME_MAX + 1])
{
	char encoded[GCFS_ENCODED_BUF];

	if (strcmp(disk, GCFS_DIRIV_NAME) == 0 || (root && strcmp(disk, GCFS_CONF_NAME) == 0))
		return 0;
	int kind = gcfs_longname_kind(disk);
	if (kind == 2)
		return 0;
	if (kind == 1) {
		if (read_long_name(dirfd, disk, encoded) != 0)
			return -ENODATA;
	} else {
		snprintf(encoded, sizeof(encoded), "%s", disk);
	}
	int rc = gcfs_name_decrypt(ctx, diriv, encoded, plain);
	return rc == 0 ? 1 : rc;
}

// Lists a directory once at opendir: names decrypted, the IV file, the
// gocryptfs.conf in the root and .name files hidden, and entries that do
// not decrypt skipped (they are not ours to show).
static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	struct worker *w = worker_get();
	uint8_t diriv[GCFS_DIRIV_SIZE];
	size_t cap = 0;
	int rc = w == NULL ? -ENOMEM : dir_iv(n, diriv);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}

	struct dir_handle *h = calloc(1, sizeof(*h));
	int fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (h == NULL || d == NULL) {
		rc = h == NULL ? ENOMEM : errno;
		if (fd >= 0 && d == NULL)
			close(fd);
		free(h);
		fuse_reply_err(req, rc);
		return;
	}

	struct dirent *de;
	size_t skipped = 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		const char *disk = de->d_name;
		char plain[GCFS_NAME_MAX + 1];

		if (strcmp(disk, ".") == 0 || strcmp(disk, "..") == 0) {
			rc = dir_handle_add(h, &cap, disk, disk, de->d_ino, de->d_type);
			continue;
		}
		int decrypted = decrypt_disk_name(w->ctx, dirfd(d), diriv, disk,
						  n == &server.root, plain);
		if (decrypted < 0)
			skipped++;
		if (decrypted == 1)
			rc = dir_handle_add(h, &cap, plain, disk, de->d_ino, de->d_type);
	}
	closedir(d);
	if (skipped > 0)
		cf_log(CF_LOG_WARN, "fuse_names_skipped", "volume=%s dir_ino=%ju count=%zu",
		       server.options->volume, (uintmax_t)n->ino, skipped);
	if (rc != 0) {
		dir_handle_free(h);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi) == -ENOENT)
		dir_handle_free(h);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}

	for (size_t i = (size_t)off; i < h->count; i++) {
		struct stat st = { .st_ino = h->entries[i].ino,
				   .st_mode = (mode_t)DTTOIF(h->entries[i].type) };
		size_t need = fuse_add_direntry(req, buf + used, size - used, h->entries[i].name,
						&st, (off_t)(i + 1));
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

// Like readdir, but looks up each entry as well, so the kernel caches its
// attributes and `ls -l`, find and rm need no LOOKUP per name.
static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;
	struct node *dir = node_of(ino);
	char *buf = malloc(size);
	size_t used = 0;
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}

	for (size_t i = (size_t)off; i < h->count; i++) {
		struct dir_entry *de = &h->entries[i];
		struct fuse_entry_param e;
		bool dots = strcmp(de->name, ".") == 0 || strcmp(de->name, "..") == 0;

		// "." and ".." carry no lookup: the kernel ignores their entry.
		if (dots || entry_for(dir, de->disk, &e) != 0) {
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = de->ino;
			e.attr.st_mode = (mode_t)DTTOIF(de->type);
		}
		size_t need = fuse_add_direntry_plus(req, buf + used, size - used, de->name, &e,
						     (off_t)(i + 1));
		if (need > size - used) {
			// Not sent, so the lookup taken above must be dropped.
			if (e.ino != 0)
				node_forget(node_of(e.ino), 1);
			break;
		}
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dir_handle_free((struct dir_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)fi;
	int fd = openat(node_of(ino)->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	int rc = datasync ? fdatasync(fd) : fsync(fd);
	int saved = errno;
	close(fd);
	fuse_reply_err(req, rc != 0 ? saved : 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs sv;
	if (fstatvfs(server.root.fd, &sv) != 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = GCFS_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops operations = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
};

// ---- setup -------------------------------------------------------------------------

int gcfs_init_dir(const char *cipher_dir, struct cf_error *err)
{
	int fd = open(cipher_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot open ciphertext directory %s: %s",
				    cipher_dir, strerror(errno));
	int rc = write_diriv(fd);
	close(fd);
	if (rc == -EEXIST)
		return 0;
	if (rc != 0)
		return cf_error_set(err, rc, "cannot write %s/%s: %s", cipher_dir,
				    GCFS_DIRIV_NAME, strerror(-rc));
	return 0;
}

// Raises the open-file limit: each inode the kernel references keeps a
// file descriptor open, so a tree of 20,000 files needs 20,000 of them.
// As root the hard limit is raised too, up to fs.nr_open; otherwise only
// the soft limit rises to the hard one.
static void raise_nofile_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;

	rlim_t target = 1048576;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");
	unsigned long long nr_open = 0;
	if (f != NULL) {
		if (fscanf(f, "%llu", &nr_open) == 1 && nr_open > 0)
			target = (rlim_t)nr_open;
		fclose(f);
	}
	if (rl.rlim_max < target) {
		struct rlimit raised = { .rlim_cur = target, .rlim_max = target };
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 65536)
		cf_log(CF_LOG_WARN, "fuse_nofile_limit_low", "limit=%ju hint=\"each open inode"
		       " needs a descriptor; raise RLIMIT_NOFILE for large trees\"",
		       (uintmax_t)rl.rlim_cur);
}

#define KEY_CHECK_NAMES 64
#define KEY_CHECK_DIRS 16

// Sample of encrypted names for the key check, with the subdirectories
// (O_PATH descriptors) queued to sample next.
struct key_sample {
	struct gcfs_ctx *ctx;
	size_t tried, decrypted;
	int dirs[KEY_CHECK_DIRS];
	size_t queued;
};

// Reads the IV of the ciphertext directory dir; false when it has none.
static bool sample_dir_iv(int dir, uint8_t diriv[GCFS_DIRIV_SIZE])
{
	int fd = openat(dir, GCFS_DIRIV_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = read_full(fd, diriv, GCFS_DIRIV_SIZE, 0) == GCFS_DIRIV_SIZE;
	close(fd);
	return ok;
}

// Tries the names of the ciphertext directory dir and queues its
// subdirectories. Returns 0 or a negative errno when it cannot be listed.
static int sample_dir(struct key_sample *k, int dir, bool root)
{
	uint8_t diriv[GCFS_DIRIV_SIZE];
	if (!sample_dir_iv(dir, diriv))
		return 0;
	int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (d == NULL) {
		int rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	struct dirent *de;
	while (k->tried < KEY_CHECK_NAMES && (de = readdir(d)) != NULL) {
		char plain[GCFS_NAME_MAX + 1];
		if (de->d_name[0] == '.')
			continue;
		int result = decrypt_disk_name(k->ctx, dirfd(d), diriv, de->d_name, root, plain);
		if (result != 1 && result != -EBADMSG)
			continue;

		k->tried++;
		if (result == 1)
			k->decrypted++;
		if (de->d_type == DT_DIR && k->queued < KEY_CHECK_DIRS) {
			int sub = openat(dirfd(d), de->d_name,
					 O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				k->dirs[k->queued++] = sub;
		}
	}
	closedir(d);
	return 0;
}

// Rejects a key that decrypts at most half of a sample of the volume's
// names. A wrong key would otherwise show an empty volume, and an
// application that finds its data directory empty may create a new one
// over the old data. By our estimate a wrong key still decrypts about one
// name in 256, whose padding is valid by chance, so one success proves
// nothing. The sample takes up to KEY_CHECK_NAMES encrypted names from the
// ciphertext directories, breadth first from the root, so that a small
// root does not decide alone. A volume without encrypted names passes.
static int check_root_key(struct cf_error *err)
{
	struct key_sample k = { 0 };
	int rc = gcfs_ctx_new(&k.ctx, server.keys);
	if (rc != 0)
		return cf_error_set(err, rc, "cannot set up the name cipher");

	rc = sample_dir(&k, server.root.fd, true);
	for (size_t i = 0; i < k.queued; i++) {
		if (rc == 0 && k.tried < KEY_CHECK_NAMES)
			(void)sample_dir(&k, k.dirs[i], false);
		close(k.dirs[i]);
	}
	gcfs_ctx_free(k.ctx);
	if (rc != 0)
		return cf_error_set(err, rc, "cannot list ciphertext directory %s: %s",
				    server.options->cipher_dir, strerror(-rc));
	if (k.tried > 0 && k.decrypted * 2 <= k.tried)
		return cf_error_set(err, -EKEYREJECTED, "invalid key: it decrypts %zu of the %zu"
				    " names tried in %s, so it is not this volume's key (mounting"
				    " would show an empty volume)", k.decrypted, k.tried,
				    server.options->cipher_dir);
	return 0;
}

static void free_all_nodes(void)
{
	for (size_t b = 0; b < NODE_BUCKETS; b++) {
		struct node *n = server.buckets[b];
		while (n != NULL) {
			struct node *next = n->next;
			if (n->fd >= 0)
				close(n->fd);
			free(n->handle);
			pthread_rwlock_destroy(&n->lock);
			pthread_mutex_destroy(&n->id_lock);
			free(n);
			n = next;
		}
		server.buckets[b] = NULL;
	}
}

static int build_args(struct fuse_args *args, const struct gcfs_server_options *options)
{
	char opts[512];
	snprintf(opts, sizeof(opts),
		 "default_permissions,max_read=%d,fsname=coffer:%s,subtype=coffer%s", MAX_READ,
		 options->volume, options->allow_other ? ",allow_other" : "");
	if (fuse_opt_add_arg(args, "coffer-fuse") != 0 || fuse_opt_add_arg(args, "-o") != 0 ||
	    fuse_opt_add_arg(args, opts) != 0)
		return -ENOMEM;
	return 0;
}

int gcfs_server_run(const struct gcfs_server_options *options,
		    const uint8_t master[GCFS_MASTER_KEY_SIZE], struct cf_error *err)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	struct stat st;
	int rc;

	memset(&server, 0, sizeof(server));
	server.options = options;
	server.running_as_root = geteuid() == 0;
	pthread_mutex_init(&server.table_lock, NULL);
	node_init_locks(&server.root);
	raise_nofile_limit();

	rc = pthread_key_create(&server.worker_key, worker_free);
	if (rc != 0)
		return cf_error_set(err, -rc, "pthread_key_create failed");
	rc = gcfs_keys_new(&server.keys, master);
	if (rc != 0) {
		cf_error_set(err, rc, "cannot derive the content and name keys (locked memory"
			     " limit RLIMIT_MEMLOCK too low?)");
		goto out_key;
	}

	server.root.fd = open(options->cipher_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (server.root.fd < 0 || fstat(server.root.fd, &st) != 0) {
		rc = cf_error_set(err, -errno, "cannot open ciphertext directory %s: %s",
				  options->cipher_dir, strerror(errno));
		goto out_keys;
	}
	server.mount_fd = open(options->cipher_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (server.mount_fd < 0) {
		rc = cf_error_set(err, -errno, "cannot open ciphertext directory %s: %s",
				  options->cipher_dir, strerror(errno));
		goto out_root;
	}
	server.root.dev = st.st_dev;
	server.root.ino = st.st_ino;
	server.root.lookups = 1;
	uint8_t iv[GCFS_DIRIV_SIZE];
	rc = dir_iv(&server.root, iv);
	if (rc != 0) {
		cf_error_set(err, rc, "%s has no readable %s; it is not a gocryptfs-format"
			     " directory (create one with the engine's prepare step)",
			     options->cipher_dir, GCFS_DIRIV_NAME);
		goto out_root;
	}
	rc = check_root_key(err);
	if (rc != 0)
		goto out_root;

	rc = build_args(&args, options);
	if (rc != 0)
		goto out_root;
	se = fuse_session_new(&args, &operations, sizeof(operations), NULL);
	if (se == NULL) {
		rc = cf_error_set(err, -EINVAL, "fuse_session_new failed for %s", options->mount_point);
		goto out_args;
	}
	if (fuse_set_signal_handlers(se) != 0) {
		rc = cf_error_set(err, -EIO, "cannot install signal handlers");
		goto out_session;
	}
	rc = gcfs_uring_prepare(options->uring_mode, err);
	if (rc != 0)
		goto out_signals;
	if (fuse_session_mount(se, options->mount_point) != 0) {
		rc = cf_error_set(err, -EIO, "cannot mount %s (is /dev/fuse available and the"
				  " mount point an existing directory?)", options->mount_point);
		goto out_signals;
	}
	cf_log(CF_LOG_INFO, "fuse_mounted", "volume=%s mount=%s pid=%d", options->volume,
	       options->mount_point, (int)getpid());
	// The transport writes "ready" to ready_fd once it has settled whether
	// the io_uring queues serve requests.
	rc = gcfs_uring_start(se, options->volume, options->ready_fd, err);
	if (rc != 0)
		goto out_unmount;

	struct fuse_loop_config *loop = fuse_loop_cfg_create();
	if (loop == NULL) {
		rc = -ENOMEM;
		goto out_unmount;
	}
	pool_start();
	fuse_loop_cfg_set_clone_fd(loop, 0);
	// Idle threads are kept, so a burst of requests does not create and
	// destroy threads with their cipher contexts and buffers.
	unsigned threads = options->max_threads > 0 ? options->max_threads : DEFAULT_THREADS;
	fuse_loop_cfg_set_max_threads(loop, threads);
	fuse_loop_cfg_set_idle_threads(loop, threads);
	rc = fuse_session_loop_mt(se, loop);
	fuse_loop_cfg_destroy(loop);
	int transport_rc = gcfs_uring_stop();
	pool_stop();
	rc = rc < 0 ? rc : 0;
	if (rc == 0 && transport_rc != 0)
		rc = cf_error_set(err, transport_rc, "FUSE over io_uring was required but its queues"
				  " never became ready; see the fuse_transport_failed log line");
	cf_log(CF_LOG_INFO, "fuse_stopped", "volume=%s mount=%s status=%d", options->volume,
	       options->mount_point, rc);

out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	fuse_opt_free_args(&args);
out_root:
	free_all_nodes();
	if (server.mount_fd > 0)
		close(server.mount_fd);
	close(server.root.fd);
out_keys:
	worker_free(pthread_getspecific(server.worker_key));
	pthread_setspecific(server.worker_key, NULL);
	gcfs_keys_free(server.keys);
	server.keys = NULL;
out_key:
	pthread_key_delete(server.worker_key);
	return rc;
}
