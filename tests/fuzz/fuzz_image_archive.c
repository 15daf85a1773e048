// SPDX-License-Identifier: Apache-2.0
// Feeds untrusted bytes to the image reader as a saved image: the outer
// tar, manifest.json or index.json, the OCI manifest, the image config
// JSON and the layers inside. The input lives in a memfd, so nothing is
// written to disk.

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <coffer/image.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-image", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}

	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct image_options options;
	image_options_init(&options);
	// Small limits keep each run fast; the logic is the same.
	options.limits.max_file_bytes = 1u << 20;
	options.limits.max_layer_bytes = 64u << 20;

	struct cf_error err = { 0 };
	struct image_scan *scan = NULL;
	if (image_scan_archive(path, &options, &scan, &err) == 0) {
		json_t *packages = image_packages_json(scan);
		json_decref(packages);
		image_scan_free(scan);
	}
	close(fd);
	return 0;
}
