// SPDX-License-Identifier: Apache-2.0
// The admin API behind `coffer volume`: JSON over HTTP on a unix socket
// that only root can open (mode 0600). Success returns the resource, an
// error returns {"error": MESSAGE} with the status from plugin_http_status.

#include "plugin_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VOLUMES_PATH "/v1/volumes"

static json_t *volume_to_json(const struct vol_info *info)
{
	json_t *users = json_array();
	json_t *containers = json_array();
	for (size_t i = 0; i < info->users && i < VOL_MAX_USERS; i++)
		json_array_append_new(users, json_string(info->user_ids[i]));
	for (size_t i = 0; i < info->claims && i < VOL_MAX_USERS; i++)
		json_array_append_new(containers, json_string(info->claim_ids[i]));

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:o, s:o, s:s}",
			 "name", info->name,
			 "state", vol_state_name(info->state),
			 "engine", info->engine,
			 "engine_reason", info->engine_reason,
			 "key_id", info->key_id,
			 "path", info->path,
			 "shared", info->shared,
			 "created", (json_int_t)info->created,
			 "users", users,
			 "containers", containers,
			 "status", info->status);
}

static int add_volume(const struct vol_info *info, void *arg)
{
	json_array_append_new(arg, volume_to_json(info));
	return 0;
}

static int list_volumes(struct vol_manager *manager, json_t **result, struct cf_error *err)
{
	json_t *volumes = json_array();

	int rc = vol_foreach(manager, add_volume, volumes, err);
	if (rc < 0) {
		json_decref(volumes);
		return rc;
	}
	*result = json_pack("{s:o}", "volumes", volumes);
	return 0;
}

static int inspect_volume(struct vol_manager *manager, const char *name, json_t **result,
			  struct cf_error *err)
{
	struct vol_info info;

	int rc = vol_inspect(manager, name, &info, err);
	if (rc < 0)
		return rc;
	*result = volume_to_json(&info);
	return 0;
}

static int create_volume(struct vol_manager *manager, const char *body, size_t size,
			 json_t **result, struct cf_error *err)
{
	struct plugin_request request;

	int rc = plugin_request_parse(body, size, PLUGIN_FIELD_NAME | PLUGIN_FIELD_OPTS,
				      "name", "options", &request, err);
	if (rc < 0)
		return rc;
	if (manager == NULL) {
		rc = cf_error_set(err, -ENODEV, "the volume manager is not open");
		goto out;
	}
	rc = vol_create(manager, request.name, request.options, request.option_count, err);
	if (rc < 0)
		goto out;
	rc = inspect_volume(manager, request.name, result, err);

out:
	plugin_request_clear(&request);
	return rc;
}

// Splits "/v1/volumes/NAME" into its name; returns NULL for the collection
// path and for anything else, which the caller rejects.
static const char *volume_name_in(const char *path, bool *is_collection)
{
	size_t prefix = strlen(VOLUMES_PATH);

	*is_collection = false;
	if (strncmp(path, VOLUMES_PATH, prefix) != 0)
		return NULL;
	if (path[prefix] == '\0' || strcmp(path + prefix, "/") == 0) {
		*is_collection = true;
		return NULL;
	}
	if (path[prefix] != '/')
		return NULL;
	return path + prefix + 1;
}

static int route(struct vol_manager *manager, const char *method, const char *path,
		 const char *body, size_t size, json_t **result, struct cf_error *err)
{
	bool is_collection;
	const char *name = volume_name_in(path, &is_collection);

	if (plugin_admin_is_claims_path(path)) {
		if (size > PLUGIN_BODY_MAX)
			return cf_error_set(err, -E2BIG,
					    "request body of %zu bytes exceeds the limit of %d bytes",
					    size, PLUGIN_BODY_MAX);
		return plugin_admin_claims(manager, method, path, body, size, result, err);
	}
	if (!is_collection && name == NULL)
		return cf_error_set(err, -ENOENT,
				    "unknown admin path '%s'; the admin API serves %s and %s/NAME",
				    path, VOLUMES_PATH, VOLUMES_PATH);
	if (size > PLUGIN_BODY_MAX)
		return cf_error_set(err, -E2BIG, "request body of %zu bytes exceeds the limit of %d bytes",
				    size, PLUGIN_BODY_MAX);

	if (is_collection) {
		if (strcmp(method, "POST") == 0)
			return create_volume(manager, body, size, result, err);
		if (strcmp(method, "GET") != 0)
			return cf_error_set(err, -EOPNOTSUPP,
					    "method %s is not allowed on %s; use GET or POST",
					    method, VOLUMES_PATH);
		if (manager == NULL)
			return cf_error_set(err, -ENODEV, "the volume manager is not open");
		return list_volumes(manager, result, err);
	}

	int rc = vol_name_validate(name, err);
	if (rc < 0)
		return rc;
	if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0)
		return cf_error_set(err, -EOPNOTSUPP,
				    "method %s is not allowed on %s/NAME; use GET or DELETE",
				    method, VOLUMES_PATH);
	if (manager == NULL)
		return cf_error_set(err, -ENODEV, "the volume manager is not open");
	if (strcmp(method, "GET") == 0)
		return inspect_volume(manager, name, result, err);

	rc = vol_remove(manager, name, err);
	if (rc == 0)
		*result = json_pack("{s:s}", "removed", name);
	return rc;
}

int plugin_admin_handle(struct vol_manager *manager, const char *method,
			const char *path, const char *body, size_t size,
			struct plugin_response *response)
{
	struct cf_error err = { 0 };
	json_t *result = NULL;
	char method_q[32], path_q[256], error_q[CF_ERROR_MAX + 8];

	int rc = route(manager, method, path, body, size, &result, &err);
	if (rc < 0) {
		json_decref(result);
		result = json_object();
		json_object_set_new(result, "error", plugin_json_message(cf_error_message(&err, rc)));
	}

	cf_log_quote(method_q, sizeof(method_q), method);
	cf_log_quote(path_q, sizeof(path_q), path);
	if (rc == 0) {
		cf_log(CF_LOG_INFO, "admin.request", "method=%s path=%s result=ok", method_q, path_q);
	} else {
		cf_log_quote(error_q, sizeof(error_q), cf_error_message(&err, rc));
		cf_log(CF_LOG_WARN, "admin.request", "method=%s path=%s result=error errno=%d error=%s",
		       method_q, path_q, -rc, error_q);
	}

	response->status = plugin_http_status(PLUGIN_API_ADMIN, rc);
	response->body = json_dumps(result, JSON_INDENT(2));
	json_decref(result);
	return rc;
}
