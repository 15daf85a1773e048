// SPDX-License-Identifier: Apache-2.0
// CVSS v4.0 scoring for the vulnerability matcher: vector validation, the
// MacroVector and the score, as FIRST's reference calculator computes them.

#ifndef COFFER_SCAN_VULNDB_CVSS4_H
#define COFFER_SCAN_VULNDB_CVSS4_H

#include <coffer/common.h>

// Length of a MacroVector string: six EQ digits and the terminating NUL.
#define CVSS4_MACROVECTOR_SIZE 7

// Computes the MacroVector of a CVSS v4.0 vector such as
// "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" into
// out, for example "000200". Threat and environmental metrics in the vector
// take part. Returns 0, or -EINVAL with a message in err when the vector is
// invalid.
int cvss4_macrovector(const char *vector, char out[CVSS4_MACROVECTOR_SIZE],
		      struct cf_error *err);

// Computes the CVSS v4.0 score of vector into *score, rounded to one
// decimal. The score is CVSS-B for base metrics only, and CVSS-BT, -BE or
// -BTE when threat or environmental metrics are present. Returns 0, or
// -EINVAL with a message in err when the vector is invalid.
int cvss4_score(const char *vector, double *score, struct cf_error *err);

#endif
