// SPDX-License-Identifier: Apache-2.0
// Small-file workload for bench/volume_io: creates COUNT files of SIZE
// bytes spread over DIRS subdirectories (file i goes to dNNN with NNN =
// i mod DIRS), each with open(O_CREAT|O_EXCL), one write and close. A C
// loop, so the time measured is the filesystem's, not process start-up.

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s DIR COUNT DIRS SIZE\n", argv[0]);
		return 2;
	}
	const char *root = argv[1];
	long count = strtol(argv[2], NULL, 10);
	long dirs = strtol(argv[3], NULL, 10);
	long size = strtol(argv[4], NULL, 10);
	if (count <= 0 || dirs <= 0 || dirs > 100000 || size < 0 || size > (1 << 24)) {
		fprintf(stderr, "smallfiles: invalid COUNT, DIRS or SIZE\n");
		return 2;
	}

	char *data = malloc((size_t)size + 1);
	if (data == NULL)
		return 1;
	// xorshift fills the buffer with bytes that do not compress.
	unsigned long long x = 0x9e3779b97f4a7c15ull;
	for (long i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (char)x;
	}

	char path[4096];
	for (long d = 0; d < dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%03ld", root, d);
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "smallfiles: mkdir %s failed: %s\n", path, strerror(errno));
			return 1;
		}
	}
	for (long i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/d%03ld/f%ld", root, i % dirs, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			fprintf(stderr, "smallfiles: create %s failed: %s\n", path, strerror(errno));
			return 1;
		}
		if (write(fd, data, (size_t)size) != size) {
			fprintf(stderr, "smallfiles: write %s failed: %s\n", path, strerror(errno));
			close(fd);
			return 1;
		}
		close(fd);
	}
	free(data);
	return 0;
}
