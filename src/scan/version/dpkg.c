// SPDX-License-Identifier: Apache-2.0
// Debian version order, as deb-version(7) defines it: epoch numerically,
// then upstream version and revision by alternating non-digit and digit
// runs, where '~' sorts before anything, even the end of the string.

#include "scan/version/version.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct dpkg_version {
	unsigned long epoch;
	const char *upstream;
	size_t upstream_len;
	const char *revision;
	size_t revision_len;
};

static void dpkg_split(const char *text, struct dpkg_version *v)
{
	const char *colon = strchr(text, ':');
	v->epoch = 0;
	if (colon != NULL) {
		v->epoch = strtoul(text, NULL, 10);
		text = colon + 1;
	}

	const char *hyphen = strrchr(text, '-');
	v->upstream = text;
	if (hyphen != NULL) {
		v->upstream_len = (size_t)(hyphen - text);
		v->revision = hyphen + 1;
		v->revision_len = strlen(hyphen + 1);
	} else {
		v->upstream_len = strlen(text);
		v->revision = "";
		v->revision_len = 0;
	}
}

// Weight of a character in a non-digit run: '~' < end < letters < others.
static int dpkg_weight(const char *p, const char *end)
{
	if (p >= end)
		return 0;
	unsigned char c = (unsigned char)*p;
	if (isdigit(c))
		return 0;
	if (isalpha(c))
		return c;
	if (c == '~')
		return -1;
	return c + 256;
}

static int dpkg_part_compare(const char *a, size_t alen, const char *b, size_t blen)
{
	const char *aend = a + alen;
	const char *bend = b + blen;

	while (a < aend || b < bend) {
		while ((a < aend && !isdigit((unsigned char)*a)) ||
		       (b < bend && !isdigit((unsigned char)*b))) {
			int wa = dpkg_weight(a, aend);
			int wb = dpkg_weight(b, bend);
			if (wa != wb)
				return wa - wb;
			a++;
			b++;
		}

		while (a < aend && *a == '0')
			a++;
		while (b < bend && *b == '0')
			b++;

		int first_difference = 0;
		while (a < aend && b < bend && isdigit((unsigned char)*a) &&
		       isdigit((unsigned char)*b)) {
			if (first_difference == 0)
				first_difference = *a - *b;
			a++;
			b++;
		}
		if (a < aend && isdigit((unsigned char)*a))
			return 1;
		if (b < bend && isdigit((unsigned char)*b))
			return -1;
		if (first_difference != 0)
			return first_difference;
	}
	return 0;
}

int version_dpkg_compare(const char *a, const char *b)
{
	struct dpkg_version va, vb;
	dpkg_split(a, &va);
	dpkg_split(b, &vb);

	if (va.epoch != vb.epoch)
		return va.epoch < vb.epoch ? -1 : 1;

	int rc = dpkg_part_compare(va.upstream, va.upstream_len, vb.upstream, vb.upstream_len);
	if (rc != 0)
		return rc;
	return dpkg_part_compare(va.revision, va.revision_len, vb.revision, vb.revision_len);
}

bool version_dpkg_valid(const char *version)
{
	struct dpkg_version v;
	const char *colon = strchr(version, ':');

	if (colon != NULL) {
		if (colon == version)
			return false;
		for (const char *p = version; p < colon; p++) {
			if (!isdigit((unsigned char)*p))
				return false;
		}
	}
	dpkg_split(version, &v);
	if (v.upstream_len == 0 || !isdigit((unsigned char)v.upstream[0]))
		return false;
	for (size_t i = 0; i < v.upstream_len; i++) {
		unsigned char c = (unsigned char)v.upstream[i];
		if (!isalnum(c) && strchr(".+-~:", c) == NULL)
			return false;
	}
	for (size_t i = 0; i < v.revision_len; i++) {
		unsigned char c = (unsigned char)v.revision[i];
		if (!isalnum(c) && strchr(".+~", c) == NULL)
			return false;
	}
	return true;
}
