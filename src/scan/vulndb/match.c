// SPDX-License-Identifier: Apache-2.0
// Matching installed packages against stored OSV advisories, as the OSV
// schema specifies. A range's events are sorted in the ecosystem's version
// order, where introduced "0" is the lowest, and walked in order. An
// introduced event at or below the version makes it affected. A fixed
// event at or below it, or a last_affected event below it, ends that. A
// limit event caps the range. GIT ranges carry commits, not versions, so
// they are not evaluated.

#include <coffer/vulndb.h>

#include "scan/version/version.h"
#include "scan/vulndb/cvss4.h"
#include "scan/vulndb/internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

enum event_kind { EVENT_INTRODUCED, EVENT_FIXED, EVENT_LAST_AFFECTED, EVENT_LIMIT };

struct range_event {
	enum event_kind kind;
	const char *version;
};

static enum version_scheme sort_scheme;

static int compare_events(const void *x, const void *y)
{
	const struct range_event *a = x, *b = y;
	bool a_zero = a->kind == EVENT_INTRODUCED && strcmp(a->version, "0") == 0;
	bool b_zero = b->kind == EVENT_INTRODUCED && strcmp(b->version, "0") == 0;
	if (a_zero || b_zero)
		return b_zero - a_zero;
	return version_compare(sort_scheme, a->version, b->version);
}

struct range_result {
	bool affected;
	const char *fixed; // first fixed version above the installed one, or NULL
};

static void evaluate_range(json_t *range, enum version_scheme scheme, const char *version,
			   struct range_result *result)
{
	json_t *events = json_object_get(range, "events");
	size_t count = json_array_size(events);
	struct range_event stack_events[32];
	struct range_event *list = count <= 32 ? stack_events : malloc(count * sizeof(*list));
	size_t n = 0;

	result->affected = false;
	result->fixed = NULL;
	if (list == NULL)
		return;

	static const char *const keys[] = { "introduced", "fixed", "last_affected", "limit" };
	for (size_t i = 0; i < count; i++) {
		json_t *event = json_array_get(events, i);
		for (int k = 0; k < 4; k++) {
			const char *v = json_string_value(json_object_get(event, keys[k]));
			if (v != NULL) {
				list[n].kind = (enum event_kind)k;
				list[n].version = v;
				n++;
				break;
			}
		}
	}
	sort_scheme = scheme;
	qsort(list, n, sizeof(*list), compare_events);

	bool affected = false, limited = false, below_limit = false;
	for (size_t i = 0; i < n; i++) {
		const struct range_event *e = &list[i];
		bool zero = e->kind == EVENT_INTRODUCED && strcmp(e->version, "0") == 0;
		int cmp = zero ? 1 : version_compare(scheme, version, e->version);
		switch (e->kind) {
		case EVENT_INTRODUCED:
			if (cmp >= 0)
				affected = true;
			break;
		case EVENT_FIXED:
			if (cmp >= 0)
				affected = false;
			else if (result->fixed == NULL && affected)
				result->fixed = e->version;
			break;
		case EVENT_LAST_AFFECTED:
			if (cmp > 0)
				affected = false;
			break;
		case EVENT_LIMIT:
			limited = true;
			if (strcmp(e->version, "*") == 0 || cmp < 0)
				below_limit = true;
			break;
		}
	}
	result->affected = affected && (!limited || below_limit);
	if (!result->affected)
		result->fixed = NULL;
	if (list != stack_events)
		free(list);
}

// Evaluates one affected entry; returns true when version is affected and
// sets fixed to a malloc'd fixed version or NULL.
static bool evaluate_affected(const char *ranges_text, const char *versions_text,
			      enum version_scheme scheme, const char *version, char **fixed)
{
	bool affected = false;
	*fixed = NULL;

	json_t *versions = json_loads(versions_text, 0, NULL);
	for (size_t i = 0; i < json_array_size(versions) && !affected; i++) {
		const char *v = json_string_value(json_array_get(versions, i));
		affected = v != NULL && strcmp(v, version) == 0;
	}
	json_decref(versions);

	json_t *ranges = json_loads(ranges_text, 0, NULL);
	for (size_t i = 0; i < json_array_size(ranges); i++) {
		json_t *range = json_array_get(ranges, i);
		const char *type = json_string_value(json_object_get(range, "type"));
		enum version_scheme range_scheme = scheme;
		if (type == NULL || strcmp(type, "GIT") == 0)
			continue;
		if (strcmp(type, "SEMVER") == 0)
			range_scheme = VERSION_SCHEME_SEMVER;

		struct range_result result;
		evaluate_range(range, range_scheme, version, &result);
		if (!result.affected)
			continue;
		affected = true;
		if (result.fixed != NULL && *fixed == NULL)
			*fixed = strdup(result.fixed);
	}
	json_decref(ranges);
	return affected;
}

// Maps a vendor's rating word to the shared severity scale.
static bool severity_from_word(const char *word, enum scan_severity *severity)
{
	static const struct {
		const char *word;
		enum scan_severity severity;
	} words[] = {
		{ "critical", SCAN_SEV_CRITICAL }, { "high", SCAN_SEV_HIGH },
		{ "important", SCAN_SEV_HIGH },    { "moderate", SCAN_SEV_MEDIUM },
		{ "medium", SCAN_SEV_MEDIUM },     { "low", SCAN_SEV_LOW },
		{ "negligible", SCAN_SEV_LOW },    { "unimportant", SCAN_SEV_LOW },
	};
	if (word == NULL)
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(word, words[i].word) == 0) {
			*severity = words[i].severity;
			return true;
		}
	}
	return false;
}

static enum scan_severity severity_from_score(double score)
{
	if (score >= 9.0)
		return SCAN_SEV_CRITICAL;
	if (score >= 7.0)
		return SCAN_SEV_HIGH;
	if (score >= 4.0)
		return SCAN_SEV_MEDIUM;
	if (score > 0.0)
		return SCAN_SEV_LOW;
	return SCAN_SEV_NONE;
}

// Chooses the severity: the vendor's rating for the affected package, a
// vendor entry in the advisory's severity list, then the score of the CVSS
// v3 vector or, when the advisory has none, of the CVSS v4.0 vector. An
// invalid vector leaves the score unknown (-1).
static int set_severity(struct vulndb_match *m, const char *vendor, const char *severity_json)
{
	m->severity = SCAN_SEV_INFO;
	m->cvss_score = -1.0;
	const char *source = "none";

	json_t *list = severity_json != NULL ? json_loads(severity_json, 0, NULL) : NULL;
	const char *v3 = NULL, *v4 = NULL, *listed_vendor = NULL;
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *entry = json_array_get(list, i);
		const char *type = json_string_value(json_object_get(entry, "type"));
		const char *score = json_string_value(json_object_get(entry, "score"));
		if (type == NULL || score == NULL)
			continue;
		if (strcmp(type, "CVSS_V3") == 0)
			v3 = score;
		else if (strcmp(type, "CVSS_V4") == 0)
			v4 = score;
		else if (listed_vendor == NULL)
			listed_vendor = score;
	}

	const char *score_source = NULL;
	if (v3 != NULL) {
		m->cvss_vector = strdup(v3);
		m->cvss_score = vulndb_cvss3_score(v3);
		score_source = "cvss_v3";
	} else if (v4 != NULL) {
		double score;
		m->cvss_vector = strdup(v4);
		if (cvss4_score(v4, &score, NULL) == 0)
			m->cvss_score = score;
		score_source = "cvss_v4";
	}

	if (severity_from_word(vendor, &m->severity) ||
	    severity_from_word(listed_vendor, &m->severity)) {
		source = "vendor";
	} else if (m->cvss_score >= 0) {
		m->severity = severity_from_score(m->cvss_score);
		source = score_source;
	}
	json_decref(list);
	m->severity_source = strdup(source);
	return m->severity_source != NULL ? 0 : -ENOMEM;
}

void vulndb_match_list_free(struct vulndb_match_list *matches)
{
	for (size_t i = 0; i < matches->count; i++) {
		struct vulndb_match *m = &matches->items[i];
		free(m->id);
		json_decref(m->aliases);
		free(m->summary);
		free(m->fixed_version);
		free(m->severity_source);
		free(m->cvss_vector);
	}
	free(matches->items);
	matches->items = NULL;
	matches->count = 0;
}

static bool already_matched(const struct vulndb_match_list *matches, size_t package, const char *id)
{
	for (size_t i = matches->count; i > 0; i--) {
		const struct vulndb_match *m = &matches->items[i - 1];
		if (m->package != package)
			return false;
		if (strcmp(m->id, id) == 0)
			return true;
	}
	return false;
}

static int match_name(sqlite3_stmt *stmt, const struct image_package *p, size_t index,
		      const char *name, const char *version, struct vulndb_match_list *matches)
{
	sqlite3_reset(stmt);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, p->ecosystem, -1, SQLITE_STATIC);

	while (sqlite3_step(stmt) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(stmt, 0);
		const char *ecosystem = (const char *)sqlite3_column_text(stmt, 1);
		enum version_scheme scheme = version_scheme_for_ecosystem(ecosystem);
		char *fixed = NULL;
		if (already_matched(matches, index, id) ||
		    !evaluate_affected((const char *)sqlite3_column_text(stmt, 2),
				       (const char *)sqlite3_column_text(stmt, 3), scheme, version,
				       &fixed))
			continue;

		struct vulndb_match *grown =
			realloc(matches->items, (matches->count + 1) * sizeof(*grown));
		if (grown == NULL) {
			free(fixed);
			return -ENOMEM;
		}
		matches->items = grown;
		struct vulndb_match *m = &matches->items[matches->count++];
		memset(m, 0, sizeof(*m));
		m->package = index;
		m->fixed_version = fixed;
		m->id = strdup(id);
		const char *summary = (const char *)sqlite3_column_text(stmt, 6);
		m->summary = summary != NULL ? strdup(summary) : NULL;
		m->aliases = json_loads((const char *)sqlite3_column_text(stmt, 5), 0, NULL);
		if (m->aliases == NULL)
			m->aliases = json_array();
		if (m->id == NULL || m->aliases == NULL ||
		    set_severity(m, (const char *)sqlite3_column_text(stmt, 4),
				 (const char *)sqlite3_column_text(stmt, 7)) != 0)
			return -ENOMEM;
	}
	return 0;
}

int vulndb_match_scan(struct vulndb *db, const struct image_scan *scan,
		      struct vulndb_match_list *matches, struct cf_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc = 0;
	memset(matches, 0, sizeof(*matches));

	// The ecosystem matches exactly or as a prefix before ':', so that
	// "Ubuntu:22.04" finds "Ubuntu:22.04:LTS".
	if (sqlite3_prepare_v2(db->db,
			       "SELECT a.advisory_id, a.ecosystem, a.ranges, a.versions, a.severity,"
			       " v.aliases, v.summary, v.severity"
			       " FROM affected a JOIN advisories v ON v.id = a.advisory_id"
			       " WHERE a.package = ?1 AND (a.ecosystem = ?2"
			       "  OR substr(a.ecosystem, 1, length(?2) + 1) = ?2 || ':')"
			       " AND v.withdrawn IS NULL ORDER BY a.advisory_id",
			       -1, &stmt, NULL) != SQLITE_OK)
		return cf_error_set(err, -EIO, "vulnerability database %s: query failed: %s",
				    db->path, sqlite3_errmsg(db->db));

	for (size_t i = 0; i < scan->package_count && rc == 0; i++) {
		const struct image_package *p = &scan->packages[i];
		if (p->ecosystem == NULL)
			continue;
		switch (p->type) {
		case IMAGE_PKG_DEB:
		case IMAGE_PKG_APK:
			rc = match_name(stmt, p, i, p->source_name, p->source_version, matches);
			break;
		case IMAGE_PKG_RPM:
			rc = match_name(stmt, p, i, p->name, p->version, matches);
			if (rc == 0 && strcmp(p->source_name, p->name) != 0)
				rc = match_name(stmt, p, i, p->source_name, p->version, matches);
			break;
		case IMAGE_PKG_NPM:
		case IMAGE_PKG_PYPI:
			// A distribution's copy carries its own backported fixes,
			// so only the distribution's advisories apply to it.
			if (p->owner == NULL)
				rc = match_name(stmt, p, i, p->name, p->version, matches);
			break;
		}
	}
	sqlite3_finalize(stmt);
	if (rc != 0)
		vulndb_match_list_free(matches);
	return rc;
}
