// SPDX-License-Identifier: Apache-2.0
// The Docker volume plugin protocol (Docker Engine's "Volume plugins" API,
// also spoken by podman): every endpoint is a POST of a JSON object and
// returns a JSON object whose Err member is empty on success. Errors are
// returned with HTTP 500 and a non-empty Err, since podman 4 reads Err only
// from a non-200 response while Docker reads it on any status.

#include "plugin_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct docker_endpoint {
	const char *path;
	unsigned fields;
	int (*run)(struct vol_manager *manager, const struct plugin_request *request,
		   json_t *reply, struct cf_error *err);
};

static int run_activate(struct vol_manager *manager, const struct plugin_request *request,
			json_t *reply, struct cf_error *err)
{
	(void)manager;
	(void)request;
	(void)err;
	json_object_set_new(reply, "Implements", json_pack("[s]", "VolumeDriver"));
	return 0;
}

static int run_capabilities(struct vol_manager *manager, const struct plugin_request *request,
			    json_t *reply, struct cf_error *err)
{
	(void)manager;
	(void)request;
	(void)err;
	json_object_set_new(reply, "Capabilities", json_pack("{s:s}", "Scope", "local"));
	return 0;
}

static int run_create(struct vol_manager *manager, const struct plugin_request *request,
		      json_t *reply, struct cf_error *err)
{
	(void)reply;
	return vol_create(manager, request->name, request->options, request->option_count, err);
}

static int run_remove(struct vol_manager *manager, const struct plugin_request *request,
		      json_t *reply, struct cf_error *err)
{
	(void)reply;
	return vol_remove(manager, request->name, err);
}

// podman (4.3.1 as tested, and libpod/volume_internal_linux.go upstream)
// sends this fixed ID, the SHA-256 of "placeholder\n", with
// every Mount and Unmount, and counts the containers that use a volume
// itself: one podman instance calls Mount only for the first container and
// Unmount after the last. coffer therefore cannot tell two containers of
// one podman apart, but a second Mount with this ID while the volume is
// mounted comes from another podman instance (another storage root), so it
// is rejected unless the volume is shared.
// NOTE: if a podman process dies between Mount and Unmount, the volume
// stays mounted under this ID, and rejects every podman, until the storage
// manager restarts (startup recovery locks every volume).
#define PODMAN_PSEUDO_CONTAINER_ID "2f73349cfc4630255319c6c8dfc1b46a8996ace9d14d8e07563b165915918ec2"

static int check_podman_remount(struct vol_manager *manager, const char *name, const char *id,
				struct cf_error *err)
{
	struct vol_info info;

	if (strcmp(id, PODMAN_PSEUDO_CONTAINER_ID) != 0)
		return 0;
	int rc = vol_inspect(manager, name, &info, err);
	if (rc < 0)
		return rc;
	if (info.shared || info.state != VOL_MOUNTED)
		return 0;
	for (size_t i = 0; i < info.users && i < VOL_MAX_USERS; i++) {
		if (strcmp(info.user_ids[i], id) == 0)
			return cf_error_set(err, -EBUSY,
					    "volume %s is already mounted by another podman instance; "
					    "coffer volumes are never shared between containers unless "
					    "created with -o shared=true",
					    name);
	}
	return 0;
}

static int run_mount(struct vol_manager *manager, const struct plugin_request *request,
		     json_t *reply, struct cf_error *err)
{
	char path[VOL_PATH_MAX];

	int rc = check_podman_remount(manager, request->name, request->id, err);
	if (rc < 0)
		return rc;
	rc = vol_mount(manager, request->name, request->id, path, err);
	if (rc < 0)
		return rc;
	json_object_set_new(reply, "Mountpoint", json_string(path));
	return 0;
}

static int run_unmount(struct vol_manager *manager, const struct plugin_request *request,
		       json_t *reply, struct cf_error *err)
{
	(void)reply;
	return vol_unmount(manager, request->name, request->id, err);
}

// The mount point is reported only while the volume is unlocked: a locked
// volume's directory holds nothing a container could use.
static const char *mountpoint_of(const struct vol_info *info)
{
	return info->state == VOL_MOUNTED ? info->path : "";
}

static int run_path(struct vol_manager *manager, const struct plugin_request *request,
		    json_t *reply, struct cf_error *err)
{
	struct vol_info info;

	int rc = vol_inspect(manager, request->name, &info, err);
	if (rc < 0)
		return rc;
	json_object_set_new(reply, "Mountpoint", json_string(mountpoint_of(&info)));
	return 0;
}

static json_t *volume_status(const struct vol_info *info)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:I, s:s}",
			 "State", vol_state_name(info->state),
			 "Engine", info->engine,
			 "KeyID", info->key_id,
			 "Shared", info->shared,
			 "Users", (json_int_t)info->users,
			 "Status", info->status);
}

static int run_get(struct vol_manager *manager, const struct plugin_request *request,
		   json_t *reply, struct cf_error *err)
{
	struct vol_info info;

	int rc = vol_inspect(manager, request->name, &info, err);
	if (rc < 0)
		return rc;
	// CreatedAt is RFC 3339 text, as Docker's own volumes report it.
	char created[32] = "";
	time_t when = (time_t)info.created;
	struct tm tm;
	if (gmtime_r(&when, &tm) != NULL)
		strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);

	json_object_set_new(reply, "Volume",
			    json_pack("{s:s, s:s, s:s, s:o}", "Name", info.name,
				      "Mountpoint", mountpoint_of(&info), "CreatedAt", created,
				      "Status", volume_status(&info)));
	return 0;
}

static int add_list_entry(const struct vol_info *info, void *arg)
{
	json_t *volumes = arg;

	json_array_append_new(volumes, json_pack("{s:s, s:s}", "Name", info->name,
						 "Mountpoint", mountpoint_of(info)));
	return 0;
}

static int run_list(struct vol_manager *manager, const struct plugin_request *request,
		    json_t *reply, struct cf_error *err)
{
	(void)request;
	json_t *volumes = json_array();

	int rc = vol_foreach(manager, add_list_entry, volumes, err);
	if (rc < 0) {
		json_decref(volumes);
		return rc;
	}
	json_object_set_new(reply, "Volumes", volumes);
	return 0;
}

static const struct docker_endpoint endpoints[] = {
	{ "/Plugin.Activate", 0, run_activate },
	{ "/VolumeDriver.Capabilities", 0, run_capabilities },
	{ "/VolumeDriver.Create", PLUGIN_FIELD_NAME | PLUGIN_FIELD_OPTS, run_create },
	{ "/VolumeDriver.Remove", PLUGIN_FIELD_NAME, run_remove },
	{ "/VolumeDriver.Mount", PLUGIN_FIELD_NAME | PLUGIN_FIELD_ID, run_mount },
	{ "/VolumeDriver.Unmount", PLUGIN_FIELD_NAME | PLUGIN_FIELD_ID, run_unmount },
	{ "/VolumeDriver.Path", PLUGIN_FIELD_NAME, run_path },
	{ "/VolumeDriver.Get", PLUGIN_FIELD_NAME, run_get },
	{ "/VolumeDriver.List", 0, run_list },
	{ NULL, 0, NULL },
};

static const struct docker_endpoint *find_endpoint(const char *path)
{
	for (const struct docker_endpoint *e = endpoints; e->path != NULL; e++) {
		if (strcmp(e->path, path) == 0)
			return e;
	}
	return NULL;
}

static void log_result(const char *path, const struct plugin_request *request, int rc,
		       const struct cf_error *err)
{
	char path_q[128], name_q[VOL_NAME_MAX + 8], id_q[96], error_q[CF_ERROR_MAX + 8];

	cf_log_quote(path_q, sizeof(path_q), path);
	cf_log_quote(name_q, sizeof(name_q), request->name ? request->name : "");
	cf_log_quote(id_q, sizeof(id_q), request->id ? request->id : "");
	if (rc == 0) {
		cf_log(CF_LOG_INFO, "plugin.request", "path=%s volume=%s container=%s result=ok",
		       path_q, name_q, id_q);
		return;
	}
	cf_log_quote(error_q, sizeof(error_q), cf_error_message(err, rc));
	// podman calls Get for a volume before it creates one, so a missing
	// volume there is the normal result, not a warning.
	bool expected = rc == -ENOENT && strcmp(path, "/VolumeDriver.Get") == 0;
	cf_log(expected ? CF_LOG_INFO : CF_LOG_WARN, "plugin.request",
	       "path=%s volume=%s container=%s result=error errno=%d error=%s",
	       path_q, name_q, id_q, -rc, error_q);
}

int plugin_docker_handle(struct vol_manager *manager, const char *method, const char *path,
			 const char *body, size_t size, struct plugin_response *response)
{
	struct plugin_request request;
	struct cf_error err = { 0 };
	json_t *reply = json_object();
	int rc;

	memset(&request, 0, sizeof(request));
	const struct docker_endpoint *endpoint = find_endpoint(path);
	if (strcmp(method, "POST") != 0) {
		rc = cf_error_set(&err, -EOPNOTSUPP,
				  "method %s is not allowed; the plugin API takes POST requests",
				  method);
		goto out;
	}
	if (endpoint == NULL) {
		rc = cf_error_set(&err, -ENOENT,
				  "unknown plugin endpoint '%s'; coffer serves /Plugin.Activate "
				  "and /VolumeDriver.{Create,Remove,Mount,Unmount,Path,Get,List,"
				  "Capabilities}",
				  path);
		goto out;
	}

	// Activate, Capabilities and List take no arguments, so any body
	// (Docker sends "{}" or nothing) is accepted for them.
	if (endpoint->fields != 0) {
		rc = plugin_request_parse(body, size, endpoint->fields, "Name", "Opts",
					  &request, &err);
		if (rc < 0)
			goto out;
	} else if (size > PLUGIN_BODY_MAX) {
		rc = cf_error_set(&err, -E2BIG, "request body of %zu bytes exceeds the limit of %d bytes",
				  size, PLUGIN_BODY_MAX);
		goto out;
	}

	if (manager == NULL && endpoint->run != run_activate && endpoint->run != run_capabilities) {
		rc = cf_error_set(&err, -ENODEV, "the volume manager is not open");
		goto out;
	}
	rc = endpoint->run(manager, &request, reply, &err);

out:
	if (rc < 0) {
		// A failed request returns only Err, never a half-filled result.
		json_decref(reply);
		reply = json_object();
		json_object_set_new(reply, "Err", plugin_json_message(cf_error_message(&err, rc)));
	} else if (endpoint->run != run_activate) {
		// Activate's reply is the only one without an Err member.
		json_object_set_new(reply, "Err", json_string(""));
	}
	log_result(path, &request, rc, &err);
	response->status = plugin_http_status(PLUGIN_API_DOCKER, rc);
	response->body = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	plugin_request_clear(&request);
	return rc;
}
