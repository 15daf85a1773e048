// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the plugin, admin and server files of src/plugin/.

#ifndef COFFER_PLUGIN_INTERNAL_H
#define COFFER_PLUGIN_INTERNAL_H

#include <coffer/plugin.h>

#include <jansson.h>

// Returns message as a JSON string, with bytes that are not valid UTF-8
// replaced by '?'.
json_t *plugin_json_message(const char *message);

#endif
