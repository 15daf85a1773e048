// SPDX-License-Identifier: Apache-2.0
// CVSS v4.0 scoring: MacroVectors, scores against published reference data,
// and rejection of invalid vectors.

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "scan/vulndb/cvss4.h"

struct score_case {
	const char *vector;
	double score;
};

// Expected scores from the test data of the Python "cvss" library
// (RedHatProductSecurity/cvss, file tests/vectors_simple4), whose CVSS v4.0
// scores are checked against FIRST's reference calculator.
static const struct score_case base_cases[] = {
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:H/VA:L/SC:N/SI:H/SA:L", 9.2 },
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:H/SI:N/SA:L", 7.8 },
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:L/SA:N", 6.9 },
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:H/SI:L/SA:H", 7.9 },
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:L/VI:N/VA:N/SC:L/SI:N/SA:L", 5.3 },
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.6 },
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:H/SI:N/SA:N", 8.3 },
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:P/VC:H/VI:L/VA:L/SC:L/SI:L/SA:L", 7.0 },
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:A/VC:H/VI:H/VA:H/SC:H/SI:N/SA:H", 9.3 },
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:L/SC:L/SI:L/SA:N", 5.1 },
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:P/VC:L/VI:L/VA:N/SC:L/SI:N/SA:N", 4.8 },
	{ "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:N/SA:H", 9.5 },
	{ "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:N/SA:N", 2.1 },
	{ "CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:N/VI:N/VA:N/SC:N/SI:L/SA:N", 2.3 },
	{ "CVSS:4.0/AV:N/AC:L/AT:P/PR:H/UI:A/VC:N/VI:L/VA:L/SC:L/SI:N/SA:N", 1.8 },
	{ "CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:L/SI:H/SA:L", 9.4 },
	{ "CVSS:4.0/AV:N/AC:H/AT:N/PR:L/UI:A/VC:L/VI:L/VA:L/SC:H/SI:H/SA:H", 5.2 },
	{ "CVSS:4.0/AV:N/AC:H/AT:N/PR:H/UI:A/VC:N/VI:N/VA:N/SC:N/SI:H/SA:N", 4.0 },
	{ "CVSS:4.0/AV:N/AC:H/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:L/SA:N", 9.5 },
	{ "CVSS:4.0/AV:N/AC:H/AT:P/PR:N/UI:P/VC:H/VI:H/VA:L/SC:N/SI:L/SA:H", 8.8 },
	{ "CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:L/SI:H/SA:L", 6.4 },
	{ "CVSS:4.0/AV:A/AC:L/AT:N/PR:L/UI:P/VC:L/VI:L/VA:L/SC:H/SI:N/SA:N", 4.1 },
	{ "CVSS:4.0/AV:A/AC:L/AT:N/PR:L/UI:A/VC:L/VI:N/VA:L/SC:N/SI:L/SA:L", 2.4 },
	{ "CVSS:4.0/AV:A/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:L/SA:N", 7.7 },
	{ "CVSS:4.0/AV:A/AC:L/AT:P/PR:L/UI:P/VC:L/VI:N/VA:N/SC:N/SI:L/SA:L", 1.0 },
	{ "CVSS:4.0/AV:A/AC:L/AT:P/PR:H/UI:N/VC:L/VI:N/VA:N/SC:N/SI:L/SA:N", 2.0 },
	{ "CVSS:4.0/AV:A/AC:H/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:L/SI:H/SA:H", 5.6 },
	{ "CVSS:4.0/AV:A/AC:H/AT:N/PR:H/UI:N/VC:N/VI:N/VA:N/SC:H/SI:H/SA:L", 5.0 },
	{ "CVSS:4.0/AV:A/AC:H/AT:P/PR:L/UI:A/VC:H/VI:H/VA:H/SC:L/SI:N/SA:N", 5.4 },
	{ "CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:A/VC:H/VI:H/VA:L/SC:H/SI:N/SA:N", 9.2 },
	{ "CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:P/VC:H/VI:N/VA:H/SC:N/SI:N/SA:N", 5.2 },
	{ "CVSS:4.0/AV:L/AC:L/AT:P/PR:N/UI:A/VC:N/VI:N/VA:L/SC:H/SI:H/SA:H", 5.0 },
	{ "CVSS:4.0/AV:L/AC:L/AT:P/PR:H/UI:A/VC:L/VI:L/VA:L/SC:L/SI:H/SA:H", 2.3 },
	{ "CVSS:4.0/AV:L/AC:H/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N", 2.1 },
};

// Expected scores with threat metrics (file tests/vectors_threat4) and
// security requirements (file tests/vectors_security4) of the same library.
static const struct score_case threat_environmental_cases[] = {
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N/E:A", 0.0 },
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N/E:U", 0.0 },
	{ "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:A", 7.3 },
	{ "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:P", 5.9 },
	{ "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U", 4.1 },
	{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N/CR:H/IR:H/AR:H", 0.0 },
	{ "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/CR:H/IR:H/AR:M", 7.2 },
	{ "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/CR:H/IR:M/AR:L", 7.1 },
	{ "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/CR:M/IR:M/AR:M", 5.5 },
	{ "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/CR:L/IR:L/AR:L", 5.4 },
};

static void check_scores(const struct score_case *cases, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct cf_error err = { 0 };
		double score = -1.0;
		int rc = cvss4_score(cases[i].vector, &score, &err);
		if (rc != 0)
			fail_msg("%s: rejected: %s", cases[i].vector, err.message);
		if (score < cases[i].score - 1e-9 || score > cases[i].score + 1e-9)
			fail_msg("%s: score %.1f, expected %.1f", cases[i].vector, score,
				 cases[i].score);
	}
}

static void test_cvss4_base_scores(void **state)
{
	(void)state;
	check_scores(base_cases, sizeof(base_cases) / sizeof(base_cases[0]));
}

static void test_cvss4_threat_environmental_scores(void **state)
{
	(void)state;
	check_scores(threat_environmental_cases,
		     sizeof(threat_environmental_cases) / sizeof(threat_environmental_cases[0]));
}

static double score_of(const char *vector)
{
	struct cf_error err = { 0 };
	double score = -1.0;
	if (cvss4_score(vector, &score, &err) != 0)
		fail_msg("%s: rejected: %s", vector, err.message);
	return score;
}

static void test_cvss4_extremes(void **state)
{
	(void)state;
	// MacroVector 000100 scores 10 in FIRST's table, and this vector is its
	// highest-severity vector, so no distance is subtracted.
	assert_float_equal(score_of("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H"),
			   10.0, 1e-9);
	// MacroVector 000000 (10) needs Safety impact, which only MSI/MSA allow.
	assert_float_equal(
		score_of("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/MSI:S/MSA:S"),
		10.0, 1e-9);
	// No impact on any system scores 0.0 whatever the other metrics are.
	assert_float_equal(score_of("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N"),
			   0.0, 1e-9);
	assert_float_equal(score_of("CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N"),
			   0.0, 1e-9);
	// Modified impacts of None remove the impact as well.
	assert_float_equal(
		score_of("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/MVC:N/MVI:N/MVA:N"),
		0.0, 1e-9);
}

static void test_cvss4_macrovectors(void **state)
{
	(void)state;
	static const struct {
		const char *vector;
		const char *macrovector;
	} cases[] = {
		{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", "000100" },
		{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "000200" },
		{ "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:P", "210110" },
		{ "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U", "210120" },
		// EQ1 is 1 when some of AV, PR, UI is N (but not all) and AV is not P.
		{ "CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", "102201" },
		{ "CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", "202201" },
		// EQ3 1: one of VC, VI is H, or only VA is H.
		{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:H/SC:N/SI:N/SA:N", "001200" },
		// EQ6 follows the security requirements: AR:L removes the only
		// requirement that meets a High impact.
		{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:H/SC:N/SI:N/SA:N/AR:L", "001201" },
		// Modified base metrics override the base values.
		{ "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:L/VA:L/SC:L/SI:L/SA:L/MAV:N/MAC:L/MAT:N/"
		  "MPR:N/MUI:N/MVC:H/MVI:H/MVA:H/MSC:H/MSI:S/MSA:X",
		  "000000" },
		// X means not defined, so the base values stay.
		{ "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:X/CR:X/MAV:X", "000200" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cf_error err = { 0 };
		char macrovector[CVSS4_MACROVECTOR_SIZE] = "";
		if (cvss4_macrovector(cases[i].vector, macrovector, &err) != 0)
			fail_msg("%s: rejected: %s", cases[i].vector, err.message);
		if (strcmp(macrovector, cases[i].macrovector) != 0)
			fail_msg("%s: MacroVector %s, expected %s", cases[i].vector, macrovector,
				 cases[i].macrovector);
	}
}

static void test_cvss4_modified_equals_base(void **state)
{
	(void)state;
	// Modified metrics that restate another vector's base values give that
	// vector's score, because scoring reads the modified value in their place.
	double base = score_of("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:H/SI:N/SA:N");
	double modified =
		score_of("CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:N/VI:H/VA:H/SC:N/SI:H/SA:H/MAV:N/MAC:L/"
			 "MAT:N/MPR:L/MUI:N/MVC:H/MVI:N/MVA:N/MSC:H/MSI:N/MSA:N");
	assert_float_equal(base, 8.3, 1e-9);
	assert_float_equal(modified, base, 1e-9);
}

static void test_cvss4_metric_order_and_supplemental(void **state)
{
	(void)state;
	// Supplemental metrics are accepted and do not change the score.
	assert_float_equal(score_of("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:H/VA:L/SC:N/SI:H/SA:L/"
				    "S:P/AU:Y/R:I/V:C/RE:H/U:Amber"),
			   9.2, 1e-9);
	// Metrics in another order give the same score.
	assert_float_equal(score_of("CVSS:4.0/SA:L/SI:H/SC:N/VA:L/VI:H/VC:L/UI:N/PR:N/AT:N/AC:L/AV:N"),
			   9.2, 1e-9);
}

static void expect_invalid(const char *vector, const char *message_part)
{
	struct cf_error err = { 0 };
	double score = -1.0;
	int rc = cvss4_score(vector, &score, &err);
	if (rc != -EINVAL)
		fail_msg("%s: returned %d (score %.1f), expected -EINVAL", vector ? vector : "NULL",
			 rc, score);
	if (strstr(err.message, message_part) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", vector ? vector : "NULL", err.message,
			 message_part);
}

static void test_cvss4_invalid_vectors(void **state)
{
	(void)state;
	expect_invalid(NULL, "missing CVSS v4.0 vector");
	expect_invalid("", "must start with \"CVSS:4.0/\"");
	expect_invalid("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "must start with");
	expect_invalid("AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "must start with");
	expect_invalid("CVSS:4.0/", "component \"\" is not METRIC:VALUE");
	expect_invalid("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N",
		       "missing base metric SA");
	expect_invalid("CVSS:4.0/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
		       "missing base metric AV");
	expect_invalid("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/AV:L",
		       "metric AV appears more than once");
	expect_invalid("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/XX:Y",
		       "unknown metric \"XX\"");
	// The v3 metric S:U is not a v4 Safety value.
	expect_invalid("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/S:U",
		       "\"U\" is not a value of metric S");
	expect_invalid("CVSS:4.0/AV:X/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
		       "\"X\" is not a value of metric AV");
	expect_invalid("CVSS:4.0/AV:n/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
		       "\"n\" is not a value of metric AV");
	// Safety (S) is a value of MSI and MSA only, not of the base SI.
	expect_invalid("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N",
		       "\"S\" is not a value of metric SI");
	expect_invalid("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/",
		       "component \"\" is not METRIC:VALUE");
	expect_invalid("CVSS:4.0/AV:N//AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
		       "component \"\" is not METRIC:VALUE");
	expect_invalid("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:",
		       "component \"E:\" is not METRIC:VALUE");
	expect_invalid("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:NN",
		       "\"NN\" is not a value of metric SA");
	expect_invalid("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/U:amber",
		       "\"amber\" is not a value of metric U");

	struct cf_error err = { 0 };
	char macrovector[CVSS4_MACROVECTOR_SIZE];
	assert_int_equal(cvss4_macrovector("CVSS:4.0/AV:N", macrovector, &err), -EINVAL);
	assert_non_null(strstr(err.message, "missing base metric AC"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cvss4_base_scores),
		cmocka_unit_test(test_cvss4_threat_environmental_scores),
		cmocka_unit_test(test_cvss4_extremes),
		cmocka_unit_test(test_cvss4_macrovectors),
		cmocka_unit_test(test_cvss4_modified_equals_base),
		cmocka_unit_test(test_cvss4_metric_order_and_supplemental),
		cmocka_unit_test(test_cvss4_invalid_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
