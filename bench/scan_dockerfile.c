// SPDX-License-Identifier: Apache-2.0
// Dockerfile linter throughput on one core. Loads every file of a corpus
// directory into memory, then lints the whole set repeatedly for a fixed
// CPU time and prints files per second and MB per second. A second line
// adds writing the JSON report, and both are compared with the 2,000
// files/s target.
// Usage: bench_scan_dockerfile [CORPUS_DIR [SECONDS]]
// CORPUS_DIR defaults to $COFFER_SHARED_DIR/corpus/dockerfiles.

#include <coffer/scan.h>
#include <coffer/scan_dockerfile.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TARGET_FILES_PER_SECOND 2000.0

struct input {
	char *name;
	char *data;
	size_t size;
};

static double clock_seconds(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t load_corpus(const char *dir, struct input **inputs)
{
	DIR *handle = opendir(dir);
	if (handle == NULL) {
		fprintf(stderr, "cannot open corpus directory %s\n", dir);
		exit(2);
	}
	size_t count = 0, capacity = 0;
	struct dirent *entry;
	while ((entry = readdir(handle)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
		struct input in = { 0 };
		struct cf_error err = { 0 };
		if (cf_read_file(path, SCAN_DOCKERFILE_MAX_SIZE, &in.data, &in.size, &err) != 0)
			continue;
		if (count == capacity) {
			capacity = capacity ? capacity * 2 : 128;
			*inputs = realloc(*inputs, capacity * sizeof(**inputs));
			if (*inputs == NULL)
				exit(2);
		}
		in.name = strdup(entry->d_name);
		(*inputs)[count++] = in;
	}
	closedir(handle);
	return count;
}

// Runs one pass over all inputs; returns the number of findings.
static size_t lint_pass(const struct input *inputs, size_t count, const struct scan_config *config,
			FILE *json_out)
{
	size_t findings = 0;
	for (size_t i = 0; i < count; i++) {
		struct scan_report *report = scan_report_new("coffer-dockerfile");
		struct cf_error err = { 0 };
		if (report == NULL ||
		    scan_dockerfile_lint(report, config, inputs[i].name, NULL, inputs[i].data,
					 inputs[i].size, &err) != 0) {
			fprintf(stderr, "lint failed for %s\n", inputs[i].name);
			exit(1);
		}
		findings += scan_report_count(report);
		if (json_out != NULL && scan_report_write(report, SCAN_FORMAT_JSON, NULL, json_out) != 0) {
			fprintf(stderr, "writing the JSON report failed\n");
			exit(1);
		}
		scan_report_free(report);
	}
	return findings;
}

static void measure(const char *label, const struct input *inputs, size_t count, size_t bytes,
		    const struct scan_config *config, FILE *json_out, double seconds)
{
	size_t passes = 0, findings = 0;
	double wall_start = clock_seconds(CLOCK_MONOTONIC);
	double cpu_start = clock_seconds(CLOCK_THREAD_CPUTIME_ID), cpu;
	do {
		findings = lint_pass(inputs, count, config, json_out);
		passes++;
		cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
	} while (cpu < seconds);
	double wall = clock_seconds(CLOCK_MONOTONIC) - wall_start;

	// Rates are per second of this thread's CPU time, so other load on a
	// shared machine does not lower them. The wall-clock rate is shown too.
	double files_per_second = (double)(passes * count) / cpu;
	double mb_per_second = (double)passes * (double)bytes / cpu / 1e6;
	printf("%-12s %8.0f files/s %6.1f MB/s %5.1fx target | wall clock %8.0f files/s | "
	       "%zu passes, %zu findings per pass\n",
	       label, files_per_second, mb_per_second, files_per_second / TARGET_FILES_PER_SECOND,
	       (double)(passes * count) / wall, passes, findings);
}

int main(int argc, char **argv)
{
	char default_dir[4096];
	const char *shared = getenv("COFFER_SHARED_DIR");
	snprintf(default_dir, sizeof(default_dir), "%s/corpus/dockerfiles",
		 shared != NULL ? shared : "../shared");
	const char *dir = argc > 1 ? argv[1] : default_dir;
	double seconds = argc > 2 ? atof(argv[2]) : 3.0;

	struct input *inputs = NULL;
	size_t count = load_corpus(dir, &inputs);
	size_t bytes = 0;
	for (size_t i = 0; i < count; i++)
		bytes += inputs[i].size;
	if (count == 0) {
		fprintf(stderr, "no files in %s\n", dir);
		return 2;
	}
	printf("corpus: %zu files, %zu bytes, from %s; %.1f CPU seconds per measurement, one thread\n", count,
	       bytes, dir, seconds);

	struct scan_config config;
	memset(&config, 0, sizeof(config));
	config.fail_on = SCAN_SEV_WARNING;
	FILE *null_out = fopen("/dev/null", "w");
	if (null_out == NULL)
		return 2;
	measure("lint", inputs, count, bytes, &config, NULL, seconds);
	measure("lint + JSON", inputs, count, bytes, &config, null_out, seconds);
	fclose(null_out);

	for (size_t i = 0; i < count; i++) {
		free(inputs[i].name);
		free(inputs[i].data);
	}
	free(inputs);
	return 0;
}
