// SPDX-License-Identifier: Apache-2.0
// `coffer storage hook`: an OCI runtime hook that enforces one container
// per volume under podman. Podman calls the volume plugin's Mount only for
// the first container of a volume and counts later ones itself, so the
// plugin alone never learns of a second container. At prestart the hook
// sends the container's bind-mount sources to the storage manager, which
// rejects the container when one of them is a coffer volume already used by
// another container. At poststop the hook releases the container's claims.
// `coffer storage hook-config` writes the hook files podman reads.

#include "cli.h"

#include <coffer/plugin.h>

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOOK_STATE_MAX (1024 * 1024)
#define HOOK_CONFIG_MAX (16 * 1024 * 1024)

static void print_hook_help(FILE *out)
{
	fprintf(out,
		"Usage: coffer storage hook prestart|poststop [--admin-socket PATH]\n"
		"\n"
		"Runs as an OCI runtime hook: reads the container state from standard input.\n"
		"prestart claims the coffer volumes bound into the container and fails (exit 1,\n"
		"which stops the container from starting) when one of them is already used by\n"
		"another container and was not created with -o shared=true. poststop releases\n"
		"the container's claims. When the storage manager cannot be reached the hook\n"
		"prints a warning and exits 0, so containers without coffer volumes still run.\n"
		"\n"
		"Options:\n"
		"  --admin-socket PATH  the storage manager's admin socket (default %s)\n"
		"  -h, --help           show this help\n",
		PLUGIN_DEFAULT_ADMIN_SOCKET);
}

static void print_hook_config_help(FILE *out)
{
	fprintf(out,
		"Usage: coffer storage hook-config --dir DIR [--admin-socket PATH]\n"
		"\n"
		"Writes coffer-prestart.json and coffer-poststop.json into DIR: OCI hook\n"
		"definitions that make podman run 'coffer storage hook' for every container.\n"
		"Point podman at DIR with hooks_dir in containers.conf or --hooks-dir.\n"
		"\n"
		"Options:\n"
		"  --dir DIR            where to write the hook files (created when missing)\n"
		"  --admin-socket PATH  the storage manager's admin socket (default %s)\n"
		"  -h, --help           show this help\n",
		PLUGIN_DEFAULT_ADMIN_SOCKET);
}

// Adds the source of every bind mount in the OCI config to paths.
static int collect_bind_sources(json_t *config, json_t *paths)
{
	json_t *mounts = json_object_get(config, "mounts");
	size_t i;
	json_t *mount;

	if (mounts == NULL)
		return 0;
	if (!json_is_array(mounts))
		return -EINVAL;
	json_array_foreach(mounts, i, mount) {
		json_t *source = json_object_get(mount, "source");
		json_t *type = json_object_get(mount, "type");
		json_t *options = json_object_get(mount, "options");
		bool bind = json_is_string(type) && strcmp(json_string_value(type), "bind") == 0;
		size_t j;
		json_t *option;

		json_array_foreach(options, j, option) {
			const char *text = json_string_value(option);
			if (text != NULL && (strcmp(text, "bind") == 0 || strcmp(text, "rbind") == 0))
				bind = true;
		}
		if (bind && json_is_string(source))
			json_array_append(paths, source);
	}
	return 0;
}

static int send_claim(const char *socket, const char *body, const char *path,
		      const char *method)
{
	struct cf_error err = { 0 };
	int status = 0;
	char *response = NULL;

	int rc = plugin_admin_request(socket, method, path, body, &status, &response, &err);
	if (rc != 0) {
		fprintf(stderr, "coffer storage hook: warning: %s; volume claims are not enforced for"
				" this container\n", cf_error_message(&err, rc));
		return CLI_EXIT_OK;
	}
	if (status == 200) {
		free(response);
		return CLI_EXIT_OK;
	}

	json_t *reply = json_loads(response ? response : "", 0, NULL);
	const char *message = json_string_value(json_object_get(reply, "error"));
	fprintf(stderr, "coffer: %s\n", message ? message : (response ? response : "claim failed"));
	json_decref(reply);
	free(response);
	return CLI_EXIT_FAILED;
}

static int run_hook(const char *stage, const char *socket)
{
	char *state_text = NULL, *config_text = NULL, config_path[PATH_MAX];
	json_t *state = NULL, *config = NULL, *paths = NULL;
	struct cf_error err = { 0 };
	int exit_code = CLI_EXIT_FAILED;

	int rc = cf_read_file("/dev/stdin", HOOK_STATE_MAX, &state_text, NULL, &err);
	if (rc != 0) {
		fprintf(stderr, "coffer storage hook: cannot read the container state: %s\n",
			cf_error_message(&err, rc));
		goto out;
	}
	state = json_loads(state_text, 0, NULL);
	const char *id = json_string_value(json_object_get(state, "id"));
	const char *bundle = json_string_value(json_object_get(state, "bundle"));
	if (id == NULL) {
		fprintf(stderr, "coffer storage hook: the container state on standard input has no"
				" \"id\"\n");
		goto out;
	}

	if (strcmp(stage, "poststop") == 0) {
		char path[600];
		snprintf(path, sizeof(path), "/v1/claims/%s", id);
		exit_code = send_claim(socket, NULL, path, "DELETE");
		goto out;
	}

	if (bundle == NULL) {
		fprintf(stderr, "coffer storage hook: the container state has no \"bundle\"\n");
		goto out;
	}
	snprintf(config_path, sizeof(config_path), "%s/config.json", bundle);
	rc = cf_read_file(config_path, HOOK_CONFIG_MAX, &config_text, NULL, &err);
	if (rc == 0) {
		config = json_loads(config_text, 0, NULL);
		paths = json_array();
	}
	if (rc != 0 || config == NULL || paths == NULL || collect_bind_sources(config, paths) != 0) {
		fprintf(stderr, "coffer storage hook: cannot read the mounts of %s: %s\n", config_path,
			rc ? cf_error_message(&err, rc) : "invalid JSON");
		goto out;
	}
	if (json_array_size(paths) == 0) {
		exit_code = CLI_EXIT_OK;
		goto out;
	}

	json_t *claim = json_pack("{s:s, s:O}", "container", id, "paths", paths);
	char *body = claim ? json_dumps(claim, JSON_COMPACT) : NULL;
	json_decref(claim);
	if (body == NULL) {
		fprintf(stderr, "coffer storage hook: out of memory\n");
		goto out;
	}
	exit_code = send_claim(socket, body, "/v1/claims", "POST");
	free(body);

out:
	json_decref(paths);
	json_decref(config);
	json_decref(state);
	free(config_text);
	free(state_text);
	return exit_code;
}

int storage_hook_command(int argc, char **argv)
{
	static const struct option options[] = {
		{ "admin-socket", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket = PLUGIN_DEFAULT_ADMIN_SOCKET;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'a') {
			socket = optarg;
		} else if (opt == 'h') {
			print_hook_help(stdout);
			return CLI_EXIT_OK;
		} else {
			return cli_usage_error("run 'coffer storage hook --help' for the options");
		}
	}
	if (optind + 1 != argc ||
	    (strcmp(argv[optind], "prestart") != 0 && strcmp(argv[optind], "poststop") != 0))
		return cli_usage_error("'coffer storage hook' takes one stage: prestart or poststop");
	return run_hook(argv[optind], socket);
}

static int write_hook_file(const char *dir, const char *stage, const char *coffer,
			   const char *socket)
{
	char path[PATH_MAX];
	json_t *hook = json_pack("{s:s, s:{s:s, s:[s,s,s,s,s,s]}, s:{s:b}, s:[s]}",
				 "version", "1.0.0",
				 "hook", "path", coffer, "args", "coffer", "storage", "hook", stage,
				 "--admin-socket", socket,
				 "when", "always", 1,
				 "stages", stage);

	snprintf(path, sizeof(path), "%s/coffer-%s.json", dir, stage);
	int rc = hook ? json_dump_file(hook, path, JSON_INDENT(2)) : -1;
	json_decref(hook);
	if (rc != 0) {
		fprintf(stderr, "coffer: cannot write %s\n", path);
		return CLI_EXIT_FAILED;
	}
	printf("%s\n", path);
	return CLI_EXIT_OK;
}

int storage_hook_config_command(int argc, char **argv)
{
	static const struct option options[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "admin-socket", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket = PLUGIN_DEFAULT_ADMIN_SOCKET, *dir = NULL;
	char coffer[PATH_MAX], absolute_socket[PATH_MAX];
	struct cf_error err = { 0 };
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'd') {
			dir = optarg;
		} else if (opt == 'a') {
			socket = optarg;
		} else if (opt == 'h') {
			print_hook_config_help(stdout);
			return CLI_EXIT_OK;
		} else {
			return cli_usage_error("run 'coffer storage hook-config --help' for the options");
		}
	}
	if (dir == NULL || optind != argc)
		return cli_usage_error("'coffer storage hook-config' needs --dir DIR and no other"
				       " arguments");

	ssize_t len = readlink("/proc/self/exe", coffer, sizeof(coffer) - 1);
	if (len <= 0)
		return cli_fail(-errno, NULL);
	coffer[len] = '\0';
	// The runtime starts the hook from another directory: make it absolute.
	if (socket[0] != '/') {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return cli_fail(-errno, NULL);
		snprintf(absolute_socket, sizeof(absolute_socket), "%s/%s", cwd, socket);
		socket = absolute_socket;
	}

	int rc = cf_mkdir_p(dir, 0755, &err);
	if (rc != 0)
		return cli_fail(rc, &err);
	if (write_hook_file(dir, "prestart", coffer, socket) != CLI_EXIT_OK ||
	    write_hook_file(dir, "poststop", coffer, socket) != CLI_EXIT_OK)
		return CLI_EXIT_FAILED;
	return CLI_EXIT_OK;
}
