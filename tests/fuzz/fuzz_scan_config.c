// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the .coffer.yaml loader: any bytes must either load or
// fail with an error message, never crash or leak.

#include <coffer/scan.h>

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_config config;
	struct cf_error err = { 0 };

	int rc = scan_config_load_buffer(&config, (const char *)data, size, "fuzz.yaml", &err);
	if (rc == 0) {
		// Exercise the lookups on whatever was loaded.
		for (size_t i = 0; i < config.ignore_count; i++)
			(void)scan_config_ignored(&config, config.ignore[i]);
		for (size_t i = 0; i < config.override_count; i++)
			(void)scan_config_severity(&config, config.overrides[i].rule_id, SCAN_SEV_LOW);
	} else if (err.message[0] == '\0') {
		__builtin_trap(); // every failure must explain itself
	}
	scan_config_free(&config);
	return 0;
}
