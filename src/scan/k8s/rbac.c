// SPDX-License-Identifier: Apache-2.0
// RBAC checks: wildcards and Secret reads in Roles and ClusterRoles, and
// bindings to cluster-admin or to unauthenticated users.

#include "scan/k8s/k8s.h"

#include <string.h>

static bool sequence_contains(const struct k8s_node *seq, const char *value)
{
	for (size_t i = 0; k8s_node_is_sequence(seq) && i < seq->count; i++) {
		if (k8s_node_equals(seq->items[i], value))
			return true;
	}
	return false;
}

static void check_wildcards(struct k8s_object *object, const struct k8s_node *rule,
			    size_t index)
{
	static const char *const fields[] = { "verbs", "resources" };

	for (size_t f = 0; f < 2; f++) {
		const struct k8s_node *seq = k8s_map_get(rule, fields[f]);
		for (size_t i = 0; k8s_node_is_sequence(seq) && i < seq->count; i++) {
			if (!k8s_node_equals(seq->items[i], "*"))
				continue;
			char path[96];
			snprintf(path, sizeof(path), "rules[%zu].%s[%zu]", index, fields[f], i);
			k8s_report(object, K8S_RULE_RBAC_WILDCARD, seq->items[i], NULL, path,
				   "grants * in %s of rule %zu", fields[f], index);
		}
	}
}

static void check_secret_read(struct k8s_object *object, const struct k8s_node *rule,
			      size_t index)
{
	const struct k8s_node *resources = k8s_map_get(rule, "resources");
	const struct k8s_node *groups = k8s_map_get(rule, "apiGroups");
	const struct k8s_node *verbs = k8s_map_get(rule, "verbs");

	if (!sequence_contains(resources, "secrets"))
		return;
	if (groups != NULL && !sequence_contains(groups, "") && !sequence_contains(groups, "*"))
		return;
	if (k8s_node_is_sequence(k8s_map_get(rule, "resourceNames")) &&
	    k8s_map_get(rule, "resourceNames")->count > 0)
		return; // limited to named secrets

	static const char *const read_verbs[] = { "get", "list", "watch", "*" };
	for (size_t v = 0; v < sizeof(read_verbs) / sizeof(read_verbs[0]); v++) {
		if (!sequence_contains(verbs, read_verbs[v]))
			continue;
		char path[64];
		snprintf(path, sizeof(path), "rules[%zu].resources", index);
		k8s_report(object, K8S_RULE_RBAC_SECRETS, k8s_map_at(rule, "resources", rule), NULL,
			   path,
			   "grants %s on secrets in rule %zu", read_verbs[v], index);
		return;
	}
}

static void check_role(struct k8s_object *object)
{
	const struct k8s_node *rules = k8s_map_get(object->root, "rules");
	for (size_t i = 0; k8s_node_is_sequence(rules) && i < rules->count; i++) {
		check_wildcards(object, rules->items[i], i);
		check_secret_read(object, rules->items[i], i);
	}
}

static void check_binding(struct k8s_object *object)
{
	const struct k8s_node *role_ref = k8s_map_get(object->root, "roleRef");
	const struct k8s_node *role_name = k8s_map_get(role_ref, "name");
	if (k8s_node_equals(role_name, "cluster-admin") &&
	    k8s_node_equals(k8s_map_get(role_ref, "kind"), "ClusterRole"))
		k8s_report(object, K8S_RULE_RBAC_CLUSTER_ADMIN, role_name, NULL, "roleRef.name",
			   "binds the cluster-admin ClusterRole");

	const struct k8s_node *subjects = k8s_map_get(object->root, "subjects");
	for (size_t i = 0; k8s_node_is_sequence(subjects) && i < subjects->count; i++) {
		const struct k8s_node *name = k8s_map_get(subjects->items[i], "name");
		if (!k8s_node_equals(name, "system:anonymous") &&
		    !k8s_node_equals(name, "system:unauthenticated"))
			continue;
		char path[64];
		snprintf(path, sizeof(path), "subjects[%zu].name", i);
		k8s_report(object, K8S_RULE_RBAC_ANONYMOUS, name, NULL, path,
			   "grants its role to %s", name->value);
	}
}

void k8s_check_rbac(struct k8s_object *object)
{
	if (strcmp(object->kind, "Role") == 0 || strcmp(object->kind, "ClusterRole") == 0)
		check_role(object);
	else
		check_binding(object);
}
