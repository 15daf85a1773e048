// SPDX-License-Identifier: Apache-2.0
// RPM version order: rpmvercmp on each of epoch, version and release.
// Segments are runs of digits or of letters; other characters only
// separate them, except '~' (sorts before anything, even the end) and '^'
// (sorts after the end but before any further segment).

#include "scan/version/version.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static bool rpm_is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool rpm_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool rpm_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int sign(int value)
{
	return (value > 0) - (value < 0);
}

int version_rpm_segment_compare(const char *a, const char *b)
{
	if (strcmp(a, b) == 0)
		return 0;

	while (*a != '\0' || *b != '\0') {
		while (*a != '\0' && !rpm_is_alnum(*a) && *a != '~' && *a != '^')
			a++;
		while (*b != '\0' && !rpm_is_alnum(*b) && *b != '~' && *b != '^')
			b++;

		if (*a == '~' || *b == '~') {
			if (*a != '~')
				return 1;
			if (*b != '~')
				return -1;
			a++;
			b++;
			continue;
		}

		// '^' sorts after the end of a version but before a new segment.
		if (*a == '^' || *b == '^') {
			if (*a == '\0')
				return -1;
			if (*b == '\0')
				return 1;
			if (*a != '^')
				return 1;
			if (*b != '^')
				return -1;
			a++;
			b++;
			continue;
		}

		if (*a == '\0' || *b == '\0')
			break;

		const char *a_end = a;
		const char *b_end = b;
		bool numeric = rpm_is_digit(*a);
		if (numeric) {
			while (rpm_is_digit(*a_end))
				a_end++;
			while (rpm_is_digit(*b_end))
				b_end++;
		} else {
			while (rpm_is_alpha(*a_end))
				a_end++;
			while (rpm_is_alpha(*b_end))
				b_end++;
		}

		// Segments of different kinds: a number is newer than letters.
		if (b_end == b)
			return numeric ? 1 : -1;

		if (numeric) {
			while (*a == '0' && a < a_end)
				a++;
			while (*b == '0' && b < b_end)
				b++;
			size_t alen = (size_t)(a_end - a);
			size_t blen = (size_t)(b_end - b);
			if (alen != blen)
				return alen > blen ? 1 : -1;
		}

		size_t alen = (size_t)(a_end - a);
		size_t blen = (size_t)(b_end - b);
		int rc = strncmp(a, b, alen < blen ? alen : blen);
		if (rc != 0)
			return sign(rc);
		if (alen != blen)
			return alen > blen ? 1 : -1;

		a = a_end;
		b = b_end;
	}

	if (*a == '\0' && *b == '\0')
		return 0;
	return *a != '\0' ? 1 : -1;
}

struct rpm_evr {
	unsigned long epoch;
	char *version;
	char *release; // NULL when absent
};

// Splits [epoch:]version[-release] in place inside copy.
static void rpm_split(char *copy, struct rpm_evr *evr)
{
	char *text = copy;
	char *colon = strchr(text, ':');
	evr->epoch = 0;
	if (colon != NULL) {
		bool digits = colon > text;
		for (char *p = text; p < colon; p++)
			digits = digits && rpm_is_digit(*p);
		if (digits) {
			evr->epoch = strtoul(text, NULL, 10);
			text = colon + 1;
		}
	}

	char *hyphen = strrchr(text, '-');
	evr->version = text;
	evr->release = NULL;
	if (hyphen != NULL) {
		*hyphen = '\0';
		evr->release = hyphen + 1;
	}
}

int version_rpm_compare(const char *a, const char *b)
{
	char *ca = strdup(a);
	char *cb = strdup(b);
	int rc;

	if (ca == NULL || cb == NULL) {
		rc = sign(strcmp(a, b));
		goto out;
	}

	struct rpm_evr ea, eb;
	rpm_split(ca, &ea);
	rpm_split(cb, &eb);

	if (ea.epoch != eb.epoch) {
		rc = ea.epoch < eb.epoch ? -1 : 1;
		goto out;
	}
	rc = version_rpm_segment_compare(ea.version, eb.version);
	if (rc != 0)
		goto out;
	if (ea.release == NULL || eb.release == NULL)
		rc = (ea.release != NULL) - (eb.release != NULL);
	else
		rc = version_rpm_segment_compare(ea.release, eb.release);
out:
	free(ca);
	free(cb);
	return rc;
}
