// SPDX-License-Identifier: Apache-2.0
// Pod Security Standards controls, baseline and restricted, as the
// Kubernetes documentation (concepts/security/pod-security-standards)
// defines them for Kubernetes 1.33 and later. The restricted volume list
// also allows "image" volumes, which Pod Security admission accepts since
// Kubernetes 1.33 although that page does not list them yet.
//
// Windows: with spec.os.name set to windows, the restricted controls on
// privilege escalation, seccomp and capabilities do not apply, as the
// standard specifies since Kubernetes 1.25. User namespaces: a pod with
// hostUsers: false runs its root user unprivileged on the node. So, as Pod
// Security admission does since Kubernetes 1.35, the two non-root controls
// skip such pods, and the baseline profile allows procMount: Unmasked there
// (the restricted profile still does not).

#include "scan/k8s/k8s.h"

#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool in_list(const char *value, const char *const *list, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(value, list[i]) == 0)
			return true;
	}
	return false;
}

static const struct k8s_node *security_context(const struct k8s_container *c)
{
	return k8s_map_get(c->node, "securityContext");
}

// ---- baseline --------------------------------------------------------------

static void check_host_process(struct k8s_pod *pod, const struct k8s_node *context,
			       const struct k8s_container *c)
{
	const struct k8s_node *value = k8s_map_path(context, "windowsOptions.hostProcess");
	if (!k8s_node_is_true(value))
		return;

	char path[256];
	if (c != NULL)
		k8s_report(pod->object, K8S_RULE_HOST_PROCESS, value, c,
			   k8s_container_path(pod, c, "securityContext.windowsOptions.hostProcess",
					      path, sizeof(path)),
			   "runs as a Windows HostProcess container");
	else
		k8s_report(pod->object, K8S_RULE_HOST_PROCESS, value, NULL,
			   k8s_pod_path(pod, "securityContext.windowsOptions.hostProcess", path,
					sizeof(path)),
			   "runs its containers as Windows HostProcess containers");
}

static void check_host_namespaces(struct k8s_pod *pod)
{
	static const char *const fields[] = { "hostNetwork", "hostPID", "hostIPC" };
	static const char *const meanings[] = { "network", "process", "IPC" };

	for (size_t i = 0; i < COUNT(fields); i++) {
		const struct k8s_node *value = k8s_map_get(pod->spec, fields[i]);
		if (!k8s_node_is_true(value))
			continue;
		char path[256];
		k8s_report(pod->object, K8S_RULE_HOST_NAMESPACES, value, NULL,
			   k8s_pod_path(pod, fields[i], path, sizeof(path)),
			   "sets %s: true and shares the node's %s namespace", fields[i],
			   meanings[i]);
	}
}

static void check_apparmor_type(struct k8s_pod *pod, const struct k8s_node *context,
				const struct k8s_container *c)
{
	const struct k8s_node *type = k8s_map_path(context, "appArmorProfile.type");
	const char *value = k8s_node_string(type);
	if (value == NULL || strcmp(value, "RuntimeDefault") == 0 ||
	    strcmp(value, "Localhost") == 0)
		return;

	char path[256];
	if (c != NULL)
		k8s_container_path(pod, c, "securityContext.appArmorProfile.type", path,
				   sizeof(path));
	else
		k8s_pod_path(pod, "securityContext.appArmorProfile.type", path, sizeof(path));
	k8s_report(pod->object, K8S_RULE_APPARMOR, type, c, path,
		   "sets appArmorProfile.type to %s; only RuntimeDefault and Localhost are "
		   "allowed", value);
}

// The beta annotations container.apparmor.security.beta.kubernetes.io/NAME
// still set a container's profile; runtime/default and localhost/... only.
static void check_apparmor_annotations(struct k8s_pod *pod)
{
	static const char prefix[] = "container.apparmor.security.beta.kubernetes.io/";
	const struct k8s_node *annotations = k8s_map_get(pod->metadata, "annotations");
	if (!k8s_node_is_mapping(annotations))
		return;

	for (size_t i = 0; i < annotations->count; i++) {
		const char *key = k8s_node_string(annotations->items[2 * i]);
		const struct k8s_node *value_node = annotations->items[2 * i + 1];
		const char *value = k8s_node_string(value_node);
		if (key == NULL || strncmp(key, prefix, sizeof(prefix) - 1) != 0 || value == NULL)
			continue;
		if (strcmp(value, "runtime/default") == 0 || strncmp(value, "localhost/", 10) == 0)
			continue;
		char path[320];
		snprintf(path, sizeof(path), "%s.annotations.%s", pod->metadata_path, key);
		k8s_report(pod->object, K8S_RULE_APPARMOR, value_node, NULL, path,
			   "sets the AppArmor profile of container \"%s\" to %s; only "
			   "runtime/default and localhost/* are allowed",
			   key + sizeof(prefix) - 1, value);
	}
}

static void check_selinux(struct k8s_pod *pod, const struct k8s_node *context,
			  const struct k8s_container *c)
{
	static const char *const types[] = { "container_t", "container_init_t",
					     "container_kvm_t", "container_engine_t" };
	const struct k8s_node *options = k8s_map_get(context, "seLinuxOptions");
	if (!k8s_node_is_mapping(options))
		return;

	char path[256];
	const char *base = "securityContext.seLinuxOptions";
	const struct k8s_node *type = k8s_map_get(options, "type");
	const char *type_value = k8s_node_string(type);
	if (type_value != NULL && type_value[0] != '\0' &&
	    !in_list(type_value, types, COUNT(types))) {
		char rest[96];
		snprintf(rest, sizeof(rest), "%s.type", base);
		if (c != NULL)
			k8s_container_path(pod, c, rest, path, sizeof(path));
		else
			k8s_pod_path(pod, rest, path, sizeof(path));
		k8s_report(pod->object, K8S_RULE_SELINUX, type, c, path,
			   "sets SELinux type %s; only container_t, container_init_t, "
			   "container_kvm_t and container_engine_t are allowed", type_value);
	}

	static const char *const fields[] = { "user", "role" };
	for (size_t i = 0; i < COUNT(fields); i++) {
		const struct k8s_node *field = k8s_map_get(options, fields[i]);
		const char *value = k8s_node_string(field);
		if (value == NULL || value[0] == '\0')
			continue;
		char rest[96];
		snprintf(rest, sizeof(rest), "%s.%s", base, fields[i]);
		if (c != NULL)
			k8s_container_path(pod, c, rest, path, sizeof(path));
		else
			k8s_pod_path(pod, rest, path, sizeof(path));
		k8s_report(pod->object, K8S_RULE_SELINUX, field, c, path,
			   "sets a custom SELinux %s (%s)", fields[i], value);
	}
}

static void check_seccomp_baseline(struct k8s_pod *pod, const struct k8s_node *context,
				   const struct k8s_container *c)
{
	const struct k8s_node *type = k8s_map_path(context, "seccompProfile.type");
	const char *value = k8s_node_string(type);
	if (value == NULL || strcmp(value, "RuntimeDefault") == 0 ||
	    strcmp(value, "Localhost") == 0)
		return;

	char path[256];
	if (c != NULL)
		k8s_container_path(pod, c, "securityContext.seccompProfile.type", path,
				   sizeof(path));
	else
		k8s_pod_path(pod, "securityContext.seccompProfile.type", path, sizeof(path));
	k8s_report(pod->object, K8S_RULE_SECCOMP_BASELINE, type, c, path,
		   "sets seccompProfile.type to %s; only RuntimeDefault and Localhost are "
		   "allowed", value);
}

static void check_sysctls(struct k8s_pod *pod)
{
	// Namespaced sysctls the baseline level allows; the tcp_* entries since
	// Kubernetes 1.27, 1.29 and 1.32.
	static const char *const safe[] = {
		"kernel.shm_rmid_forced",        "net.ipv4.ip_local_port_range",
		"net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
		"net.ipv4.ping_group_range",     "net.ipv4.ip_local_reserved_ports",
		"net.ipv4.tcp_keepalive_time",   "net.ipv4.tcp_fin_timeout",
		"net.ipv4.tcp_keepalive_intvl",  "net.ipv4.tcp_keepalive_probes",
		"net.ipv4.tcp_rmem",             "net.ipv4.tcp_wmem",
	};
	const struct k8s_node *sysctls = k8s_map_path(pod->spec, "securityContext.sysctls");
	if (!k8s_node_is_sequence(sysctls))
		return;

	for (size_t i = 0; i < sysctls->count; i++) {
		const struct k8s_node *name_node = k8s_map_get(sysctls->items[i], "name");
		const char *name = k8s_node_string(name_node);
		if (name == NULL || in_list(name, safe, COUNT(safe)))
			continue;
		char rest[96], path[256];
		snprintf(rest, sizeof(rest), "securityContext.sysctls[%zu].name", i);
		k8s_report(pod->object, K8S_RULE_SYSCTLS, name_node, NULL,
			   k8s_pod_path(pod, rest, path, sizeof(path)),
			   "sets sysctl %s, which is not in the safe set", name);
	}
}

static void check_host_path(struct k8s_pod *pod)
{
	const struct k8s_node *volumes = k8s_map_get(pod->spec, "volumes");
	for (size_t i = 0; k8s_node_is_sequence(volumes) && i < volumes->count; i++) {
		const struct k8s_node *volume = volumes->items[i];
		const struct k8s_node *host_path = k8s_map_get(volume, "hostPath");
		if (host_path == NULL || k8s_node_is_null(host_path))
			continue;
		const char *name = k8s_node_string(k8s_map_get(volume, "name"));
		const char *dir = k8s_node_string(k8s_map_get(host_path, "path"));
		char rest[96], path[256];
		snprintf(rest, sizeof(rest), "volumes[%zu].hostPath", i);
		k8s_report(pod->object, K8S_RULE_HOST_PATH, k8s_map_at(volume, "hostPath", volume), NULL,
			   k8s_pod_path(pod, rest, path, sizeof(path)),
			   "mounts host path %s as volume \"%s\"", dir ? dir : "(no path)",
			   name ? name : "(unnamed)");
	}
}

static void check_container_baseline(struct k8s_pod *pod, const struct k8s_container *c)
{
	static const char *const baseline_caps[] = {
		"AUDIT_WRITE", "CHOWN",  "DAC_OVERRIDE", "FOWNER", "FSETID",
		"KILL",        "MKNOD",  "NET_BIND_SERVICE", "SETFCAP", "SETGID",
		"SETPCAP",     "SETUID", "SYS_CHROOT",
	};
	const struct k8s_node *context = security_context(c);
	char path[256];

	check_host_process(pod, context, c);

	const struct k8s_node *privileged = k8s_map_get(context, "privileged");
	if (k8s_node_is_true(privileged))
		k8s_report(pod->object, K8S_RULE_PRIVILEGED, privileged, c,
			   k8s_container_path(pod, c, "securityContext.privileged", path,
					      sizeof(path)),
			   "runs privileged (securityContext.privileged: true)");

	const struct k8s_node *add = k8s_map_path(context, "capabilities.add");
	for (size_t i = 0; k8s_node_is_sequence(add) && i < add->count; i++) {
		const char *cap = k8s_node_string(add->items[i]);
		if (cap == NULL || in_list(cap, baseline_caps, COUNT(baseline_caps)))
			continue;
		char rest[96];
		snprintf(rest, sizeof(rest), "securityContext.capabilities.add[%zu]", i);
		k8s_report(pod->object, K8S_RULE_CAPABILITIES_BASELINE, add->items[i], c,
			   k8s_container_path(pod, c, rest, path, sizeof(path)),
			   "adds capability %s", cap);
	}

	const struct k8s_node *ports = k8s_map_get(c->node, "ports");
	for (size_t i = 0; k8s_node_is_sequence(ports) && i < ports->count; i++) {
		const struct k8s_node *host_port = k8s_map_get(ports->items[i], "hostPort");
		long long port;
		if (!k8s_node_int(host_port, &port) || port == 0)
			continue;
		char rest[96];
		snprintf(rest, sizeof(rest), "ports[%zu].hostPort", i);
		k8s_report(pod->object, K8S_RULE_HOST_PORTS, host_port, c,
			   k8s_container_path(pod, c, rest, path, sizeof(path)),
			   "binds host port %lld", port);
	}

	check_apparmor_type(pod, context, c);
	check_selinux(pod, context, c);

	const struct k8s_node *proc_mount = k8s_map_get(context, "procMount");
	const char *proc_value = k8s_node_string(proc_mount);
	bool unmasked_allowed = pod->user_namespace &&
				pod->object->scan->options.profile == SCAN_K8S_PROFILE_BASELINE;
	if (proc_value != NULL && strcmp(proc_value, "Default") != 0 && !unmasked_allowed)
		k8s_report(pod->object, K8S_RULE_PROC_MOUNT, proc_mount, c,
			   k8s_container_path(pod, c, "securityContext.procMount", path,
					      sizeof(path)),
			   "sets procMount to %s; only Default is allowed", proc_value);

	check_seccomp_baseline(pod, context, c);
}

void k8s_check_pss_baseline(struct k8s_pod *pod)
{
	const struct k8s_node *context = k8s_map_get(pod->spec, "securityContext");

	check_host_process(pod, context, NULL);
	check_host_namespaces(pod);
	check_host_path(pod);
	check_apparmor_type(pod, context, NULL);
	check_apparmor_annotations(pod);
	check_selinux(pod, context, NULL);
	check_seccomp_baseline(pod, context, NULL);
	check_sysctls(pod);
	k8s_for_each_container(pod, check_container_baseline);
}

// ---- restricted ------------------------------------------------------------

static void check_volume_types(struct k8s_pod *pod)
{
	static const char *const allowed[] = {
		"name",     "configMap", "csi",    "downwardAPI", "emptyDir", "ephemeral",
		"image",    "persistentVolumeClaim", "projected", "secret",
	};
	const struct k8s_node *volumes = k8s_map_get(pod->spec, "volumes");

	for (size_t i = 0; k8s_node_is_sequence(volumes) && i < volumes->count; i++) {
		const struct k8s_node *volume = volumes->items[i];
		if (!k8s_node_is_mapping(volume))
			continue;
		const char *name = k8s_node_string(k8s_map_get(volume, "name"));
		for (size_t k = 0; k < volume->count; k++) {
			const char *type = k8s_node_string(volume->items[2 * k]);
			if (type == NULL || in_list(type, allowed, COUNT(allowed)) ||
			    k8s_node_is_null(volume->items[2 * k + 1]))
				continue;
			char rest[128], path[256];
			snprintf(rest, sizeof(rest), "volumes[%zu].%s", i, type);
			k8s_report(pod->object, K8S_RULE_VOLUME_TYPES, volume->items[2 * k], NULL,
				   k8s_pod_path(pod, rest, path, sizeof(path)),
				   "uses a %s volume (\"%s\"), which the restricted profile does "
				   "not allow", type, name ? name : "(unnamed)");
		}
	}
}

struct restricted_pod_state {
	bool pod_non_root;   // spec.securityContext.runAsNonRoot: true
	bool pod_seccomp_ok; // spec.securityContext.seccompProfile.type is allowed
};

static bool seccomp_type_allowed(const struct k8s_node *type)
{
	return k8s_node_equals(type, "RuntimeDefault") || k8s_node_equals(type, "Localhost");
}

static struct restricted_pod_state pod_state(const struct k8s_pod *pod)
{
	const struct k8s_node *context = k8s_map_get(pod->spec, "securityContext");
	struct restricted_pod_state state = {
		.pod_non_root = k8s_node_is_true(k8s_map_get(context, "runAsNonRoot")),
		.pod_seccomp_ok = seccomp_type_allowed(k8s_map_path(context, "seccompProfile.type")),
	};
	return state;
}

// Runs the two non-root controls on one container; the caller skips them for
// pods with their own user namespace.
static void check_container_non_root(struct k8s_pod *pod, const struct k8s_container *c,
				     bool pod_non_root)
{
	const struct k8s_node *context = security_context(c);
	const struct k8s_node *at_context = k8s_map_at(c->node, "securityContext", c->node);
	char path[256];

	const struct k8s_node *non_root = k8s_map_get(context, "runAsNonRoot");
	if (k8s_node_is_false(non_root))
		k8s_report(pod->object, K8S_RULE_RUN_AS_NON_ROOT, non_root, c,
			   k8s_container_path(pod, c, "securityContext.runAsNonRoot", path,
					      sizeof(path)),
			   "sets runAsNonRoot: false");
	else if (!k8s_node_is_true(non_root) && !pod_non_root)
		k8s_report(pod->object, K8S_RULE_RUN_AS_NON_ROOT, at_context, c,
			   k8s_container_path(pod, c, "securityContext.runAsNonRoot", path,
					      sizeof(path)),
			   "does not set runAsNonRoot: true, and neither does the pod");

	const struct k8s_node *user = k8s_map_get(context, "runAsUser");
	long long uid;
	if (k8s_node_int(user, &uid) && uid == 0)
		k8s_report(pod->object, K8S_RULE_RUN_AS_USER, user, c,
			   k8s_container_path(pod, c, "securityContext.runAsUser", path,
					      sizeof(path)),
			   "sets runAsUser: 0 (root)");
}

static void check_container_restricted(struct k8s_pod *pod, const struct k8s_container *c)
{
	struct restricted_pod_state state = pod_state(pod);
	const struct k8s_node *context = security_context(c);
	const struct k8s_node *at_context = k8s_map_at(c->node, "securityContext", c->node);
	char path[256];

	if (!pod->windows) {
		const struct k8s_node *escalation = k8s_map_get(context, "allowPrivilegeEscalation");
		k8s_container_path(pod, c, "securityContext.allowPrivilegeEscalation", path,
				   sizeof(path));
		if (k8s_node_is_null(escalation))
			k8s_report(pod->object, K8S_RULE_PRIVILEGE_ESCALATION, at_context, c, path,
				   "does not set allowPrivilegeEscalation: false");
		else if (!k8s_node_is_false(escalation))
			k8s_report(pod->object, K8S_RULE_PRIVILEGE_ESCALATION, escalation, c, path,
				   "sets allowPrivilegeEscalation to %s; it must be false",
				   k8s_node_string(escalation) ? k8s_node_string(escalation)
							       : "a non-boolean value");
	}

	if (!pod->user_namespace)
		check_container_non_root(pod, c, state.pod_non_root);

	if (!pod->windows) {
		const struct k8s_node *type = k8s_map_path(context, "seccompProfile.type");
		// The baseline check reports an explicit disallowed value, so this
		// check reports only a container with no profile at either level.
		if (k8s_node_is_null(type) && !state.pod_seccomp_ok)
			k8s_report(pod->object, K8S_RULE_SECCOMP_RESTRICTED, at_context, c,
				   k8s_container_path(pod, c, "securityContext.seccompProfile.type",
						      path, sizeof(path)),
				   "has no seccomp profile, and neither does the pod; set "
				   "RuntimeDefault or Localhost");

		const struct k8s_node *capabilities = k8s_map_get(context, "capabilities");
		const struct k8s_node *drop = k8s_map_get(capabilities, "drop");
		bool drops_all = false;
		for (size_t i = 0; k8s_node_is_sequence(drop) && i < drop->count; i++)
			drops_all = drops_all || k8s_node_equals(drop->items[i], "ALL");
		if (!drops_all)
			k8s_report(pod->object, K8S_RULE_CAPABILITIES_RESTRICTED,
				   k8s_map_at(capabilities, "drop",
					      k8s_map_at(context, "capabilities", at_context)), c,
				   k8s_container_path(pod, c, "securityContext.capabilities.drop",
						      path, sizeof(path)),
				   "does not drop ALL capabilities");

		const struct k8s_node *add = k8s_map_get(capabilities, "add");
		for (size_t i = 0; k8s_node_is_sequence(add) && i < add->count; i++) {
			const char *cap = k8s_node_string(add->items[i]);
			if (cap == NULL || strcmp(cap, "NET_BIND_SERVICE") == 0)
				continue;
			char rest[96];
			snprintf(rest, sizeof(rest), "securityContext.capabilities.add[%zu]", i);
			k8s_report(pod->object, K8S_RULE_CAPABILITIES_RESTRICTED, add->items[i], c,
				   k8s_container_path(pod, c, rest, path, sizeof(path)),
				   "adds capability %s; only NET_BIND_SERVICE may be added", cap);
		}
	}
}

void k8s_check_pss_restricted(struct k8s_pod *pod)
{
	const struct k8s_node *context = k8s_map_get(pod->spec, "securityContext");
	char path[256];

	check_volume_types(pod);
	k8s_for_each_container(pod, check_container_restricted);
	if (pod->user_namespace)
		return;

	const struct k8s_node *non_root = k8s_map_get(context, "runAsNonRoot");
	if (k8s_node_is_false(non_root))
		k8s_report(pod->object, K8S_RULE_RUN_AS_NON_ROOT, non_root, NULL,
			   k8s_pod_path(pod, "securityContext.runAsNonRoot", path, sizeof(path)),
			   "sets runAsNonRoot: false for the pod");

	const struct k8s_node *user = k8s_map_get(context, "runAsUser");
	long long uid;
	if (k8s_node_int(user, &uid) && uid == 0)
		k8s_report(pod->object, K8S_RULE_RUN_AS_USER, user, NULL,
			   k8s_pod_path(pod, "securityContext.runAsUser", path, sizeof(path)),
			   "sets runAsUser: 0 (root) for the pod");
}
