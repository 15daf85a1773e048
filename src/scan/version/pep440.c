// SPDX-License-Identifier: Apache-2.0
// PEP 440 version order. Versions are parsed with the specification's
// normalisation rules (case-insensitive, optional separators, "alpha",
// "beta", "c", "pre", "preview", "rev", "r" and implicit post releases),
// then compared by epoch, release (trailing zeros ignored), pre-, post-
// and development release and local version label.

#include "scan/version/version.h"

#include <ctype.h>
#include <string.h>

#define PEP440_MAX_RELEASE 32
#define PEP440_MAX_LOCAL 32

// A run of decimal digits inside the original string, leading zeros
// skipped, so that length first and then bytes give numeric order.
struct pep440_number {
	const char *digits;
	size_t len;
};

struct pep440_local_segment {
	const char *text;
	size_t len;
	bool numeric;
};

enum pep440_pre { PEP440_PRE_A = 1, PEP440_PRE_B = 2, PEP440_PRE_RC = 3 };

struct pep440_version {
	struct pep440_number epoch;
	struct pep440_number release[PEP440_MAX_RELEASE];
	size_t release_count;
	int pre_type; // 0 when absent
	struct pep440_number pre;
	bool has_post;
	struct pep440_number post;
	bool has_dev;
	struct pep440_number dev;
	struct pep440_local_segment local[PEP440_MAX_LOCAL];
	size_t local_count;
};

static const struct pep440_number pep440_zero = { "", 0 };

static bool is_separator(char c)
{
	return c == '-' || c == '_' || c == '.';
}

static size_t read_number(const char *p, struct pep440_number *n)
{
	size_t len = 0;
	while (isdigit((unsigned char)p[len]))
		len++;
	size_t skip = 0;
	while (skip < len && p[skip] == '0')
		skip++;
	n->digits = p + skip;
	n->len = len - skip;
	return len;
}

// Matches a keyword case-insensitively at p; returns its length or 0.
static size_t match_word(const char *p, const char *word)
{
	size_t n = strlen(word);
	return strncasecmp(p, word, n) == 0 ? n : 0;
}

// Matches the first keyword of a table, longest spellings listed first.
static size_t match_any(const char *p, const char *const *words, int *index)
{
	for (int i = 0; words[i] != NULL; i++) {
		size_t n = match_word(p, words[i]);
		if (n > 0) {
			*index = i;
			return n;
		}
	}
	return 0;
}

// Parses an optional "[sep]keyword[sep][number]" part; returns the number
// of bytes consumed, or 0 when the part is absent.
static size_t parse_labelled(const char *p, const char *const *words, int *index,
			     struct pep440_number *number)
{
	const char *start = p;
	if (is_separator(*p))
		p++;
	size_t n = match_any(p, words, index);
	if (n == 0)
		return 0;
	p += n;

	*number = pep440_zero;
	const char *before_number = p;
	if (is_separator(*p) && isdigit((unsigned char)p[1]))
		p++;
	if (isdigit((unsigned char)*p))
		p += read_number(p, number);
	else
		p = before_number;
	return (size_t)(p - start);
}

static const char *const pre_words[] = { "alpha", "a", "beta", "b", "preview", "pre",
					 "rc", "c", NULL };
static const int pre_types[] = { PEP440_PRE_A, PEP440_PRE_A, PEP440_PRE_B, PEP440_PRE_B,
				 PEP440_PRE_RC, PEP440_PRE_RC, PEP440_PRE_RC, PEP440_PRE_RC };
static const char *const post_words[] = { "post", "rev", "r", NULL };
static const char *const dev_words[] = { "dev", NULL };

static bool pep440_parse(const char *text, struct pep440_version *v)
{
	memset(v, 0, sizeof(*v));
	v->epoch = pep440_zero;

	const char *p = text;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == 'v' || *p == 'V')
		p++;

	// Epoch "N!" or the first release number.
	if (!isdigit((unsigned char)*p))
		return false;
	struct pep440_number first;
	size_t n = read_number(p, &first);
	if (p[n] == '!') {
		v->epoch = first;
		p += n + 1;
		if (!isdigit((unsigned char)*p))
			return false;
	}

	for (;;) {
		if (v->release_count == PEP440_MAX_RELEASE)
			return false;
		p += read_number(p, &v->release[v->release_count++]);
		if (*p == '.' && isdigit((unsigned char)p[1])) {
			p++;
			continue;
		}
		break;
	}

	int index;
	n = parse_labelled(p, pre_words, &index, &v->pre);
	if (n > 0) {
		v->pre_type = pre_types[index];
		p += n;
	}

	if (*p == '-' && isdigit((unsigned char)p[1])) {
		v->has_post = true;
		p += 1 + read_number(p + 1, &v->post);
	} else {
		n = parse_labelled(p, post_words, &index, &v->post);
		if (n > 0) {
			v->has_post = true;
			p += n;
		}
	}

	n = parse_labelled(p, dev_words, &index, &v->dev);
	if (n > 0) {
		v->has_dev = true;
		p += n;
	}

	if (*p == '+') {
		p++;
		for (;;) {
			size_t len = 0;
			while (isalnum((unsigned char)p[len]))
				len++;
			if (len == 0 || v->local_count == PEP440_MAX_LOCAL)
				return false;
			struct pep440_local_segment *seg = &v->local[v->local_count++];
			seg->text = p;
			seg->len = len;
			seg->numeric = true;
			for (size_t i = 0; i < len; i++)
				seg->numeric = seg->numeric && isdigit((unsigned char)p[i]);
			p += len;
			if (is_separator(*p) && isalnum((unsigned char)p[1])) {
				p++;
				continue;
			}
			break;
		}
	}

	while (isspace((unsigned char)*p))
		p++;
	return *p == '\0';
}

static int compare_numbers(const struct pep440_number *a, const struct pep440_number *b)
{
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	if (a->len == 0)
		return 0; // absent parts have no digits pointer
	int rc = memcmp(a->digits, b->digits, a->len);
	return (rc > 0) - (rc < 0);
}

static int compare_ranked(int arank, const struct pep440_number *a, int brank,
			  const struct pep440_number *b)
{
	if (arank != brank)
		return arank < brank ? -1 : 1;
	return compare_numbers(a, b);
}

static int compare_local_segment(const struct pep440_local_segment *a,
				 const struct pep440_local_segment *b)
{
	if (a->numeric != b->numeric)
		return a->numeric ? 1 : -1;
	if (a->numeric) {
		struct pep440_number na, nb;
		read_number(a->text, &na);
		read_number(b->text, &nb);
		return compare_numbers(&na, &nb);
	}
	size_t n = a->len < b->len ? a->len : b->len;
	int rc = strncasecmp(a->text, b->text, n);
	if (rc != 0)
		return (rc > 0) - (rc < 0);
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

// Rank of the pre-release part: a development release of a final version
// sorts before its pre-releases, and no pre-release sorts after them all.
static int pre_rank(const struct pep440_version *v)
{
	if (v->pre_type == 0 && !v->has_post && v->has_dev)
		return 0;
	if (v->pre_type == 0)
		return 4;
	return v->pre_type;
}

static int pep440_compare_parsed(const struct pep440_version *a, const struct pep440_version *b)
{
	int rc = compare_numbers(&a->epoch, &b->epoch);
	if (rc != 0)
		return rc;

	size_t alen = a->release_count;
	size_t blen = b->release_count;
	while (alen > 1 && a->release[alen - 1].len == 0)
		alen--;
	while (blen > 1 && b->release[blen - 1].len == 0)
		blen--;
	for (size_t i = 0; i < alen || i < blen; i++) {
		const struct pep440_number *x = i < alen ? &a->release[i] : &pep440_zero;
		const struct pep440_number *y = i < blen ? &b->release[i] : &pep440_zero;
		rc = compare_numbers(x, y);
		if (rc != 0)
			return rc;
	}

	rc = compare_ranked(pre_rank(a), &a->pre, pre_rank(b), &b->pre);
	if (rc != 0)
		return rc;
	rc = compare_ranked(a->has_post, &a->post, b->has_post, &b->post);
	if (rc != 0)
		return rc;
	rc = compare_ranked(!a->has_dev, &a->dev, !b->has_dev, &b->dev);
	if (rc != 0)
		return rc;

	for (size_t i = 0; i < a->local_count && i < b->local_count; i++) {
		rc = compare_local_segment(&a->local[i], &b->local[i]);
		if (rc != 0)
			return rc;
	}
	if (a->local_count != b->local_count)
		return a->local_count < b->local_count ? -1 : 1;
	return 0;
}

bool version_pep440_valid(const char *version)
{
	struct pep440_version v;
	return pep440_parse(version, &v);
}

int version_pep440_compare(const char *a, const char *b)
{
	struct pep440_version va, vb;
	bool avalid = pep440_parse(a, &va);
	bool bvalid = pep440_parse(b, &vb);

	// Invalid versions sort before valid ones and among themselves by
	// bytes, so the order stays total.
	if (!avalid || !bvalid) {
		if (avalid != bvalid)
			return avalid ? 1 : -1;
		int rc = strcmp(a, b);
		return (rc > 0) - (rc < 0);
	}
	return pep440_compare_parsed(&va, &vb);
}
