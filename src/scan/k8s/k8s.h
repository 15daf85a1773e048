// SPDX-License-Identifier: Apache-2.0
// Internal model of the Kubernetes checker: the rule table, the scan state,
// and objects and pod specs as the checks see them. k8s_report is the one
// function that turns a check result into a finding, so suppression, the
// profile and severity overrides are applied there.

#ifndef COFFER_SCAN_K8S_INTERNAL_H
#define COFFER_SCAN_K8S_INTERNAL_H

#include <coffer/scan_k8s.h>

#include "scan/k8s/tree.h"

enum k8s_rule_id {
	// Pod Security Standards, baseline
	K8S_RULE_HOST_PROCESS,
	K8S_RULE_HOST_NAMESPACES,
	K8S_RULE_PRIVILEGED,
	K8S_RULE_CAPABILITIES_BASELINE,
	K8S_RULE_HOST_PATH,
	K8S_RULE_HOST_PORTS,
	K8S_RULE_APPARMOR,
	K8S_RULE_SELINUX,
	K8S_RULE_PROC_MOUNT,
	K8S_RULE_SECCOMP_BASELINE,
	K8S_RULE_SYSCTLS,
	// Pod Security Standards, restricted
	K8S_RULE_VOLUME_TYPES,
	K8S_RULE_PRIVILEGE_ESCALATION,
	K8S_RULE_RUN_AS_NON_ROOT,
	K8S_RULE_RUN_AS_USER,
	K8S_RULE_SECCOMP_RESTRICTED,
	K8S_RULE_CAPABILITIES_RESTRICTED,
	// best practice
	K8S_RULE_IMAGE_NO_TAG,
	K8S_RULE_IMAGE_LATEST,
	K8S_RULE_IMAGE_NO_DIGEST,
	K8S_RULE_CPU_REQUEST,
	K8S_RULE_CPU_LIMIT,
	K8S_RULE_MEMORY_REQUEST,
	K8S_RULE_MEMORY_LIMIT,
	K8S_RULE_READONLY_ROOT_FS,
	K8S_RULE_SA_TOKEN_AUTOMOUNT,
	K8S_RULE_DEFAULT_SERVICE_ACCOUNT,
	K8S_RULE_SECRET_IN_ENV,
	K8S_RULE_RUNTIME_SOCKET,
	K8S_RULE_LIVENESS_PROBE,
	K8S_RULE_READINESS_PROBE,
	// RBAC
	K8S_RULE_RBAC_WILDCARD,
	K8S_RULE_RBAC_CLUSTER_ADMIN,
	K8S_RULE_RBAC_SECRETS,
	K8S_RULE_RBAC_ANONYMOUS,
	// data at rest
	K8S_RULE_CLAIM_UNENCRYPTED,
	K8S_RULE_STORAGE_CLASS_UNENCRYPTED,
	// documents that are not checked
	K8S_RULE_SKIPPED,
	K8S_RULE_COUNT,
};

// Profile level of a rule. PSS rules of the restricted level are reported
// only with --profile restricted.
enum k8s_rule_level {
	K8S_LEVEL_BASELINE,
	K8S_LEVEL_RESTRICTED,
	K8S_LEVEL_ALWAYS,
};

extern const struct scan_rule k8s_rules[K8S_RULE_COUNT];
extern const enum k8s_rule_level k8s_rule_levels[K8S_RULE_COUNT];

struct k8s_input {
	char *file;
	char *data;
	struct k8s_stream *stream;
};

struct k8s_storage_class {
	const char *name;
	const char *provisioner;
	bool is_default;
};

struct k8s_service_account {
	const char *name;
	const char *namespace;
};

struct scan_k8s {
	struct scan_k8s_options options;
	struct scan_report *report;
	struct k8s_limits limits;
	struct k8s_input *inputs;
	size_t input_count;
	size_t input_capacity;
	char **errors;
	size_t error_count;
	size_t error_capacity;
	size_t document_count;
	// Collected from every document before the checks run.
	struct k8s_storage_class *storage_classes;
	size_t storage_class_count;
	struct k8s_service_account *no_automount_accounts;
	size_t no_automount_count;
	int status; // first error of scan_k8s_run (-ENOMEM)
};

// One Kubernetes object: a document, or an item of a List.
struct k8s_object {
	struct scan_k8s *scan;
	const char *file;
	int document;
	const struct k8s_node *root;
	const char *api_version;
	const char *kind;
	const char *name;
	const char *namespace;
	char label[256];     // "Kind/namespace/name" or "Kind/name"
	char prefix[48];     // field path prefix: "" or "items[3]."
	// Annotations that may hold coffer.io/ignore: the object's, and its
	// pod template's for workloads.
	const struct k8s_node *annotations;
	const struct k8s_node *template_annotations;
};

// A pod spec inside an object, with the path that leads to it.
struct k8s_pod {
	struct k8s_object *object;
	const struct k8s_node *spec;
	const struct k8s_node *spec_at;  // where to report pod-level findings
	const struct k8s_node *metadata; // pod metadata (annotations)
	const char *spec_path;           // "spec", "spec.template.spec", ...
	const char *metadata_path;       // "metadata", "spec.template.metadata", ...
	bool windows;                    // spec.os.name is windows
	bool user_namespace;             // spec.hostUsers is false
	bool long_running;               // not a Job or CronJob: probes apply
};

struct k8s_container {
	const struct k8s_node *node;
	const char *name;
	const char *list; // "containers", "initContainers" or "ephemeralContainers"
	size_t index;
};

// Adds a finding unless the rule is ignored (configuration or annotation) or
// outside the selected profile. at gives the location (the object's root
// when NULL); container may be NULL; path is the field path below the
// object, without the List prefix.
void k8s_report(struct k8s_object *object, enum k8s_rule_id rule, const struct k8s_node *at,
		const struct k8s_container *container, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

// Formats "<spec_path>.<rest>" and "<spec_path>.<list>[<i>].<rest>".
const char *k8s_pod_path(const struct k8s_pod *pod, const char *rest, char *buf, size_t size);
const char *k8s_container_path(const struct k8s_pod *pod, const struct k8s_container *c,
			       const char *rest, char *buf, size_t size);

// Calls fn for every container of the pod's three container lists.
typedef void (*k8s_container_fn)(struct k8s_pod *pod, const struct k8s_container *c);
void k8s_for_each_container(struct k8s_pod *pod, k8s_container_fn fn);

// Checks, one file per family.
void k8s_check_pss_baseline(struct k8s_pod *pod);
void k8s_check_pss_restricted(struct k8s_pod *pod);
void k8s_check_practice(struct k8s_pod *pod);
void k8s_check_rbac(struct k8s_object *object);
// Checks that a claim (a PersistentVolumeClaim or a claim template, with
// metadata and spec) uses a storage class that encrypts. at is the position
// to report when the claim names no class. spec_path is the claim spec's path.
void k8s_check_claim(struct k8s_object *object, const struct k8s_node *claim,
		     const struct k8s_node *at, const char *spec_path, const char *what);
void k8s_check_storage_class(struct k8s_object *object);
bool k8s_provisioner_encrypts(const struct scan_k8s *scan, const char *provisioner);

#endif
