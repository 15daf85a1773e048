// SPDX-License-Identifier: Apache-2.0
// The Kubernetes checker's driver: loads inputs, finds the objects in each
// document (expanding List objects), collects what checks of other objects
// need (storage classes, service accounts), runs the checks and turns their
// results into findings.
//
// Design: every input stays in memory until scan_k8s_run, because a claim
// may name a StorageClass that a later file defines. Inputs are parsed as
// they are added, so errors are known before the checks run.

#include "scan/k8s/k8s.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IGNORE_ANNOTATION "coffer.io/ignore"
#define LIST_MAX_DEPTH 4
#define DIRECTORY_MAX_DEPTH 64

int scan_k8s_profile_parse(const char *name, enum scan_k8s_profile *profile)
{
	if (strcmp(name, "baseline") == 0) {
		*profile = SCAN_K8S_PROFILE_BASELINE;
		return 0;
	}
	if (strcmp(name, "restricted") == 0) {
		*profile = SCAN_K8S_PROFILE_RESTRICTED;
		return 0;
	}
	return -EINVAL;
}

struct scan_k8s *scan_k8s_new(const struct scan_k8s_options *options,
			      struct scan_report *report)
{
	struct scan_k8s *scan = calloc(1, sizeof(*scan));
	if (scan == NULL)
		return NULL;
	scan->options = *options;
	scan->report = report;
	k8s_limits_default(&scan->limits);
	return scan;
}

void scan_k8s_free(struct scan_k8s *scan)
{
	if (scan == NULL)
		return;
	for (size_t i = 0; i < scan->input_count; i++) {
		free(scan->inputs[i].file);
		free(scan->inputs[i].data);
		k8s_stream_free(scan->inputs[i].stream);
	}
	free(scan->inputs);
	for (size_t i = 0; i < scan->error_count; i++)
		free(scan->errors[i]);
	free(scan->errors);
	free(scan->storage_classes);
	free(scan->no_automount_accounts);
	free(scan);
}

size_t scan_k8s_error_count(const struct scan_k8s *scan)
{
	return scan->error_count;
}

const char *scan_k8s_error(const struct scan_k8s *scan, size_t i)
{
	return i < scan->error_count ? scan->errors[i] : NULL;
}

size_t scan_k8s_document_count(const struct scan_k8s *scan)
{
	return scan->document_count;
}

// Records "file: message" as an input error and returns rc.
static int record_error(struct scan_k8s *scan, const char *file, int rc, const char *message)
{
	if (scan->error_count == scan->error_capacity) {
		size_t capacity = scan->error_capacity ? scan->error_capacity * 2 : 8;
		char **grown = realloc(scan->errors, capacity * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		scan->errors = grown;
		scan->error_capacity = capacity;
	}

	char *text;
	if (asprintf(&text, "%s: %s", file, message) < 0)
		return -ENOMEM;
	scan->errors[scan->error_count++] = text;
	return rc;
}

// ---- loading ---------------------------------------------------------------

// Parses data (taking ownership of it) and keeps it as an input.
static int add_input(struct scan_k8s *scan, const char *file, char *data, size_t size)
{
	if (scan->input_count == scan->input_capacity) {
		size_t capacity = scan->input_capacity ? scan->input_capacity * 2 : 16;
		struct k8s_input *grown = realloc(scan->inputs, capacity * sizeof(*grown));
		if (grown == NULL) {
			free(data);
			return -ENOMEM;
		}
		scan->inputs = grown;
		scan->input_capacity = capacity;
	}

	struct k8s_input *input = &scan->inputs[scan->input_count];
	input->file = strdup(file);
	input->data = data;
	input->stream = NULL;
	if (input->file == NULL) {
		free(data);
		return -ENOMEM;
	}
	scan->input_count++;

	struct cf_error err = { 0 };
	int rc = k8s_stream_parse(data, size, &scan->limits, &input->stream, &err);
	if (input->stream != NULL)
		scan->document_count += k8s_stream_count(input->stream);
	scan_report_add_artifact(scan->report, file);
	if (rc != 0)
		return record_error(scan, file, rc, cf_error_message(&err, rc));
	return 0;
}

int scan_k8s_add_buffer(struct scan_k8s *scan, const char *name, const char *data,
			size_t size)
{
	char *copy = malloc(size + 1);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, data, size);
	copy[size] = '\0';
	return add_input(scan, name, copy, size);
}

static int add_stdin(struct scan_k8s *scan)
{
	size_t size = 0, capacity = 65536;
	char *data = malloc(capacity);
	if (data == NULL)
		return -ENOMEM;

	for (;;) {
		if (size == capacity) {
			if (capacity > scan->limits.max_input_bytes) {
				free(data);
				return record_error(scan, "-", -E2BIG,
						    "input is larger than the 64 MiB limit");
			}
			char *grown = realloc(data, capacity * 2);
			if (grown == NULL) {
				free(data);
				return -ENOMEM;
			}
			data = grown;
			capacity *= 2;
		}
		size_t n = fread(data + size, 1, capacity - size, stdin);
		size += n;
		if (n == 0)
			break;
	}
	if (ferror(stdin)) {
		free(data);
		return record_error(scan, "-", -EIO, "cannot read standard input");
	}
	return add_input(scan, "-", data, size);
}

static int add_file(struct scan_k8s *scan, const char *path)
{
	char *data = NULL;
	size_t size = 0;
	struct cf_error err = { 0 };

	int rc = cf_read_file(path, scan->limits.max_input_bytes, &data, &size, &err);
	if (rc == -EFBIG)
		return record_error(scan, path, -E2BIG, "file is larger than the 64 MiB limit");
	if (rc != 0)
		return record_error(scan, path, rc, cf_error_message(&err, rc));
	return add_input(scan, path, data, size);
}

static bool has_manifest_suffix(const char *name)
{
	static const char *const suffixes[] = { ".yaml", ".yml", ".json" };
	size_t length = strlen(name);

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t suffix_length = strlen(suffixes[i]);
		if (length > suffix_length &&
		    strcmp(name + length - suffix_length, suffixes[i]) == 0)
			return true;
	}
	return false;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

// Adds the manifests below dir in name order, so output is reproducible,
// and adds the number of matching files to *found.
static int add_directory(struct scan_k8s *scan, const char *dir, int depth, size_t *found)
{
	if (depth > DIRECTORY_MAX_DEPTH)
		return record_error(scan, dir, -ELOOP, "directories nested too deeply");

	DIR *handle = opendir(dir);
	if (handle == NULL)
		return record_error(scan, dir, -errno, strerror(errno));

	char **names = NULL;
	size_t count = 0, capacity = 0;
	int rc = 0;
	struct dirent *entry;
	while ((entry = readdir(handle)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		if (count == capacity) {
			capacity = capacity ? capacity * 2 : 32;
			char **grown = realloc(names, capacity * sizeof(*grown));
			if (grown == NULL) {
				rc = -ENOMEM;
				break;
			}
			names = grown;
		}
		names[count] = strdup(entry->d_name);
		if (names[count] == NULL) {
			rc = -ENOMEM;
			break;
		}
		count++;
	}
	closedir(handle);
	if (rc == 0 && count > 0)
		qsort(names, count, sizeof(*names), compare_names);

	for (size_t i = 0; i < count && rc != -ENOMEM; i++) {
		char *path;
		if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
			rc = -ENOMEM;
			break;
		}

		struct stat st;
		int file_rc = 0;
		if (lstat(path, &st) != 0)
			file_rc = record_error(scan, path, -errno, strerror(errno));
		else if (S_ISDIR(st.st_mode))
			file_rc = add_directory(scan, path, depth + 1, found);
		else if (has_manifest_suffix(names[i]) &&
			 (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))) {
			(*found)++;
			file_rc = add_file(scan, path);
		}
		free(path);
		if (rc == 0)
			rc = file_rc;
	}

	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return rc;
}

int scan_k8s_add_path(struct scan_k8s *scan, const char *path)
{
	if (strcmp(path, "-") == 0)
		return add_stdin(scan);

	struct stat st;
	if (stat(path, &st) != 0)
		return record_error(scan, path, -errno,
				    errno == ENOENT ? "no such file or directory" : strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return add_file(scan, path);

	// A directory without manifests is an input error, so that a mistyped
	// path fails the scan instead of passing with no findings.
	size_t found = 0;
	int rc = add_directory(scan, path, 0, &found);
	if (rc == 0 && found == 0)
		rc = record_error(scan, path, -ENOENT,
				  "no manifest found; searched for *.yaml, *.yml and *.json");
	return rc;
}

// ---- findings --------------------------------------------------------------

// True when list ("ID,ID") names rule_id.
static bool id_listed(const char *list, const char *rule_id)
{
	size_t id_length = strlen(rule_id);
	const char *p = list;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		const char *start = p;
		while (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		if ((size_t)(p - start) == id_length && strncmp(start, rule_id, id_length) == 0)
			return true;
	}
	return false;
}

static bool annotation_ignores(const struct k8s_node *annotations, const char *rule_id)
{
	const char *list = k8s_node_string(k8s_map_get(annotations, IGNORE_ANNOTATION));
	return list != NULL && id_listed(list, rule_id);
}

static bool rule_suppressed(const struct k8s_object *object, enum k8s_rule_id rule)
{
	const struct scan_k8s *scan = object->scan;
	const char *id = k8s_rules[rule].id;

	if (k8s_rule_levels[rule] == K8S_LEVEL_RESTRICTED &&
	    scan->options.profile == SCAN_K8S_PROFILE_BASELINE)
		return true;
	if (scan->options.config != NULL && scan_config_ignored(scan->options.config, id))
		return true;
	return annotation_ignores(object->annotations, id) ||
	       annotation_ignores(object->template_annotations, id);
}

void k8s_report(struct k8s_object *object, enum k8s_rule_id rule, const struct k8s_node *at,
		const struct k8s_container *container, const char *path, const char *fmt, ...)
{
	struct scan_k8s *scan = object->scan;
	if (rule_suppressed(object, rule))
		return;

	char detail[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);

	char full_path[512];
	snprintf(full_path, sizeof(full_path), "%s%s", object->prefix, path);

	json_t *fields = json_object();
	if (fields == NULL) {
		scan->status = -ENOMEM;
		return;
	}
	json_object_set_new(fields, "object", json_string(object->label));
	json_object_set_new(fields, "kind", json_string(object->kind ? object->kind : ""));
	if (object->namespace != NULL)
		json_object_set_new(fields, "namespace", json_string(object->namespace));
	if (object->name != NULL)
		json_object_set_new(fields, "name", json_string(object->name));
	if (container != NULL)
		json_object_set_new(fields, "container", json_string(container->name));
	json_object_set_new(fields, "path", json_string(full_path));
	json_object_set_new(fields, "document", json_integer(object->document));

	if (at == NULL)
		at = object->root;
	struct scan_location location = {
		.file = object->file,
		.line = at ? at->line : 0,
		.column = at ? at->column : 0,
	};

	const struct scan_rule *rule_def = &k8s_rules[rule];
	enum scan_severity severity = rule_def->severity;
	if (scan->options.config != NULL)
		severity = scan_config_severity(scan->options.config, rule_def->id, severity);

	int rc;
	if (container != NULL)
		rc = scan_report_add(scan->report, rule_def, severity, &location, fields, NULL,
				     "%s: container \"%s\" %s", object->label, container->name,
				     detail);
	else
		rc = scan_report_add(scan->report, rule_def, severity, &location, fields, NULL,
				     "%s: %s", object->label, detail);
	if (rc != 0 && scan->status == 0)
		scan->status = rc;
}

const char *k8s_pod_path(const struct k8s_pod *pod, const char *rest, char *buf, size_t size)
{
	snprintf(buf, size, "%s.%s", pod->spec_path, rest);
	return buf;
}

const char *k8s_container_path(const struct k8s_pod *pod, const struct k8s_container *c,
			       const char *rest, char *buf, size_t size)
{
	if (rest == NULL || *rest == '\0')
		snprintf(buf, size, "%s.%s[%zu]", pod->spec_path, c->list, c->index);
	else
		snprintf(buf, size, "%s.%s[%zu].%s", pod->spec_path, c->list, c->index, rest);
	return buf;
}

void k8s_for_each_container(struct k8s_pod *pod, k8s_container_fn fn)
{
	static const char *const lists[] = { "initContainers", "containers",
					     "ephemeralContainers" };

	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		const struct k8s_node *list = k8s_map_get(pod->spec, lists[l]);
		if (!k8s_node_is_sequence(list))
			continue;
		for (size_t i = 0; i < list->count; i++) {
			const struct k8s_node *node = list->items[i];
			if (!k8s_node_is_mapping(node))
				continue;
			const char *name = k8s_node_string(k8s_map_get(node, "name"));
			struct k8s_container c = {
				.node = node,
				.name = name ? name : "(unnamed)",
				.list = lists[l],
				.index = i,
			};
			fn(pod, &c);
		}
	}
}

// ---- objects ---------------------------------------------------------------

static bool is_workload_kind(const char *kind)
{
	static const char *const kinds[] = { "Pod", "Deployment", "StatefulSet", "DaemonSet",
					     "ReplicaSet", "ReplicationController", "Job",
					     "CronJob" };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	}
	return false;
}

// Built-in kinds that hold nothing these checks look at: silently accepted.
static bool is_unchecked_builtin_kind(const char *kind)
{
	static const char *const kinds[] = {
		"APIService", "Binding", "CSIDriver", "CSINode", "CSIStorageCapacity",
		"CertificateSigningRequest", "ConfigMap", "ControllerRevision",
		"CustomResourceDefinition", "Endpoints", "EndpointSlice", "Event",
		"FlowSchema", "HorizontalPodAutoscaler", "Ingress", "IngressClass",
		"Lease", "LimitRange", "MutatingAdmissionPolicy",
		"MutatingAdmissionPolicyBinding", "MutatingWebhookConfiguration",
		"Namespace", "NetworkPolicy", "Node", "PersistentVolume", "PodDisruptionBudget",
		"PodSecurityPolicy", "PodTemplate", "PriorityClass",
		"PriorityLevelConfiguration", "ResourceQuota", "RuntimeClass", "Secret",
		"Service", "ServiceAccount", "ServiceCIDR", "IPAddress",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
		"ValidatingWebhookConfiguration", "VolumeAttachment",
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	}
	return false;
}

static bool is_rbac_kind(const char *kind)
{
	return strcmp(kind, "Role") == 0 || strcmp(kind, "ClusterRole") == 0 ||
	       strcmp(kind, "RoleBinding") == 0 || strcmp(kind, "ClusterRoleBinding") == 0;
}

static void object_init(struct k8s_object *object, struct scan_k8s *scan, const char *file,
			int document, const struct k8s_node *root, const char *prefix)
{
	memset(object, 0, sizeof(*object));
	object->scan = scan;
	object->file = file;
	object->document = document;
	object->root = root;
	snprintf(object->prefix, sizeof(object->prefix), "%s", prefix);

	object->api_version = k8s_node_string(k8s_map_get(root, "apiVersion"));
	object->kind = k8s_node_string(k8s_map_get(root, "kind"));
	const struct k8s_node *metadata = k8s_map_get(root, "metadata");
	object->name = k8s_node_string(k8s_map_get(metadata, "name"));
	if (object->name == NULL)
		object->name = k8s_node_string(k8s_map_get(metadata, "generateName"));
	object->namespace = k8s_node_string(k8s_map_get(metadata, "namespace"));
	object->annotations = k8s_map_get(metadata, "annotations");

	const char *kind = object->kind ? object->kind : "(no kind)";
	const char *name = object->name ? object->name : "(unnamed)";
	if (object->namespace != NULL)
		snprintf(object->label, sizeof(object->label), "%s/%s/%s", kind,
			 object->namespace, name);
	else
		snprintf(object->label, sizeof(object->label), "%s/%s", kind, name);
}

static void check_pod(struct k8s_pod *pod)
{
	if (!k8s_node_is_mapping(pod->spec))
		return;
	pod->windows = k8s_node_equals(k8s_map_path(pod->spec, "os.name"), "windows");
	pod->user_namespace = k8s_node_is_false(k8s_map_get(pod->spec, "hostUsers"));
	k8s_check_pss_baseline(pod);
	k8s_check_pss_restricted(pod);
	k8s_check_practice(pod);
}

static void check_workload(struct k8s_object *object)
{
	const char *kind = object->kind;
	const struct k8s_node *root = object->root;
	struct k8s_pod pod = { .object = object, .long_running = true };

	if (strcmp(kind, "Pod") == 0) {
		pod.spec = k8s_map_get(root, "spec");
		pod.spec_at = k8s_map_at(root, "spec", root);
		pod.metadata = k8s_map_get(root, "metadata");
		pod.spec_path = "spec";
		pod.metadata_path = "metadata";
	} else if (strcmp(kind, "CronJob") == 0) {
		const struct k8s_node *job_template = k8s_map_path(root, "spec.jobTemplate");
		pod.spec = k8s_map_path(job_template, "spec.template.spec");
		pod.spec_at = k8s_map_at(k8s_map_path(job_template, "spec.template"), "spec", root);
		pod.metadata = k8s_map_path(job_template, "spec.template.metadata");
		pod.spec_path = "spec.jobTemplate.spec.template.spec";
		pod.metadata_path = "spec.jobTemplate.spec.template.metadata";
		pod.long_running = false;
	} else {
		pod.spec = k8s_map_path(root, "spec.template.spec");
		pod.spec_at = k8s_map_at(k8s_map_path(root, "spec.template"), "spec", root);
		pod.metadata = k8s_map_path(root, "spec.template.metadata");
		pod.spec_path = "spec.template.spec";
		pod.metadata_path = "spec.template.metadata";
		pod.long_running = strcmp(kind, "Job") != 0;
	}

	if (pod.metadata != object->root)
		object->template_annotations = k8s_map_get(pod.metadata, "annotations");
	check_pod(&pod);

	// A StatefulSet's claims are created from its templates.
	if (strcmp(kind, "StatefulSet") == 0) {
		const struct k8s_node *templates =
			k8s_map_path(root, "spec.volumeClaimTemplates");
		for (size_t i = 0; k8s_node_is_sequence(templates) && i < templates->count; i++) {
			const struct k8s_node *claim = templates->items[i];
			char path[96];
			snprintf(path, sizeof(path), "spec.volumeClaimTemplates[%zu].spec", i);
			const char *claim_name =
				k8s_node_string(k8s_map_path(claim, "metadata.name"));
			char what[160];
			snprintf(what, sizeof(what), "volume claim template \"%s\"",
				 claim_name ? claim_name : "(unnamed)");
			k8s_check_claim(object, claim, claim, path, what);
		}
	}
}

static void check_object(struct scan_k8s *scan, const char *file, int document,
			 const struct k8s_node *root, const char *prefix, int list_depth);

static void check_list(struct k8s_object *object, int list_depth)
{
	const struct k8s_node *items = k8s_map_get(object->root, "items");
	if (!k8s_node_is_sequence(items))
		return;
	for (size_t i = 0; i < items->count; i++) {
		char prefix[48];
		snprintf(prefix, sizeof(prefix), "%sitems[%zu].", object->prefix, i);
		check_object(object->scan, object->file, object->document, items->items[i],
			     prefix, list_depth + 1);
	}
}

static void report_skipped(struct k8s_object *object, const char *why)
{
	k8s_report(object, K8S_RULE_SKIPPED, object->root, NULL, "", "%s; skipped", why);
}

static void check_object(struct scan_k8s *scan, const char *file, int document,
			 const struct k8s_node *root, const char *prefix, int list_depth)
{
	struct k8s_object object;
	object_init(&object, scan, file, document, root, prefix);

	if (!k8s_node_is_mapping(root)) {
		report_skipped(&object, "the document is not a mapping, so it is not a Kubernetes object");
		return;
	}
	if (object.kind == NULL || object.api_version == NULL) {
		report_skipped(&object, "the document has no apiVersion or kind, so it is not a "
					"Kubernetes object");
		return;
	}

	const char *kind = object.kind;
	size_t kind_length = strlen(kind);
	if (kind_length >= 4 && strcmp(kind + kind_length - 4, "List") == 0 &&
	    k8s_node_is_sequence(k8s_map_get(root, "items"))) {
		if (list_depth >= LIST_MAX_DEPTH) {
			report_skipped(&object, "the List is nested too deeply");
			return;
		}
		check_list(&object, list_depth);
		return;
	}

	if (is_workload_kind(kind))
		check_workload(&object);
	else if (is_rbac_kind(kind))
		k8s_check_rbac(&object);
	else if (strcmp(kind, "PersistentVolumeClaim") == 0)
		k8s_check_claim(&object, root, root, "spec", "claim");
	else if (strcmp(kind, "StorageClass") == 0)
		k8s_check_storage_class(&object);
	else if (!is_unchecked_builtin_kind(kind)) {
		char why[320];
		snprintf(why, sizeof(why), "kind %s (%s) is not a kind coffer checks", kind,
			 object.api_version);
		report_skipped(&object, why);
	}
}

// ---- collection pass -------------------------------------------------------

static int collect_object(struct scan_k8s *scan, const struct k8s_node *root, int list_depth)
{
	const char *kind = k8s_node_string(k8s_map_get(root, "kind"));
	if (kind == NULL)
		return 0;

	size_t kind_length = strlen(kind);
	if (kind_length >= 4 && strcmp(kind + kind_length - 4, "List") == 0) {
		const struct k8s_node *items = k8s_map_get(root, "items");
		for (size_t i = 0; k8s_node_is_sequence(items) && i < items->count &&
				   list_depth < LIST_MAX_DEPTH; i++) {
			int rc = collect_object(scan, items->items[i], list_depth + 1);
			if (rc != 0)
				return rc;
		}
		return 0;
	}

	const struct k8s_node *metadata = k8s_map_get(root, "metadata");
	const char *name = k8s_node_string(k8s_map_get(metadata, "name"));
	if (name == NULL)
		return 0;

	if (strcmp(kind, "StorageClass") == 0) {
		struct k8s_storage_class *grown =
			realloc(scan->storage_classes,
				(scan->storage_class_count + 1) * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		scan->storage_classes = grown;
		const struct k8s_node *annotations = k8s_map_get(metadata, "annotations");
		grown[scan->storage_class_count++] = (struct k8s_storage_class){
			.name = name,
			.provisioner = k8s_node_string(k8s_map_get(root, "provisioner")),
			.is_default = k8s_node_equals(
				k8s_map_get(annotations, "storageclass.kubernetes.io/is-default-class"),
				"true"),
		};
	} else if (strcmp(kind, "ServiceAccount") == 0 &&
		   k8s_node_is_false(k8s_map_get(root, "automountServiceAccountToken"))) {
		struct k8s_service_account *grown =
			realloc(scan->no_automount_accounts,
				(scan->no_automount_count + 1) * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		scan->no_automount_accounts = grown;
		grown[scan->no_automount_count++] = (struct k8s_service_account){
			.name = name,
			.namespace = k8s_node_string(k8s_map_get(metadata, "namespace")),
		};
	}
	return 0;
}

int scan_k8s_run(struct scan_k8s *scan)
{
	for (size_t i = 0; i < K8S_RULE_COUNT; i++)
		scan_report_add_rule(scan->report, &k8s_rules[i]);

	for (size_t i = 0; i < scan->input_count; i++) {
		const struct k8s_stream *stream = scan->inputs[i].stream;
		for (size_t d = 0; stream != NULL && d < k8s_stream_count(stream); d++) {
			const struct k8s_document *doc = k8s_stream_get(stream, d);
			int rc = collect_object(scan, doc->root, 0);
			if (rc != 0)
				return rc;
		}
	}

	for (size_t i = 0; i < scan->input_count && scan->status == 0; i++) {
		const struct k8s_input *input = &scan->inputs[i];
		for (size_t d = 0; input->stream != NULL && d < k8s_stream_count(input->stream);
		     d++) {
			const struct k8s_document *doc = k8s_stream_get(input->stream, d);
			if (doc->root == NULL)
				continue; // an empty document, such as "---" alone
			check_object(scan, input->file, doc->index, doc->root, "", 0);
		}
	}
	return scan->status;
}
