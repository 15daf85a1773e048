// SPDX-License-Identifier: Apache-2.0
// Container image analysis for the vulnerability scanner. It reads a saved
// image (docker-archive, OCI layout directory or tarball) or a root
// filesystem directory as streams and applies whiteouts layer by layer. It
// lists the installed packages with the layer and history step that added
// each one. It also reports configuration findings: root user, secrets,
// setuid and world-writable files, keys and .git directories.

#ifndef COFFER_IMAGE_H
#define COFFER_IMAGE_H

#include <coffer/common.h>
#include <jansson.h>

// Package kinds, which decide the version order and OSV ecosystem.
enum image_package_type {
	IMAGE_PKG_DEB,
	IMAGE_PKG_APK,
	IMAGE_PKG_RPM,
	IMAGE_PKG_NPM,
	IMAGE_PKG_PYPI,
};

struct image_package {
	enum image_package_type type;
	char *name;
	char *version;
	char *source_name;    // source package (dpkg Source, apk origin, rpm SOURCERPM)
	char *source_version; // version of the source package
	char *ecosystem;      // OSV ecosystem, such as "Debian:12" or "npm"; may be NULL
	char *path;           // package database or manifest the entry came from
	int layer;            // index into image_scan.layers, or -1 for a rootfs
	// For npm and Python packages: the OS package (dpkg or apk) that
	// installed the manifest, or NULL when a language tool installed it.
	// Owned packages are matched through the OS package's advisories only.
	char *owner;
};

struct image_layer {
	char *diff_id;    // sha256 of the uncompressed layer, from the config
	char *digest;     // blob name in the archive
	char *created_by; // history step, or NULL
};

// Configuration finding from the image config or a layer's files.
struct image_finding {
	const char *rule_id; // static, for example "IMG-ROOT-USER"
	char *message;
	char *path; // file inside the image, or NULL
	int layer;  // -1 when not tied to a layer
};

struct image_os {
	char *id;         // os-release ID: "debian", "alpine", ...
	char *version_id; // os-release VERSION_ID
	char *pretty_name;
	char *ecosystem; // OSV ecosystem prefix for OS packages, or NULL
};

struct image_scan {
	char *source; // path given by the caller
	char *format; // "docker-archive", "oci-layout", "oci-archive" or "rootfs"
	struct image_os os;
	struct image_layer *layers;
	size_t layer_count;
	struct image_package *packages;
	size_t package_count;
	struct image_finding *findings;
	size_t finding_count;
	json_t *config; // image config JSON, or NULL for a rootfs
};

// Limits against hostile input; the defaults suit real images.
struct image_limits {
	uint64_t max_file_bytes;       // largest package database read (default 64 MiB)
	uint64_t max_layer_bytes;      // largest uncompressed layer (default 64 GiB)
	unsigned max_compression_ratio; // uncompressed:compressed (default 200)
};

struct image_options {
	struct image_limits limits;
	const char *image_ref; // tag or index for an archive with several images; NULL = first
	// Called with bytes read so far and the total (0 when unknown); may be NULL.
	void (*progress)(void *context, uint64_t done, uint64_t total);
	void *progress_context;
};

void image_options_init(struct image_options *options);

// Scans a saved image archive or OCI layout directory. Returns 0 or a
// negative errno with err naming the file, layer and entry at fault.
int image_scan_archive(const char *path, const struct image_options *options,
		       struct image_scan **scan, struct cf_error *err);

// Scans a root filesystem directory; symlinks never lead outside it.
int image_scan_rootfs(const char *dir, const struct image_options *options,
		      struct image_scan **scan, struct cf_error *err);

void image_scan_free(struct image_scan *scan);

const char *image_package_type_name(enum image_package_type type);

// Package list as JSON: an array of objects with name, version, source,
// source_version, type, ecosystem, path, layer and created_by.
json_t *image_packages_json(const struct image_scan *scan);

// ---- package database parsers (also used by the fuzz targets) -----------

struct image_package_list {
	struct image_package *items;
	size_t count;
	size_t capacity;
};

void image_package_list_free(struct image_package_list *list);

// Each parser appends the packages found in data (size bytes, need not be
// NUL-terminated) and returns 0, or -EINVAL/-ENOMEM with err set.
int image_parse_dpkg_status(const char *data, size_t size, bool require_installed,
			    struct image_package_list *out, struct cf_error *err);
int image_parse_apk_installed(const char *data, size_t size,
			      struct image_package_list *out, struct cf_error *err);
// An rpm header blob as stored in rpmdb.sqlite's Packages table.
int image_parse_rpm_header(const unsigned char *data, size_t size,
			   struct image_package_list *out, struct cf_error *err);
// A whole rpmdb.sqlite file held in memory.
int image_parse_rpmdb_sqlite(const unsigned char *data, size_t size,
			     struct image_package_list *out, struct cf_error *err);
// Calls visit for every file that the rpm headers in a whole
// rpmdb.sqlite list: dir ends with '/', and dir + base is the file's path.
// A non-zero return from visit stops the walk and is returned.
typedef int (*image_rpm_file_visitor)(void *context, const char *package, const char *dir,
				      const char *base);
int image_rpmdb_sqlite_files(const unsigned char *data, size_t size,
			     image_rpm_file_visitor visit, void *context, struct cf_error *err);
int image_parse_npm_package_json(const char *data, size_t size,
				 struct image_package_list *out, struct cf_error *err);
int image_parse_python_metadata(const char *data, size_t size,
				struct image_package_list *out, struct cf_error *err);

// Parses os-release text into os (fields it does not set stay NULL).
int image_parse_os_release(const char *data, size_t size, struct image_os *os);
void image_os_free(struct image_os *os);

#endif
