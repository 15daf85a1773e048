// SPDX-License-Identifier: Apache-2.0
// Volume keys on a KMIP server through coffer's KMIP client. Keys are
// AES-256, named "volume/NAME" so that crash recovery can Locate a key
// whose volume record was never written. Every error names the server.
// A Destroy that cannot reach the server fails, and the volume manager
// keeps the removal pending and retries it, so a key is never forgotten
// without the server confirming its destruction.

#include <coffer/kmip.h>
#include <coffer/volume.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// KMIP Revocation Reason Code "Cessation of Operation".
#define REVOKE_CESSATION_OF_OPERATION 6

enum {
	STATE_PRE_ACTIVE = 1,
	STATE_ACTIVE = 2,
	STATE_DESTROYED = 5,
	STATE_DESTROYED_COMPROMISED = 6,
};

static void key_name(char *buf, size_t size, const char *volume)
{
	snprintf(buf, size, "volume/%s", volume);
}

static int kmip_create(void *state, const char *volume, char id[64], struct cf_error *err)
{
	char name[VOL_NAME_MAX + 16];
	key_name(name, sizeof(name), volume);
	return kmip_client_create(state, 256, name, true, id, err);
}

static int kmip_get(void *state, const char *id, uint8_t **key, size_t *size,
		    struct cf_error *err)
{
	return kmip_client_get(state, id, key, size, err);
}

static int kmip_destroy(void *state, const char *id, struct cf_error *err)
{
	uint32_t key_state;

	int rc = kmip_client_get_state(state, id, &key_state, err);
	if (rc == -ENOENT) {
		cf_error_reset(err);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (key_state == STATE_DESTROYED || key_state == STATE_DESTROYED_COMPROMISED)
		return 0;

	if (key_state == STATE_ACTIVE || key_state == STATE_PRE_ACTIVE) {
		rc = kmip_client_revoke(state, id, REVOKE_CESSATION_OF_OPERATION, err);
		if (rc != 0)
			return rc;
	}
	rc = kmip_client_destroy(state, id, err);
	if (rc != 0)
		return rc;

	// The key counts as gone only when the server reports it destroyed.
	rc = kmip_client_get_state(state, id, &key_state, err);
	if (rc == -ENOENT) {
		cf_error_reset(err);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (key_state != STATE_DESTROYED && key_state != STATE_DESTROYED_COMPROMISED)
		return cf_error_set(err, -EIO, "KMS reports key %s in state %s after Destroy", id,
				    kmip_state_name(key_state));
	return 0;
}

static int kmip_exists(void *state, const char *id, struct cf_error *err)
{
	uint32_t key_state;

	int rc = kmip_client_get_state(state, id, &key_state, err);
	if (rc == -ENOENT) {
		cf_error_reset(err);
		return 0;
	}
	if (rc != 0)
		return rc;
	return key_state == STATE_ACTIVE ? 1 : 0;
}

static int kmip_destroy_unrecorded(void *state, const char *volume, const char *keep_id,
				   struct cf_error *err)
{
	char name[VOL_NAME_MAX + 16];
	char ids[16][KMIP_ID_MAX];
	size_t count = 0;

	key_name(name, sizeof(name), volume);
	int rc = kmip_client_locate_name(state, name, ids, 16, &count, err);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		if (keep_id != NULL && strcmp(ids[i], keep_id) == 0)
			continue;
		uint32_t key_state;
		rc = kmip_client_get_state(state, ids[i], &key_state, err);
		if (rc != 0)
			break;
		if (key_state == STATE_DESTROYED || key_state == STATE_DESTROYED_COMPROMISED)
			continue;
		cf_log(CF_LOG_WARN, "volume.recover_orphan_key", "volume=%s key_id=%s", volume, ids[i]);
		rc = kmip_destroy(state, ids[i], err);
	}
	return rc;
}

static void kmip_close(void *state)
{
	kmip_client_free(state);
}

static const struct vol_key_provider_ops kmip_ops = {
	.name = "kmip",
	.create = kmip_create,
	.get = kmip_get,
	.destroy = kmip_destroy,
	.exists = kmip_exists,
	.destroy_unrecorded = kmip_destroy_unrecorded,
	.close = kmip_close,
};

// Splits kmip://HOST:PORT (or kmip://[V6]:PORT, or without :PORT).
static int parse_url(const char *url, char *host, size_t host_size, char *port,
		     size_t port_size, struct cf_error *err)
{
	static const char scheme[] = "kmip://";

	if (url == NULL || strncmp(url, scheme, sizeof(scheme) - 1) != 0)
		return cf_error_set(err, -EINVAL, "KMS URL '%s' is invalid; use kmip://HOST:PORT",
				    url != NULL ? url : "");
	const char *rest = url + sizeof(scheme) - 1;
	const char *host_end, *port_start = NULL;
	if (*rest == '[') {
		const char *close = strchr(rest, ']');
		if (close == NULL)
			return cf_error_set(err, -EINVAL, "KMS URL '%s' has an unterminated [", url);
		rest++;
		host_end = close;
		if (close[1] == ':')
			port_start = close + 2;
	} else {
		const char *colon = strchr(rest, ':');
		host_end = colon != NULL ? colon : rest + strlen(rest);
		if (colon != NULL)
			port_start = colon + 1;
	}
	size_t host_length = (size_t)(host_end - rest);
	if (host_length == 0 || host_length >= host_size)
		return cf_error_set(err, -EINVAL, "KMS URL '%s' has no valid host", url);
	memcpy(host, rest, host_length);
	host[host_length] = '\0';

	const char *p = port_start != NULL ? port_start : "5696";
	size_t digits = strspn(p, "0123456789");
	if (digits == 0 || p[digits] != '\0' || digits >= port_size || atoi(p) < 1 || atoi(p) > 65535)
		return cf_error_set(err, -EINVAL, "KMS URL '%s' has an invalid port", url);
	snprintf(port, port_size, "%s", p);
	return 0;
}

int vol_kmip_client_new(struct kmip_client **client, const struct vol_kmip_options *options,
			struct cf_error *err)
{
	char host[256], port[8];

	*client = NULL;
	int rc = parse_url(options->url, host, sizeof(host), port, sizeof(port), err);
	if (rc != 0)
		return rc;
	if (options->cert_path == NULL || options->key_path == NULL || options->ca_path == NULL)
		return cf_error_set(err, -EINVAL,
				    "KMS %s needs a client certificate, key and CA bundle", options->url);

	struct kmip_client_options client_options = {
		.host = host, .port = port, .cert_path = options->cert_path,
		.key_path = options->key_path, .ca_path = options->ca_path,
		.timeout_ms = options->timeout_ms, .renewer = options->renewer,
	};
	return kmip_client_new(client, &client_options, err);
}

int vol_key_provider_kmip(struct vol_key_provider **provider,
			  const struct vol_kmip_options *options, struct cf_error *err)
{
	struct kmip_client *client = NULL;

	*provider = NULL;
	int rc = vol_kmip_client_new(&client, options, err);
	if (rc != 0)
		return rc;

	*provider = calloc(1, sizeof(**provider));
	if (*provider == NULL) {
		kmip_client_free(client);
		return cf_error_set(err, -ENOMEM, "out of memory");
	}
	(*provider)->ops = &kmip_ops;
	(*provider)->state = client;
	return 0;
}
