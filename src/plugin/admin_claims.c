// SPDX-License-Identifier: Apache-2.0
// Admin API for container claims, used by the OCI hook (`coffer storage
// hook`). Podman calls the plugin's Mount only for the first container of a
// volume, so the hook reports which container uses which volume directory.
// coffer then rejects a second container on a volume that is not shared.
//   POST   /v1/claims             {"container": ID, "paths": [DIR, ...]}
//   DELETE /v1/claims/CONTAINER   drop the container's claims

#include "plugin_internal.h"

#include <coffer/plugin.h>

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CLAIMS_PATH "/v1/claims"
#define CLAIM_PATHS_MAX 256

bool plugin_admin_is_claims_path(const char *path)
{
	size_t prefix = strlen(CLAIMS_PATH);
	return strncmp(path, CLAIMS_PATH, prefix) == 0 &&
	       (path[prefix] == '\0' || path[prefix] == '/');
}

static int add_claim(struct vol_manager *manager, const char *body, size_t size, json_t **result,
		     struct cf_error *err)
{
	json_error_t json_err;
	json_t *root = json_loadb(body ? body : "", size, 0, &json_err);
	const char *paths[CLAIM_PATHS_MAX];
	size_t count = 0;
	int rc = 0;

	if (root == NULL || !json_is_object(root)) {
		rc = cf_error_set(err, -EINVAL, "invalid claim body: expected a JSON object (%s)",
				  root ? "not an object" : json_err.text);
		goto out;
	}
	json_t *container = json_object_get(root, "container");
	json_t *list = json_object_get(root, "paths");
	if (!json_is_string(container)) {
		rc = cf_error_set(err, -EINVAL, "invalid claim body: \"container\" must be a string");
		goto out;
	}
	rc = plugin_container_id_validate(json_string_value(container), err);
	if (rc != 0)
		goto out;
	if (!json_is_array(list) || json_array_size(list) > CLAIM_PATHS_MAX) {
		rc = cf_error_set(err, -EINVAL,
				  "invalid claim body: \"paths\" must be an array of at most %d strings",
				  CLAIM_PATHS_MAX);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *item = json_array_get(list, i);
		if (!json_is_string(item)) {
			rc = cf_error_set(err, -EINVAL, "invalid claim body: paths[%zu] is not a string", i);
			goto out;
		}
		paths[count++] = json_string_value(item);
	}
	if (manager == NULL) {
		rc = cf_error_set(err, -ENODEV, "the volume manager is not open");
		goto out;
	}

	rc = vol_claim(manager, json_string_value(container), paths, count, err);
	if (rc == 0)
		*result = json_pack("{s:s}", "claimed", json_string_value(container));

out:
	json_decref(root);
	return rc;
}

int plugin_admin_claims(struct vol_manager *manager, const char *method, const char *path,
			const char *body, size_t size, json_t **result, struct cf_error *err)
{
	const char *rest = path + strlen(CLAIMS_PATH);

	if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
		if (strcmp(method, "POST") != 0)
			return cf_error_set(err, -EOPNOTSUPP, "method %s is not allowed on %s; use POST",
					    method, CLAIMS_PATH);
		return add_claim(manager, body, size, result, err);
	}

	const char *container = rest + 1;
	if (strcmp(method, "DELETE") != 0)
		return cf_error_set(err, -EOPNOTSUPP,
				    "method %s is not allowed on %s/CONTAINER; use DELETE", method,
				    CLAIMS_PATH);
	int rc = plugin_container_id_validate(container, err);
	if (rc != 0)
		return rc;
	if (manager == NULL)
		return cf_error_set(err, -ENODEV, "the volume manager is not open");
	rc = vol_release(manager, container, err);
	if (rc == 0)
		*result = json_pack("{s:s}", "released", container);
	return rc;
}
