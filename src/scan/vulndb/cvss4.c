// SPDX-License-Identifier: Apache-2.0
// CVSS v4.0 scores, computed as FIRST's reference calculator for the CVSS
// v4.0 specification does (cvss_score.js in FIRSTdotorg/cvss-v4-calculator).
// A vector is reduced to its MacroVector, six equivalence-class levels
// EQ1-EQ6. The MacroVector's score comes from FIRST's table, and the vector's
// severity distance from the highest-severity vectors of its MacroVector
// moves the score toward the scores of the next lower MacroVectors.

#include "scan/vulndb/cvss4.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define CVSS4_PREFIX "CVSS:4.0/"

// Maximum length of an input part that an error message quotes.
#define QUOTE_MAX 40

// Metrics in specification order. The base metrics come first, and the
// modified metrics MAV..MSA follow the same order as AV..SA, so that
// M_MAV + m is the modified counterpart of base metric m.
enum metric {
	M_AV,
	M_AC,
	M_AT,
	M_PR,
	M_UI,
	M_VC,
	M_VI,
	M_VA,
	M_SC,
	M_SI,
	M_SA,
	M_E,
	M_CR,
	M_IR,
	M_AR,
	M_MAV,
	M_MAC,
	M_MAT,
	M_MPR,
	M_MUI,
	M_MVC,
	M_MVI,
	M_MVA,
	M_MSC,
	M_MSI,
	M_MSA,
	M_S,
	M_AU,
	M_R,
	M_V,
	M_RE,
	M_U,
	METRIC_COUNT,
};

#define BASE_METRIC_COUNT (M_SA + 1)
#define METRIC_VALUE_MAX 6

// Allowed values of each metric, as the vectorString pattern of FIRST's JSON
// schema for CVSS v4.0 (cvss-v4.0.json of 2023-10-11) lists them. Every
// value of a metric starts with a different letter, so a parsed value is
// stored as its first letter.
static const struct metric_def {
	const char *name;
	const char *values[METRIC_VALUE_MAX];
} metric_defs[METRIC_COUNT] = {
	[M_AV] = { "AV", { "N", "A", "L", "P" } },
	[M_AC] = { "AC", { "L", "H" } },
	[M_AT] = { "AT", { "N", "P" } },
	[M_PR] = { "PR", { "N", "L", "H" } },
	[M_UI] = { "UI", { "N", "P", "A" } },
	[M_VC] = { "VC", { "H", "L", "N" } },
	[M_VI] = { "VI", { "H", "L", "N" } },
	[M_VA] = { "VA", { "H", "L", "N" } },
	[M_SC] = { "SC", { "H", "L", "N" } },
	[M_SI] = { "SI", { "H", "L", "N" } },
	[M_SA] = { "SA", { "H", "L", "N" } },
	[M_E] = { "E", { "X", "A", "P", "U" } },
	[M_CR] = { "CR", { "X", "H", "M", "L" } },
	[M_IR] = { "IR", { "X", "H", "M", "L" } },
	[M_AR] = { "AR", { "X", "H", "M", "L" } },
	[M_MAV] = { "MAV", { "X", "N", "A", "L", "P" } },
	[M_MAC] = { "MAC", { "X", "L", "H" } },
	[M_MAT] = { "MAT", { "X", "N", "P" } },
	[M_MPR] = { "MPR", { "X", "N", "L", "H" } },
	[M_MUI] = { "MUI", { "X", "N", "P", "A" } },
	[M_MVC] = { "MVC", { "X", "H", "L", "N" } },
	[M_MVI] = { "MVI", { "X", "H", "L", "N" } },
	[M_MVA] = { "MVA", { "X", "H", "L", "N" } },
	[M_MSC] = { "MSC", { "X", "H", "L", "N" } },
	[M_MSI] = { "MSI", { "X", "S", "H", "L", "N" } },
	[M_MSA] = { "MSA", { "X", "S", "H", "L", "N" } },
	[M_S] = { "S", { "X", "N", "P" } },
	[M_AU] = { "AU", { "X", "N", "Y" } },
	[M_R] = { "R", { "X", "A", "U", "I" } },
	[M_V] = { "V", { "X", "D", "C" } },
	[M_RE] = { "RE", { "X", "L", "M", "H" } },
	[M_U] = { "U", { "X", "Clear", "Green", "Amber", "Red" } },
};

// A parsed vector: the first letter of each metric's value, 0 when absent.
struct cvss4_vector {
	char value[METRIC_COUNT];
};

// MacroVector scores in tenths, transcribed from the reference calculator's
// data by FIRST and Red Hat (src/cvss/cvss_lookup.js in
// RedHatProductSecurity/cvss-v4-calculator). The keys are the digits
// EQ1..EQ6, and the 270 keys are every valid combination, because EQ3 2
// occurs only with EQ6 1.
static const struct macrovector_score {
	char key[CVSS4_MACROVECTOR_SIZE];
	int tenths;
} macrovector_scores[] = {
	{ "000000", 100 }, { "000001", 99 }, { "000010", 98 }, { "000011", 95 }, { "000020", 95 }, { "000021", 92 },
	{ "000100", 100 }, { "000101", 96 }, { "000110", 93 }, { "000111", 87 }, { "000120", 91 }, { "000121", 81 },
	{ "000200", 93 }, { "000201", 90 }, { "000210", 89 }, { "000211", 80 }, { "000220", 81 }, { "000221", 68 },
	{ "001000", 98 }, { "001001", 95 }, { "001010", 95 }, { "001011", 92 }, { "001020", 90 }, { "001021", 84 },
	{ "001100", 93 }, { "001101", 92 }, { "001110", 89 }, { "001111", 81 }, { "001120", 81 }, { "001121", 65 },
	{ "001200", 88 }, { "001201", 80 }, { "001210", 78 }, { "001211", 70 }, { "001220", 69 }, { "001221", 48 },
	{ "002001", 92 }, { "002011", 82 }, { "002021", 72 }, { "002101", 79 }, { "002111", 69 }, { "002121", 50 },
	{ "002201", 69 }, { "002211", 55 }, { "002221", 27 }, { "010000", 99 }, { "010001", 97 }, { "010010", 95 },
	{ "010011", 92 }, { "010020", 92 }, { "010021", 85 }, { "010100", 95 }, { "010101", 91 }, { "010110", 90 },
	{ "010111", 83 }, { "010120", 84 }, { "010121", 71 }, { "010200", 92 }, { "010201", 81 }, { "010210", 82 },
	{ "010211", 71 }, { "010220", 72 }, { "010221", 53 }, { "011000", 95 }, { "011001", 93 }, { "011010", 92 },
	{ "011011", 85 }, { "011020", 85 }, { "011021", 73 }, { "011100", 92 }, { "011101", 82 }, { "011110", 80 },
	{ "011111", 72 }, { "011120", 70 }, { "011121", 59 }, { "011200", 84 }, { "011201", 70 }, { "011210", 71 },
	{ "011211", 52 }, { "011220", 50 }, { "011221", 30 }, { "012001", 86 }, { "012011", 75 }, { "012021", 52 },
	{ "012101", 71 }, { "012111", 52 }, { "012121", 29 }, { "012201", 63 }, { "012211", 29 }, { "012221", 17 },
	{ "100000", 98 }, { "100001", 95 }, { "100010", 94 }, { "100011", 87 }, { "100020", 91 }, { "100021", 81 },
	{ "100100", 94 }, { "100101", 89 }, { "100110", 86 }, { "100111", 74 }, { "100120", 77 }, { "100121", 64 },
	{ "100200", 87 }, { "100201", 75 }, { "100210", 74 }, { "100211", 63 }, { "100220", 63 }, { "100221", 49 },
	{ "101000", 94 }, { "101001", 89 }, { "101010", 88 }, { "101011", 77 }, { "101020", 76 }, { "101021", 67 },
	{ "101100", 86 }, { "101101", 76 }, { "101110", 74 }, { "101111", 58 }, { "101120", 59 }, { "101121", 50 },
	{ "101200", 72 }, { "101201", 57 }, { "101210", 57 }, { "101211", 52 }, { "101220", 52 }, { "101221", 25 },
	{ "102001", 83 }, { "102011", 70 }, { "102021", 54 }, { "102101", 65 }, { "102111", 58 }, { "102121", 26 },
	{ "102201", 53 }, { "102211", 21 }, { "102221", 13 }, { "110000", 95 }, { "110001", 90 }, { "110010", 88 },
	{ "110011", 76 }, { "110020", 76 }, { "110021", 70 }, { "110100", 90 }, { "110101", 77 }, { "110110", 75 },
	{ "110111", 62 }, { "110120", 61 }, { "110121", 53 }, { "110200", 77 }, { "110201", 66 }, { "110210", 68 },
	{ "110211", 59 }, { "110220", 52 }, { "110221", 30 }, { "111000", 89 }, { "111001", 78 }, { "111010", 76 },
	{ "111011", 67 }, { "111020", 62 }, { "111021", 58 }, { "111100", 74 }, { "111101", 59 }, { "111110", 57 },
	{ "111111", 57 }, { "111120", 47 }, { "111121", 23 }, { "111200", 61 }, { "111201", 52 }, { "111210", 57 },
	{ "111211", 29 }, { "111220", 24 }, { "111221", 16 }, { "112001", 71 }, { "112011", 59 }, { "112021", 30 },
	{ "112101", 58 }, { "112111", 26 }, { "112121", 15 }, { "112201", 23 }, { "112211", 13 }, { "112221", 6 },
	{ "200000", 93 }, { "200001", 87 }, { "200010", 86 }, { "200011", 72 }, { "200020", 75 }, { "200021", 58 },
	{ "200100", 86 }, { "200101", 74 }, { "200110", 74 }, { "200111", 61 }, { "200120", 56 }, { "200121", 34 },
	{ "200200", 70 }, { "200201", 54 }, { "200210", 52 }, { "200211", 40 }, { "200220", 40 }, { "200221", 22 },
	{ "201000", 85 }, { "201001", 75 }, { "201010", 74 }, { "201011", 55 }, { "201020", 62 }, { "201021", 51 },
	{ "201100", 72 }, { "201101", 57 }, { "201110", 55 }, { "201111", 41 }, { "201120", 46 }, { "201121", 19 },
	{ "201200", 53 }, { "201201", 36 }, { "201210", 34 }, { "201211", 19 }, { "201220", 19 }, { "201221", 8 },
	{ "202001", 64 }, { "202011", 51 }, { "202021", 20 }, { "202101", 47 }, { "202111", 21 }, { "202121", 11 },
	{ "202201", 24 }, { "202211", 9 }, { "202221", 4 }, { "210000", 88 }, { "210001", 75 }, { "210010", 73 },
	{ "210011", 53 }, { "210020", 60 }, { "210021", 50 }, { "210100", 73 }, { "210101", 55 }, { "210110", 59 },
	{ "210111", 40 }, { "210120", 41 }, { "210121", 20 }, { "210200", 54 }, { "210201", 43 }, { "210210", 45 },
	{ "210211", 22 }, { "210220", 20 }, { "210221", 11 }, { "211000", 75 }, { "211001", 55 }, { "211010", 58 },
	{ "211011", 45 }, { "211020", 40 }, { "211021", 21 }, { "211100", 61 }, { "211101", 51 }, { "211110", 48 },
	{ "211111", 18 }, { "211120", 20 }, { "211121", 9 }, { "211200", 46 }, { "211201", 18 }, { "211210", 17 },
	{ "211211", 7 }, { "211220", 8 }, { "211221", 2 }, { "212001", 53 }, { "212011", 24 }, { "212021", 14 },
	{ "212101", 24 }, { "212111", 12 }, { "212121", 5 }, { "212201", 10 }, { "212211", 3 }, { "212221", 1 },
};

// Highest-severity vectors of each EQ level, transcribed from the same
// calculator (src/cvss/max_composed.js). Each string contains the values
// of the metrics named in the comment, in that order.
static const char *const eq1_highest[3][3] = {
	// AV PR UI
	{ "NNN" },
	{ "ANN", "NLN", "NNP" },
	{ "PNN", "ALP" },
};
static const char *const eq2_highest[2][2] = {
	// AC AT
	{ "LN" },
	{ "HN", "LP" },
};
static const char *const eq3_eq6_highest[3][2][5] = {
	// VC VI VA CR IR AR, indexed by EQ3 then EQ6
	{ { "HHHHHH" }, { "HHLMMH", "HHHMMM" } },
	{ { "LHHHHH", "HLHHHH" }, { "LHLHMH", "LHHHMM", "HLHMHM", "HLLMHH", "LLHHHM" } },
	{ { NULL }, { "LLLHHH" } },
};
static const char *const eq4_highest[3] = {
	// SC SI SA
	"HSS",
	"HHH",
	"LLL",
};

// Depth of each EQ level's MacroVectors in severity-distance steps, plus
// one, from the same calculator (src/cvss/max_severity.js). EQ5's distance
// is always 0, so it has no depth.
static const int eq1_depth[3] = { 1, 4, 5 };
static const int eq2_depth[2] = { 1, 2 };
static const int eq3_eq6_depth[3][2] = { { 7, 6 }, { 8, 8 }, { 0, 10 } };
static const int eq4_depth[3] = { 6, 5, 4 };

// A common multiple of every depth above, so the score interpolation below
// runs on integers.
#define DEPTH_MULTIPLE 840

static const struct metric_def *find_metric(const char *name, size_t length, enum metric *out)
{
	for (int m = 0; m < METRIC_COUNT; m++) {
		const char *candidate = metric_defs[m].name;
		if (strlen(candidate) == length && strncmp(candidate, name, length) == 0) {
			*out = (enum metric)m;
			return &metric_defs[m];
		}
	}
	return NULL;
}

// Parses one "METRIC:VALUE" component of length bytes into v.
static int parse_component(const char *vector, const char *component, size_t length,
			   struct cvss4_vector *v, struct cf_error *err)
{
	int quoted = length < QUOTE_MAX ? (int)length : QUOTE_MAX;
	const char *colon = memchr(component, ':', length);
	if (colon == NULL || colon == component || colon == component + length - 1)
		return cf_error_set(err, -EINVAL,
				    "invalid CVSS v4.0 vector \"%.*s\": component \"%.*s\" is not "
				    "METRIC:VALUE",
				    QUOTE_MAX * 3, vector, quoted, component);

	size_t name_length = (size_t)(colon - component);
	enum metric m;
	const struct metric_def *def = find_metric(component, name_length, &m);
	if (def == NULL)
		return cf_error_set(err, -EINVAL,
				    "invalid CVSS v4.0 vector \"%.*s\": unknown metric \"%.*s\"",
				    QUOTE_MAX * 3, vector, quoted < (int)name_length ? quoted : (int)name_length,
				    component);
	if (v->value[m] != 0)
		return cf_error_set(err, -EINVAL,
				    "invalid CVSS v4.0 vector \"%.*s\": metric %s appears more than once",
				    QUOTE_MAX * 3, vector, def->name);

	const char *value = colon + 1;
	size_t value_length = length - name_length - 1;
	for (int i = 0; i < METRIC_VALUE_MAX && def->values[i] != NULL; i++) {
		if (strlen(def->values[i]) == value_length &&
		    strncmp(def->values[i], value, value_length) == 0) {
			v->value[m] = def->values[i][0];
			return 0;
		}
	}
	int value_quoted = value_length < QUOTE_MAX ? (int)value_length : QUOTE_MAX;
	return cf_error_set(err, -EINVAL,
			    "invalid CVSS v4.0 vector \"%.*s\": \"%.*s\" is not a value of metric %s",
			    QUOTE_MAX * 3, vector, value_quoted, value, def->name);
}

// Parses and validates vector. Each metric may appear at most once, and all
// eleven base metrics are required.
// NOTE: FIRST's JSON schema also requires the metrics in specification
// order. This parser accepts any order, because the score does not depend
// on it and feeds that reorder metrics would otherwise lose their severity.
static int parse_vector(const char *vector, struct cvss4_vector *v, struct cf_error *err)
{
	memset(v, 0, sizeof(*v));
	if (vector == NULL)
		return cf_error_set(err, -EINVAL, "missing CVSS v4.0 vector");
	if (strncmp(vector, CVSS4_PREFIX, strlen(CVSS4_PREFIX)) != 0)
		return cf_error_set(err, -EINVAL,
				    "invalid CVSS v4.0 vector \"%.*s\": it must start with \"%s\"",
				    QUOTE_MAX * 3, vector, CVSS4_PREFIX);

	const char *component = vector + strlen(CVSS4_PREFIX);
	for (;;) {
		size_t length = strcspn(component, "/");
		int rc = parse_component(vector, component, length, v, err);
		if (rc != 0)
			return rc;
		if (component[length] == '\0')
			break;
		component += length + 1;
	}

	for (int m = 0; m < BASE_METRIC_COUNT; m++) {
		if (v->value[m] == 0)
			return cf_error_set(err, -EINVAL,
					    "invalid CVSS v4.0 vector \"%.*s\": missing base metric %s",
					    QUOTE_MAX * 3, vector, metric_defs[m].name);
	}
	return 0;
}

// Returns the value that scoring uses for metric m: a modified base metric
// that is set overrides the base metric, and the threat and security
// requirement metrics default to their highest-severity values when absent
// or X (E:A, CR:H, IR:H, AR:H).
static char effective_value(const struct cvss4_vector *v, enum metric m)
{
	if (m < BASE_METRIC_COUNT) {
		char modified = v->value[M_MAV + m];
		return modified != 0 && modified != 'X' ? modified : v->value[m];
	}

	char value = v->value[m];
	if (value != 0 && value != 'X')
		return value;
	if (m == M_E)
		return 'A';
	return 'H';
}

static bool is(const struct cvss4_vector *v, enum metric m, char value)
{
	return effective_value(v, m) == value;
}

// Computes the six EQ levels as the specification defines them.
static void compute_eqs(const struct cvss4_vector *v, int eq[6])
{
	bool all_network_none = is(v, M_AV, 'N') && is(v, M_PR, 'N') && is(v, M_UI, 'N');
	bool any_network_none = is(v, M_AV, 'N') || is(v, M_PR, 'N') || is(v, M_UI, 'N');
	if (all_network_none)
		eq[0] = 0;
	else if (any_network_none && !is(v, M_AV, 'P'))
		eq[0] = 1;
	else
		eq[0] = 2;

	eq[1] = is(v, M_AC, 'L') && is(v, M_AT, 'N') ? 0 : 1;

	if (is(v, M_VC, 'H') && is(v, M_VI, 'H'))
		eq[2] = 0;
	else if (is(v, M_VC, 'H') || is(v, M_VI, 'H') || is(v, M_VA, 'H'))
		eq[2] = 1;
	else
		eq[2] = 2;

	// Only MSI and MSA allow S (Safety), so the effective SI or SA is S
	// only through them.
	if (is(v, M_SI, 'S') || is(v, M_SA, 'S'))
		eq[3] = 0;
	else if (is(v, M_SC, 'H') || is(v, M_SI, 'H') || is(v, M_SA, 'H'))
		eq[3] = 1;
	else
		eq[3] = 2;

	if (is(v, M_E, 'A'))
		eq[4] = 0;
	else if (is(v, M_E, 'P'))
		eq[4] = 1;
	else
		eq[4] = 2;

	bool high_requirement_hit = (is(v, M_CR, 'H') && is(v, M_VC, 'H')) ||
				    (is(v, M_IR, 'H') && is(v, M_VI, 'H')) ||
				    (is(v, M_AR, 'H') && is(v, M_VA, 'H'));
	eq[5] = high_requirement_hit ? 0 : 1;
}

// Returns the score in tenths of the MacroVector with levels eq, or -1 when
// no such MacroVector exists (a level past the lowest).
static int macrovector_tenths(const int eq[6])
{
	char key[CVSS4_MACROVECTOR_SIZE];
	for (int i = 0; i < 6; i++) {
		if (eq[i] < 0 || eq[i] > 9)
			return -1;
		key[i] = (char)('0' + eq[i]);
	}
	key[6] = '\0';

	for (size_t i = 0; i < sizeof(macrovector_scores) / sizeof(macrovector_scores[0]); i++) {
		if (strcmp(macrovector_scores[i].key, key) == 0)
			return macrovector_scores[i].tenths;
	}
	return -1;
}

// Returns the score in tenths of the MacroVector that is eq with level
// index raised by one, or -1 when it does not exist.
static int lower_tenths(const int eq[6], int index)
{
	int lower[6];
	memcpy(lower, eq, sizeof(lower));
	lower[index]++;
	return macrovector_tenths(lower);
}

// Returns the score in tenths of the next lower MacroVector for EQ3 and
// EQ6 together, which the specification treats as one dimension. From 00
// it is 01 or 10, whichever scores higher. From 01 and 10 it is 11, from
// 11 it is 21, and 21 has none.
static int lower_eq3_eq6_tenths(const int eq[6])
{
	int lower[6];
	memcpy(lower, eq, sizeof(lower));
	if (eq[2] == 0 && eq[5] == 0) {
		lower[5] = 1;
		int by_eq6 = macrovector_tenths(lower);
		lower[5] = 0;
		lower[2] = 1;
		int by_eq3 = macrovector_tenths(lower);
		return by_eq6 > by_eq3 ? by_eq6 : by_eq3;
	}
	if (eq[2] == 1 && eq[5] == 0)
		lower[5] = 1;
	else
		lower[2]++;
	return macrovector_tenths(lower);
}

// Returns the severity level of value for metric m in steps of 0.1, lower
// being more severe, as FIRST's reference calculator orders the values.
static int severity_level(enum metric m, char value)
{
	const char *order;
	switch (m) {
	case M_AV:
		order = "NALP";
		break;
	case M_PR:
		order = "NLH";
		break;
	case M_UI:
		order = "NPA";
		break;
	case M_AC:
		order = "LH";
		break;
	case M_AT:
		order = "NP";
		break;
	case M_VC:
	case M_VI:
	case M_VA:
		order = "HLN";
		break;
	case M_SC:
	case M_SI:
	case M_SA:
		// SC has no S value, so its H is level 1 as for SI and SA.
		order = "SHLN";
		break;
	default:
		order = "HML";
		break;
	}
	const char *p = strchr(order, value);
	return p != NULL ? (int)(p - order) : 0;
}

// Severity distances of a vector from one highest-severity vector, summed
// per EQ dimension, in steps of 0.1.
struct distances {
	int eq1;
	int eq2;
	int eq3_eq6;
	int eq4;
	bool all_non_negative;
};

static int add_distance(const struct cvss4_vector *v, enum metric m, char highest,
			bool *non_negative)
{
	int distance = severity_level(m, effective_value(v, m)) - severity_level(m, highest);
	if (distance < 0)
		*non_negative = false;
	return distance;
}

static struct distances measure_distances(const struct cvss4_vector *v, const char *eq1,
					  const char *eq2, const char *eq3_eq6, const char *eq4)
{
	struct distances d = { .all_non_negative = true };
	bool *ok = &d.all_non_negative;

	d.eq1 = add_distance(v, M_AV, eq1[0], ok) + add_distance(v, M_PR, eq1[1], ok) +
		add_distance(v, M_UI, eq1[2], ok);
	d.eq2 = add_distance(v, M_AC, eq2[0], ok) + add_distance(v, M_AT, eq2[1], ok);
	d.eq3_eq6 = add_distance(v, M_VC, eq3_eq6[0], ok) + add_distance(v, M_VI, eq3_eq6[1], ok) +
		    add_distance(v, M_VA, eq3_eq6[2], ok) + add_distance(v, M_CR, eq3_eq6[3], ok) +
		    add_distance(v, M_IR, eq3_eq6[4], ok) + add_distance(v, M_AR, eq3_eq6[5], ok);
	d.eq4 = add_distance(v, M_SC, eq4[0], ok) + add_distance(v, M_SI, eq4[1], ok) +
		add_distance(v, M_SA, eq4[2], ok);
	return d;
}

// Finds the severity distances from the first highest-severity vector of
// the MacroVector (in the reference calculator's order) that the vector
// does not exceed in any metric.
static struct distances find_distances(const struct cvss4_vector *v, const int eq[6])
{
	const char *const *eq1_list = eq1_highest[eq[0]];
	const char *const *eq2_list = eq2_highest[eq[1]];
	const char *const *eq3_eq6_list = eq3_eq6_highest[eq[2]][eq[5]];
	struct distances d = { 0 };

	for (int a = 0; a < 3 && eq1_list[a] != NULL; a++) {
		for (int b = 0; b < 2 && eq2_list[b] != NULL; b++) {
			for (int c = 0; c < 5 && eq3_eq6_list[c] != NULL; c++) {
				d = measure_distances(v, eq1_list[a], eq2_list[b], eq3_eq6_list[c],
						      eq4_highest[eq[3]]);
				if (d.all_non_negative)
					return d;
			}
		}
	}
	// The highest-severity vectors cover every vector of their MacroVector:
	// an exhaustive run over all base, threat and security requirement
	// values found none without a fit. Should one exist, the distances
	// from the last candidate are used, as the reference calculator does.
	return d;
}

// One EQ dimension's share of the interpolation: the score drop to the
// next lower MacroVector (in tenths) and the vector's distance as a
// fraction distance / depth.
struct interpolation_term {
	int lower_tenths;
	int distance;
	int depth;
};

// Computes the score in tenths. The specification's interpolation is
// score = macro - mean(drop_i * distance_i / depth_i) over the dimensions
// that have a lower MacroVector, rounded half up to one decimal. It runs
// here on integers scaled by DEPTH_MULTIPLE, so ties such as x.x5 round
// exactly instead of by the luck of floating point.
static int interpolate_tenths(int macro_tenths, const struct interpolation_term *terms,
			      int count)
{
	long long drop_sum = 0;
	int existing = 0;
	for (int i = 0; i < count; i++) {
		if (terms[i].lower_tenths < 0)
			continue;
		existing++;
		if (terms[i].depth == 0)
			continue;
		long long drop = macro_tenths - terms[i].lower_tenths;
		drop_sum += drop * terms[i].distance * (DEPTH_MULTIPLE / terms[i].depth);
	}
	if (existing == 0)
		return macro_tenths;

	// The score in tenths is scaled / (DEPTH_MULTIPLE * existing).
	long long denominator = (long long)DEPTH_MULTIPLE * existing;
	long long scaled = (long long)macro_tenths * denominator - drop_sum;
	if (scaled <= 0)
		return 0;
	if (scaled >= 100 * denominator)
		return 100;
	return (int)((2 * scaled + denominator) / (2 * denominator));
}

int cvss4_macrovector(const char *vector, char out[CVSS4_MACROVECTOR_SIZE],
		      struct cf_error *err)
{
	struct cvss4_vector v;
	int rc = parse_vector(vector, &v, err);
	if (rc != 0)
		return rc;

	int eq[6];
	compute_eqs(&v, eq);
	for (int i = 0; i < 6; i++)
		out[i] = (char)('0' + eq[i]);
	out[6] = '\0';
	return 0;
}

int cvss4_score(const char *vector, double *score, struct cf_error *err)
{
	struct cvss4_vector v;
	int rc = parse_vector(vector, &v, err);
	if (rc != 0)
		return rc;

	// A vector with no impact on any system scores 0.0 whatever its
	// exploitability.
	bool no_impact = true;
	for (int m = M_VC; m <= M_SA; m++) {
		if (!is(&v, (enum metric)m, 'N'))
			no_impact = false;
	}
	if (no_impact) {
		*score = 0.0;
		return 0;
	}

	int eq[6];
	compute_eqs(&v, eq);
	int macro_tenths = macrovector_tenths(eq);
	if (macro_tenths < 0)
		return cf_error_set(err, -EINVAL, "CVSS v4.0 vector \"%.*s\": no score for MacroVector",
				    QUOTE_MAX * 3, vector);

	struct distances d = find_distances(&v, eq);
	const struct interpolation_term terms[] = {
		{ lower_tenths(eq, 0), d.eq1, eq1_depth[eq[0]] },
		{ lower_tenths(eq, 1), d.eq2, eq2_depth[eq[1]] },
		{ lower_eq3_eq6_tenths(eq), d.eq3_eq6, eq3_eq6_depth[eq[2]][eq[5]] },
		{ lower_tenths(eq, 3), d.eq4, eq4_depth[eq[3]] },
		// EQ5 (Exploit Maturity) has one value per level, so its distance
		// is 0, but its lower MacroVector still counts toward the mean.
		{ lower_tenths(eq, 4), 0, 0 },
	};
	*score = interpolate_tenths(macro_tenths, terms, 5) / 10.0;
	return 0;
}
