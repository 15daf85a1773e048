// SPDX-License-Identifier: Apache-2.0
// The Encrypted Storage Manager's HTTP front ends: the Docker volume plugin
// protocol and the admin API used by `coffer volume`, both served over unix
// sockets by one single-threaded libevent loop, plus the admin API client.
//
// Request handling is split from the transport so it can be tested without
// sockets: plugin_docker_handle and plugin_admin_handle take a path and a
// body and fill a response. Both validate the whole request before they
// touch the volume manager, so a bad request changes nothing.

#ifndef COFFER_PLUGIN_H
#define COFFER_PLUGIN_H

#include <coffer/common.h>
#include <coffer/volume.h>

// Largest request body the handlers accept. evhttp itself closes
// connections whose body exceeds PLUGIN_BODY_HARD_MAX (with its own 413
// page), so bodies in between get a JSON error from the handlers.
#define PLUGIN_BODY_MAX (64 * 1024)
#define PLUGIN_BODY_HARD_MAX (1024 * 1024)
#define PLUGIN_OPTIONS_MAX 32

#define PLUGIN_DEFAULT_SOCKET "/run/docker/plugins/coffer.sock"
#define PLUGIN_DEFAULT_ADMIN_SOCKET "/run/coffer/admin.sock"
#define PLUGIN_DEFAULT_STATE_DIR "/var/lib/coffer"

// Members that plugin_request_parse reads from a request body.
enum plugin_field {
	PLUGIN_FIELD_NAME = 1 << 0,
	PLUGIN_FIELD_ID = 1 << 1,    // Mount and Unmount: the container id
	PLUGIN_FIELD_OPTS = 1 << 2,  // Create: optional map of string options
};

// A parsed request body. Strings point into storage owned by the request;
// release it with plugin_request_clear.
struct plugin_request {
	const char *name;
	const char *id;
	struct vol_option options[PLUGIN_OPTIONS_MAX];
	size_t option_count;
	void *json; // the parsed document that owns the strings
};

// Parses a JSON request body of size bytes. fields selects the members
// read: Name must be present whenever PLUGIN_FIELD_NAME is set, ID whenever
// PLUGIN_FIELD_ID is set, and Opts (under opts_key, "Opts" for Docker,
// "options" for the admin API) may be absent, null or an object of strings.
// name_key is "Name" for Docker and "name" for the admin API. Returns 0 or
// -EINVAL, -E2BIG with a message naming the field and what was expected.
int plugin_request_parse(const char *body, size_t size, unsigned fields,
			 const char *name_key, const char *opts_key,
			 struct plugin_request *request, struct cf_error *err);
void plugin_request_clear(struct plugin_request *request);

// Checks a container id from Mount or Unmount: 1-256 printable ASCII
// characters without spaces.
int plugin_container_id_validate(const char *id, struct cf_error *err);

enum plugin_api {
	PLUGIN_API_DOCKER,
	PLUGIN_API_ADMIN,
};

// Maps a library return value to an HTTP status: the one place that does.
// The Docker API returns 500 for every error, because podman reads Err
// only from a non-200 response; the admin API uses 400, 404, 405, 409, 413, 500 and 503.
int plugin_http_status(enum plugin_api api, int rc);

struct plugin_response {
	int status;
	char *body; // malloc'd JSON text; free with plugin_response_clear
};

void plugin_response_clear(struct plugin_response *response);

// Handles one Docker volume plugin request (POST /Plugin.Activate,
// /VolumeDriver.Create and the rest). manager may be NULL, in which case
// every request that gets past validation fails with -ENODEV. Returns the
// library result of the operation, also reflected in response.
int plugin_docker_handle(struct vol_manager *manager, const char *method, const char *path,
			 const char *body, size_t size, struct plugin_response *response);

// Handles one admin API request:
//   GET    /v1/volumes          list every volume
//   POST   /v1/volumes          create {"name": ..., "options": {...}}
//   GET    /v1/volumes/NAME     inspect
//   DELETE /v1/volumes/NAME     remove
// Other methods get 405. Errors are {"error": MESSAGE}. manager may be
// NULL as for plugin_docker_handle.
int plugin_admin_handle(struct vol_manager *manager, const char *method,
			const char *path, const char *body, size_t size,
			struct plugin_response *response);

// ---- the daemon ------------------------------------------------------------

struct storage_config {
	char state_dir[VOL_PATH_MAX];
	char plugin_socket[VOL_PATH_MAX];
	char admin_socket[VOL_PATH_MAX];
	char pool[VOL_PATH_MAX]; // empty: an image file in the state directory
	uint64_t pool_size;      // 0: the volume manager's default
	enum cf_log_level log_level;
	// KMIP server for volume keys (kmip://HOST:PORT); empty: the embedded
	// key store. The other three are its client certificate, key and CA.
	char kms[VOL_PATH_MAX];
	char kms_cert[VOL_PATH_MAX];
	char kms_key[VOL_PATH_MAX];
	char kms_ca[VOL_PATH_MAX];
	// Enrollment with coffer's CA (HOST:PORT), which then writes kms-cert
	// and kms-key and renews them; kms-ca is the CA's root.pem. The SANs
	// are comma-separated, the token file is used for the first enrollment.
	char kms_enroll[VOL_PATH_MAX];
	char kms_enroll_token_file[VOL_PATH_MAX];
	char kms_enroll_san[VOL_PATH_MAX];
	// Transport of the fuse engine's servers: auto, off, require or
	// enable (see `coffer fuse-server --uring`); empty: the server's
	// default.
	char fuse_uring[16];
};

// Fills config with the defaults above.
void storage_config_init(struct storage_config *config);

// Reads a configuration file of `key = value` lines (keys state-dir,
// plugin-socket, admin-socket, pool, pool-size, log-level, kms, kms-cert,
// kms-key, kms-ca; `#` starts a
// comment) into config. Returns 0, or -EINVAL naming the file and line.
int storage_config_load(struct storage_config *config, const char *path,
			struct cf_error *err);

// Sets one configuration key from a string, as the file and the command
// line do. Returns 0, or -EINVAL naming the key and the accepted values.
int storage_config_set(struct storage_config *config, const char *key,
		       const char *value, struct cf_error *err);

// Parses a size such as 512M, 10G or 1048576 (bytes; K, M, G, T are powers
// of 1024). Returns 0 or -EINVAL.
int cf_parse_size(const char *text, uint64_t *size);

// Opens the volume manager, serves both sockets until SIGTERM or SIGINT,
// then stops accepting, lets requests in flight finish, locks every volume
// and returns 0.
int storage_serve(const struct storage_config *config, struct cf_error *err);

// ---- the admin client ------------------------------------------------------

// Sends one request to the admin socket and reads the whole response.
// body may be NULL. On success returns 0 and sets *status and *response
// (malloc'd, NUL-terminated). Returns a negative errno when the socket
// cannot be reached or the response is malformed.
int plugin_admin_request(const char *socket_path, const char *method, const char *path,
			 const char *body, int *status, char **response,
			 struct cf_error *err);

#endif
