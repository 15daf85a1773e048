// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the CVSS v4.0 vector parser and scorer: any string must
// either score within 0.0-10.0 or fail with an error message, never crash.

#include "scan/vulndb/cvss4.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	// Vectors come from JSON strings, so the input ends at its first NUL.
	char *vector = malloc(size + 1);
	if (vector == NULL)
		return 0;
	memcpy(vector, data, size);
	vector[size] = '\0';

	struct cf_error err = { 0 };
	double score = -1.0;
	int rc = cvss4_score(vector, &score, &err);
	if (rc == 0 && (score < 0.0 || score > 10.0))
		__builtin_trap(); // a score outside the CVSS range
	if (rc != 0 && (rc != -EINVAL || err.message[0] == '\0'))
		__builtin_trap(); // every failure must explain itself

	char macrovector[CVSS4_MACROVECTOR_SIZE];
	struct cf_error macro_err = { 0 };
	if ((cvss4_macrovector(vector, macrovector, &macro_err) == 0) != (rc == 0))
		__builtin_trap(); // both entry points validate the same way
	free(vector);
	return 0;
}
