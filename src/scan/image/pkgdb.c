// SPDX-License-Identifier: Apache-2.0
// Package database parsers: dpkg status (and distroless status.d), apk
// installed, rpm headers from rpmdb.sqlite, npm package.json and Python
// METADATA/PKG-INFO, plus os-release. Each takes untrusted bytes with an
// explicit size and never reads past it.

#include <coffer/image.h>

#include <ctype.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

// ---- package lists ----------------------------------------------------------

static void package_clear(struct image_package *p)
{
	free(p->name);
	free(p->version);
	free(p->source_name);
	free(p->source_version);
	free(p->ecosystem);
	free(p->path);
	free(p->owner);
	memset(p, 0, sizeof(*p));
}

void image_package_list_free(struct image_package_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		package_clear(&list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

static char *copy_span(const char *text, size_t len)
{
	char *s = malloc(len + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, text, len);
	s[len] = '\0';
	return s;
}

static void trim_span(const char **text, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)**text)) {
		(*text)++;
		(*len)--;
	}
	while (*len > 0 && isspace((unsigned char)(*text)[*len - 1]))
		(*len)--;
}

// Appends a package; name and version are required, source fields may be
// NULL and default to the binary package's. Takes no ownership.
static int package_append(struct image_package_list *list, enum image_package_type type,
			  const char *name, const char *version, const char *source_name,
			  const char *source_version)
{
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 64;
		struct image_package *items = realloc(list->items, capacity * sizeof(*items));
		if (items == NULL)
			return -ENOMEM;
		list->items = items;
		list->capacity = capacity;
	}

	struct image_package *p = &list->items[list->count];
	memset(p, 0, sizeof(*p));
	p->type = type;
	p->layer = -1;
	p->name = strdup(name);
	p->version = strdup(version);
	p->source_name = strdup(source_name != NULL && *source_name ? source_name : name);
	p->source_version = strdup(source_version != NULL && *source_version ? source_version
									      : version);
	if (p->name == NULL || p->version == NULL || p->source_name == NULL ||
	    p->source_version == NULL) {
		package_clear(p);
		return -ENOMEM;
	}
	list->count++;
	return 0;
}

// ---- RFC 822 style stanzas (dpkg, METADATA) -----------------------------

struct line_reader {
	const char *data;
	size_t size;
	size_t pos;
	size_t number;
};

// Returns the next line without its newline, or false at the end.
static bool next_line(struct line_reader *r, const char **line, size_t *len)
{
	if (r->pos >= r->size)
		return false;
	const char *start = r->data + r->pos;
	const char *nl = memchr(start, '\n', r->size - r->pos);
	size_t n = nl != NULL ? (size_t)(nl - start) : r->size - r->pos;
	r->pos += n + (nl != NULL);
	r->number++;
	if (n > 0 && start[n - 1] == '\r')
		n--;
	*line = start;
	*len = n;
	return true;
}

struct stanza_field {
	const char *name;
	char *value;
};

static void stanza_reset(struct stanza_field *fields, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(fields[i].value);
		fields[i].value = NULL;
	}
}

// Stores a "Name: value" line into the matching field (case-insensitive).
// Returns 0, -EINVAL for a line without a colon, or -ENOMEM.
static int stanza_store(struct stanza_field *fields, size_t count, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	if (colon == NULL || colon == line)
		return -EINVAL;
	size_t name_len = (size_t)(colon - line);
	for (size_t i = 0; i < count; i++) {
		if (strlen(fields[i].name) != name_len ||
		    strncasecmp(fields[i].name, line, name_len) != 0)
			continue;
		const char *value = colon + 1;
		size_t value_len = len - name_len - 1;
		trim_span(&value, &value_len);
		free(fields[i].value);
		fields[i].value = copy_span(value, value_len);
		return fields[i].value != NULL ? 0 : -ENOMEM;
	}
	return 0;
}

enum dpkg_field { DPKG_PACKAGE, DPKG_VERSION, DPKG_STATUS, DPKG_SOURCE, DPKG_FIELD_COUNT };

static bool dpkg_status_installed(const char *status)
{
	// "want flag status", such as "install ok installed" or "hold ok installed".
	const char *last = strrchr(status, ' ');
	last = last != NULL ? last + 1 : status;
	return strcmp(last, "installed") == 0;
}

static int dpkg_emit(struct stanza_field *f, bool require_installed,
		     struct image_package_list *out)
{
	if (f[DPKG_PACKAGE].value == NULL || f[DPKG_VERSION].value == NULL)
		return 0;
	if (require_installed &&
	    (f[DPKG_STATUS].value == NULL || !dpkg_status_installed(f[DPKG_STATUS].value)))
		return 0;

	// "Source: name" or "Source: name (version)".
	char *source_name = NULL, *source_version = NULL;
	const char *source = f[DPKG_SOURCE].value;
	if (source != NULL) {
		const char *paren = strchr(source, '(');
		size_t name_len = paren != NULL ? (size_t)(paren - source) : strlen(source);
		const char *name = source;
		trim_span(&name, &name_len);
		source_name = copy_span(name, name_len);
		if (paren != NULL) {
			const char *close = strchr(paren, ')');
			if (close != NULL)
				source_version = copy_span(paren + 1, (size_t)(close - paren - 1));
		}
	}
	int rc = package_append(out, IMAGE_PKG_DEB, f[DPKG_PACKAGE].value, f[DPKG_VERSION].value,
				source_name, source_version);
	free(source_name);
	free(source_version);
	return rc;
}

int image_parse_dpkg_status(const char *data, size_t size, bool require_installed,
			    struct image_package_list *out, struct cf_error *err)
{
	struct stanza_field fields[DPKG_FIELD_COUNT] = {
		[DPKG_PACKAGE] = { "Package", NULL },
		[DPKG_VERSION] = { "Version", NULL },
		[DPKG_STATUS] = { "Status", NULL },
		[DPKG_SOURCE] = { "Source", NULL },
	};
	struct line_reader r = { data, size, 0, 0 };
	const char *line;
	size_t len;
	int rc = 0;

	while (next_line(&r, &line, &len)) {
		if (len == 0) {
			rc = dpkg_emit(fields, require_installed, out);
			stanza_reset(fields, DPKG_FIELD_COUNT);
			if (rc != 0)
				goto out;
			continue;
		}
		if (line[0] == ' ' || line[0] == '\t')
			continue; // continuation of a multi-line field
		rc = stanza_store(fields, DPKG_FIELD_COUNT, line, len);
		if (rc == -EINVAL) {
			rc = cf_error_set(err, -EINVAL,
					  "invalid dpkg status: line %zu is not 'Field: value'",
					  r.number);
			goto out;
		}
		if (rc != 0)
			goto out;
	}
	rc = dpkg_emit(fields, require_installed, out);
out:
	stanza_reset(fields, DPKG_FIELD_COUNT);
	return rc;
}

int image_parse_python_metadata(const char *data, size_t size,
				struct image_package_list *out, struct cf_error *err)
{
	struct stanza_field fields[2] = { { "Name", NULL }, { "Version", NULL } };
	struct line_reader r = { data, size, 0, 0 };
	const char *line;
	size_t len;
	int rc = 0;

	// Only the header block matters; the description follows a blank line.
	while (next_line(&r, &line, &len) && len > 0) {
		if (line[0] == ' ' || line[0] == '\t')
			continue;
		rc = stanza_store(fields, 2, line, len);
		if (rc == -EINVAL)
			rc = 0; // free-form lines do occur in old PKG-INFO files
		if (rc != 0)
			goto out;
	}
	if (fields[0].value == NULL || fields[1].value == NULL) {
		rc = cf_error_set(err, -EINVAL, "Python package metadata has no Name or Version");
		goto out;
	}

	// PEP 503 name normalisation: lower case, runs of -_. become one '-'.
	char *name = fields[0].value;
	size_t w = 0;
	for (size_t i = 0; name[i] != '\0'; i++) {
		char c = (char)tolower((unsigned char)name[i]);
		if (c == '_' || c == '.')
			c = '-';
		if (c == '-' && w > 0 && name[w - 1] == '-')
			continue;
		name[w++] = c;
	}
	name[w] = '\0';
	rc = package_append(out, IMAGE_PKG_PYPI, name, fields[1].value, NULL, NULL);
out:
	stanza_reset(fields, 2);
	return rc;
}

// ---- apk ------------------------------------------------------------------

int image_parse_apk_installed(const char *data, size_t size,
			      struct image_package_list *out, struct cf_error *err)
{
	struct line_reader r = { data, size, 0, 0 };
	char *name = NULL, *version = NULL, *origin = NULL;
	const char *line;
	size_t len;
	int rc = 0;

	for (;;) {
		bool more = next_line(&r, &line, &len);
		if (!more || len == 0) {
			if (name != NULL && version != NULL)
				rc = package_append(out, IMAGE_PKG_APK, name, version, origin, NULL);
			free(name);
			free(version);
			free(origin);
			name = version = origin = NULL;
			if (rc != 0 || !more)
				break;
			continue;
		}
		if (len < 2 || line[1] != ':') {
			rc = cf_error_set(err, -EINVAL,
					  "invalid apk database: line %zu is not 'K:value'", r.number);
			break;
		}
		char **target = NULL;
		if (line[0] == 'P')
			target = &name;
		else if (line[0] == 'V')
			target = &version;
		else if (line[0] == 'o')
			target = &origin;
		if (target == NULL)
			continue;
		free(*target);
		*target = copy_span(line + 2, len - 2);
		if (*target == NULL) {
			rc = -ENOMEM;
			break;
		}
	}
	free(name);
	free(version);
	free(origin);
	return rc;
}

// ---- rpm ------------------------------------------------------------------

// Header tags and types from the rpm file format (rpm's rpmtag.h).
#define RPMTAG_NAME 1000
#define RPMTAG_VERSION 1001
#define RPMTAG_RELEASE 1002
#define RPMTAG_EPOCH 1003
#define RPMTAG_SOURCERPM 1044
#define RPMTAG_DIRINDEXES 1116
#define RPMTAG_BASENAMES 1117
#define RPMTAG_DIRNAMES 1118
#define RPM_INT32_TYPE 4
#define RPM_STRING_TYPE 6
#define RPM_STRING_ARRAY_TYPE 8
#define RPM_I18NSTRING_TYPE 9
#define RPM_MAX_INDEX 100000

static uint32_t read_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// Finds a string tag's value inside the data area; NULL when absent.
static const char *rpm_string(const unsigned char *index, uint32_t count, const unsigned char *store,
			      uint32_t store_size, uint32_t tag)
{
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *entry = index + 16 * (size_t)i;
		uint32_t type = read_be32(entry + 4);
		uint32_t offset = read_be32(entry + 8);
		if (read_be32(entry) != tag ||
		    (type != RPM_STRING_TYPE && type != RPM_I18NSTRING_TYPE))
			continue;
		if (offset >= store_size)
			return NULL;
		// The string must end inside the data area.
		if (memchr(store + offset, '\0', store_size - offset) == NULL)
			return NULL;
		return (const char *)store + offset;
	}
	return NULL;
}

static bool rpm_int32(const unsigned char *index, uint32_t count, const unsigned char *store,
		      uint32_t store_size, uint32_t tag, uint32_t *value)
{
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *entry = index + 16 * (size_t)i;
		if (read_be32(entry) != tag || read_be32(entry + 4) != RPM_INT32_TYPE)
			continue;
		uint32_t offset = read_be32(entry + 8);
		if (offset > store_size || store_size - offset < 4 || read_be32(entry + 12) < 1)
			return false;
		*value = read_be32(store + offset);
		return true;
	}
	return false;
}

int image_parse_rpm_header(const unsigned char *data, size_t size,
			   struct image_package_list *out, struct cf_error *err)
{
	if (size < 8)
		return cf_error_set(err, -EINVAL, "invalid rpm header: %zu bytes is too short", size);
	uint32_t index_count = read_be32(data);
	uint32_t store_size = read_be32(data + 4);
	if (index_count == 0 || index_count > RPM_MAX_INDEX ||
	    (uint64_t)index_count * 16 + store_size + 8 > size)
		return cf_error_set(err, -EINVAL,
				    "invalid rpm header: %u index entries and %u data bytes do not fit in %zu bytes",
				    index_count, store_size, size);

	const unsigned char *index = data + 8;
	const unsigned char *store = index + 16 * (size_t)index_count;
	const char *name = rpm_string(index, index_count, store, store_size, RPMTAG_NAME);
	const char *version = rpm_string(index, index_count, store, store_size, RPMTAG_VERSION);
	const char *release = rpm_string(index, index_count, store, store_size, RPMTAG_RELEASE);
	const char *source_rpm = rpm_string(index, index_count, store, store_size, RPMTAG_SOURCERPM);
	if (name == NULL || version == NULL || release == NULL)
		return cf_error_set(err, -EINVAL, "invalid rpm header: name, version or release missing");
	// gpg-pubkey entries are imported keys, not software.
	if (strcmp(name, "gpg-pubkey") == 0)
		return 0;

	char evr[512];
	uint32_t epoch;
	if (rpm_int32(index, index_count, store, store_size, RPMTAG_EPOCH, &epoch))
		snprintf(evr, sizeof(evr), "%u:%s-%s", epoch, version, release);
	else
		snprintf(evr, sizeof(evr), "%s-%s", version, release);

	// SOURCERPM is "NAME-VERSION-RELEASE.src.rpm"; NAME is the source package.
	char *source_name = NULL;
	if (source_rpm != NULL) {
		source_name = strdup(source_rpm);
		if (source_name == NULL)
			return -ENOMEM;
		for (int i = 0; i < 2; i++) {
			char *hyphen = strrchr(source_name, '-');
			if (hyphen != NULL)
				*hyphen = '\0';
		}
	}
	int rc = package_append(out, IMAGE_PKG_RPM, name, evr, source_name, NULL);
	free(source_name);
	return rc;
}

// Calls each_blob for every row of rpmdb.sqlite's Packages table.
static int rpmdb_foreach_blob(const unsigned char *data, size_t size,
			      int (*each_blob)(const unsigned char *blob, size_t size, void *context,
					       struct cf_error *err),
			      void *context, struct cf_error *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int rc = 0;

	if (size == 0 || size > (size_t)INT32_MAX)
		return cf_error_set(err, -EINVAL, "invalid rpm database: size %zu", size);
	// sqlite3_deserialize takes a buffer from sqlite3_malloc and frees it.
	unsigned char *copy = sqlite3_malloc64(size);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, data, size);

	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_free(copy);
		rc = -ENOMEM;
		goto out;
	}
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	if (sqlite3_deserialize(db, "main", copy, (sqlite3_int64)size, (sqlite3_int64)size,
				SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) !=
	    SQLITE_OK) {
		rc = cf_error_set(err, -EINVAL, "invalid rpm database: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_prepare_v2(db, "SELECT blob FROM Packages", -1, &stmt, NULL) != SQLITE_OK) {
		rc = cf_error_set(err, -EINVAL, "invalid rpm database: %s", sqlite3_errmsg(db));
		goto out;
	}
	for (;;) {
		int step = sqlite3_step(stmt);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			rc = cf_error_set(err, -EINVAL, "invalid rpm database: %s", sqlite3_errmsg(db));
			goto out;
		}
		const unsigned char *blob = sqlite3_column_blob(stmt, 0);
		int blob_size = sqlite3_column_bytes(stmt, 0);
		if (blob == NULL)
			continue;
		rc = each_blob(blob, (size_t)blob_size, context, err);
		if (rc != 0)
			goto out;
	}
out:
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return rc;
}

static int parse_header_blob(const unsigned char *blob, size_t size, void *context,
			     struct cf_error *err)
{
	return image_parse_rpm_header(blob, size, context, err);
}

int image_parse_rpmdb_sqlite(const unsigned char *data, size_t size,
			     struct image_package_list *out, struct cf_error *err)
{
	return rpmdb_foreach_blob(data, size, parse_header_blob, out, err);
}

// Finds an array tag: its entry's data offset and count, with the type
// checked. Returns false when absent or out of bounds.
static bool rpm_array(const unsigned char *index, uint32_t count, uint32_t store_size,
		      uint32_t tag, uint32_t type, uint32_t *offset, uint32_t *items)
{
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *entry = index + 16 * (size_t)i;
		if (read_be32(entry) != tag || read_be32(entry + 4) != type)
			continue;
		*offset = read_be32(entry + 8);
		*items = read_be32(entry + 12);
		return *offset < store_size && *items > 0 && *items <= store_size;
	}
	return false;
}

struct rpm_files_walk {
	image_rpm_file_visitor visit;
	void *context;
};

// Walks one header's BASENAMES, DIRNAMES and DIRINDEXES arrays.
static int header_files(const unsigned char *data, size_t size, void *context,
			struct cf_error *err)
{
	struct rpm_files_walk *walk = context;
	(void)err;
	if (size < 8)
		return 0;
	uint32_t index_count = read_be32(data);
	uint32_t store_size = read_be32(data + 4);
	if (index_count == 0 || index_count > RPM_MAX_INDEX ||
	    (uint64_t)index_count * 16 + store_size + 8 > size)
		return 0;
	const unsigned char *index = data + 8;
	const unsigned char *store = index + 16 * (size_t)index_count;
	const char *name = rpm_string(index, index_count, store, store_size, RPMTAG_NAME);

	uint32_t base_offset, base_count, dir_offset, dir_count, dirindex_offset, dirindex_count;
	if (name == NULL ||
	    !rpm_array(index, index_count, store_size, RPMTAG_BASENAMES, RPM_STRING_ARRAY_TYPE,
		       &base_offset, &base_count) ||
	    !rpm_array(index, index_count, store_size, RPMTAG_DIRNAMES, RPM_STRING_ARRAY_TYPE,
		       &dir_offset, &dir_count) ||
	    !rpm_array(index, index_count, store_size, RPMTAG_DIRINDEXES, RPM_INT32_TYPE,
		       &dirindex_offset, &dirindex_count) ||
	    dirindex_count != base_count || store_size - dirindex_offset < 4 * (uint64_t)base_count)
		return 0;

	// Directory names first, so that each file can find its directory.
	const char **dirs = calloc(dir_count, sizeof(*dirs));
	if (dirs == NULL)
		return -ENOMEM;
	uint32_t pos = dir_offset;
	for (uint32_t i = 0; i < dir_count; i++) {
		const unsigned char *nul = pos < store_size
						   ? memchr(store + pos, '\0', store_size - pos)
						   : NULL;
		if (nul == NULL) {
			free(dirs);
			return 0;
		}
		dirs[i] = (const char *)store + pos;
		pos = (uint32_t)(nul - store) + 1;
	}

	int rc = 0;
	pos = base_offset;
	for (uint32_t i = 0; i < base_count && rc == 0; i++) {
		const unsigned char *nul = pos < store_size
						   ? memchr(store + pos, '\0', store_size - pos)
						   : NULL;
		if (nul == NULL)
			break;
		uint32_t dir = read_be32(store + dirindex_offset + 4 * (size_t)i);
		if (dir < dir_count)
			rc = walk->visit(walk->context, name, dirs[dir], (const char *)store + pos);
		pos = (uint32_t)(nul - store) + 1;
	}
	free(dirs);
	return rc;
}

int image_rpmdb_sqlite_files(const unsigned char *data, size_t size,
			     image_rpm_file_visitor visit, void *context, struct cf_error *err)
{
	struct rpm_files_walk walk = { visit, context };
	return rpmdb_foreach_blob(data, size, header_files, &walk, err);
}

// ---- npm ------------------------------------------------------------------

int image_parse_npm_package_json(const char *data, size_t size,
				 struct image_package_list *out, struct cf_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return cf_error_set(err, -EINVAL, "invalid package.json: %s at line %d", jerr.text,
				    jerr.line);

	int rc = 0;
	const char *name = json_string_value(json_object_get(root, "name"));
	const char *version = json_string_value(json_object_get(root, "version"));
	if (name != NULL && version != NULL && *name && *version)
		rc = package_append(out, IMAGE_PKG_NPM, name, version, NULL, NULL);
	json_decref(root);
	return rc;
}

// ---- os-release -------------------------------------------------------------

void image_os_free(struct image_os *os)
{
	free(os->id);
	free(os->version_id);
	free(os->pretty_name);
	free(os->ecosystem);
	memset(os, 0, sizeof(*os));
}

// Unquotes an os-release value: "..." or '...' with backslash escapes.
static char *os_release_value(const char *text, size_t len)
{
	char *value = malloc(len + 1);
	if (value == NULL)
		return NULL;
	size_t w = 0;
	char quote = 0;
	size_t i = 0;
	if (len > 0 && (text[0] == '"' || text[0] == '\'')) {
		quote = text[0];
		i = 1;
	}
	for (; i < len; i++) {
		if (quote != 0 && text[i] == quote)
			break;
		if (text[i] == '\\' && i + 1 < len)
			i++;
		value[w++] = text[i];
	}
	value[w] = '\0';
	return value;
}

int image_parse_os_release(const char *data, size_t size, struct image_os *os)
{
	struct line_reader r = { data, size, 0, 0 };
	const char *line;
	size_t len;

	while (next_line(&r, &line, &len)) {
		const char *eq = memchr(line, '=', len);
		if (eq == NULL)
			continue;
		size_t key_len = (size_t)(eq - line);
		char **target = NULL;
		if (key_len == 2 && strncmp(line, "ID", 2) == 0)
			target = &os->id;
		else if (key_len == 10 && strncmp(line, "VERSION_ID", 10) == 0)
			target = &os->version_id;
		else if (key_len == 11 && strncmp(line, "PRETTY_NAME", 11) == 0)
			target = &os->pretty_name;
		if (target == NULL)
			continue;
		free(*target);
		*target = os_release_value(eq + 1, len - key_len - 1);
		if (*target == NULL)
			return -ENOMEM;
	}
	return 0;
}
