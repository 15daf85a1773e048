// SPDX-License-Identifier: Apache-2.0
// Image scanner units: package database parsers, os-release, CVSS v3
// scores, OSV range evaluation and severity choice through an in-memory
// database, and the ignore file.

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <coffer/image.h>
#include <coffer/image_ignore.h>
#include <coffer/vulndb.h>

static const struct image_package *find_package(const struct image_package_list *list,
						const char *name)
{
	for (size_t i = 0; i < list->count; i++) {
		if (strcmp(list->items[i].name, name) == 0)
			return &list->items[i];
	}
	return NULL;
}

static void test_dpkg_status_fields(void **state)
{
	(void)state;
	const char status[] =
		"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\n"
		"Source: glibc\nDescription: GNU C Library\n long text: with a colon\n\n"
		"Package: removed\nStatus: deinstall ok config-files\nVersion: 1.0\n\n"
		"Package: binnmu\nStatus: hold ok installed\nVersion: 1.2-3+b1\n"
		"Source: binnmu-src (1.2-3)\n";
	struct image_package_list list = { 0 };
	struct cf_error err = { 0 };

	assert_int_equal(image_parse_dpkg_status(status, sizeof(status) - 1, true, &list, &err), 0);
	assert_int_equal(list.count, 2);
	const struct image_package *libc = find_package(&list, "libc6");
	assert_non_null(libc);
	assert_string_equal(libc->source_name, "glibc");
	assert_string_equal(libc->source_version, "2.36-9+deb12u4");
	const struct image_package *binnmu = find_package(&list, "binnmu");
	assert_non_null(binnmu);
	assert_string_equal(binnmu->version, "1.2-3+b1");
	assert_string_equal(binnmu->source_name, "binnmu-src");
	assert_string_equal(binnmu->source_version, "1.2-3");
	assert_null(find_package(&list, "removed"));
	image_package_list_free(&list);
}

static void test_dpkg_status_invalid_line(void **state)
{
	(void)state;
	const char status[] = "Package: a\nthis line has no colon\n";
	struct image_package_list list = { 0 };
	struct cf_error err = { 0 };

	assert_int_equal(image_parse_dpkg_status(status, sizeof(status) - 1, true, &list, &err),
			 -EINVAL);
	assert_non_null(strstr(err.message, "line 2"));
	image_package_list_free(&list);
}

static void test_apk_installed_origin(void **state)
{
	(void)state;
	const char db[] = "C:Q1x=\nP:libcrypto3\nV:3.1.4-r5\no:openssl\n\nP:musl\nV:1.2.4-r2\n";
	struct image_package_list list = { 0 };
	struct cf_error err = { 0 };

	assert_int_equal(image_parse_apk_installed(db, sizeof(db) - 1, &list, &err), 0);
	assert_int_equal(list.count, 2);
	assert_string_equal(find_package(&list, "libcrypto3")->source_name, "openssl");
	assert_string_equal(find_package(&list, "musl")->source_name, "musl");
	image_package_list_free(&list);
}

static void test_rpm_header_bounds(void **state)
{
	(void)state;
	// One index entry whose string offset points past the data area.
	const unsigned char header[] = {
		0, 0, 0, 1, 0, 0, 0, 4,                 // 1 entry, 4 data bytes
		0, 0, 0x03, 0xe8, 0, 0, 0, 6,           // NAME, STRING
		0, 0, 0, 9, 0, 0, 0, 1,                 // offset 9 (outside), count 1
		'a', 'b', 'c', 0,
	};
	struct image_package_list list = { 0 };
	struct cf_error err = { 0 };

	assert_int_equal(image_parse_rpm_header(header, sizeof(header), &list, &err), -EINVAL);
	assert_int_equal(list.count, 0);
	cf_error_reset(&err);
	assert_int_equal(image_parse_rpm_header(header, 7, &list, &err), -EINVAL);
	cf_error_reset(&err);
	// The index claims more entries than the buffer holds.
	unsigned char huge[16] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	assert_int_equal(image_parse_rpm_header(huge, sizeof(huge), &list, &err), -EINVAL);
	image_package_list_free(&list);
}

static void test_python_name_normalised(void **state)
{
	(void)state;
	const char metadata[] = "Metadata-Version: 2.1\nName: Zope.Interface__Extra\nVersion: 6.0\n\nName: ignored\n";
	struct image_package_list list = { 0 };
	struct cf_error err = { 0 };

	assert_int_equal(image_parse_python_metadata(metadata, sizeof(metadata) - 1, &list, &err), 0);
	assert_int_equal(list.count, 1);
	assert_string_equal(list.items[0].name, "zope-interface-extra");
	assert_string_equal(list.items[0].version, "6.0");
	image_package_list_free(&list);
}

static void test_os_release_quotes(void **state)
{
	(void)state;
	const char text[] = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID='3.19.1'\n"
			    "PRETTY_NAME=\"Say \\\"hi\\\"\"\n";
	struct image_os os = { 0 };

	assert_int_equal(image_parse_os_release(text, sizeof(text) - 1, &os), 0);
	assert_string_equal(os.id, "alpine");
	assert_string_equal(os.version_id, "3.19.1");
	assert_string_equal(os.pretty_name, "Say \"hi\"");
	image_os_free(&os);
}

static void test_cvss3_scores(void **state)
{
	(void)state;
	// Expected values follow the CVSS v3.1 base score formulas (section 7).
	assert_float_equal(vulndb_cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), 9.8, 1e-9);
	assert_float_equal(vulndb_cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"), 10.0, 1e-9);
	assert_float_equal(vulndb_cvss3_score("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"), 3.1, 1e-9);
	assert_float_equal(vulndb_cvss3_score("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"), 7.8, 1e-9);
	assert_float_equal(vulndb_cvss3_score("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N"), 6.4, 1e-9);
	assert_float_equal(vulndb_cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"), 0.0, 1e-9);
	assert_true(vulndb_cvss3_score("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") < 0);
	assert_true(vulndb_cvss3_score("CVSS:2.0/AV:N") < 0);
}

// ---- OSV matching ------------------------------------------------------------

struct range_case {
	const char *name;
	const char *ecosystem;
	const char *package;
	const char *version;
	const char *affected_json; // the "affected" entry's ranges and versions
	bool expect_match;
	const char *expect_fixed;
};

static const struct range_case range_cases[] = {
	{ "fixed above", "Debian:12", "zlib", "1:1.2.13.dfsg-1",
	  "\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"1:1.2.13.dfsg-1+deb12u1\"}]}]",
	  true, "1:1.2.13.dfsg-1+deb12u1" },
	{ "fixed at installed", "Debian:12", "zlib", "1:1.2.13.dfsg-1",
	  "\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"1:1.2.13.dfsg-1\"}]}]",
	  false, NULL },
	{ "tilde sorts before release", "Debian:12", "zlib", "1.0~rc1-1",
	  "\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"1.0-1\"}]}]",
	  true, "1.0-1" },
	{ "last_affected equal", "Alpine:v3.19", "musl", "1.2.4-r2",
	  "\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"1.2.0\"}, {\"last_affected\": \"1.2.4-r2\"}]}]",
	  true, NULL },
	{ "last_affected below", "Alpine:v3.19", "musl", "1.2.4-r2",
	  "\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"1.2.0\"}, {\"last_affected\": \"1.2.4-r1\"}]}]",
	  false, NULL },
	{ "introduced above", "Alpine:v3.19", "musl", "1.2.4-r2",
	  "\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"1.2.5\"}]}]",
	  false, NULL },
	{ "limit above", "npm", "lodash", "4.17.20",
	  "\"ranges\": [{\"type\": \"SEMVER\", \"events\": [{\"introduced\": \"4.0.0\"}, {\"limit\": \"5.0.0\"}]}]",
	  true, NULL },
	{ "limit below", "npm", "lodash", "4.17.20",
	  "\"ranges\": [{\"type\": \"SEMVER\", \"events\": [{\"introduced\": \"4.0.0\"}, {\"limit\": \"4.17.0\"}]}]",
	  false, NULL },
	{ "semver prerelease fix", "npm", "lodash", "4.17.21-beta.1",
	  "\"ranges\": [{\"type\": \"SEMVER\", \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"4.17.21\"}]}]",
	  true, "4.17.21" },
	{ "second range", "PyPI", "requests", "2.31.0",
	  "\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"1.0\"}, {\"fixed\": \"1.5\"}, {\"introduced\": \"2.0\"}, {\"fixed\": \"2.32.0\"}]}]",
	  true, "2.32.0" },
	{ "pep440 post release", "PyPI", "requests", "2.31.0.post1",
	  "\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"2.31.0\"}]}]",
	  false, NULL },
	{ "explicit versions", "PyPI", "requests", "2.31.0", "\"versions\": [\"2.30.0\", \"2.31.0\"]",
	  true, NULL },
	{ "git range only", "PyPI", "requests", "2.31.0",
	  "\"ranges\": [{\"type\": \"GIT\", \"events\": [{\"introduced\": \"0\"}]}]", false, NULL },
	{ "rpm epoch", "Rocky Linux:9", "openssl", "1:3.0.7-27.el9",
	  "\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"3.0.8-1.el9\"}]}]",
	  false, NULL },
};

static void check_range_case(const struct range_case *c)
{
	struct vulndb *db = NULL;
	struct cf_error err = { 0 };
	char doc[2048];

	assert_int_equal(vulndb_open(":memory:", true, &db, &err), 0);
	snprintf(doc, sizeof(doc),
		 "{\"id\": \"CASE-1\", \"affected\": [{\"package\": {\"ecosystem\": \"%s\", \"name\": \"%s\"}, %s}]}",
		 c->ecosystem, c->package, c->affected_json);
	assert_int_equal(vulndb_import_buffer(db, doc, strlen(doc), c->name, &err), 0);

	struct image_package package = { IMAGE_PKG_PYPI, (char *)c->package, (char *)c->version,
					 (char *)c->package, (char *)c->version,
					 (char *)c->ecosystem, "test", 0, NULL };
	if (strncmp(c->ecosystem, "Debian", 6) == 0)
		package.type = IMAGE_PKG_DEB;
	struct image_scan scan = { .packages = &package, .package_count = 1 };
	struct vulndb_match_list matches;
	assert_int_equal(vulndb_match_scan(db, &scan, &matches, &err), 0);

	if (matches.count != (c->expect_match ? 1u : 0u))
		fail_msg("case '%s': %zu matches, expected %d", c->name, matches.count, c->expect_match);
	if (c->expect_match && c->expect_fixed != NULL) {
		assert_non_null(matches.items[0].fixed_version);
		assert_string_equal(matches.items[0].fixed_version, c->expect_fixed);
	}
	if (c->expect_match && c->expect_fixed == NULL)
		assert_null(matches.items[0].fixed_version);
	vulndb_match_list_free(&matches);
	vulndb_close(db);
}

static void test_osv_range_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++)
		check_range_case(&range_cases[i]);
}

static void test_osv_withdrawn_ignored(void **state)
{
	(void)state;
	struct vulndb *db = NULL;
	struct cf_error err = { 0 };
	const char doc[] = "{\"id\": \"W-1\", \"withdrawn\": \"2024-01-01T00:00:00Z\", \"affected\": "
			   "[{\"package\": {\"ecosystem\": \"npm\", \"name\": \"x\"}, \"versions\": [\"1.0.0\"]}]}";

	assert_int_equal(vulndb_open(":memory:", true, &db, &err), 0);
	assert_int_equal(vulndb_import_buffer(db, doc, sizeof(doc) - 1, "withdrawn", &err), 0);
	struct image_package package = { IMAGE_PKG_NPM, "x", "1.0.0", "x", "1.0.0", "npm", "p", 0, NULL };
	struct image_scan scan = { .packages = &package, .package_count = 1 };
	struct vulndb_match_list matches;
	assert_int_equal(vulndb_match_scan(db, &scan, &matches, &err), 0);
	assert_int_equal(matches.count, 0);
	vulndb_match_list_free(&matches);
	vulndb_close(db);
}

static void test_osv_rejects_non_advisory(void **state)
{
	(void)state;
	struct vulndb *db = NULL;
	struct cf_error err = { 0 };
	assert_int_equal(vulndb_open(":memory:", true, &db, &err), 0);
	assert_int_equal(vulndb_import_buffer(db, "[1]", 3, "array", &err), -EINVAL);
	cf_error_reset(&err);
	assert_int_equal(vulndb_import_buffer(db, "{\"x\": 1}", 8, "no-id", &err), -EINVAL);
	assert_non_null(strstr(err.message, "no \"id\""));
	vulndb_close(db);
}

// Imports one npm advisory for package "x" 1.0.0 with the given "severity"
// list and returns the single match in *out.
static void match_with_severity(const char *severity_json, struct vulndb_match_list *out)
{
	struct vulndb *db = NULL;
	struct cf_error err = { 0 };
	char doc[1024];

	snprintf(doc, sizeof(doc),
		 "{\"id\": \"SEV-1\", \"severity\": %s, \"affected\": [{\"package\": "
		 "{\"ecosystem\": \"npm\", \"name\": \"x\"}, \"versions\": [\"1.0.0\"]}]}",
		 severity_json);
	assert_int_equal(vulndb_open(":memory:", true, &db, &err), 0);
	assert_int_equal(vulndb_import_buffer(db, doc, strlen(doc), "severity", &err), 0);
	struct image_package package = { IMAGE_PKG_NPM, "x", "1.0.0", "x", "1.0.0", "npm", "p", 0, NULL };
	struct image_scan scan = { .packages = &package, .package_count = 1 };
	assert_int_equal(vulndb_match_scan(db, &scan, out, &err), 0);
	assert_int_equal(out->count, 1);
	vulndb_close(db);
}

static void test_osv_cvss4_only_severity(void **state)
{
	(void)state;
	struct vulndb_match_list matches;
	// 8.3 in the test data of the Python "cvss" library (tests/vectors_simple4).
	const char *v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:H/SI:N/SA:N";
	char severity[256];
	snprintf(severity, sizeof(severity), "[{\"type\": \"CVSS_V4\", \"score\": \"%s\"}]", v4);

	match_with_severity(severity, &matches);
	assert_int_equal(matches.items[0].severity, SCAN_SEV_HIGH);
	assert_string_equal(matches.items[0].severity_source, "cvss_v4");
	assert_string_equal(matches.items[0].cvss_vector, v4);
	assert_float_equal(matches.items[0].cvss_score, 8.3, 1e-9);
	vulndb_match_list_free(&matches);

	// A v4 vector with no impact on any system scores 0.0, rated none.
	match_with_severity("[{\"type\": \"CVSS_V4\", \"score\": "
			    "\"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N\"}]",
			    &matches);
	assert_int_equal(matches.items[0].severity, SCAN_SEV_NONE);
	assert_string_equal(matches.items[0].severity_source, "cvss_v4");
	assert_float_equal(matches.items[0].cvss_score, 0.0, 1e-9);
	vulndb_match_list_free(&matches);
}

static void test_osv_cvss_version_choice(void **state)
{
	(void)state;
	struct vulndb_match_list matches;

	// A v3 vector wins over a v4 vector in the same advisory.
	match_with_severity("[{\"type\": \"CVSS_V4\", \"score\": "
			    "\"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:H/SI:N/SA:N\"}, "
			    "{\"type\": \"CVSS_V3\", \"score\": "
			    "\"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N\"}]",
			    &matches);
	assert_int_equal(matches.items[0].severity, SCAN_SEV_LOW);
	assert_string_equal(matches.items[0].severity_source, "cvss_v3");
	assert_float_equal(matches.items[0].cvss_score, 3.1, 1e-9);
	vulndb_match_list_free(&matches);

	// An invalid v4 vector is kept but leaves the score unknown.
	match_with_severity("[{\"type\": \"CVSS_V4\", \"score\": "
			    "\"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:H/SI:N\"}]",
			    &matches);
	assert_int_equal(matches.items[0].severity, SCAN_SEV_INFO);
	assert_string_equal(matches.items[0].severity_source, "none");
	assert_non_null(matches.items[0].cvss_vector);
	assert_true(matches.items[0].cvss_score < 0);
	vulndb_match_list_free(&matches);

	// A vendor rating still wins over any vector.
	match_with_severity("[{\"type\": \"Ubuntu\", \"score\": \"low\"}, {\"type\": \"CVSS_V4\", "
			    "\"score\": \"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H\"}]",
			    &matches);
	assert_int_equal(matches.items[0].severity, SCAN_SEV_LOW);
	assert_string_equal(matches.items[0].severity_source, "vendor");
	assert_float_equal(matches.items[0].cvss_score, 10.0, 1e-9);
	vulndb_match_list_free(&matches);
}

// ---- ignore file ---------------------------------------------------------------

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_ignore_file_entries(void **state)
{
	(void)state;
	char path[] = "/tmp/scan-image-ignore-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "# comment\n\n"
			 "CVE-1 package=libc6 expires=2030-01-31 reason=not reachable here\n"
			 "CVE-2\texpires=2020-01-01\treason=old\n");

	struct image_ignore ignore;
	struct cf_error err = { 0 };
	// 2025-01-01T00:00:00Z
	assert_int_equal(image_ignore_load(path, 1735689600, &ignore, &err), 0);
	assert_int_equal(ignore.count, 2);
	assert_string_equal(ignore.entries[0].reason, "not reachable here");
	assert_false(ignore.entries[0].expired);
	assert_true(ignore.entries[1].expired);

	assert_non_null(image_ignore_match(&ignore, "CVE-1", NULL, "libc6"));
	assert_null(image_ignore_match(&ignore, "CVE-1", NULL, "zlib1g"));
	json_t *aliases = json_pack("[s]", "CVE-1");
	assert_non_null(image_ignore_match(&ignore, "DSA-9", aliases, "libc6"));
	json_decref(aliases);
	assert_null(image_ignore_match(&ignore, "CVE-2", NULL, "libc6"));
	image_ignore_free(&ignore);

	// The expiry day itself still counts: the entry ends after 2030-01-31.
	assert_int_equal(image_ignore_load(path, 1896134399, &ignore, &err), 0);
	assert_false(ignore.entries[0].expired);
	image_ignore_free(&ignore);

	write_file(path, "CVE-3 expires=tomorrow reason=x\n");
	assert_int_equal(image_ignore_load(path, 0, &ignore, &err), -EINVAL);
	assert_non_null(strstr(err.message, "line 1"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dpkg_status_fields),
		cmocka_unit_test(test_dpkg_status_invalid_line),
		cmocka_unit_test(test_apk_installed_origin),
		cmocka_unit_test(test_rpm_header_bounds),
		cmocka_unit_test(test_python_name_normalised),
		cmocka_unit_test(test_os_release_quotes),
		cmocka_unit_test(test_cvss3_scores),
		cmocka_unit_test(test_osv_range_cases),
		cmocka_unit_test(test_osv_withdrawn_ignored),
		cmocka_unit_test(test_osv_rejects_non_advisory),
		cmocka_unit_test(test_osv_cvss4_only_severity),
		cmocka_unit_test(test_osv_cvss_version_choice),
		cmocka_unit_test(test_ignore_file_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
