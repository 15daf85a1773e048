// SPDX-License-Identifier: Apache-2.0
// Secret rules. They find secret-looking names in ENV and ARG, and
// credentials written into the Dockerfile (AWS access key ids, private key
// blocks, JWTs, GitHub and Slack tokens). They also find secret files copied
// into the image, a whole build context copied with no .dockerignore, and
// TLS checks turned off through the environment.
//
// Noise control: a name only counts when its value could be a secret, so
// PASSWORD_FILE=/run/secrets/db, GPG_KEY fingerprints, MYSQL_ALLOW_EMPTY_PASSWORD=yes
// and empty values do not fire.

#include "scan/dockerfile/dockerfile.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

// ---- names ---------------------------------------------------------------

static bool has_segment(const char *upper, const char *segment)
{
	size_t len = strlen(segment);
	for (const char *at = strstr(upper, segment); at != NULL; at = strstr(at + 1, segment)) {
		bool start = at == upper || at[-1] == '_';
		bool end = at[len] == '\0' || at[len] == '_';
		if (start && end)
			return true;
	}
	return false;
}

// True when a variable name marks a secret value, and not a path, a switch
// or an identifier that goes with one.
static bool secret_name(const char *name)
{
	char upper[128];
	size_t len = strlen(name);
	if (len == 0 || len >= sizeof(upper))
		return false;
	for (size_t i = 0; i <= len; i++)
		upper[i] = name[i] == '-' || name[i] == '.' ? '_' : (char)toupper((unsigned char)name[i]);

	static const char *const harmless_suffixes[] = {
		"_FILE", "_PATH", "_DIR", "_LOCATION", "_URL", "_URI", "_ID", "_NAME", "_USER",
		"_USERNAME", "_HOST", "_PORT", "_TYPE", "_VERSION", "_ENABLED", "_ENDPOINT",
		"_METHOD", "_MODE", "_LENGTH", "_TTL", "_EXPIRY", "_HEADER", "_FIELD", "_REGEX",
		"_POLICY", "_ALGORITHM", "_SIZE", "_PROVIDER", "_ISSUER", "_SCOPE", "_HASH",
		"_SHA256", "_SHA512", "_CHECKSUM",
	};
	for (size_t i = 0; i < sizeof(harmless_suffixes) / sizeof(harmless_suffixes[0]); i++) {
		size_t n = strlen(harmless_suffixes[i]);
		if (len > n && strcmp(upper + len - n, harmless_suffixes[i]) == 0)
			return false;
	}
	if (strstr(upper, "ALLOW_EMPTY") != NULL || strstr(upper, "RANDOM_ROOT") != NULL)
		return false;

	static const char *const substrings[] = {
		"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "API_KEY", "ACCESS_KEY",
		"ACCESSKEY", "PRIVATE_KEY", "PRIVATEKEY", "CREDENTIAL", "AUTH_KEY", "CLIENT_SECRET",
		"SIGNING_KEY", "ENCRYPTION_KEY", "MASTER_KEY", "SESSION_KEY", "DB_PASS",
	};
	for (size_t i = 0; i < sizeof(substrings) / sizeof(substrings[0]); i++) {
		if (strstr(upper, substrings[i]) != NULL)
			return true;
	}
	return has_segment(upper, "PASS");
}

// True when the value cannot be a secret: empty, a path, a switch.
static bool harmless_value(const char *value)
{
	if (value[0] == '\0' || value[0] == '/' || strncmp(value, "./", 2) == 0 ||
	    strncmp(value, "~/", 2) == 0)
		return true;
	static const char *const switches[] = { "true", "false", "yes", "no", "on", "off",
						"0", "1", "none", "null", "trust" };
	for (size_t i = 0; i < sizeof(switches) / sizeof(switches[0]); i++) {
		if (strcasecmp(value, switches[i]) == 0)
			return true;
	}
	return false;
}

static void check_pairs(struct df_lint *lint, const struct df_instruction *inst)
{
	bool env = inst->kind == DF_ENV;
	for (size_t i = 0; i < inst->pair_count; i++) {
		const struct df_pair *pair = &inst->pairs[i];
		if (!secret_name(pair->key))
			continue;

		if (!env && pair->raw_value == NULL) {
			df_report(lint, DF_R_SECRET_ARG, pair->line, pair->column,
				  "ARG %s passes a secret as a build argument, which the image history records",
				  pair->key);
			continue;
		}
		const char *raw = pair->raw_value;
		const char *value = pair->unresolved ? raw : pair->value;
		if (harmless_value(value) || harmless_value(raw))
			continue;
		if (env)
			df_report(lint, DF_R_SECRET_NAME, pair->line, pair->column,
				  "ENV %s stores a secret in the image configuration", pair->key);
		else
			df_report(lint, DF_R_SECRET_NAME, pair->line, pair->column,
				  "ARG %s has a secret default value, which the image history records",
				  pair->key);
		if (!env)
			df_report(lint, DF_R_SECRET_ARG, pair->line, pair->column,
				  "ARG %s passes a secret as a build argument, which the image history records",
				  pair->key);
	}
}

static void check_tls_env(struct df_lint *lint, const struct df_instruction *inst)
{
	for (size_t i = 0; i < inst->pair_count; i++) {
		const struct df_pair *pair = &inst->pairs[i];
		const char *v = pair->value != NULL ? pair->value : "";
		bool off = (strcmp(pair->key, "GIT_SSL_NO_VERIFY") == 0 &&
			    (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0)) ||
			   (strcmp(pair->key, "NODE_TLS_REJECT_UNAUTHORIZED") == 0 && strcmp(v, "0") == 0) ||
			   (strcmp(pair->key, "PYTHONHTTPSVERIFY") == 0 && strcmp(v, "0") == 0) ||
			   (strcmp(pair->key, "CURL_SSL_NO_VERIFY") == 0 && strcmp(v, "1") == 0);
		if (off)
			df_report(lint, DF_R_TLS_DISABLED, pair->line, pair->column,
				  "%s=%s turns off TLS certificate verification", pair->key, v);
	}
}

// ---- values --------------------------------------------------------------

static bool upper_alnum(char c)
{
	return isupper((unsigned char)c) || isdigit((unsigned char)c);
}

static bool token_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static size_t run_length(const char *s, size_t i, size_t len, bool (*accept)(char))
{
	size_t n = 0;
	while (i + n < len && accept(s[i + n]))
		n++;
	return n;
}

static bool alnum_char(char c)
{
	return isalnum((unsigned char)c);
}

static bool base64url_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

// Returns the kind of credential that starts at s[i], or NULL.
static const char *credential_at(const char *s, size_t i, size_t len)
{
	const char *p = s + i;
	size_t left = len - i;
	bool boundary = i == 0 || !token_char(s[i - 1]);

	if (boundary && left >= 20 &&
	    (strncmp(p, "AKIA", 4) == 0 || strncmp(p, "ASIA", 4) == 0)) {
		size_t n = 0;
		while (n < 16 && upper_alnum(p[4 + n]))
			n++;
		if (n == 16 && (left == 20 || !token_char(p[20])))
			return "an AWS access key id";
	}
	if (p[0] == '-' && left > 30 && strncmp(p, "-----BEGIN ", 11) == 0) {
		// The header line is short, so search only its first 80 bytes.
		size_t window = left < 80 ? left : 80;
		const char *eol = memchr(p, '\n', window);
		size_t line_len = eol != NULL ? (size_t)(eol - p) : window;
		if (memmem(p, line_len, "PRIVATE KEY-----", 16) != NULL)
			return "a private key";
	}
	if (boundary && left > 40 && strncmp(p, "eyJ", 3) == 0) {
		size_t a = run_length(s, i, len, base64url_char);
		if (a >= 10 && i + a < len && s[i + a] == '.' && strncmp(s + i + a + 1, "eyJ", 3) == 0) {
			size_t b = run_length(s, i + a + 1, len, base64url_char);
			if (b >= 10 && i + a + 1 + b < len && s[i + a + 1 + b] == '.' &&
			    run_length(s, i + a + 2 + b, len, base64url_char) >= 10)
				return "a JSON Web Token";
		}
	}
	if (boundary && left >= 40 && p[0] == 'g' && p[1] == 'h' && strchr("pousr", p[2]) != NULL &&
	    p[3] == '_' && run_length(s, i + 4, len, alnum_char) >= 36)
		return "a GitHub token";
	if (boundary && left > 30 && strncmp(p, "github_pat_", 11) == 0 &&
	    run_length(s, i + 11, len, base64url_char) >= 22)
		return "a GitHub token";
	if (boundary && left > 15 && strncmp(p, "xox", 3) == 0 && strchr("baprs", p[3]) != NULL &&
	    p[4] == '-' && run_length(s, i + 5, len, base64url_char) >= 10)
		return "a Slack token";
	if (left > 40 && strncmp(p, "hooks.slack.com/services/T", 26) == 0)
		return "a Slack webhook URL";
	return NULL;
}

static void scan_text(struct df_lint *lint, const struct df_text *text, size_t from)
{
	const char *s = text->data;
	size_t len = text->len;
	for (size_t i = from; i < len; i++) {
		char c = s[i];
		// Cheap first-byte filter: every pattern starts with one of these.
		if (c != 'A' && c != '-' && c != 'e' && c != 'g' && c != 'x' && c != 'h')
			continue;
		const char *kind = credential_at(s, i, len);
		if (kind == NULL)
			continue;
		int line, column;
		df_text_position(text, i, &line, &column);
		df_report(lint, DF_R_SECRET_VALUE, line, column,
			  "the Dockerfile contains %s", kind);
		// One finding per credential: skip the rest of it.
		while (i + 1 < len && !isspace((unsigned char)s[i + 1]) && s[i + 1] != '"' &&
		       s[i + 1] != '\'')
			i++;
	}
}

// ---- files ---------------------------------------------------------------

static const char *base_name(const char *path)
{
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	const char *slash = NULL;
	for (size_t i = 0; i + 1 < len; i++) {
		if (path[i] == '/')
			slash = path + i;
	}
	return slash != NULL ? slash + 1 : path;
}

static bool secret_file(const char *path)
{
	const char *name = base_name(path);
	static const char *const names[] = {
		"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".npmrc", ".pypirc", ".netrc",
		".git-credentials", ".dockercfg", ".env", ".htpasswd", "credentials.json",
		"service-account.json", ".pgpass", ".my.cnf",
		// Directories that hold credentials.
		".aws", ".ssh", ".gnupg", ".kube", ".docker",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0)
			return true;
	}
	if (strncmp(name, ".env.", 5) == 0) {
		const char *kind = name + 5;
		return strcmp(kind, "example") != 0 && strcmp(kind, "sample") != 0 &&
		       strcmp(kind, "template") != 0 && strcmp(kind, "dist") != 0;
	}
	if (strstr(path, ".aws/credentials") != NULL || strstr(path, ".docker/config.json") != NULL ||
	    strstr(path, ".kube/config") != NULL || strstr(path, ".ssh/") != NULL)
		return true;
	size_t len = strlen(name);
	return (len > 4 && (strcmp(name + len - 4, ".p12") == 0 || strcmp(name + len - 4, ".pfx") == 0)) ||
	       (len > 6 && strcmp(name + len - 6, "_rsa") == 0);
}

static bool context_has_dockerignore(const struct df_lint *lint)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/.dockerignore", lint->context_dir);
	if (stat(path, &st) == 0)
		return true;
	// BuildKit also reads <Dockerfile name>.dockerignore next to the file.
	snprintf(path, sizeof(path), "%s.dockerignore", lint->path);
	return stat(path, &st) == 0;
}

static void check_copy_sources(struct df_lint *lint, const struct df_instruction *inst,
			       bool *context_checked, bool *ignore_found)
{
	if (inst->word_count < 2)
		return;
	bool from_stage = false;
	for (size_t i = 0; i < inst->flag_count; i++) {
		if (strcmp(inst->flags[i].name, "from") == 0)
			from_stage = true;
	}
	if (from_stage)
		return;

	for (size_t i = 0; i + 1 < inst->word_count; i++) {
		const struct df_word *src = &inst->words[i];
		if (src->unresolved || strncmp(src->raw, "<<", 2) == 0)
			continue;
		if (secret_file(src->value))
			df_report(lint, DF_R_SECRET_FILE, src->line, src->column,
				  "%s %s copies a secret file into the image", df_kind_name(inst->kind),
				  src->value);
		bool whole = strcmp(src->value, ".") == 0 || strcmp(src->value, "./") == 0;
		if (whole && lint->context_dir != NULL) {
			if (!*context_checked) {
				*ignore_found = context_has_dockerignore(lint);
				*context_checked = true;
			}
			if (!*ignore_found)
				df_report(lint, DF_R_NO_DOCKERIGNORE, src->line, src->column,
					  "%s . copies the whole build context and no .dockerignore is next to the Dockerfile",
					  df_kind_name(inst->kind));
		}
	}
}

void df_check_secrets(struct df_lint *lint)
{
	struct df_file *file = lint->file;
	bool context_checked = false, ignore_found = false;

	for (size_t n = 0; n < file->instruction_count; n++) {
		const struct df_instruction *inst = &file->instructions[n];
		lint->owner = inst;
		const struct df_instruction *target = inst->trigger != NULL ? inst->trigger : inst;

		if (target->kind == DF_ENV || target->kind == DF_ARG) {
			check_pairs(lint, target);
			check_tls_env(lint, target);
		}
		if (target->kind == DF_COPY || target->kind == DF_ADD)
			check_copy_sources(lint, target, &context_checked, &ignore_found);

		scan_text(lint, inst->text, 0);
		for (size_t i = 0; i < target->heredoc_count; i++)
			scan_text(lint, &target->heredocs[i].body, 0);
	}
	lint->owner = NULL;
}
