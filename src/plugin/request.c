// SPDX-License-Identifier: Apache-2.0
// Request bodies of the plugin and admin APIs: JSON parsing, field checks,
// and the one mapping from library errors to HTTP statuses.

#include "plugin_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void plugin_request_clear(struct plugin_request *request)
{
	if (request->json != NULL)
		json_decref(request->json);
	memset(request, 0, sizeof(*request));
}

int plugin_container_id_validate(const char *id, struct cf_error *err)
{
	size_t len = strlen(id);

	if (len == 0 || len > VOL_CONTAINER_MAX)
		return cf_error_set(err, -EINVAL,
				    "invalid container ID: expected 1-%d characters, got %zu",
				    VOL_CONTAINER_MAX, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c <= 0x20 || c >= 0x7f)
			return cf_error_set(err, -EINVAL,
					    "invalid container ID: character %zu is not printable ASCII",
					    i + 1);
	}
	return 0;
}

static int parse_options(json_t *opts, const char *opts_key, struct plugin_request *request,
			 struct cf_error *err)
{
	const char *key;
	json_t *value;

	if (opts == NULL || json_is_null(opts))
		return 0;
	if (!json_is_object(opts))
		return cf_error_set(err, -EINVAL, "invalid request: %s must be an object of strings",
				    opts_key);
	if (json_object_size(opts) > PLUGIN_OPTIONS_MAX)
		return cf_error_set(err, -E2BIG,
				    "invalid request: %zu options given, at most %d are accepted",
				    json_object_size(opts), PLUGIN_OPTIONS_MAX);

	json_object_foreach(opts, key, value) {
		if (!json_is_string(value))
			return cf_error_set(err, -EINVAL,
					    "invalid request: option '%s' must be a string", key);
		struct vol_option *option = &request->options[request->option_count++];
		option->key = key;
		option->value = json_string_value(value);
	}
	return 0;
}

int plugin_request_parse(const char *body, size_t size, unsigned fields,
			 const char *name_key, const char *opts_key,
			 struct plugin_request *request, struct cf_error *err)
{
	json_error_t json_err;
	int rc;

	memset(request, 0, sizeof(*request));
	if (size > PLUGIN_BODY_MAX)
		return cf_error_set(err, -E2BIG,
				    "request body of %zu bytes exceeds the limit of %d bytes",
				    size, PLUGIN_BODY_MAX);
	if (size == 0)
		return cf_error_set(err, -EINVAL, "invalid request: the body is empty, expected a JSON object");

	// Without JSON_ALLOW_NUL, Jansson rejects \u0000, so every string read
	// below is NUL-free and can be used as a C string.
	json_t *root = json_loadb(body, size, JSON_REJECT_DUPLICATES, &json_err);
	if (root == NULL)
		return cf_error_set(err, -EINVAL, "invalid JSON at line %d column %d: %s",
				    json_err.line, json_err.column, json_err.text);
	request->json = root;
	if (!json_is_object(root)) {
		rc = cf_error_set(err, -EINVAL, "invalid request: expected a JSON object");
		goto fail;
	}

	if (fields & PLUGIN_FIELD_NAME) {
		json_t *name = json_object_get(root, name_key);
		if (name == NULL || json_is_null(name)) {
			rc = cf_error_set(err, -EINVAL, "invalid request: missing %s", name_key);
			goto fail;
		}
		if (!json_is_string(name)) {
			rc = cf_error_set(err, -EINVAL, "invalid request: %s must be a string", name_key);
			goto fail;
		}
		request->name = json_string_value(name);
		rc = vol_name_validate(request->name, err);
		if (rc < 0)
			goto fail;
	}

	if (fields & PLUGIN_FIELD_ID) {
		json_t *id = json_object_get(root, "ID");
		if (id == NULL || json_is_null(id)) {
			rc = cf_error_set(err, -EINVAL, "invalid request: missing ID (the container ID)");
			goto fail;
		}
		if (!json_is_string(id)) {
			rc = cf_error_set(err, -EINVAL, "invalid request: ID must be a string");
			goto fail;
		}
		request->id = json_string_value(id);
		rc = plugin_container_id_validate(request->id, err);
		if (rc < 0)
			goto fail;
	}

	if (fields & PLUGIN_FIELD_OPTS) {
		rc = parse_options(json_object_get(root, opts_key), opts_key, request, err);
		if (rc < 0)
			goto fail;
	}
	return 0;

fail:
	plugin_request_clear(request);
	return rc;
}

int plugin_http_status(enum plugin_api api, int rc)
{
	if (rc == 0)
		return 200;
	if (api == PLUGIN_API_DOCKER)
		return 500;

	switch (rc) {
	case -EINVAL:
	case -ENAMETOOLONG:
		return 400;
	case -ENOENT:
		return 404;
	case -EEXIST:
	case -EBUSY:
		return 409;
	case -E2BIG:
		return 413;
	case -EOPNOTSUPP:
		return 405;
	case -ESHUTDOWN:
		return 503;
	default:
		return 500;
	}
}

void plugin_response_clear(struct plugin_response *response)
{
	free(response->body);
	response->body = NULL;
	response->status = 0;
}

json_t *plugin_json_message(const char *message)
{
	json_t *text = json_string(message);
	if (text != NULL)
		return text;

	// Not valid UTF-8 (an error that quotes a raw request path, say):
	// replace every non-ASCII byte so the reply stays valid JSON.
	char *copy = strdup(message);
	if (copy == NULL)
		return json_string("out of memory");
	for (char *p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	}
	text = json_string(copy);
	free(copy);
	return text;
}
