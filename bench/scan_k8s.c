// SPDX-License-Identifier: Apache-2.0
// Benchmark of the Kubernetes manifest checker. It loads every file of a
// manifest corpus into memory once, then parses and checks the whole corpus
// repeatedly and prints documents per second. The process is pinned to the
// first CPU it may use. Building the findings is measured, but reading the
// files and writing reports are not.
//
// Usage: bench_scan_k8s [CORPUS_DIR [SECONDS]]
// CORPUS_DIR defaults to $COFFER_SHARED_DIR/corpus/k8s, SECONDS to 3.

#include <coffer/scan_k8s.h>

#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct corpus_file {
	char *name;
	char *data;
	size_t size;
};

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pin_to_one_cpu(void)
{
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one) == 0)
			printf("pinned to CPU %d\n", cpu);
		return;
	}
}

static size_t load_corpus(const char *dir, struct corpus_file **files)
{
	DIR *handle = opendir(dir);
	if (handle == NULL) {
		fprintf(stderr, "bench_scan_k8s: cannot open corpus directory %s\n", dir);
		exit(2);
	}

	size_t count = 0;
	*files = NULL;
	struct dirent *entry;
	while ((entry = readdir(handle)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
		struct corpus_file file = { .name = strdup(entry->d_name) };
		struct cf_error err = { 0 };
		int rc = cf_read_file(path, 64u << 20, &file.data, &file.size, &err);
		if (rc != 0 || file.name == NULL) {
			fprintf(stderr, "bench_scan_k8s: %s: %s\n", path, cf_error_message(&err, rc));
			exit(2);
		}
		*files = realloc(*files, (count + 1) * sizeof(**files));
		if (*files == NULL)
			exit(2);
		(*files)[count++] = file;
	}
	closedir(handle);
	return count;
}

// Parses and checks every file once; returns the number of documents.
static size_t scan_corpus(const struct corpus_file *files, size_t count, size_t *findings)
{
	struct scan_report *report = scan_report_new("coffer-k8s");
	struct scan_k8s_options options = { .profile = SCAN_K8S_PROFILE_RESTRICTED };
	struct scan_k8s *scan = report ? scan_k8s_new(&options, report) : NULL;
	if (scan == NULL)
		exit(2);

	for (size_t i = 0; i < count; i++)
		scan_k8s_add_buffer(scan, files[i].name, files[i].data, files[i].size);
	if (scan_k8s_run(scan) != 0 || scan_k8s_error_count(scan) != 0) {
		fprintf(stderr, "bench_scan_k8s: the corpus has input errors, first: %s\n",
			scan_k8s_error(scan, 0) ? scan_k8s_error(scan, 0) : "(none)");
		exit(2);
	}

	size_t documents = scan_k8s_document_count(scan);
	*findings = scan_report_count(report);
	scan_k8s_free(scan);
	scan_report_free(report);
	return documents;
}

int main(int argc, char **argv)
{
	char default_dir[4096];
	const char *dir = argc > 1 ? argv[1] : NULL;
	double seconds = argc > 2 ? atof(argv[2]) : 3.0;
	if (dir == NULL) {
		const char *shared = getenv("COFFER_SHARED_DIR");
		snprintf(default_dir, sizeof(default_dir), "%s/corpus/k8s",
			 shared ? shared : "../shared");
		dir = default_dir;
	}
	if (seconds <= 0)
		seconds = 3.0;

	pin_to_one_cpu();
	struct corpus_file *files;
	size_t count = load_corpus(dir, &files);
	size_t bytes = 0;
	for (size_t i = 0; i < count; i++)
		bytes += files[i].size;

	size_t findings = 0;
	scan_corpus(files, count, &findings); // warm-up round, not timed

	size_t rounds = 0, documents = 0;
	double start = now_seconds(), elapsed = 0;
	while (elapsed < seconds) {
		documents += scan_corpus(files, count, &findings);
		rounds++;
		elapsed = now_seconds() - start;
	}

	printf("corpus: %s (%zu files, %zu bytes, %zu documents per round, %zu findings)\n", dir,
	       count, bytes, documents / rounds, findings);
	printf("rounds: %zu in %.2f s\n", rounds, elapsed);
	printf("documents per second: %.0f\n", documents / elapsed);
	printf("megabytes per second: %.1f\n", (double)bytes * rounds / elapsed / 1e6);

	for (size_t i = 0; i < count; i++) {
		free(files[i].name);
		free(files[i].data);
	}
	free(files);
	return 0;
}
