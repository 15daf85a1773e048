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

	struct scan_config config;
	memset(&config, 0, sizeof(config));
	config.fail_on = SCAN_SEV_WARNING;

	struct scan_report *report = scan_report_new("coffer-dockerfile");
	if (report == NULL)
		return 0;
	struct cf_error err = { 0 };
	scan_dockerfile_lint(report, &config, "fuzz", NULL, (const char *)data, size, &err);
	scan_report_free(report);
	return 0;
}
