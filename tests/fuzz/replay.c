// SPDX-License-Identifier: Apache-2.0
// Replays a libFuzzer corpus without libFuzzer: every file named on the command
// line, or found directly inside a directory named there, is fed once to
// LLVMFuzzerTestOneInput. CTest runs this on every build, so a crash input
// kept in a corpus stays a regression test.

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}

	uint8_t *data = NULL;
	size_t size = 0, cap = 0;
	for (;;) {
		if (size == cap) {
			cap = cap ? cap * 2 : 65536;
			uint8_t *grown = realloc(data, cap);
			if (grown == NULL) {
				free(data);
				fclose(f);
				return -1;
			}
			data = grown;
		}
		size_t n = fread(data + size, 1, cap - size, f);
		if (n == 0)
			break;
		size += n;
	}
	fclose(f);

	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s not found\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i]) != 0)
				return 1;
			files++;
			continue;
		}

		DIR *dir = opendir(argv[i]);
		if (dir == NULL)
			return 1;
		struct dirent *entry;
		while ((entry = readdir(dir)) != NULL) {
			if (entry->d_name[0] == '.')
				continue;
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", argv[i], entry->d_name);
			if (replay_file(path) != 0) {
				closedir(dir);
				return 1;
			}
			files++;
		}
		closedir(dir);
	}

	if (files == 0) {
		fprintf(stderr, "replay: no corpus files given\n");
		return 1;
	}
	printf("replayed %d corpus files\n", files);
	return 0;
}
