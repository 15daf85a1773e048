// SPDX-License-Identifier: Apache-2.0
// Version comparators, one per package ecosystem. Each compare function
// returns a negative number, 0 or a positive number as a sorts before,
// equal to or after b in that ecosystem's order. Each *_valid function
// reports whether a string follows the ecosystem's version syntax;
// comparators still order invalid strings deterministically.

#ifndef COFFER_SCAN_VERSION_H
#define COFFER_SCAN_VERSION_H

#include <stdbool.h>

// dpkg: [epoch:]upstream[-revision], with '~' sorting before everything.
int version_dpkg_compare(const char *a, const char *b);
bool version_dpkg_valid(const char *version);

// rpm: rpmvercmp on [epoch:]version[-release], with '~' (pre-release) and
// '^' (post-release snapshot). A missing epoch is 0; a missing release
// sorts before any release, as rpm's own labelCompare does.
int version_rpm_compare(const char *a, const char *b);
int version_rpm_segment_compare(const char *a, const char *b);

// apk (Alpine): digits, one letter, _suffixes, ~hash and -rN revision.
int version_apk_compare(const char *a, const char *b);
bool version_apk_valid(const char *version);
// True when a matches b's version as a prefix of tokens ("3.6.9" ~ "3.6").
bool version_apk_fuzzy_match(const char *a, const char *b);

// SemVer 2.0.0 precedence; build metadata is ignored. A leading 'v' or '='
// is accepted, as npm does.
int version_semver_compare(const char *a, const char *b);
bool version_semver_valid(const char *version);

// PEP 440, after normalisation (case, alternative spellings, separators).
int version_pep440_compare(const char *a, const char *b);
bool version_pep440_valid(const char *version);

enum version_scheme {
	VERSION_SCHEME_UNKNOWN = 0,
	VERSION_SCHEME_DPKG,
	VERSION_SCHEME_RPM,
	VERSION_SCHEME_APK,
	VERSION_SCHEME_SEMVER,
	VERSION_SCHEME_PEP440,
};

// Maps an OSV ecosystem ("Debian:12", "Alpine:v3.19", "Rocky Linux:9",
// "npm", "PyPI", ...) to its version order; UNKNOWN for others.
enum version_scheme version_scheme_for_ecosystem(const char *ecosystem);
const char *version_scheme_name(enum version_scheme scheme);
// Compares with the scheme's comparator; UNKNOWN falls back to strcmp.
int version_compare(enum version_scheme scheme, const char *a, const char *b);

#endif
