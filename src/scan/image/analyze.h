// SPDX-License-Identifier: Apache-2.0
// The layer analyzer. Sources (archives, directories) feed it the entries
// of each layer in order. It applies whiteouts, keeps the files the
// scanner needs and finally builds the image_scan.

#ifndef COFFER_SCAN_IMAGE_ANALYZE_H
#define COFFER_SCAN_IMAGE_ANALYZE_H

#include <coffer/image.h>

#include <sys/types.h>

enum entry_type {
	ENTRY_FILE,
	ENTRY_DIR,
	ENTRY_SYMLINK,
	ENTRY_HARDLINK,
	ENTRY_OTHER,
};

struct layer_entry {
	const char *path;    // as stored in the layer, not yet sanitised
	enum entry_type type;
	mode_t mode;         // permission bits including setuid/setgid/sticky
	uint64_t size;
	const char *link;    // symlink or hard link target, or NULL
	// Reads the entry's content: up to max bytes into a malloc'd buffer.
	// Returns 0, -EFBIG past max, or another negative errno.
	int (*read)(void *context, uint64_t max, char **data, size_t *size,
		    struct cf_error *err);
	void *context;
};

struct analyzer;

struct analyzer *analyzer_new(const struct image_options *options);
void analyzer_free(struct analyzer *a);

// Starts layer index (0-based); entries until the next call belong to it.
void analyzer_begin_layer(struct analyzer *a, int layer);

// Processes one entry. Returns 0 or a negative errno (hostile path,
// oversize database, parse failure) with err set.
int analyzer_entry(struct analyzer *a, const struct layer_entry *entry, struct cf_error *err);

// Moves the results into scan (packages, OS, file findings).
int analyzer_finish(struct analyzer *a, struct image_scan *scan, struct cf_error *err);

// Adds a configuration finding to scan; message is printf-style.
int image_scan_add_finding(struct image_scan *scan, const char *rule_id, const char *path,
			   int layer, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

// Checks the image config (user, Env, history) and adds findings.
int image_check_config(struct image_scan *scan);

#endif
