// SPDX-License-Identifier: Apache-2.0
// CycloneDX 1.5 JSON SBOM of an image: one component per package with a
// package URL (purl) and its layer as a property, and the matched
// vulnerabilities with ratings and the components they affect.

#include <coffer/vulndb.h>

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// Percent-encodes text for a purl segment (RFC 3986 unreserved kept).
static void purl_encode(const char *text, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t used = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0' && used + 4 < size; p++) {
		bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
			    *p == '~' || *p == '+';
		if (keep) {
			out[used++] = (char)*p;
		} else {
			out[used++] = '%';
			out[used++] = hex[*p >> 4];
			out[used++] = hex[*p & 0x0f];
		}
	}
	out[used] = '\0';
}

// Builds the purl: pkg:TYPE/NAMESPACE/NAME@VERSION[?distro=...].
static char *package_purl(const struct image_scan *scan, const struct image_package *p)
{
	char name[512], version[512], scope[256] = "";
	const char *type = "generic", *namespace = NULL;
	const char *plain_name = p->name;

	switch (p->type) {
	case IMAGE_PKG_DEB:
		type = "deb";
		namespace = scan->os.id != NULL ? scan->os.id : "debian";
		break;
	case IMAGE_PKG_APK:
		type = "apk";
		namespace = scan->os.id != NULL ? scan->os.id : "alpine";
		break;
	case IMAGE_PKG_RPM:
		type = "rpm";
		namespace = scan->os.id;
		break;
	case IMAGE_PKG_NPM:
		type = "npm";
		// "@scope/name": the scope is the purl namespace.
		if (p->name[0] == '@' && strchr(p->name, '/') != NULL) {
			const char *slash = strchr(p->name, '/');
			char raw[256];
			snprintf(raw, sizeof(raw), "%.*s", (int)(slash - p->name), p->name);
			purl_encode(raw, scope, sizeof(scope));
			plain_name = slash + 1;
		}
		break;
	case IMAGE_PKG_PYPI:
		type = "pypi";
		break;
	}
	purl_encode(plain_name, name, sizeof(name));
	purl_encode(p->version, version, sizeof(version));

	char *purl = NULL;
	int n;
	if (scope[0] != '\0')
		n = asprintf(&purl, "pkg:%s/%s/%s@%s", type, scope, name, version);
	else if (namespace != NULL && scan->os.version_id != NULL)
		n = asprintf(&purl, "pkg:%s/%s/%s@%s?distro=%s-%s", type, namespace, name, version,
			     namespace, scan->os.version_id);
	else if (namespace != NULL)
		n = asprintf(&purl, "pkg:%s/%s/%s@%s", type, namespace, name, version);
	else
		n = asprintf(&purl, "pkg:%s/%s@%s", type, name, version);
	return n < 0 ? NULL : purl;
}

static json_t *component_for(const struct image_scan *scan, size_t index)
{
	const struct image_package *p = &scan->packages[index];
	char *purl = package_purl(scan, p);
	char ref[64];
	snprintf(ref, sizeof(ref), "pkg-%zu", index);

	json_t *properties = json_array();
	json_array_append_new(properties, json_pack("{s:s, s:s}", "name", "coffer:package:type",
						    "value", image_package_type_name(p->type)));
	json_array_append_new(properties, json_pack("{s:s, s:s}", "name", "coffer:package:path",
						    "value", p->path));
	if (strcmp(p->source_name, p->name) != 0 || strcmp(p->source_version, p->version) != 0) {
		json_array_append_new(properties,
				      json_pack("{s:s, s:s}", "name", "coffer:package:source",
						"value", p->source_name));
		json_array_append_new(properties,
				      json_pack("{s:s, s:s}", "name",
						"coffer:package:source_version", "value",
						p->source_version));
	}
	if (p->layer >= 0 && (size_t)p->layer < scan->layer_count)
		json_array_append_new(properties,
				      json_pack("{s:s, s:s}", "name", "coffer:layer:diff_id", "value",
						scan->layers[p->layer].diff_id));

	json_t *component = json_pack("{s:s, s:s, s:s, s:s, s:o}", "type", "library", "bom-ref",
				      ref, "name", p->name, "version", p->version, "properties",
				      properties);
	if (component != NULL && purl != NULL)
		json_object_set_new(component, "purl", json_string(purl));
	free(purl);
	return component;
}

static json_t *vulnerability_for(const struct image_scan *scan, const struct vulndb_match *m)
{
	char ref[64];
	snprintf(ref, sizeof(ref), "pkg-%zu", m->package);
	(void)scan;

	json_t *rating = json_object();
	const char *severity = scan_severity_name(m->severity);
	if (strcmp(m->severity_source, "none") == 0)
		severity = "unknown";
	json_object_set_new(rating, "severity", json_string(severity));
	if (m->cvss_vector != NULL && strncmp(m->cvss_vector, "CVSS:3", 6) == 0) {
		json_object_set_new(rating, "method",
				    json_string(strncmp(m->cvss_vector, "CVSS:3.1", 8) == 0 ? "CVSSv31"
											  : "CVSSv3"));
		json_object_set_new(rating, "vector", json_string(m->cvss_vector));
		if (m->cvss_score >= 0)
			json_object_set_new(rating, "score", json_real(m->cvss_score));
	} else if (m->cvss_vector != NULL) {
		json_object_set_new(rating, "method", json_string("CVSSv4"));
		json_object_set_new(rating, "vector", json_string(m->cvss_vector));
		if (m->cvss_score >= 0)
			json_object_set_new(rating, "score", json_real(m->cvss_score));
	}

	json_t *v = json_pack("{s:s, s:[o], s:[{s:s}]}", "id", m->id, "ratings", rating, "affects",
			      "ref", ref);
	if (v == NULL)
		return NULL;
	if (m->summary != NULL)
		json_object_set_new(v, "description", json_string(m->summary));
	if (json_array_size(m->aliases) > 0) {
		json_t *references = json_array();
		for (size_t i = 0; i < json_array_size(m->aliases); i++)
			json_array_append_new(references,
					      json_pack("{s:O, s:{s:s}}", "id",
							json_array_get(m->aliases, i), "source",
							"name", "alias"));
		json_object_set_new(v, "references", references);
	}
	if (m->fixed_version != NULL)
		json_object_set_new(v, "recommendation",
				    json_sprintf("upgrade to %s or later", m->fixed_version));
	return v;
}

json_t *image_cyclonedx(const struct image_scan *scan, const struct vulndb_match_list *matches)
{
	unsigned char random[16];
	if (RAND_bytes(random, sizeof(random)) != 1)
		return NULL;
	// RFC 4122 version 4 UUID.
	random[6] = (unsigned char)((random[6] & 0x0f) | 0x40);
	random[8] = (unsigned char)((random[8] & 0x3f) | 0x80);
	char serial[64];
	snprintf(serial, sizeof(serial),
		 "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 random[0], random[1], random[2], random[3], random[4], random[5], random[6],
		 random[7], random[8], random[9], random[10], random[11], random[12], random[13],
		 random[14], random[15]);

	char timestamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(timestamp, sizeof(timestamp), "%Y-%m-%dT%H:%M:%SZ", &tm);

	json_t *components = json_array();
	for (size_t i = 0; i < scan->package_count; i++)
		json_array_append_new(components, component_for(scan, i));
	json_t *vulnerabilities = json_array();
	for (size_t i = 0; matches != NULL && i < matches->count; i++)
		json_array_append_new(vulnerabilities, vulnerability_for(scan, &matches->items[i]));

	return json_pack("{s:s, s:s, s:s, s:i, s:{s:s, s:{s:[{s:s, s:s, s:s}]}, s:{s:s, s:s}},"
			 " s:o, s:o}",
			 "bomFormat", "CycloneDX", "specVersion", "1.5", "serialNumber", serial,
			 "version", 1, "metadata", "timestamp", timestamp, "tools", "components",
			 "type", "application", "name", "coffer", "version", COFFER_VERSION,
			 "component", "type", "container", "name", scan->source, "components",
			 components, "vulnerabilities", vulnerabilities);
}
