// SPDX-License-Identifier: Apache-2.0
// Settings of `coffer storage serve`: defaults, the `key = value`
// configuration file and sizes such as 512M.

#include <coffer/plugin.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_FILE_MAX (64 * 1024)

void storage_config_init(struct storage_config *config)
{
	memset(config, 0, sizeof(*config));
	snprintf(config->state_dir, sizeof(config->state_dir), "%s", PLUGIN_DEFAULT_STATE_DIR);
	snprintf(config->plugin_socket, sizeof(config->plugin_socket), "%s", PLUGIN_DEFAULT_SOCKET);
	snprintf(config->admin_socket, sizeof(config->admin_socket), "%s",
		 PLUGIN_DEFAULT_ADMIN_SOCKET);
	config->log_level = CF_LOG_INFO;
}

int cf_parse_size(const char *text, uint64_t *size)
{
	char *end;
	uint64_t unit = 1;

	if (text == NULL || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	unsigned long long value = strtoull(text, &end, 10);
	if (errno != 0)
		return -EINVAL;

	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		unit = 1ULL << 10;
		break;
	case 'M':
		unit = 1ULL << 20;
		break;
	case 'G':
		unit = 1ULL << 30;
		break;
	case 'T':
		unit = 1ULL << 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end != '\0') {
		end++;
		// Accept "512M", "512MB" and "512MiB" alike.
		if (strcasecmp(end, "B") == 0 || strcasecmp(end, "iB") == 0)
			end += strlen(end);
		if (*end != '\0')
			return -EINVAL;
	}
	if (value > UINT64_MAX / unit)
		return -EINVAL;
	*size = value * unit;
	return 0;
}

static int set_path(char *field, size_t field_size, const char *key, const char *value,
		    struct cf_error *err)
{
	if (value[0] == '\0')
		return cf_error_set(err, -EINVAL, "invalid %s: the path is empty", key);
	if (strlen(value) >= field_size)
		return cf_error_set(err, -EINVAL, "invalid %s: the path is longer than %zu bytes",
				    key, field_size - 1);
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

int storage_config_set(struct storage_config *config, const char *key, const char *value,
		       struct cf_error *err)
{
	if (strcmp(key, "state-dir") == 0)
		return set_path(config->state_dir, sizeof(config->state_dir), key, value, err);
	if (strcmp(key, "plugin-socket") == 0) {
		// sun_path has room for 108 bytes including the terminating NUL.
		if (strlen(value) > 107)
			return cf_error_set(err, -EINVAL,
					    "invalid plugin-socket: '%s' is longer than the 107 bytes "
					    "a unix socket path may have", value);
		return set_path(config->plugin_socket, sizeof(config->plugin_socket), key, value, err);
	}
	if (strcmp(key, "admin-socket") == 0) {
		if (strlen(value) > 107)
			return cf_error_set(err, -EINVAL,
					    "invalid admin-socket: '%s' is longer than the 107 bytes "
					    "a unix socket path may have", value);
		return set_path(config->admin_socket, sizeof(config->admin_socket), key, value, err);
	}
	if (strcmp(key, "pool") == 0)
		return set_path(config->pool, sizeof(config->pool), key, value, err);
	if (strcmp(key, "pool-size") == 0) {
		uint64_t size;
		if (cf_parse_size(value, &size) < 0 || size == 0)
			return cf_error_set(err, -EINVAL,
					    "invalid pool-size '%s': expected a positive size such as "
					    "512M or 10G", value);
		config->pool_size = size;
		return 0;
	}
	if (strcmp(key, "log-level") == 0) {
		if (cf_log_parse_level(value, &config->log_level) < 0)
			return cf_error_set(err, -EINVAL,
					    "invalid log-level '%s': expected debug, info, warn or error",
					    value);
		return 0;
	}
	if (strcmp(key, "kms") == 0) {
		if (strncmp(value, "kmip://", 7) != 0)
			return cf_error_set(err, -EINVAL,
					    "invalid kms '%s': expected kmip://HOST:PORT", value);
		return set_path(config->kms, sizeof(config->kms), key, value, err);
	}
	if (strcmp(key, "kms-cert") == 0)
		return set_path(config->kms_cert, sizeof(config->kms_cert), key, value, err);
	if (strcmp(key, "kms-key") == 0)
		return set_path(config->kms_key, sizeof(config->kms_key), key, value, err);
	if (strcmp(key, "kms-ca") == 0)
		return set_path(config->kms_ca, sizeof(config->kms_ca), key, value, err);
	if (strcmp(key, "kms-enroll") == 0)
		return set_path(config->kms_enroll, sizeof(config->kms_enroll), key, value, err);
	if (strcmp(key, "kms-enroll-token-file") == 0)
		return set_path(config->kms_enroll_token_file, sizeof(config->kms_enroll_token_file),
				key, value, err);
	if (strcmp(key, "kms-enroll-san") == 0)
		return set_path(config->kms_enroll_san, sizeof(config->kms_enroll_san), key, value, err);
	if (strcmp(key, "fuse-uring") == 0) {
		if (strcmp(value, "auto") != 0 && strcmp(value, "off") != 0 &&
		    strcmp(value, "require") != 0 && strcmp(value, "enable") != 0)
			return cf_error_set(err, -EINVAL, "invalid fuse-uring '%s': expected auto, off,"
					    " require or enable", value);
		memcpy(config->fuse_uring, value, strlen(value) + 1);
		return 0;
	}
	return cf_error_set(err, -EINVAL,
			    "unknown setting '%s'; known settings are state-dir, plugin-socket, "
			    "admin-socket, pool, pool-size, log-level, kms, kms-cert, kms-key, "
			    "kms-ca, kms-enroll, kms-enroll-token-file, kms-enroll-san and "
			    "fuse-uring", key);
}

static char *trim(char *text)
{
	while (isspace((unsigned char)*text))
		text++;
	size_t len = strlen(text);
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		text[--len] = '\0';
	return text;
}

int storage_config_load(struct storage_config *config, const char *path, struct cf_error *err)
{
	char *data;
	size_t size;
	int rc;

	rc = cf_read_file(path, CONFIG_FILE_MAX, &data, &size, err);
	if (rc < 0) {
		cf_error_prefix(err, "configuration file");
		return rc;
	}

	int line_number = 0;
	char *cursor = data;
	while (cursor != NULL && *cursor != '\0') {
		char *line = cursor;
		char *newline = strchr(cursor, '\n');
		if (newline != NULL) {
			*newline = '\0';
			cursor = newline + 1;
		} else {
			cursor = NULL;
		}
		line_number++;

		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		line = trim(line);
		if (line[0] == '\0')
			continue;

		char *equals = strchr(line, '=');
		if (equals == NULL) {
			rc = cf_error_set(err, -EINVAL,
					  "%s line %d: expected 'key = value', got '%s'",
					  path, line_number, line);
			goto out;
		}
		*equals = '\0';
		char *key = trim(line);
		char *value = trim(equals + 1);
		rc = storage_config_set(config, key, value, err);
		if (rc < 0) {
			cf_error_prefix(err, "%s line %d", path, line_number);
			goto out;
		}
	}
	rc = 0;

out:
	free(data);
	return rc;
}
