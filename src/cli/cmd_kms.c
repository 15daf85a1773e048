// SPDX-License-Identifier: Apache-2.0
// `coffer kms`: run the Key Management Server, check its audit chain,
// rotate its KEK, and administer keys on a running KMS over KMIP.

#include "cli.h"

#include <coffer/ca.h>
#include <coffer/keystore.h>
#include <coffer/kmip.h>
#include <coffer/kms.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// ---- serve -------------------------------------------------------------------

// Reads a decimal integer from min to max. Returns false for anything else.
static bool parse_int(const char *value, long min, long max, int *out)
{
	char *end;
	long n = strtol(value, &end, 10);
	if (*value == '\0' || *end != '\0' || n < min || n > max)
		return false;
	*out = (int)n;
	return true;
}

static int parse_positive(const char *option, const char *value, int *out)
{
	if (!parse_int(value, 1, 1000000, out))
		return cli_usage_error("%s '%s' is invalid; use a positive integer", option, value);
	return 0;
}

static int parse_busy_poll(const char *value, int *out)
{
	if (!parse_int(value, 0, 1000, out))
		return cli_usage_error("busy-poll-us '%s' is invalid; use 0 to 1000", value);
	return 0;
}

// Enrollment with coffer's CA, set by the enroll-* settings.
static const char *enrollment_sans[CA_SAN_MAX];
static struct ca_enroll_options enrollment = { .sans = enrollment_sans };
static const char *enrollment_token_file;

static int add_admin(struct kms_config *config, const char *identity)
{
	if (config->admin_count == KMS_MAX_ADMINS)
		return cli_usage_error("too many --admin identities; the maximum is %d", KMS_MAX_ADMINS);
	config->admins[config->admin_count++] = identity;
	return 0;
}

// Applies one setting by its option name (without dashes); used for both
// the command line and the config file.
static int apply_setting(struct kms_config *config, const char *name, const char *value)
{
	if (strcmp(name, "listen") == 0)
		config->listen = value;
	else if (strcmp(name, "state-dir") == 0)
		config->state_dir = value;
	else if (strcmp(name, "cert") == 0)
		config->cert_path = value;
	else if (strcmp(name, "key") == 0)
		config->key_path = value;
	else if (strcmp(name, "client-ca") == 0)
		config->client_ca_path = value;
	else if (strcmp(name, "admin") == 0)
		return add_admin(config, value);
	else if (strcmp(name, "max-connections") == 0)
		return parse_positive("max-connections", value, &config->max_connections);
	else if (strcmp(name, "idle-timeout") == 0)
		return parse_positive("idle-timeout", value, &config->idle_timeout_seconds);
	else if (strcmp(name, "busy-poll-us") == 0)
		return parse_busy_poll(value, &config->busy_poll_us);
	else if (strcmp(name, "port-file") == 0)
		config->port_file = value;
	else if (strcmp(name, "enroll-server") == 0)
		enrollment.server = value;
	else if (strcmp(name, "enroll-token-file") == 0)
		enrollment_token_file = value;
	else if (strcmp(name, "enroll-san") == 0) {
		if (enrollment.san_count == CA_SAN_MAX)
			return cli_usage_error("at most %d --enroll-san options", CA_SAN_MAX);
		enrollment_sans[enrollment.san_count++] = value;
	} else
		return cli_usage_error("unknown setting '%s'", name);
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

// Reads NAME = VALUE lines ('#' starts a comment). The file's buffer is
// kept for the life of the process because config points into it.
static int load_config_file(struct kms_config *config, const char *path)
{
	char *data;
	size_t size;
	struct cf_error err = { 0 };

	int rc = cf_read_file(path, 1024 * 1024, &data, &size, &err);
	if (rc != 0)
		return cli_fail(rc, &err);

	int line_number = 0;
	for (char *line = strtok(data, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		line_number++;
		char *text = trim(line);
		if (*text == '\0' || *text == '#')
			continue;
		char *equals = strchr(text, '=');
		if (equals == NULL)
			return cli_usage_error("%s line %d: expected NAME = VALUE", path, line_number);
		*equals = '\0';
		rc = apply_setting(config, trim(text), trim(equals + 1));
		if (rc != 0) {
			fprintf(stderr, "coffer: in %s line %d\n", path, line_number);
			return rc;
		}
	}
	return 0;
}

// Obtains the server certificate from coffer's CA (or reuses a valid one
// at --cert) and starts renewing it at two thirds of its lifetime.
static int start_renewer(const struct kms_config *config, struct ca_renewer **out,
			 struct cf_error *err)
{
	static char chain_path[4096];
	char *token = NULL;
	size_t token_size = 0;
	int rc;

	snprintf(chain_path, sizeof(chain_path), "%s.chain", config->cert_path);
	struct ca_renewer_options options = { .enroll = enrollment };
	options.enroll.root_path = config->client_ca_path;
	options.enroll.key_path = config->key_path;
	options.enroll.cert_path = config->cert_path;
	options.enroll.chain_path = chain_path;
	if (enrollment_token_file != NULL) {
		rc = cf_read_file(enrollment_token_file, CA_TOKEN_TEXT_SIZE, &token, &token_size, err);
		if (rc != 0)
			return rc;
		token[strcspn(token, "\r\n")] = '\0';
		options.enroll.token = token;
	}
	rc = ca_renewer_new(&options, out, err);
	if (rc == 0)
		rc = ca_renewer_start(*out, err);
	if (token != NULL) {
		cf_wipe(token, token_size);
		free(token);
	}
	return rc;
}

static void serve_usage(FILE *out)
{
	fprintf(out,
		"Usage: coffer kms serve [OPTIONS]\n\n"
		"Runs the Key Management Server: KMIP 1.0-1.4 over mutual TLS (1.2 and 1.3).\n\n"
		"  --config FILE          read settings (NAME = VALUE lines, same names as the\n"
		"                         options) before the command line\n"
		"  --listen HOST:PORT     address to listen on (default 0.0.0.0:5696)\n"
		"  --state-dir DIR        key store directory (required)\n"
		"  --cert FILE            server certificate chain, PEM (required)\n"
		"  --key FILE             server private key, PEM (required)\n"
		"  --client-ca FILE       CA bundle that client certificates must chain to (required)\n"
		"  --admin IDENTITY       identity allowed to use every object; repeatable\n"
		"  --max-connections N    concurrent connections (default 256)\n"
		"  --idle-timeout SEC     close connections idle this long (default 300)\n"
		"  --busy-poll-us US      while there are fewer connections than CPUs, wait for\n"
		"                         a connection's next request by polling for up to US\n"
		"                         microseconds before sleeping (default 50; 0 turns it\n"
		"                         off); saves the cost of waking an idle CPU\n"
		"  --port-file FILE       write the bound port here once listening\n"
		"  --enroll-server HOST:PORT  obtain --cert and --key from a coffer CA over EST\n"
		"                         and renew them in the background; --client-ca is the\n"
		"                         CA's root.pem and the chain is written to CERT.chain\n"
		"  --enroll-token-file FILE  bootstrap token, used when --cert is missing or expired\n"
		"  --enroll-san SAN       SAN to request (DNS:, IP: or URI:); repeatable\n"
		"  --log-level LEVEL      debug, info, warn or error (default info)\n");
}

static int kms_serve_command(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "client-ca", required_argument, NULL, 'A' },
		{ "admin", required_argument, NULL, 'a' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "busy-poll-us", required_argument, NULL, 'b' },
		{ "enroll-server", required_argument, NULL, 'E' },
		{ "enroll-token-file", required_argument, NULL, 'T' },
		{ "enroll-san", required_argument, NULL, 'S' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kms_config config = {
		.listen = "0.0.0.0:5696",
		.max_connections = 256,
		.idle_timeout_seconds = 300,
		.busy_poll_us = KMS_DEFAULT_BUSY_POLL_US,
		.max_message = KMIP_DEFAULT_MAX_MESSAGE,
	};
	int opt, rc;

	// The config file is applied first so that options override it.
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--config") == 0) {
			rc = load_config_file(&config, argv[i + 1]);
			if (rc != 0)
				return rc;
		}
	}

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		const char *name = NULL;
		switch (opt) {
		case 'c': continue;
		case 'l': name = "listen"; break;
		case 's': name = "state-dir"; break;
		case 'C': name = "cert"; break;
		case 'K': name = "key"; break;
		case 'A': name = "client-ca"; break;
		case 'a': name = "admin"; break;
		case 'm': name = "max-connections"; break;
		case 'i': name = "idle-timeout"; break;
		case 'p': name = "port-file"; break;
		case 'b': name = "busy-poll-us"; break;
		case 'E': name = "enroll-server"; break;
		case 'T': name = "enroll-token-file"; break;
		case 'S': name = "enroll-san"; break;
		case 'L': {
			enum cf_log_level level;
			if (cf_log_parse_level(optarg, &level) != 0)
				return cli_usage_error("--log-level '%s' is invalid; use debug, info, warn or error",
						       optarg);
			cf_log_set_level(level);
			continue;
		}
		case 'h':
			serve_usage(stdout);
			return CLI_EXIT_OK;
		default:
			serve_usage(stderr);
			return CLI_EXIT_USAGE;
		}
		rc = apply_setting(&config, name, optarg);
		if (rc != 0)
			return rc;
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (config.state_dir == NULL || config.cert_path == NULL || config.key_path == NULL ||
	    config.client_ca_path == NULL)
		return cli_usage_error("kms serve needs --state-dir, --cert, --key and --client-ca "
				       "(on the command line or in --config)");

	struct cf_error err = { 0 };
	struct ca_renewer *renewer = NULL;
	if (enrollment.server != NULL) {
		rc = start_renewer(&config, &renewer, &err);
		if (rc != 0)
			return cli_fail(rc, &err);
		config.renewer = renewer;
	}
	rc = kms_serve(&config, &err);
	ca_renewer_free(renewer);
	if (rc != 0)
		return cli_fail(rc, &err);
	return CLI_EXIT_OK;
}

// ---- local store commands ----------------------------------------------------

// Opens the store of --state-dir. anchor, when not NULL, receives the
// value of --anchor (NULL when it is not given); without it, --anchor is
// an unknown option.
static int open_local_store(int argc, char **argv, const char *usage, struct ks_store **store,
			    const char **anchor)
{
	static const struct option options[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "anchor", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	int opt;

	if (anchor != NULL)
		*anchor = NULL;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 's') {
			dir = optarg;
		} else if (opt == 'a' && anchor != NULL) {
			*anchor = optarg;
		} else if (opt == 'h') {
			printf("%s", usage);
			return -1;
		} else {
			fprintf(stderr, "%s", usage);
			return CLI_EXIT_USAGE;
		}
	}
	if (dir == NULL)
		return cli_usage_error("--state-dir DIR is required");
	char db_path[4096];
	snprintf(db_path, sizeof(db_path), "%s/keys.db", dir);
	if (access(db_path, F_OK) != 0)
		return cli_usage_error("no key store in %s (%s not found); is --state-dir the one"
				       " `coffer kms serve` uses?", dir, db_path);

	struct ks_options ks = { .dir = dir };
	struct cf_error err = { 0 };
	int rc = ks_open(store, &ks, &err);
	if (rc != 0)
		return cli_fail(rc, &err);
	return 0;
}

// Parses SEQ:HASH (decimal sequence number, 64 hex digits).
static int parse_anchor(const char *text, struct cf_audit_point *point)
{
	char *end;
	long long seq = strtoll(text, &end, 10);
	if (end == text || *end != ':' || seq < 1 || strlen(end + 1) != 2 * CF_AUDIT_HASH_SIZE)
		return -EINVAL;
	point->seq = seq;
	return cf_hex_decode(end + 1, point->hash, sizeof(point->hash)) == 0 ? 0 : -EINVAL;
}

static int kms_audit_command(int argc, char **argv)
{
	static const char usage[] =
		"Usage: coffer kms audit verify --state-dir DIR [--anchor SEQ:HASH]\n\n"
		"Walks the audit chain of the key store in DIR and names the first broken record.\n"
		"On success it prints the chain's head as SEQ:HASH. The chain alone cannot show\n"
		"that its newest records were removed: keep each head somewhere else, and pass\n"
		"it back with --anchor on the next check, which then also fails unless that\n"
		"record is still in the chain, unchanged.\n"
		"Run it while the KMS is stopped: a running server holds the database exclusively.\n";
	struct ks_store *store;

	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		if (argc >= 2 && cli_is_help(argv[1])) {
			printf("%s", usage);
			return CLI_EXIT_OK;
		}
		fprintf(stderr, "%s", usage);
		return CLI_EXIT_USAGE;
	}
	const char *anchor_text = NULL;
	struct cf_audit_point anchor, head;
	int rc = open_local_store(argc - 1, argv + 1, usage, &store, &anchor_text);
	if (rc != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (anchor_text != NULL && parse_anchor(anchor_text, &anchor) != 0) {
		ks_close(store);
		return cli_usage_error("--anchor '%s' is invalid; use SEQ:HASH as printed by an"
				       " earlier audit verify", anchor_text);
	}

	int64_t records = 0, first_broken = 0;
	struct cf_error err = { 0 };
	rc = ks_audit_verify_anchored(store, anchor_text != NULL ? &anchor : NULL, &head, &records,
				      &first_broken, &err);
	ks_close(store);
	if (rc == -EBADMSG) {
		fprintf(stderr, "coffer: audit chain broken at record %lld (%lld records read): %s\n",
			(long long)first_broken, (long long)records, cf_error_message(&err, rc));
		return CLI_EXIT_FAILED;
	}
	if (rc != 0)
		return cli_fail(rc, &err);
	char hex[2 * CF_AUDIT_HASH_SIZE + 1];
	cf_hex_encode(head.hash, sizeof(head.hash), hex);
	printf("audit chain intact: %lld records%s\nhead: %lld:%s\n", (long long)records,
	       anchor_text != NULL ? ", anchor found" : "", (long long)head.seq, hex);
	return CLI_EXIT_OK;
}

static int kms_rotate_kek_command(int argc, char **argv)
{
	static const char usage[] =
		"Usage: coffer kms rotate-kek --state-dir DIR\n\n"
		"Adds a new KEK version and rewraps every stored key under it; keys do not change.\n"
		"Run it while the KMS is stopped: a running server holds the database exclusively.\n";
	struct ks_store *store;

	int rc = open_local_store(argc, argv, usage, &store, NULL);
	if (rc != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;

	struct ks_caller admin = { "local-admin", true };
	struct cf_error err = { 0 };
	int version = 0;
	int64_t rewrapped = 0;
	rc = ks_rotate_kek(store, &admin, &version, &rewrapped, &err);
	ks_close(store);
	if (rc != 0)
		return cli_fail(rc, &err);
	printf("KEK version %d now wraps %lld keys\n", version, (long long)rewrapped);
	return CLI_EXIT_OK;
}

// ---- admin client commands -----------------------------------------------------

struct client_args {
	const char *server;
	const char *cert;
	const char *key;
	const char *ca;
	const char *name;
	const char *group;
	const char *state;
	const char *reason;
	const char *add;
	const char *remove;
	int bits;
	int max_items;
	bool export;
	bool no_activate;
	const char *id;
};

static void client_usage(FILE *out, const char *command)
{
	fprintf(out,
		"Usage: coffer kms %s [OPTIONS]%s\n\n"
		"Connection (every command):\n"
		"  --server HOST:PORT   KMS address (default 127.0.0.1:5696)\n"
		"  --cert FILE          client certificate, PEM (required)\n"
		"  --key FILE           client private key, PEM (required)\n"
		"  --ca FILE            CA bundle for the server certificate (required)\n\n"
		"create:     --bits N (128, 192 or 256; default 256), --name NAME, --no-activate\n"
		"get:        ID [--export]  (metadata only unless --export prints the key in hex)\n"
		"locate:     [--name NAME] [--group GROUP] [--state STATE] [--max N]\n"
		"revoke:     ID [--reason cessation|compromise] (default cessation)\n"
		"destroy:    ID\n"
		"attributes: ID [--add x-NAME=TEXT] [--delete x-NAME]\n",
		command, strcmp(command, "create") == 0 || strcmp(command, "locate") == 0 ? "" : " ID");
}

static int parse_client_args(int argc, char **argv, bool needs_id, struct client_args *a)
{
	static const struct option options[] = {
		{ "server", required_argument, NULL, 'S' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "ca", required_argument, NULL, 'A' },
		{ "name", required_argument, NULL, 'n' },
		{ "group", required_argument, NULL, 'g' },
		{ "state", required_argument, NULL, 't' },
		{ "reason", required_argument, NULL, 'r' },
		{ "add", required_argument, NULL, 'a' },
		{ "delete", required_argument, NULL, 'd' },
		{ "bits", required_argument, NULL, 'b' },
		{ "max", required_argument, NULL, 'm' },
		{ "export", no_argument, NULL, 'e' },
		{ "no-activate", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc;

	memset(a, 0, sizeof(*a));
	a->server = "127.0.0.1:5696";
	a->bits = 256;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'S': a->server = optarg; break;
		case 'C': a->cert = optarg; break;
		case 'K': a->key = optarg; break;
		case 'A': a->ca = optarg; break;
		case 'n': a->name = optarg; break;
		case 'g': a->group = optarg; break;
		case 't': a->state = optarg; break;
		case 'r': a->reason = optarg; break;
		case 'a': a->add = optarg; break;
		case 'd': a->remove = optarg; break;
		case 'e': a->export = true; break;
		case 'N': a->no_activate = true; break;
		case 'b':
			rc = parse_positive("--bits", optarg, &a->bits);
			if (rc != 0)
				return rc;
			break;
		case 'm':
			rc = parse_positive("--max", optarg, &a->max_items);
			if (rc != 0)
				return rc;
			break;
		case 'h':
			client_usage(stdout, cli_command_word(argv[0]));
			return -1;
		default:
			client_usage(stderr, cli_command_word(argv[0]));
			return CLI_EXIT_USAGE;
		}
	}
	if (needs_id) {
		if (optind != argc - 1)
			return cli_usage_error("kms %s needs exactly one key ID",
					       cli_command_word(argv[0]));
		a->id = argv[optind];
	} else if (optind < argc) {
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	}
	if (a->cert == NULL || a->key == NULL || a->ca == NULL)
		return cli_usage_error("kms %s needs --cert, --key and --ca",
				       cli_command_word(argv[0]));
	return 0;
}

static int connect_client(const struct client_args *a, struct kmip_client **client)
{
	char host[256];
	const char *colon = strrchr(a->server, ':');
	struct cf_error err = { 0 };

	if (colon == NULL || colon == a->server || (size_t)(colon - a->server) >= sizeof(host))
		return cli_usage_error("--server '%s' is invalid; use HOST:PORT", a->server);
	memcpy(host, a->server, (size_t)(colon - a->server));
	host[colon - a->server] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}

	struct kmip_client_options options = {
		.host = host, .port = colon + 1, .cert_path = a->cert, .key_path = a->key,
		.ca_path = a->ca,
	};
	int rc = kmip_client_new(client, &options, &err);
	if (rc != 0)
		return cli_fail(rc, &err);
	return 0;
}

// Sends a one-item request built by the caller and prints a failure.
static int call_one(struct kmip_client *client, struct kmip_buf *request,
		    struct kmip_response *resp)
{
	struct cf_error err = { 0 };
	int rc = kmip_client_call(client, request, resp, &err);
	if (rc != 0)
		return cli_fail(rc, &err);
	if (resp->count != 1) {
		kmip_response_free(resp);
		return cli_fail(-EBADMSG, NULL);
	}
	rc = kmip_result_error(&resp->items[0], &err);
	if (rc != 0) {
		kmip_response_free(resp);
		return cli_fail(rc, &err);
	}
	return 0;
}

static const char *object_type_name(uint32_t type)
{
	if (type == 2)
		return "Symmetric Key";
	if (type == 7)
		return "Secret Data";
	return "other";
}

static void print_value(const char *name, const struct kmip_item *value)
{
	char text[512];

	switch (value->type) {
	case KMIP_TYPE_TEXT_STRING:
		printf("%.*s", (int)value->v.bytes.size, (const char *)value->v.bytes.data);
		break;
	case KMIP_TYPE_INTEGER:
		if (strcmp(name, "Cryptographic Usage Mask") == 0)
			printf("0x%x", (unsigned)value->v.integer);
		else
			printf("%d", value->v.integer);
		break;
	case KMIP_TYPE_ENUMERATION:
		if (strcmp(name, "State") == 0)
			printf("%s", kmip_state_name(value->v.enumeration));
		else if (strcmp(name, "Object Type") == 0)
			printf("%s", object_type_name(value->v.enumeration));
		else if (strcmp(name, "Cryptographic Algorithm") == 0 && value->v.enumeration == 3)
			printf("AES");
		else
			printf("%u", value->v.enumeration);
		break;
	case KMIP_TYPE_DATE_TIME: {
		time_t t = (time_t)value->v.long_integer;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%s", text);
		break;
	}
	case KMIP_TYPE_STRUCTURE:
		if (kmip_get_text(value, KMIP_TAG_NAME_VALUE, text, sizeof(text)) == 0)
			printf("%s", text);
		else
			printf("(structure)");
		break;
	case KMIP_TYPE_BOOLEAN:
		printf("%s", value->v.boolean ? "true" : "false");
		break;
	default:
		printf("(%zu bytes)", value->v.bytes.size);
		break;
	}
}

static void print_attributes(const struct kmip_item *payload)
{
	const struct kmip_item *attribute = NULL;
	while ((attribute = kmip_find_next(payload, KMIP_TAG_ATTRIBUTE, attribute)) != NULL) {
		char name[128];
		const struct kmip_item *value = kmip_find(attribute, KMIP_TAG_ATTRIBUTE_VALUE);
		if (kmip_get_text(attribute, KMIP_TAG_ATTRIBUTE_NAME, name, sizeof(name)) != 0 ||
		    value == NULL)
			continue;
		printf("%-26s ", name);
		print_value(name, value);
		putchar('\n');
	}
}

static void begin_single(struct kmip_buf *b, uint32_t operation, size_t *message, size_t *item,
			 size_t *payload)
{
	*message = kmip_enc_request_start(b, (struct kmip_version){ 1, 4 }, 1);
	*item = kmip_enc_begin(b, KMIP_TAG_BATCH_ITEM);
	kmip_enc_enum(b, KMIP_TAG_OPERATION, operation);
	*payload = kmip_enc_begin(b, KMIP_TAG_REQUEST_PAYLOAD);
}

static void end_single(struct kmip_buf *b, size_t message, size_t item, size_t payload)
{
	kmip_enc_end(b, payload);
	kmip_enc_end(b, item);
	kmip_enc_end(b, message);
}

static int show_attributes(struct kmip_client *client, const char *id)
{
	struct kmip_buf b;
	struct kmip_response resp;
	size_t message, item, payload;

	kmip_buf_init(&b, 0);
	begin_single(&b, KMIP_OP_GET_ATTRIBUTES, &message, &item, &payload);
	kmip_enc_text(&b, KMIP_TAG_UNIQUE_IDENTIFIER, id);
	end_single(&b, message, item, payload);
	int rc = call_one(client, &b, &resp);
	kmip_buf_free(&b);
	if (rc != 0)
		return rc;
	print_attributes(resp.items[0].payload);
	kmip_response_free(&resp);
	return CLI_EXIT_OK;
}

static int change_attribute(struct kmip_client *client, const struct client_args *a)
{
	struct kmip_buf b;
	struct kmip_response resp;
	size_t message, item, payload;
	const char *spec = a->add != NULL ? a->add : a->remove;

	if (strncmp(spec, "x-", 2) != 0)
		return cli_usage_error("attribute '%s' is invalid; custom attributes start with x-", spec);
	kmip_buf_init(&b, 0);
	if (a->add != NULL) {
		const char *equals = strchr(a->add, '=');
		if (equals == NULL) {
			kmip_buf_free(&b);
			return cli_usage_error("--add '%s' is invalid; use x-NAME=TEXT", a->add);
		}
		begin_single(&b, KMIP_OP_ADD_ATTRIBUTE, &message, &item, &payload);
		kmip_enc_text(&b, KMIP_TAG_UNIQUE_IDENTIFIER, a->id);
		size_t attribute = kmip_enc_begin(&b, KMIP_TAG_ATTRIBUTE);
		kmip_enc_text_n(&b, KMIP_TAG_ATTRIBUTE_NAME, a->add, (size_t)(equals - a->add));
		kmip_enc_text(&b, KMIP_TAG_ATTRIBUTE_VALUE, equals + 1);
		kmip_enc_end(&b, attribute);
	} else {
		begin_single(&b, KMIP_OP_DELETE_ATTRIBUTE, &message, &item, &payload);
		kmip_enc_text(&b, KMIP_TAG_UNIQUE_IDENTIFIER, a->id);
		kmip_enc_text(&b, KMIP_TAG_ATTRIBUTE_NAME, a->remove);
	}
	end_single(&b, message, item, payload);
	int rc = call_one(client, &b, &resp);
	kmip_buf_free(&b);
	if (rc != 0)
		return rc;
	kmip_response_free(&resp);
	return CLI_EXIT_OK;
}

static int parse_state(const char *text, uint32_t *state)
{
	static const char *const names[] = { "pre-active", "active", "deactivated",
					     "compromised", "destroyed", "destroyed-compromised" };
	for (uint32_t i = 0; i < 6; i++) {
		if (strcmp(text, names[i]) == 0) {
			*state = i + 1;
			return 0;
		}
	}
	return cli_usage_error("--state '%s' is invalid; use pre-active, active, deactivated, "
			       "compromised, destroyed or destroyed-compromised", text);
}

static int locate(struct kmip_client *client, const struct client_args *a)
{
	struct kmip_buf b;
	struct kmip_response resp;
	size_t message, item, payload, attribute;
	uint32_t state = 0;

	if (a->state != NULL && parse_state(a->state, &state) != 0)
		return CLI_EXIT_USAGE;
	kmip_buf_init(&b, 0);
	begin_single(&b, KMIP_OP_LOCATE, &message, &item, &payload);
	if (a->max_items > 0)
		kmip_enc_int(&b, KMIP_TAG_MAXIMUM_ITEMS, a->max_items);
	if (a->name != NULL) {
		attribute = kmip_enc_begin(&b, KMIP_TAG_ATTRIBUTE);
		kmip_enc_text(&b, KMIP_TAG_ATTRIBUTE_NAME, "Name");
		size_t value = kmip_enc_begin(&b, KMIP_TAG_ATTRIBUTE_VALUE);
		kmip_enc_text(&b, KMIP_TAG_NAME_VALUE, a->name);
		kmip_enc_enum(&b, KMIP_TAG_NAME_TYPE, 1);
		kmip_enc_end(&b, value);
		kmip_enc_end(&b, attribute);
	}
	if (a->group != NULL) {
		attribute = kmip_enc_begin(&b, KMIP_TAG_ATTRIBUTE);
		kmip_enc_text(&b, KMIP_TAG_ATTRIBUTE_NAME, "Object Group");
		kmip_enc_text(&b, KMIP_TAG_ATTRIBUTE_VALUE, a->group);
		kmip_enc_end(&b, attribute);
	}
	if (state != 0) {
		attribute = kmip_enc_begin(&b, KMIP_TAG_ATTRIBUTE);
		kmip_enc_text(&b, KMIP_TAG_ATTRIBUTE_NAME, "State");
		kmip_enc_enum(&b, KMIP_TAG_ATTRIBUTE_VALUE, state);
		kmip_enc_end(&b, attribute);
	}
	end_single(&b, message, item, payload);
	int rc = call_one(client, &b, &resp);
	kmip_buf_free(&b);
	if (rc != 0)
		return rc;
	const struct kmip_item *id = NULL;
	while ((id = kmip_find_next(resp.items[0].payload, KMIP_TAG_UNIQUE_IDENTIFIER, id)) != NULL) {
		if (id->type == KMIP_TYPE_TEXT_STRING)
			printf("%.*s\n", (int)id->v.bytes.size, (const char *)id->v.bytes.data);
	}
	kmip_response_free(&resp);
	return CLI_EXIT_OK;
}

static int export_key(struct kmip_client *client, const char *id)
{
	uint8_t *material = NULL;
	size_t size = 0;
	struct cf_error err = { 0 };

	int rc = kmip_client_get(client, id, &material, &size, &err);
	if (rc != 0)
		return cli_fail(rc, &err);
	char *hex = cf_secure_alloc(2 * size + 1);
	if (hex == NULL) {
		cf_secure_free(material);
		return cli_fail(-ENOMEM, NULL);
	}
	cf_hex_encode(material, size, hex);
	printf("%s\n", hex);
	cf_secure_free(hex);
	cf_secure_free(material);
	return CLI_EXIT_OK;
}

static int run_client_command(int argc, char **argv)
{
	const char *command = cli_command_word(argv[0]);
	bool needs_id = strcmp(command, "create") != 0 && strcmp(command, "locate") != 0;
	struct client_args a;
	struct kmip_client *client = NULL;
	struct cf_error err = { 0 };
	char id[KMIP_ID_MAX];

	int rc = parse_client_args(argc, argv, needs_id, &a);
	if (rc != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	rc = connect_client(&a, &client);
	if (rc != 0)
		return rc;

	if (strcmp(command, "create") == 0) {
		rc = kmip_client_create(client, a.bits, a.name, !a.no_activate, id, &err);
		if (rc == 0)
			printf("%s\n", id);
		else
			rc = cli_fail(rc, &err);
	} else if (strcmp(command, "get") == 0) {
		rc = a.export ? export_key(client, a.id) : show_attributes(client, a.id);
	} else if (strcmp(command, "attributes") == 0) {
		rc = a.add != NULL || a.remove != NULL ? change_attribute(client, &a)
						       : show_attributes(client, a.id);
	} else if (strcmp(command, "locate") == 0) {
		rc = locate(client, &a);
	} else if (strcmp(command, "revoke") == 0) {
		uint32_t code = 6;
		if (a.reason != NULL && strcmp(a.reason, "compromise") == 0)
			code = 2;
		else if (a.reason != NULL && strcmp(a.reason, "cessation") != 0)
			rc = cli_usage_error("--reason '%s' is invalid; use cessation or compromise",
					     a.reason);
		if (rc == 0) {
			rc = kmip_client_revoke(client, a.id, code, &err);
			if (rc != 0)
				rc = cli_fail(rc, &err);
		}
	} else if (strcmp(command, "destroy") == 0) {
		rc = kmip_client_destroy(client, a.id, &err);
		if (rc != 0)
			rc = cli_fail(rc, &err);
	}
	kmip_client_free(client);
	return rc;
}

int cmd_kms(int argc, char **argv)
{
	static const struct cli_command commands[] = {
		{ "serve", "run the Key Management Server (KMIP over mutual TLS)", kms_serve_command },
		{ "audit", "verify the audit chain of a KMS state directory", kms_audit_command },
		{ "rotate-kek", "rewrap every key under a new key-encryption key", kms_rotate_kek_command },
		{ "create", "create an AES key on a KMS", run_client_command },
		{ "get", "show a key's metadata (or, with --export, its value)", run_client_command },
		{ "locate", "find keys by name, group or state", run_client_command },
		{ "revoke", "revoke a key", run_client_command },
		{ "destroy", "destroy a revoked or pre-active key", run_client_command },
		{ "attributes", "show, add or delete a key's attributes", run_client_command },
		{ NULL, NULL, NULL },
	};
	return cli_dispatch("coffer kms", commands, argc, argv);
}
