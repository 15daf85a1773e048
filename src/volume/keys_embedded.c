// SPDX-License-Identifier: Apache-2.0
// Volume keys from the embedded key store in the storage manager's state
// directory. Keys are owned by the identity "local" and named
// "volume/NAME", so crash recovery can find a key whose volume record was
// never written.

#include <coffer/keystore.h>
#include <coffer/volume.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct ks_caller local_caller = { .identity = "local", .admin = false };

static void key_name(char *buf, size_t size, const char *volume)
{
	snprintf(buf, size, "volume/%s", volume);
}

static int embedded_create(void *state, const char *volume, char id[64], struct cf_error *err)
{
	char name[VOL_NAME_MAX + 16];
	key_name(name, sizeof(name), volume);
	return ks_create_key(state, &local_caller, KS_ALG_AES, 256, name, true, id, err);
}

static int embedded_get(void *state, const char *id, uint8_t **key, size_t *size,
			struct cf_error *err)
{
	return ks_get_material(state, &local_caller, id, key, size, err);
}

static int embedded_destroy(void *state, const char *id, struct cf_error *err)
{
	struct ks_object_info info;
	int rc = ks_get_info(state, &local_caller, id, &info, err);
	if (rc == -ENOENT) {
		cf_error_reset(err);
		return 0;
	}
	if (rc != 0)
		return rc;

	// As in KMIP, an active key is revoked (cessation of operation) first.
	if (info.state == KS_ACTIVE || info.state == KS_PRE_ACTIVE) {
		rc = ks_revoke(state, &local_caller, id, KS_REVOKE_CESSATION_OF_OPERATION, err);
		if (rc != 0)
			return rc;
	}
	rc = ks_destroy(state, &local_caller, id, err);
	if (rc == -ENOKEY) {
		cf_error_reset(err);
		return 0;
	}
	return rc;
}

static int embedded_exists(void *state, const char *id, struct cf_error *err)
{
	struct ks_object_info info;
	int rc = ks_get_info(state, &local_caller, id, &info, err);
	if (rc == -ENOENT) {
		cf_error_reset(err);
		return 0;
	}
	if (rc != 0)
		return rc;
	return info.state == KS_ACTIVE ? 1 : 0;
}

struct unrecorded_search {
	const char *name;
	const char *keep_id;
	char ids[16][KS_ID_MAX];
	size_t count;
};

static int collect_unrecorded(const struct ks_object_info *info, void *arg)
{
	struct unrecorded_search *search = arg;
	if (strcmp(info->name, search->name) != 0)
		return 0;
	if (search->keep_id != NULL && strcmp(info->id, search->keep_id) == 0)
		return 0;
	if (info->state == KS_DESTROYED || info->state == KS_DESTROYED_COMPROMISED)
		return 0;
	if (search->count < sizeof(search->ids) / sizeof(search->ids[0]))
		snprintf(search->ids[search->count++], KS_ID_MAX, "%s", info->id);
	return 0;
}

static int embedded_destroy_unrecorded(void *state, const char *volume, const char *keep_id,
				       struct cf_error *err)
{
	struct unrecorded_search search = { .keep_id = keep_id };
	char name[VOL_NAME_MAX + 16];

	key_name(name, sizeof(name), volume);
	search.name = name;
	int rc = ks_foreach(state, &local_caller, collect_unrecorded, &search, err);
	for (size_t i = 0; rc == 0 && i < search.count; i++) {
		cf_log(CF_LOG_WARN, "volume.recover_orphan_key", "volume=%s key_id=%s", volume,
		       search.ids[i]);
		rc = embedded_destroy(state, search.ids[i], err);
	}
	return rc;
}

static void embedded_close(void *state)
{
	ks_close(state);
}

static const struct vol_key_provider_ops embedded_ops = {
	.name = "embedded",
	.create = embedded_create,
	.get = embedded_get,
	.destroy = embedded_destroy,
	.exists = embedded_exists,
	.destroy_unrecorded = embedded_destroy_unrecorded,
	.close = embedded_close,
};

int vol_key_provider_embedded(struct vol_key_provider **provider, const char *dir,
			      struct cf_error *err)
{
	struct ks_options options = { .dir = dir, .create_master_key = true };
	struct ks_store *store = NULL;

	int rc = ks_open(&store, &options, err);
	if (rc != 0)
		return rc;

	*provider = calloc(1, sizeof(**provider));
	if (*provider == NULL) {
		ks_close(store);
		return cf_error_set(err, -ENOMEM, "out of memory");
	}
	(*provider)->ops = &embedded_ops;
	(*provider)->state = store;
	return 0;
}

void vol_key_provider_free(struct vol_key_provider *provider)
{
	if (provider == NULL)
		return;
	if (provider->ops->close != NULL)
		provider->ops->close(provider->state);
	free(provider);
}
