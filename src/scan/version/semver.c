// SPDX-License-Identifier: Apache-2.0
// SemVer 2.0.0 precedence (semver.org, section 11): major, minor and patch
// numerically, a pre-release sorts before its release, and pre-release
// identifiers compare numerically when all digits, otherwise in ASCII order,
// with numeric identifiers first. Build metadata never affects order.

#include "scan/version/version.h"

#include <string.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

static const char *skip_prefix(const char *v)
{
	while (*v == ' ')
		v++;
	if (*v == 'v' || *v == 'V' || *v == '=')
		v++;
	return v;
}

// Compares two digit strings of any length by value.
static int compare_digits(const char *a, size_t alen, const char *b, size_t blen)
{
	while (alen > 1 && *a == '0') {
		a++;
		alen--;
	}
	while (blen > 1 && *b == '0') {
		b++;
		blen--;
	}
	if (alen != blen)
		return alen < blen ? -1 : 1;
	int rc = memcmp(a, b, alen);
	return (rc > 0) - (rc < 0);
}

static size_t digit_run(const char *p)
{
	size_t n = 0;
	while (is_digit(p[n]))
		n++;
	return n;
}

// Length of the part before '+' (build metadata) or the end.
static size_t precedence_length(const char *v)
{
	const char *plus = strchr(v, '+');
	return plus != NULL ? (size_t)(plus - v) : strlen(v);
}

static bool all_digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return false;
	}
	return n > 0;
}

static int compare_identifiers(const char *a, size_t alen, const char *b, size_t blen)
{
	bool anum = all_digits(a, alen);
	bool bnum = all_digits(b, blen);

	if (anum && bnum)
		return compare_digits(a, alen, b, blen);
	if (anum != bnum)
		return anum ? -1 : 1;

	size_t n = alen < blen ? alen : blen;
	int rc = memcmp(a, b, n);
	if (rc != 0)
		return (rc > 0) - (rc < 0);
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return 0;
}

int version_semver_compare(const char *a, const char *b)
{
	a = skip_prefix(a);
	b = skip_prefix(b);
	const char *aend = a + precedence_length(a);
	const char *bend = b + precedence_length(b);

	// major.minor.patch
	for (int part = 0; part < 3; part++) {
		size_t alen = digit_run(a);
		size_t blen = digit_run(b);
		int rc = compare_digits(a, alen, b, blen);
		if (rc != 0)
			return rc;
		a += alen;
		b += blen;
		if (part < 2) {
			if (*a == '.')
				a++;
			if (*b == '.')
				b++;
		}
	}

	bool apre = a < aend && *a == '-';
	bool bpre = b < bend && *b == '-';
	if (!apre || !bpre)
		return apre == bpre ? 0 : (apre ? -1 : 1);
	a++;
	b++;

	while (a < aend && b < bend) {
		const char *adot = memchr(a, '.', (size_t)(aend - a));
		const char *bdot = memchr(b, '.', (size_t)(bend - b));
		size_t alen = adot != NULL ? (size_t)(adot - a) : (size_t)(aend - a);
		size_t blen = bdot != NULL ? (size_t)(bdot - b) : (size_t)(bend - b);
		int rc = compare_identifiers(a, alen, b, blen);
		if (rc != 0)
			return rc;
		a += alen;
		b += blen;
		if (a < aend)
			a++;
		if (b < bend)
			b++;
	}
	if (a < aend)
		return 1;
	if (b < bend)
		return -1;
	return 0;
}

// Checks one dot-separated list of identifiers; numeric identifiers may
// not have leading zeros when no_leading_zero is set (pre-release).
static bool valid_identifiers(const char *p, size_t len, bool no_leading_zero)
{
	if (len == 0)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '.') {
			if (!is_ident_char(p[i]))
				return false;
			continue;
		}
		size_t n = i - start;
		if (n == 0)
			return false;
		if (no_leading_zero && n > 1 && all_digits(p + start, n) && p[start] == '0')
			return false;
		start = i + 1;
	}
	return true;
}

bool version_semver_valid(const char *version)
{
	const char *p = skip_prefix(version);

	for (int part = 0; part < 3; part++) {
		size_t n = digit_run(p);
		if (n == 0 || (n > 1 && p[0] == '0'))
			return false;
		p += n;
		if (part < 2) {
			if (*p != '.')
				return false;
			p++;
		}
	}

	const char *plus = strchr(p, '+');
	const char *end = plus != NULL ? plus : p + strlen(p);
	if (*p == '-') {
		if (!valid_identifiers(p + 1, (size_t)(end - p - 1), true))
			return false;
	} else if (p != end) {
		return false;
	}
	if (plus != NULL)
		return valid_identifiers(plus + 1, strlen(plus + 1), false);
	return true;
}
