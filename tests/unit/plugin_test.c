// SPDX-License-Identifier: Apache-2.0
// Request parsing and validation of the Docker volume plugin and admin APIs,
// the HTTP status mapping, and the storage manager's configuration file.
// The first group gives the handlers no volume manager, so every case
// checks that a bad request is rejected before it could reach one. The
// second group runs them on a real fscrypt pool and needs root.

#include <coffer/plugin.h>

#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static int parse(const char *body, unsigned fields, struct plugin_request *request,
		 struct cf_error *err)
{
	cf_error_reset(err);
	return plugin_request_parse(body, strlen(body), fields, "Name", "Opts", request, err);
}

static void test_parse_create_with_options(void **state)
{
	(void)state;
	struct plugin_request request;
	struct cf_error err = { 0 };

	int rc = parse("{\"Name\":\"v1\",\"Opts\":{\"shared\":\"true\",\"engine\":\"fscrypt\"}}",
		       PLUGIN_FIELD_NAME | PLUGIN_FIELD_OPTS, &request, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(request.name, "v1");
	assert_int_equal(request.option_count, 2);
	assert_string_equal(request.options[0].key, "shared");
	assert_string_equal(request.options[0].value, "true");
	assert_string_equal(request.options[1].key, "engine");
	assert_string_equal(request.options[1].value, "fscrypt");
	plugin_request_clear(&request);
}

static void test_parse_null_or_absent_options(void **state)
{
	(void)state;
	struct plugin_request request;
	struct cf_error err = { 0 };

	assert_int_equal(parse("{\"Name\":\"v1\",\"Opts\":null}",
			       PLUGIN_FIELD_NAME | PLUGIN_FIELD_OPTS, &request, &err), 0);
	assert_int_equal(request.option_count, 0);
	plugin_request_clear(&request);

	assert_int_equal(parse("{\"Name\":\"v1\"}", PLUGIN_FIELD_NAME | PLUGIN_FIELD_OPTS,
			       &request, &err), 0);
	assert_int_equal(request.option_count, 0);
	plugin_request_clear(&request);
}

static void test_parse_mount_with_id(void **state)
{
	(void)state;
	struct plugin_request request;
	struct cf_error err = { 0 };

	int rc = parse("{\"Name\":\"data.db-1\",\"ID\":\"0123abcd\"}",
		       PLUGIN_FIELD_NAME | PLUGIN_FIELD_ID, &request, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(request.name, "data.db-1");
	assert_string_equal(request.id, "0123abcd");
	plugin_request_clear(&request);
}

// Each bad body must fail with its own message, so a caller can tell what
// to fix.
static void test_parse_rejects_bad_bodies(void **state)
{
	(void)state;
	static const struct {
		const char *body;
		unsigned fields;
		int rc;
		const char *message;
	} cases[] = {
		{ "{\"Name\":", PLUGIN_FIELD_NAME, -EINVAL, "invalid JSON" },
		{ "[1,2]", PLUGIN_FIELD_NAME, -EINVAL, "expected a JSON object" },
		{ "{}", PLUGIN_FIELD_NAME, -EINVAL, "missing Name" },
		{ "{\"Name\":null}", PLUGIN_FIELD_NAME, -EINVAL, "missing Name" },
		{ "{\"Name\":7}", PLUGIN_FIELD_NAME, -EINVAL, "Name must be a string" },
		{ "{\"Name\":\"\"}", PLUGIN_FIELD_NAME, -EINVAL, "" },
		{ "{\"Name\":\"../etc\"}", PLUGIN_FIELD_NAME, -EINVAL, "" },
		{ "{\"Name\":\"a/b\"}", PLUGIN_FIELD_NAME, -EINVAL, "" },
		{ "{\"Name\":\"a\\u0000b\"}", PLUGIN_FIELD_NAME, -EINVAL, "is not allowed" },
		{ "{\"Name\":\"v1\",\"Name\":\"v2\"}", PLUGIN_FIELD_NAME, -EINVAL, "duplicate" },
		{ "{\"Name\":\"v1\"}", PLUGIN_FIELD_NAME | PLUGIN_FIELD_ID, -EINVAL, "missing ID" },
		{ "{\"Name\":\"v1\",\"ID\":5}", PLUGIN_FIELD_NAME | PLUGIN_FIELD_ID, -EINVAL,
		  "ID must be a string" },
		{ "{\"Name\":\"v1\",\"ID\":\"\"}", PLUGIN_FIELD_NAME | PLUGIN_FIELD_ID, -EINVAL,
		  "invalid container ID" },
		{ "{\"Name\":\"v1\",\"ID\":\"a b\"}", PLUGIN_FIELD_NAME | PLUGIN_FIELD_ID, -EINVAL,
		  "not printable ASCII" },
		{ "{\"Name\":\"v1\",\"Opts\":[]}", PLUGIN_FIELD_NAME | PLUGIN_FIELD_OPTS, -EINVAL,
		  "Opts must be an object of strings" },
		{ "{\"Name\":\"v1\",\"Opts\":{\"shared\":true}}", PLUGIN_FIELD_NAME | PLUGIN_FIELD_OPTS,
		  -EINVAL, "option 'shared' must be a string" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct plugin_request request;
		struct cf_error err = { 0 };

		int rc = parse(cases[i].body, cases[i].fields, &request, &err);
		if (rc != cases[i].rc || strstr(err.message, cases[i].message) == NULL)
			print_error("case %zu body %s: rc %d message '%s'\n", i, cases[i].body, rc,
				    err.message);
		assert_int_equal(rc, cases[i].rc);
		assert_non_null(strstr(err.message, cases[i].message));
		assert_true(err.message[0] != '\0');
		assert_null(request.json);
	}
}

static void test_parse_rejects_empty_body(void **state)
{
	(void)state;
	struct plugin_request request;
	struct cf_error err = { 0 };

	int rc = plugin_request_parse("", 0, PLUGIN_FIELD_NAME, "Name", "Opts", &request, &err);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err.message, "body is empty"));
}

static void test_parse_rejects_oversized_body(void **state)
{
	(void)state;
	struct plugin_request request;
	struct cf_error err = { 0 };
	size_t size = PLUGIN_BODY_MAX + 1;
	char *body = malloc(size);
	assert_non_null(body);
	memset(body, ' ', size);

	int rc = plugin_request_parse(body, size, PLUGIN_FIELD_NAME, "Name", "Opts", &request, &err);
	assert_int_equal(rc, -E2BIG);
	assert_non_null(strstr(err.message, "exceeds the limit"));
	free(body);
}

static void test_parse_rejects_too_many_options(void **state)
{
	(void)state;
	struct plugin_request request;
	struct cf_error err = { 0 };
	json_t *opts = json_object();
	for (int i = 0; i <= PLUGIN_OPTIONS_MAX; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		json_object_set_new(opts, key, json_string("v"));
	}
	json_t *root = json_pack("{s:s, s:o}", "Name", "v1", "Opts", opts);
	char *body = json_dumps(root, JSON_COMPACT);
	json_decref(root);

	int rc = parse(body, PLUGIN_FIELD_NAME | PLUGIN_FIELD_OPTS, &request, &err);
	assert_int_equal(rc, -E2BIG);
	assert_non_null(strstr(err.message, "options given"));
	free(body);
}

static void test_container_id_length_limit(void **state)
{
	(void)state;
	char id[VOL_CONTAINER_MAX + 2];

	memset(id, 'a', VOL_CONTAINER_MAX);
	id[VOL_CONTAINER_MAX] = '\0';
	assert_int_equal(plugin_container_id_validate(id, NULL), 0);
	id[VOL_CONTAINER_MAX] = 'a';
	id[VOL_CONTAINER_MAX + 1] = '\0';
	assert_int_equal(plugin_container_id_validate(id, NULL), -EINVAL);
}

static void test_http_status_mapping(void **state)
{
	(void)state;

	assert_int_equal(plugin_http_status(PLUGIN_API_DOCKER, 0), 200);
	assert_int_equal(plugin_http_status(PLUGIN_API_DOCKER, -EINVAL), 500);
	assert_int_equal(plugin_http_status(PLUGIN_API_DOCKER, -ENOENT), 500);
	assert_int_equal(plugin_http_status(PLUGIN_API_DOCKER, -EBUSY), 500);
	assert_int_equal(plugin_http_status(PLUGIN_API_ADMIN, 0), 200);
	assert_int_equal(plugin_http_status(PLUGIN_API_ADMIN, -EINVAL), 400);
	assert_int_equal(plugin_http_status(PLUGIN_API_ADMIN, -ENOENT), 404);
	assert_int_equal(plugin_http_status(PLUGIN_API_ADMIN, -EOPNOTSUPP), 405);
	assert_int_equal(plugin_http_status(PLUGIN_API_ADMIN, -EEXIST), 409);
	assert_int_equal(plugin_http_status(PLUGIN_API_ADMIN, -EBUSY), 409);
	assert_int_equal(plugin_http_status(PLUGIN_API_ADMIN, -E2BIG), 413);
	assert_int_equal(plugin_http_status(PLUGIN_API_ADMIN, -EIO), 500);
	assert_int_equal(plugin_http_status(PLUGIN_API_ADMIN, -ESHUTDOWN), 503);
}

// Parses a handler's reply and returns the string member key ("" when it
// is missing). The caller frees *root.
static const char *reply_member(const struct plugin_response *response, const char *key,
				json_t **root)
{
	assert_non_null(response->body);
	*root = json_loads(response->body, 0, NULL);
	assert_non_null(*root);
	const char *value = json_string_value(json_object_get(*root, key));
	return value != NULL ? value : "";
}

static void test_docker_activate(void **state)
{
	(void)state;
	struct plugin_response response = { 0 };
	json_t *root;

	assert_int_equal(plugin_docker_handle(NULL, "POST", "/Plugin.Activate", "", 0, &response), 0);
	assert_int_equal(response.status, 200);
	(void)reply_member(&response, "Err", &root);
	json_t *implements = json_object_get(root, "Implements");
	assert_int_equal(json_array_size(implements), 1);
	assert_string_equal(json_string_value(json_array_get(implements, 0)), "VolumeDriver");
	json_decref(root);
	plugin_response_clear(&response);
}

static void test_docker_capabilities_scope_local(void **state)
{
	(void)state;
	struct plugin_response response = { 0 };
	json_t *root;

	assert_int_equal(plugin_docker_handle(NULL, "POST", "/VolumeDriver.Capabilities", "{}", 2,
					      &response), 0);
	assert_int_equal(response.status, 200);
	assert_string_equal(reply_member(&response, "Err", &root), "");
	json_t *scope = json_object_get(json_object_get(root, "Capabilities"), "Scope");
	assert_string_equal(json_string_value(scope), "local");
	json_decref(root);
	plugin_response_clear(&response);
}

// Every failure must carry a non-empty Err and status 500.
static void test_docker_errors_have_err_and_500(void **state)
{
	(void)state;
	static const struct {
		const char *method;
		const char *path;
		const char *body;
		const char *message;
	} cases[] = {
		{ "POST", "/VolumeDriver.Frobnicate", "{}", "unknown plugin endpoint" },
		{ "GET", "/VolumeDriver.List", "", "takes POST requests" },
		{ "POST", "/VolumeDriver.Create", "{not json", "invalid JSON" },
		{ "POST", "/VolumeDriver.Create", "{\"Opts\":{}}", "missing Name" },
		{ "POST", "/VolumeDriver.Remove", "{\"Name\":\"..\"}", "" },
		{ "POST", "/VolumeDriver.Mount", "{\"Name\":\"v1\"}", "missing ID" },
		{ "POST", "/VolumeDriver.Unmount", "{\"Name\":\"v1\"}", "missing ID" },
		{ "POST", "/VolumeDriver.Path", "", "body is empty" },
		{ "POST", "/VolumeDriver.Get", "{\"Name\":[]}", "Name must be a string" },
		{ "POST", "/VolumeDriver.List", "{}", "volume manager is not open" },
		{ "POST", "/VolumeDriver.\xff\xfe", "{}", "unknown plugin endpoint" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct plugin_response response = { 0 };
		json_t *root;

		int rc = plugin_docker_handle(NULL, cases[i].method, cases[i].path, cases[i].body,
					      strlen(cases[i].body), &response);
		assert_true(rc < 0);
		assert_int_equal(response.status, 500);
		const char *message = reply_member(&response, "Err", &root);
		if (strstr(message, cases[i].message) == NULL)
			print_error("case %zu %s: Err '%s'\n", i, cases[i].path, message);
		assert_true(message[0] != '\0');
		assert_non_null(strstr(message, cases[i].message));
		// A failure returns only Err.
		assert_int_equal(json_object_size(root), 1);
		json_decref(root);
		plugin_response_clear(&response);
	}
}

static void test_docker_oversized_body(void **state)
{
	(void)state;
	struct plugin_response response = { 0 };
	json_t *root;
	size_t size = PLUGIN_BODY_MAX + 100;
	char *body = malloc(size);
	assert_non_null(body);
	memset(body, ' ', size);

	int rc = plugin_docker_handle(NULL, "POST", "/VolumeDriver.Create", body, size, &response);
	assert_int_equal(rc, -E2BIG);
	assert_int_equal(response.status, 500);
	assert_non_null(strstr(reply_member(&response, "Err", &root), "exceeds the limit"));
	json_decref(root);
	plugin_response_clear(&response);

	rc = plugin_docker_handle(NULL, "POST", "/VolumeDriver.List", body, size, &response);
	assert_int_equal(rc, -E2BIG);
	assert_int_equal(response.status, 500);
	plugin_response_clear(&response);
	free(body);
}

static void test_admin_errors_map_to_statuses(void **state)
{
	(void)state;
	static const struct {
		const char *method;
		const char *path;
		const char *body;
		int status;
		const char *message;
	} cases[] = {
		{ "GET", "/v2/volumes", "", 404, "unknown admin path" },
		{ "GET", "/v1/volumesX", "", 404, "unknown admin path" },
		{ "PUT", "/v1/volumes", "", 405, "not allowed" },
		{ "POST", "/v1/volumes/v1", "", 405, "not allowed" },
		{ "POST", "/v1/volumes", "{", 400, "invalid JSON" },
		{ "POST", "/v1/volumes", "{\"Name\":\"v1\"}", 400, "missing name" },
		{ "POST", "/v1/volumes", "{\"name\":\"v1\",\"options\":\"shared\"}", 400,
		  "options must be an object" },
		{ "GET", "/v1/volumes/..", "", 400, "" },
		{ "DELETE", "/v1/volumes/a/b", "", 400, "" },
		{ "GET", "/v1/volumes", "", 500, "volume manager is not open" },
		{ "POST", "/v1/volumes", "{\"name\":\"v1\"}", 500, "volume manager is not open" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct plugin_response response = { 0 };
		json_t *root;

		int rc = plugin_admin_handle(NULL, cases[i].method, cases[i].path, cases[i].body,
					     strlen(cases[i].body), &response);
		assert_true(rc < 0);
		const char *message = reply_member(&response, "error", &root);
		if (response.status != cases[i].status || strstr(message, cases[i].message) == NULL)
			print_error("case %zu %s %s: status %d error '%s'\n", i, cases[i].method,
				    cases[i].path, response.status, message);
		assert_int_equal(response.status, cases[i].status);
		assert_true(message[0] != '\0');
		assert_non_null(strstr(message, cases[i].message));
		json_decref(root);
		plugin_response_clear(&response);
	}
}

static void test_parse_size_units(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int rc;
		uint64_t size;
	} cases[] = {
		{ "1048576", 0, 1048576 },
		{ "512M", 0, 512ULL << 20 },
		{ "512m", 0, 512ULL << 20 },
		{ "10G", 0, 10ULL << 30 },
		{ "10GiB", 0, 10ULL << 30 },
		{ "4KB", 0, 4096 },
		{ "1T", 0, 1ULL << 40 },
		{ "", -EINVAL, 0 },
		{ "M", -EINVAL, 0 },
		{ "-5M", -EINVAL, 0 },
		{ "5X", -EINVAL, 0 },
		{ "5MM", -EINVAL, 0 },
		{ "99999999999999999999", -EINVAL, 0 },
		{ "20000000T", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t size = 0;
		int rc = cf_parse_size(cases[i].text, &size);
		if (rc != cases[i].rc)
			print_error("case '%s': rc %d\n", cases[i].text, rc);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_int_equal(size, cases[i].size);
	}
}

static char *write_temp_file(const char *text)
{
	char *path = strdup("/tmp/coffer-plugin-test.XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_config_file_sets_every_key(void **state)
{
	(void)state;
	struct storage_config config;
	struct cf_error err = { 0 };
	char *path = write_temp_file("# coffer storage manager\n"
				     "state-dir = /srv/coffer\n"
				     "\n"
				     "plugin-socket=/run/test/p.sock   # trailing comment\n"
				     "  admin-socket =  /run/test/a.sock\n"
				     "pool = /mnt/pool\n"
				     "pool-size = 2G\n"
				     "log-level = debug\n");

	storage_config_init(&config);
	int rc = storage_config_load(&config, path, &err);
	if (rc < 0)
		print_error("%s\n", err.message);
	assert_int_equal(rc, 0);
	assert_string_equal(config.state_dir, "/srv/coffer");
	assert_string_equal(config.plugin_socket, "/run/test/p.sock");
	assert_string_equal(config.admin_socket, "/run/test/a.sock");
	assert_string_equal(config.pool, "/mnt/pool");
	assert_int_equal(config.pool_size, 2ULL << 30);
	assert_int_equal(config.log_level, CF_LOG_DEBUG);
	unlink(path);
	free(path);
}

static void test_config_defaults(void **state)
{
	(void)state;
	struct storage_config config;

	storage_config_init(&config);
	assert_string_equal(config.state_dir, "/var/lib/coffer");
	assert_string_equal(config.plugin_socket, "/run/docker/plugins/coffer.sock");
	assert_string_equal(config.admin_socket, "/run/coffer/admin.sock");
	assert_string_equal(config.pool, "");
	assert_int_equal(config.pool_size, 0);
}

static void test_config_errors_name_line(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *message;
	} cases[] = {
		{ "state-dir = /a\nbogus = 1\n", "line 2: unknown setting 'bogus'" },
		{ "pool-size = lots\n", "line 1: invalid pool-size 'lots'" },
		{ "pool-size = 0\n", "invalid pool-size '0'" },
		{ "\n\nlog-level = loud\n", "line 3: invalid log-level 'loud'" },
		{ "state-dir /a\n", "line 1: expected 'key = value'" },
		{ "state-dir =\n", "the path is empty" },
		{ "plugin-socket = /tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
		  "longer than the 107 bytes" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct storage_config config;
		struct cf_error err = { 0 };
		char *path = write_temp_file(cases[i].text);

		storage_config_init(&config);
		int rc = storage_config_load(&config, path, &err);
		if (strstr(err.message, cases[i].message) == NULL)
			print_error("case %zu: rc %d message '%s'\n", i, rc, err.message);
		assert_int_equal(rc, -EINVAL);
		assert_non_null(strstr(err.message, cases[i].message));
		unlink(path);
		free(path);
	}
}

static void test_config_missing_file(void **state)
{
	(void)state;
	struct storage_config config;
	struct cf_error err = { 0 };

	storage_config_init(&config);
	int rc = storage_config_load(&config, "/nonexistent/coffer.conf", &err);
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(err.message, "/nonexistent/coffer.conf"));
}

static void test_admin_client_without_server(void **state)
{
	(void)state;
	struct cf_error err = { 0 };
	char *response = NULL;
	int status = 0;

	int rc = plugin_admin_request("/nonexistent/coffer-admin.sock", "GET", "/v1/volumes", NULL,
				      &status, &response, &err);
	assert_int_equal(rc, -ENOENT);
	assert_null(response);
	assert_non_null(strstr(err.message, "cannot connect to the storage manager"));
}

// ---- handlers with a real volume manager ----------------------------------
// A small fscrypt pool is loop-mounted in a temporary state directory, so
// these tests need root and loop devices (see main).

static struct {
	char dir[64];
	struct vol_manager *manager;
} real;

#define PODMAN_ID "2f73349cfc4630255319c6c8dfc1b46a8996ace9d14d8e07563b165915918ec2"

static int setup_manager(void **state)
{
	(void)state;
	struct vol_config config = { 0 };
	struct cf_error err = { 0 };

	snprintf(real.dir, sizeof(real.dir), "/tmp/coffer-plugin-test.XXXXXX");
	if (mkdtemp(real.dir) == NULL)
		return -1;
	config.state_dir = real.dir;
	config.pool_size = 256ULL << 20;
	config.default_engine = "fscrypt";
	int rc = vol_manager_open(&real.manager, &config, &err);
	if (rc != 0)
		fprintf(stderr, "vol_manager_open: %s\n", cf_error_message(&err, rc));
	return rc;
}

static int teardown_manager(void **state)
{
	(void)state;
	char command[128];

	vol_manager_close(real.manager);
	snprintf(command, sizeof(command), "rm -rf %s", real.dir);
	return system(command) == 0 ? 0 : -1;
}

// Sends a Docker plugin request and returns the parsed reply; the caller
// frees it. The HTTP status is stored in *status.
static json_t *docker(const char *path, const char *body, int *status)
{
	struct plugin_response response = { 0 };

	plugin_docker_handle(real.manager, "POST", path, body, strlen(body), &response);
	*status = response.status;
	json_t *root = json_loads(response.body, 0, NULL);
	assert_non_null(root);
	plugin_response_clear(&response);
	return root;
}

static const char *err_of(json_t *root)
{
	const char *err = json_string_value(json_object_get(root, "Err"));
	assert_non_null(err);
	return err;
}

static void test_docker_volume_lifecycle(void **state)
{
	(void)state;
	int status;
	json_t *reply;

	reply = docker("/VolumeDriver.Create", "{\"Name\":\"life\",\"Opts\":{\"engine\":\"fscrypt\"}}",
		       &status);
	assert_int_equal(status, 200);
	assert_string_equal(err_of(reply), "");
	json_decref(reply);

	reply = docker("/VolumeDriver.Get", "{\"Name\":\"life\"}", &status);
	assert_int_equal(status, 200);
	json_t *volume = json_object_get(reply, "Volume");
	assert_string_equal(json_string_value(json_object_get(volume, "Name")), "life");
	assert_string_equal(json_string_value(json_object_get(volume, "Mountpoint")), "");
	const char *created = json_string_value(json_object_get(volume, "CreatedAt"));
	assert_non_null(created);
	assert_int_equal(strlen(created), strlen("2026-01-01T00:00:00Z"));
	json_t *volume_status = json_object_get(volume, "Status");
	assert_string_equal(json_string_value(json_object_get(volume_status, "State")), "ready");
	assert_string_equal(json_string_value(json_object_get(volume_status, "Engine")), "fscrypt");
	json_decref(reply);

	reply = docker("/VolumeDriver.Mount", "{\"Name\":\"life\",\"ID\":\"c1\"}", &status);
	assert_int_equal(status, 200);
	char mountpoint[VOL_PATH_MAX];
	snprintf(mountpoint, sizeof(mountpoint), "%s",
		 json_string_value(json_object_get(reply, "Mountpoint")));
	assert_non_null(strstr(mountpoint, "life"));
	json_decref(reply);

	reply = docker("/VolumeDriver.Path", "{\"Name\":\"life\"}", &status);
	assert_int_equal(status, 200);
	assert_string_equal(json_string_value(json_object_get(reply, "Mountpoint")), mountpoint);
	json_decref(reply);

	reply = docker("/VolumeDriver.List", "{}", &status);
	assert_int_equal(status, 200);
	json_t *volumes = json_object_get(reply, "Volumes");
	assert_int_equal(json_array_size(volumes), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(volumes, 0), "Mountpoint")),
			    mountpoint);
	json_decref(reply);

	reply = docker("/VolumeDriver.Remove", "{\"Name\":\"life\"}", &status);
	assert_int_equal(status, 500);
	assert_non_null(strstr(err_of(reply), "stop the container"));
	json_decref(reply);

	reply = docker("/VolumeDriver.Unmount", "{\"Name\":\"life\",\"ID\":\"c1\"}", &status);
	assert_int_equal(status, 200);
	json_decref(reply);

	reply = docker("/VolumeDriver.Remove", "{\"Name\":\"life\"}", &status);
	assert_int_equal(status, 200);
	assert_string_equal(err_of(reply), "");
	json_decref(reply);

	reply = docker("/VolumeDriver.Get", "{\"Name\":\"life\"}", &status);
	assert_int_equal(status, 500);
	assert_non_null(strstr(err_of(reply), "not found"));
	json_decref(reply);
}

// podman sends one fixed ID for every container, so a second Mount with it
// while mounted comes from another podman instance.
static void test_docker_podman_second_instance(void **state)
{
	(void)state;
	int status;
	json_t *reply;
	const char *mount = "{\"Name\":\"pod\",\"ID\":\"" PODMAN_ID "\"}";

	json_decref(docker("/VolumeDriver.Create", "{\"Name\":\"pod\",\"Opts\":{\"engine\":\"fscrypt\"}}",
			   &status));
	assert_int_equal(status, 200);

	reply = docker("/VolumeDriver.Mount", mount, &status);
	assert_int_equal(status, 200);
	json_decref(reply);

	reply = docker("/VolumeDriver.Mount", mount, &status);
	assert_int_equal(status, 500);
	assert_non_null(strstr(err_of(reply), "another podman instance"));
	json_decref(reply);

	reply = docker("/VolumeDriver.Unmount", mount, &status);
	assert_int_equal(status, 200);
	json_decref(reply);

	// Once unmounted, the next podman instance may mount it.
	reply = docker("/VolumeDriver.Mount", mount, &status);
	assert_int_equal(status, 200);
	json_decref(reply);
	json_decref(docker("/VolumeDriver.Unmount", mount, &status));
	assert_int_equal(status, 200);
	json_decref(docker("/VolumeDriver.Remove", "{\"Name\":\"pod\"}", &status));
	assert_int_equal(status, 200);
}

static void test_docker_podman_shared_volume(void **state)
{
	(void)state;
	int status;
	const char *mount = "{\"Name\":\"pods\",\"ID\":\"" PODMAN_ID "\"}";

	json_decref(docker("/VolumeDriver.Create",
			   "{\"Name\":\"pods\",\"Opts\":{\"engine\":\"fscrypt\",\"shared\":\"true\"}}",
			   &status));
	assert_int_equal(status, 200);
	json_decref(docker("/VolumeDriver.Mount", mount, &status));
	assert_int_equal(status, 200);
	json_decref(docker("/VolumeDriver.Mount", mount, &status));
	assert_int_equal(status, 200);
	json_decref(docker("/VolumeDriver.Unmount", mount, &status));
	assert_int_equal(status, 200);
	json_decref(docker("/VolumeDriver.Unmount", mount, &status));
	assert_int_equal(status, 200);
	json_decref(docker("/VolumeDriver.Remove", "{\"Name\":\"pods\"}", &status));
	assert_int_equal(status, 200);
}

static void test_admin_volume_lifecycle(void **state)
{
	(void)state;
	struct plugin_response response = { 0 };
	const char *create = "{\"name\":\"adm\",\"options\":{\"engine\":\"fscrypt\"}}";

	assert_int_equal(plugin_admin_handle(real.manager, "POST", "/v1/volumes", create,
					     strlen(create), &response), 0);
	assert_int_equal(response.status, 200);
	json_t *volume = json_loads(response.body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(volume, "name")), "adm");
	assert_string_equal(json_string_value(json_object_get(volume, "state")), "ready");
	assert_string_equal(json_string_value(json_object_get(volume, "engine")), "fscrypt");
	assert_true(strlen(json_string_value(json_object_get(volume, "key_id"))) > 0);
	assert_true(json_is_false(json_object_get(volume, "shared")));
	assert_int_equal(json_array_size(json_object_get(volume, "users")), 0);
	json_decref(volume);
	plugin_response_clear(&response);

	assert_int_equal(plugin_admin_handle(real.manager, "POST", "/v1/volumes", create,
					     strlen(create), &response), -EEXIST);
	assert_int_equal(response.status, 409);
	plugin_response_clear(&response);

	assert_int_equal(plugin_admin_handle(real.manager, "GET", "/v1/volumes", "", 0, &response), 0);
	json_t *list = json_loads(response.body, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(list, "volumes")), 1);
	json_decref(list);
	plugin_response_clear(&response);

	assert_int_equal(plugin_admin_handle(real.manager, "DELETE", "/v1/volumes/adm", "", 0,
					     &response), 0);
	assert_int_equal(response.status, 200);
	plugin_response_clear(&response);

	assert_int_equal(plugin_admin_handle(real.manager, "GET", "/v1/volumes/adm", "", 0,
					     &response), -ENOENT);
	assert_int_equal(response.status, 404);
	plugin_response_clear(&response);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_create_with_options),
		cmocka_unit_test(test_parse_null_or_absent_options),
		cmocka_unit_test(test_parse_mount_with_id),
		cmocka_unit_test(test_parse_rejects_bad_bodies),
		cmocka_unit_test(test_parse_rejects_empty_body),
		cmocka_unit_test(test_parse_rejects_oversized_body),
		cmocka_unit_test(test_parse_rejects_too_many_options),
		cmocka_unit_test(test_container_id_length_limit),
		cmocka_unit_test(test_http_status_mapping),
		cmocka_unit_test(test_docker_activate),
		cmocka_unit_test(test_docker_capabilities_scope_local),
		cmocka_unit_test(test_docker_errors_have_err_and_500),
		cmocka_unit_test(test_docker_oversized_body),
		cmocka_unit_test(test_admin_errors_map_to_statuses),
		cmocka_unit_test(test_parse_size_units),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_file_sets_every_key),
		cmocka_unit_test(test_config_errors_name_line),
		cmocka_unit_test(test_config_missing_file),
		cmocka_unit_test(test_admin_client_without_server),
	};

	const struct CMUnitTest manager_tests[] = {
		cmocka_unit_test(test_docker_volume_lifecycle),
		cmocka_unit_test(test_docker_podman_second_instance),
		cmocka_unit_test(test_docker_podman_shared_volume),
		cmocka_unit_test(test_admin_volume_lifecycle),
	};

	cf_log_set_level(CF_LOG_ERROR);
	int failed = cmocka_run_group_tests_name("request handling", tests, NULL, NULL);

	if (geteuid() != 0 || access("/dev/loop-control", F_OK) != 0) {
		const char *required = getenv("COFFER_REQUIRE_PRIVILEGED");
		fprintf(stderr, "the tests with a real volume manager need root and loop devices\n");
		if (required != NULL && strcmp(required, "1") == 0)
			return 1;
		return failed != 0 ? failed : 77;
	}
	failed += cmocka_run_group_tests_name("handlers with a volume manager", manager_tests,
					      setup_manager, teardown_manager);
	return failed;
}
