// SPDX-License-Identifier: Apache-2.0
// The table of encryption engines. A new engine adds one line here.

#include "engine.h"

#include <stdio.h>
#include <string.h>

static const struct vol_engine_ops *const engines[] = {
	&vol_engine_fscrypt,
	&vol_engine_fuse,
	NULL,
};

const struct vol_engine_ops *vol_engine_find(const char *name)
{
	for (size_t i = 0; engines[i] != NULL; i++) {
		if (strcmp(engines[i]->name, name) == 0)
			return engines[i];
	}
	return NULL;
}

const struct vol_engine_ops *const *vol_engine_list(void)
{
	return engines;
}

// Drivers whose names mark a generic C implementation; anything else
// registered for xts(aes) (aesni, vaes, arm64 ce, ...) uses CPU AES
// instructions.
static bool software_driver(const char *driver)
{
	return strstr(driver, "generic") != NULL || strstr(driver, "fixed-time") != NULL ||
	       strncmp(driver, "xts(ecb(aes", 11) == 0;
}

bool vol_kernel_xts_accelerated(char *driver, size_t size)
{
	char line[256], name[128] = "", best[128] = "";
	bool in_xts = false, fast = false;
	FILE *crypto = fopen("/proc/crypto", "r");

	snprintf(driver, size, "unknown");
	if (crypto == NULL)
		return false;

	// /proc/crypto lists blocks of "key : value" lines; the first driver
	// listed for a name has the highest priority.
	while (fgets(line, sizeof(line), crypto) != NULL) {
		char value[128];
		if (sscanf(line, "name : %127s", value) == 1) {
			snprintf(name, sizeof(name), "%s", value);
			in_xts = strcmp(name, "xts(aes)") == 0;
		} else if (in_xts && sscanf(line, "driver : %127s", value) == 1 && best[0] == '\0') {
			snprintf(best, sizeof(best), "%s", value);
		}
	}
	fclose(crypto);

	if (best[0] != '\0') {
		snprintf(driver, size, "%s", best);
		fast = !software_driver(best);
	} else {
		// xts(aes) is instantiated on first use; until then, say so.
		snprintf(driver, size, "not yet loaded");
	}
	return fast;
}
