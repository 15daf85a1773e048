// SPDX-License-Identifier: Apache-2.0
// The image_scan model: freeing, the package list as JSON, and the checks
// on the image config (user, secrets in Env and history).

#include "scan/image/analyze.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void image_scan_free(struct image_scan *scan)
{
	if (scan == NULL)
		return;
	free(scan->source);
	free(scan->format);
	image_os_free(&scan->os);
	for (size_t i = 0; i < scan->layer_count; i++) {
		free(scan->layers[i].diff_id);
		free(scan->layers[i].digest);
		free(scan->layers[i].created_by);
	}
	free(scan->layers);
	struct image_package_list list = { scan->packages, scan->package_count,
					   scan->package_count };
	image_package_list_free(&list);
	for (size_t i = 0; i < scan->finding_count; i++) {
		free(scan->findings[i].message);
		free(scan->findings[i].path);
	}
	free(scan->findings);
	json_decref(scan->config);
	free(scan);
}

const char *image_package_type_name(enum image_package_type type)
{
	switch (type) {
	case IMAGE_PKG_DEB:
		return "deb";
	case IMAGE_PKG_APK:
		return "apk";
	case IMAGE_PKG_RPM:
		return "rpm";
	case IMAGE_PKG_NPM:
		return "npm";
	case IMAGE_PKG_PYPI:
		return "pypi";
	}
	return "unknown";
}

json_t *image_packages_json(const struct image_scan *scan)
{
	json_t *array = json_array();
	if (array == NULL)
		return NULL;
	for (size_t i = 0; i < scan->package_count; i++) {
		const struct image_package *p = &scan->packages[i];
		const struct image_layer *layer =
			p->layer >= 0 && (size_t)p->layer < scan->layer_count ? &scan->layers[p->layer]
									      : NULL;
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s}", "name", p->name,
				      "version", p->version, "source", p->source_name,
				      "source_version", p->source_version, "type",
				      image_package_type_name(p->type), "ecosystem", p->ecosystem,
				      "path", p->path);
		if (o == NULL) {
			json_decref(array);
			return NULL;
		}
		if (p->owner != NULL)
			json_object_set_new(o, "owned_by", json_string(p->owner));
		if (layer != NULL) {
			json_object_set_new(o, "layer", json_string(layer->diff_id));
			json_object_set_new(o, "layer_index", json_integer(p->layer));
			if (layer->created_by != NULL)
				json_object_set_new(o, "created_by", json_string(layer->created_by));
		}
		json_array_append_new(array, o);
	}
	return array;
}

// ---- config checks ---------------------------------------------------------------

static const char *const secret_words[] = { "PASSWORD", "PASSWD", "SECRET", "TOKEN",
					    "API_KEY", "APIKEY", "ACCESS_KEY", "PRIVATE_KEY",
					    "CREDENTIAL" };

// True when an environment variable name suggests a secret.
static bool secret_name(const char *name, size_t len)
{
	char upper[256];
	if (len >= sizeof(upper))
		len = sizeof(upper) - 1;
	for (size_t i = 0; i < len; i++)
		upper[i] = (char)toupper((unsigned char)name[i]);
	upper[len] = '\0';
	for (size_t i = 0; i < sizeof(secret_words) / sizeof(secret_words[0]); i++) {
		if (strstr(upper, secret_words[i]) != NULL)
			return true;
	}
	return false;
}

// True when text contains an AWS access key id (AKIA followed by 16
// upper-case letters or digits).
static bool has_aws_key_id(const char *text)
{
	for (const char *p = strstr(text, "AKIA"); p != NULL; p = strstr(p + 1, "AKIA")) {
		size_t n = 0;
		while (n < 16 && (isupper((unsigned char)p[4 + n]) || isdigit((unsigned char)p[4 + n])))
			n++;
		if (n == 16)
			return true;
	}
	return false;
}

// Finds NAME=VALUE with a secret-like NAME and a non-empty VALUE that is
// not a variable reference; stores NAME's span.
static bool find_secret_assignment(const char *text, const char **name, size_t *name_len)
{
	for (const char *eq = strchr(text, '='); eq != NULL; eq = strchr(eq + 1, '=')) {
		const char *start = eq;
		while (start > text && (isalnum((unsigned char)start[-1]) || start[-1] == '_'))
			start--;
		size_t len = (size_t)(eq - start);
		const char *value = eq + 1;
		if (*value == '"' || *value == '\'')
			value++;
		if (len == 0 || *value == '\0' || *value == '$' || isspace((unsigned char)*value) ||
		    *value == '"' || *value == '\'')
			continue;
		if (secret_name(start, len)) {
			*name = start;
			*name_len = len;
			return true;
		}
	}
	return false;
}

int image_check_config(struct image_scan *scan)
{
	json_t *config = json_object_get(scan->config, "config");
	int rc = 0;

	const char *user = json_string_value(json_object_get(config, "User"));
	if (user == NULL || *user == '\0' || strcmp(user, "root") == 0 || strcmp(user, "0") == 0 ||
	    strncmp(user, "0:", 2) == 0 || strncmp(user, "root:", 5) == 0)
		rc = image_scan_add_finding(scan, "IMG-ROOT-USER", NULL, -1,
					    user != NULL && *user != '\0'
						    ? "the image runs as root (User is '%s')"
						    : "the image runs as root (no User is set)%s",
					    user != NULL && *user != '\0' ? user : "");
	if (rc != 0)
		return rc;

	json_t *env = json_object_get(config, "Env");
	for (size_t i = 0; i < json_array_size(env); i++) {
		const char *entry = json_string_value(json_array_get(env, i));
		const char *eq = entry != NULL ? strchr(entry, '=') : NULL;
		if (eq == NULL || eq[1] == '\0')
			continue;
		if (secret_name(entry, (size_t)(eq - entry)) || has_aws_key_id(eq + 1))
			rc = image_scan_add_finding(scan, "IMG-SECRET-ENV", NULL, -1,
						    "environment variable %.*s in the image config holds a secret value",
						    (int)(eq - entry), entry);
		if (rc != 0)
			return rc;
	}

	json_t *history = json_object_get(scan->config, "history");
	int layer = 0;
	for (size_t i = 0; i < json_array_size(history); i++) {
		json_t *step = json_array_get(history, i);
		bool empty = json_is_true(json_object_get(step, "empty_layer"));
		const char *created_by = json_string_value(json_object_get(step, "created_by"));
		const char *name;
		size_t name_len;
		if (created_by != NULL && find_secret_assignment(created_by, &name, &name_len))
			rc = image_scan_add_finding(scan, "IMG-SECRET-HISTORY", NULL,
						    empty ? -1 : layer,
						    "history step %zu sets %.*s to a literal value, which stays readable in the image",
						    i, (int)name_len, name);
		else if (created_by != NULL && has_aws_key_id(created_by))
			rc = image_scan_add_finding(scan, "IMG-SECRET-HISTORY", NULL,
						    empty ? -1 : layer,
						    "history step %zu contains an AWS access key id", i);
		if (rc != 0)
			return rc;
		if (!empty)
			layer++;
	}
	return 0;
}
