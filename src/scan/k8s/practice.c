// SPDX-License-Identifier: Apache-2.0
// Best-practice checks on pod specs: image references, resources, root
// filesystem, service account and its token, secrets in env, runtime socket
// mounts and probes.

#include "scan/k8s/k8s.h"

#include <string.h>
#include <strings.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool is_regular_container(const struct k8s_container *c)
{
	return strcmp(c->list, "ephemeralContainers") != 0;
}

// ---- images ----------------------------------------------------------------

static void check_image(struct k8s_pod *pod, const struct k8s_container *c)
{
	const struct k8s_node *image_node = k8s_map_get(c->node, "image");
	const char *image = k8s_node_string(image_node);
	char path[256];
	if (image == NULL || image[0] == '\0')
		return;
	k8s_container_path(pod, c, "image", path, sizeof(path));

	// name[:tag][@digest]; a ':' before the last '/' belongs to a registry port.
	const char *at = strchr(image, '@');
	size_t name_length = at ? (size_t)(at - image) : strlen(image);
	const char *colon = NULL;
	for (size_t i = 0; i < name_length; i++) {
		if (image[i] == '/') {
			colon = NULL;
		} else if (image[i] == ':') {
			colon = image + i;
		}
	}
	const char *tag = colon ? colon + 1 : NULL;
	size_t tag_length = tag ? name_length - (size_t)(tag - image) : 0;

	if (at != NULL)
		return; // pinned by digest: the tag does not choose the content
	if (tag == NULL) {
		k8s_report(pod->object, K8S_RULE_IMAGE_NO_TAG, image_node, c, path,
			   "uses image %s without a tag, which means latest", image);
		return;
	}
	if (tag_length == 6 && strncmp(tag, "latest", 6) == 0) {
		k8s_report(pod->object, K8S_RULE_IMAGE_LATEST, image_node, c, path,
			   "uses image %s with the moving tag latest", image);
		return;
	}
	k8s_report(pod->object, K8S_RULE_IMAGE_NO_DIGEST, image_node, c, path,
		   "uses image %s, which is not pinned by digest", image);
}

// ---- resources -------------------------------------------------------------

static void check_resources(struct k8s_pod *pod, const struct k8s_container *c)
{
	static const struct {
		const char *field;
		enum k8s_rule_id rule;
		const char *text;
	} checks[] = {
		{ "requests.cpu", K8S_RULE_CPU_REQUEST, "has no CPU request" },
		{ "limits.cpu", K8S_RULE_CPU_LIMIT, "has no CPU limit" },
		{ "requests.memory", K8S_RULE_MEMORY_REQUEST, "has no memory request" },
		{ "limits.memory", K8S_RULE_MEMORY_LIMIT, "has no memory limit" },
	};
	const struct k8s_node *resources = k8s_map_get(c->node, "resources");

	for (size_t i = 0; i < COUNT(checks); i++) {
		if (!k8s_node_is_null(k8s_map_path(resources, checks[i].field)))
			continue;
		char rest[64], path[256];
		snprintf(rest, sizeof(rest), "resources.%s", checks[i].field);
		k8s_report(pod->object, checks[i].rule, k8s_map_at(c->node, "resources", c->node), c,
			   k8s_container_path(pod, c, rest, path, sizeof(path)), "%s",
			   checks[i].text);
	}
}

// ---- secrets in env --------------------------------------------------------

static bool contains_word(const char *name, const char *word)
{
	return strcasestr(name, word) != NULL;
}

static bool has_suffix(const char *name, const char *suffix)
{
	size_t length = strlen(name), suffix_length = strlen(suffix);
	return length >= suffix_length &&
	       strcasecmp(name + length - suffix_length, suffix) == 0;
}

// True when an env var name suggests a credential and its value is a
// literal, not a reference, a path or a flag.
static bool looks_like_secret(const char *name, const char *value)
{
	static const char *const words[] = { "PASSWORD", "PASSWD",      "SECRET",
					     "TOKEN",    "APIKEY",      "API_KEY",
					     "ACCESS_KEY", "PRIVATE_KEY", "CREDENTIAL" };
	static const char *const reference_suffixes[] = { "_FILE", "_PATH", "_DIR", "_NAME",
							  "_ID", "_URL", "_ENABLED" };

	bool named = false;
	for (size_t i = 0; i < COUNT(words) && !named; i++)
		named = contains_word(name, words[i]);
	if (!named)
		return false;
	for (size_t i = 0; i < COUNT(reference_suffixes); i++) {
		if (has_suffix(name, reference_suffixes[i]))
			return false;
	}

	if (value[0] == '\0' || value[0] == '/' || strncmp(value, "$(", 2) == 0)
		return false;
	return strcasecmp(value, "true") != 0 && strcasecmp(value, "false") != 0;
}

static void check_env(struct k8s_pod *pod, const struct k8s_container *c)
{
	const struct k8s_node *env = k8s_map_get(c->node, "env");
	for (size_t i = 0; k8s_node_is_sequence(env) && i < env->count; i++) {
		const char *name = k8s_node_string(k8s_map_get(env->items[i], "name"));
		const struct k8s_node *value_node = k8s_map_get(env->items[i], "value");
		const char *value = k8s_node_string(value_node);
		if (name == NULL || value == NULL || !looks_like_secret(name, value))
			continue;
		char rest[64], path[256];
		snprintf(rest, sizeof(rest), "env[%zu].value", i);
		// The value itself never goes into the message.
		k8s_report(pod->object, K8S_RULE_SECRET_IN_ENV, value_node, c,
			   k8s_container_path(pod, c, rest, path, sizeof(path)),
			   "sets %s to a literal value; it looks like a secret", name);
	}
}

// ---- container settings ----------------------------------------------------

static void check_container(struct k8s_pod *pod, const struct k8s_container *c)
{
	char path[256];

	check_image(pod, c);
	if (!is_regular_container(c))
		return;

	check_resources(pod, c);
	check_env(pod, c);

	const struct k8s_node *context = k8s_map_get(c->node, "securityContext");
	const struct k8s_node *read_only = k8s_map_get(context, "readOnlyRootFilesystem");
	if (!k8s_node_is_true(read_only))
		k8s_report(pod->object, K8S_RULE_READONLY_ROOT_FS,
			   read_only ? read_only : k8s_map_at(c->node, "securityContext", c->node), c,
			   k8s_container_path(pod, c, "securityContext.readOnlyRootFilesystem",
					      path, sizeof(path)),
			   "has a writable root filesystem (readOnlyRootFilesystem is not true)");

	if (pod->long_running && strcmp(c->list, "containers") == 0) {
		if (k8s_map_get(c->node, "livenessProbe") == NULL)
			k8s_report(pod->object, K8S_RULE_LIVENESS_PROBE, c->node, c,
				   k8s_container_path(pod, c, "livenessProbe", path, sizeof(path)),
				   "has no liveness probe");
		if (k8s_map_get(c->node, "readinessProbe") == NULL)
			k8s_report(pod->object, K8S_RULE_READINESS_PROBE, c->node, c,
				   k8s_container_path(pod, c, "readinessProbe", path, sizeof(path)),
				   "has no readiness probe");
	}
}

// ---- pod settings ----------------------------------------------------------

// True when path (a hostPath) is a container runtime socket or a directory
// that contains one.
static bool is_runtime_socket_path(const char *path)
{
	static const char *const sockets[] = { "docker.sock", "containerd.sock", "crio.sock",
					       "podman.sock", "cri-dockerd.sock" };
	static const char *const directories[] = {
		"/",          "/var",        "/run",          "/var/run",
		"/run/containerd", "/var/run/containerd", "/run/crio", "/var/run/crio",
		"/run/podman", "/var/run/podman", "/run/docker", "/var/run/docker",
	};

	char normal[512];
	size_t length = strlen(path);
	if (length == 0 || length >= sizeof(normal))
		return false;
	memcpy(normal, path, length + 1);
	while (length > 1 && normal[length - 1] == '/')
		normal[--length] = '\0';

	for (size_t i = 0; i < COUNT(directories); i++) {
		if (strcmp(normal, directories[i]) == 0)
			return true;
	}
	const char *base = strrchr(normal, '/');
	base = base ? base + 1 : normal;
	for (size_t i = 0; i < COUNT(sockets); i++) {
		if (has_suffix(base, sockets[i]))
			return true;
	}
	return false;
}

static void check_runtime_socket(struct k8s_pod *pod)
{
	const struct k8s_node *volumes = k8s_map_get(pod->spec, "volumes");
	for (size_t i = 0; k8s_node_is_sequence(volumes) && i < volumes->count; i++) {
		const struct k8s_node *path_node = k8s_map_path(volumes->items[i], "hostPath.path");
		const char *dir = k8s_node_string(path_node);
		if (dir == NULL || !is_runtime_socket_path(dir))
			continue;
		char rest[64], path[256];
		snprintf(rest, sizeof(rest), "volumes[%zu].hostPath.path", i);
		k8s_report(pod->object, K8S_RULE_RUNTIME_SOCKET, path_node, NULL,
			   k8s_pod_path(pod, rest, path, sizeof(path)),
			   "mounts %s, which exposes the container runtime's socket", dir);
	}
}

static const char *service_account_name(const struct k8s_pod *pod,
					const struct k8s_node **node)
{
	*node = k8s_map_get(pod->spec, "serviceAccountName");
	const char *name = k8s_node_string(*node);
	if (name == NULL || name[0] == '\0') {
		*node = k8s_map_get(pod->spec, "serviceAccount"); // deprecated alias
		name = k8s_node_string(*node);
	}
	if (name == NULL || name[0] == '\0') {
		*node = NULL;
		return "default";
	}
	return name;
}

static bool account_disables_automount(const struct scan_k8s *scan, const char *name,
				       const char *namespace)
{
	for (size_t i = 0; i < scan->no_automount_count; i++) {
		const struct k8s_service_account *account = &scan->no_automount_accounts[i];
		if (strcmp(account->name, name) != 0)
			continue;
		if ((account->namespace == NULL) == (namespace == NULL) &&
		    (namespace == NULL || strcmp(account->namespace, namespace) == 0))
			return true;
	}
	return false;
}

static void check_service_account(struct k8s_pod *pod)
{
	char path[256];
	const struct k8s_node *account_node;
	const char *account = service_account_name(pod, &account_node);

	if (strcmp(account, "default") == 0)
		k8s_report(pod->object, K8S_RULE_DEFAULT_SERVICE_ACCOUNT,
			   account_node ? account_node : pod->spec_at, NULL,
			   k8s_pod_path(pod, "serviceAccountName", path, sizeof(path)),
			   "runs as the namespace's default service account");

	const struct k8s_node *automount = k8s_map_get(pod->spec, "automountServiceAccountToken");
	if (k8s_node_is_false(automount))
		return;
	if (automount == NULL &&
	    account_disables_automount(pod->object->scan, account, pod->object->namespace))
		return;
	k8s_report(pod->object, K8S_RULE_SA_TOKEN_AUTOMOUNT, automount ? automount : pod->spec_at,
		   NULL, k8s_pod_path(pod, "automountServiceAccountToken", path, sizeof(path)),
		   "mounts a token of service account \"%s\" into its containers", account);
}

void k8s_check_practice(struct k8s_pod *pod)
{
	check_runtime_socket(pod);
	check_service_account(pod);
	k8s_for_each_container(pod, check_container);

	// Generic ephemeral volumes create a claim per pod.
	const struct k8s_node *volumes = k8s_map_get(pod->spec, "volumes");
	for (size_t i = 0; k8s_node_is_sequence(volumes) && i < volumes->count; i++) {
		const struct k8s_node *ephemeral = k8s_map_get(volumes->items[i], "ephemeral");
		const struct k8s_node *claim = k8s_map_get(ephemeral, "volumeClaimTemplate");
		if (!k8s_node_is_mapping(claim))
			continue;
		const char *name = k8s_node_string(k8s_map_get(volumes->items[i], "name"));
		char rest[96], path[256], what[160];
		snprintf(rest, sizeof(rest), "volumes[%zu].ephemeral.volumeClaimTemplate.spec", i);
		snprintf(what, sizeof(what), "ephemeral volume \"%s\"", name ? name : "(unnamed)");
		k8s_check_claim(pod->object, claim, k8s_map_at(ephemeral, "volumeClaimTemplate", claim),
				k8s_pod_path(pod, rest, path, sizeof(path)), what);
	}
}
