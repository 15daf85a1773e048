// SPDX-License-Identifier: Apache-2.0
// `coffer ca` (init, serve, token create, revoke, ls, root) and `coffer enroll`:
// thin front ends over coffer/ca.h.

#include "cli.h"

#include <coffer/ca.h>

#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CA_DEFAULT_DIR "/var/lib/coffer/ca"
// Size of OpenSSL's secure heap, which contains the CA's private keys. By
// our estimate a P-256 signature or TLS handshake in progress uses well
// under 1 KiB of it, so 4 MiB covers thousands at once.
#define CA_SECURE_HEAP_SIZE (4 << 20)

static int parse_duration_option(const char *name, const char *text, int64_t *seconds)
{
	if (ca_parse_duration(text, seconds) != 0)
		return cli_usage_error("--%s '%s' is invalid; use a positive number with s, m, h or d "
				       "(for example 90s, 15m, 24h, 7d)", name, text);
	return 0;
}

static int parse_profile(const char *text, enum ca_profile *profile)
{
	if (strcmp(text, "server") == 0)
		*profile = CA_PROFILE_SERVER;
	else if (strcmp(text, "client") == 0)
		*profile = CA_PROFILE_CLIENT;
	else if (strcmp(text, "both") == 0)
		*profile = CA_PROFILE_BOTH;
	else
		return cli_usage_error("--profile '%s' is invalid; use server, client or both", text);
	return 0;
}

static const char *profile_name(enum ca_profile profile)
{
	switch (profile) {
	case CA_PROFILE_SERVER:
		return "server";
	case CA_PROFILE_CLIENT:
		return "client";
	default:
		return "both";
	}
}

#define MASTER_KEY_HELP \
	"  --master-key FILE  coffer master key file ('kek VERSION HEX' lines, mode 0600)\n" \
	"                     that decrypts the CA keys; needed when init was given one\n"

static int open_ca(const char *dir, const char *master_key, int64_t lifetime,
		   int64_t max_lifetime, struct ca **ca, struct cf_error *err)
{
	struct ca_options options = { .dir = dir, .lifetime = lifetime, .max_lifetime = max_lifetime,
				      .master_key_path = master_key };
	return ca_open(&options, ca, err);
}

// ---- coffer ca init ---------------------------------------------------

static int ca_init_command(int argc, char **argv)
{
	static const struct option options[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "if-missing", no_argument, NULL, 'm' },
		{ "master-key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = CA_DEFAULT_DIR, *name = "coffer", *master_key = NULL;
	bool if_missing = false;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "d:n:h", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'm':
			if_missing = true;
			break;
		case 'K':
			master_key = optarg;
			break;
		case 'h':
			printf("Usage: coffer ca init [--dir DIR] [--name NAME] [--master-key FILE]"
			       " [--if-missing]\n\n"
			       "Creates a root CA (ECDSA P-256, 10 years) and an issuing intermediate\n"
			       "(5 years) in DIR (default %s). Never overwrites an existing CA.\n"
			       "  --name NAME   name used in the CA subjects (default coffer)\n"
			       "  --if-missing  exit 0 without changes when DIR already holds CA files\n"
			       "                (for container start-up, which runs init on every start)\n"
			       "  --master-key FILE  encrypt root.key and ca.key under the newest KEK of\n"
			       "                this coffer master key file (mode 0600); serve, token,\n"
			       "                revoke and ls then need the same --master-key\n",
			       CA_DEFAULT_DIR);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);

	struct cf_error err = { 0 };
	int rc = ca_init(dir, name, master_key, &err);
	if (rc == -EEXIST && if_missing) {
		fprintf(stderr, "coffer: %s\n", cf_error_message(&err, rc));
		return CLI_EXIT_OK;
	}
	if (rc != 0)
		return cli_fail(rc, &err);
	printf("created CA in %s: root certificate %s/root.pem, issuing CA %s/ca.pem\n", dir, dir,
	       dir);
	return CLI_EXIT_OK;
}

// ---- coffer ca serve --------------------------------------------------

// Settings a `ca serve --config` file may contain: the long options that
// take a value, without the leading dashes.
static const char *const serve_settings[] = {
	"dir", "listen", "lifetime", "max-lifetime", "port-file", "log-level", "threads", "tls-san",
	"master-key",
};

static char *trim_space(char *text)
{
	while (*text == ' ' || *text == '\t')
		text++;
	char *end = text + strlen(text);
	while (end > text && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return text;
}

// Builds the argument vector of `ca serve` with the settings of the config
// file at path. Each "name = value" line becomes "--name value", placed
// before the arguments in argv (without the --config pair), so options on
// the command line override the file. '#' starts a comment line. The new
// vector and the file text it points into (*text, with the "--name"
// strings after it) are malloc'd for the caller.
static int expand_serve_config(const char *path, int argc, char **argv, int *new_argc,
			       char ***new_argv, char **text)
{
	struct cf_error err = { 0 };
	size_t size = 0;
	int rc = cf_read_file(path, 64 * 1024, text, &size, &err);
	if (rc != 0)
		return cli_fail(rc, &err);

	size_t lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += (*text)[i] == '\n';
	// Room for the "--name" copies after the file text: each is at most
	// its line plus two dashes.
	char *grown = realloc(*text, 2 * size + 3 * lines + 1);
	char **args = calloc((size_t)argc + 2 * lines + 1, sizeof(*args));
	if (grown == NULL || args == NULL) {
		free(args);
		if (grown != NULL)
			*text = grown;
		return cli_fail(-ENOMEM, NULL);
	}
	*text = grown;
	(*text)[size] = '\0';
	char *names = *text + size + 1;
	int count = 0;
	args[count++] = argv[0];

	char *saved = NULL;
	int line_number = 0;
	for (char *line = strtok_r(*text, "\n", &saved); line != NULL;
	     line = strtok_r(NULL, "\n", &saved)) {
		line_number++;
		char *setting = trim_space(line);
		if (*setting == '\0' || *setting == '#')
			continue;
		char *equals = strchr(setting, '=');
		if (equals == NULL) {
			free(args);
			return cli_usage_error("%s line %d: expected 'name = value'", path, line_number);
		}
		*equals = '\0';
		char *name = trim_space(setting), *value = trim_space(equals + 1);
		bool known = false;
		for (size_t i = 0; i < sizeof(serve_settings) / sizeof(serve_settings[0]); i++)
			known = known || strcmp(name, serve_settings[i]) == 0;
		if (!known || *value == '\0') {
			free(args);
			return cli_usage_error("%s line %d: %s '%s'; use a 'ca serve' option name"
					       " without dashes and a value",
					       path, line_number, known ? "no value for" : "unknown setting",
					       name);
		}
		args[count++] = names;
		names += sprintf(names, "--%s", name) + 1;
		args[count++] = value;
	}

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0) {
			i++;
			continue;
		}
		if (strncmp(argv[i], "--config=", 9) == 0)
			continue;
		args[count++] = argv[i];
	}
	*new_argc = count;
	*new_argv = args;
	return 0;
}

static int ca_serve_run(int argc, char **argv);

static int ca_serve_command(int argc, char **argv)
{
	const char *config = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = argv[i] + 9;
	}
	if (config == NULL)
		return ca_serve_run(argc, argv);

	int new_argc = 0;
	char **new_argv = NULL, *text = NULL;
	int rc = expand_serve_config(config, argc, argv, &new_argc, &new_argv, &text);
	if (rc == 0)
		rc = ca_serve_run(new_argc, new_argv);
	free(new_argv);
	free(text);
	return rc;
}

static int ca_serve_run(int argc, char **argv)
{
	static const struct option options[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "lifetime", required_argument, NULL, 'L' },
		{ "max-lifetime", required_argument, NULL, 'M' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "threads", required_argument, NULL, 'T' },
		{ "tls-san", required_argument, NULL, 'S' },
		{ "config", required_argument, NULL, 'c' },
		{ "master-key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = CA_DEFAULT_DIR, *master_key = NULL;
	const char *tls_sans[CA_SAN_MAX];
	struct ca_server_options server = { .listen = "127.0.0.1:8443", .tls_sans = tls_sans };
	int64_t lifetime = 0, max_lifetime = 0;
	enum cf_log_level level;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "d:l:h", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'l':
			server.listen = optarg;
			break;
		case 'L':
			if (parse_duration_option("lifetime", optarg, &lifetime) != 0)
				return CLI_EXIT_USAGE;
			break;
		case 'M':
			if (parse_duration_option("max-lifetime", optarg, &max_lifetime) != 0)
				return CLI_EXIT_USAGE;
			break;
		case 'p':
			server.port_file = optarg;
			break;
		case 'T': {
			char *end = NULL;
			long threads = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || threads < 1 || threads > 16)
				return cli_usage_error("--threads '%s' is invalid; use 1 to 16", optarg);
			server.threads = (int)threads;
			break;
		}
		case 'S':
			if (server.tls_san_count == CA_SAN_MAX)
				return cli_usage_error("at most %d --tls-san options", CA_SAN_MAX);
			tls_sans[server.tls_san_count++] = optarg;
			break;
		case 'c':
			break; // read by ca_serve_command before parsing
		case 'K':
			master_key = optarg;
			break;
		case 'v':
			if (cf_log_parse_level(optarg, &level) != 0)
				return cli_usage_error("--log-level '%s' is invalid; use debug, info, warn or error",
						       optarg);
			cf_log_set_level(level);
			break;
		case 'h':
			printf("Usage: coffer ca serve [--dir DIR] [--listen HOST:PORT] [OPTIONS]\n\n"
			       "Serves EST (RFC 7030) over HTTPS until SIGINT or SIGTERM.\n"
			       "  --dir DIR            CA state directory (default %s)\n"
			       "  --listen HOST:PORT   address to listen on (default 127.0.0.1:8443; port 0 picks one)\n"
			       "  --lifetime D         default certificate lifetime (default 24h)\n"
			       "  --max-lifetime D     longest lifetime a token may set (default 7d)\n"
			       "  --port-file FILE     write the bound port to FILE\n"
			       "  --threads N          event-loop threads (default: one per CPU, at most 16)\n"
			       "  --tls-san SAN        also name DNS:name or IP:address in the server's TLS\n"
			       "                       certificate, such as a Service name; repeatable\n"
			       "  --config FILE        read 'name = value' lines, one option each without\n"
			       "                       its dashes ('#' starts a comment); options on the\n"
			       "                       command line override the file\n"
			       "  --log-level LEVEL    debug, info, warn or error (default info)\n"
			       MASTER_KEY_HELP
			       "Durations take s, m, h or d, for example 90s or 24h.\n",
			       CA_DEFAULT_DIR);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);

	struct cf_error err = { 0 };
	struct ca *ca = NULL;
	int rc = cf_harden_process(&err);
	int heap = rc == 0 ? cf_openssl_secure_heap(CA_SECURE_HEAP_SIZE, &err) : 0;
	if (heap < 0)
		rc = heap;
	if (rc == 0)
		rc = open_ca(dir, master_key, lifetime, max_lifetime, &ca, &err);
	if (rc == 0) {
		cf_log(heap == 1 ? CF_LOG_WARN : CF_LOG_INFO, "ca.secure_heap",
		       "size=%d locked=%s used=%zu", CA_SECURE_HEAP_SIZE, heap == 1 ? "no" : "yes",
		       CRYPTO_secure_used());
		rc = ca_serve(ca, &server, &err);
	}
	ca_close(ca);
	if (rc != 0)
		return cli_fail(rc, &err);
	return CLI_EXIT_OK;
}

// ---- coffer ca token create -------------------------------------------

static int ca_token_create_command(int argc, char **argv)
{
	static const struct option options[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "san", required_argument, NULL, 's' },
		{ "ttl", required_argument, NULL, 't' },
		{ "profile", required_argument, NULL, 'p' },
		{ "lifetime", required_argument, NULL, 'L' },
		{ "max-lifetime", required_argument, NULL, 'M' },
		{ "master-key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = CA_DEFAULT_DIR, *master_key = NULL;
	const char *sans[CA_SAN_MAX];
	struct ca_token_options token = { .sans = sans, .ttl = 3600, .profile = CA_PROFILE_BOTH };
	int64_t max_lifetime = 0;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "d:s:t:h", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 's':
			if (token.san_count == CA_SAN_MAX)
				return cli_usage_error("at most %d --san options", CA_SAN_MAX);
			sans[token.san_count++] = optarg;
			break;
		case 't':
			if (parse_duration_option("ttl", optarg, &token.ttl) != 0)
				return CLI_EXIT_USAGE;
			break;
		case 'p':
			if (parse_profile(optarg, &token.profile) != 0)
				return CLI_EXIT_USAGE;
			break;
		case 'L':
			if (parse_duration_option("lifetime", optarg, &token.lifetime) != 0)
				return CLI_EXIT_USAGE;
			break;
		case 'M':
			if (parse_duration_option("max-lifetime", optarg, &max_lifetime) != 0)
				return CLI_EXIT_USAGE;
			break;
		case 'K':
			master_key = optarg;
			break;
		case 'h':
			printf("Usage: coffer ca token create --san SAN [--san SAN ...] [OPTIONS]\n\n"
			       "Creates a one-time bootstrap token and prints it once; only its hash is\n"
			       "stored. A certificate enrolled with it may carry only these SANs.\n"
			       "  --dir DIR          CA state directory (default %s)\n"
			       "  --san SAN          DNS:name, IP:address or URI:uri; without a prefix, an\n"
			       "                     address is IP, text with :// is URI, the rest is DNS\n"
			       "  --ttl D            time until the token expires (default 1h)\n"
			       "  --profile P        server, client or both: extended key usage (default both)\n"
			       "  --lifetime D       lifetime of the certificates (default: the CA's, 24h)\n"
			       "  --max-lifetime D   the CA's maximum lifetime to check against (default 7d)\n"
			       MASTER_KEY_HELP,
			       CA_DEFAULT_DIR);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (token.san_count == 0)
		return cli_usage_error("at least one --san is required");

	struct cf_error err = { 0 };
	struct ca *ca = NULL;
	char text[CA_TOKEN_TEXT_SIZE];
	int rc = open_ca(dir, master_key, 0, max_lifetime, &ca, &err);
	if (rc == 0)
		rc = ca_token_create(ca, &token, text, sizeof(text), &err);
	ca_close(ca);
	if (rc != 0)
		return cli_fail(rc, &err);
	printf("%s\n", text);
	fflush(stdout);
	cf_wipe(text, sizeof(text));
	return CLI_EXIT_OK;
}

static int ca_token_command(int argc, char **argv)
{
	static const struct cli_command commands[] = {
		{ "create", "create a one-time bootstrap token bound to SANs", ca_token_create_command },
		{ NULL, NULL, NULL },
	};
	return cli_dispatch("coffer ca token", commands, argc, argv);
}

// ---- coffer ca revoke / ls ----------------------------------------------

// Parses the common "--dir DIR" option of the smaller commands, and
// "--master-key FILE" for those that pass master_key, and returns the index
// of the first operand.
static int parse_dir_only(int argc, char **argv, const char *usage, const char **dir,
			  const char **master_key)
{
	static const struct option options[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "master-key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "d:h", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
			*dir = optarg;
			break;
		case 'K':
			if (master_key == NULL) {
				cli_usage_error("this command reads no private key; drop --master-key");
				return -2;
			}
			*master_key = optarg;
			break;
		case 'h':
			printf("%s", usage);
			return -1;
		default:
			return -2;
		}
	}
	return optind;
}

static int ca_revoke_command(int argc, char **argv)
{
	const char *dir = CA_DEFAULT_DIR, *master_key = NULL;
	int first = parse_dir_only(argc, argv,
				   "Usage: coffer ca revoke [--dir DIR] [--master-key FILE] SERIAL\n\n"
				   "Revokes a certificate (serial in hex, as 'coffer ca ls' prints it):\n"
				   "it appears on the CRL and can no longer renew.\n" MASTER_KEY_HELP,
				   &dir, &master_key);
	if (first < 0)
		return first == -1 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (first != argc - 1)
		return cli_usage_error("expected exactly one SERIAL; run 'coffer ca revoke --help'");

	struct cf_error err = { 0 };
	struct ca *ca = NULL;
	int rc = open_ca(dir, master_key, 0, 0, &ca, &err);
	if (rc == 0)
		rc = ca_revoke(ca, argv[first], &err);
	ca_close(ca);
	if (rc != 0)
		return cli_fail(rc, &err);
	printf("revoked %s\n", argv[first]);
	return CLI_EXIT_OK;
}

static void format_time(int64_t when, char *out, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

// The CN column's width, the longest CN listed, found by a first pass.
struct cert_listing {
	int64_t now;
	int cn_width;
};

static int measure_cert(const struct ca_cert_info *info, void *arg)
{
	struct cert_listing *listing = arg;
	int len = (int)strlen(info->subject);
	if (len > listing->cn_width)
		listing->cn_width = len;
	return 0;
}

static int print_cert(const struct ca_cert_info *info, void *arg)
{
	const struct cert_listing *listing = arg;
	char not_after[32];
	const char *status = info->revoked_at != 0 ? "revoked"
			     : info->not_after <= listing->now ? "expired"
							       : "valid";
	format_time(info->not_after, not_after, sizeof(not_after));
	printf("%-32s  %-7s  %-6s  %-20s  %-*s  [%s]\n", info->serial, status,
	       profile_name(info->profile), not_after, listing->cn_width, info->subject,
	       info->sans);
	return 0;
}

static int ca_ls_command(int argc, char **argv)
{
	const char *dir = CA_DEFAULT_DIR, *master_key = NULL;
	int first = parse_dir_only(argc, argv,
				   "Usage: coffer ca ls [--dir DIR] [--master-key FILE]\n\n"
				   "Lists issued certificates: serial, status, profile, notAfter, CN and SANs.\n"
				   MASTER_KEY_HELP,
				   &dir, &master_key);
	if (first < 0)
		return first == -1 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (first != argc)
		return cli_usage_error("unexpected argument '%s'", argv[first]);

	struct cf_error err = { 0 };
	struct ca *ca = NULL;
	struct cert_listing listing = { .now = cf_now(), .cn_width = (int)strlen("CN") };
	int rc = open_ca(dir, master_key, 0, 0, &ca, &err);
	if (rc == 0)
		rc = ca_list(ca, measure_cert, &listing, &err);
	if (rc == 0) {
		printf("%-32s  %-7s  %-6s  %-20s  %-*s  [%s]\n", "SERIAL", "STATUS", "EKU",
		       "NOT AFTER", listing.cn_width, "CN", "SANS");
		rc = ca_list(ca, print_cert, &listing, &err);
	}
	ca_close(ca);
	if (rc != 0)
		return cli_fail(rc, &err);
	return CLI_EXIT_OK;
}

// Prints root.pem, so a deployment can hand the trust anchor to clients
// from a container image that has no shell or cat.
static int ca_root_command(int argc, char **argv)
{
	const char *dir = CA_DEFAULT_DIR;
	int first = parse_dir_only(argc, argv,
				   "Usage: coffer ca root [--dir DIR]\n\n"
				   "Prints the root certificate (DIR/root.pem) in PEM to standard output.\n",
				   &dir, NULL);
	if (first < 0)
		return first == -1 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (first != argc)
		return cli_usage_error("unexpected argument '%s'", argv[first]);

	struct cf_error err = { 0 };
	char path[4096];
	char *pem = NULL;
	size_t size = 0;
	snprintf(path, sizeof(path), "%s/root.pem", dir);
	int rc = cf_read_file(path, 1 << 20, &pem, &size, &err);
	if (rc != 0)
		return cli_fail(rc, &err);
	fwrite(pem, 1, size, stdout);
	free(pem);
	return CLI_EXIT_OK;
}

int cmd_ca(int argc, char **argv)
{
	static const struct cli_command commands[] = {
		{ "init", "create the root and issuing CA in a directory", ca_init_command },
		{ "serve", "run the EST server over HTTPS", ca_serve_command },
		{ "token", "create bootstrap tokens for enrollment", ca_token_command },
		{ "revoke", "revoke an issued certificate", ca_revoke_command },
		{ "ls", "list issued certificates", ca_ls_command },
		{ "root", "print the root certificate", ca_root_command },
		{ NULL, NULL, NULL },
	};
	return cli_dispatch("coffer ca", commands, argc, argv);
}

// ---- coffer enroll ------------------------------------------------------

static int parse_key_type(const char *text, enum ca_key_type *type)
{
	if (strcmp(text, "p256") == 0)
		*type = CA_KEY_P256;
	else if (strcmp(text, "p384") == 0)
		*type = CA_KEY_P384;
	else if (strcmp(text, "rsa2048") == 0)
		*type = CA_KEY_RSA2048;
	else if (strcmp(text, "rsa3072") == 0)
		*type = CA_KEY_RSA3072;
	else
		return cli_usage_error("--key-type '%s' is invalid; use p256, p384, rsa2048 or rsa3072",
				       text);
	return 0;
}

static volatile sig_atomic_t enroll_stop;

static void request_stop(int signal_number)
{
	(void)signal_number;
	enroll_stop = 1;
}

static void print_renewal(void *arg)
{
	struct ca_renewer *renewer = *(struct ca_renewer **)arg;
	char serial[CA_SERIAL_HEX_SIZE], not_after[32];
	ca_renewer_serial(renewer, serial);
	format_time(ca_renewer_not_after(renewer), not_after, sizeof(not_after));
	printf("renewed: serial %s, valid until %s\n", serial, not_after);
	fflush(stdout);
}

// Keeps the certificate renewed with the library renewer until SIGINT or
// SIGTERM; the files are replaced on each renewal.
static int enroll_watch(const struct ca_enroll_options *enroll)
{
	struct ca_renewer *renewer = NULL;
	struct ca_renewer_options options = { .enroll = *enroll, .on_renew = print_renewal,
					      .arg = &renewer };
	struct cf_error err = { 0 };
	char serial[CA_SERIAL_HEX_SIZE], not_after[32];

	signal(SIGINT, request_stop);
	signal(SIGTERM, request_stop);
	int rc = ca_renewer_new(&options, &renewer, &err);
	if (rc == 0) {
		ca_renewer_serial(renewer, serial);
		format_time(ca_renewer_not_after(renewer), not_after, sizeof(not_after));
		printf("certificate: serial %s, valid until %s\n", serial, not_after);
		fflush(stdout);
		rc = ca_renewer_start(renewer, &err);
	}
	if (rc != 0) {
		ca_renewer_free(renewer);
		return cli_fail(rc, &err);
	}
	while (!enroll_stop)
		pause();
	ca_renewer_free(renewer);
	return CLI_EXIT_OK;
}

int cmd_enroll(int argc, char **argv)
{
	static const struct option options[] = {
		{ "server", required_argument, NULL, 'S' },
		{ "root", required_argument, NULL, 'r' },
		{ "token-file", required_argument, NULL, 't' },
		{ "san", required_argument, NULL, 's' },
		{ "cn", required_argument, NULL, 'c' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "key", required_argument, NULL, 'K' },
		{ "cert", required_argument, NULL, 'C' },
		{ "chain", required_argument, NULL, 'H' },
		{ "renew", no_argument, NULL, 'R' },
		{ "watch", no_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sans[CA_SAN_MAX];
	const char *token_file = NULL;
	struct ca_enroll_options enroll = { .sans = sans };
	bool renew = false, watch = false;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'S':
			enroll.server = optarg;
			break;
		case 'r':
			enroll.root_path = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 's':
			if (enroll.san_count == CA_SAN_MAX)
				return cli_usage_error("at most %d --san options", CA_SAN_MAX);
			sans[enroll.san_count++] = optarg;
			break;
		case 'c':
			enroll.cn = optarg;
			break;
		case 'k':
			if (parse_key_type(optarg, &enroll.key_type) != 0)
				return CLI_EXIT_USAGE;
			break;
		case 'K':
			enroll.key_path = optarg;
			break;
		case 'C':
			enroll.cert_path = optarg;
			break;
		case 'H':
			enroll.chain_path = optarg;
			break;
		case 'R':
			renew = true;
			break;
		case 'W':
			watch = true;
			break;
		case 'h':
			printf("Usage: coffer enroll --server HOST:PORT --root FILE --key FILE --cert FILE\n"
			       "                     --chain FILE (--token-file FILE --san SAN ... | --renew) [--watch]\n\n"
			       "Generates a key on this host, obtains a certificate from a coffer CA over\n"
			       "EST and writes the key (mode 0600), the certificate and the chain.\n"
			       "  --server HOST:PORT  the EST server\n"
			       "  --root FILE         the CA's root certificate (root.pem), trusted for TLS\n"
			       "  --token-file FILE   file holding the bootstrap token (first enrollment)\n"
			       "  --san SAN           DNS:name, IP:address or URI:uri to request\n"
			       "  --cn CN             subject CN (default: the first SAN's value)\n"
			       "  --key-type T        p256 (default), p384, rsa2048 or rsa3072\n"
			       "  --renew             renew the certificate in --cert with simplereenroll\n"
			       "  --watch             stay running and renew at 2/3 of each lifetime\n");
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (enroll.server == NULL || enroll.root_path == NULL || enroll.key_path == NULL ||
	    enroll.cert_path == NULL || enroll.chain_path == NULL)
		return cli_usage_error("--server, --root, --key, --cert and --chain are required; "
				       "run 'coffer enroll --help'");
	if (!renew && !watch && (token_file == NULL || enroll.san_count == 0))
		return cli_usage_error("a first enrollment needs --token-file and at least one --san");

	struct cf_error err = { 0 };
	char *token = NULL;
	size_t token_size = 0;
	int rc = 0;
	if (token_file != NULL) {
		rc = cf_read_file(token_file, CA_TOKEN_TEXT_SIZE, &token, &token_size, &err);
		if (rc != 0)
			return cli_fail(rc, &err);
		token[strcspn(token, "\r\n")] = '\0';
		enroll.token = token;
	}

	if (watch)
		rc = enroll_watch(&enroll);
	else if (renew)
		rc = ca_client_reenroll(&enroll, &err);
	else
		rc = ca_client_enroll(&enroll, &err);

	if (token != NULL) {
		cf_wipe(token, token_size);
		free(token);
	}
	if (watch)
		return rc;
	if (rc != 0)
		return cli_fail(rc, &err);
	printf("wrote %s, %s and %s\n", enroll.key_path, enroll.cert_path, enroll.chain_path);
	return CLI_EXIT_OK;
}
