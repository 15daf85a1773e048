// SPDX-License-Identifier: Apache-2.0
// Feeds untrusted bytes to the package database parsers. The first byte
// selects the parser: dpkg status, dpkg status.d, apk installed, an rpm
// header blob, rpmdb.sqlite (packages and file lists), npm package.json,
// Python METADATA or os-release; the rest is its input.

#include <stdint.h>
#include <string.h>

#include <coffer/image.h>

static int count_file(void *context, const char *package, const char *dir, const char *base)
{
	size_t *files = context;
	*files += strlen(package) + strlen(dir) + strlen(base) > 0;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t files = 0;
	if (size == 0)
		return 0;
	uint8_t selector = data[0] % 8;
	const char *text = (const char *)data + 1;
	size--;

	struct image_package_list list = { 0 };
	struct cf_error err = { 0 };
	struct image_os os = { 0 };
	switch (selector) {
	case 0:
		image_parse_dpkg_status(text, size, true, &list, &err);
		break;
	case 1:
		image_parse_dpkg_status(text, size, false, &list, &err);
		break;
	case 2:
		image_parse_apk_installed(text, size, &list, &err);
		break;
	case 3:
		image_parse_rpm_header((const unsigned char *)text, size, &list, &err);
		break;
	case 4:
		image_parse_rpmdb_sqlite((const unsigned char *)text, size, &list, &err);
		cf_error_reset(&err);
		image_rpmdb_sqlite_files((const unsigned char *)text, size, count_file, &files, &err);
		break;
	case 5:
		image_parse_npm_package_json(text, size, &list, &err);
		break;
	case 6:
		image_parse_python_metadata(text, size, &list, &err);
		break;
	default:
		image_parse_os_release(text, size, &os);
		break;
	}
	image_package_list_free(&list);
	image_os_free(&os);
	return 0;
}
