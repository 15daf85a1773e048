// SPDX-License-Identifier: Apache-2.0
// The volume manager: encrypted volumes with one key each, following the
// lifecycle creating -> ready <-> mounted -> removing -> gone. State lives in
// SQLite next to the key store; engines (fscrypt, fuse) sit behind a table
// of function pointers. A manager handle is used from one thread at a time.

#ifndef COFFER_VOLUME_H
#define COFFER_VOLUME_H

#include <coffer/common.h>

#define VOL_NAME_MAX 128
#define VOL_CONTAINER_MAX 256
#define VOL_PATH_MAX 4096
#define VOL_MAX_USERS 16

enum vol_state {
	VOL_CREATING,
	VOL_READY,
	VOL_MOUNTED,
	VOL_REMOVING,
};

const char *vol_state_name(enum vol_state state);

struct vol_key_provider;

struct vol_config {
	// State directory (default /var/lib/coffer): volumes.db, keys, pool.
	const char *state_dir;
	// Directory for the mount points of unlocked volumes; default STATE_DIR/mounts.
	const char *mount_root;
	// fscrypt pool: an ext4 filesystem with the encrypt feature. When
	// pool_path is NULL, coffer makes and loop-mounts an image of
	// pool_size bytes (default 10 GiB, sparse) in the state directory.
	const char *pool_path;
	uint64_t pool_size;
	// Engine for volumes created without an engine option.
	const char *default_engine;
	// Transport of the fuse engine's servers (auto, off, require or
	// enable); NULL leaves the server's default.
	const char *fuse_uring;
	// Key source; NULL selects the embedded key store in the state dir.
	struct vol_key_provider *keys;
};

struct vol_info {
	char name[VOL_NAME_MAX + 1];
	enum vol_state state;
	char engine[32];
	char engine_reason[128];
	char key_id[64];
	char path[VOL_PATH_MAX];
	bool shared;
	int64_t created;
	// Mounts through the plugin API: Docker sends each container's id,
	// podman one fixed id for all of its containers.
	size_t users;
	char user_ids[VOL_MAX_USERS][VOL_CONTAINER_MAX + 1];
	// Containers that claimed the volume through the OCI hook (podman).
	size_t claims;
	char claim_ids[VOL_MAX_USERS][VOL_CONTAINER_MAX + 1];
	// Engine-specific detail such as the fscrypt key status; may be empty.
	char status[128];
};

// A volume option from `docker volume create -o KEY=VALUE`.
struct vol_option {
	const char *key;
	const char *value;
};

struct vol_manager;

// Opens the state, checks engine support, and runs crash recovery: intent
// records are finished or rolled back and every volume starts locked.
int vol_manager_open(struct vol_manager **manager, const struct vol_config *config,
		     struct cf_error *err);
// Locks every mounted volume and releases the manager.
void vol_manager_close(struct vol_manager *manager);

// Validates a volume name: 1-128 characters of [A-Za-z0-9_.-], starting
// with a letter or digit.
int vol_name_validate(const char *name, struct cf_error *err);

// Lists the accepted options as "a, b, c" for error messages and help.
const char *vol_known_options(void);

int vol_create(struct vol_manager *manager, const char *name,
	       const struct vol_option *options, size_t option_count,
	       struct cf_error *err);

// Unlocks the volume for container_id and returns its mount point in path.
// A second container while another has it mounted gets -EBUSY unless the
// volume was created with shared=true. Mounting again with the same id
// counts one more use.
int vol_mount(struct vol_manager *manager, const char *name,
	      const char *container_id, char path[VOL_PATH_MAX],
	      struct cf_error *err);

// Drops one use by container_id; the last use locks the volume.
int vol_unmount(struct vol_manager *manager, const char *name,
		const char *container_id, struct cf_error *err);

// Locks the volume, deletes its data, revokes and destroys its key and
// deletes its record. Returns -EBUSY while the volume is mounted.
int vol_remove(struct vol_manager *manager, const char *name, struct cf_error *err);

int vol_inspect(struct vol_manager *manager, const char *name,
		struct vol_info *info, struct cf_error *err);

// Calls visit for every volume in name order, with the engine status
// filled in as vol_inspect does; stops on a non-zero return.
int vol_foreach(struct vol_manager *manager,
		int (*visit)(const struct vol_info *info, void *arg), void *arg,
		struct cf_error *err);

// Records that container_id uses the volumes mounted at paths, which are the
// host directories a runtime binds into the container. Paths that are not
// coffer volumes are ignored. Returns -EBUSY, recording nothing, when a
// volume not created with shared=true is already claimed by another
// container.
// This is how the OCI hook enforces one container per volume under podman,
// which calls the plugin's Mount only for the first container of a volume.
int vol_claim(struct vol_manager *manager, const char *container_id, const char *const *paths,
	      size_t count, struct cf_error *err);

// Drops every claim of container_id (the container stopped).
int vol_release(struct vol_manager *manager, const char *container_id, struct cf_error *err);

// Retries removals left pending (for example a key destroy that could not
// reach the KMS). Returns the number still pending, or a negative errno.
int vol_retry_pending(struct vol_manager *manager, struct cf_error *err);

// Locks every mounted volume (used at shutdown). Returns the first error
// but tries every volume.
int vol_lock_all(struct vol_manager *manager, struct cf_error *err);

// ---- key providers ---------------------------------------------------------
// Where volume keys come from: the embedded key store or a KMIP server.

struct vol_key_provider_ops {
	const char *name;
	// Creates and activates a 256-bit key; writes its id.
	int (*create)(void *state, const char *volume, char id[64], struct cf_error *err);
	// Fetches the key bytes into a buffer from cf_secure_alloc.
	int (*get)(void *state, const char *id, uint8_t **key, size_t *size,
		   struct cf_error *err);
	// Revokes then destroys the key. Returns 0 when it is destroyed or was
	// already gone, -ENOKEY never: a destroyed key counts as success.
	int (*destroy)(void *state, const char *id, struct cf_error *err);
	// Reports whether the key exists and is usable (1), destroyed or
	// unknown (0), or the check failed (negative errno).
	int (*exists)(void *state, const char *id, struct cf_error *err);
	// Optional (may be NULL): destroys keys that were created for volume
	// but never recorded (a crash between key create and the volume
	// record), keeping keep_id when it is not NULL.
	int (*destroy_unrecorded)(void *state, const char *volume, const char *keep_id,
				  struct cf_error *err);
	void (*close)(void *state);
};

struct vol_key_provider {
	const struct vol_key_provider_ops *ops;
	void *state;
};

// The embedded key store in dir (master key created on first start).
int vol_key_provider_embedded(struct vol_key_provider **provider, const char *dir,
			      struct cf_error *err);
void vol_key_provider_free(struct vol_key_provider *provider);

// Volume keys on a KMIP server (coffer kms serve, or any KMIP 1.x server
// with mutual TLS). Keys are named "volume/NAME" on the server.
struct vol_kmip_options {
	const char *url;         // kmip://HOST:PORT (PORT defaults to 5696)
	const char *cert_path;   // client certificate (PEM)
	const char *key_path;    // client private key (PEM)
	const char *ca_path;     // CA bundle for the server certificate
	int timeout_ms;          // per request; default 10000
	// Optional source of the client's TLS context (see struct
	// kmip_client_options).
	struct ca_renewer *renewer;
};

// Checks the options and prepares the TLS context; the first connection is
// made by the first key operation.
int vol_key_provider_kmip(struct vol_key_provider **provider,
			  const struct vol_kmip_options *options, struct cf_error *err);

// Creates the KMIP client that vol_key_provider_kmip uses, for callers that
// need operations beyond the key provider's.
struct kmip_client;
int vol_kmip_client_new(struct kmip_client **client, const struct vol_kmip_options *options,
			struct cf_error *err);

#endif
