// SPDX-License-Identifier: Apache-2.0
// Version comparators checked against each ecosystem's own implementation
// on generated pairs (dpkg, python3-rpm, python3-packaging, node-semver),
// and the apk comparator against apk-tools' own test vectors.

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan/version/version.h"

#define PAIR_COUNT 3000
#define VERSION_MAX 96

// xorshift64: a fixed seed per comparator keeps failures reproducible.
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static unsigned rng_below(unsigned n)
{
	return (unsigned)(rng_next() % n);
}

static const char *rng_pick(const char *const *items, size_t count)
{
	return items[rng_below((unsigned)count)];
}
#define PICK(items) rng_pick(items, sizeof(items) / sizeof(items[0]))

static void append(char *buf, const char *text)
{
	size_t len = strlen(buf);
	snprintf(buf + len, VERSION_MAX - len, "%s", text);
}

static void appendf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(char *buf, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + len, VERSION_MAX - len, fmt, ap);
	va_end(ap);
}

// ---- generators ------------------------------------------------------------

static const char *const dpkg_pieces[] = { "0", "1", "2", "9", "10", "01", "00", "a", "b",
					   "z", "A", "rc", "~", "~~", "~a", "+", ".", "+b",
					   "dfsg", "." };

static void gen_dpkg(char *out)
{
	out[0] = '\0';
	if (rng_below(5) == 0)
		appendf(out, "%u:", rng_below(3));
	appendf(out, "%u", rng_below(12));
	for (unsigned i = rng_below(5); i > 0; i--)
		append(out, PICK(dpkg_pieces));
	if (rng_below(3) != 0) {
		append(out, "-");
		append(out, rng_below(4) == 0 ? "~" : "");
		for (unsigned i = 1 + rng_below(3); i > 0; i--)
			append(out, PICK(dpkg_pieces));
	}
}

static const char *const rpm_pieces[] = { "0", "1", "2", "10", "02", "007", "a", "b",
					  "rc", "Z", "~", "~rc", "^", "^git1", ".", "_",
					  "+", "el9", "fc38", "." };

static void gen_rpm_part(char *out)
{
	appendf(out, "%u", rng_below(10));
	for (unsigned i = rng_below(5); i > 0; i--)
		append(out, PICK(rpm_pieces));
}

static void gen_rpm(char *out)
{
	out[0] = '\0';
	if (rng_below(4) == 0)
		appendf(out, "%u:", rng_below(3));
	gen_rpm_part(out);
	append(out, "-");
	gen_rpm_part(out);
}

static const char *const semver_identifiers[] = { "alpha", "beta", "rc", "0", "1", "2",
						  "10", "11", "a1", "x-y", "-", "A", "alpha0",
						  "9" };

static void gen_semver(char *out)
{
	out[0] = '\0';
	appendf(out, "%u.%u.%u", rng_below(3), rng_below(12), rng_below(12));
	if (rng_below(2) == 0) {
		append(out, "-");
		for (unsigned i = 1 + rng_below(3); i > 0; i--) {
			append(out, PICK(semver_identifiers));
			if (i > 1)
				append(out, ".");
		}
	}
	if (rng_below(5) == 0)
		appendf(out, "+build.%u", rng_below(3));
}

static const char *const pep440_pre[] = { "a", "b", "rc", "alpha", "beta", "c", "pre",
					  "preview", "A", "RC" };
static const char *const pep440_sep[] = { "", "", ".", "-", "_" };
static const char *const pep440_post[] = { "post", "rev", "r", "POST" };
static const char *const pep440_local[] = { "ubuntu", "1", "2", "local", "10", "abc", "0" };

static void gen_pep440(char *out)
{
	out[0] = '\0';
	if (rng_below(8) == 0)
		append(out, "v");
	if (rng_below(6) == 0)
		appendf(out, "%u!", rng_below(3));
	appendf(out, "%u", rng_below(4));
	for (unsigned i = rng_below(4); i > 0; i--)
		appendf(out, ".%u", rng_below(3) == 0 ? 0 : rng_below(12));
	if (rng_below(3) == 0) {
		append(out, PICK(pep440_sep));
		append(out, PICK(pep440_pre));
		if (rng_below(4) != 0)
			appendf(out, "%s%u", PICK(pep440_sep), rng_below(4));
	}
	if (rng_below(4) == 0) {
		if (rng_below(3) == 0) {
			appendf(out, "-%u", rng_below(4));
		} else {
			append(out, PICK(pep440_sep));
			append(out, PICK(pep440_post));
			if (rng_below(3) != 0)
				appendf(out, "%s%u", PICK(pep440_sep), rng_below(4));
		}
	}
	if (rng_below(4) == 0) {
		append(out, PICK(pep440_sep));
		append(out, "dev");
		if (rng_below(3) != 0)
			appendf(out, "%u", rng_below(4));
	}
	if (rng_below(5) == 0) {
		append(out, "+");
		for (unsigned i = 1 + rng_below(3); i > 0; i--) {
			append(out, PICK(pep440_local));
			if (i > 1)
				append(out, rng_below(2) ? "." : "-");
		}
	}
}

// Makes b a near neighbour of a in half of the pairs, so equal prefixes and
// equal versions are common.
static void gen_pair(void (*gen)(char *), char *a, char *b)
{
	gen(a);
	if (rng_below(2) == 0) {
		gen(b);
		return;
	}
	memcpy(b, a, VERSION_MAX);
	size_t len = strlen(b);
	unsigned cut = rng_below(4);
	if (cut == 0)
		return;
	char tail[VERSION_MAX];
	gen(tail);
	size_t keep = len > cut ? len - cut : len;
	b[keep] = '\0';
	const char *extra = strpbrk(tail, ".~-+_^");
	if (extra != NULL && rng_below(2) == 0 && strchr(b, '-') == NULL)
		append(b, extra);
	else
		appendf(b, "%u", rng_below(10));
}

// ---- oracle driver ---------------------------------------------------------

struct oracle_case {
	const char *scheme;
	void (*gen)(char *);
	int (*compare)(const char *, const char *);
	bool (*valid)(const char *); // NULL when every generated string is valid
	uint64_t seed;
};

static int sign(int value)
{
	return (value > 0) - (value < 0);
}

static void check_against_oracle(const struct oracle_case *oc)
{
	const char *source = getenv("COFFER_SOURCE_DIR");
	assert_non_null(source);

	char pairs_path[] = "/tmp/scan-image-version-XXXXXX";
	int fd = mkstemp(pairs_path);
	assert_true(fd >= 0);
	FILE *pairs_file = fdopen(fd, "w");
	assert_non_null(pairs_file);

	static char a[PAIR_COUNT][VERSION_MAX], b[PAIR_COUNT][VERSION_MAX];
	rng_state = oc->seed;
	size_t count = 0;
	while (count < PAIR_COUNT) {
		gen_pair(oc->gen, a[count], b[count]);
		if (oc->valid != NULL && (!oc->valid(a[count]) || !oc->valid(b[count])))
			continue;
		fprintf(pairs_file, "%s\t%s\n", a[count], b[count]);
		count++;
	}
	assert_int_equal(fclose(pairs_file), 0);

	char command[1024];
	snprintf(command, sizeof(command), "/usr/bin/python3 %s/tests/tools/version_oracle.py %s %s",
		 source, oc->scheme, pairs_path);
	FILE *oracle = popen(command, "r");
	assert_non_null(oracle);

	size_t mismatches = 0, equal = 0;
	for (size_t i = 0; i < count; i++) {
		int expected;
		if (fscanf(oracle, "%d", &expected) != 1) {
			fail_msg("%s oracle gave no result for pair %zu (%s, %s)", oc->scheme, i,
				 a[i], b[i]);
		}
		int actual = sign(oc->compare(a[i], b[i]));
		int reverse = sign(oc->compare(b[i], a[i]));
		equal += expected == 0;
		if (actual != expected || reverse != -expected) {
			if (mismatches++ < 20)
				print_error("%s: compare(%s, %s) = %d, reverse %d, oracle %d\n",
					    oc->scheme, a[i], b[i], actual, reverse, expected);
		}
	}
	assert_int_equal(pclose(oracle), 0);
	unlink(pairs_path);

	print_message("%s: %zu pairs, %zu equal, %zu mismatches\n", oc->scheme, count, equal,
		      mismatches);
	assert_int_equal(mismatches, 0);
	assert_true(equal > 0);
}

static bool dpkg_generated_valid(const char *v)
{
	return version_dpkg_valid(v);
}

static void test_dpkg_oracle(void **state)
{
	(void)state;
	// The validity filter keeps dpkg from warning about versions it rejects.
	const struct oracle_case oc = { "dpkg", gen_dpkg, version_dpkg_compare,
					dpkg_generated_valid, 0x9e3779b97f4a7c15ull };
	check_against_oracle(&oc);
}

static void test_rpm_oracle(void **state)
{
	(void)state;
	const struct oracle_case oc = { "rpm", gen_rpm, version_rpm_compare, NULL,
					0x2545f4914f6cdd1dull };
	check_against_oracle(&oc);
}

static void test_semver_oracle(void **state)
{
	(void)state;
	const struct oracle_case oc = { "semver", gen_semver, version_semver_compare,
					version_semver_valid, 0x853c49e6748fea9bull };
	check_against_oracle(&oc);
}

static void test_pep440_oracle(void **state)
{
	(void)state;
	const struct oracle_case oc = { "pep440", gen_pep440, version_pep440_compare,
					version_pep440_valid, 0xda3e39cb94b95bdbull };
	check_against_oracle(&oc);
}

// ---- apk-tools vectors -----------------------------------------------------

static int check_apk_line(char *line)
{
	char *hash = strchr(line, '#');
	if (hash != NULL)
		*hash = '\0';
	char *fields[3];
	int n = 0;
	for (char *tok = strtok(line, " \t\n"); tok != NULL && n < 3; tok = strtok(NULL, " \t\n"))
		fields[n++] = tok;

	if (n == 0)
		return 0;
	if (n == 1) {
		bool expect_valid = fields[0][0] != '!';
		const char *v = expect_valid ? fields[0] : fields[0] + 1;
		if (version_apk_valid(v) != expect_valid) {
			print_error("apk: valid(%s) should be %d\n", v, expect_valid);
			return 1;
		}
		return 0;
	}
	if (n == 2)
		fail_msg("apk vectors: line with two fields: %s %s", fields[0], fields[1]);

	const char *a = fields[0], *op = fields[1], *b = fields[2];
	int rc = sign(version_apk_compare(a, b));
	bool fuzzy = version_apk_fuzzy_match(a, b);
	bool ok = false;
	if (strcmp(op, "<") == 0)
		ok = rc < 0;
	else if (strcmp(op, ">") == 0)
		ok = rc > 0;
	else if (strcmp(op, "=") == 0)
		ok = rc == 0;
	else if (strcmp(op, "~") == 0)
		ok = fuzzy;
	else if (strcmp(op, "!~") == 0)
		ok = !fuzzy;
	else if (strcmp(op, "<~") == 0)
		ok = rc < 0 || fuzzy;
	else if (strcmp(op, ">~") == 0)
		ok = rc > 0 || fuzzy;
	else
		fail_msg("apk vectors: unknown operator '%s'", op);
	if (!ok)
		print_error("apk: %s %s %s failed (compare %d, fuzzy %d)\n", a, op, b, rc, fuzzy);
	return ok ? 0 : 1;
}

static void test_apk_vectors(void **state)
{
	(void)state;
	const char *shared = getenv("COFFER_SHARED_DIR");
	assert_non_null(shared);
	char path[1024];
	snprintf(path, sizeof(path), "%s/corpus/versions/alpinelinux__apk-tools__test__unit__version.data",
		 shared);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		fail_msg("apk vectors not found at %s", path);

	char line[512];
	int failures = 0, lines = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lines++;
		failures += check_apk_line(line);
	}
	fclose(f);
	print_message("apk: %d vector lines, %d failures\n", lines, failures);
	assert_true(lines > 700);
	assert_int_equal(failures, 0);
	assert_false(version_apk_valid(""));
}

// ---- hand-picked cases -----------------------------------------------------

static void test_dpkg_cases(void **state)
{
	(void)state;
	assert_true(version_dpkg_compare("1.0~rc1", "1.0") < 0);
	assert_true(version_dpkg_compare("1:0.1", "9.9") > 0);
	assert_true(version_dpkg_compare("1.0-1", "1.0-1+deb12u1") < 0);
	assert_int_equal(version_dpkg_compare("1.0", "1.0-0"), 0);
	assert_true(version_dpkg_compare("2.36-9+deb12u4", "2.36-9+deb12u10") < 0);
}

static void test_scheme_for_ecosystem(void **state)
{
	(void)state;
	assert_int_equal(version_scheme_for_ecosystem("Debian:12"), VERSION_SCHEME_DPKG);
	assert_int_equal(version_scheme_for_ecosystem("Ubuntu:22.04:LTS"), VERSION_SCHEME_DPKG);
	assert_int_equal(version_scheme_for_ecosystem("Alpine:v3.19"), VERSION_SCHEME_APK);
	assert_int_equal(version_scheme_for_ecosystem("Rocky Linux:9"), VERSION_SCHEME_RPM);
	assert_int_equal(version_scheme_for_ecosystem("npm"), VERSION_SCHEME_SEMVER);
	assert_int_equal(version_scheme_for_ecosystem("PyPI"), VERSION_SCHEME_PEP440);
	assert_int_equal(version_scheme_for_ecosystem("Debianish"), VERSION_SCHEME_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dpkg_cases),
		cmocka_unit_test(test_scheme_for_ecosystem),
		cmocka_unit_test(test_apk_vectors),
		cmocka_unit_test(test_pep440_oracle),
		cmocka_unit_test(test_semver_oracle),
		cmocka_unit_test(test_rpm_oracle),
		cmocka_unit_test(test_dpkg_oracle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
