// SPDX-License-Identifier: Apache-2.0
// The FUSE-over-io_uring message layout: rebuilding a /dev/fuse request from
// a ring entry's header and payload buffers, copying a reply back into the
// entry, and the payload size the kernel requires.

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <linux/fuse.h>

#include "volume/engines/fuse/uring.h"

#define MAX_PAYLOAD 8192

struct entry {
	struct gcfs_fuse_uring_req_header header;
	uint8_t buffer[GCFS_URING_HEAD_ROOM + MAX_PAYLOAD];
};

static uint8_t *payload_of(struct entry *e)
{
	return e->buffer + GCFS_URING_HEAD_ROOM;
}

// Fills e as the kernel does for a request with a per-opcode header of
// op_size bytes (pattern 0xA0 + i) and payload_size payload bytes (i & 0xff).
static void fetch(struct entry *e, uint32_t opcode, uint32_t len, size_t op_size,
		  uint32_t payload_size)
{
	memset(e, 0xEE, sizeof(*e));
	struct fuse_in_header in = {
		.len = len,
		.opcode = opcode,
		.unique = 77,
		.nodeid = 5,
		.uid = 1000,
	};
	memcpy(e->header.in_out, &in, sizeof(in));
	for (size_t i = 0; i < op_size; i++)
		e->header.op_in[i] = (uint8_t)(0xA0 + i);
	for (uint32_t i = 0; i < payload_size; i++)
		payload_of(e)[i] = (uint8_t)i;
	e->header.ring_ent_in_out.commit_id = 77;
	e->header.ring_ent_in_out.payload_sz = payload_size;
}

static void check_request(const uint8_t *start, size_t len, uint32_t opcode, size_t op_size,
			  uint32_t payload_size)
{
	struct fuse_in_header in;
	memcpy(&in, start, sizeof(in));
	assert_int_equal(len, sizeof(in) + op_size + payload_size);
	assert_int_equal(in.len, len);
	assert_int_equal(in.opcode, opcode);
	assert_int_equal(in.unique, 77);
	assert_int_equal(in.nodeid, 5);
	assert_int_equal(in.uid, 1000);
	for (size_t i = 0; i < op_size; i++)
		assert_int_equal(start[sizeof(in) + i], (uint8_t)(0xA0 + i));
	for (uint32_t i = 0; i < payload_size; i++)
		assert_int_equal(start[sizeof(in) + op_size + i], (uint8_t)i);
}

static void request_with_kernel_len(void **state)
{
	(void)state;
	static struct entry e;
	uint8_t *start;
	size_t len;

	// WRITE: fuse_write_in (40 bytes), then the data in the payload.
	fetch(&e, FUSE_WRITE, 40 + 40 + 4096, 40, 4096);
	assert_int_equal(gcfs_uring_request_build(&e.header, payload_of(&e), MAX_PAYLOAD, &start,
						  &len), 0);
	assert_ptr_equal(start + 80, payload_of(&e));
	check_request(start, len, FUSE_WRITE, 40, 4096);

	// UNLINK: no per-opcode header, the name in the payload.
	fetch(&e, FUSE_UNLINK, 40 + 6, 0, 6);
	assert_int_equal(gcfs_uring_request_build(&e.header, payload_of(&e), MAX_PAYLOAD, &start,
						  &len), 0);
	check_request(start, len, FUSE_UNLINK, 0, 6);

	// SETATTR: the 88-byte fuse_setattr_in and no payload.
	fetch(&e, FUSE_SETATTR, 40 + 88, 88, 0);
	assert_int_equal(gcfs_uring_request_build(&e.header, payload_of(&e), MAX_PAYLOAD, &start,
						  &len), 0);
	check_request(start, len, FUSE_SETATTR, 88, 0);
}

static void request_without_len_uses_table(void **state)
{
	(void)state;
	static struct entry e;
	uint8_t *start;
	size_t len;

	fetch(&e, FUSE_GETATTR, 0, 16, 0);
	assert_int_equal(gcfs_uring_request_build(&e.header, payload_of(&e), MAX_PAYLOAD, &start,
						  &len), 0);
	check_request(start, len, FUSE_GETATTR, 16, 0);

	fetch(&e, FUSE_CREATE, 0, 16, 3);
	assert_int_equal(gcfs_uring_request_build(&e.header, payload_of(&e), MAX_PAYLOAD, &start,
						  &len), 0);
	check_request(start, len, FUSE_CREATE, 16, 3);

	// An opcode the table does not list cannot be rebuilt without len.
	fetch(&e, 9999, 0, 0, 0);
	assert_int_equal(gcfs_uring_request_build(&e.header, payload_of(&e), MAX_PAYLOAD, &start,
						  &len), -EPROTO);
}

static void request_rejects_bad_sizes(void **state)
{
	(void)state;
	static struct entry e;
	uint8_t *start;
	size_t len;

	// payload_sz beyond the registered payload buffer
	fetch(&e, FUSE_WRITE, 40 + 40 + 16, 40, 16);
	e.header.ring_ent_in_out.payload_sz = MAX_PAYLOAD + 1;
	assert_int_equal(gcfs_uring_request_build(&e.header, payload_of(&e), MAX_PAYLOAD, &start,
						  &len), -EPROTO);

	// len smaller than the header and payload
	fetch(&e, FUSE_WRITE, 40 + 8, 0, 16);
	assert_int_equal(gcfs_uring_request_build(&e.header, payload_of(&e), MAX_PAYLOAD, &start,
						  &len), -EPROTO);

	// a per-opcode header larger than the op_in area
	fetch(&e, FUSE_WRITE, 40 + GCFS_FUSE_URING_OP_IN_OUT_SZ + 8, 0, 0);
	assert_int_equal(gcfs_uring_request_build(&e.header, payload_of(&e), MAX_PAYLOAD, &start,
						  &len), -EPROTO);
}

static void reply_copies_header_and_args(void **state)
{
	(void)state;
	static struct entry e;
	memset(&e, 0xEE, sizeof(e));

	struct fuse_out_header out = { .len = 0, .error = 0, .unique = 77 };
	uint8_t first[24], second[100];
	memset(first, 0x11, sizeof(first));
	memset(second, 0x22, sizeof(second));
	struct iovec iov[] = {
		{ &out, sizeof(out) },
		{ first, sizeof(first) },
		{ second, sizeof(second) },
	};
	assert_int_equal(gcfs_uring_reply_copy(&e.header, payload_of(&e), MAX_PAYLOAD, iov, 3),
			 sizeof(out) + 124);

	struct fuse_out_header copied;
	memcpy(&copied, e.header.in_out, sizeof(copied));
	assert_int_equal(copied.unique, 77);
	assert_int_equal(copied.error, 0);
	assert_int_equal(copied.len, sizeof(out) + 124);
	assert_int_equal(e.header.ring_ent_in_out.payload_sz, 124);
	assert_memory_equal(payload_of(&e), first, sizeof(first));
	assert_memory_equal(payload_of(&e) + 24, second, sizeof(second));
}

static void reply_error_has_no_payload(void **state)
{
	(void)state;
	static struct entry e;
	memset(&e, 0xEE, sizeof(e));

	struct fuse_out_header out = { .error = -ENOENT, .unique = 9 };
	struct iovec iov[] = { { &out, sizeof(out) } };
	assert_int_equal(gcfs_uring_reply_copy(&e.header, payload_of(&e), MAX_PAYLOAD, iov, 1),
			 sizeof(out));

	struct fuse_out_header copied;
	memcpy(&copied, e.header.in_out, sizeof(copied));
	assert_int_equal(copied.error, -ENOENT);
	assert_int_equal(copied.unique, 9);
	assert_int_equal(e.header.ring_ent_in_out.payload_sz, 0);
}

static void reply_from_payload_overlaps(void **state)
{
	(void)state;
	static struct entry e;
	uint8_t *payload = payload_of(&e);
	for (int i = 0; i < 64; i++)
		payload[i] = (uint8_t)i;

	// A reply argument that starts inside the payload (such as data read
	// into the request buffer) moves to the payload's start.
	struct fuse_out_header out = { .unique = 1 };
	struct iovec iov[] = { { &out, sizeof(out) }, { payload + 8, 32 } };
	assert_int_equal(gcfs_uring_reply_copy(&e.header, payload, MAX_PAYLOAD, iov, 2),
			 sizeof(out) + 32);
	for (int i = 0; i < 32; i++)
		assert_int_equal(payload[i], i + 8);
}

static void reply_rejects_oversize(void **state)
{
	(void)state;
	static struct entry e;
	static uint8_t big[MAX_PAYLOAD + 1];
	struct fuse_out_header out = { .unique = 1 };

	struct iovec too_big[] = { { &out, sizeof(out) }, { big, sizeof(big) } };
	assert_int_equal(gcfs_uring_reply_copy(&e.header, payload_of(&e), MAX_PAYLOAD, too_big, 2),
			 -EOVERFLOW);

	struct iovec halves[] = { { &out, sizeof(out) }, { big, MAX_PAYLOAD / 2 + 1 },
				  { big, MAX_PAYLOAD / 2 } };
	assert_int_equal(gcfs_uring_reply_copy(&e.header, payload_of(&e), MAX_PAYLOAD, halves, 3),
			 -EOVERFLOW);

	struct iovec short_header[] = { { &out, 8 } };
	assert_int_equal(gcfs_uring_reply_copy(&e.header, payload_of(&e), MAX_PAYLOAD,
					       short_header, 1), -EOVERFLOW);
}

static void payload_size_follows_kernel_rule(void **state)
{
	(void)state;
	// max_write 1 MiB with max_pages 256 (coffer's INIT reply)
	assert_int_equal(gcfs_uring_payload_size(1048576, 256, GCFS_FUSE_MAX_PAGES, 4096), 1048576);
	// max_pages above max_write wins
	assert_int_equal(gcfs_uring_payload_size(65536, 64, GCFS_FUSE_MAX_PAGES, 4096), 262144);
	// without FUSE_MAX_PAGES the kernel keeps 32 pages
	assert_int_equal(gcfs_uring_payload_size(4096, 256, 0, 4096), 131072);
	// never below 8 KiB, rounded up to whole pages
	assert_int_equal(gcfs_uring_payload_size(100, 1, GCFS_FUSE_MAX_PAGES, 4096), 8192);
	assert_int_equal(gcfs_uring_payload_size(10000, 1, GCFS_FUSE_MAX_PAGES, 4096), 12288);
}

static void mode_names_round_trip(void **state)
{
	(void)state;
	static const enum gcfs_uring_mode modes[] = { GCFS_URING_AUTO, GCFS_URING_OFF,
						      GCFS_URING_REQUIRE, GCFS_URING_ENABLE };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		enum gcfs_uring_mode parsed;
		assert_int_equal(gcfs_uring_mode_parse(gcfs_uring_mode_name(modes[i]), &parsed), 0);
		assert_int_equal(parsed, modes[i]);
	}
	enum gcfs_uring_mode parsed;
	assert_int_equal(gcfs_uring_mode_parse("yes", &parsed), -EINVAL);
	assert_int_equal(gcfs_uring_mode_parse("", &parsed), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_with_kernel_len),
		cmocka_unit_test(request_without_len_uses_table),
		cmocka_unit_test(request_rejects_bad_sizes),
		cmocka_unit_test(reply_copies_header_and_args),
		cmocka_unit_test(reply_error_has_no_payload),
		cmocka_unit_test(reply_from_payload_overlaps),
		cmocka_unit_test(reply_rejects_oversize),
		cmocka_unit_test(payload_size_follows_kernel_rule),
		cmocka_unit_test(mode_names_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
