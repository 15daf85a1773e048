// SPDX-License-Identifier: Apache-2.0
// KMIP load generator for bench/kms.sh: CONNECTIONS threads, each with one
// persistent connection through coffer's KMIP client, time CREATES Create
// (AES-256) calls and then GETS Get calls round-robin over the keys they
// created. Each phase starts on a barrier; throughput is all operations of
// the phase divided by (last end - first start). Latency percentiles are
// nearest-rank over every call. With --server-pids, the CPU time (user and
// system, all threads) of those processes is read from /proc when each
// phase starts and ends, as server CPU per operation. --busy-poll-us sets
// the client option of that name (poll for each response before sleeping).
// Prints one CSV line per phase:
//   label,connections,op,ops,seconds,ops_per_s,p50_ms,p99_ms,max_ms,server_cpu_ms_per_op

#include <coffer/kmip.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct bench {
	struct kmip_client_options options;
	int connections;
	int creates;
	int gets;
	const char *label;
	pid_t server_pids[8];
	size_t server_pid_count;
	double server_cpu_ms[3]; // at the start of Create, start of Get, end of Get
	pthread_barrier_t barrier;
};

struct worker {
	struct bench *bench;
	pthread_t thread;
	double *create_ms;
	double *get_ms;
	double phase_start[2];
	double phase_end[2];
	int failed;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

// Sums utime and stime (fields 14 and 15 of /proc/PID/stat) in ms.
static double server_cpu_ms(const struct bench *b)
{
	double total = 0;
	long ticks = sysconf(_SC_CLK_TCK);

	for (size_t i = 0; i < b->server_pid_count; i++) {
		char path[64], line[1024];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)b->server_pids[i]);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		size_t n = fread(line, 1, sizeof(line) - 1, f);
		fclose(f);
		line[n] = '\0';
		// The command name may contain spaces, so fields are counted from
		// the last ')'.
		char *p = strrchr(line, ')');
		unsigned long utime = 0, stime = 0;
		if (p != NULL &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
			   &stime) == 2)
			total += (double)(utime + stime) * 1000.0 / (double)ticks;
	}
	return total;
}

// Waits for every worker; the first worker then records the server CPU.
static void phase_mark(struct worker *w, int mark)
{
	int rc = pthread_barrier_wait(&w->bench->barrier);
	if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
		w->bench->server_cpu_ms[mark] = server_cpu_ms(w->bench);
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->bench;
	struct kmip_client *client = NULL;
	struct cf_error err = { 0 };
	char (*ids)[KMIP_ID_MAX] = calloc((size_t)b->creates, KMIP_ID_MAX);
	char warm[KMIP_ID_MAX];
	int rc = kmip_client_new(&client, &b->options, &err);

	// The handshake and five Creates are warm-up and not timed.
	for (int i = 0; rc == 0 && i < 5; i++)
		rc = kmip_client_create(client, 256, NULL, false, warm, &err);

	phase_mark(w, 0);
	w->phase_start[0] = now_ms();
	for (int i = 0; rc == 0 && i < b->creates; i++) {
		double start = now_ms();
		rc = kmip_client_create(client, 256, NULL, false, ids[i], &err);
		w->create_ms[i] = now_ms() - start;
	}
	w->phase_end[0] = now_ms();

	phase_mark(w, 1);
	w->phase_start[1] = now_ms();
	for (int i = 0; rc == 0 && i < b->gets; i++) {
		uint8_t *key = NULL;
		size_t size = 0;
		double start = now_ms();
		rc = kmip_client_get(client, ids[i % b->creates], &key, &size, &err);
		w->get_ms[i] = now_ms() - start;
		if (rc == 0 && size != 32)
			rc = cf_error_set(&err, -EBADMSG, "Get returned %zu bytes, expected 32", size);
		cf_secure_free(key);
	}
	w->phase_end[1] = now_ms();
	phase_mark(w, 2);

	if (rc != 0) {
		fprintf(stderr, "bench_kms: %s\n", cf_error_message(&err, rc));
		w->failed = 1;
	}
	kmip_client_free(client);
	free(ids);
	return NULL;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double p)
{
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static void report(struct bench *b, struct worker *workers, int phase, const char *op, int per)
{
	size_t n = (size_t)b->connections * (size_t)per;
	double *all = malloc(n * sizeof(double));
	double first = workers[0].phase_start[phase], last = workers[0].phase_end[phase];

	for (int t = 0; t < b->connections; t++) {
		memcpy(all + (size_t)t * (size_t)per, phase == 0 ? workers[t].create_ms : workers[t].get_ms,
		       (size_t)per * sizeof(double));
		if (workers[t].phase_start[phase] < first)
			first = workers[t].phase_start[phase];
		if (workers[t].phase_end[phase] > last)
			last = workers[t].phase_end[phase];
	}
	qsort(all, n, sizeof(double), compare_double);
	double seconds = (last - first) / 1e3;
	double cpu = b->server_pid_count > 0
			     ? (b->server_cpu_ms[phase + 1] - b->server_cpu_ms[phase]) / (double)n
			     : 0.0;
	printf("%s,%d,%s,%zu,%.3f,%.1f,%.3f,%.3f,%.3f,%.3f\n", b->label, b->connections, op, n,
	       seconds, (double)n / seconds, percentile(all, n, 50), percentile(all, n, 99),
	       all[n - 1], cpu);
	free(all);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "connections", required_argument, NULL, 'n' },
		{ "creates", required_argument, NULL, 'C' },
		{ "gets", required_argument, NULL, 'G' },
		{ "label", required_argument, NULL, 'l' },
		{ "server-pids", required_argument, NULL, 's' },
		{ "busy-poll-us", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = {
		.options = { .host = "127.0.0.1", .timeout_ms = 60000 },
		.connections = 1, .creates = 200, .gets = 1000, .label = "server",
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'H': b.options.host = optarg; break;
		case 'p': b.options.port = optarg; break;
		case 'c': b.options.cert_path = optarg; break;
		case 'k': b.options.key_path = optarg; break;
		case 'a': b.options.ca_path = optarg; break;
		case 'n': b.connections = atoi(optarg); break;
		case 'C': b.creates = atoi(optarg); break;
		case 'G': b.gets = atoi(optarg); break;
		case 'l': b.label = optarg; break;
		case 'b': b.options.busy_poll_us = atoi(optarg); break;
		case 's':
			for (char *pid = strtok(optarg, ","); pid != NULL && b.server_pid_count < 8;
			     pid = strtok(NULL, ","))
				b.server_pids[b.server_pid_count++] = (pid_t)atoi(pid);
			break;
		default:
			fprintf(stderr, "usage: bench_kms --port P --cert F --key F --ca F "
					"[--connections N] [--creates N] [--gets N] [--label L] "
					"[--server-pids PID,PID] [--busy-poll-us US]\n");
			return 2;
		}
	}
	if (b.options.port == NULL || b.connections < 1 || b.creates < 1 || b.gets < 1) {
		fprintf(stderr, "bench_kms: --port, and positive --connections, --creates and --gets are required\n");
		return 2;
	}

	struct worker *workers = calloc((size_t)b.connections, sizeof(*workers));
	pthread_barrier_init(&b.barrier, NULL, (unsigned)b.connections);
	for (int t = 0; t < b.connections; t++) {
		workers[t].bench = &b;
		workers[t].create_ms = calloc((size_t)b.creates, sizeof(double));
		workers[t].get_ms = calloc((size_t)b.gets, sizeof(double));
		pthread_create(&workers[t].thread, NULL, run_worker, &workers[t]);
	}
	int failed = 0;
	for (int t = 0; t < b.connections; t++) {
		pthread_join(workers[t].thread, NULL);
		failed |= workers[t].failed;
	}
	if (!failed) {
		report(&b, workers, 0, "create", b.creates);
		report(&b, workers, 1, "get", b.gets);
	}
	for (int t = 0; t < b.connections; t++) {
		free(workers[t].create_ms);
		free(workers[t].get_ms);
	}
	free(workers);
	pthread_barrier_destroy(&b.barrier);
	return failed ? 1 : 0;
}
