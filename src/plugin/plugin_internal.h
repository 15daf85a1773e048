// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the plugin, admin and server files of src/plugin/.

#ifndef COFFER_PLUGIN_INTERNAL_H
#define COFFER_PLUGIN_INTERNAL_H

#include <coffer/plugin.h>

#include <jansson.h>

// Returns message as a JSON string, with bytes that are not valid UTF-8
// replaced by '?'.
json_t *plugin_json_message(const char *message);

// Claims API of the admin socket (admin_claims.c): whether path belongs to
// it, and the handler, which fills result on success.
bool plugin_admin_is_claims_path(const char *path);
int plugin_admin_claims(struct vol_manager *manager, const char *method, const char *path,
			const char *body, size_t size, json_t **result, struct cf_error *err);

#endif
