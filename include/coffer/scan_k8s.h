// SPDX-License-Identifier: Apache-2.0
// Kubernetes manifest checker. It loads YAML and JSON manifests from files,
// directories and standard input, and adds findings to a scan_report. It
// checks workloads against the Pod Security Standards and best practice,
// RBAC objects for dangerous grants, and storage objects for data stored
// without per-volume encryption.
//
// Usage: scan_k8s_new, then scan_k8s_add_path or scan_k8s_add_buffer for
// each input, then scan_k8s_run once (checks need every document loaded,
// because a claim may name a StorageClass defined in another file).

#ifndef COFFER_SCAN_K8S_H
#define COFFER_SCAN_K8S_H

#include <coffer/scan.h>

// Pod Security Standards level whose controls are checked.
enum scan_k8s_profile {
	SCAN_K8S_PROFILE_BASELINE,
	SCAN_K8S_PROFILE_RESTRICTED,
};

// Parses "baseline" or "restricted"; returns 0 or -EINVAL.
int scan_k8s_profile_parse(const char *name, enum scan_k8s_profile *profile);

// The CSI driver name reserved for coffer's encrypting provisioner, which
// is planned but not yet written. It is always treated as encrypting, in
// addition to the configured provisioners.
#define SCAN_K8S_COFFER_PROVISIONER "csi.coffer.io"

struct scan_k8s_options {
	enum scan_k8s_profile profile;
	// Ignored rules, severity overrides and encrypted provisioners and
	// storage classes; may be NULL. Must outlive the scan.
	const struct scan_config *config;
};

struct scan_k8s;

// Returns a new scan that adds findings to report (which must outlive the
// scan), or NULL when out of memory.
struct scan_k8s *scan_k8s_new(const struct scan_k8s_options *options,
			      struct scan_report *report);
void scan_k8s_free(struct scan_k8s *scan);

// Loads a file, a directory (searched recursively for *.yaml, *.yml and
// *.json, skipping hidden entries and symbolic links to directories), or
// "-" for standard input (reported as file "-"). A file that cannot be
// read or parsed, and a directory without any matching file, are recorded
// as input errors (see scan_k8s_error), and loading goes on with the next
// file. Documents parsed before a syntax error in the same file are kept.
// Returns 0, or the first negative errno of this call.
int scan_k8s_add_path(struct scan_k8s *scan, const char *path);

// Loads a stream held in memory; name is the file name used in findings.
int scan_k8s_add_buffer(struct scan_k8s *scan, const char *name, const char *data,
			size_t size);

// Runs every check over the documents loaded so far. Returns 0 or -ENOMEM.
int scan_k8s_run(struct scan_k8s *scan);

// Input errors recorded so far, each "FILE: line L column C: MESSAGE".
size_t scan_k8s_error_count(const struct scan_k8s *scan);
const char *scan_k8s_error(const struct scan_k8s *scan, size_t i);

// Number of documents loaded (empty documents included).
size_t scan_k8s_document_count(const struct scan_k8s *scan);

// The rule table, for help output and documentation checks.
const struct scan_rule *scan_k8s_rules(size_t *count);

#endif
