// SPDX-License-Identifier: Apache-2.0
// Times vulndb_match_scan: 2,000 installed packages matched against a
// database of generated advisories (made by bench/scan). Prints the best
// of five runs. Usage: bench_scan_match DB PACKAGES

#include <coffer/vulndb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s DB PACKAGES\n", argv[0]);
		return 2;
	}
	size_t count = strtoul(argv[2], NULL, 10);
	struct cf_error err = { 0 };
	struct vulndb *db = NULL;
	if (vulndb_open(argv[1], false, &db, &err) != 0) {
		fprintf(stderr, "%s\n", cf_error_message(&err, -1));
		return 1;
	}

	// Package i is "pkg-i" at version 1.i-1 in Debian 12, the names and
	// versions the generated advisories use.
	struct image_package *packages = calloc(count, sizeof(*packages));
	char (*names)[32] = calloc(count, sizeof(*names));
	char (*versions)[32] = calloc(count, sizeof(*versions));
	if (packages == NULL || names == NULL || versions == NULL)
		return 1;
	for (size_t i = 0; i < count; i++) {
		snprintf(names[i], sizeof(names[i]), "pkg-%zu", i);
		snprintf(versions[i], sizeof(versions[i]), "1.%zu-1", i % 50);
		packages[i] = (struct image_package){ IMAGE_PKG_DEB, names[i], versions[i], names[i],
						      versions[i], "Debian:12", "status", 0, NULL };
	}
	struct image_scan scan = { .packages = packages, .package_count = count };

	double best = 1e9;
	size_t matched = 0;
	for (int run = 0; run < 5; run++) {
		struct vulndb_match_list matches;
		double start = now_seconds();
		if (vulndb_match_scan(db, &scan, &matches, &err) != 0) {
			fprintf(stderr, "%s\n", cf_error_message(&err, -1));
			return 1;
		}
		double elapsed = now_seconds() - start;
		if (elapsed < best)
			best = elapsed;
		matched = matches.count;
		vulndb_match_list_free(&matches);
	}
	printf("matching %zu packages: %.3f s (best of 5), %zu findings\n", count, best, matched);

	vulndb_close(db);
	free(packages);
	free(names);
	free(versions);
	return 0;
}
