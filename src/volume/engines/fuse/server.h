// SPDX-License-Identifier: Apache-2.0
// The FUSE server of the userspace engine: serves one gocryptfs-format
// ciphertext directory as a plaintext mount until it is unmounted.

#ifndef COFFER_GCFS_SERVER_H
#define COFFER_GCFS_SERVER_H

#include <coffer/common.h>

#include "gcfs.h"
#include "uring.h"

struct gcfs_server_options {
	const char *cipher_dir;
	const char *mount_point;
	// Volume name for log lines and the mount's fsname.
	const char *volume;
	// File descriptor that receives "ready TRANSPORT\n" (io_uring or
	// dev_fuse) once the mount is live, or -1. The engine passes its end
	// of the key socketpair.
	int ready_fd;
	// Worker threads of the FUSE loop (0 selects the libfuse default).
	unsigned max_threads;
	// Mount with allow_other so containers can use the mount.
	bool allow_other;
	// Entry and attribute cache lifetime in seconds.
	double cache_timeout;
	// Whether requests travel over io_uring or /dev/fuse only.
	enum gcfs_uring_mode uring_mode;
};

// Writes the root directory IV into cipher_dir when it has none, so the
// directory becomes an empty volume. An existing IV is kept.
int gcfs_init_dir(const char *cipher_dir, struct cf_error *err);

// Mounts and serves until unmount or SIGTERM. master is copied into locked
// memory and may be wiped by the caller once this returns. Returns 0 after
// a clean unmount or a negative errno when the mount failed.
int gcfs_server_run(const struct gcfs_server_options *options,
		    const uint8_t master[GCFS_MASTER_KEY_SIZE], struct cf_error *err);

#endif
