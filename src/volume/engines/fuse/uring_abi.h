// SPDX-License-Identifier: Apache-2.0
// FUSE-over-io_uring ABI (FUSE protocol 7.42, Linux 6.14 and later). The
// values and layouts come from the kernel's include/uapi/linux/fuse.h and
// fs/fuse/dev_uring.c; Debian 12's linux-libc-dev (protocol 7.38) lacks them.

#ifndef COFFER_GCFS_URING_ABI_H
#define COFFER_GCFS_URING_ABI_H

#include <stdint.h>

// INIT flag (bit 41, so bit 9 of flags2): the kernel offers io_uring in
// fuse_init_in.flags2, and the server accepts it in fuse_init_out.flags2.
#define GCFS_FUSE_OVER_IO_URING (1ULL << 41)
// INIT flag: fuse_init_in and fuse_init_out carry flags2.
#define GCFS_FUSE_INIT_EXT (1U << 30)
// INIT flag: fuse_init_out.max_pages is valid.
#define GCFS_FUSE_MAX_PAGES (1U << 22)

#define GCFS_FUSE_URING_IN_OUT_HEADER_SZ 128
#define GCFS_FUSE_URING_OP_IN_OUT_SZ 128

// Sub-commands in io_uring_sqe.cmd_op of an IORING_OP_URING_CMD on /dev/fuse.
enum {
	GCFS_FUSE_IO_URING_CMD_REGISTER = 1,
	GCFS_FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};

// Trailer of the header buffer. On fetch the kernel writes commit_id (the
// request's unique id) and payload_sz. On commit the server writes
// payload_sz, the bytes of reply arguments in the payload buffer.
struct gcfs_fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

// Header buffer of one ring entry, iov[0] of FUSE_IO_URING_CMD_REGISTER.
// in_out contains struct fuse_in_header on fetch and struct
// fuse_out_header on commit. op_in contains the request's first argument
// (the per-opcode header, such as struct fuse_write_in), which has size 0
// for some opcodes. The other arguments are in the payload buffer.
struct gcfs_fuse_uring_req_header {
	uint8_t in_out[GCFS_FUSE_URING_IN_OUT_HEADER_SZ];
	uint8_t op_in[GCFS_FUSE_URING_OP_IN_OUT_SZ];
	struct gcfs_fuse_uring_ent_in_out ring_ent_in_out;
};

// Command data in the 80-byte command area of a 128-byte SQE.
struct gcfs_fuse_uring_cmd_req {
	uint64_t flags;
	// unique id of the request being committed (COMMIT_AND_FETCH only)
	uint64_t commit_id;
	// queue index: the CPU whose requests this entry serves
	uint16_t qid;
	uint8_t padding[6];
};

_Static_assert(sizeof(struct gcfs_fuse_uring_ent_in_out) == 32, "kernel ABI size");
_Static_assert(sizeof(struct gcfs_fuse_uring_req_header) == 288, "kernel ABI size");
_Static_assert(sizeof(struct gcfs_fuse_uring_cmd_req) == 24, "kernel ABI size");

#endif
