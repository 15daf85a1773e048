// SPDX-License-Identifier: Apache-2.0
// Label rules driven by dockerfile.label-schema in .coffer.yaml: labels the
// final image must have (DL3049), labels outside the schema with
// strict-labels (DL3050), and the format of each schema label's value
// (DL3051 to DL3056 and DL3058). Without a schema none of them fires.

#include "scan/dockerfile/dockerfile.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const struct scan_label_schema *schema_entry(const struct scan_config *config,
						    const char *name)
{
	for (size_t i = 0; i < config->label_schema_count; i++) {
		if (strcmp(config->label_schema[i].name, name) == 0)
			return &config->label_schema[i];
	}
	return NULL;
}

static bool all_of(const char *s, size_t len, int (*accept)(int))
{
	for (size_t i = 0; i < len; i++) {
		if (!accept((unsigned char)s[i]))
			return false;
	}
	return len > 0;
}

// scheme://host..., with an RFC 3986 scheme and a non-empty host.
static bool valid_url(const char *v)
{
	const char *sep = strstr(v, "://");
	if (sep == NULL || sep == v || !isalpha((unsigned char)v[0]))
		return false;
	for (const char *c = v; c < sep; c++) {
		if (!(isalnum((unsigned char)*c) || *c == '+' || *c == '-' || *c == '.'))
			return false;
	}
	const char *host = sep + 3;
	return host[0] != '\0' && host[0] != '/' && strpbrk(v, " \t\"<>") == NULL;
}

static bool digits(const char *s, size_t n)
{
	return all_of(s, n, isdigit);
}

// RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM).
static bool valid_rfc3339(const char *v)
{
	if (strlen(v) < 20 || !digits(v, 4) || v[4] != '-' || !digits(v + 5, 2) || v[7] != '-' ||
	    !digits(v + 8, 2) || (v[10] != 'T' && v[10] != 't') || !digits(v + 11, 2) ||
	    v[13] != ':' || !digits(v + 14, 2) || v[16] != ':' || !digits(v + 17, 2))
		return false;
	int month = (v[5] - '0') * 10 + (v[6] - '0');
	int day = (v[8] - '0') * 10 + (v[9] - '0');
	int hour = (v[11] - '0') * 10 + (v[12] - '0');
	int minute = (v[14] - '0') * 10 + (v[15] - '0');
	int second = (v[17] - '0') * 10 + (v[18] - '0');
	if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
	    second > 60)
		return false;

	const char *rest = v + 19;
	if (*rest == '.') {
		rest++;
		size_t n = strspn(rest, "0123456789");
		if (n == 0)
			return false;
		rest += n;
	}
	if ((rest[0] == 'Z' || rest[0] == 'z') && rest[1] == '\0')
		return true;
	return (rest[0] == '+' || rest[0] == '-') && digits(rest + 1, 2) && rest[3] == ':' &&
	       digits(rest + 4, 2) && rest[6] == '\0';
}

static int is_license_char(int c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '+' || c == ':';
}

// SPDX license expression syntax: ids joined by AND, OR and WITH, with
// parentheses.
// NOTE: ids are not checked against the SPDX license list, so a misspelled
// id with valid syntax is accepted.
static bool valid_spdx(const char *v)
{
	int depth = 0;
	bool expect_id = true;
	const char *p = v;
	while (*p != '\0') {
		if (*p == ' ') {
			p++;
			continue;
		}
		if (*p == '(') {
			if (!expect_id)
				return false;
			depth++;
			p++;
			continue;
		}
		if (*p == ')') {
			if (expect_id || depth == 0)
				return false;
			depth--;
			p++;
			continue;
		}
		size_t n = 0;
		while (p[n] != '\0' && is_license_char((unsigned char)p[n]))
			n++;
		if (n == 0)
			return false;
		bool operator = (n == 3 && strncmp(p, "AND", 3) == 0) ||
				(n == 2 && strncmp(p, "OR", 2) == 0) ||
				(n == 4 && strncmp(p, "WITH", 4) == 0);
		if (operator == expect_id)
			return false;
		expect_id = operator;
		p += n;
	}
	return !expect_id && depth == 0;
}

static int is_hex(int c)
{
	return isxdigit(c);
}

static bool valid_git_hash(const char *v)
{
	size_t len = strlen(v);
	return (len == 40 || len == 64) && all_of(v, len, is_hex);
}

// A numeric identifier of Semantic Versioning 2.0.0: no leading zero.
static bool numeric_identifier(const char *s, size_t n)
{
	return digits(s, n) && !(n > 1 && s[0] == '0');
}

static int is_identifier_char(int c)
{
	return isalnum(c) || c == '-';
}

// Dot-separated identifiers of a pre-release or build part.
static bool identifiers(const char *s, size_t n, bool prerelease)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		size_t len = i - start;
		if (!all_of(s + start, len, is_identifier_char))
			return false;
		if (prerelease && digits(s + start, len) && !numeric_identifier(s + start, len))
			return false;
		start = i + 1;
	}
	return true;
}

static bool valid_semver(const char *v)
{
	size_t len = strlen(v);
	const char *plus = strchr(v, '+');
	size_t core_end = plus != NULL ? (size_t)(plus - v) : len;
	const char *dash = memchr(v, '-', core_end);
	size_t version_end = dash != NULL ? (size_t)(dash - v) : core_end;

	size_t start = 0;
	int parts = 0;
	for (size_t i = 0; i <= version_end; i++) {
		if (i < version_end && v[i] != '.')
			continue;
		if (!numeric_identifier(v + start, i - start))
			return false;
		parts++;
		start = i + 1;
	}
	if (parts != 3)
		return false;
	if (dash != NULL && !identifiers(dash + 1, core_end - version_end - 1, true))
		return false;
	return plus == NULL || identifiers(plus + 1, len - core_end - 1, false);
}

static int is_atom_char(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

// local@domain with dot-atom parts (the common subset of RFC 5322) and a
// domain of at least two labels.
static bool valid_email(const char *v)
{
	const char *at = strrchr(v, '@');
	if (at == NULL || at == v || strchr(v, '@') != at)
		return false;
	size_t local_len = (size_t)(at - v);
	for (size_t i = 0; i < local_len; i++) {
		bool dot_ok = v[i] == '.' && i > 0 && i + 1 < local_len && v[i - 1] != '.';
		if (!is_atom_char((unsigned char)v[i]) && !dot_ok)
			return false;
	}
	const char *domain = at + 1;
	size_t labels = 0, label_len = 0;
	for (const char *c = domain;; c++) {
		if (*c == '.' || *c == '\0') {
			if (label_len == 0 || c[-1] == '-')
				return false;
			labels++;
			label_len = 0;
			if (*c == '\0')
				break;
			continue;
		}
		if (!(isalnum((unsigned char)*c) || (*c == '-' && label_len > 0)))
			return false;
		label_len++;
	}
	return labels >= 2;
}

static void check_value(struct df_lint *lint, const struct df_pair *pair,
			const struct scan_label_schema *entry)
{
	const char *v = pair->value != NULL ? pair->value : "";
	if (pair->unresolved)
		return;
	if (v[0] == '\0') {
		df_report(lint, DF_R_DL3051, pair->line, pair->column, "label %s is empty", pair->key);
		return;
	}

	switch (entry->type) {
	case SCAN_LABEL_TEXT:
		break;
	case SCAN_LABEL_URL:
		if (!valid_url(v))
			df_report(lint, DF_R_DL3052, pair->value_line, pair->value_column,
				  "label %s=%s is not a valid URL", pair->key, v);
		break;
	case SCAN_LABEL_RFC3339:
		if (!valid_rfc3339(v))
			df_report(lint, DF_R_DL3053, pair->value_line, pair->value_column,
				  "label %s=%s is not an RFC 3339 timestamp", pair->key, v);
		break;
	case SCAN_LABEL_SPDX:
		if (!valid_spdx(v))
			df_report(lint, DF_R_DL3054, pair->value_line, pair->value_column,
				  "label %s=%s is not an SPDX license expression", pair->key, v);
		break;
	case SCAN_LABEL_HASH:
		if (!valid_git_hash(v))
			df_report(lint, DF_R_DL3055, pair->value_line, pair->value_column,
				  "label %s=%s is not a full git commit hash", pair->key, v);
		break;
	case SCAN_LABEL_SEMVER:
		if (!valid_semver(v))
			df_report(lint, DF_R_DL3056, pair->value_line, pair->value_column,
				  "label %s=%s is not a semantic version", pair->key, v);
		break;
	case SCAN_LABEL_EMAIL:
		if (!valid_email(v))
			df_report(lint, DF_R_DL3058, pair->value_line, pair->value_column,
				  "label %s=%s is not an email address", pair->key, v);
		break;
	}
}

void df_check_labels(struct df_lint *lint)
{
	const struct scan_config *config = lint->config;
	struct df_file *file = lint->file;
	if (config->label_schema_count == 0 || file->stage_count == 0)
		return;

	// found[i]: the schema label i is set in a stage of the final image.
	bool found[config->label_schema_count];
	memset(found, 0, sizeof(found));

	for (size_t n = 0; n < file->instruction_count; n++) {
		const struct df_instruction *inst = &file->instructions[n];
		if (inst->kind != DF_LABEL)
			continue;
		lint->owner = inst;
		bool final = inst->stage >= 0 && file->stages[inst->stage].in_final_image;
		for (size_t i = 0; i < inst->pair_count; i++) {
			const struct df_pair *pair = &inst->pairs[i];
			const struct scan_label_schema *entry = schema_entry(config, pair->key);
			if (entry == NULL) {
				if (config->strict_labels)
					df_report(lint, DF_R_DL3050, pair->line, pair->column,
						  "label %s is not in the label schema", pair->key);
				continue;
			}
			if (final)
				found[entry - config->label_schema] = true;
			check_value(lint, pair, entry);
		}
	}

	const struct df_instruction *from =
		&file->instructions[file->stages[file->stage_count - 1].instruction];
	lint->owner = from;
	for (size_t i = 0; i < config->label_schema_count; i++) {
		if (!found[i])
			df_report(lint, DF_R_DL3049, from->line, from->column,
				  "the final image has no label %s, which the label schema requires",
				  config->label_schema[i].name);
	}
	lint->owner = NULL;
}
