// SPDX-License-Identifier: Apache-2.0
// Ignore files for `coffer scan image`: accepted findings, each with an
// expiry date and a reason.

#ifndef COFFER_IMAGE_IGNORE_H
#define COFFER_IMAGE_IGNORE_H

#include <coffer/common.h>
#include <jansson.h>

struct image_ignore_entry {
	char *id;      // advisory id or alias, or a configuration rule id
	char *package; // NULL for every package
	char *expires; // YYYY-MM-DD as written
	int64_t expires_at; // first second (UTC) after the expiry day
	char *reason;
	bool expired;
};

struct image_ignore {
	struct image_ignore_entry *entries;
	size_t count;
};

// Loads path; now (seconds since the epoch) decides which entries have
// expired. Returns 0, or -EINVAL with err naming the line.
int image_ignore_load(const char *path, int64_t now, struct image_ignore *ignore,
		      struct cf_error *err);
void image_ignore_free(struct image_ignore *ignore);

// Returns the unexpired entry that suppresses id (or one of aliases) for
// package, or NULL.
const struct image_ignore_entry *image_ignore_match(const struct image_ignore *ignore,
						    const char *id, json_t *aliases,
						    const char *package);

#endif
