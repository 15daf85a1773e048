// SPDX-License-Identifier: Apache-2.0
// CVSS v3.0/v3.1 base score, from the metric weights and formulas of the
// FIRST CVSS v3.1 specification, section 7.

#include <coffer/vulndb.h>

#include <string.h>

// The specification's Roundup: the smallest number with one decimal that
// is at least value, computed on integers to avoid floating-point error.
static double cvss_roundup(double value)
{
	long scaled = (long)(value * 100000.0 + 0.5);
	if (scaled % 10000 == 0)
		return (double)scaled / 100000.0;
	return (double)(scaled / 10000 + 1) / 10.0;
}

// Returns the value of metric key ("AV") in vector, or 0 when absent.
static char cvss_metric(const char *vector, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = strchr(vector, '/'); p != NULL; p = strchr(p + 1, '/')) {
		if (strncmp(p + 1, key, n) == 0 && p[1 + n] == ':' && p[2 + n] != '\0' &&
		    (p[3 + n] == '/' || p[3 + n] == '\0'))
			return p[2 + n];
	}
	return 0;
}

static double power(double base, int exponent)
{
	double result = 1.0;
	for (int i = 0; i < exponent; i++)
		result *= base;
	return result;
}

// Returns weights[i] for the i-th letter of values that equals value, or -1.
static double metric_weight(char value, const char *values, const double *weights)
{
	const char *p = value != 0 ? strchr(values, value) : NULL;
	return p != NULL ? weights[p - values] : -1.0;
}

static double impact_weight(char value)
{
	switch (value) {
	case 'H':
		return 0.56;
	case 'L':
		return 0.22;
	case 'N':
		return 0.0;
	default:
		return -1.0;
	}
}

double vulndb_cvss3_score(const char *vector)
{
	if (vector == NULL || strncmp(vector, "CVSS:3.", 7) != 0)
		return -1.0;

	char av = cvss_metric(vector, "AV"), ac = cvss_metric(vector, "AC");
	char pr = cvss_metric(vector, "PR"), ui = cvss_metric(vector, "UI");
	char scope = cvss_metric(vector, "S");
	double c = impact_weight(cvss_metric(vector, "C"));
	double i = impact_weight(cvss_metric(vector, "I"));
	double a = impact_weight(cvss_metric(vector, "A"));
	bool changed = scope == 'C';
	if (c < 0 || i < 0 || a < 0 || (scope != 'U' && scope != 'C'))
		return -1.0;

	double w_av = metric_weight(av, "NALP", (const double[]){ 0.85, 0.62, 0.55, 0.2 });
	double w_ac = metric_weight(ac, "LH", (const double[]){ 0.77, 0.44 });
	// Privileges Required weighs more when the scope changes.
	double w_pr = changed ? metric_weight(pr, "NLH", (const double[]){ 0.85, 0.68, 0.5 })
			      : metric_weight(pr, "NLH", (const double[]){ 0.85, 0.62, 0.27 });
	double w_ui = metric_weight(ui, "NR", (const double[]){ 0.85, 0.62 });
	if (w_av < 0 || w_ac < 0 || w_pr < 0 || w_ui < 0)
		return -1.0;

	double iss = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
	double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * power(iss - 0.02, 15) : 6.42 * iss;
	double exploitability = 8.22 * w_av * w_ac * w_pr * w_ui;
	if (impact <= 0)
		return 0.0;
	double base = changed ? 1.08 * (impact + exploitability) : impact + exploitability;
	return cvss_roundup(base < 10.0 ? base : 10.0);
}
