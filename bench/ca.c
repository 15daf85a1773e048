// SPDX-License-Identifier: Apache-2.0
// Load client for bench/ca.sh. It posts P-256 certificate requests over
// HTTPS keep-alive connections to coffer's EST simpleenroll or to cfssl's
// /api/v1/cfssl/sign. For coffer, one fresh bootstrap token per request is
// created before the clock starts. It prints one CSV line per round:
//   server,connections,requests,seconds,certs_per_s,p50_ms,p99_ms,server_cpu_ms_per_cert,
//   client_cpu_ms_per_cert,idle_pct
// idle_pct is the share of all CPUs' time that the machine spent idle while
// the round ran (from /proc/stat), which shows whether the CPUs were busy.
// Every response is checked: HTTP 200 and a certificate in the body.

#include <coffer/ca.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_CONNECTIONS 64
#define MAX_CSRS 10000

enum mode { MODE_EST, MODE_CFSSL };

struct csr {
	char san[CA_SAN_TEXT_MAX]; // "DNS:leafNNN.bench.test", from the file name
	char *body;                // request body for the chosen mode
	size_t body_size;
};

struct config {
	enum mode mode;
	int port;
	int connections;
	int rounds;
	const char *root;
	const char *ca_dir;
	int server_pid;
	struct csr *csrs;
	size_t csr_count;
};

struct worker {
	const struct config *config;
	pthread_barrier_t *barrier;
	char (*tokens)[CA_TOKEN_TEXT_SIZE]; // csr_count tokens for this worker (EST)
	double *latencies;
	double started, finished;
	int failed;
	char error[256];
};

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double server_cpu_seconds(int pid)
{
	char path[64], data[1024];
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(data, 1, sizeof(data) - 1, f);
	fclose(f);
	data[n] = '\0';
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of proc(5), the 12th and 13th after ")".
	char *p = strrchr(data, ')');
	unsigned long long utime = 0, stime = 0;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&utime, &stime) != 2)
		return 0;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double client_cpu_seconds(void)
{
	struct rusage usage;
	if (getrusage(RUSAGE_SELF, &usage) != 0)
		return 0;
	return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
	       (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

// Reads the idle and total jiffies of all CPUs from the first line of
// /proc/stat (user nice system idle iowait irq softirq steal).
static void machine_jiffies(unsigned long long *idle, unsigned long long *total)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	*idle = 0;
	*total = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) == 8) {
		*idle = v[3] + v[4];
		for (int i = 0; i < 8; i++)
			*total += v[i];
	}
	fclose(f);
}

// Reads a PEM request and builds the body: the base64 lines between the
// PEM markers for EST, or {"certificate_request": "<PEM>"} for cfssl.
static int load_csr(const char *path, const char *name, enum mode mode, struct csr *csr)
{
	FILE *f = fopen(path, "r");
	char pem[8192];
	if (f == NULL)
		return -errno;
	size_t n = fread(pem, 1, sizeof(pem) - 1, f);
	fclose(f);
	pem[n] = '\0';

	char stem[256];
	snprintf(stem, sizeof(stem), "%s", name);
	*strrchr(stem, '.') = '\0';
	snprintf(csr->san, sizeof(csr->san), "DNS:%s.bench.test", stem);

	csr->body = malloc(2 * n + 64);
	if (csr->body == NULL)
		return -ENOMEM;
	if (mode == MODE_EST) {
		char *start = strstr(pem, "-----\n");
		char *end = strstr(pem, "-----END");
		if (start == NULL || end == NULL)
			return -EINVAL;
		start += 6;
		memcpy(csr->body, start, (size_t)(end - start));
		csr->body_size = (size_t)(end - start);
	} else {
		size_t len = (size_t)sprintf(csr->body, "{\"certificate_request\": \"");
		for (size_t i = 0; i < n; i++) {
			if (pem[i] == '\n') {
				csr->body[len++] = '\\';
				csr->body[len++] = 'n';
			} else {
				csr->body[len++] = pem[i];
			}
		}
		len += (size_t)sprintf(csr->body + len, "\"}");
		csr->body_size = len;
	}
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_csrs(const char *dir, struct config *config)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	char *names[MAX_CSRS];
	size_t count = 0;

	if (d == NULL)
		return -errno;
	while ((entry = readdir(d)) != NULL && count < MAX_CSRS) {
		const char *dot = strrchr(entry->d_name, '.');
		if (dot != NULL && strcmp(dot, ".csr") == 0)
			names[count++] = strdup(entry->d_name);
	}
	closedir(d);
	qsort(names, count, sizeof(names[0]), compare_names);

	config->csrs = calloc(count, sizeof(struct csr));
	for (size_t i = 0; i < count; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		int rc = load_csr(path, names[i], config->mode, &config->csrs[i]);
		free(names[i]);
		if (rc != 0)
			return rc;
	}
	config->csr_count = count;
	return count > 0 ? 0 : -ENOENT;
}

struct connection {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char buffer[65536];
	size_t buffered;
};

static int connect_tls(const struct config *config, struct connection *conn)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)config->port) };
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);

	conn->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (conn->fd < 0 || connect(conn->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		return -errno;
	int one = 1;
	setsockopt(conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	conn->ctx = SSL_CTX_new(TLS_client_method());
	if (conn->ctx == NULL || SSL_CTX_load_verify_locations(conn->ctx, config->root, NULL) != 1)
		return -EIO;
	SSL_CTX_set_verify(conn->ctx, SSL_VERIFY_PEER, NULL);
	conn->ssl = SSL_new(conn->ctx);
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(conn->ssl), "127.0.0.1");
	SSL_set_fd(conn->ssl, conn->fd);
	return SSL_connect(conn->ssl) == 1 ? 0 : -EPROTO;
}

static void close_tls(struct connection *conn)
{
	if (conn->ssl != NULL)
		SSL_shutdown(conn->ssl);
	SSL_free(conn->ssl);
	SSL_CTX_free(conn->ctx);
	if (conn->fd >= 0)
		close(conn->fd);
}

static int fill(struct connection *conn)
{
	if (conn->buffered == sizeof(conn->buffer))
		return -EFBIG;
	int n = SSL_read(conn->ssl, conn->buffer + conn->buffered,
			 (int)(sizeof(conn->buffer) - conn->buffered));
	if (n <= 0)
		return -EPIPE;
	conn->buffered += (size_t)n;
	return 0;
}

// Reads one response (Content-Length or chunked) into body; returns the
// HTTP status or a negative errno.
static int read_response(struct connection *conn, char *body, size_t body_cap, size_t *body_size)
{
	char *end;
	while ((end = memmem(conn->buffer, conn->buffered, "\r\n\r\n", 4)) == NULL) {
		int rc = fill(conn);
		if (rc != 0)
			return rc;
	}
	size_t header_size = (size_t)(end - conn->buffer) + 4;
	int status = atoi(conn->buffer + 9);
	long length = -1;
	bool chunked = false;
	for (char *line = conn->buffer; line < end; line = strstr(line, "\r\n") + 2) {
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			length = strtol(line + 15, NULL, 10);
		if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strstr(line, "chunked") != NULL)
			chunked = true;
	}
	memmove(conn->buffer, conn->buffer + header_size, conn->buffered - header_size);
	conn->buffered -= header_size;

	*body_size = 0;
	if (!chunked) {
		if (length < 0 || (size_t)length >= body_cap)
			return -EPROTO;
		while (conn->buffered < (size_t)length) {
			int rc = fill(conn);
			if (rc != 0)
				return rc;
		}
		memcpy(body, conn->buffer, (size_t)length);
		memmove(conn->buffer, conn->buffer + length, conn->buffered - (size_t)length);
		conn->buffered -= (size_t)length;
		*body_size = (size_t)length;
		body[*body_size] = '\0';
		return status;
	}
	for (;;) {
		char *line_end;
		while ((line_end = memmem(conn->buffer, conn->buffered, "\r\n", 2)) == NULL) {
			int rc = fill(conn);
			if (rc != 0)
				return rc;
		}
		size_t chunk = strtoul(conn->buffer, NULL, 16);
		size_t prefix = (size_t)(line_end - conn->buffer) + 2;
		while (conn->buffered < prefix + chunk + 2) {
			int rc = fill(conn);
			if (rc != 0)
				return rc;
		}
		if (*body_size + chunk >= body_cap)
			return -EPROTO;
		memcpy(body + *body_size, conn->buffer + prefix, chunk);
		*body_size += chunk;
		memmove(conn->buffer, conn->buffer + prefix + chunk + 2,
			conn->buffered - prefix - chunk - 2);
		conn->buffered -= prefix + chunk + 2;
		if (chunk == 0)
			break;
	}
	body[*body_size] = '\0';
	return status;
}

static int post(struct connection *conn, const struct config *config, const struct csr *csr,
		const char *token, char *body, size_t body_cap, size_t *body_size)
{
	char header[512];
	int len;
	if (config->mode == MODE_EST)
		len = snprintf(header, sizeof(header),
			       "POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			       "Content-Type: application/pkcs10\r\nAuthorization: Bearer %s\r\n"
			       "Content-Length: %zu\r\n\r\n", token, csr->body_size);
	else
		len = snprintf(header, sizeof(header),
			       "POST /api/v1/cfssl/sign HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			       csr->body_size);

	// One write per request, as a client library would send it.
	char request[16384];
	if ((size_t)len + csr->body_size > sizeof(request))
		return -EFBIG;
	memcpy(request, header, (size_t)len);
	memcpy(request + len, csr->body, csr->body_size);
	int total = len + (int)csr->body_size;
	if (SSL_write(conn->ssl, request, total) != total)
		return -EPIPE;
	return read_response(conn, body, body_cap, body_size);
}

static bool response_has_certificate(enum mode mode, const char *body)
{
	if (mode == MODE_EST)
		return strncmp(body, "MII", 3) == 0;
	return strstr(body, "\"success\":true") != NULL && strstr(body, "BEGIN CERTIFICATE") != NULL;
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	const struct config *config = w->config;
	struct connection conn = { .fd = -1 };
	static __thread char body[65536];
	size_t body_size = 0;

	int rc = connect_tls(config, &conn);
	pthread_barrier_wait(w->barrier);
	if (rc != 0) {
		snprintf(w->error, sizeof(w->error), "connecting failed: %s", strerror(-rc));
		w->failed = 1;
		return NULL;
	}
	w->started = now_seconds();
	for (size_t i = 0; i < config->csr_count; i++) {
		double t0 = now_seconds();
		int status = post(&conn, config, &config->csrs[i], w->tokens != NULL ? w->tokens[i] : NULL,
				  body, sizeof(body), &body_size);
		w->latencies[i] = now_seconds() - t0;
		if (status != 200 || !response_has_certificate(config->mode, body)) {
			snprintf(w->error, sizeof(w->error), "request %zu: status %d: %.150s", i, status,
				 status > 0 ? body : strerror(-status));
			w->failed = 1;
			break;
		}
	}
	w->finished = now_seconds();
	close_tls(&conn);
	return NULL;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t count, double p)
{
	// Nearest rank: the smallest value with at least p percent at or below it.
	size_t rank = (size_t)(p * (double)count / 100.0);
	if ((double)rank < p * (double)count / 100.0)
		rank++;
	if (rank == 0)
		rank = 1;
	return sorted[rank - 1];
}

// Creates one token per request for every worker, before the clock starts.
static int create_tokens(const struct config *config, struct worker *workers)
{
	struct ca_options options = { .dir = config->ca_dir };
	struct cf_error err = { 0 };
	struct ca *ca = NULL;
	int rc = ca_open(&options, &ca, &err);
	if (rc != 0) {
		fprintf(stderr, "bench_ca: %s\n", cf_error_message(&err, rc));
		return rc;
	}
	for (int c = 0; c < config->connections && rc == 0; c++) {
		for (size_t i = 0; i < config->csr_count && rc == 0; i++) {
			const char *sans[] = { config->csrs[i].san };
			struct ca_token_options token = { .sans = sans, .san_count = 1, .ttl = 3600,
							  .profile = CA_PROFILE_BOTH };
			rc = ca_token_create(ca, &token, workers[c].tokens[i], CA_TOKEN_TEXT_SIZE, &err);
		}
	}
	if (rc != 0)
		fprintf(stderr, "bench_ca: creating tokens failed: %s\n", cf_error_message(&err, rc));
	ca_close(ca);
	return rc;
}

static int run_round(const struct config *config)
{
	struct worker workers[MAX_CONNECTIONS] = { 0 };
	pthread_t threads[MAX_CONNECTIONS];
	pthread_barrier_t barrier;
	int rc = 0;

	for (int c = 0; c < config->connections; c++) {
		workers[c].config = config;
		workers[c].barrier = &barrier;
		workers[c].latencies = calloc(config->csr_count, sizeof(double));
		if (config->mode == MODE_EST)
			workers[c].tokens = calloc(config->csr_count, CA_TOKEN_TEXT_SIZE);
	}
	if (config->mode == MODE_EST && create_tokens(config, workers) != 0)
		return 1;

	double cpu_before = server_cpu_seconds(config->server_pid);
	double client_before = client_cpu_seconds();
	unsigned long long idle_before, total_before, idle_after, total_after;
	machine_jiffies(&idle_before, &total_before);
	pthread_barrier_init(&barrier, NULL, (unsigned)config->connections);
	for (int c = 0; c < config->connections; c++)
		pthread_create(&threads[c], NULL, run_worker, &workers[c]);
	for (int c = 0; c < config->connections; c++)
		pthread_join(threads[c], NULL);
	pthread_barrier_destroy(&barrier);
	double cpu_after = server_cpu_seconds(config->server_pid);
	double client_after = client_cpu_seconds();
	machine_jiffies(&idle_after, &total_after);
	double idle_pct = total_after > total_before
				  ? 100.0 * (double)(idle_after - idle_before) /
					    (double)(total_after - total_before)
				  : 0.0;

	size_t total = config->csr_count * (size_t)config->connections;
	double *all = calloc(total, sizeof(double));
	double first = 1e300, last = 0;
	for (int c = 0; c < config->connections; c++) {
		if (workers[c].failed) {
			fprintf(stderr, "bench_ca: connection %d: %s\n", c, workers[c].error);
			rc = 1;
		}
		memcpy(all + (size_t)c * config->csr_count, workers[c].latencies,
		       config->csr_count * sizeof(double));
		if (workers[c].started < first)
			first = workers[c].started;
		if (workers[c].finished > last)
			last = workers[c].finished;
		free(workers[c].latencies);
		free(workers[c].tokens);
	}
	if (rc == 0) {
		qsort(all, total, sizeof(double), compare_doubles);
		double seconds = last - first;
		printf("%s,%d,%zu,%.3f,%.0f,%.3f,%.3f,%.3f,%.3f,%.0f\n",
		       config->mode == MODE_EST ? "coffer" : "cfssl", config->connections, total,
		       seconds, (double)total / seconds, percentile(all, total, 50) * 1000,
		       percentile(all, total, 99) * 1000,
		       config->server_pid > 0 ? (cpu_after - cpu_before) * 1000 / (double)total : 0.0,
		       (client_after - client_before) * 1000 / (double)total, idle_pct);
		fflush(stdout);
	}
	free(all);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "port", required_argument, NULL, 'p' },
		{ "csr-dir", required_argument, NULL, 'd' },
		{ "connections", required_argument, NULL, 'c' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "root", required_argument, NULL, 'R' },
		{ "ca-dir", required_argument, NULL, 'C' },
		{ "server-pid", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct config config = { .connections = 1, .rounds = 3 };
	const char *csr_dir = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			config.mode = strcmp(optarg, "cfssl") == 0 ? MODE_CFSSL : MODE_EST;
			break;
		case 'p':
			config.port = atoi(optarg);
			break;
		case 'd':
			csr_dir = optarg;
			break;
		case 'c':
			config.connections = atoi(optarg);
			break;
		case 'r':
			config.rounds = atoi(optarg);
			break;
		case 'R':
			config.root = optarg;
			break;
		case 'C':
			config.ca_dir = optarg;
			break;
		case 's':
			config.server_pid = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (config.port <= 0 || csr_dir == NULL || config.root == NULL || config.connections < 1 ||
	    config.connections > MAX_CONNECTIONS || config.rounds < 1 ||
	    (config.mode == MODE_EST && config.ca_dir == NULL)) {
		fprintf(stderr, "usage: bench_ca --mode est|cfssl --port P --csr-dir DIR --root CA.pem"
				" [--ca-dir DIR (est)] [--connections N] [--rounds R] [--server-pid PID]\n");
		return 2;
	}
	int rc = load_csrs(csr_dir, &config);
	if (rc != 0) {
		fprintf(stderr, "bench_ca: cannot load requests from %s: %s\n", csr_dir, strerror(-rc));
		return 1;
	}
	for (int r = 0; r < config.rounds; r++) {
		if (run_round(&config) != 0)
			return 1;
	}
	for (size_t i = 0; i < config.csr_count; i++)
		free(config.csrs[i].body);
	free(config.csrs);
	return 0;
}
