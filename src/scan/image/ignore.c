// SPDX-License-Identifier: Apache-2.0
// Ignore files for the image scanner. One entry per line:
//   ID [package=NAME] expires=YYYY-MM-DD reason=TEXT TO THE END OF THE LINE
// '#' starts a comment line. An entry suppresses findings with that id
// (or with that id among their aliases), for one package when package= is
// given, until the end of its expiry day (UTC). Expired entries suppress
// nothing and are listed so that the caller can report them.

#include <coffer/image_ignore.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void image_ignore_free(struct image_ignore *ignore)
{
	for (size_t i = 0; i < ignore->count; i++) {
		free(ignore->entries[i].id);
		free(ignore->entries[i].package);
		free(ignore->entries[i].reason);
		free(ignore->entries[i].expires);
	}
	free(ignore->entries);
	memset(ignore, 0, sizeof(*ignore));
}

// Parses YYYY-MM-DD into the first second after that day ends (UTC).
static int parse_expiry(const char *text, int64_t *end_of_day)
{
	struct tm tm = { 0 };
	char *rest = strptime(text, "%Y-%m-%d", &tm);
	if (rest == NULL || *rest != '\0')
		return -EINVAL;
	*end_of_day = (int64_t)timegm(&tm) + 86400;
	return 0;
}

static int parse_line(char *line, size_t number, const char *path, int64_t now,
		      struct image_ignore_entry *entry, struct cf_error *err)
{
	memset(entry, 0, sizeof(*entry));
	char *save = NULL;
	char *id = strtok_r(line, " \t", &save);
	entry->id = strdup(id);
	if (entry->id == NULL)
		return -ENOMEM;

	char *token;
	while ((token = strtok_r(NULL, " \t", &save)) != NULL) {
		if (strncmp(token, "package=", 8) == 0) {
			free(entry->package);
			entry->package = strdup(token + 8);
		} else if (strncmp(token, "expires=", 8) == 0) {
			free(entry->expires);
			entry->expires = strdup(token + 8);
			if (entry->expires != NULL &&
			    parse_expiry(entry->expires, &entry->expires_at) != 0)
				return cf_error_set(err, -EINVAL,
						    "%s line %zu: invalid expiry '%s', expected YYYY-MM-DD",
						    path, number, token + 8);
		} else if (strncmp(token, "reason=", 7) == 0) {
			// The reason runs to the end of the line.
			char *end = token + strlen(token);
			if (save != NULL && *save != '\0')
				end[0] = ' ';
			entry->reason = strdup(token + 7);
			break;
		} else {
			return cf_error_set(err, -EINVAL,
					    "%s line %zu: unknown field '%s'; expected package=, expires= or reason=",
					    path, number, token);
		}
	}
	if (entry->expires == NULL || entry->reason == NULL || entry->reason[0] == '\0')
		return cf_error_set(err, -EINVAL,
				    "%s line %zu: entry %s needs expires=YYYY-MM-DD and reason=TEXT",
				    path, number, id);
	entry->expired = entry->expires_at <= now;
	return 0;
}

int image_ignore_load(const char *path, int64_t now, struct image_ignore *ignore,
		      struct cf_error *err)
{
	memset(ignore, 0, sizeof(*ignore));
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return cf_error_set(err, -errno, "cannot open ignore file %s: %s", path,
				    strerror(errno));

	char *line = NULL;
	size_t capacity = 0, number = 0;
	int rc = 0;
	while (getline(&line, &capacity, f) >= 0) {
		number++;
		line[strcspn(line, "\r\n")] = '\0';
		char *p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;

		struct image_ignore_entry *grown =
			realloc(ignore->entries, (ignore->count + 1) * sizeof(*grown));
		if (grown == NULL) {
			rc = -ENOMEM;
			break;
		}
		ignore->entries = grown;
		rc = parse_line(p, number, path, now, &ignore->entries[ignore->count], err);
		ignore->count++;
		if (rc != 0)
			break;
	}
	free(line);
	fclose(f);
	if (rc != 0)
		image_ignore_free(ignore);
	return rc;
}

const struct image_ignore_entry *image_ignore_match(const struct image_ignore *ignore,
						    const char *id, json_t *aliases,
						    const char *package)
{
	for (size_t i = 0; i < ignore->count; i++) {
		const struct image_ignore_entry *e = &ignore->entries[i];
		if (e->expired)
			continue;
		if (e->package != NULL && (package == NULL || strcmp(e->package, package) != 0))
			continue;
		bool same = strcmp(e->id, id) == 0;
		for (size_t k = 0; !same && k < json_array_size(aliases); k++) {
			const char *alias = json_string_value(json_array_get(aliases, k));
			same = alias != NULL && strcmp(alias, e->id) == 0;
		}
		if (same)
			return e;
	}
	return NULL;
}
