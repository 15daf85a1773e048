// SPDX-License-Identifier: Apache-2.0
// FUSE-over-io_uring transport of the FUSE server: per-CPU request queues
// served by threads pinned to each CPU, next to libfuse's /dev/fuse loop.

#ifndef COFFER_GCFS_URING_H
#define COFFER_GCFS_URING_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <coffer/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "uring_abi.h"

enum gcfs_uring_mode {
	// Use io_uring when the kernel offers it (fuse module parameter
	// enable_uring=Y), else /dev/fuse only.
	GCFS_URING_AUTO,
	// /dev/fuse only.
	GCFS_URING_OFF,
	// Fail unless the io_uring queues are registered.
	GCFS_URING_REQUIRE,
	// Set enable_uring=Y (root, a global kernel setting) then as REQUIRE.
	GCFS_URING_ENABLE,
};

// Parses "auto", "off", "require" or "enable". Returns 0 or -EINVAL.
int gcfs_uring_mode_parse(const char *text, enum gcfs_uring_mode *mode);
const char *gcfs_uring_mode_name(enum gcfs_uring_mode mode);

// Room in front of an entry's payload for struct fuse_in_header (40 bytes)
// and the largest per-opcode header (the op_in area, 128 bytes), rounded up
// to a page so the payload stays page aligned.
#define GCFS_URING_HEAD_ROOM 4096

// Rebuilds the /dev/fuse form of a fetched ring request in front of the
// payload: fuse_in_header, then the per-opcode header, then the payload
// arguments, which stay where the kernel wrote them. payload must be
// preceded by GCFS_URING_HEAD_ROOM bytes of the same buffer. Sets *start
// and *len to the request. Returns 0, or -EPROTO when the header sizes are
// inconsistent (payload_sz above max_payload, or a per-opcode header
// larger than the op_in area).
int gcfs_uring_request_build(const struct gcfs_fuse_uring_req_header *header,
			     uint8_t *payload, size_t max_payload, uint8_t **start,
			     size_t *len);

// Copies a reply in /dev/fuse form (iov[0] is struct fuse_out_header, the
// rest are the reply arguments) into a ring entry: the out header into the
// header buffer, the arguments into the payload, and their size into
// payload_sz. Arguments may point into the payload itself. Returns the
// reply's total size, or -EOVERFLOW when the arguments exceed max_payload
// or iov[0] is not an out header.
ssize_t gcfs_uring_reply_copy(struct gcfs_fuse_uring_req_header *header, uint8_t *payload,
			      size_t max_payload, const struct iovec *iov, int count);

// Payload size the kernel requires of each entry for a connection whose
// INIT reply set max_write, max_pages and flags, with page_size bytes per
// page (the kernel's rule: the largest of 8 KiB, max_write and max_pages
// pages).
size_t gcfs_uring_payload_size(uint32_t max_write, uint16_t max_pages, uint32_t flags,
			       size_t page_size);

// Selects the transport before mounting, because the kernel offers
// io_uring in the INIT request that the mount sends. ENABLE sets the fuse
// module parameter enable_uring to Y. Returns 0, or a negative errno when
// REQUIRE or ENABLE is set and the parameter is not Y.
int gcfs_uring_prepare(enum gcfs_uring_mode mode, struct cf_error *err);

// Sets up the transport on a mounted session: libfuse's reads and replies
// on /dev/fuse go through it from here on. When the mode allows io_uring
// and the kernel offers it at INIT, the INIT reply accepts it and the ring
// threads register once the reply is written. ready_fd (or -1) receives
// "ready io_uring\n" or "ready dev_fuse\n" once the transport is settled:
// at once for OFF, else when the queues are registered or the classic path
// was chosen. Returns 0 or a negative errno.
int gcfs_uring_start(struct fuse_session *se, const char *volume, int ready_fd,
		     struct cf_error *err);

// Stops and joins the ring threads. Call after the session loop returned
// and before unmounting. Returns -EIO when REQUIRE or ENABLE was set and
// the rings never became ready, else 0.
int gcfs_uring_stop(void);

#endif
