// SPDX-License-Identifier: Apache-2.0
// `coffer volume create|ls|inspect|rm`: a client of the storage manager's
// admin API on its unix socket.

#include "cli.h"

#include <coffer/plugin.h>

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct volume_args {
	const char *admin_socket;
	bool json;
	const char *name;
	json_t *options; // create only
};

static void print_common_options(FILE *out)
{
	fprintf(out,
		"  --admin-socket PATH   the storage manager's admin socket\n"
		"                        (default %s)\n"
		"  -h, --help            show this help\n",
		PLUGIN_DEFAULT_ADMIN_SOCKET);
}

// Sends one admin request and turns the reply into an exit code: the one
// place that maps admin API statuses to exit codes. A 400 reply (invalid
// name or option) is a usage error (2), every other failure exits 1. On
// success, *reply receives the parsed JSON body.
static int call_admin(const struct volume_args *args, const char *method, const char *path,
		      const char *body, json_t **reply)
{
	struct cf_error err = { 0 };
	char *text = NULL;
	int status;

	int rc = plugin_admin_request(args->admin_socket, method, path, body, &status, &text, &err);
	if (rc < 0)
		return cli_fail(rc, &err);

	json_error_t json_err;
	json_t *parsed = json_loads(text, 0, &json_err);
	free(text);
	if (parsed == NULL) {
		fprintf(stderr, "coffer: the storage manager sent invalid JSON (HTTP %d): %s\n", status,
			json_err.text);
		return CLI_EXIT_FAILED;
	}
	if (status != 200) {
		const char *message = json_string_value(json_object_get(parsed, "error"));
		if (message != NULL)
			fprintf(stderr, "coffer: %s\n", message);
		else
			fprintf(stderr, "coffer: the storage manager returned HTTP %d without an error "
				"message\n", status);
		json_decref(parsed);
		return status == 400 ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
	}
	*reply = parsed;
	return CLI_EXIT_OK;
}

// Parses the options shared by every volume command. name_required is
// true when one positional NAME is expected. Returns -1 to continue, or the
// exit code to return now.
static int parse_args(int argc, char **argv, const char *usage, bool name_required,
		      bool allow_format, bool allow_options, struct volume_args *args)
{
	static const struct option options[] = {
		{ "admin-socket", required_argument, NULL, 'a' },
		{ "format", required_argument, NULL, 'f' },
		{ "opt", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(args, 0, sizeof(*args));
	args->admin_socket = PLUGIN_DEFAULT_ADMIN_SOCKET;
	while ((opt = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(usage, stdout);
			print_common_options(stdout);
			return CLI_EXIT_OK;
		case 'a':
			args->admin_socket = optarg;
			break;
		case 'f':
			if (!allow_format)
				return cli_usage_error("--format is not an option of '%s'", argv[0]);
			if (strcmp(optarg, "json") == 0)
				args->json = true;
			else if (strcmp(optarg, "text") != 0)
				return cli_usage_error("invalid --format '%s': expected text or json",
						       optarg);
			break;
		case 'o': {
			if (!allow_options)
				return cli_usage_error("-o is not an option of '%s'", argv[0]);
			const char *equals = strchr(optarg, '=');
			if (equals == NULL || equals == optarg)
				return cli_usage_error("invalid option '%s': expected -o KEY=VALUE",
						       optarg);
			if (args->options == NULL)
				args->options = json_object();
			char *key = strndup(optarg, (size_t)(equals - optarg));
			json_t *value = json_string(equals + 1);
			if (key == NULL || value == NULL) {
				free(key);
				json_decref(value);
				return cli_usage_error("invalid option '%s': not valid UTF-8", optarg);
			}
			json_object_set_new(args->options, key, value);
			free(key);
			break;
		}
		default:
			return cli_usage_error("run '%s --help' for the options", argv[0]);
		}
	}

	int positional = argc - optind;
	if (name_required && positional != 1)
		return cli_usage_error("'%s' takes exactly one volume name, got %d arguments",
				       argv[0], positional);
	if (!name_required && positional != 0)
		return cli_usage_error("unexpected argument '%s' for '%s'", argv[optind],
				       argv[0]);
	if (name_required) {
		struct cf_error err = { 0 };
		args->name = argv[optind];
		if (vol_name_validate(args->name, &err) < 0)
			return cli_usage_error("%s", err.message);
	}
	return -1;
}

static int volume_create(int argc, char **argv)
{
	struct volume_args args;
	json_t *reply = NULL;

	int rc = parse_args(argc, argv,
			    "Usage: coffer volume create [OPTIONS] NAME\n\n"
			    "Creates an encrypted volume with its own key.\n\n"
			    "Options:\n"
			    "  -o, --opt KEY=VALUE   a volume option, as for 'docker volume create -o';\n"
			    "                        repeat for several:\n"
			    "      engine=fscrypt|fuse|auto  where the volume is encrypted; auto\n"
			    "                        (the default) picks fscrypt where the kernel's\n"
			    "                        AES-XTS is hardware accelerated, else fuse\n"
			    "      shared=true|false  let several containers mount it at once\n"
			    "                        (default false)\n",
			    true, false, true, &args);
	if (rc >= 0) {
		json_decref(args.options);
		return rc;
	}

	json_t *request = json_pack("{s:s}", "name", args.name);
	if (args.options != NULL)
		json_object_set_new(request, "options", args.options);
	char *body = json_dumps(request, JSON_COMPACT);
	json_decref(request);

	rc = call_admin(&args, "POST", "/v1/volumes", body, &reply);
	free(body);
	if (rc != CLI_EXIT_OK)
		return rc;
	printf("%s\n", args.name);
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int volume_remove(int argc, char **argv)
{
	struct volume_args args;
	json_t *reply = NULL;
	char path[VOL_NAME_MAX + 32];

	int rc = parse_args(argc, argv,
			    "Usage: coffer volume rm [OPTIONS] NAME\n\n"
			    "Removes a volume: locks it, deletes its data and destroys its key, so\n"
			    "the data can never be read again. A mounted volume is not removed.\n\n"
			    "Options:\n",
			    true, false, false, &args);
	if (rc >= 0)
		return rc;

	snprintf(path, sizeof(path), "/v1/volumes/%s", args.name);
	rc = call_admin(&args, "DELETE", path, NULL, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	printf("%s\n", args.name);
	json_decref(reply);
	return CLI_EXIT_OK;
}

static const char *string_member(const json_t *object, const char *key)
{
	const char *value = json_string_value(json_object_get(object, key));
	return value != NULL ? value : "";
}

static int volume_list(int argc, char **argv)
{
	struct volume_args args;
	json_t *reply = NULL;

	int rc = parse_args(argc, argv,
			    "Usage: coffer volume ls [OPTIONS]\n\n"
			    "Lists every volume of the storage manager.\n\n"
			    "Options:\n"
			    "  --format FORMAT       text (a table, the default) or json\n",
			    false, true, false, &args);
	if (rc >= 0)
		return rc;

	rc = call_admin(&args, "GET", "/v1/volumes", NULL, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;

	json_t *volumes = json_object_get(reply, "volumes");
	if (args.json) {
		json_dumpf(volumes, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		size_t i;
		json_t *volume;
		printf("%-32s %-9s %-8s %-6s %s\n", "NAME", "STATE", "ENGINE", "SHARED", "USERS");
		json_array_foreach(volumes, i, volume) {
			printf("%-32s %-9s %-8s %-6s %zu\n", string_member(volume, "name"),
			       string_member(volume, "state"), string_member(volume, "engine"),
			       json_is_true(json_object_get(volume, "shared")) ? "yes" : "no",
			       json_array_size(json_object_get(volume, "users")));
		}
	}
	json_decref(reply);
	return CLI_EXIT_OK;
}

// Prints a label and the ids of a JSON array, "-" when it is empty.
static void print_ids(const char *label, const json_t *ids)
{
	size_t i;
	json_t *id;

	printf("%s", label);
	if (json_array_size(ids) == 0)
		printf(" -");
	json_array_foreach(ids, i, id)
		printf(" %s", json_string_value(id));
	printf("\n");
}

static void print_volume_text(const json_t *volume)
{
	char created[32] = "";
	time_t when = (time_t)json_integer_value(json_object_get(volume, "created"));
	struct tm tm;
	if (gmtime_r(&when, &tm) != NULL)
		strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);

	const char *path = string_member(volume, "path");
	printf("Name:       %s\n", string_member(volume, "name"));
	printf("State:      %s\n", string_member(volume, "state"));
	printf("Lock:       %s\n", string_member(volume, "status"));
	printf("Engine:     %s\n", string_member(volume, "engine"));
	const char *reason = string_member(volume, "engine_reason");
	if (reason[0] != '\0')
		printf("Reason:     %s\n", reason);
	printf("Key ID:     %s\n", string_member(volume, "key_id"));
	if (path[0] != '\0')
		printf("Path:       %s\n", path);
	printf("Shared:     %s\n", json_is_true(json_object_get(volume, "shared")) ? "yes" : "no");
	printf("Created:    %s\n", created);
	print_ids("Containers:", json_object_get(volume, "containers"));
	print_ids("Mount IDs: ", json_object_get(volume, "users"));
}

static int volume_inspect(int argc, char **argv)
{
	struct volume_args args;
	json_t *reply = NULL;
	char path[VOL_NAME_MAX + 32];

	int rc = parse_args(argc, argv,
			    "Usage: coffer volume inspect [OPTIONS] NAME\n\n"
			    "Shows a volume's state, engine, key id and users.\n\n"
			    "Options:\n"
			    "  --format FORMAT       text (the default) or json\n",
			    true, true, false, &args);
	if (rc >= 0)
		return rc;

	snprintf(path, sizeof(path), "/v1/volumes/%s", args.name);
	rc = call_admin(&args, "GET", path, NULL, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (args.json) {
		json_dumpf(reply, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		print_volume_text(reply);
	}
	json_decref(reply);
	return CLI_EXIT_OK;
}

int cmd_volume(int argc, char **argv)
{
	static const struct cli_command commands[] = {
		{ "create", "create an encrypted volume", volume_create },
		{ "ls", "list volumes", volume_list },
		{ "inspect", "show one volume", volume_inspect },
		{ "rm", "remove a volume and destroy its key", volume_remove },
		{ "export-gocryptfs-key", "print a fuse volume's gocryptfs master key (audited)",
		  cmd_volume_export_gocryptfs_key },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch("coffer volume", commands, argc, argv);
}
