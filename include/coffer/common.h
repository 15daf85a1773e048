// SPDX-License-Identifier: Apache-2.0
// Common helpers shared by every component: error details, logging, the
// secure allocator for key material and constant-time comparison.
//
// Conventions: functions return 0 on success or a negative errno value, and
// fill an optional struct cf_error with a human-readable detail. Exactly one
// place per front end (CLI exit codes, HTTP statuses, KMIP result reasons)
// maps those values.

#ifndef COFFER_COMMON_H
#define COFFER_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CF_ERROR_MAX 512

// Detail of the last failure: the negative errno value and a message that
// names the value involved and what to do next. Never contains secrets.
struct cf_error {
	int code;
	char message[CF_ERROR_MAX];
};

// Records code and a printf-style message in err (when err is not NULL) and
// returns code, so callers can write `return cf_error_set(err, -EINVAL, ...)`.
// A message already recorded is kept, so the innermost, most specific detail
// wins; use cf_error_reset first to overwrite it.
int cf_error_set(struct cf_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

// Prefixes the recorded message with more context ("mount v1: ...").
void cf_error_prefix(struct cf_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void cf_error_reset(struct cf_error *err);

// Returns the recorded message, or strerror(-code) when none was recorded.
const char *cf_error_message(const struct cf_error *err, int code);

// ---- logging -------------------------------------------------------------

enum cf_log_level {
	CF_LOG_DEBUG = 0,
	CF_LOG_INFO = 1,
	CF_LOG_WARN = 2,
	CF_LOG_ERROR = 3,
};

// Sets the minimum level written (default info) and the stream (default
// stderr). Not thread-safe: call once at start.
void cf_log_set_level(enum cf_log_level level);
int cf_log_parse_level(const char *name, enum cf_log_level *level);

// Writes one line `time=... level=... event=EVENT k=v ...` to the log. fmt
// contains the key=value pairs; string values that may contain spaces or
// quotes must be passed through cf_log_quote. Safe to call from several
// threads: each line is written with one write(2).
void cf_log(enum cf_log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

// Quotes value for a key=value log line into buf (backslash-escaping quotes,
// backslashes and control characters) and returns buf.
const char *cf_log_quote(char *buf, size_t size, const char *value);

// ---- secure memory -------------------------------------------------------

// Allocates size zeroed bytes for key material: locked in RAM with mlock (so
// it is never swapped out), excluded from core dumps, and wiped with
// OPENSSL_cleanse by cf_secure_free. Returns NULL when out of memory or when
// the lock limit (RLIMIT_MEMLOCK) is reached.
void *cf_secure_alloc(size_t size);

// Wipes and frees a buffer from cf_secure_alloc. NULL is accepted.
void cf_secure_free(void *ptr);

// Sets up OpenSSL's secure heap of size bytes (a power of two), where
// OpenSSL keeps private key numbers in locked memory. Call it before any
// key is loaded. Returns 0, 1 when the heap works but is not locked
// (RLIMIT_MEMLOCK too low), or a negative errno. When the heap is full,
// OpenSSL fails the allocation, so size it for the peak in use.
int cf_openssl_secure_heap(size_t size, struct cf_error *err);

// Wipes size bytes in place; the compiler cannot remove this call.
void cf_wipe(void *ptr, size_t size);

// Compares two buffers in time that depends only on size, never on their
// contents. Use it for every comparison of secrets, tags and token hashes.
// Returns true when they are equal.
bool cf_ct_equal(const void *a, const void *b, size_t size);

// ---- small helpers -------------------------------------------------------

// Hex-encodes size bytes into out, which must hold 2 * size + 1 bytes.
void cf_hex_encode(const uint8_t *in, size_t size, char *out);

// Decodes exactly size bytes from hex text; returns 0 or -EINVAL.
int cf_hex_decode(const char *hex, uint8_t *out, size_t size);

// Creates dir and its parents with the given mode when missing.
int cf_mkdir_p(const char *dir, unsigned mode, struct cf_error *err);

// Reads a whole file (at most max bytes) into a malloc'd, NUL-terminated
// buffer. Returns 0, -EFBIG past max, or another negative errno.
int cf_read_file(const char *path, size_t max, char **data, size_t *size,
		 struct cf_error *err);

// Calls visit for each entry of /proc/self/mountinfo with its mount point,
// file system type and source, until visit returns nonzero. Returns that
// value, 0 after the last entry, or -errno when the table cannot be read.
int cf_mount_foreach(int (*visit)(const char *mount_point, const char *fstype,
				  const char *source, void *arg),
		     void *arg);

// Disables core dumps and ptrace attach for this process, as every daemon
// holding keys must (prctl PR_SET_DUMPABLE 0 and RLIMIT_CORE 0).
int cf_harden_process(struct cf_error *err);

// Current wall-clock time in seconds since the epoch.
int64_t cf_now(void);

#endif
