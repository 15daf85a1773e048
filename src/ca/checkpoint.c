// SPDX-License-Identifier: Apache-2.0
// WAL checkpoints in a thread of their own, for the EST server. SQLite's
// automatic checkpoint runs inside the COMMIT that pushes the WAL past its
// threshold, so the worker that commits, and every reply in its batch,
// waits for the WAL and the database file to be synced. Here the workers'
// connections only report the WAL size after each commit, and a thread
// with its own connection runs PASSIVE checkpoints, which copy committed
// pages into the database without blocking writers. Commits and their
// durability are unchanged: a reply still follows the COMMIT of its
// records into the WAL.
//
// SQLite starts the WAL over only at a commit that finds every frame
// copied and no reader in the WAL. With two workers reading tokens between
// commits, that rarely happens after a checkpoint run alongside commits,
// so the WAL would grow under steady load. Once the WAL reaches
// CHECKPOINT_FORCE_FRAMES, the thread takes the process write lock for its
// checkpoint, which holds off commits for the copy and its two fsyncs,
// after which the next commit starts the WAL over. SQLite 3.40 syncs the
// new WAL header inside that commit. So commits wait for checkpoint I/O
// once per CHECKPOINT_FORCE_FRAMES instead of once per CHECKPOINT_FRAMES.

#include "ca_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// New WAL frames that start a checkpoint: SQLite's default for
// wal_autocheckpoint.
#define CHECKPOINT_FRAMES 1000
// WAL size in frames past which a checkpoint holds off commits.
#define CHECKPOINT_FORCE_FRAMES (4 * CHECKPOINT_FRAMES)
// Pause after a checkpoint that copied nothing new, for example while a
// reader in another process keeps an old snapshot.
#define CHECKPOINT_RETRY_MS 100

struct ca_checkpointer {
	sqlite3 *db;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	// The fields below are protected by lock.
	bool stop;
	int wal_frames; // WAL size reported by the latest commit
	int backfilled; // frames copied into the database so far
};

// Runs in the committing thread after each commit on a worker connection.
static int wal_committed(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct ca_checkpointer *checkpointer = arg;
	(void)db;
	(void)name;

	pthread_mutex_lock(&checkpointer->lock);
	// A WAL smaller than what was copied has been started over.
	if (frames < checkpointer->backfilled)
		checkpointer->backfilled = 0;
	checkpointer->wal_frames = frames;
	if (frames - checkpointer->backfilled >= CHECKPOINT_FRAMES)
		pthread_cond_signal(&checkpointer->wake);
	pthread_mutex_unlock(&checkpointer->lock);
	return SQLITE_OK;
}

static void wait_ms(struct ca_checkpointer *checkpointer, long ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&checkpointer->wake, &checkpointer->lock, &until);
}

// Copies committed WAL frames into the database. With hold_commits set,
// no handle of this process commits meanwhile.
static int checkpoint(struct ca_checkpointer *checkpointer, bool hold_commits, int *log_frames,
		      int *copied)
{
	if (hold_commits)
		ca_write_lock_acquire();
	int rc = sqlite3_wal_checkpoint_v2(checkpointer->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
					   log_frames, copied);
	if (hold_commits)
		ca_write_lock_release();
	return rc;
}

static void *checkpoint_loop(void *arg)
{
	struct ca_checkpointer *checkpointer = arg;

	pthread_mutex_lock(&checkpointer->lock);
	while (!checkpointer->stop) {
		if (checkpointer->wal_frames - checkpointer->backfilled < CHECKPOINT_FRAMES) {
			pthread_cond_wait(&checkpointer->wake, &checkpointer->lock);
			continue;
		}
		bool force = checkpointer->wal_frames >= CHECKPOINT_FORCE_FRAMES;
		int before = checkpointer->backfilled;
		pthread_mutex_unlock(&checkpointer->lock);

		int log_frames = 0, copied = 0;
		int rc = checkpoint(checkpointer, force, &log_frames, &copied);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			cf_log(CF_LOG_ERROR, "ca.checkpoint_failed", "error=%s retry_in=%dms",
			       sqlite3_errmsg(checkpointer->db), CHECKPOINT_RETRY_MS);

		pthread_mutex_lock(&checkpointer->lock);
		if (rc == SQLITE_OK && copied >= 0) {
			checkpointer->wal_frames = log_frames;
			checkpointer->backfilled = copied;
		}
		if (rc != SQLITE_OK || copied <= before)
			wait_ms(checkpointer, CHECKPOINT_RETRY_MS);
	}
	pthread_mutex_unlock(&checkpointer->lock);
	return NULL;
}

int ca_checkpointer_start(const char *dir, struct ca_checkpointer **out, struct cf_error *err)
{
	char path[PATH_MAX];
	struct ca_checkpointer *checkpointer = calloc(1, sizeof(*checkpointer));

	if (checkpointer == NULL)
		return -ENOMEM;
	pthread_mutex_init(&checkpointer->lock, NULL);
	pthread_cond_init(&checkpointer->wake, NULL);
	snprintf(path, sizeof(path), "%s/ca.db", dir);
	if (sqlite3_open_v2(path, &checkpointer->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		int rc = cf_error_set(err, -EIO, "cannot open %s for checkpoints: %s", path,
				      checkpointer->db != NULL ? sqlite3_errmsg(checkpointer->db)
							       : "out of memory");
		ca_checkpointer_stop(checkpointer);
		return rc;
	}
	// A connection checkpoints only once it has seen the database in WAL
	// mode. Before that, sqlite3_wal_checkpoint_v2 returns without work.
	if (sqlite3_exec(checkpointer->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = cf_error_set(err, -EIO, "cannot open %s for checkpoints: %s", path,
				      sqlite3_errmsg(checkpointer->db));
		ca_checkpointer_stop(checkpointer);
		return rc;
	}
	int thread_rc = pthread_create(&checkpointer->thread, NULL, checkpoint_loop, checkpointer);
	if (thread_rc != 0) {
		ca_checkpointer_stop(checkpointer);
		return cf_error_set(err, -thread_rc, "cannot start the checkpoint thread: %s",
				    strerror(thread_rc));
	}
	checkpointer->started = true;
	*out = checkpointer;
	return 0;
}

void ca_checkpointer_attach(struct ca_checkpointer *checkpointer, struct ca *ca)
{
	// The hook replaces SQLite's automatic checkpoint on this connection.
	sqlite3_wal_hook(ca->db, wal_committed, checkpointer);
}

void ca_checkpointer_detach(struct ca *ca)
{
	sqlite3_wal_autocheckpoint(ca->db, CHECKPOINT_FRAMES);
}

void ca_checkpointer_stop(struct ca_checkpointer *checkpointer)
{
	if (checkpointer == NULL)
		return;
	if (checkpointer->started) {
		pthread_mutex_lock(&checkpointer->lock);
		checkpointer->stop = true;
		pthread_cond_signal(&checkpointer->wake);
		pthread_mutex_unlock(&checkpointer->lock);
		pthread_join(checkpointer->thread, NULL);
	}
	sqlite3_close(checkpointer->db);
	pthread_cond_destroy(&checkpointer->wake);
	pthread_mutex_destroy(&checkpointer->lock);
	free(checkpointer);
}
