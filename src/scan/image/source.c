// SPDX-License-Identifier: Apache-2.0
// Image sources: docker-archive and OCI archive tarballs, OCI layout
// directories and root filesystem directories. Nothing is extracted: a
// layer inside a tarball is read as a nested libarchive stream fed from
// the outer archive's data blocks, so memory use stays bounded by the
// package databases kept. Each archive member is found by reopening the
// outer archive, which libarchive skips through by seeking when the
// outer file is not compressed.

#include "scan/image/analyze.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define JSON_BLOB_MAX (16u << 20)
#define PROGRESS_STEP (8u << 20)

void image_options_init(struct image_options *options)
{
	memset(options, 0, sizeof(*options));
	options->limits.max_file_bytes = 64ull << 20;
	options->limits.max_layer_bytes = 64ull << 30;
	options->limits.max_compression_ratio = 200;
}

// ---- blob stores ----------------------------------------------------------------

// Source of blobs and JSON documents: a tarball or a directory.
struct blob_store {
	const char *path;
	bool is_dir;
	int dir_fd;
	uint64_t total_bytes; // for progress
	uint64_t done_bytes;  // blob bytes of the layers already read (directories)
	struct archive *outer; // open member stream of a tarball, or NULL
};

static int open_beneath(int dir_fd, const char *name, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, dir_fd, name, &how, sizeof(how));
}

static struct archive *outer_open(const char *path, struct cf_error *err)
{
	struct archive *a = archive_read_new();
	if (a == NULL)
		return NULL;
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		cf_error_set(err, -EINVAL, "cannot read %s as a tar archive: %s", path,
			     archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

// Strips "./" prefixes so member names compare as plain paths.
static const char *member_name(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (name[0] == '/')
		name++;
	return name;
}

// Positions a fresh outer archive at member name; returns 0 or -ENOENT.
static int store_seek_member(struct blob_store *store, const char *name, struct cf_error *err)
{
	if (store->outer != NULL)
		archive_read_free(store->outer);
	store->outer = outer_open(store->path, err);
	if (store->outer == NULL)
		return -EINVAL;

	struct archive_entry *entry;
	for (;;) {
		int r = archive_read_next_header(store->outer, &entry);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return cf_error_set(err, -EINVAL, "cannot read %s: %s", store->path,
					    archive_error_string(store->outer));
		if (strcmp(member_name(archive_entry_pathname(entry)), member_name(name)) == 0)
			return 0;
	}
	return cf_error_set(err, -ENOENT, "%s: blob '%s' named by the image manifest is missing",
			    store->path, name);
}

// Reads a whole member or file of at most max bytes.
static int store_read(struct blob_store *store, const char *name, size_t max, char **data,
		      size_t *size, struct cf_error *err)
{
	if (store->is_dir) {
		int fd = open_beneath(store->dir_fd, name, O_RDONLY);
		if (fd < 0)
			return cf_error_set(err, -errno, "%s/%s: %s", store->path, name,
					    strerror(errno));
		char *buf = malloc(max + 1);
		size_t used = 0;
		int rc = 0;
		if (buf == NULL) {
			close(fd);
			return -ENOMEM;
		}
		for (;;) {
			ssize_t n = read(fd, buf + used, max + 1 - used);
			if (n < 0) {
				rc = cf_error_set(err, -errno, "%s/%s: %s", store->path, name,
						  strerror(errno));
				break;
			}
			if (n == 0)
				break;
			used += (size_t)n;
			if (used > max) {
				rc = cf_error_set(err, -EFBIG, "%s/%s is larger than %zu bytes",
						  store->path, name, max);
				break;
			}
		}
		close(fd);
		if (rc != 0) {
			free(buf);
			return rc;
		}
		buf[used] = '\0';
		*data = buf;
		*size = used;
		return 0;
	}

	int rc = store_seek_member(store, name, err);
	if (rc != 0)
		return rc;
	char *buf = malloc(max + 1);
	if (buf == NULL)
		return -ENOMEM;
	size_t used = 0;
	for (;;) {
		la_ssize_t n = archive_read_data(store->outer, buf + used, max + 1 - used);
		if (n < 0) {
			free(buf);
			return cf_error_set(err, -EINVAL, "%s: cannot read '%s': %s", store->path,
					    name, archive_error_string(store->outer));
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			free(buf);
			return cf_error_set(err, -EFBIG, "%s: '%s' is larger than %zu bytes",
					    store->path, name, max);
		}
	}
	buf[used] = '\0';
	*data = buf;
	*size = used;
	return 0;
}

static int store_read_json(struct blob_store *store, const char *name, json_t **out,
			   struct cf_error *err)
{
	char *data = NULL;
	size_t size = 0;
	int rc = store_read(store, name, JSON_BLOB_MAX, &data, &size, err);
	if (rc != 0)
		return rc;
	json_error_t jerr;
	*out = json_loadb(data, size, 0, &jerr);
	free(data);
	if (*out == NULL)
		return cf_error_set(err, -EINVAL, "%s: '%s' is not valid JSON: %s (line %d)",
				    store->path, name, jerr.text, jerr.line);
	return 0;
}

static bool store_has(struct blob_store *store, const char *name)
{
	if (store->is_dir)
		return faccessat(store->dir_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	struct cf_error ignored = { 0 };
	return store_seek_member(store, name, &ignored) == 0;
}

// Maps "sha256:HEX" to "blobs/sha256/HEX", rejecting anything else.
static int blob_path(const char *digest, char *out, size_t size, struct cf_error *err)
{
	const char *colon = digest != NULL ? strchr(digest, ':') : NULL;
	bool ok = colon != NULL && colon != digest && colon[1] != '\0';
	for (const char *p = digest; ok && p < colon; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
	for (const char *p = colon != NULL ? colon + 1 : ""; ok && *p != '\0'; p++)
		ok = (*p >= 'a' && *p <= 'f') || (*p >= '0' && *p <= '9');
	if (!ok)
		return cf_error_set(err, -EINVAL, "invalid blob digest '%s'",
				    digest != NULL ? digest : "(missing)");
	snprintf(out, size, "blobs/%.*s/%s", (int)(colon - digest), digest, colon + 1);
	return 0;
}

// ---- layer streams ----------------------------------------------------------------

// A layer is read in two stages: `stream` removes the compression (any
// libarchive filter, raw format), and `layer` parses the tar it produces.
// Every uncompressed byte passes through plain_read, which hashes it, so
// the layer can be checked against its diff id from the image config.
struct layer_reader {
	struct archive *stream;
	struct archive *layer;
	struct archive *outer; // data source when the layer is inside a tarball
	EVP_MD_CTX *digest;
	bool stream_done;
	const struct image_options *options;
	struct blob_store *store;
	const char *name;
	int index;
	uint64_t progress_mark;
};

static la_ssize_t nested_read(struct archive *a, void *context, const void **buf)
{
	struct layer_reader *r = context;
	size_t size = 0;
	la_int64_t offset;
	int rc = archive_read_data_block(r->outer, buf, &size, &offset);
	if (rc == ARCHIVE_EOF)
		return 0;
	if (rc != ARCHIVE_OK) {
		archive_set_error(a, EIO, "%s", archive_error_string(r->outer));
		return -1;
	}
	return (la_ssize_t)size;
}

// Feeds the tar parser with uncompressed bytes and hashes them.
static la_ssize_t plain_read(struct archive *a, void *context, const void **buf)
{
	struct layer_reader *r = context;
	size_t size = 0;
	la_int64_t offset;
	if (r->stream_done)
		return 0;
	int rc = archive_read_data_block(r->stream, buf, &size, &offset);
	if (rc == ARCHIVE_EOF) {
		r->stream_done = true;
		return 0;
	}
	if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
		archive_set_error(a, EIO, "%s", archive_error_string(r->stream));
		return -1;
	}
	if (EVP_DigestUpdate(r->digest, *buf, size) != 1) {
		archive_set_error(a, ENOMEM, "hashing the layer failed");
		return -1;
	}
	return (la_ssize_t)size;
}

// Reads what the tar parser left (end-of-archive padding) into the hash,
// then compares the digest with the config's diff id.
static int verify_diff_id(struct layer_reader *r, const char *diff_id, struct cf_error *err)
{
	while (!r->stream_done) {
		const void *buf;
		if (plain_read(r->layer, r, &buf) < 0)
			return cf_error_set(err, -EINVAL, "layer %d (%s) is damaged or truncated: %s",
					    r->index, r->name, archive_error_string(r->stream));
	}
	if (diff_id == NULL || strncmp(diff_id, "sha256:", 7) != 0)
		return 0; // NOTE: only sha256 diff ids are checked

	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int length = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	if (EVP_DigestFinal_ex(r->digest, digest, &length) != 1)
		return -ENOMEM;
	cf_hex_encode(digest, length, hex);
	if (strcmp(diff_id + 7, hex) != 0)
		return cf_error_set(err, -EINVAL,
				    "layer %d (%s) has content digest sha256:%s, but the image config lists diff id %s: the layer does not belong to this image or was modified",
				    r->index, r->name, hex, diff_id);
	return 0;
}

static int check_layer_limits(struct layer_reader *r, struct cf_error *err)
{
	uint64_t raw = (uint64_t)archive_filter_bytes(r->stream, -1);
	uint64_t plain = (uint64_t)archive_filter_bytes(r->stream, 0);
	const struct image_limits *limits = &r->options->limits;

	if (plain > limits->max_layer_bytes)
		return cf_error_set(err, -EFBIG, "layer %d (%s) is larger than %llu bytes", r->index,
				    r->name, (unsigned long long)limits->max_layer_bytes);
	// Small layers are exempt: a few kilobytes of zeros compress far
	// beyond any sane ratio without being a threat.
	if (plain > (16u << 20) && raw > 0 && plain / raw > limits->max_compression_ratio)
		return cf_error_set(err, -EFBIG,
				    "layer %d (%s) expands more than %u times (%llu bytes from %llu): refusing a likely decompression bomb",
				    r->index, r->name, limits->max_compression_ratio,
				    (unsigned long long)plain, (unsigned long long)raw);

	if (r->options->progress != NULL) {
		// A tarball reports its own read position; a directory adds the
		// current blob's bytes to those of the layers before it.
		uint64_t done = r->outer != NULL ? (uint64_t)archive_filter_bytes(r->outer, -1)
						 : r->store->done_bytes + raw;
		if (done >= r->progress_mark + PROGRESS_STEP) {
			r->progress_mark = done;
			r->options->progress(r->options->progress_context, done,
					     r->store->total_bytes);
		}
	}
	return 0;
}

// Discards the rest of the current entry, checking the limits as it goes.
static int drain_entry(struct layer_reader *r, struct cf_error *err)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		int rc = archive_read_data_block(r->layer, &buf, &size, &offset);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
			return cf_error_set(err, -EINVAL, "layer %d (%s) is damaged: %s", r->index,
					    r->name, archive_error_string(r->layer));
		rc = check_layer_limits(r, err);
		if (rc != 0)
			return rc;
	}
}

struct entry_context {
	struct layer_reader *reader;
	struct archive_entry *entry;
};

static int archive_entry_read(void *context, uint64_t max, char **data, size_t *size,
			      struct cf_error *err)
{
	struct entry_context *c = context;
	struct layer_reader *r = c->reader;
	if (archive_entry_size_is_set(c->entry) && (uint64_t)archive_entry_size(c->entry) > max)
		return -EFBIG;

	size_t capacity = archive_entry_size_is_set(c->entry)
				  ? (size_t)archive_entry_size(c->entry) + 1
				  : 65536;
	char *buf = malloc(capacity);
	size_t used = 0;
	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		if (used + 1 >= capacity) {
			if (capacity > max) {
				free(buf);
				return -EFBIG;
			}
			char *grown = realloc(buf, capacity * 2);
			if (grown == NULL) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
			capacity *= 2;
		}
		la_ssize_t n = archive_read_data(r->layer, buf + used, capacity - 1 - used);
		if (n < 0) {
			free(buf);
			return cf_error_set(err, -EINVAL, "layer %d (%s) is damaged: %s", r->index,
					    r->name, archive_error_string(r->layer));
		}
		if (n == 0)
			break;
		used += (size_t)n;
		int rc = check_layer_limits(r, err);
		if (rc != 0) {
			free(buf);
			return rc;
		}
	}
	if (used > max) {
		free(buf);
		return -EFBIG;
	}
	buf[used] = '\0';
	*data = buf;
	*size = used;
	return 0;
}

static enum entry_type entry_type_of(struct archive_entry *entry)
{
	if (archive_entry_hardlink(entry) != NULL)
		return ENTRY_HARDLINK;
	switch (archive_entry_filetype(entry)) {
	case AE_IFREG:
		return ENTRY_FILE;
	case AE_IFDIR:
		return ENTRY_DIR;
	case AE_IFLNK:
		return ENTRY_SYMLINK;
	default:
		return ENTRY_OTHER;
	}
}

static int read_layer_entries(struct layer_reader *r, struct analyzer *an, struct cf_error *err)
{
	struct archive_entry *entry;
	for (;;) {
		int rc = archive_read_next_header(r->layer, &entry);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
			return cf_error_set(err, -EINVAL, "layer %d (%s) is damaged or truncated: %s",
					    r->index, r->name, archive_error_string(r->layer));

		struct entry_context context = { r, entry };
		const char *path = archive_entry_pathname(entry);
		enum entry_type type = entry_type_of(entry);
		struct layer_entry e = {
			.path = path != NULL ? path : "",
			.type = type,
			.mode = archive_entry_perm(entry),
			.size = (uint64_t)archive_entry_size(entry),
			.link = type == ENTRY_HARDLINK ? archive_entry_hardlink(entry)
							: archive_entry_symlink(entry),
			.read = archive_entry_read,
			.context = &context,
		};
		rc = analyzer_entry(an, &e, err);
		if (rc == 0)
			rc = drain_entry(r, err);
		if (rc == 0)
			rc = check_layer_limits(r, err);
		if (rc != 0)
			return rc;
	}
}

static int scan_layer(struct blob_store *store, const char *name, const char *diff_id, int index,
		      const struct image_options *options, struct analyzer *an,
		      struct cf_error *err)
{
	struct layer_reader r = { .options = options, .store = store, .name = name, .index = index };
	struct archive_entry *raw_entry;
	int fd = -1;
	int rc;

	r.stream = archive_read_new();
	r.layer = archive_read_new();
	r.digest = EVP_MD_CTX_new();
	if (r.stream == NULL || r.layer == NULL || r.digest == NULL ||
	    EVP_DigestInit_ex(r.digest, EVP_sha256(), NULL) != 1) {
		rc = -ENOMEM;
		goto out;
	}
	archive_read_support_filter_all(r.stream);
	archive_read_support_format_raw(r.stream);
	archive_read_support_format_tar(r.layer);

	if (store->is_dir) {
		fd = open_beneath(store->dir_fd, name, O_RDONLY);
		if (fd < 0) {
			rc = cf_error_set(err, -ENOENT,
					  "%s: blob '%s' named by the image manifest is missing",
					  store->path, name);
			goto out;
		}
		rc = archive_read_open_fd(r.stream, fd, 1 << 16);
	} else {
		rc = store_seek_member(store, name, err);
		if (rc != 0)
			goto out;
		r.outer = store->outer;
		rc = archive_read_open(r.stream, &r, NULL, nested_read, NULL);
	}
	if (rc == ARCHIVE_OK)
		rc = archive_read_next_header(r.stream, &raw_entry);
	if (rc == ARCHIVE_EOF) {
		// An empty blob has no raw entry; the tar parser reports it.
		r.stream_done = true;
		rc = ARCHIVE_OK;
	}
	if (rc != ARCHIVE_OK) {
		rc = cf_error_set(err, -EINVAL, "layer %d (%s) cannot be read: %s", index, name,
				  archive_error_string(r.stream));
		goto out;
	}
	if (archive_read_open(r.layer, &r, NULL, plain_read, NULL) != ARCHIVE_OK) {
		rc = cf_error_set(err, -EINVAL, "layer %d (%s) is not a tar archive: %s", index,
				  name, archive_error_string(r.layer));
		goto out;
	}

	analyzer_begin_layer(an, index);
	rc = read_layer_entries(&r, an, err);
	if (rc == 0)
		rc = verify_diff_id(&r, diff_id, err);
	if (store->is_dir)
		store->done_bytes += (uint64_t)archive_filter_bytes(r.stream, -1);
out:
	archive_read_free(r.layer);
	archive_read_free(r.stream);
	EVP_MD_CTX_free(r.digest);
	if (fd >= 0)
		close(fd);
	return rc;
}

// ---- manifests ----------------------------------------------------------------

static int scan_alloc(const char *source, const char *format, struct image_scan **out)
{
	struct image_scan *scan = calloc(1, sizeof(*scan));
	if (scan == NULL)
		return -ENOMEM;
	scan->source = strdup(source);
	scan->format = strdup(format);
	if (scan->source == NULL || scan->format == NULL) {
		image_scan_free(scan);
		return -ENOMEM;
	}
	*out = scan;
	return 0;
}

// Builds scan->layers from the config's diff ids and history and the
// manifest's list of layer blob names.
static int set_layers(struct image_scan *scan, json_t *config, char **names, size_t count,
		      struct cf_error *err)
{
	json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
	if (json_array_size(diff_ids) != count)
		return cf_error_set(err, -EINVAL,
				    "image config lists %zu layers but the manifest lists %zu",
				    json_array_size(diff_ids), count);

	scan->layers = calloc(count ? count : 1, sizeof(*scan->layers));
	if (scan->layers == NULL)
		return -ENOMEM;
	scan->layer_count = count;

	json_t *history = json_object_get(config, "history");
	size_t h = 0;
	for (size_t i = 0; i < count; i++) {
		struct image_layer *l = &scan->layers[i];
		const char *diff_id = json_string_value(json_array_get(diff_ids, i));
		l->diff_id = strdup(diff_id != NULL ? diff_id : "");
		l->digest = strdup(names[i]);
		// History steps marked empty_layer made no layer.
		while (h < json_array_size(history) &&
		       json_is_true(json_object_get(json_array_get(history, h), "empty_layer")))
			h++;
		const char *created_by =
			json_string_value(json_object_get(json_array_get(history, h), "created_by"));
		if (h < json_array_size(history))
			h++;
		if (created_by != NULL)
			l->created_by = strdup(created_by);
		if (l->diff_id == NULL || l->digest == NULL ||
		    (created_by != NULL && l->created_by == NULL))
			return -ENOMEM;
	}
	return 0;
}

static bool ref_matches(const char *ref, const char *candidate)
{
	if (candidate == NULL)
		return false;
	if (strcmp(ref, candidate) == 0)
		return true;
	// "name:tag" also matches "localhost/name:tag" and "docker.io/library/name:tag".
	size_t n = strlen(candidate), m = strlen(ref);
	return n > m && strcmp(candidate + n - m, ref) == 0 && candidate[n - m - 1] == '/';
}

static bool ref_is_index(const char *ref, size_t *index)
{
	char *end;
	unsigned long value = strtoul(ref, &end, 10);
	if (*ref == '\0' || *end != '\0')
		return false;
	*index = value;
	return true;
}

// docker-archive: manifest.json lists Config and Layers by member name.
static int load_docker_archive(struct blob_store *store, const char *ref, json_t **config,
			       char ***names, size_t *count, struct cf_error *err)
{
	json_t *manifest = NULL;
	int rc = store_read_json(store, "manifest.json", &manifest, err);
	if (rc != 0)
		return rc;

	json_t *image = NULL;
	size_t index;
	if (ref == NULL) {
		image = json_array_get(manifest, 0);
	} else if (ref_is_index(ref, &index)) {
		image = json_array_get(manifest, index);
	} else {
		for (size_t i = 0; i < json_array_size(manifest) && image == NULL; i++) {
			json_t *tags = json_object_get(json_array_get(manifest, i), "RepoTags");
			for (size_t k = 0; k < json_array_size(tags); k++) {
				if (ref_matches(ref, json_string_value(json_array_get(tags, k))))
					image = json_array_get(manifest, i);
			}
		}
	}
	if (image == NULL) {
		rc = cf_error_set(err, -ENOENT, "%s: no image %s in manifest.json", store->path,
				  ref != NULL ? ref : "at all");
		goto out;
	}

	const char *config_name = json_string_value(json_object_get(image, "Config"));
	json_t *layers = json_object_get(image, "Layers");
	if (config_name == NULL || !json_is_array(layers)) {
		rc = cf_error_set(err, -EINVAL, "%s: manifest.json has no Config or Layers",
				  store->path);
		goto out;
	}
	rc = store_read_json(store, config_name, config, err);
	if (rc != 0)
		goto out;

	*count = json_array_size(layers);
	*names = calloc(*count ? *count : 1, sizeof(char *));
	if (*names == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < *count; i++) {
		const char *name = json_string_value(json_array_get(layers, i));
		(*names)[i] = strdup(name != NULL ? name : "");
		if ((*names)[i] == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
out:
	json_decref(manifest);
	return rc;
}

static const char *oci_ref_name(json_t *descriptor)
{
	return json_string_value(json_object_get(json_object_get(descriptor, "annotations"),
						 "org.opencontainers.image.ref.name"));
}

// Picks the descriptor for ref from an OCI index (first one without ref).
static json_t *oci_pick(json_t *index_json, const char *ref)
{
	json_t *manifests = json_object_get(index_json, "manifests");
	size_t index;
	if (ref == NULL)
		return json_array_get(manifests, 0);
	if (ref_is_index(ref, &index))
		return json_array_get(manifests, index);
	for (size_t i = 0; i < json_array_size(manifests); i++) {
		json_t *d = json_array_get(manifests, i);
		const char *name = oci_ref_name(d);
		if (name != NULL && (ref_matches(ref, name) || ref_matches(name, ref)))
			return d;
		// A bare tag annotation ("latest") matches "repo:latest".
		const char *colon = strrchr(ref, ':');
		if (name != NULL && colon != NULL && strcmp(colon + 1, name) == 0)
			return d;
	}
	return NULL;
}

// OCI architecture name of the machine coffer was built for.
static const char *host_architecture(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__i386__)
	return "386";
#else
	return "";
#endif
}

// Chooses from a multi-platform index: linux on this host's architecture,
// else the first entry that is not a build attestation, else the first.
static json_t *oci_pick_platform(json_t *manifests)
{
	json_t *fallback = NULL;
	for (size_t i = 0; i < json_array_size(manifests); i++) {
		json_t *d = json_array_get(manifests, i);
		const char *reference_type = json_string_value(json_object_get(
			json_object_get(d, "annotations"), "vnd.docker.reference.type"));
		if (reference_type != NULL && strcmp(reference_type, "attestation-manifest") == 0)
			continue;
		json_t *platform = json_object_get(d, "platform");
		const char *os = json_string_value(json_object_get(platform, "os"));
		const char *arch = json_string_value(json_object_get(platform, "architecture"));
		if (os != NULL && arch != NULL && strcmp(os, "linux") == 0 &&
		    strcmp(arch, host_architecture()) == 0)
			return d;
		if (fallback == NULL)
			fallback = d;
	}
	return fallback != NULL ? fallback : json_array_get(manifests, 0);
}

static int load_oci(struct blob_store *store, const char *ref, json_t **config, char ***names,
		    size_t *count, struct cf_error *err)
{
	json_t *index_json = NULL, *manifest = NULL;
	char path[512];
	int rc = store_read_json(store, "index.json", &index_json, err);
	if (rc != 0)
		return rc;

	json_t *descriptor = oci_pick(index_json, ref);
	if (descriptor == NULL) {
		rc = cf_error_set(err, -ENOENT, "%s: no image %s in index.json", store->path,
				  ref != NULL ? ref : "at all");
		goto out;
	}

	// Nested indexes (multi-platform images): pick this host's platform.
	for (int depth = 0; depth < 4; depth++) {
		rc = blob_path(json_string_value(json_object_get(descriptor, "digest")), path,
			       sizeof(path), err);
		if (rc != 0)
			goto out;
		json_decref(manifest);
		manifest = NULL;
		rc = store_read_json(store, path, &manifest, err);
		if (rc != 0)
			goto out;
		if (!json_is_array(json_object_get(manifest, "manifests")))
			break;
		descriptor = oci_pick_platform(json_object_get(manifest, "manifests"));
	}

	json_t *layers = json_object_get(manifest, "layers");
	rc = blob_path(json_string_value(json_object_get(json_object_get(manifest, "config"),
							 "digest")),
		       path, sizeof(path), err);
	if (rc != 0)
		goto out;
	rc = store_read_json(store, path, config, err);
	if (rc != 0)
		goto out;

	*count = json_array_size(layers);
	*names = calloc(*count ? *count : 1, sizeof(char *));
	if (*names == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < *count; i++) {
		rc = blob_path(json_string_value(json_object_get(json_array_get(layers, i), "digest")),
			       path, sizeof(path), err);
		if (rc != 0)
			goto out;
		(*names)[i] = strdup(path);
		if ((*names)[i] == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
out:
	json_decref(index_json);
	json_decref(manifest);
	return rc;
}

int image_scan_archive(const char *path, const struct image_options *options,
		       struct image_scan **out, struct cf_error *err)
{
	struct blob_store store = { .path = path, .dir_fd = -1 };
	struct image_scan *scan = NULL;
	struct analyzer *an = NULL;
	json_t *config = NULL;
	char **names = NULL;
	size_t count = 0;
	struct stat st;
	int rc;

	if (stat(path, &st) != 0)
		return cf_error_set(err, -errno, "cannot open image %s: %s", path, strerror(errno));
	store.is_dir = S_ISDIR(st.st_mode);
	store.total_bytes = (uint64_t)st.st_size;
	if (store.is_dir) {
		store.dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (store.dir_fd < 0)
			return cf_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	}

	const char *format;
	if (store_has(&store, "index.json") && store_has(&store, "oci-layout"))
		format = store.is_dir ? "oci-layout" : "oci-archive";
	else if (!store.is_dir && store_has(&store, "manifest.json"))
		format = "docker-archive";
	else {
		rc = cf_error_set(err, -EINVAL,
				  "%s is neither a docker-archive (manifest.json) nor an OCI layout (index.json and oci-layout)",
				  path);
		goto out;
	}

	rc = scan_alloc(path, format, &scan);
	if (rc != 0)
		goto out;
	if (strcmp(format, "docker-archive") == 0)
		rc = load_docker_archive(&store, options->image_ref, &config, &names, &count, err);
	else
		rc = load_oci(&store, options->image_ref, &config, &names, &count, err);
	if (rc != 0)
		goto out;
	rc = set_layers(scan, config, names, count, err);
	if (rc != 0)
		goto out;
	scan->config = json_incref(config);

	an = analyzer_new(options);
	if (an == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (store.is_dir) {
		// Progress counts layer blob bytes, not the directory's own size.
		store.total_bytes = 0;
		for (size_t i = 0; i < count; i++) {
			struct stat blob;
			if (fstatat(store.dir_fd, names[i], &blob, AT_SYMLINK_NOFOLLOW) == 0)
				store.total_bytes += (uint64_t)blob.st_size;
		}
	}
	for (size_t i = 0; i < count; i++) {
		rc = scan_layer(&store, names[i], scan->layers[i].diff_id, (int)i, options, an, err);
		if (rc != 0)
			goto out;
	}
	if (options->progress != NULL)
		options->progress(options->progress_context, store.total_bytes, store.total_bytes);

	rc = analyzer_finish(an, scan, err);
	if (rc == 0)
		rc = image_check_config(scan);
out:
	if (rc != 0)
		cf_error_prefix(err, "scan %s", path);
	analyzer_free(an);
	json_decref(config);
	for (size_t i = 0; i < count && names != NULL; i++)
		free(names[i]);
	free(names);
	if (store.outer != NULL)
		archive_read_free(store.outer);
	if (store.dir_fd >= 0)
		close(store.dir_fd);
	if (rc != 0) {
		image_scan_free(scan);
		scan = NULL;
	}
	*out = scan;
	return rc;
}

// ---- root filesystem directories --------------------------------------------------

struct rootfs_context {
	int root_fd;
	const char *relative;
};

static int rootfs_read(void *context, uint64_t max, char **data, size_t *size,
		       struct cf_error *err)
{
	struct rootfs_context *c = context;
	int fd = open_beneath(c->root_fd, c->relative, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot open %s: %s", c->relative, strerror(errno));

	size_t capacity = 65536, used = 0;
	char *buf = malloc(capacity);
	int rc = 0;
	while (buf != NULL) {
		if (used + 1 >= capacity) {
			if (capacity > max) {
				rc = -EFBIG;
				break;
			}
			char *grown = realloc(buf, capacity * 2);
			if (grown == NULL) {
				rc = -ENOMEM;
				break;
			}
			buf = grown;
			capacity *= 2;
		}
		ssize_t n = read(fd, buf + used, capacity - 1 - used);
		if (n < 0) {
			rc = cf_error_set(err, -errno, "cannot read %s: %s", c->relative,
					  strerror(errno));
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	if (buf == NULL)
		return -ENOMEM;
	if (rc == 0 && used > max)
		rc = -EFBIG;
	if (rc != 0) {
		free(buf);
		return rc;
	}
	buf[used] = '\0';
	*data = buf;
	*size = used;
	return 0;
}

int image_scan_rootfs(const char *dir, const struct image_options *options,
		      struct image_scan **out, struct cf_error *err)
{
	struct image_scan *scan = NULL;
	struct analyzer *an = NULL;
	FTS *fts = NULL;
	int root_fd = -1;
	int rc;

	*out = NULL;
	root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return cf_error_set(err, -errno, "cannot open root filesystem %s: %s", dir,
				    strerror(errno));
	rc = scan_alloc(dir, "rootfs", &scan);
	if (rc != 0)
		goto out;
	an = analyzer_new(options);
	if (an == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	analyzer_begin_layer(an, -1);

	// FTS_PHYSICAL never follows symlinks; FTS_XDEV stays on the root's
	// file system, so /proc and other mounts of a live host are skipped.
	char *paths[] = { (char *)dir, NULL };
	fts = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR | FTS_XDEV, NULL);
	if (fts == NULL) {
		rc = cf_error_set(err, -errno, "cannot walk %s: %s", dir, strerror(errno));
		goto out;
	}
	size_t root_len = strlen(dir);
	FTSENT *ent;
	while ((ent = fts_read(fts)) != NULL) {
		if (ent->fts_info == FTS_DP || ent->fts_info == FTS_DNR || ent->fts_info == FTS_ERR ||
		    ent->fts_info == FTS_NS)
			continue;
		const char *relative = ent->fts_path + root_len;
		while (*relative == '/')
			relative++;
		if (*relative == '\0')
			continue;

		char link[4096];
		const char *link_target = NULL;
		enum entry_type type = ENTRY_OTHER;
		if (ent->fts_info == FTS_F)
			type = ENTRY_FILE;
		else if (ent->fts_info == FTS_D)
			type = ENTRY_DIR;
		else if (ent->fts_info == FTS_SL || ent->fts_info == FTS_SLNONE) {
			type = ENTRY_SYMLINK;
			ssize_t n = readlink(ent->fts_accpath, link, sizeof(link) - 1);
			if (n >= 0) {
				link[n] = '\0';
				link_target = link;
			}
		}
		struct rootfs_context context = { root_fd, relative };
		struct layer_entry e = {
			.path = relative,
			.type = type,
			.mode = ent->fts_statp->st_mode & 07777,
			.size = (uint64_t)ent->fts_statp->st_size,
			.link = link_target,
			.read = rootfs_read,
			.context = &context,
		};
		rc = analyzer_entry(an, &e, err);
		if (rc != 0)
			goto out;
	}

	rc = analyzer_finish(an, scan, err);
out:
	if (rc != 0)
		cf_error_prefix(err, "scan %s", dir);
	if (fts != NULL)
		fts_close(fts);
	analyzer_free(an);
	if (root_fd >= 0)
		close(root_fd);
	if (rc != 0)
		image_scan_free(scan);
	else
		*out = scan;
	return rc;
}
