// SPDX-License-Identifier: Apache-2.0
// Alpine (apk) version order. A version is
//   number{.number}[letter]{_suffix[number]}[~hash][-rN]
// and is compared token by token. Numbers after a dot that start with '0'
// compare as decimal fractions (by bytes). Suffixes alpha, beta, pre and
// rc sort before the version without them; cvs, svn, git, hg and p after.
// When one version runs out of tokens first, the longer one is newer,
// unless its next token is a pre-release suffix.

#include "scan/version/version.h"

#include <stdint.h>
#include <string.h>

// Token kinds in the order used when two versions differ in kind: a kind
// that comes later here makes the version older.
enum apk_token {
	APK_TOKEN_INVALID = -1,
	APK_TOKEN_DOT_NUMBER = 0,
	APK_TOKEN_NUMBER,
	APK_TOKEN_LETTER,
	APK_TOKEN_SUFFIX,
	APK_TOKEN_SUFFIX_NUMBER,
	APK_TOKEN_HASH,
	APK_TOKEN_REVISION,
	APK_TOKEN_END,
};

struct apk_cursor {
	const char *p;
	enum apk_token last;
};

struct apk_value {
	enum apk_token kind;
	int64_t number;     // numbers, letters and suffix ranks
	const char *text;   // digits or hash text, for byte comparison
	size_t len;
};

static const char *const apk_suffixes[] = {
	// pre-releases first, ranked below zero
	"alpha", "beta", "pre", "rc",
	// then post-releases, ranked above zero
	"cvs", "svn", "git", "hg", "p",
};
#define APK_PRE_SUFFIXES 4
#define APK_SUFFIX_COUNT (sizeof(apk_suffixes) / sizeof(apk_suffixes[0]))

static bool apk_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool apk_hex(char c)
{
	return apk_digit(c) || (c >= 'a' && c <= 'f');
}

// Reads digits into value; saturates far past any real version number.
static void apk_read_digits(struct apk_cursor *c, struct apk_value *value)
{
	value->text = c->p;
	value->number = 0;
	while (apk_digit(*c->p)) {
		if (value->number < INT64_MAX / 20)
			value->number = value->number * 10 + (*c->p - '0');
		c->p++;
	}
	value->len = (size_t)(c->p - value->text);
}

// Reads the next token and checks that it may follow the previous one.
static void apk_next(struct apk_cursor *c, struct apk_value *value)
{
	enum apk_token last = c->last;
	memset(value, 0, sizeof(*value));
	value->kind = APK_TOKEN_INVALID;

	if (last == APK_TOKEN_INVALID || last == APK_TOKEN_END) {
		value->kind = last;
		return;
	}

	char ch = *c->p;
	if (ch == '\0') {
		value->kind = APK_TOKEN_END;
	} else if (apk_digit(ch) && last == APK_TOKEN_SUFFIX) {
		apk_read_digits(c, value);
		value->kind = APK_TOKEN_SUFFIX_NUMBER;
	} else if (ch == '.' && (last == APK_TOKEN_NUMBER || last == APK_TOKEN_DOT_NUMBER) &&
		   apk_digit(c->p[1])) {
		c->p++;
		apk_read_digits(c, value);
		value->kind = APK_TOKEN_DOT_NUMBER;
	} else if (ch >= 'a' && ch <= 'z' &&
		   (last == APK_TOKEN_NUMBER || last == APK_TOKEN_DOT_NUMBER)) {
		value->kind = APK_TOKEN_LETTER;
		value->number = ch;
		c->p++;
	} else if (ch == '_' && last <= APK_TOKEN_SUFFIX_NUMBER) {
		const char *name = c->p + 1;
		for (size_t i = 0; i < APK_SUFFIX_COUNT; i++) {
			size_t n = strlen(apk_suffixes[i]);
			if (strncmp(name, apk_suffixes[i], n) != 0)
				continue;
			char after = name[n];
			if (after != '\0' && after != '_' && after != '~' && after != '-' &&
			    !apk_digit(after))
				continue;
			value->kind = APK_TOKEN_SUFFIX;
			value->number = (int64_t)i < APK_PRE_SUFFIXES
				? (int64_t)i - APK_PRE_SUFFIXES
				: (int64_t)i - APK_PRE_SUFFIXES + 1;
			c->p = name + n;
			break;
		}
	} else if (ch == '~' && last < APK_TOKEN_HASH && apk_hex(c->p[1])) {
		c->p++;
		value->text = c->p;
		while (apk_hex(*c->p))
			c->p++;
		value->len = (size_t)(c->p - value->text);
		value->kind = APK_TOKEN_HASH;
	} else if (ch == '-' && c->p[1] == 'r' && apk_digit(c->p[2]) &&
		   last < APK_TOKEN_REVISION) {
		c->p += 2;
		apk_read_digits(c, value);
		value->kind = APK_TOKEN_REVISION;
	}

	c->last = value->kind;
}

static void apk_start(struct apk_cursor *c, const char *version, struct apk_value *value)
{
	c->p = version;
	memset(value, 0, sizeof(*value));
	if (apk_digit(*version)) {
		apk_read_digits(c, value);
		value->kind = APK_TOKEN_NUMBER;
	} else {
		value->kind = APK_TOKEN_INVALID;
	}
	c->last = value->kind;
}

static int apk_bytes_compare(const struct apk_value *a, const struct apk_value *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int rc = memcmp(a->text, b->text, n);
	if (rc != 0)
		return (rc > 0) - (rc < 0);
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

// Compares two tokens of the same kind.
static int apk_value_compare(const struct apk_value *a, const struct apk_value *b)
{
	if (a->kind == APK_TOKEN_HASH)
		return apk_bytes_compare(a, b);
	if (a->kind == APK_TOKEN_DOT_NUMBER && (a->text[0] == '0' || b->text[0] == '0'))
		return apk_bytes_compare(a, b);
	if (a->number != b->number)
		return a->number < b->number ? -1 : 1;
	return 0;
}

// Compares a and b; with fuzzy set, a version that matches all of b's
// tokens as a prefix is equal to b.
static int apk_compare(const char *a, const char *b, bool fuzzy)
{
	struct apk_cursor ca, cb;
	struct apk_value va, vb;
	apk_start(&ca, a, &va);
	apk_start(&cb, b, &vb);

	while (va.kind == vb.kind && va.kind != APK_TOKEN_END && va.kind != APK_TOKEN_INVALID) {
		int rc = apk_value_compare(&va, &vb);
		if (rc != 0)
			return rc;
		apk_next(&ca, &va);
		apk_next(&cb, &vb);
	}

	if (va.kind == vb.kind)
		return 0;
	if (fuzzy && vb.kind == APK_TOKEN_END)
		return 0;

	// A pre-release suffix makes the longer version older.
	if (va.kind == APK_TOKEN_SUFFIX && va.number < 0)
		return -1;
	if (vb.kind == APK_TOKEN_SUFFIX && vb.number < 0)
		return 1;
	return va.kind > vb.kind ? -1 : 1;
}

int version_apk_compare(const char *a, const char *b)
{
	return apk_compare(a, b, false);
}

bool version_apk_fuzzy_match(const char *a, const char *b)
{
	return apk_compare(a, b, true) == 0;
}

bool version_apk_valid(const char *version)
{
	struct apk_cursor c;
	struct apk_value v;
	apk_start(&c, version, &v);
	while (v.kind != APK_TOKEN_END && v.kind != APK_TOKEN_INVALID)
		apk_next(&c, &v);
	return v.kind == APK_TOKEN_END;
}
