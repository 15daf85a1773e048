// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the Dockerfile linter: parses the input and runs every
// rule over it, so the parser, the variable expansion, the shell splitter
// and the rules all see hostile bytes.

#include <coffer/scan.h>
#include <coffer/scan_dockerfile.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Larger inputs only slow the fuzzer down; the parser's hostile-input unit
// test covers 10 MB inputs.
#define FUZZ_MAX_INPUT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;

	// A label schema with every value type, so the label validators see
	// the input too.
	struct scan_label_schema schema[] = {
		{ "a", SCAN_LABEL_TEXT }, { "b", SCAN_LABEL_URL }, { "c", SCAN_LABEL_RFC3339 },
		{ "d", SCAN_LABEL_SPDX }, { "e", SCAN_LABEL_HASH }, { "f", SCAN_LABEL_SEMVER },
		{ "g", SCAN_LABEL_EMAIL },
	};
	char *trusted[] = { "docker.io" };
	char *allowed[] = { "alpine:*" };
	struct scan_config config;
	memset(&config, 0, sizeof(config));
	config.fail_on = SCAN_SEV_WARNING;
	config.label_schema = schema;
	config.label_schema_count = sizeof(schema) / sizeof(schema[0]);
	config.strict_labels = true;
	config.trusted_registries = trusted;
	config.trusted_registry_count = 1;
	config.allowed_images = allowed;
	config.allowed_image_count = 1;

	struct scan_report *report = scan_report_new("coffer-dockerfile");
	if (report == NULL)
		return 0;
	struct cf_error err = { 0 };
	scan_dockerfile_lint(report, &config, "fuzz", NULL, (const char *)data, size, &err);
	scan_report_free(report);
	return 0;
}
