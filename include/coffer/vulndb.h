// SPDX-License-Identifier: Apache-2.0
// Offline vulnerability database: OSV JSON advisories imported into
// SQLite, and matching of installed packages with OSV range semantics in
// each ecosystem's own version order.

#ifndef COFFER_VULNDB_H
#define COFFER_VULNDB_H

#include <coffer/common.h>
#include <coffer/image.h>
#include <coffer/scan.h>
#include <jansson.h>

struct vulndb;

// Opens (creating when create is set) the SQLite database at path.
int vulndb_open(const char *path, bool create, struct vulndb **db, struct cf_error *err);
void vulndb_close(struct vulndb *db);

struct vulndb_import_stats {
	size_t files;      // JSON documents read
	size_t advisories; // advisories stored (new or replaced)
	size_t skipped;    // documents that were not OSV advisories
};

// Imports OSV JSON from a file, a directory (recursively) or a zip archive
// in one transaction, and records the source and time. Returns 0 or a
// negative errno; a malformed document inside a directory or zip is
// counted as skipped, a malformed single file is an error.
int vulndb_import(struct vulndb *db, const char *path, struct vulndb_import_stats *stats,
		  struct cf_error *err);

// Imports one OSV document held in memory (used by the fuzz target).
int vulndb_import_buffer(struct vulndb *db, const char *data, size_t size, const char *origin,
			 struct cf_error *err);

// Describes the database: advisory counts per ecosystem and the sources
// with the time each was last imported.
json_t *vulndb_info(struct vulndb *db, struct cf_error *err);

struct vulndb_match {
	char *id;
	json_t *aliases; // array of strings
	char *summary;
	char *fixed_version; // NULL when no fix is known
	enum scan_severity severity;
	char *severity_source; // "vendor", "cvss_v3", "cvss_v4" or "none"
	char *cvss_vector;     // NULL when none
	double cvss_score;     // -1 when unknown
	size_t package;        // index into image_scan.packages
};

struct vulndb_match_list {
	struct vulndb_match *items;
	size_t count;
};

// Matches every package of scan that has an ecosystem. OS packages match by
// source package name and source version, rpm packages also by binary
// name. Withdrawn advisories are ignored.
int vulndb_match_scan(struct vulndb *db, const struct image_scan *scan,
		      struct vulndb_match_list *matches, struct cf_error *err);
void vulndb_match_list_free(struct vulndb_match_list *matches);

// Computes a CVSS v3.x base score from a vector such as
// "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"; returns -1 when invalid.
double vulndb_cvss3_score(const char *vector);

// Builds a CycloneDX 1.5 JSON SBOM of scan's packages and, when matches is
// not NULL, their vulnerabilities. Returns a new reference or NULL.
json_t *image_cyclonedx(const struct image_scan *scan, const struct vulndb_match_list *matches);

#endif
