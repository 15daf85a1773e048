// SPDX-License-Identifier: Apache-2.0
// `coffer storage serve`: runs the Encrypted Storage Manager daemon.

#include "cli.h"

#include <coffer/plugin.h>

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void print_serve_help(FILE *out)
{
	fprintf(out,
		"Usage: coffer storage serve [OPTIONS]\n"
		"\n"
		"Runs the Encrypted Storage Manager: serves the Docker volume plugin API\n"
		"and the admin API used by 'coffer volume' on two unix sockets, until\n"
		"SIGTERM or SIGINT. Then it stops accepting, finishes requests in flight,\n"
		"locks every volume and exits 0.\n"
		"\n"
		"Options (each overrides the same setting from --config):\n"
		"  --state-dir DIR        volume state, key store and pool image (default %s)\n"
		"  --plugin-socket PATH   Docker volume plugin socket, mode 0660\n"
		"                         (default %s)\n"
		"  --admin-socket PATH    admin socket, mode 0600 (default %s)\n"
		"  --pool PATH            use this mounted ext4 filesystem (with the encrypt\n"
		"                         feature) as the fscrypt pool instead of an image\n"
		"  --pool-size SIZE       size of the pool image made in the state directory,\n"
		"                         in bytes or with K, M, G, T (powers of 1024); only\n"
		"                         used when the image is first created (default 10G)\n"
		"  --log-level LEVEL      debug, info, warn or error (default info)\n"
		"  --kms kmip://HOST:PORT keep volume keys on this KMIP server instead of the\n"
		"                         embedded key store\n"
		"  --kms-cert FILE        client certificate for the KMS (PEM)\n"
		"  --kms-key FILE         client private key for the KMS (PEM)\n"
		"  --kms-ca FILE          CA bundle for the KMS server certificate (PEM)\n"
		"  --kms-enroll HOST:PORT obtain --kms-cert and --kms-key from a coffer CA over\n"
		"                         EST and renew them in the background; --kms-ca is\n"
		"                         the CA's root.pem and the chain goes to KMS_CERT.chain\n"
		"  --kms-enroll-token-file FILE  bootstrap token for the first enrollment\n"
		"  --kms-enroll-san SANS  comma-separated SANs to request (DNS:, IP:, URI:)\n"
		"  --fuse-uring MODE      request transport of fuse volumes: auto (io_uring\n"
		"                         when the fuse module parameter enable_uring is Y),\n"
		"                         off (/dev/fuse only), require (a mount fails without\n"
		"                         io_uring) or enable (set enable_uring=Y first, a\n"
		"                         kernel-wide setting that only FUSE servers asking\n"
		"                         for io_uring use; then as require); default auto\n"
		"  --config FILE          read settings from FILE: 'key = value' lines with\n"
		"                         the keys state-dir, plugin-socket, admin-socket,\n"
		"                         pool, pool-size, log-level, kms, kms-cert, kms-key,\n"
		"                         kms-ca, kms-enroll, kms-enroll-token-file,\n"
		"                         kms-enroll-san and fuse-uring; '#' starts a comment\n"
		"  -h, --help             show this help\n",
		PLUGIN_DEFAULT_STATE_DIR, PLUGIN_DEFAULT_SOCKET, PLUGIN_DEFAULT_ADMIN_SOCKET);
}

struct setting {
	const char *key;
	const char *value;
};

static int storage_serve_command(int argc, char **argv)
{
	static const struct option options[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "plugin-socket", required_argument, NULL, 'p' },
		{ "admin-socket", required_argument, NULL, 'a' },
		{ "pool", required_argument, NULL, 'P' },
		{ "pool-size", required_argument, NULL, 'S' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "kms", required_argument, NULL, 'k' },
		{ "kms-cert", required_argument, NULL, 'C' },
		{ "kms-key", required_argument, NULL, 'K' },
		{ "kms-ca", required_argument, NULL, 'A' },
		{ "kms-enroll", required_argument, NULL, 'E' },
		{ "kms-enroll-token-file", required_argument, NULL, 'T' },
		{ "kms-enroll-san", required_argument, NULL, 'N' },
		{ "fuse-uring", required_argument, NULL, 'U' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct setting settings[16];
	size_t setting_count = 0;
	const char *config_path = NULL;
	struct storage_config config;
	struct cf_error err = { 0 };
	int opt;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'h') {
			print_serve_help(stdout);
			return CLI_EXIT_OK;
		}
		if (opt == 'c') {
			config_path = optarg;
			continue;
		}
		if (opt == '?')
			return cli_usage_error("run 'coffer storage serve --help' for the options");
		if (setting_count == sizeof(settings) / sizeof(settings[0]))
			return cli_usage_error("too many options");
		// The long option's name is also the configuration key.
		for (const struct option *o = options; o->name != NULL; o++) {
			if (o->val == opt)
				settings[setting_count].key = o->name;
		}
		settings[setting_count++].value = optarg;
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'; 'coffer storage serve' takes only "
				       "options", argv[optind]);

	storage_config_init(&config);
	if (config_path != NULL && storage_config_load(&config, config_path, &err) < 0)
		return cli_usage_error("%s", err.message);
	for (size_t i = 0; i < setting_count; i++) {
		if (storage_config_set(&config, settings[i].key, settings[i].value, &err) < 0)
			return cli_usage_error("%s", err.message);
	}

	if ((config.kms[0] != '\0' || config.kms_enroll[0] != '\0') &&
	    (config.kms_cert[0] == '\0' || config.kms_key[0] == '\0' || config.kms_ca[0] == '\0'))
		return cli_usage_error("--kms and --kms-enroll need --kms-cert, --kms-key and --kms-ca"
				       " (with --kms-enroll, the certificate and key are the files it"
				       " writes and --kms-ca is the CA's root.pem)");

	int rc = storage_serve(&config, &err);
	if (rc < 0)
		return cli_fail(rc, &err);
	return CLI_EXIT_OK;
}

int cmd_storage(int argc, char **argv)
{
	static const struct cli_command commands[] = {
		{ "serve", "run the Encrypted Storage Manager daemon", storage_serve_command },
		{ "hook", "OCI runtime hook that enforces one container per volume",
		  storage_hook_command },
		{ "hook-config", "write the OCI hook files for podman", storage_hook_config_command },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch("coffer storage", commands, argc, argv);
}
