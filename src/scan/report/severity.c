// SPDX-License-Identifier: Apache-2.0
// Severity and output-format names shared by every scanner, and the rank
// that puts lint levels (warning, error) on the vulnerability scale.

#include <coffer/scan.h>

#include <errno.h>
#include <string.h>

static const char *const severity_names[] = {
	[SCAN_SEV_NONE] = "none",
	[SCAN_SEV_STYLE] = "style",
	[SCAN_SEV_INFO] = "info",
	[SCAN_SEV_LOW] = "low",
	[SCAN_SEV_WARNING] = "warning",
	[SCAN_SEV_MEDIUM] = "medium",
	[SCAN_SEV_ERROR] = "error",
	[SCAN_SEV_HIGH] = "high",
	[SCAN_SEV_CRITICAL] = "critical",
};

#define SEVERITY_COUNT (sizeof(severity_names) / sizeof(severity_names[0]))

const char *scan_severity_name(enum scan_severity severity)
{
	if ((size_t)severity >= SEVERITY_COUNT)
		return "unknown";
	return severity_names[severity];
}

int scan_severity_parse(const char *name, enum scan_severity *severity)
{
	if (name == NULL)
		return -EINVAL;

	for (size_t i = 0; i < SEVERITY_COUNT; i++) {
		if (strcmp(name, severity_names[i]) == 0) {
			*severity = (enum scan_severity)i;
			return 0;
		}
	}
	return -EINVAL;
}

int scan_severity_rank(enum scan_severity severity)
{
	switch (severity) {
	case SCAN_SEV_NONE:
		return 0;
	case SCAN_SEV_STYLE:
		return 1;
	case SCAN_SEV_INFO:
		return 2;
	case SCAN_SEV_LOW:
		return 3;
	case SCAN_SEV_WARNING:
	case SCAN_SEV_MEDIUM:
		return 4;
	case SCAN_SEV_ERROR:
	case SCAN_SEV_HIGH:
		return 5;
	case SCAN_SEV_CRITICAL:
		return 6;
	}
	return 0;
}

int scan_format_parse(const char *name, enum scan_format *format)
{
	if (name == NULL)
		return -EINVAL;

	if (strcmp(name, "text") == 0)
		*format = SCAN_FORMAT_TEXT;
	else if (strcmp(name, "json") == 0)
		*format = SCAN_FORMAT_JSON;
	else if (strcmp(name, "sarif") == 0)
		*format = SCAN_FORMAT_SARIF;
	else
		return -EINVAL;
	return 0;
}
