// SPDX-License-Identifier: Apache-2.0
// The interface between the volume manager and an encryption engine. Each
// engine lives in src/volume/engines/ and exports one ops table. Engines get
// the 32-byte volume key and derive their own key from it with HKDF-SHA512
// and a label that names the engine and its format version, so one key type
// from the key store serves every engine.

#ifndef COFFER_VOLUME_ENGINE_H
#define COFFER_VOLUME_ENGINE_H

#include <coffer/volume.h>

struct vol_engine_ops {
	const char *name;

	// Checks kernel, tools and pool support. Returns 0 when the engine can
	// be used, or a negative errno with a message naming what is missing.
	// reason receives a short explanation either way (shown by inspect).
	int (*probe)(const struct vol_config *config, char *reason, size_t reason_size,
		     struct cf_error *err);

	int (*open)(void **state, const struct vol_config *config, struct cf_error *err);
	void (*close)(void *state);

	// Creates the volume's empty encrypted storage. Called once at create
	// with the volume key; must be idempotent so recovery can repeat it.
	int (*prepare)(void *state, const char *name, const uint8_t *key,
		       size_t key_size, struct cf_error *err);

	// Makes the volume readable and returns the directory to bind into
	// the container.
	int (*unlock)(void *state, const char *name, const uint8_t *key, size_t key_size,
		      char path[VOL_PATH_MAX], struct cf_error *err);

	// Removes the key from memory and the kernel. Returns -EBUSY when files
	// are still open (the volume stays unlocked and marked so).
	int (*lock)(void *state, const char *name, struct cf_error *err);

	// Deletes the volume's storage. The volume is locked. Succeeds when the
	// storage is already gone.
	int (*destroy)(void *state, const char *name, struct cf_error *err);

	// Writes the directory that unlock returns for name, locked or not, so
	// that a container bound to it while the volume is locked is caught.
	void (*path)(void *state, const char *name, char path[VOL_PATH_MAX]);

	// Writes a short status ("locked", "unlocked", ...) for inspect.
	int (*status)(void *state, const char *name, char *status, size_t size);

	// Reports whether storage for name exists (1), does not (0), or the
	// check failed (negative errno). Used by crash recovery.
	int (*exists)(void *state, const char *name);

	// Calls visit for each volume storage present, for orphan cleanup.
	int (*foreach)(void *state, int (*visit)(const char *name, void *arg), void *arg);
};

extern const struct vol_engine_ops vol_engine_fscrypt;
extern const struct vol_engine_ops vol_engine_fuse;

// Derives the 32-byte gocryptfs master key of a fuse volume from its
// volume key (HKDF-SHA512 with the fuse engine's label). Returns 0 or a
// negative errno.
int vol_fuse_master_key(const uint8_t *key, size_t key_size, uint8_t master[32]);

// Returns the engine named name, or NULL.
const struct vol_engine_ops *vol_engine_find(const char *name);

// Returns the NULL-terminated table of every engine.
const struct vol_engine_ops *const *vol_engine_list(void);

// Reports whether the kernel's AES-XTS implementation is hardware
// accelerated (from /proc/crypto), for engine=auto. Writes the driver
// name it found into driver.
bool vol_kernel_xts_accelerated(char *driver, size_t size);

#endif
