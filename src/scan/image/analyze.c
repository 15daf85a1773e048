// SPDX-License-Identifier: Apache-2.0
// Layer analyzer. Entries arrive layer by layer in archive order. Paths are
// sanitised first: a leading '/' is dropped, and '..' or a link target that
// would leave the image root is an error. Whiteouts delete what lower
// layers added. Only files the scanner needs are kept. Package databases
// are parsed as they arrive, and every version stays in memory. A package
// in the final image then names the first layer of the unbroken run of
// database versions that list it. Secrets are reported in the layer that
// added them, even when a later layer deletes them.

#include "scan/image/analyze.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tracked_kind {
	TRACKED_DPKG_STATUS,
	TRACKED_DPKG_STATUS_D,
	TRACKED_APK,
	TRACKED_RPMDB,
	TRACKED_NPM,
	TRACKED_PYTHON,
	TRACKED_OS_RELEASE,
	TRACKED_OS_HINT,
	TRACKED_DPKG_LIST,
	TRACKED_SETUID,
	TRACKED_WORLD_WRITABLE,
	TRACKED_NONE,
};

// One version of a package database, packages sorted by name and version.
struct snapshot {
	int layer;
	struct image_package_list packages;
};

struct tracked {
	char *path;
	enum tracked_kind kind;
	int layer;
	bool removed;
	struct snapshot *history;
	size_t history_count;
	char *content; // os-release and release files
	size_t size;
	char *link; // symlink target for os-release
	mode_t mode;
};

struct analyzer {
	struct image_limits limits;
	int layer;
	struct tracked *files;
	size_t file_count;
	size_t file_capacity;
	// Open-addressing index over files by (path, kind). Each slot contains
	// a files index plus one, or 0 when empty. It points at the entry added
	// last for its key, the only one that can still be live.
	size_t *slots;
	size_t slot_count; // a power of two, at least twice file_count
	struct image_scan findings; // only its findings array is used
	char **git_dirs;
	size_t git_dir_count;
};

struct analyzer *analyzer_new(const struct image_options *options)
{
	struct analyzer *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->limits = options->limits;
	return a;
}

static void snapshots_free(struct tracked *t)
{
	for (size_t i = 0; i < t->history_count; i++)
		image_package_list_free(&t->history[i].packages);
	free(t->history);
	t->history = NULL;
	t->history_count = 0;
}

static void tracked_free(struct tracked *t)
{
	free(t->path);
	snapshots_free(t);
	free(t->content);
	free(t->link);
}

static void findings_free(struct image_scan *scan)
{
	for (size_t i = 0; i < scan->finding_count; i++) {
		free(scan->findings[i].message);
		free(scan->findings[i].path);
	}
	free(scan->findings);
	scan->findings = NULL;
	scan->finding_count = 0;
}

void analyzer_free(struct analyzer *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->file_count; i++)
		tracked_free(&a->files[i]);
	free(a->files);
	free(a->slots);
	findings_free(&a->findings);
	for (size_t i = 0; i < a->git_dir_count; i++)
		free(a->git_dirs[i]);
	free(a->git_dirs);
	free(a);
}

void analyzer_begin_layer(struct analyzer *a, int layer)
{
	a->layer = layer;
}

int image_scan_add_finding(struct image_scan *scan, const char *rule_id, const char *path,
			   int layer, const char *fmt, ...)
{
	struct image_finding *grown =
		realloc(scan->findings, (scan->finding_count + 1) * sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	scan->findings = grown;

	struct image_finding *f = &scan->findings[scan->finding_count];
	memset(f, 0, sizeof(*f));
	f->rule_id = rule_id;
	f->layer = layer;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&f->message, fmt, ap);
	va_end(ap);
	if (n < 0) {
		f->message = NULL;
		return -ENOMEM;
	}
	if (path != NULL) {
		f->path = strdup(path);
		if (f->path == NULL) {
			free(f->message);
			return -ENOMEM;
		}
	}
	scan->finding_count++;
	return 0;
}

// ---- paths ------------------------------------------------------------------

// Normalises path into out (no leading '/', no '.' or '..' components).
// Returns -EPERM when '..' would climb above the root.
static int sanitize_path(const char *path, char *out, size_t out_size)
{
	size_t len = 0;
	const char *p = path;
	out[0] = '\0';

	while (*p != '\0') {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 0)
			break;
		if (n == 1 && p[0] == '.') {
			// nothing to add
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (len == 0)
				return -EPERM;
			char *slash = memrchr(out, '/', len);
			len = slash != NULL ? (size_t)(slash - out) : 0;
			out[len] = '\0';
		} else {
			if (len + n + 2 > out_size)
				return -ENAMETOOLONG;
			if (len > 0)
				out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
			out[len] = '\0';
		}
		p = end;
	}
	return 0;
}

// Checks that a relative symlink target stays inside the root when
// resolved from the link's directory. Absolute targets resolve inside the
// image root, as they do in a container.
static int check_link_target(const char *link_path, const char *target)
{
	if (target[0] == '/')
		return 0;
	char joined[8192];
	const char *slash = strrchr(link_path, '/');
	int dir_len = slash != NULL ? (int)(slash - link_path) : 0;
	int n = snprintf(joined, sizeof(joined), "%.*s/%s", dir_len, link_path, target);
	if (n < 0 || (size_t)n >= sizeof(joined))
		return -ENAMETOOLONG;
	char normal[8192];
	return sanitize_path(joined, normal, sizeof(normal));
}

static bool path_has_prefix_dir(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 0)
		return true;
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash != NULL ? slash + 1 : path;
}

// ---- tracked files ----------------------------------------------------------

static size_t tracked_hash(const char *path, enum tracked_kind kind)
{
	// FNV-1a over the path, then the kind.
	uint64_t hash = 14695981039346656037ull;
	for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++)
		hash = (hash ^ *p) * 1099511628211ull;
	hash = (hash ^ (uint64_t)kind) * 1099511628211ull;
	return (size_t)hash;
}

// Returns the slot for (path, kind): the one holding it, or the empty
// slot where it belongs.
static size_t *tracked_slot(struct analyzer *a, const char *path, enum tracked_kind kind)
{
	size_t mask = a->slot_count - 1;
	for (size_t i = tracked_hash(path, kind) & mask;; i = (i + 1) & mask) {
		size_t *slot = &a->slots[i];
		if (*slot == 0)
			return slot;
		const struct tracked *t = &a->files[*slot - 1];
		if (t->kind == kind && strcmp(t->path, path) == 0)
			return slot;
	}
}

static int tracked_grow_index(struct analyzer *a)
{
	size_t count = a->slot_count ? a->slot_count * 2 : 256;
	size_t *slots = calloc(count, sizeof(*slots));
	if (slots == NULL)
		return -ENOMEM;
	size_t *old = a->slots;
	a->slots = slots;
	a->slot_count = count;
	// Later entries overwrite earlier ones with the same key.
	for (size_t i = 0; i < a->file_count; i++)
		*tracked_slot(a, a->files[i].path, a->files[i].kind) = i + 1;
	free(old);
	return 0;
}

static struct tracked *tracked_find(struct analyzer *a, const char *path, enum tracked_kind kind)
{
	if (a->slot_count == 0)
		return NULL;
	size_t *slot = tracked_slot(a, path, kind);
	if (*slot == 0 || a->files[*slot - 1].removed)
		return NULL;
	return &a->files[*slot - 1];
}

static struct tracked *tracked_add(struct analyzer *a, const char *path, enum tracked_kind kind)
{
	if (a->file_count == a->file_capacity) {
		size_t capacity = a->file_capacity ? a->file_capacity * 2 : 64;
		struct tracked *files = realloc(a->files, capacity * sizeof(*files));
		if (files == NULL)
			return NULL;
		a->files = files;
		a->file_capacity = capacity;
	}
	if (2 * (a->file_count + 1) > a->slot_count && tracked_grow_index(a) != 0)
		return NULL;

	struct tracked *t = &a->files[a->file_count];
	memset(t, 0, sizeof(*t));
	t->path = strdup(path);
	if (t->path == NULL)
		return NULL;
	t->kind = kind;
	t->layer = a->layer;
	a->file_count++;
	*tracked_slot(a, path, kind) = a->file_count;
	return t;
}

// Drops path (and everything below it) added by lower layers; with
// children_only set, only what is below it (an opaque directory).
static void tracked_remove(struct analyzer *a, const char *path, bool children_only)
{
	for (size_t i = 0; i < a->file_count; i++) {
		struct tracked *t = &a->files[i];
		if (t->removed || t->layer >= a->layer)
			continue;
		bool below = path_has_prefix_dir(t->path, path);
		bool same = !children_only && strcmp(t->path, path) == 0;
		if (!below && !same)
			continue;
		t->removed = true;
		snapshots_free(t);
		free(t->content);
		t->content = NULL;
	}
}

// A file that a later entry in the same or a later layer replaces stops
// counting as setuid or world-writable.
static void tracked_replace_mode_entries(struct analyzer *a, const char *path)
{
	struct tracked *t = tracked_find(a, path, TRACKED_SETUID);
	if (t != NULL)
		t->removed = true;
	t = tracked_find(a, path, TRACKED_WORLD_WRITABLE);
	if (t != NULL)
		t->removed = true;
}

static enum tracked_kind classify(const char *path)
{
	if (strcmp(path, "var/lib/dpkg/status") == 0)
		return TRACKED_DPKG_STATUS;
	if (path_has_prefix_dir(path, "var/lib/dpkg/status.d") &&
	    strchr(path + strlen("var/lib/dpkg/status.d/"), '/') == NULL &&
	    !ends_with(path, ".md5sums"))
		return TRACKED_DPKG_STATUS_D;
	if (strcmp(path, "lib/apk/db/installed") == 0)
		return TRACKED_APK;
	if (path_has_prefix_dir(path, "var/lib/dpkg/info") && ends_with(path, ".list") &&
	    strchr(path + strlen("var/lib/dpkg/info/"), '/') == NULL)
		return TRACKED_DPKG_LIST;
	if (strcmp(path, "var/lib/rpm/rpmdb.sqlite") == 0 ||
	    strcmp(path, "usr/lib/sysimage/rpm/rpmdb.sqlite") == 0)
		return TRACKED_RPMDB;
	if (strcmp(path, "etc/os-release") == 0 || strcmp(path, "usr/lib/os-release") == 0)
		return TRACKED_OS_RELEASE;
	if (strcmp(path, "etc/alpine-release") == 0 || strcmp(path, "etc/debian_version") == 0 ||
	    strcmp(path, "etc/redhat-release") == 0)
		return TRACKED_OS_HINT;

	// node_modules/NAME/package.json or node_modules/@SCOPE/NAME/package.json,
	// and the same below usr/share/nodejs or usr/lib/nodejs, where Debian's
	// node-* packages install modules.
	if (strcmp(base_name(path), "package.json") == 0) {
		const char *nm = NULL;
		size_t prefix = strlen("node_modules/");
		for (const char *p = strstr(path, "node_modules/"); p != NULL;
		     p = strstr(p + 1, "node_modules/")) {
			if (p == path || p[-1] == '/')
				nm = p;
		}
		if (nm == NULL && (strncmp(path, "usr/share/nodejs/", 17) == 0 ||
				   strncmp(path, "usr/lib/nodejs/", 15) == 0)) {
			nm = path;
			prefix = path[4] == 's' ? 17 : 15;
		}
		if (nm != NULL) {
			const char *rest = nm + prefix;
			const char *slash = strchr(rest, '/');
			if (rest[0] == '@' && slash != NULL)
				slash = strchr(slash + 1, '/');
			if (slash != NULL && strcmp(slash + 1, "package.json") == 0)
				return TRACKED_NPM;
		}
	}
	if ((ends_with(path, ".dist-info/METADATA")) || ends_with(path, ".egg-info/PKG-INFO"))
		return TRACKED_PYTHON;
	return TRACKED_NONE;
}

static int compare_packages(const void *x, const void *y)
{
	const struct image_package *a = x, *b = y;
	int rc = strcmp(a->name, b->name);
	return rc != 0 ? rc : strcmp(a->version, b->version);
}

static int parse_package_file(enum tracked_kind kind, const char *data, size_t size,
			      struct image_package_list *list, struct cf_error *err)
{
	switch (kind) {
	case TRACKED_DPKG_STATUS:
		return image_parse_dpkg_status(data, size, true, list, err);
	case TRACKED_DPKG_STATUS_D:
		return image_parse_dpkg_status(data, size, false, list, err);
	case TRACKED_APK:
		return image_parse_apk_installed(data, size, list, err);
	case TRACKED_RPMDB:
		return image_parse_rpmdb_sqlite((const unsigned char *)data, size, list, err);
	case TRACKED_NPM:
		return image_parse_npm_package_json(data, size, list, err);
	case TRACKED_PYTHON:
		return image_parse_python_metadata(data, size, list, err);
	default:
		return 0;
	}
}

static int read_entry(struct analyzer *a, const struct layer_entry *e, const char *path,
		      uint64_t max, char **data, size_t *size, struct cf_error *err)
{
	int rc = e->read(e->context, max, data, size, err);
	if (rc == -EFBIG)
		return cf_error_set(err, -EFBIG,
				    "%s in layer %d is larger than the %llu byte limit for package databases",
				    path, a->layer, (unsigned long long)max);
	return rc;
}

static int add_package_snapshot(struct analyzer *a, const struct layer_entry *e,
				const char *path, enum tracked_kind kind, struct cf_error *err)
{
	char *data = NULL;
	size_t size = 0;
	int rc = read_entry(a, e, path, a->limits.max_file_bytes, &data, &size, err);
	if (rc != 0)
		return rc;

	struct image_package_list list = { 0 };
	rc = parse_package_file(kind, data, size, &list, err);
	// The apk and rpm databases also list each package's files, which
	// decide later which language packages they installed.
	char *apk_content = NULL;
	if (rc == 0 && (kind == TRACKED_APK || kind == TRACKED_RPMDB))
		apk_content = data;
	else
		free(data);
	if (rc != 0) {
		image_package_list_free(&list);
		free(apk_content);
		// Language manifests are many and loosely formed: a bad one is
		// skipped, while a broken OS package database fails the scan.
		if (kind == TRACKED_NPM || kind == TRACKED_PYTHON) {
			cf_error_reset(err);
			return 0;
		}
		cf_error_prefix(err, "%s in layer %d", path, a->layer);
		return rc;
	}
	if (list.count > 1)
		qsort(list.items, list.count, sizeof(list.items[0]), compare_packages);

	struct tracked *t = tracked_find(a, path, kind);
	if (t == NULL)
		t = tracked_add(a, path, kind);
	if (t == NULL) {
		image_package_list_free(&list);
		free(apk_content);
		return -ENOMEM;
	}
	if (apk_content != NULL) {
		free(t->content);
		t->content = apk_content;
		t->size = size;
	}
	struct snapshot *history = realloc(t->history, (t->history_count + 1) * sizeof(*history));
	if (history == NULL) {
		image_package_list_free(&list);
		return -ENOMEM;
	}
	t->history = history;
	t->history[t->history_count].layer = a->layer;
	t->history[t->history_count].packages = list;
	t->history_count++;
	t->layer = a->layer;
	return 0;
}

// ---- secrets in files -------------------------------------------------------

struct credential_file {
	const char *suffix;    // path suffix
	const char *marker;    // text the content must contain, or NULL
	const char *description;
};

static const struct credential_file credential_files[] = {
	{ ".aws/credentials", "aws_secret_access_key", "AWS credentials" },
	{ ".docker/config.json", "\"auth\"", "Docker registry credentials" },
	{ ".config/gcloud/application_default_credentials.json", NULL, "Google Cloud credentials" },
	{ ".config/gcloud/credentials.db", NULL, "Google Cloud credentials" },
	{ ".azure/accessTokens.json", NULL, "Azure access tokens" },
	{ ".azure/msal_token_cache.json", NULL, "Azure access tokens" },
	{ ".kube/config", "token", "Kubernetes credentials" },
	{ ".git-credentials", NULL, "Git credentials" },
	{ ".npmrc", "_authToken", "npm registry token" },
	{ ".pypirc", "password", "PyPI credentials" },
	{ ".netrc", "password", "netrc credentials" },
};

// Returns " (added in layer N)", or "" for a root filesystem (layer -1).
static const char *layer_phrase(int layer, char *buf, size_t size)
{
	if (layer < 0)
		return "";
	snprintf(buf, size, " (added in layer %d)", layer);
	return buf;
}

static bool private_key_candidate(const char *path)
{
	const char *name = base_name(path);
	static const char *const names[] = { "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0)
			return true;
	}
	return ends_with(name, ".pem") || ends_with(name, ".key") || ends_with(name, "_key");
}

static bool contains(const char *data, size_t size, const char *text)
{
	return memmem(data, size, text, strlen(text)) != NULL;
}

#define SECRET_FILE_MAX (1u << 20)

static int check_secret_file(struct analyzer *a, const struct layer_entry *e, const char *path,
			     struct cf_error *err)
{
	const struct credential_file *credential = NULL;
	for (size_t i = 0; i < sizeof(credential_files) / sizeof(credential_files[0]); i++) {
		const char *suffix = credential_files[i].suffix;
		if (ends_with(path, suffix) &&
		    (strlen(path) == strlen(suffix) || path[strlen(path) - strlen(suffix) - 1] == '/'))
			credential = &credential_files[i];
	}
	bool key = private_key_candidate(path);
	if ((credential == NULL && !key) || e->size > SECRET_FILE_MAX || e->size == 0)
		return 0;

	char *data = NULL;
	size_t size = 0;
	char where[64];
	int rc = e->read(e->context, SECRET_FILE_MAX, &data, &size, err);
	if (rc != 0)
		return rc;

	if (key && contains(data, size, "PRIVATE KEY-----"))
		rc = image_scan_add_finding(&a->findings, "IMG-PRIVATE-KEY", path, a->layer,
					    "private key in /%s%s", path, layer_phrase(a->layer, where,
											sizeof(where)));
	else if (credential != NULL &&
		 (credential->marker == NULL || contains(data, size, credential->marker)))
		rc = image_scan_add_finding(&a->findings, "IMG-CLOUD-CREDENTIALS", path, a->layer,
					    "%s in /%s%s", credential->description, path,
					    layer_phrase(a->layer, where, sizeof(where)));
	free(data);
	return rc;
}

static int check_git_dir(struct analyzer *a, const char *path)
{
	const char *p = strstr(path, ".git");
	while (p != NULL && !((p == path || p[-1] == '/') && (p[4] == '\0' || p[4] == '/')))
		p = strstr(p + 1, ".git");
	if (p == NULL)
		return 0;

	size_t len = (size_t)(p - path) + 4;
	for (size_t i = 0; i < a->git_dir_count; i++) {
		if (strlen(a->git_dirs[i]) == len && strncmp(a->git_dirs[i], path, len) == 0)
			return 0;
	}
	char **grown = realloc(a->git_dirs, (a->git_dir_count + 1) * sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	a->git_dirs = grown;
	a->git_dirs[a->git_dir_count] = strndup(path, len);
	if (a->git_dirs[a->git_dir_count] == NULL)
		return -ENOMEM;
	a->git_dir_count++;
	char where[64];
	return image_scan_add_finding(&a->findings, "IMG-GIT-DIR", a->git_dirs[a->git_dir_count - 1],
				      a->layer, "git repository /%.*s%s", (int)len, path,
				      layer_phrase(a->layer, where, sizeof(where)));
}

// ---- entries ------------------------------------------------------------------

static int handle_whiteout(struct analyzer *a, const char *path)
{
	const char *name = base_name(path);
	size_t dir_len = (size_t)(name - path);
	char target[8192];

	if (strcmp(name, ".wh..wh..opq") == 0) {
		snprintf(target, sizeof(target), "%.*s", dir_len > 0 ? (int)dir_len - 1 : 0, path);
		tracked_remove(a, target, true);
		return 0;
	}
	snprintf(target, sizeof(target), "%.*s%s", (int)dir_len, path, name + 4);
	tracked_remove(a, target, false);
	return 0;
}

int analyzer_entry(struct analyzer *a, const struct layer_entry *e, struct cf_error *err)
{
	char path[8192];
	int rc = sanitize_path(e->path, path, sizeof(path));
	if (rc == -EPERM)
		return cf_error_set(err, -EPERM, "layer %d: entry '%s' leaves the image root with '..'",
				    a->layer, e->path);
	if (rc != 0)
		return cf_error_set(err, rc, "layer %d: entry path '%.200s...' is too long",
				    a->layer, e->path);
	if (path[0] == '\0')
		return 0;

	if (strncmp(base_name(path), ".wh.", 4) == 0)
		return handle_whiteout(a, path);

	// In a root filesystem directory (layer -1) files are opened with
	// RESOLVE_IN_ROOT, so a link that climbs above the root stays inside.
	if (e->type == ENTRY_SYMLINK && e->link != NULL && a->layer >= 0 &&
	    check_link_target(path, e->link) != 0)
		return cf_error_set(err, -EPERM,
				    "layer %d: symlink '%s' points to '%s', outside the image root",
				    a->layer, path, e->link);
	if (e->type == ENTRY_HARDLINK && e->link != NULL) {
		char target[8192];
		if (sanitize_path(e->link, target, sizeof(target)) != 0)
			return cf_error_set(err, -EPERM,
					    "layer %d: hard link '%s' points to '%s', outside the image root",
					    a->layer, path, e->link);
	}

	rc = check_git_dir(a, path);
	if (rc != 0)
		return rc;

	// A new entry replaces whatever lower layers had at this path.
	tracked_replace_mode_entries(a, path);

	if (e->type == ENTRY_FILE || e->type == ENTRY_DIR) {
		bool special = (e->mode & 06000) != 0 && e->type == ENTRY_FILE;
		bool world_writable = (e->mode & 0002) != 0 &&
				      !(e->type == ENTRY_DIR && (e->mode & 01000) != 0);
		if (special || world_writable) {
			struct tracked *t = tracked_add(a, path, special ? TRACKED_SETUID
									 : TRACKED_WORLD_WRITABLE);
			if (t == NULL)
				return -ENOMEM;
			t->mode = e->mode;
		}
	}

	enum tracked_kind kind = classify(path);
	if (kind == TRACKED_OS_RELEASE && e->type == ENTRY_SYMLINK) {
		tracked_remove(a, path, false);
		struct tracked *t = tracked_add(a, path, kind);
		if (t == NULL)
			return -ENOMEM;
		t->link = strdup(e->link);
		return t->link != NULL ? 0 : -ENOMEM;
	}
	if (e->type != ENTRY_FILE)
		return 0;

	if (kind == TRACKED_OS_RELEASE || kind == TRACKED_OS_HINT || kind == TRACKED_DPKG_LIST) {
		struct tracked *old = tracked_find(a, path, kind);
		if (old != NULL)
			old->removed = true;
		struct tracked *t = tracked_add(a, path, kind);
		if (t == NULL)
			return -ENOMEM;
		uint64_t max = kind == TRACKED_DPKG_LIST ? a->limits.max_file_bytes : 65536;
		return read_entry(a, e, path, max, &t->content, &t->size, err);
	}
	if (kind != TRACKED_NONE)
		return add_package_snapshot(a, e, path, kind, err);
	return check_secret_file(a, e, path, err);
}

// ---- results ------------------------------------------------------------------

static bool snapshot_contains(const struct snapshot *s, const struct image_package *p)
{
	return bsearch(p, s->packages.items, s->packages.count, sizeof(s->packages.items[0]),
		       compare_packages) != NULL;
}

static int move_packages(struct tracked *t, struct image_scan *scan)
{
	const struct snapshot *last = &t->history[t->history_count - 1];
	struct image_package *grown = realloc(
		scan->packages, (scan->package_count + last->packages.count) * sizeof(*grown));
	if (grown == NULL && last->packages.count > 0)
		return -ENOMEM;
	if (grown != NULL)
		scan->packages = grown;

	for (size_t i = 0; i < last->packages.count; i++) {
		struct image_package *p = &last->packages.items[i];

		// The first layer of the unbroken run of versions listing p.
		int layer = last->layer;
		for (size_t k = t->history_count - 1; k > 0; k--) {
			if (!snapshot_contains(&t->history[k - 1], p))
				break;
			layer = t->history[k - 1].layer;
		}

		struct image_package *dst = &scan->packages[scan->package_count++];
		*dst = *p;
		dst->layer = layer;
		dst->path = strdup(t->path);
		if (dst->path == NULL)
			return -ENOMEM;
	}
	// The strings now belong to scan.
	free(t->history[t->history_count - 1].packages.items);
	t->history[t->history_count - 1].packages.items = NULL;
	t->history[t->history_count - 1].packages.count = 0;
	return 0;
}

static char *ecosystem_from_os(const struct image_os *os)
{
	char *out = NULL;
	const char *id = os->id, *version = os->version_id;
	if (id == NULL)
		return NULL;

	int major_len = version != NULL ? (int)strcspn(version, ".") : 0;
	int minor_len = 0;
	if (version != NULL && version[major_len] == '.')
		minor_len = major_len + 1 + (int)strcspn(version + major_len + 1, ".");

	int n = -1;
	if (strcmp(id, "debian") == 0)
		n = version != NULL ? asprintf(&out, "Debian:%.*s", major_len, version)
				    : asprintf(&out, "Debian");
	else if (strcmp(id, "ubuntu") == 0 && version != NULL)
		n = asprintf(&out, "Ubuntu:%s", version);
	else if (strcmp(id, "alpine") == 0 && version != NULL)
		n = asprintf(&out, "Alpine:v%.*s", minor_len > 0 ? minor_len : major_len, version);
	else if (strcmp(id, "rocky") == 0 && version != NULL)
		n = asprintf(&out, "Rocky Linux:%.*s", major_len, version);
	else if (strcmp(id, "almalinux") == 0 && version != NULL)
		n = asprintf(&out, "AlmaLinux:%.*s", major_len, version);
	else if (strcmp(id, "rhel") == 0)
		n = asprintf(&out, "Red Hat");
	return n < 0 ? NULL : out;
}

static struct tracked *find_os_release(struct analyzer *a, const char *path, int depth)
{
	struct tracked *t = tracked_find(a, path, TRACKED_OS_RELEASE);
	if (t == NULL || depth > 8)
		return NULL;
	if (t->link == NULL)
		return t->content != NULL ? t : NULL;

	char joined[8192], resolved[8192];
	if (t->link[0] == '/') {
		snprintf(joined, sizeof(joined), "%s", t->link);
	} else {
		const char *slash = strrchr(path, '/');
		int dir_len = slash != NULL ? (int)(slash - path) : 0;
		snprintf(joined, sizeof(joined), "%.*s/%s", dir_len, path, t->link);
	}
	if (sanitize_path(joined, resolved, sizeof(resolved)) != 0)
		return NULL;
	return find_os_release(a, resolved, depth + 1);
}

// Parses "NAME release VERSION (CODENAME)" from etc/redhat-release, as
// written by Rocky Linux, AlmaLinux and Red Hat Enterprise Linux.
static int parse_redhat_release(const char *text, struct image_os *os)
{
	static const char *const names[][2] = {
		{ "Rocky Linux", "rocky" },
		{ "AlmaLinux", "almalinux" },
		{ "Red Hat Enterprise Linux", "rhel" },
		{ "CentOS", "centos" },
		{ "Fedora", "fedora" },
	};
	const char *release = strstr(text, " release ");
	if (release == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strncmp(text, names[i][0], strlen(names[i][0])) != 0)
			continue;
		const char *version = release + strlen(" release ");
		// An os-release without ID may have set the other fields.
		free(os->version_id);
		free(os->pretty_name);
		os->id = strdup(names[i][1]);
		os->version_id = strndup(version, strcspn(version, " \n"));
		os->pretty_name = strndup(text, strcspn(text, "\n"));
		if (os->id == NULL || os->version_id == NULL || os->pretty_name == NULL)
			return -ENOMEM;
		return 0;
	}
	return 0;
}

static int detect_os(struct analyzer *a, struct image_os *os)
{
	struct tracked *t = find_os_release(a, "etc/os-release", 0);
	if (t == NULL)
		t = find_os_release(a, "usr/lib/os-release", 0);
	if (t != NULL) {
		int rc = image_parse_os_release(t->content, t->size, os);
		if (rc != 0)
			return rc;
	}

	// Distribution files for images without os-release.
	if (os->id == NULL) {
		static const char *const hints[][2] = { { "etc/alpine-release", "alpine" },
							{ "etc/debian_version", "debian" } };
		for (size_t i = 0; i < 2 && os->id == NULL; i++) {
			struct tracked *h = tracked_find(a, hints[i][0], TRACKED_OS_HINT);
			if (h == NULL || h->content == NULL)
				continue;
			os->id = strdup(hints[i][1]);
			free(os->version_id);
			os->version_id = strndup(h->content, strcspn(h->content, "\n"));
			if (os->id == NULL || os->version_id == NULL)
				return -ENOMEM;
		}
	}
	if (os->id == NULL) {
		struct tracked *h = tracked_find(a, "etc/redhat-release", TRACKED_OS_HINT);
		int rc = h != NULL && h->content != NULL ? parse_redhat_release(h->content, os) : 0;
		if (rc != 0)
			return rc;
	}
	if (os->id != NULL)
		os->ecosystem = ecosystem_from_os(os);
	return 0;
}

// ---- files owned by OS packages -------------------------------------------------

// Paths (without the leading '/') of files that dpkg or apk installed,
// mapped to the owning package's name.
struct owner_map {
	char **paths;
	char **owners;
	size_t slot_count; // a power of two, at least twice count
	size_t count;
};

static void owner_map_free(struct owner_map *m)
{
	for (size_t i = 0; i < m->slot_count; i++) {
		free(m->paths[i]);
		free(m->owners[i]);
	}
	free(m->paths);
	free(m->owners);
	memset(m, 0, sizeof(*m));
}

static size_t owner_slot(const struct owner_map *m, const char *path, size_t len)
{
	uint64_t hash = 14695981039346656037ull;
	for (size_t i = 0; i < len; i++)
		hash = (hash ^ (unsigned char)path[i]) * 1099511628211ull;
	size_t mask = m->slot_count - 1;
	for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
		if (m->paths[i] == NULL ||
		    (strncmp(m->paths[i], path, len) == 0 && m->paths[i][len] == '\0'))
			return i;
	}
}

static int owner_map_grow(struct owner_map *m)
{
	struct owner_map bigger = { 0 };
	bigger.slot_count = m->slot_count ? m->slot_count * 2 : 1024;
	bigger.paths = calloc(bigger.slot_count, sizeof(char *));
	bigger.owners = calloc(bigger.slot_count, sizeof(char *));
	if (bigger.paths == NULL || bigger.owners == NULL) {
		free(bigger.paths);
		free(bigger.owners);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->slot_count; i++) {
		if (m->paths[i] == NULL)
			continue;
		size_t slot = owner_slot(&bigger, m->paths[i], strlen(m->paths[i]));
		bigger.paths[slot] = m->paths[i];
		bigger.owners[slot] = m->owners[i];
	}
	bigger.count = m->count;
	free(m->paths);
	free(m->owners);
	*m = bigger;
	return 0;
}

// Records path (len bytes, a leading '/' is dropped) as owned by owner.
static int owner_map_put(struct owner_map *m, const char *path, size_t len, const char *owner,
			 size_t owner_len)
{
	while (len > 0 && path[0] == '/') {
		path++;
		len--;
	}
	if (len == 0)
		return 0;
	if (2 * (m->count + 1) > m->slot_count && owner_map_grow(m) != 0)
		return -ENOMEM;
	size_t slot = owner_slot(m, path, len);
	if (m->paths[slot] != NULL)
		return 0; // the first owner listed wins
	m->paths[slot] = strndup(path, len);
	m->owners[slot] = strndup(owner, owner_len);
	if (m->paths[slot] == NULL || m->owners[slot] == NULL)
		return -ENOMEM;
	m->count++;
	return 0;
}

static const char *owner_map_get(const struct owner_map *m, const char *path)
{
	if (m->slot_count == 0)
		return NULL;
	size_t slot = owner_slot(m, path, strlen(path));
	return m->owners[slot];
}

// Adds the files of one dpkg info/PACKAGE[:ARCH].list file.
static int owners_from_dpkg_list(struct owner_map *m, const struct tracked *t)
{
	const char *name = base_name(t->path);
	size_t name_len = strcspn(name, ":");
	if (name_len > strlen(name) - strlen(".list"))
		name_len = strlen(name) - strlen(".list");

	const char *p = t->content, *end = t->content + t->size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		int rc = owner_map_put(m, p, len, name, name_len);
		if (rc != 0)
			return rc;
		p += len + 1;
	}
	return 0;
}

// Adds the files of every package in an apk installed database: "P:" names
// the package, "F:" a directory and "R:" a file in it.
static int owners_from_apk(struct owner_map *m, const struct tracked *t)
{
	const char *p = t->content, *end = t->content + t->size;
	const char *owner = "", *dir = "";
	size_t owner_len = 0, dir_len = 0;
	char joined[8192];

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (len >= 2 && p[1] == ':') {
			if (p[0] == 'P') {
				owner = p + 2;
				owner_len = len - 2;
			} else if (p[0] == 'F') {
				dir = p + 2;
				dir_len = len - 2;
			} else if (p[0] == 'R' && owner_len > 0) {
				int n = snprintf(joined, sizeof(joined), "%.*s/%.*s", (int)dir_len, dir,
						 (int)(len - 2), p + 2);
				if (n > 0 && (size_t)n < sizeof(joined)) {
					int rc = owner_map_put(m, joined, (size_t)n, owner, owner_len);
					if (rc != 0)
						return rc;
				}
			}
		}
		p += len + 1;
	}
	return 0;
}

static int owner_from_rpm_file(void *context, const char *package, const char *dir,
			       const char *base)
{
	char path[8192];
	int n = snprintf(path, sizeof(path), "%s%s", dir, base);
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0;
	return owner_map_put(context, path, (size_t)n, package, strlen(package));
}

// Marks npm and Python packages whose manifest an OS package installed.
static int set_package_owners(struct analyzer *a, struct image_scan *scan)
{
	struct owner_map owners = { 0 };
	int rc = 0;

	for (size_t i = 0; i < a->file_count && rc == 0; i++) {
		const struct tracked *t = &a->files[i];
		if (t->removed || t->content == NULL)
			continue;
		if (t->kind == TRACKED_DPKG_LIST)
			rc = owners_from_dpkg_list(&owners, t);
		else if (t->kind == TRACKED_APK)
			rc = owners_from_apk(&owners, t);
		else if (t->kind == TRACKED_RPMDB)
			rc = image_rpmdb_sqlite_files((const unsigned char *)t->content, t->size,
						      owner_from_rpm_file, &owners, NULL);
		// The database parsed before, so only running out of memory
		// can fail here; a damaged file list is skipped.
		if (rc == -EINVAL)
			rc = 0;
	}
	for (size_t i = 0; i < scan->package_count && rc == 0; i++) {
		struct image_package *p = &scan->packages[i];
		if (p->type != IMAGE_PKG_NPM && p->type != IMAGE_PKG_PYPI)
			continue;
		const char *owner = owner_map_get(&owners, p->path);
		if (owner == NULL)
			continue;
		p->owner = strdup(owner);
		if (p->owner == NULL)
			rc = -ENOMEM;
	}
	owner_map_free(&owners);
	return rc;
}

static const char *package_ecosystem(const struct image_package *p, const struct image_os *os)
{
	switch (p->type) {
	case IMAGE_PKG_NPM:
		return "npm";
	case IMAGE_PKG_PYPI:
		return "PyPI";
	default:
		return os->ecosystem;
	}
}

int analyzer_finish(struct analyzer *a, struct image_scan *scan, struct cf_error *err)
{
	(void)err;
	int rc = detect_os(a, &scan->os);
	if (rc != 0)
		return rc;

	for (size_t i = 0; i < a->file_count; i++) {
		struct tracked *t = &a->files[i];
		if (t->removed)
			continue;
		if (t->history_count > 0) {
			rc = move_packages(t, scan);
			if (rc != 0)
				return rc;
		} else if (t->kind == TRACKED_SETUID) {
			rc = image_scan_add_finding(scan, "IMG-SETUID", t->path, t->layer,
						    "/%s has the %s bit set (mode %04o)", t->path,
						    (t->mode & 04000) ? "setuid" : "setgid",
						    (unsigned)(t->mode & 07777));
		} else if (t->kind == TRACKED_WORLD_WRITABLE) {
			rc = image_scan_add_finding(scan, "IMG-WORLD-WRITABLE", t->path, t->layer,
						    "/%s is world-writable (mode %04o)", t->path,
						    (unsigned)(t->mode & 07777));
		}
		if (rc != 0)
			return rc;
	}

	rc = set_package_owners(a, scan);
	if (rc != 0)
		return rc;

	for (size_t i = 0; i < scan->package_count; i++) {
		const char *ecosystem = package_ecosystem(&scan->packages[i], &scan->os);
		if (ecosystem == NULL)
			continue;
		scan->packages[i].ecosystem = strdup(ecosystem);
		if (scan->packages[i].ecosystem == NULL)
			return -ENOMEM;
	}

	// Keys, credentials and .git directories found while the layers were
	// read follow, in layer order.
	for (size_t i = 0; i < a->findings.finding_count; i++) {
		struct image_finding *f = &a->findings.findings[i];
		rc = image_scan_add_finding(scan, f->rule_id, f->path, f->layer, "%s", f->message);
		if (rc != 0)
			return rc;
	}
	return 0;
}
