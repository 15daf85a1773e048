// SPDX-License-Identifier: Apache-2.0
// Data-at-rest checks: persistent volume claims (standalone, StatefulSet
// templates, generic ephemeral volumes) and StorageClasses whose volumes are
// not provisioned by an encrypting provisioner. A provisioner counts as
// encrypting when it is coffer's CSI driver or listed in .coffer.yaml. A
// class counts when its provisioner does or when .coffer.yaml lists it.

#include "scan/k8s/k8s.h"

#include <string.h>

bool k8s_provisioner_encrypts(const struct scan_k8s *scan, const char *provisioner)
{
	if (provisioner == NULL)
		return false;
	if (strcmp(provisioner, SCAN_K8S_COFFER_PROVISIONER) == 0)
		return true;

	const struct scan_config *config = scan->options.config;
	for (size_t i = 0; config != NULL && i < config->encrypted_provisioner_count; i++) {
		if (strcmp(provisioner, config->encrypted_provisioners[i]) == 0)
			return true;
	}
	return false;
}

static bool class_listed(const struct scan_k8s *scan, const char *name)
{
	const struct scan_config *config = scan->options.config;
	for (size_t i = 0; config != NULL && i < config->encrypted_storage_class_count; i++) {
		if (strcmp(name, config->encrypted_storage_classes[i]) == 0)
			return true;
	}
	return false;
}

static const struct k8s_storage_class *find_class(const struct scan_k8s *scan,
						  const char *name)
{
	for (size_t i = 0; i < scan->storage_class_count; i++) {
		if (strcmp(scan->storage_classes[i].name, name) == 0)
			return &scan->storage_classes[i];
	}
	return NULL;
}

static const struct k8s_storage_class *find_default_class(const struct scan_k8s *scan)
{
	for (size_t i = 0; i < scan->storage_class_count; i++) {
		if (scan->storage_classes[i].is_default)
			return &scan->storage_classes[i];
	}
	return NULL;
}

void k8s_check_claim(struct k8s_object *object, const struct k8s_node *claim,
		     const struct k8s_node *at, const char *spec_path, const char *what)
{
	const struct k8s_node *claim_spec = k8s_map_get(claim, "spec");
	const struct scan_k8s *scan = object->scan;
	char path[320];
	snprintf(path, sizeof(path), "%s.storageClassName", spec_path);

	const struct k8s_node *class_node = k8s_map_get(claim_spec, "storageClassName");
	const char *class_name = k8s_node_string(class_node);
	if (class_name == NULL && k8s_node_is_null(class_node)) {
		// The beta annotation predates storageClassName and still works.
		class_node = k8s_map_path(claim, "metadata.annotations");
		class_node = k8s_map_get(class_node, "volume.beta.kubernetes.io/storage-class");
		class_name = k8s_node_string(class_node);
	}

	if (class_name == NULL) {
		const struct k8s_storage_class *fallback = find_default_class(scan);
		if (fallback != NULL && (k8s_provisioner_encrypts(scan, fallback->provisioner) ||
					 class_listed(scan, fallback->name)))
			return;
		k8s_report(object, K8S_RULE_CLAIM_UNENCRYPTED, at, NULL, path,
			   "%s names no storage class, so the cluster's default class provisions "
			   "it; its data is stored without per-volume encryption unless that "
			   "class encrypts", what);
		return;
	}

	if (class_name[0] == '\0') {
		k8s_report(object, K8S_RULE_CLAIM_UNENCRYPTED, class_node, NULL, path,
			   "%s sets storageClassName to \"\" and binds a pre-provisioned volume "
			   "without per-volume encryption", what);
		return;
	}

	if (class_listed(scan, class_name))
		return;
	const struct k8s_storage_class *class = find_class(scan, class_name);
	if (class != NULL && k8s_provisioner_encrypts(scan, class->provisioner))
		return;

	if (class != NULL)
		k8s_report(object, K8S_RULE_CLAIM_UNENCRYPTED, class_node, NULL, path,
			   "%s uses storage class \"%s\", whose provisioner %s is not known to "
			   "encrypt; its data is stored without per-volume encryption",
			   what, class_name, class->provisioner ? class->provisioner : "(none)");
	else
		k8s_report(object, K8S_RULE_CLAIM_UNENCRYPTED, class_node, NULL, path,
			   "%s uses storage class \"%s\", which is neither defined with an "
			   "encrypting provisioner in the scanned manifests nor listed as "
			   "encrypted in .coffer.yaml; its data is stored without per-volume "
			   "encryption", what, class_name);
}

void k8s_check_storage_class(struct k8s_object *object)
{
	const struct k8s_node *provisioner_node = k8s_map_get(object->root, "provisioner");
	const char *provisioner = k8s_node_string(provisioner_node);

	if (object->name != NULL && class_listed(object->scan, object->name))
		return;
	if (k8s_provisioner_encrypts(object->scan, provisioner))
		return;
	k8s_report(object, K8S_RULE_STORAGE_CLASS_UNENCRYPTED, provisioner_node, NULL,
		   "provisioner",
		   "uses provisioner %s, which is not known to encrypt; its volumes store data "
		   "without per-volume encryption",
		   provisioner ? provisioner : "(none)");
}
