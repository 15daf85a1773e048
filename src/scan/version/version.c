// SPDX-License-Identifier: Apache-2.0
// Chooses the version order for an OSV ecosystem name.

#include "scan/version/version.h"

#include <string.h>

struct ecosystem_scheme {
	const char *prefix; // ecosystem name, or name followed by ':'
	enum version_scheme scheme;
};

static const struct ecosystem_scheme ecosystem_schemes[] = {
	{ "Debian", VERSION_SCHEME_DPKG },
	{ "Ubuntu", VERSION_SCHEME_DPKG },
	{ "Alpine", VERSION_SCHEME_APK },
	{ "Wolfi", VERSION_SCHEME_APK },
	{ "Chainguard", VERSION_SCHEME_APK },
	{ "Red Hat", VERSION_SCHEME_RPM },
	{ "Rocky Linux", VERSION_SCHEME_RPM },
	{ "AlmaLinux", VERSION_SCHEME_RPM },
	{ "openSUSE", VERSION_SCHEME_RPM },
	{ "SUSE", VERSION_SCHEME_RPM },
	{ "Mageia", VERSION_SCHEME_RPM },
	{ "npm", VERSION_SCHEME_SEMVER },
	{ "PyPI", VERSION_SCHEME_PEP440 },
};

enum version_scheme version_scheme_for_ecosystem(const char *ecosystem)
{
	for (size_t i = 0; i < sizeof(ecosystem_schemes) / sizeof(ecosystem_schemes[0]); i++) {
		size_t n = strlen(ecosystem_schemes[i].prefix);
		if (strncmp(ecosystem, ecosystem_schemes[i].prefix, n) == 0 &&
		    (ecosystem[n] == '\0' || ecosystem[n] == ':'))
			return ecosystem_schemes[i].scheme;
	}
	return VERSION_SCHEME_UNKNOWN;
}

const char *version_scheme_name(enum version_scheme scheme)
{
	switch (scheme) {
	case VERSION_SCHEME_DPKG:
		return "dpkg";
	case VERSION_SCHEME_RPM:
		return "rpm";
	case VERSION_SCHEME_APK:
		return "apk";
	case VERSION_SCHEME_SEMVER:
		return "semver";
	case VERSION_SCHEME_PEP440:
		return "pep440";
	case VERSION_SCHEME_UNKNOWN:
		break;
	}
	return "unknown";
}

int version_compare(enum version_scheme scheme, const char *a, const char *b)
{
	switch (scheme) {
	case VERSION_SCHEME_DPKG:
		return version_dpkg_compare(a, b);
	case VERSION_SCHEME_RPM:
		return version_rpm_compare(a, b);
	case VERSION_SCHEME_APK:
		return version_apk_compare(a, b);
	case VERSION_SCHEME_SEMVER:
		return version_semver_compare(a, b);
	case VERSION_SCHEME_PEP440:
		return version_pep440_compare(a, b);
	case VERSION_SCHEME_UNKNOWN:
		break;
	}
	int rc = strcmp(a, b);
	return (rc > 0) - (rc < 0);
}
