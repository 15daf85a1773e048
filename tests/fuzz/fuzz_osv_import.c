// SPDX-License-Identifier: Apache-2.0
// Feeds untrusted bytes to the OSV importer, then matches a fixed set of
// packages against what was stored, so that range evaluation also runs on
// the hostile ranges. Each input gets a fresh in-memory database.

#include <stdint.h>
#include <string.h>

#include <coffer/vulndb.h>

static struct image_package fuzz_packages[] = {
	{ IMAGE_PKG_DEB, "libc6", "2.36-9+deb12u1", "glibc", "2.36-9+deb12u1", "Debian:12", "status", 0, NULL },
	{ IMAGE_PKG_APK, "musl", "1.2.4-r2", "musl", "1.2.4-r2", "Alpine:v3.19", "installed", 0, NULL },
	{ IMAGE_PKG_RPM, "openssl-libs", "1:3.0.7-27.el9", "openssl", "1:3.0.7-27.el9", "Rocky Linux:9", "rpmdb", 0, NULL },
	{ IMAGE_PKG_NPM, "lodash", "4.17.20", "lodash", "4.17.20", "npm", "package.json", 0, NULL },
	{ IMAGE_PKG_PYPI, "requests", "2.31.0", "requests", "2.31.0", "PyPI", "METADATA", 0, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vulndb *db = NULL;
	struct cf_error err = { 0 };
	if (vulndb_open(":memory:", true, &db, &err) != 0)
		return 0;

	if (vulndb_import_buffer(db, (const char *)data, size, "fuzz", &err) == 0) {
		struct image_scan scan;
		memset(&scan, 0, sizeof(scan));
		scan.packages = fuzz_packages;
		scan.package_count = sizeof(fuzz_packages) / sizeof(fuzz_packages[0]);
		struct vulndb_match_list matches;
		if (vulndb_match_scan(db, &scan, &matches, &err) == 0)
			vulndb_match_list_free(&matches);
	}
	vulndb_close(db);
	return 0;
}
