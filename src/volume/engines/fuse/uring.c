// SPDX-License-Identifier: Apache-2.0
// FUSE-over-io_uring transport (Linux 6.14 and later) for the FUSE server.
//
// Design: libfuse 3.14 supports only /dev/fuse, so this file installs its own
// read and writev functions with fuse_session_custom_io(). The read function
// notes the kernel's INIT request, and the INIT reply accepts
// FUSE_OVER_IO_URING when the kernel offered it. Once that reply is written
// the kernel accepts ring registrations, and each of a few ring threads
// per CPU (see RING_THREADS_TOTAL) registers RING_ENTRIES_PER_THREAD
// entries on the queue of that CPU, pinned to it. When every CPU's queue has an
// entry, the kernel sends each request to the queue of the CPU that made
// it, so the request and its reply need no wake-up across CPUs. A ring
// thread rebuilds the /dev/fuse form of a request in front of its payload
// (no payload bytes are copied) and runs libfuse's normal dispatch with
// fuse_session_process_buf(). The handler's reply reaches the writev
// function on the same thread, which copies it into the entry. The thread
// then commits it and fetches the next request in one COMMIT_AND_FETCH.
// READs and WRITEs of 64 KiB or more are the exception: the ring thread
// hands them to an unpinned offload thread and waits, so the crypto of one
// reader's readahead can run on another CPU than the reader.
//
// libfuse's /dev/fuse loop keeps running for INIT, FORGET and INTERRUPT.
// After an INIT reply that accepts io_uring, the kernel makes other
// requests wait until every CPU queue has a ring entry.
//
// Limits: a handler must reply on the thread that called it (coffer's
// handlers all do); a reply from another thread would go to /dev/fuse and
// fail. Notifications (unique id 0) always go to /dev/fuse.

#include "uring.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

// Ring threads per CPU queue: RING_THREADS_TOTAL spread over the queues,
// within these bounds. Each thread serves one request at a time, so a
// blocking fsync or disk read stalls one thread of its CPU, not the queue.
// Eight threads let one reader's whole readahead window (max_readahead
// 1 MiB in 128 KiB READs, all on the reader's CPU) be in flight, as with
// the 16 workers of the /dev/fuse loop.
// NOTE: each thread registers a 1 MiB payload buffer, so a host with many CPUs
// pays RING_THREADS_MIN MiB per CPU and volume.
#define RING_THREADS_TOTAL 16
#define RING_THREADS_MIN 2
#define RING_THREADS_MAX 8
#define RING_ENTRIES_PER_THREAD 1
#define ENABLE_URING_PARAM "/sys/module/fuse/parameters/enable_uring"
// FUSE_MIN_READ_BUFFER of the kernel: the smallest payload it accepts.
#define KERNEL_MIN_PAYLOAD 8192
// Default max_pages of the kernel when the INIT reply does not set
// FUSE_MAX_PAGES (FUSE_DEFAULT_MAX_PAGES_PER_REQ).
#define KERNEL_DEFAULT_MAX_PAGES 32
// Size of the command area of a 128-byte SQE (IORING_SETUP_SQE128).
#define SQE128_CMD_SIZE 80
// user_data of the stop eventfd's poll; entries use their address.
#define STOP_TAG 1
// READ and WRITE requests of at least this many bytes run on an unpinned
// offload thread (see serve()).
#define OFFLOAD_MIN_BYTES (64 * 1024)
#define MAX_OFFLOAD_THREADS 16

enum entry_state {
	ENTRY_REGISTERING, // REGISTER submitted, no completion yet
	ENTRY_WAITING,     // in the kernel, waiting for a request
	ENTRY_DEAD,        // the kernel ended it (connection gone or error)
};

struct ring_entry {
	// iov[0] of REGISTER: in and out headers, written by both sides.
	struct gcfs_fuse_uring_req_header *header;
	// GCFS_URING_HEAD_ROOM bytes for rebuilt headers, then the payload.
	uint8_t *buffer;
	uint8_t *payload;
	struct iovec iov[2];
	struct ring_thread *thread;
	enum entry_state state;
	uint64_t unique;
	bool replied;
};

struct ring_thread {
	pthread_t thread;
	bool started;
	struct io_uring ring;
	bool ring_ready;
	unsigned qid;
	int cpu; // CPU to pin to, or -1 when that CPU is offline
	struct ring_entry entries[RING_ENTRIES_PER_THREAD];
};

static struct {
	struct fuse_session *se;
	enum gcfs_uring_mode mode;
	const char *volume;
	int ready_fd;
	int fuse_fd;
	int stop_fd;

	pthread_mutex_t lock;
	// Set by the read function when the INIT request arrives.
	uint64_t init_unique;
	bool init_seen;
	bool kernel_offers;
	size_t max_payload;

	struct ring_thread *threads;
	unsigned thread_count;
	unsigned queues;
	// Threads that finished registering, and those that failed to.
	unsigned reported;
	unsigned failed;
	// Registered threads per queue. The kernel switches to the rings once
	// every queue has an entry, even if other threads failed.
	unsigned *queue_registered;
	char failure[160];
	bool ready_sent;
	atomic_bool rings_ready;
	// The thread that runs the libfuse loop, and whether the loop returned.
	pthread_t main_thread;
	atomic_bool loop_ended;
} transport = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.ready_fd = -1,
	.fuse_fd = -1,
	.stop_fd = -1,
};

// The entry whose request this thread is dispatching, if any.
static __thread struct ring_entry *current_entry;

// A bulk request handed from a ring thread to an offload thread. The ring
// thread waits for done, so the task can live on its stack.
struct offload_task {
	struct ring_entry *entry;
	struct fuse_buf buf;
	bool done;
	struct offload_task *next;
};

// Offload threads: unpinned, so the scheduler can run the crypto of large
// reads and writes on another CPU than the one whose queue received them
// (and where the process that waits for the data runs).
static struct {
	pthread_mutex_t lock;
	pthread_cond_t work; // a task was queued, or stop was set
	pthread_cond_t done; // a task finished
	struct offload_task *head;
	struct offload_task *tail;
	bool stop;
	pthread_t threads[MAX_OFFLOAD_THREADS];
	unsigned count;
} offload = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

int gcfs_uring_mode_parse(const char *text, enum gcfs_uring_mode *mode)
{
	static const char *const names[] = { "auto", "off", "require", "enable" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(text, names[i]) == 0) {
			*mode = (enum gcfs_uring_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *gcfs_uring_mode_name(enum gcfs_uring_mode mode)
{
	switch (mode) {
	case GCFS_URING_AUTO:
		return "auto";
	case GCFS_URING_OFF:
		return "off";
	case GCFS_URING_REQUIRE:
		return "require";
	case GCFS_URING_ENABLE:
		return "enable";
	}
	return "?";
}

// ---- message layout (no threads or kernel state; unit tested) -------------------

// Size of the first argument (the per-opcode header) that the kernel puts
// in op_in, for requests whose fuse_in_header.len is 0. Sizes are those of
// protocol 7.38 and later; opcodes not listed return -1.
static int op_header_size(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_LOOKUP:
	case FUSE_READLINK:
	case FUSE_SYMLINK:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_STATFS:
	case FUSE_REMOVEXATTR:
	case FUSE_DESTROY:
		return 0;
	case FUSE_MKDIR:
	case FUSE_RENAME:
	case FUSE_LINK:
	case FUSE_OPEN:
	case FUSE_OPENDIR:
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
	case FUSE_ACCESS:
	case FUSE_SYNCFS:
		return 8;
	case FUSE_GETATTR:
	case FUSE_MKNOD:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_CREATE:
	case FUSE_TMPFILE:
	case FUSE_RENAME2:
	case FUSE_BMAP:
		return 16;
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_FLUSH:
	case FUSE_POLL:
	case FUSE_LSEEK:
		return 24;
	case FUSE_FALLOCATE:
	case FUSE_IOCTL:
		return 32;
	case FUSE_READ:
	case FUSE_WRITE:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		return 40;
	case FUSE_GETLK:
	case FUSE_SETLK:
	case FUSE_SETLKW:
		return 48;
	case FUSE_COPY_FILE_RANGE:
		return 56;
	case FUSE_SETATTR:
		return 88;
	default:
		return -1;
	}
}

int gcfs_uring_request_build(const struct gcfs_fuse_uring_req_header *header,
			     uint8_t *payload, size_t max_payload, uint8_t **start,
			     size_t *len)
{
	struct fuse_in_header in;
	memcpy(&in, header->in_out, sizeof(in));
	size_t payload_size = header->ring_ent_in_out.payload_sz;
	if (payload_size > max_payload)
		return -EPROTO;

	// Linux 6.18 sets len to the size of the whole request as it would
	// appear on /dev/fuse, so the per-opcode header is what remains.
	// NOTE: the table serves a kernel that leaves len 0 on this path. No
	// such kernel was seen, so that branch has run only in unit tests.
	size_t op_size;
	if (in.len != 0) {
		if (in.len < sizeof(in) + payload_size)
			return -EPROTO;
		op_size = in.len - sizeof(in) - payload_size;
	} else {
		int size = op_header_size(in.opcode);
		if (size < 0)
			return -EPROTO;
		op_size = (size_t)size;
	}
	if (op_size > GCFS_FUSE_URING_OP_IN_OUT_SZ)
		return -EPROTO;

	uint8_t *begin = payload - op_size - sizeof(in);
	in.len = (uint32_t)(sizeof(in) + op_size + payload_size);
	memcpy(begin, &in, sizeof(in));
	memcpy(begin + sizeof(in), header->op_in, op_size);
	*start = begin;
	*len = in.len;
	return 0;
}

ssize_t gcfs_uring_reply_copy(struct gcfs_fuse_uring_req_header *header, uint8_t *payload,
			      size_t max_payload, const struct iovec *iov, int count)
{
	if (count < 1 || iov[0].iov_len != sizeof(struct fuse_out_header))
		return -EOVERFLOW;

	size_t total = 0;
	for (int i = 1; i < count; i++) {
		if (iov[i].iov_len > max_payload - total)
			return -EOVERFLOW;
		total += iov[i].iov_len;
	}

	// memmove: a reply argument may lie in the payload (request data).
	size_t done = 0;
	for (int i = 1; i < count; i++) {
		memmove(payload + done, iov[i].iov_base, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	struct fuse_out_header out;
	memcpy(&out, iov[0].iov_base, sizeof(out));
	out.len = (uint32_t)(sizeof(out) + total);
	memset(header->in_out, 0, sizeof(header->in_out));
	memcpy(header->in_out, &out, sizeof(out));
	header->ring_ent_in_out.payload_sz = (uint32_t)total;
	return (ssize_t)(sizeof(out) + total);
}

size_t gcfs_uring_payload_size(uint32_t max_write, uint16_t max_pages, uint32_t flags,
			       size_t page_size)
{
	size_t pages = (flags & GCFS_FUSE_MAX_PAGES) && max_pages > 0 ? max_pages
								       : KERNEL_DEFAULT_MAX_PAGES;
	size_t size = KERNEL_MIN_PAYLOAD;
	if (max_write > size)
		size = max_write;
	if (pages * page_size > size)
		size = pages * page_size;
	return (size + page_size - 1) / page_size * page_size;
}

// ---- readiness ------------------------------------------------------------------

// Reports the mount live to the storage manager, naming the transport.
static void send_ready(bool rings)
{
	if (transport.ready_fd < 0)
		return;
	const char *line = rings ? "ready io_uring\n" : "ready dev_fuse\n";
	ssize_t n = write(transport.ready_fd, line, strlen(line));
	(void)n;
}

static bool uring_required(void)
{
	return transport.mode == GCFS_URING_REQUIRE || transport.mode == GCFS_URING_ENABLE;
}

// Ends the libfuse loop after a transport failure. On a libfuse thread,
// ending the session is enough: that thread checks it when its request
// returns and wakes the main thread, which sleeps on a semaphore. Other
// threads wake the main thread with SIGTERM. They repeat it until the loop
// returns, because libfuse checks the session before it sleeps, and a
// signal that lands between that check and the sleep is lost.
static void end_loop(bool on_libfuse_thread)
{
	fuse_session_exit(transport.se);
	if (on_libfuse_thread)
		return;
	while (!atomic_load(&transport.loop_ended)) {
		pthread_kill(transport.main_thread, SIGTERM);
		usleep(100 * 1000);
	}
}

// Records the outcome of setup once. Failures are settled only on the
// libfuse thread that replies to INIT. With io_uring required and
// unavailable, the server stops before it reports ready.
static void settle(bool rings, const char *reason)
{
	pthread_mutex_lock(&transport.lock);
	bool first = !transport.ready_sent;
	transport.ready_sent = true;
	pthread_mutex_unlock(&transport.lock);
	if (!first)
		return;

	if (rings) {
		atomic_store(&transport.rings_ready, true);
		cf_log(CF_LOG_INFO, "fuse_transport", "volume=%s transport=io_uring queues=%u"
		       " threads=%u entries=%u payload=%zu", transport.volume, transport.queues,
		       transport.thread_count, transport.thread_count * RING_ENTRIES_PER_THREAD,
		       transport.max_payload);
		send_ready(true);
		return;
	}
	if (uring_required()) {
		cf_log(CF_LOG_ERROR, "fuse_transport_failed", "volume=%s mode=%s reason=\"%s\""
		       " hint=\"io_uring is required; use --uring auto to fall back to /dev/fuse\"",
		       transport.volume, gcfs_uring_mode_name(transport.mode), reason);
		end_loop(true);
		return;
	}
	cf_log(CF_LOG_INFO, "fuse_transport", "volume=%s transport=dev_fuse reason=\"%s\"",
	       transport.volume, reason);
	send_ready(false);
}

// Stops the server after the INIT reply accepted io_uring but the rings
// cannot all register. The kernel then makes every request wait until each
// CPU queue has an entry, so falling back to /dev/fuse would hang the callers.
static void fail_accepted(const char *reason, bool on_libfuse_thread)
{
	pthread_mutex_lock(&transport.lock);
	transport.ready_sent = true;
	pthread_mutex_unlock(&transport.lock);
	cf_log(CF_LOG_ERROR, "fuse_transport_failed", "volume=%s reason=\"%s\" hint=\"io_uring"
	       " was accepted at INIT and the kernel keeps requests waiting until every CPU queue"
	       " has a ring, so the server stops; fix the cause or use --uring off\"",
	       transport.volume, reason);
	end_loop(on_libfuse_thread);
}

// Checks that this process may create a ring with 128-byte SQEs. Container
// seccomp profiles often reject io_uring_setup, and that must be known
// before the INIT reply accepts io_uring.
static int probe_ring(void)
{
	struct io_uring ring;
	struct io_uring_params params = { .flags = IORING_SETUP_SQE128 };
	int rc = io_uring_queue_init_params(2, &ring, &params);
	if (rc == 0)
		io_uring_queue_exit(&ring);
	return rc;
}

// ---- ring threads ---------------------------------------------------------------

static void prep_cmd(struct io_uring_sqe *sqe, struct ring_entry *e, uint32_t cmd_op,
		     uint64_t commit_id)
{
	bool reg = cmd_op == GCFS_FUSE_IO_URING_CMD_REGISTER;
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, transport.fuse_fd, reg ? e->iov : NULL,
			 reg ? 2 : 0, 0);
	sqe->cmd_op = cmd_op;
	memset(sqe->cmd, 0, SQE128_CMD_SIZE);
	struct gcfs_fuse_uring_cmd_req req = {
		.commit_id = commit_id,
		.qid = (uint16_t)e->thread->qid,
	};
	memcpy(sqe->cmd, &req, sizeof(req));
	io_uring_sqe_set_data(sqe, e);
}

// Ends a request that has no valid reply with error (a negative errno).
static void reply_error(struct ring_entry *e, int error)
{
	struct fuse_out_header out = {
		.len = sizeof(out),
		.error = error,
		.unique = e->header->ring_ent_in_out.commit_id,
	};
	memset(e->header->in_out, 0, sizeof(e->header->in_out));
	memcpy(e->header->in_out, &out, sizeof(out));
	e->header->ring_ent_in_out.payload_sz = 0;
}

// Runs libfuse's dispatch for e's request on this thread; the reply is
// copied into e by transport_writev.
static void dispatch(struct ring_entry *e, struct fuse_buf *buf)
{
	e->replied = false;
	current_entry = e;
	fuse_session_process_buf(transport.se, buf);
	current_entry = NULL;
}

static void block_signals(void)
{
	// Signals go to libfuse's threads, whose handler ends the loop.
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
}

static void *offload_main(void *arg)
{
	(void)arg;
	block_signals();
	pthread_mutex_lock(&offload.lock);
	for (;;) {
		while (offload.head == NULL && !offload.stop)
			pthread_cond_wait(&offload.work, &offload.lock);
		if (offload.head == NULL)
			break;
		struct offload_task *task = offload.head;
		offload.head = task->next;
		if (offload.head == NULL)
			offload.tail = NULL;
		pthread_mutex_unlock(&offload.lock);

		dispatch(task->entry, &task->buf);

		pthread_mutex_lock(&offload.lock);
		task->done = true;
		pthread_cond_broadcast(&offload.done);
	}
	pthread_mutex_unlock(&offload.lock);
	return NULL;
}

static void offload_start(void)
{
	unsigned cpus = (unsigned)get_nprocs();
	if (cpus < 2)
		return;
	offload.stop = false;
	for (unsigned i = 0; i < cpus && i < MAX_OFFLOAD_THREADS; i++) {
		if (pthread_create(&offload.threads[offload.count], NULL, offload_main, NULL) != 0)
			break;
		offload.count++;
	}
}

static void offload_stop(void)
{
	pthread_mutex_lock(&offload.lock);
	offload.stop = true;
	pthread_cond_broadcast(&offload.work);
	pthread_mutex_unlock(&offload.lock);
	for (unsigned i = 0; i < offload.count; i++)
		pthread_join(offload.threads[i], NULL);
	offload.count = 0;
}

// Runs the request on an offload thread and waits for it.
static void offload_run(struct ring_entry *e, struct fuse_buf *buf)
{
	struct offload_task task = { .entry = e, .buf = *buf };

	pthread_mutex_lock(&offload.lock);
	if (offload.tail != NULL)
		offload.tail->next = &task;
	else
		offload.head = &task;
	offload.tail = &task;
	pthread_cond_signal(&offload.work);
	while (!task.done)
		pthread_cond_wait(&offload.done, &offload.lock);
	pthread_mutex_unlock(&offload.lock);
}

// Returns true for a READ or WRITE of at least OFFLOAD_MIN_BYTES. A
// single reader's readahead or a flusher's writeback all arrive on the
// queue of one CPU; run there, their crypto would compete with the
// reading process while the other CPUs idle.
static bool is_bulk(const uint8_t *request)
{
	struct fuse_in_header in;
	memcpy(&in, request, sizeof(in));
	if (in.opcode == FUSE_WRITE)
		return in.len >= sizeof(in) + sizeof(struct fuse_write_in) + OFFLOAD_MIN_BYTES;
	if (in.opcode != FUSE_READ || in.len < sizeof(in) + sizeof(struct fuse_read_in))
		return false;
	struct fuse_read_in read_in;
	memcpy(&read_in, request + sizeof(in), sizeof(read_in));
	return read_in.size >= OFFLOAD_MIN_BYTES;
}

static void serve(struct ring_entry *e)
{
	uint8_t *start;
	size_t len;
	int rc = gcfs_uring_request_build(e->header, e->payload, transport.max_payload, &start,
					  &len);
	if (rc != 0) {
		static atomic_uint logged;
		if (atomic_fetch_add(&logged, 1) < 10)
			cf_log(CF_LOG_ERROR, "fuse_uring_bad_request", "volume=%s unique=%llu"
			       " payload=%u", transport.volume,
			       (unsigned long long)e->header->ring_ent_in_out.commit_id,
			       e->header->ring_ent_in_out.payload_sz);
		reply_error(e, -EIO);
		return;
	}

	e->unique = e->header->ring_ent_in_out.commit_id;
	struct fuse_buf buf = { .size = len, .mem = start };
	if (offload.count > 0 && is_bulk(start))
		offload_run(e, &buf);
	else
		dispatch(e, &buf);
	if (!e->replied)
		reply_error(e, -EIO);
}

static int entries_alloc(struct ring_thread *t)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	for (int i = 0; i < RING_ENTRIES_PER_THREAD; i++) {
		struct ring_entry *e = &t->entries[i];
		e->thread = t;
		if (posix_memalign((void **)&e->header, page, sizeof(*e->header)) != 0)
			return -ENOMEM;
		memset(e->header, 0, sizeof(*e->header));
		if (posix_memalign((void **)&e->buffer, page,
				   GCFS_URING_HEAD_ROOM + transport.max_payload) != 0)
			return -ENOMEM;
		e->payload = e->buffer + GCFS_URING_HEAD_ROOM;
		e->iov[0] = (struct iovec){ e->header, sizeof(*e->header) };
		e->iov[1] = (struct iovec){ e->payload, transport.max_payload };
	}
	return 0;
}

static void entries_free(struct ring_thread *t)
{
	for (int i = 0; i < RING_ENTRIES_PER_THREAD; i++) {
		free(t->entries[i].header);
		free(t->entries[i].buffer);
		t->entries[i].header = NULL;
		t->entries[i].buffer = NULL;
	}
}

static int ring_init(struct ring_thread *t)
{
	struct io_uring_params params = {
		// The request copy runs as task work of this thread, which
		// waits in io_uring_enter anyway, so defer it to that wait.
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN,
	};
	unsigned depth = RING_ENTRIES_PER_THREAD + 2;
	int rc = io_uring_queue_init_params(depth, &t->ring, &params);
	if (rc == -EINVAL) {
		memset(&params, 0, sizeof(params));
		params.flags = IORING_SETUP_SQE128;
		rc = io_uring_queue_init_params(depth, &t->ring, &params);
	}
	if (rc == 0)
		t->ring_ready = true;
	return rc;
}

// Submits the REGISTER commands and the stop poll. A registration the
// kernel rejects completes at once, so it is read here.
static int ring_register(struct ring_thread *t)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
	io_uring_prep_poll_add(sqe, transport.stop_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, STOP_TAG);
	for (int i = 0; i < RING_ENTRIES_PER_THREAD; i++) {
		t->entries[i].state = ENTRY_REGISTERING;
		prep_cmd(io_uring_get_sqe(&t->ring), &t->entries[i],
			 GCFS_FUSE_IO_URING_CMD_REGISTER, 0);
	}
	int rc = io_uring_submit(&t->ring);
	if (rc < 0)
		return rc;

	struct io_uring_cqe *cqe;
	while (io_uring_peek_cqe(&t->ring, &cqe) == 0) {
		struct ring_entry *e = io_uring_cqe_get_data(cqe);
		if ((uintptr_t)e == STOP_TAG || cqe->res >= 0 || e->state != ENTRY_REGISTERING)
			break;
		rc = cqe->res;
		e->state = ENTRY_DEAD;
		io_uring_cqe_seen(&t->ring, cqe);
	}
	return rc < 0 ? rc : 0;
}

static void report_registration(int rc, struct ring_thread *t, bool on_libfuse_thread)
{
	pthread_mutex_lock(&transport.lock);
	transport.reported++;
	if (rc != 0) {
		transport.failed++;
		snprintf(transport.failure, sizeof(transport.failure),
			 "ring registration for CPU %u failed: %s", t->qid, strerror(-rc));
	}
	else
		transport.queue_registered[t->qid]++;
	bool last = transport.reported == transport.thread_count;
	bool every_queue = true;
	for (unsigned q = 0; q < transport.queues; q++)
		every_queue = every_queue && transport.queue_registered[q] > 0;
	unsigned failed = transport.failed;
	char reason[sizeof(transport.failure)];
	snprintf(reason, sizeof(reason), "%s", transport.failure);
	pthread_mutex_unlock(&transport.lock);
	if (!last)
		return;

	if (every_queue && failed > 0)
		cf_log(CF_LOG_WARN, "fuse_uring_threads_failed", "volume=%s failed=%u reason=\"%s\""
		       " every_queue=yes", transport.volume, failed, reason);
	if (!every_queue) {
		fail_accepted(reason, on_libfuse_thread);
		return;
	}
	settle(true, reason);
}

static void *ring_thread_main(void *arg)
{
	struct ring_thread *t = arg;

	block_signals();
	if (t->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(t->cpu, &set);
		// A cpuset that excludes this CPU makes pinning fail; the
		// thread then still serves the queue, with cross-CPU wake-ups.
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}

	int rc = entries_alloc(t);
	if (rc == 0)
		rc = ring_init(t);
	if (rc == 0)
		rc = ring_register(t);
	report_registration(rc, t, false);
	if (rc != 0)
		goto out;

	for (;;) {
		struct io_uring_cqe *cqe;
		rc = io_uring_wait_cqe(&t->ring, &cqe);
		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			cf_log(CF_LOG_ERROR, "fuse_uring_wait_failed", "volume=%s cpu=%u error=\"%s\"",
			       transport.volume, t->qid, strerror(-rc));
			break;
		}
		struct ring_entry *e = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&t->ring, cqe);
		if ((uintptr_t)e == STOP_TAG)
			break;
		if (res < 0) {
			// ENOTCONN and ECANCELED mean the connection ended.
			if (res != -ENOTCONN && res != -ECANCELED && res != -ENODEV)
				cf_log(CF_LOG_ERROR, "fuse_uring_entry_failed", "volume=%s cpu=%u"
				       " state=%d error=\"%s\"", transport.volume, t->qid,
				       (int)e->state, strerror(-res));
			e->state = ENTRY_DEAD;
			continue;
		}

		e->state = ENTRY_WAITING;
		serve(e);
		struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
		prep_cmd(sqe, e, GCFS_FUSE_IO_URING_CMD_COMMIT_AND_FETCH, e->unique);
		io_uring_submit(&t->ring);
	}

out:
	if (t->ring_ready)
		io_uring_queue_exit(&t->ring);
	entries_free(t);
	return NULL;
}

// Number of kernel queues: one per possible CPU (num_possible_cpus).
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	unsigned first = 0, last = 0;
	int fields = 0;
	if (f != NULL) {
		fields = fscanf(f, "%u-%u", &first, &last);
		fclose(f);
	}
	if (fields == 2)
		return last + 1;
	if (fields == 1)
		return first + 1;
	return (unsigned)get_nprocs_conf();
}

static bool cpu_online(unsigned cpu)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return true;
	return cpu < CPU_SETSIZE && CPU_ISSET(cpu, &set);
}

static unsigned ring_threads_per_queue(unsigned queues)
{
	unsigned count = RING_THREADS_TOTAL / (queues > 0 ? queues : 1);
	if (count < RING_THREADS_MIN)
		return RING_THREADS_MIN;
	if (count > RING_THREADS_MAX)
		return RING_THREADS_MAX;
	return count;
}

// Starts the ring threads after the INIT reply (called on a libfuse thread).
static void rings_start(void)
{
	transport.queues = possible_cpus();
	unsigned per_queue = ring_threads_per_queue(transport.queues);
	transport.thread_count = transport.queues * per_queue;
	transport.threads = calloc(transport.thread_count, sizeof(*transport.threads));
	transport.queue_registered = calloc(transport.queues, sizeof(unsigned));
	transport.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (transport.threads == NULL || transport.queue_registered == NULL ||
	    transport.stop_fd < 0) {
		fail_accepted("out of memory or eventfd failed", true);
		return;
	}

	offload_start();
	for (unsigned i = 0; i < transport.thread_count; i++) {
		struct ring_thread *t = &transport.threads[i];
		t->qid = i / per_queue;
		t->cpu = cpu_online(t->qid) ? (int)t->qid : -1;
		int rc = pthread_create(&t->thread, NULL, ring_thread_main, t);
		if (rc != 0) {
			report_registration(-rc, t, true);
			continue;
		}
		t->started = true;
	}
}

// ---- libfuse custom I/O ---------------------------------------------------------

static ssize_t transport_read(int fd, void *buf, size_t size, void *userdata)
{
	(void)userdata;
	ssize_t n = read(fd, buf, size);
	if (n < (ssize_t)(sizeof(struct fuse_in_header) + sizeof(struct fuse_init_in)))
		return n;

	const struct fuse_in_header *in = buf;
	if (in->opcode != FUSE_INIT)
		return n;
	struct fuse_init_in init;
	memcpy(&init, (const uint8_t *)buf + sizeof(*in), sizeof(init));
	pthread_mutex_lock(&transport.lock);
	transport.init_seen = true;
	transport.init_unique = in->unique;
	transport.kernel_offers = (init.flags & GCFS_FUSE_INIT_EXT) &&
				  (((uint64_t)init.flags2 << 32) & GCFS_FUSE_OVER_IO_URING);
	pthread_mutex_unlock(&transport.lock);
	return n;
}

// Adds FUSE_OVER_IO_URING to the INIT reply. Returns true when it did.
static bool accept_in_init_reply(struct iovec *iov, int count)
{
	const struct fuse_out_header *out = iov[0].iov_base;
	if (out->error != 0 || count < 2 || iov[1].iov_len < offsetof(struct fuse_init_out, flags2) +
							       sizeof(uint32_t))
		return false;

	struct fuse_init_out *init = iov[1].iov_base;
	init->flags |= GCFS_FUSE_INIT_EXT;
	init->flags2 |= (uint32_t)(GCFS_FUSE_OVER_IO_URING >> 32);
	transport.max_payload = gcfs_uring_payload_size(init->max_write, init->max_pages,
						       init->flags, (size_t)sysconf(_SC_PAGESIZE));
	return true;
}

static ssize_t transport_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	const struct fuse_out_header *out = iov[0].iov_base;
	struct ring_entry *e = current_entry;
	if (e != NULL && !e->replied && out->unique == e->unique && out->unique != 0) {
		ssize_t n = gcfs_uring_reply_copy(e->header, e->payload, transport.max_payload, iov,
						  count);
		if (n < 0) {
			errno = (int)-n;
			return -1;
		}
		e->replied = true;
		return n;
	}

	pthread_mutex_lock(&transport.lock);
	bool is_init = transport.init_seen && out->unique == transport.init_unique;
	if (is_init)
		transport.init_seen = false;
	bool offered = transport.kernel_offers;
	pthread_mutex_unlock(&transport.lock);
	if (!is_init)
		return writev(fd, iov, count);

	bool accepted = false;
	int probe = 0;
	if (transport.mode != GCFS_URING_OFF && offered)
		probe = probe_ring();
	if (transport.mode != GCFS_URING_OFF && offered && probe == 0)
		accepted = accept_in_init_reply(iov, count);
	ssize_t n = writev(fd, iov, count);
	if (n < 0 || transport.mode == GCFS_URING_OFF)
		return n;
	if (!offered)
		settle(false, "the kernel did not offer io_uring at INIT (fuse module parameter"
			      " enable_uring is N or the kernel lacks CONFIG_FUSE_IO_URING)");
	else if (probe != 0) {
		char reason[160];
		snprintf(reason, sizeof(reason), "io_uring_setup failed: %s (a seccomp profile,"
			 " such as a container runtime's default, may block it)", strerror(-probe));
		settle(false, reason);
	} else if (!accepted)
		settle(false, "INIT failed or its reply has no flags2 field");
	else
		rings_start();
	return n;
}

// ---- setup and teardown ---------------------------------------------------------

static int read_enable_param(bool *enabled)
{
	char value[8] = "";
	int fd = open(ENABLE_URING_PARAM, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, value, sizeof(value) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	*enabled = value[0] == 'Y' || value[0] == 'y' || value[0] == '1';
	return 0;
}

static int write_enable_param(struct cf_error *err)
{
	int fd = open(ENABLE_URING_PARAM, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "Y", 1) != 1) {
		int rc = -errno;
		if (fd >= 0)
			close(fd);
		return cf_error_set(err, rc, "cannot set %s to Y: %s (needs root and a kernel"
				    " with CONFIG_FUSE_IO_URING)", ENABLE_URING_PARAM, strerror(-rc));
	}
	close(fd);
	cf_log(CF_LOG_INFO, "fuse_uring_enabled", "param=%s value=Y scope=kernel hint=\"only"
	       " FUSE servers that request io_uring use it\"", ENABLE_URING_PARAM);
	return 0;
}

int gcfs_uring_prepare(enum gcfs_uring_mode mode, struct cf_error *err)
{
	transport.mode = mode;
	if (mode == GCFS_URING_ENABLE) {
		int rc = write_enable_param(err);
		if (rc != 0)
			return rc;
	}
	if (!uring_required())
		return 0;

	bool enabled = false;
	int rc = read_enable_param(&enabled);
	if (rc != 0 || !enabled)
		return cf_error_set(err, rc != 0 ? rc : -EOPNOTSUPP, "FUSE over io_uring is required"
				    " but %s %s; set it to Y, or use mode enable as root"
				    " (storage serve --fuse-uring enable, fuse-server --uring"
				    " enable)",
				    ENABLE_URING_PARAM, rc != 0 ? "is missing" : "is N");
	return 0;
}

int gcfs_uring_start(struct fuse_session *se, const char *volume, int ready_fd,
		     struct cf_error *err)
{
	transport.se = se;
	transport.volume = volume;
	transport.ready_fd = ready_fd;
	transport.fuse_fd = fuse_session_fd(se);
	transport.main_thread = pthread_self();
	atomic_store(&transport.loop_ended, false);

	if (transport.mode == GCFS_URING_OFF) {
		cf_log(CF_LOG_INFO, "fuse_transport", "volume=%s transport=dev_fuse reason=\"--uring"
		       " off\"", volume);
		transport.ready_sent = true;
		send_ready(false);
		return 0;
	}

	static const struct fuse_custom_io io = {
		.read = transport_read,
		.writev = transport_writev,
	};
	if (fuse_session_custom_io(se, &io, transport.fuse_fd) != 0)
		return cf_error_set(err, -EIO, "fuse_session_custom_io failed");
	return 0;
}

int gcfs_uring_stop(void)
{
	atomic_store(&transport.loop_ended, true);
	if (transport.threads != NULL) {
		uint64_t increment = 1;
		ssize_t n = write(transport.stop_fd, &increment, sizeof(increment));
		(void)n;
		for (unsigned i = 0; i < transport.thread_count; i++)
			if (transport.threads[i].started)
				pthread_join(transport.threads[i].thread, NULL);
		free(transport.threads);
		transport.threads = NULL;
		offload_stop();
	}
	free(transport.queue_registered);
	transport.queue_registered = NULL;
	if (transport.stop_fd >= 0)
		close(transport.stop_fd);
	transport.stop_fd = -1;
	if (uring_required() && !atomic_load(&transport.rings_ready))
		return -EIO;
	return 0;
}
