// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the request handling of the Docker volume plugin and
// admin APIs, without a volume manager. The first byte selects the
// endpoint, or (values from 0x80) takes the path from the first line of
// the input; the rest is the request body. Every reply must be valid JSON
// with a non-empty error message on failure; a violation aborts.

#include <coffer/plugin.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct endpoint {
	enum plugin_api api;
	const char *method;
	const char *path;
};

static const struct endpoint endpoints[] = {
	{ PLUGIN_API_DOCKER, "POST", "/Plugin.Activate" },
	{ PLUGIN_API_DOCKER, "POST", "/VolumeDriver.Create" },
	{ PLUGIN_API_DOCKER, "POST", "/VolumeDriver.Remove" },
	{ PLUGIN_API_DOCKER, "POST", "/VolumeDriver.Mount" },
	{ PLUGIN_API_DOCKER, "POST", "/VolumeDriver.Unmount" },
	{ PLUGIN_API_DOCKER, "POST", "/VolumeDriver.Path" },
	{ PLUGIN_API_DOCKER, "POST", "/VolumeDriver.Get" },
	{ PLUGIN_API_DOCKER, "POST", "/VolumeDriver.List" },
	{ PLUGIN_API_DOCKER, "POST", "/VolumeDriver.Capabilities" },
	{ PLUGIN_API_ADMIN, "GET", "/v1/volumes" },
	{ PLUGIN_API_ADMIN, "POST", "/v1/volumes" },
	{ PLUGIN_API_ADMIN, "GET", "/v1/volumes/v1" },
	{ PLUGIN_API_ADMIN, "DELETE", "/v1/volumes/v1" },
};

#define ENDPOINT_COUNT (sizeof(endpoints) / sizeof(endpoints[0]))

static void check_reply(enum plugin_api api, int rc, const struct plugin_response *response)
{
	json_t *root = json_loads(response->body, 0, NULL);
	if (root == NULL || !json_is_object(root))
		abort();

	const char *message = json_string_value(
		json_object_get(root, api == PLUGIN_API_DOCKER ? "Err" : "error"));
	if (rc < 0 && (message == NULL || message[0] == '\0'))
		abort();
	if (rc < 0 && response->status == 200)
		abort();
	if (rc == 0 && response->status != 200)
		abort();
	if (api == PLUGIN_API_DOCKER && rc < 0 && response->status != 500)
		abort();
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plugin_response response = { 0 };
	char path[256];
	int rc;

	cf_log_set_level(CF_LOG_ERROR);
	if (size == 0)
		return 0;

	uint8_t selector = data[0];
	const char *body = (const char *)data + 1;
	size_t body_size = size - 1;
	const struct endpoint *endpoint = &endpoints[selector % ENDPOINT_COUNT];

	if (selector >= 0x80) {
		// Path from the first line; the body is what follows it.
		const char *newline = memchr(body, '\n', body_size);
		size_t length = newline != NULL ? (size_t)(newline - body) : body_size;
		if (length >= sizeof(path))
			length = sizeof(path) - 1;
		memcpy(path, body, length);
		path[length] = '\0';
		if (newline != NULL) {
			body_size -= (size_t)(newline + 1 - body);
			body = newline + 1;
		} else {
			body_size = 0;
		}
		if (endpoint->api == PLUGIN_API_DOCKER)
			rc = plugin_docker_handle(NULL, endpoint->method, path, body, body_size,
						  &response);
		else
			rc = plugin_admin_handle(NULL, endpoint->method, path, body, body_size,
						 &response);
	} else if (endpoint->api == PLUGIN_API_DOCKER) {
		rc = plugin_docker_handle(NULL, endpoint->method, endpoint->path, body, body_size,
					  &response);
	} else {
		rc = plugin_admin_handle(NULL, endpoint->method, endpoint->path, body, body_size,
					 &response);
	}

	check_reply(endpoint->api, rc, &response);
	plugin_response_clear(&response);
	return 0;
}
