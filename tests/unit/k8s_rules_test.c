// SPDX-License-Identifier: Apache-2.0
// Every Kubernetes check against manifests that must trigger it (at the
// expected line) and manifests that must not. Pod Security Standards cases
// cover each allowed value and the first disallowed one. Further tests cover
// suppression, configuration, profiles, List expansion and finding fields.

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <coffer/scan_k8s.h>

// The case table leaves trailing fields out; C zero-initialises them.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

// Lines 1-5 of every pod manifest below.
#define POD "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n"
// Lines 6-8: one container.
#define C1 "  containers:\n  - name: c\n    image: nginx:1.25\n"
// Line 9 opens the container's securityContext; its fields start at line 10.
#define C1_SC C1 "    securityContext:\n"
#define WINDOWS "  os:\n    name: windows\n"

struct rule_case {
	const char *rule;
	int line; // expected line of the finding; 0 when the rule must not trigger
	const char *manifest; // may hold one %s, replaced by value
	const char *value;
	const char *config;   // .coffer.yaml text, or NULL
	bool baseline;        // --profile baseline instead of restricted
};

static const struct rule_case cases[] = {
	// ---- PSS-HOST-PROCESS ----------------------------------------------------
	{ "PSS-HOST-PROCESS", 8, POD "  securityContext:\n    windowsOptions:\n      hostProcess: true\n" C1 },
	{ "PSS-HOST-PROCESS", 11, POD C1_SC "      windowsOptions:\n        hostProcess: %s\n", "true" },
	{ "PSS-HOST-PROCESS", 0, POD C1_SC "      windowsOptions:\n        hostProcess: %s\n", "false" },
	{ "PSS-HOST-PROCESS", 0, POD C1_SC "      windowsOptions:\n        runAsUserName: app\n" },
	{ "PSS-HOST-PROCESS", 0, POD "  securityContext:\n    windowsOptions:\n      hostProcess: false\n" C1 },

	// ---- PSS-HOST-NAMESPACES -------------------------------------------------
	{ "PSS-HOST-NAMESPACES", 6, POD "  hostNetwork: %s\n" C1, "true" },
	{ "PSS-HOST-NAMESPACES", 6, POD "  hostPID: true\n" C1 },
	{ "PSS-HOST-NAMESPACES", 6, POD "  hostIPC: true\n" C1 },
	{ "PSS-HOST-NAMESPACES", 0, POD "  hostNetwork: %s\n" C1, "false" },
	{ "PSS-HOST-NAMESPACES", 0, POD "  hostPID: false\n  hostIPC: false\n" C1 },
	{ "PSS-HOST-NAMESPACES", 0, POD C1 },

	// ---- PSS-PRIVILEGED ------------------------------------------------------
	{ "PSS-PRIVILEGED", 10, POD C1_SC "      privileged: %s\n", "true" },
	{ "PSS-PRIVILEGED", 10, POD "  initContainers:\n  - name: i\n    image: busybox:1.36\n"
				"    securityContext:\n      privileged: true\n" C1 },
	{ "PSS-PRIVILEGED", 12, POD C1 "  ephemeralContainers:\n  - name: e\n    securityContext:\n"
				"      privileged: true\n" },
	{ "PSS-PRIVILEGED", 0, POD C1_SC "      privileged: %s\n", "false" },
	{ "PSS-PRIVILEGED", 0, POD C1 },

	// ---- PSS-CAPABILITIES-BASELINE: each allowed value, then disallowed -----
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "AUDIT_WRITE" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "CHOWN" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "DAC_OVERRIDE" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "FOWNER" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "FSETID" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "KILL" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "MKNOD" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "NET_BIND_SERVICE" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "SETFCAP" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "SETGID" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "SETPCAP" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "SETUID" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        add: [%s]\n", "SYS_CHROOT" },
	{ "PSS-CAPABILITIES-BASELINE", 0, POD C1_SC "      capabilities:\n        drop: [ALL]\n" },
	{ "PSS-CAPABILITIES-BASELINE", 11, POD C1_SC "      capabilities:\n        add: [%s]\n", "SYS_ADMIN" },
	{ "PSS-CAPABILITIES-BASELINE", 13, POD C1_SC "      capabilities:\n        add:\n        - CHOWN\n        - NET_RAW\n" },

	// ---- PSS-HOST-PATH -------------------------------------------------------
	{ "PSS-HOST-PATH", 11, POD C1 "  volumes:\n  - name: v\n    hostPath:\n      path: /etc\n" },
	{ "PSS-HOST-PATH", 13, POD C1 "  volumes:\n  - name: a\n    emptyDir: {}\n  - name: v\n    hostPath: {path: /}\n" },
	{ "PSS-HOST-PATH", 0, POD C1 "  volumes:\n  - name: v\n    emptyDir: {}\n" },
	{ "PSS-HOST-PATH", 0, POD C1 },

	// ---- PSS-HOST-PORTS: undefined, 0, then a port ---------------------------
	{ "PSS-HOST-PORTS", 0, POD C1 "    ports:\n    - containerPort: 80\n" },
	{ "PSS-HOST-PORTS", 0, POD C1 "    ports:\n    - containerPort: 80\n      hostPort: %s\n", "0" },
	{ "PSS-HOST-PORTS", 11, POD C1 "    ports:\n    - containerPort: 80\n      hostPort: %s\n", "1" },
	{ "PSS-HOST-PORTS", 11, POD C1 "    ports:\n    - containerPort: 80\n      hostPort: 8080\n" },

	// ---- PSS-APPARMOR: field and annotation values ---------------------------
	{ "PSS-APPARMOR", 0, POD C1_SC "      appArmorProfile:\n        type: %s\n", "RuntimeDefault" },
	{ "PSS-APPARMOR", 0, POD C1_SC "      appArmorProfile:\n        type: %s\n", "Localhost" },
	{ "PSS-APPARMOR", 0, POD C1 },
	{ "PSS-APPARMOR", 11, POD C1_SC "      appArmorProfile:\n        type: %s\n", "Unconfined" },
	{ "PSS-APPARMOR", 8, POD "  securityContext:\n    appArmorProfile:\n      type: Unconfined\n" C1 },
	{ "PSS-APPARMOR", 0, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
			     "    container.apparmor.security.beta.kubernetes.io/c: %s\nspec:\n" C1,
	  "runtime/default" },
	{ "PSS-APPARMOR", 0, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
			     "    container.apparmor.security.beta.kubernetes.io/c: %s\nspec:\n" C1,
	  "localhost/k8s-nginx" },
	{ "PSS-APPARMOR", 6, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
			     "    container.apparmor.security.beta.kubernetes.io/c: %s\nspec:\n" C1,
	  "unconfined" },

	// ---- PSS-SELINUX: each allowed type, then a custom type, user, role -----
	{ "PSS-SELINUX", 0, POD C1_SC "      seLinuxOptions:\n        type: \"%s\"\n", "" },
	{ "PSS-SELINUX", 0, POD C1_SC "      seLinuxOptions:\n        type: %s\n", "container_t" },
	{ "PSS-SELINUX", 0, POD C1_SC "      seLinuxOptions:\n        type: %s\n", "container_init_t" },
	{ "PSS-SELINUX", 0, POD C1_SC "      seLinuxOptions:\n        type: %s\n", "container_kvm_t" },
	{ "PSS-SELINUX", 0, POD C1_SC "      seLinuxOptions:\n        type: %s\n", "container_engine_t" },
	{ "PSS-SELINUX", 0, POD C1_SC "      seLinuxOptions:\n        level: \"s0:c123,c456\"\n" },
	{ "PSS-SELINUX", 11, POD C1_SC "      seLinuxOptions:\n        type: %s\n", "spc_t" },
	{ "PSS-SELINUX", 8, POD "  securityContext:\n    seLinuxOptions:\n      user: system_u\n" C1 },
	{ "PSS-SELINUX", 11, POD C1_SC "      seLinuxOptions:\n        role: sysadm_r\n" },

	// ---- PSS-PROC-MOUNT ------------------------------------------------------
	{ "PSS-PROC-MOUNT", 0, POD C1_SC "      procMount: %s\n", "Default" },
	{ "PSS-PROC-MOUNT", 0, POD C1 },
	{ "PSS-PROC-MOUNT", 0, POD "  hostUsers: false\n" C1_SC "      procMount: Unmasked\n", .baseline = true },
	{ "PSS-PROC-MOUNT", 11, POD "  hostUsers: false\n" C1_SC "      procMount: Unmasked\n" },
	{ "PSS-PROC-MOUNT", 10, POD C1_SC "      procMount: %s\n", "Unmasked" },
	{ "PSS-PROC-MOUNT", 10, POD "  initContainers:\n  - name: i\n    image: busybox:1.36\n"
				"    securityContext:\n      procMount: Unmasked\n" C1 },

	// ---- PSS-SECCOMP-BASELINE ------------------------------------------------
	{ "PSS-SECCOMP-BASELINE", 0, POD C1_SC "      seccompProfile:\n        type: %s\n", "RuntimeDefault" },
	{ "PSS-SECCOMP-BASELINE", 0, POD C1_SC "      seccompProfile:\n        type: %s\n", "Localhost" },
	{ "PSS-SECCOMP-BASELINE", 0, POD C1 },
	{ "PSS-SECCOMP-BASELINE", 11, POD C1_SC "      seccompProfile:\n        type: %s\n", "Unconfined" },
	{ "PSS-SECCOMP-BASELINE", 8, POD "  securityContext:\n    seccompProfile:\n      type: Unconfined\n" C1 },

	// ---- PSS-SYSCTLS: each safe sysctl, then unsafe ones ---------------------
#define SYSCTL POD "  securityContext:\n    sysctls:\n    - name: %s\n      value: \"1\"\n" C1
	{ "PSS-SYSCTLS", 0, SYSCTL, "kernel.shm_rmid_forced" },
	{ "PSS-SYSCTLS", 0, SYSCTL, "net.ipv4.ip_local_port_range" },
	{ "PSS-SYSCTLS", 0, SYSCTL, "net.ipv4.ip_unprivileged_port_start" },
	{ "PSS-SYSCTLS", 0, SYSCTL, "net.ipv4.tcp_syncookies" },
	{ "PSS-SYSCTLS", 0, SYSCTL, "net.ipv4.ping_group_range" },
	{ "PSS-SYSCTLS", 0, SYSCTL, "net.ipv4.ip_local_reserved_ports" },
	{ "PSS-SYSCTLS", 0, SYSCTL, "net.ipv4.tcp_keepalive_time" },
	{ "PSS-SYSCTLS", 0, SYSCTL, "net.ipv4.tcp_fin_timeout" },
	{ "PSS-SYSCTLS", 0, SYSCTL, "net.ipv4.tcp_keepalive_intvl" },
	{ "PSS-SYSCTLS", 0, SYSCTL, "net.ipv4.tcp_keepalive_probes" },
	{ "PSS-SYSCTLS", 0, SYSCTL, "net.ipv4.tcp_rmem" },
	{ "PSS-SYSCTLS", 0, SYSCTL, "net.ipv4.tcp_wmem" },
	{ "PSS-SYSCTLS", 8, SYSCTL, "kernel.msgmax" },
	{ "PSS-SYSCTLS", 8, SYSCTL, "net.core.somaxconn" },

	// ---- PSS-VOLUME-TYPES: each allowed type, then others --------------------
#define VOLUME POD C1 "  volumes:\n  - name: v\n    %s\n"
	{ "PSS-VOLUME-TYPES", 0, VOLUME, "configMap: {name: cm}" },
	{ "PSS-VOLUME-TYPES", 0, VOLUME, "csi: {driver: csi.coffer.io}" },
	{ "PSS-VOLUME-TYPES", 0, VOLUME, "downwardAPI: {items: []}" },
	{ "PSS-VOLUME-TYPES", 0, VOLUME, "emptyDir: {}" },
	{ "PSS-VOLUME-TYPES", 0, VOLUME, "ephemeral: {volumeClaimTemplate: {spec: {storageClassName: x}}}" },
	{ "PSS-VOLUME-TYPES", 0, VOLUME, "image: {reference: nginx:1.25}" },
	{ "PSS-VOLUME-TYPES", 0, VOLUME, "persistentVolumeClaim: {claimName: data}" },
	{ "PSS-VOLUME-TYPES", 0, VOLUME, "projected: {sources: []}" },
	{ "PSS-VOLUME-TYPES", 0, VOLUME, "secret: {secretName: s}" },
	{ "PSS-VOLUME-TYPES", 11, VOLUME, "hostPath: {path: /data}" },
	{ "PSS-VOLUME-TYPES", 11, VOLUME, "nfs: {server: nfs.example, path: /}" },
	{ "PSS-VOLUME-TYPES", 11, VOLUME, "gitRepo: {repository: x}" },
	{ "PSS-VOLUME-TYPES", 0, VOLUME, "nfs: {server: nfs.example, path: /}", .baseline = true },

	// ---- PSS-PRIVILEGE-ESCALATION --------------------------------------------
	{ "PSS-PRIVILEGE-ESCALATION", 0, POD C1_SC "      allowPrivilegeEscalation: %s\n", "false" },
	{ "PSS-PRIVILEGE-ESCALATION", 10, POD C1_SC "      allowPrivilegeEscalation: %s\n", "true" },
	{ "PSS-PRIVILEGE-ESCALATION", 7, POD C1 },
	{ "PSS-PRIVILEGE-ESCALATION", 0, POD WINDOWS C1 },
	{ "PSS-PRIVILEGE-ESCALATION", 0, POD C1, .baseline = true },

	// ---- PSS-RUN-AS-NON-ROOT -------------------------------------------------
	{ "PSS-RUN-AS-NON-ROOT", 0, POD "  securityContext:\n    runAsNonRoot: true\n" C1 },
	{ "PSS-RUN-AS-NON-ROOT", 0, POD C1_SC "      runAsNonRoot: %s\n", "true" },
	{ "PSS-RUN-AS-NON-ROOT", 10, POD C1_SC "      runAsNonRoot: %s\n", "false" },
	{ "PSS-RUN-AS-NON-ROOT", 12, POD "  securityContext:\n    runAsNonRoot: true\n" C1
				     "    securityContext:\n      runAsNonRoot: false\n" },
	{ "PSS-RUN-AS-NON-ROOT", 7, POD "  securityContext:\n    runAsNonRoot: false\n" C1 },
	{ "PSS-RUN-AS-NON-ROOT", 7, POD C1 },
	{ "PSS-RUN-AS-NON-ROOT", 0, POD "  hostUsers: false\n" C1 },
	{ "PSS-RUN-AS-NON-ROOT", 8, POD "  hostUsers: true\n" C1 },

	// ---- PSS-RUN-AS-USER -----------------------------------------------------
	{ "PSS-RUN-AS-USER", 0, POD C1_SC "      runAsUser: %s\n", "1000" },
	{ "PSS-RUN-AS-USER", 0, POD C1_SC "      runAsUser: %s\n", "1" },
	{ "PSS-RUN-AS-USER", 0, POD C1 },
	{ "PSS-RUN-AS-USER", 10, POD C1_SC "      runAsUser: %s\n", "0" },
	{ "PSS-RUN-AS-USER", 7, POD "  securityContext:\n    runAsUser: 0\n" C1 },
	{ "PSS-RUN-AS-USER", 0, POD "  hostUsers: false\n  securityContext:\n    runAsUser: 0\n" C1 },

	// ---- PSS-SECCOMP-RESTRICTED ----------------------------------------------
	{ "PSS-SECCOMP-RESTRICTED", 0, POD "  securityContext:\n    seccompProfile:\n      type: %s\n" C1, "RuntimeDefault" },
	{ "PSS-SECCOMP-RESTRICTED", 0, POD C1_SC "      seccompProfile:\n        type: %s\n", "Localhost" },
	{ "PSS-SECCOMP-RESTRICTED", 9, POD C1_SC "      runAsNonRoot: true\n" },
	{ "PSS-SECCOMP-RESTRICTED", 7, POD C1 },
	{ "PSS-SECCOMP-RESTRICTED", 0, POD WINDOWS C1 },

	// ---- PSS-CAPABILITIES-RESTRICTED -----------------------------------------
	{ "PSS-CAPABILITIES-RESTRICTED", 0, POD C1_SC "      capabilities:\n        drop: [%s]\n", "ALL" },
	{ "PSS-CAPABILITIES-RESTRICTED", 0, POD C1_SC "      capabilities:\n        drop: [ALL]\n        add: [%s]\n", "NET_BIND_SERVICE" },
	{ "PSS-CAPABILITIES-RESTRICTED", 12, POD C1_SC "      capabilities:\n        drop: [ALL]\n        add: [%s]\n", "CHOWN" },
	{ "PSS-CAPABILITIES-RESTRICTED", 11, POD C1_SC "      capabilities:\n        drop: [%s]\n", "NET_RAW" },
	{ "PSS-CAPABILITIES-RESTRICTED", 7, POD C1 },
	{ "PSS-CAPABILITIES-RESTRICTED", 0, POD WINDOWS C1 },

	// ---- images --------------------------------------------------------------
#define IMAGE POD "  containers:\n  - name: c\n    image: %s\n"
	{ "K8S-IMAGE-NO-TAG", 8, IMAGE, "nginx" },
	{ "K8S-IMAGE-NO-TAG", 8, IMAGE, "registry.example:5000/team/app" },
	{ "K8S-IMAGE-NO-TAG", 0, IMAGE, "nginx:1.25" },
	{ "K8S-IMAGE-NO-TAG", 0, IMAGE, "nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31" },
	{ "K8S-IMAGE-LATEST", 8, IMAGE, "nginx:latest" },
	{ "K8S-IMAGE-LATEST", 8, IMAGE, "registry.example:5000/app:latest" },
	{ "K8S-IMAGE-LATEST", 0, IMAGE, "nginx:1.25" },
	{ "K8S-IMAGE-LATEST", 0, IMAGE, "nginx:latest@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31" },
	{ "K8S-IMAGE-NO-DIGEST", 8, IMAGE, "nginx:1.25" },
	{ "K8S-IMAGE-NO-DIGEST", 8, IMAGE, "registry.example:5000/team/app:v1" },
	{ "K8S-IMAGE-NO-DIGEST", 0, IMAGE, "nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31" },
	{ "K8S-IMAGE-NO-DIGEST", 0, IMAGE, "nginx:1.25@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31" },

	// ---- resources -----------------------------------------------------------
#define RESOURCES POD C1 "    resources:\n      requests: {%s}\n      limits: {%s}\n"
	{ "K8S-CPU-REQUEST", 7, POD C1 },
	{ "K8S-CPU-REQUEST", 9, POD C1 "    resources:\n      requests:\n        memory: 64Mi\n" },
	{ "K8S-CPU-REQUEST", 0, POD C1 "    resources:\n      requests:\n        cpu: %s\n", "100m" },
	{ "K8S-CPU-REQUEST", 0, POD C1 "    resources:\n      requests:\n        cpu: %s\n", "1" },
	{ "K8S-CPU-LIMIT", 7, POD C1 },
	{ "K8S-CPU-LIMIT", 9, POD C1 "    resources:\n      requests:\n        cpu: 100m\n" },
	{ "K8S-CPU-LIMIT", 0, POD C1 "    resources:\n      limits:\n        cpu: %s\n", "500m" },
	{ "K8S-CPU-LIMIT", 0, POD C1 "    resources:\n      limits: {cpu: 2, memory: 1Gi}\n" },
	{ "K8S-MEMORY-REQUEST", 7, POD C1 },
	{ "K8S-MEMORY-REQUEST", 9, POD C1 "    resources:\n      limits:\n        memory: 64Mi\n" },
	{ "K8S-MEMORY-REQUEST", 0, POD C1 "    resources:\n      requests:\n        memory: %s\n", "64Mi" },
	{ "K8S-MEMORY-REQUEST", 0, POD C1 "    resources:\n      requests: {cpu: 1, memory: 1Gi}\n" },
	{ "K8S-MEMORY-LIMIT", 7, POD C1 },
	{ "K8S-MEMORY-LIMIT", 9, POD C1 "    resources:\n      requests:\n        memory: 64Mi\n" },
	{ "K8S-MEMORY-LIMIT", 0, POD C1 "    resources:\n      limits:\n        memory: %s\n", "128Mi" },
	{ "K8S-MEMORY-LIMIT", 0, POD C1 "    resources:\n      limits: {memory: 1Gi}\n" },

	// ---- root filesystem -----------------------------------------------------
	{ "K8S-READONLY-ROOT-FS", 7, POD C1 },
	{ "K8S-READONLY-ROOT-FS", 10, POD C1_SC "      readOnlyRootFilesystem: %s\n", "false" },
	{ "K8S-READONLY-ROOT-FS", 0, POD C1_SC "      readOnlyRootFilesystem: %s\n", "true" },
	{ "K8S-READONLY-ROOT-FS", 0, POD C1_SC "      readOnlyRootFilesystem: true\n"
				     "  ephemeralContainers:\n  - name: debug\n    image: busybox:1.36\n" },

	// ---- service account -----------------------------------------------------
	{ "K8S-SA-TOKEN-AUTOMOUNT", 5, POD C1 },
	{ "K8S-SA-TOKEN-AUTOMOUNT", 6, POD "  automountServiceAccountToken: %s\n" C1, "true" },
	{ "K8S-SA-TOKEN-AUTOMOUNT", 0, POD "  automountServiceAccountToken: %s\n" C1, "false" },
	{ "K8S-SA-TOKEN-AUTOMOUNT", 0, POD "  serviceAccountName: app\n" C1
				       "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n"
				       "  name: app\nautomountServiceAccountToken: false\n" },
	{ "K8S-SA-TOKEN-AUTOMOUNT", 5, POD "  serviceAccountName: other\n" C1
				       "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n"
				       "  name: app\nautomountServiceAccountToken: false\n" },
	{ "K8S-DEFAULT-SERVICE-ACCOUNT", 5, POD C1 },
	{ "K8S-DEFAULT-SERVICE-ACCOUNT", 6, POD "  serviceAccountName: %s\n" C1, "default" },
	{ "K8S-DEFAULT-SERVICE-ACCOUNT", 0, POD "  serviceAccountName: %s\n" C1, "app" },
	{ "K8S-DEFAULT-SERVICE-ACCOUNT", 0, POD "  serviceAccount: app\n" C1 },

	// ---- secrets in env ------------------------------------------------------
#define ENV POD C1 "    env:\n    - name: %s\n"
	{ "K8S-SECRET-IN-ENV", 11, ENV "      value: hunter2\n", "DB_PASSWORD" },
	{ "K8S-SECRET-IN-ENV", 11, ENV "      value: \"ghp_0123456789\"\n", "GITHUB_TOKEN" },
	{ "K8S-SECRET-IN-ENV", 11, ENV "      value: AKIAEXAMPLE\n", "aws_secret_access_key" },
	{ "K8S-SECRET-IN-ENV", 0, ENV "      valueFrom:\n        secretKeyRef: {name: db, key: password}\n", "DB_PASSWORD" },
	{ "K8S-SECRET-IN-ENV", 0, ENV "      value: /run/secrets/db\n", "DB_PASSWORD_FILE" },
	{ "K8S-SECRET-IN-ENV", 0, ENV "      value: debug\n", "LOG_LEVEL" },
	{ "K8S-SECRET-IN-ENV", 0, ENV "      value: \"$(DB_PASSWORD)\"\n", "PASSWORD" },

	// ---- runtime socket ------------------------------------------------------
#define HOSTPATH POD C1 "  volumes:\n  - name: v\n    hostPath:\n      path: %s\n"
	{ "K8S-RUNTIME-SOCKET", 12, HOSTPATH, "/var/run/docker.sock" },
	{ "K8S-RUNTIME-SOCKET", 12, HOSTPATH, "/run/containerd/containerd.sock" },
	{ "K8S-RUNTIME-SOCKET", 12, HOSTPATH, "/var/run/" },
	{ "K8S-RUNTIME-SOCKET", 0, HOSTPATH, "/data" },
	{ "K8S-RUNTIME-SOCKET", 0, HOSTPATH, "/var/log" },

	// ---- probes --------------------------------------------------------------
#define DEPLOYMENT "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n" \
	"  template:\n    spec:\n      containers:\n      - name: c\n        image: nginx:1.25\n"
	{ "K8S-LIVENESS-PROBE", 9, DEPLOYMENT },
	{ "K8S-LIVENESS-PROBE", 7, POD C1 },
	{ "K8S-LIVENESS-PROBE", 0, DEPLOYMENT "        livenessProbe:\n          httpGet: {path: /, port: 80}\n" },
	{ "K8S-LIVENESS-PROBE", 0, "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n"
				   "  template:\n    spec:\n      containers:\n      - name: c\n"
				   "        image: busybox:1.36\n" },
	{ "K8S-READINESS-PROBE", 9, DEPLOYMENT },
	{ "K8S-READINESS-PROBE", 7, POD C1 },
	{ "K8S-READINESS-PROBE", 0, DEPLOYMENT "        readinessProbe:\n          tcpSocket: {port: 80}\n" },
	{ "K8S-READINESS-PROBE", 0, "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: j\nspec:\n"
				    "  schedule: \"@daily\"\n  jobTemplate:\n    spec:\n      template:\n"
				    "        spec:\n          containers:\n          - name: c\n"
				    "            image: busybox:1.36\n" },

	// ---- RBAC ----------------------------------------------------------------
#define ROLE "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n" \
	"rules:\n- apiGroups: [\"\"]\n"
	{ "K8S-RBAC-WILDCARD", 8, ROLE "  resources: [pods]\n  verbs: [\"*\"]\n" },
	{ "K8S-RBAC-WILDCARD", 8, ROLE "  resources:\n  - \"*\"\n  verbs: [get]\n" },
	{ "K8S-RBAC-WILDCARD", 0, ROLE "  resources: [pods]\n  verbs: [get, list]\n" },
	{ "K8S-RBAC-WILDCARD", 0, "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n"
				  "  name: r\nrules:\n- apiGroups: [\"*\"]\n  resources: [pods]\n  verbs: [get]\n" },
	{ "K8S-RBAC-SECRETS", 7, ROLE "  resources: [secrets]\n  verbs: [get]\n" },
	{ "K8S-RBAC-SECRETS", 7, ROLE "  resources: [configmaps, secrets]\n  verbs: [watch]\n" },
	{ "K8S-RBAC-SECRETS", 0, ROLE "  resources: [configmaps]\n  verbs: [get, list]\n" },
	{ "K8S-RBAC-SECRETS", 0, ROLE "  resources: [secrets]\n  resourceNames: [tls]\n  verbs: [get]\n" },
	{ "K8S-RBAC-SECRETS", 0, ROLE "  resources: [secrets]\n  verbs: [create, delete]\n" },
#define BINDING "apiVersion: rbac.authorization.k8s.io/v1\nkind: %s\nmetadata:\n  name: b\n" \
	"roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: %s\n" \
	"subjects:\n- kind: ServiceAccount\n  name: app\n  namespace: default\n"
	{ "K8S-RBAC-CLUSTER-ADMIN", 8, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
				       "metadata:\n  name: b\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
				       "  kind: ClusterRole\n  name: %s\n", "cluster-admin" },
	{ "K8S-RBAC-CLUSTER-ADMIN", 8, "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
				       "metadata:\n  name: b\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
				       "  kind: ClusterRole\n  name: cluster-admin\n" },
	{ "K8S-RBAC-CLUSTER-ADMIN", 0, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
				       "metadata:\n  name: b\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
				       "  kind: ClusterRole\n  name: %s\n", "view" },
	{ "K8S-RBAC-CLUSTER-ADMIN", 0, "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
				       "metadata:\n  name: b\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
				       "  kind: Role\n  name: cluster-admin\n" },
#define SUBJECT "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n" \
	"  name: b\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: view\n" \
	"subjects:\n- kind: %s\n"
	{ "K8S-RBAC-ANONYMOUS", 11, SUBJECT "  name: system:anonymous\n", "User" },
	{ "K8S-RBAC-ANONYMOUS", 11, SUBJECT "  name: system:unauthenticated\n", "Group" },
	{ "K8S-RBAC-ANONYMOUS", 0, SUBJECT "  name: system:authenticated\n", "Group" },
	{ "K8S-RBAC-ANONYMOUS", 0, SUBJECT "  name: app\n  namespace: default\n", "ServiceAccount" },

	// ---- data at rest --------------------------------------------------------
#define PVC "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n" \
	"  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n"
#define CLASS(name, provisioner) "---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\n" \
	"metadata:\n  name: " name "\nprovisioner: " provisioner "\n"
	{ "K8S-CLAIM-UNENCRYPTED", 1, PVC },
	{ "K8S-CLAIM-UNENCRYPTED", 10, PVC "  storageClassName: %s\n", "standard" },
	{ "K8S-CLAIM-UNENCRYPTED", 10, PVC "  storageClassName: fast\n" CLASS("fast", "kubernetes.io/gce-pd") },
	{ "K8S-CLAIM-UNENCRYPTED", 10, PVC "  storageClassName: \"\"\n" },
	{ "K8S-CLAIM-UNENCRYPTED", 0, PVC "  storageClassName: secure\n" CLASS("secure", "csi.coffer.io") },
	{ "K8S-CLAIM-UNENCRYPTED", 0, PVC "  storageClassName: %s\n", "vault", "k8s:\n  encrypted-storage-classes: [vault]\n" },
	{ "K8S-CLAIM-UNENCRYPTED", 0, PVC "  storageClassName: ebs\n" CLASS("ebs", "ebs.csi.aws.com"),
	  NULL, "k8s:\n  encrypted-provisioners: [ebs.csi.aws.com]\n" },
	{ "K8S-CLAIM-UNENCRYPTED", 12, "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n"
				       "  template:\n    spec:\n      containers:\n      - {name: c, image: \"pg:16\"}\n"
				       "  volumeClaimTemplates:\n  - metadata: {name: data}\n    spec: {storageClassName: %s}\n",
	  "standard" },
	{ "K8S-CLAIM-UNENCRYPTED", 0, "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n"
				      "  template:\n    spec:\n      containers:\n      - {name: c, image: \"pg:16\"}\n"
				      "  volumeClaimTemplates:\n  - metadata: {name: data}\n    spec: {storageClassName: %s}\n"
				      CLASS("coffer", "csi.coffer.io"), "coffer" },
	{ "K8S-CLAIM-UNENCRYPTED", 13, POD C1 "  volumes:\n  - name: scratch\n    ephemeral:\n"
				       "      volumeClaimTemplate:\n        spec: {storageClassName: local}\n" },
	{ "K8S-STORAGECLASS-UNENCRYPTED", 6, CLASS("fast", "kubernetes.io/aws-ebs") },
	{ "K8S-STORAGECLASS-UNENCRYPTED", 6, CLASS("rbd", "%s"), "ceph.com/rbd" },
	{ "K8S-STORAGECLASS-UNENCRYPTED", 0, CLASS("secure", "%s"), "csi.coffer.io" },
	{ "K8S-STORAGECLASS-UNENCRYPTED", 0, CLASS("ebs", "%s"), "ebs.csi.aws.com",
	  "k8s:\n  encrypted-provisioners: [ebs.csi.aws.com]\n" },

	// ---- documents that are not checked --------------------------------------
	{ "K8S-SKIPPED", 1, "apiVersion: networking.istio.io/v1\nkind: %s\nmetadata:\n  name: g\n", "Gateway" },
	{ "K8S-SKIPPED", 2, "# just data\nfoo: bar\n" },
	{ "K8S-SKIPPED", 2, "---\n- a\n- b\n" },
	{ "K8S-SKIPPED", 0, "apiVersion: v1\nkind: %s\nmetadata:\n  name: s\n", "Service" },
	{ "K8S-SKIPPED", 0, "apiVersion: v1\nkind: %s\nmetadata:\n  name: s\n", "ConfigMap" },
	{ "K8S-SKIPPED", 0, "---\n---\n" },

	// ---- suppression and configuration ---------------------------------------
	{ "PSS-PRIVILEGED", 0, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
			       "    coffer.io/ignore: \"%s\"\nspec:\n" C1 "    securityContext:\n      privileged: true\n",
	  "PSS-PRIVILEGED" },
	{ "PSS-PRIVILEGED", 12, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
				"    coffer.io/ignore: \"%s\"\nspec:\n" C1 "    securityContext:\n      privileged: true\n",
	  "PSS-HOST-PATH, K8S-IMAGE-LATEST" },
	{ "PSS-HOST-NAMESPACES", 0, "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: ds\nspec:\n"
				    "  template:\n    metadata:\n      annotations:\n"
				    "        coffer.io/ignore: K8S-CPU-LIMIT,PSS-HOST-NAMESPACES\n"
				    "    spec:\n      hostNetwork: true\n      containers:\n      - {name: c, image: \"a:1\"}\n" },
	{ "PSS-HOST-NAMESPACES", 11, "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: ds\nspec:\n"
				     "  template:\n    metadata:\n      annotations:\n"
				     "        coffer.io/ignore: PSS-HOST-NAMESPACESX\n"
				     "    spec:\n      hostNetwork: true\n      containers:\n      - {name: c, image: \"a:1\"}\n" },
	{ "PSS-PRIVILEGED", 0, POD C1_SC "      privileged: true\n", NULL, "ignore: [PSS-PRIVILEGED]\n" },
	{ "PSS-RUN-AS-NON-ROOT", 0, POD C1, .baseline = true },
	{ "PSS-PRIVILEGED", 10, POD C1_SC "      privileged: true\n", .baseline = true },

	// ---- every workload kind reaches its pod template ------------------------
#define TEMPLATE(kind) "apiVersion: apps/v1\nkind: " kind "\nmetadata:\n  name: w\nspec:\n" \
	"  template:\n    spec:\n      hostPID: true\n      containers:\n      - {name: c, image: \"a:1\"}\n"
	{ "PSS-HOST-NAMESPACES", 8, TEMPLATE("Deployment") },
	{ "PSS-HOST-NAMESPACES", 8, TEMPLATE("StatefulSet") },
	{ "PSS-HOST-NAMESPACES", 8, TEMPLATE("DaemonSet") },
	{ "PSS-HOST-NAMESPACES", 8, TEMPLATE("ReplicaSet") },
	{ "PSS-HOST-NAMESPACES", 8, TEMPLATE("ReplicationController") },
	{ "PSS-HOST-NAMESPACES", 8, TEMPLATE("Job") },
	{ "PSS-HOST-NAMESPACES", 11, "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: cj\nspec:\n"
				     "  jobTemplate:\n    spec:\n      template:\n        spec:\n"
				     "          containers: [{name: c, image: \"a:1\"}]\n          hostIPC: true\n" },
	{ "PSS-HOST-NAMESPACES", 14, "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n"
				     "  {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"s\"}},\n"
				     "  {\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n"
				     "   \"metadata\": {\"name\": \"p\"},\n"
				     "   \"spec\": {\n"
				     "     \"containers\": [\n"
				     "       {\"name\": \"c\",\n"
				     "        \"image\": \"a:1\"\n"
				     "       }\n"
				     "     ],\n"
				     "     \"volumes\": [],\n"
				     "     \"dnsPolicy\": \"ClusterFirst\",\n"
				     "     \"restartPolicy\": \"Always\",\n"
				     "     \"hostNetwork\": true}}]}\n" },
	// Merge keys and aliases are resolved before checking.
	{ "PSS-PRIVILEGED", 4, "apiVersion: v1\nkind: Pod\nx-context: &context\n  privileged: true\n"
			       "metadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx:1.25\n"
			       "    securityContext:\n      <<: *context\n" },
};

struct outcome {
	struct scan_report *report;
	size_t errors;
};

// Copies template into out with every "%s" replaced by value.
static void substitute(const char *template, const char *value, char *out, size_t size)
{
	size_t used = 0;
	for (const char *p = template; *p != '\0'; p++) {
		const char *piece = p;
		size_t length = 1;
		if (value != NULL && p[0] == '%' && p[1] == 's') {
			piece = value;
			length = strlen(value);
			p++;
		}
		assert_true(used + length < size);
		memcpy(out + used, piece, length);
		used += length;
	}
	out[used] = '\0';
}

static struct outcome run_case(const struct rule_case *c)
{
	char manifest[8192];
	substitute(c->manifest, c->value, manifest, sizeof(manifest));

	struct scan_config config = { 0 };
	struct cf_error err = { 0 };
	const char *config_text = c->config ? c->config : "{}\n";
	int rc = scan_config_load_buffer(&config, config_text, strlen(config_text), "test.yaml",
					 &err);
	if (rc != 0)
		print_error("configuration: %s\n", cf_error_message(&err, rc));
	assert_int_equal(rc, 0);

	struct scan_report *report = scan_report_new("coffer-k8s");
	assert_non_null(report);
	struct scan_k8s_options options = {
		.profile = c->baseline ? SCAN_K8S_PROFILE_BASELINE : SCAN_K8S_PROFILE_RESTRICTED,
		.config = &config,
	};
	struct scan_k8s *scan = scan_k8s_new(&options, report);
	assert_non_null(scan);
	if (scan_k8s_add_buffer(scan, "case.yaml", manifest, strlen(manifest)) != 0)
		print_error("case %s: %s\n%s\n", c->rule, scan_k8s_error(scan, 0), manifest);
	assert_int_equal(scan_k8s_run(scan), 0);

	struct outcome outcome = { .report = report, .errors = scan_k8s_error_count(scan) };
	scan_k8s_free(scan);
	scan_config_free(&config);
	return outcome;
}

static void print_findings(const struct scan_report *report)
{
	for (size_t i = 0; i < scan_report_count(report); i++) {
		const struct scan_finding *f = scan_report_get(report, i);
		print_error("  line %d: %s %s\n", f->location.line, f->rule->id, f->message);
	}
}

static void every_rule_case(void **state)
{
	(void)state;
	size_t failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rule_case *c = &cases[i];
		struct outcome outcome = run_case(c);
		size_t matched = 0, at_line = 0;
		for (size_t k = 0; k < scan_report_count(outcome.report); k++) {
			const struct scan_finding *f = scan_report_get(outcome.report, k);
			if (strcmp(f->rule->id, c->rule) != 0)
				continue;
			matched++;
			if (f->location.line == c->line)
				at_line++;
		}

		bool ok = outcome.errors == 0 && (c->line == 0 ? matched == 0 : at_line > 0);
		if (!ok) {
			failures++;
			print_error("case %zu (%s, value %s): expected %s%d, found %zu finding(s) "
				    "of the rule, %zu input error(s); all findings:\n",
				    i, c->rule, c->value ? c->value : "-",
				    c->line ? "line " : "no finding, line ", c->line, matched,
				    outcome.errors);
			print_findings(outcome.report);
		}
		scan_report_free(outcome.report);
	}
	assert_int_equal(failures, 0);
}

// Each rule has at least two triggering and two clean cases.
static void every_rule_has_cases(void **state)
{
	(void)state;
	size_t count;
	const struct scan_rule *rules = scan_k8s_rules(&count);

	for (size_t r = 0; r < count; r++) {
		size_t triggering = 0, clean = 0;
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			if (strcmp(cases[i].rule, rules[r].id) != 0)
				continue;
			if (cases[i].line > 0)
				triggering++;
			else
				clean++;
		}
		if (triggering < 2 || clean < 2)
			print_error("rule %s has %zu triggering and %zu clean cases\n", rules[r].id,
				    triggering, clean);
		assert_true(triggering >= 2);
		assert_true(clean >= 2);
	}
}

// Each rule's help_uri names a page that exists under docs/rules/.
static void every_rule_has_docs_page(void **state)
{
	(void)state;
	const char *source = getenv("COFFER_SOURCE_DIR");
	assert_non_null(source);
	size_t count;
	const struct scan_rule *rules = scan_k8s_rules(&count);

	for (size_t r = 0; r < count; r++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", source, rules[r].help_uri);
		FILE *page = fopen(path, "r");
		if (page == NULL)
			print_error("rule %s: no page at %s\n", rules[r].id, path);
		assert_non_null(page);
		fclose(page);
	}
}

static json_t *findings_json(const char *manifest)
{
	struct scan_report *report = scan_report_new("coffer-k8s");
	struct scan_k8s_options options = { .profile = SCAN_K8S_PROFILE_RESTRICTED };
	struct scan_k8s *scan = scan_k8s_new(&options, report);
	assert_int_equal(scan_k8s_add_buffer(scan, "fields.yaml", manifest, strlen(manifest)), 0);
	assert_int_equal(scan_k8s_run(scan), 0);
	json_t *document = scan_report_to_json(report);
	assert_non_null(document);
	json_t *findings = json_incref(json_object_get(document, "findings"));
	json_decref(document);
	scan_k8s_free(scan);
	scan_report_free(report);
	return findings;
}

static json_t *find_rule(json_t *findings, const char *rule_id)
{
	size_t i;
	json_t *finding;
	json_array_foreach(findings, i, finding) {
		if (strcmp(json_string_value(json_object_get(finding, "rule_id")), rule_id) == 0)
			return finding;
	}
	return NULL;
}

static void finding_fields_name_object_and_path(void **state)
{
	(void)state;
	json_t *findings = findings_json(
		"apiVersion: v1\nkind: List\nitems:\n"
		"- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: web, namespace: shop}\n"
		"  spec:\n    template:\n      spec:\n        containers:\n"
		"        - name: side\n          image: a:1\n"
		"        - name: app\n          image: b:2\n"
		"          securityContext: {privileged: true}\n");
	json_t *finding = find_rule(findings, "PSS-PRIVILEGED");
	assert_non_null(finding);

	assert_string_equal(json_string_value(json_object_get(finding, "object")),
			    "Deployment/shop/web");
	assert_string_equal(json_string_value(json_object_get(finding, "container")), "app");
	assert_string_equal(json_string_value(json_object_get(finding, "path")),
			    "items[0].spec.template.spec.containers[1].securityContext.privileged");
	assert_string_equal(json_string_value(json_object_get(finding, "file")), "fields.yaml");
	assert_int_equal(json_integer_value(json_object_get(finding, "line")), 15);
	assert_string_equal(json_string_value(json_object_get(finding, "severity")), "error");
	assert_non_null(strstr(json_string_value(json_object_get(finding, "message")),
			       "Deployment/shop/web: container \"app\""));
	json_decref(findings);
}

static void secret_value_stays_out_of_message(void **state)
{
	(void)state;
	json_t *findings = findings_json(POD C1 "    env:\n    - name: API_TOKEN\n"
					 "      value: s3cr3t-value\n");
	json_t *finding = find_rule(findings, "K8S-SECRET-IN-ENV");
	assert_non_null(finding);
	assert_null(strstr(json_string_value(json_object_get(finding, "message")), "s3cr3t"));
	json_decref(findings);
}

static void severity_override_applies(void **state)
{
	(void)state;
	struct rule_case c = { "PSS-PRIVILEGED", 10, POD C1_SC "      privileged: true\n", NULL,
			       "severity:\n  PSS-PRIVILEGED: critical\n" };
	struct outcome outcome = run_case(&c);
	bool seen = false;
	for (size_t i = 0; i < scan_report_count(outcome.report); i++) {
		const struct scan_finding *f = scan_report_get(outcome.report, i);
		if (strcmp(f->rule->id, "PSS-PRIVILEGED") != 0)
			continue;
		seen = true;
		assert_int_equal(f->severity, SCAN_SEV_CRITICAL);
	}
	assert_true(seen);
	scan_report_free(outcome.report);
}

static void input_errors_are_recorded(void **state)
{
	(void)state;
	struct scan_report *report = scan_report_new("coffer-k8s");
	struct scan_k8s_options options = { .profile = SCAN_K8S_PROFILE_RESTRICTED };
	struct scan_k8s *scan = scan_k8s_new(&options, report);

	const char *broken = POD C1_SC "      privileged: true\n---\nkey: [unclosed\n";
	assert_int_equal(scan_k8s_add_buffer(scan, "broken.yaml", broken, strlen(broken)), -EINVAL);
	assert_int_equal(scan_k8s_add_path(scan, "/nonexistent/coffer-k8s-test.yaml"), -ENOENT);
	assert_int_equal(scan_k8s_error_count(scan), 2);
	assert_non_null(strstr(scan_k8s_error(scan, 0), "broken.yaml: line 13"));
	assert_non_null(strstr(scan_k8s_error(scan, 1), "no such file"));

	// The document before the syntax error is still checked.
	assert_int_equal(scan_k8s_run(scan), 0);
	bool privileged = false;
	for (size_t i = 0; i < scan_report_count(report); i++)
		privileged = privileged ||
			     strcmp(scan_report_get(report, i)->rule->id, "PSS-PRIVILEGED") == 0;
	assert_true(privileged);
	scan_k8s_free(scan);
	scan_report_free(report);
}

static void empty_directory_is_input_error(void **state)
{
	(void)state;
	char empty[] = "/tmp/coffer-k8s-empty-XXXXXX";
	assert_non_null(mkdtemp(empty));
	char notes[sizeof(empty) + 16];
	snprintf(notes, sizeof(notes), "%s/README", empty);
	FILE *file = fopen(notes, "w");
	assert_non_null(file);
	fputs("not a manifest\n", file);
	fclose(file);

	struct scan_report *report = scan_report_new("coffer-k8s");
	struct scan_k8s_options options = { .profile = SCAN_K8S_PROFILE_RESTRICTED };
	struct scan_k8s *scan = scan_k8s_new(&options, report);
	assert_int_equal(scan_k8s_add_path(scan, empty), -ENOENT);
	assert_int_equal(scan_k8s_error_count(scan), 1);
	assert_non_null(strstr(scan_k8s_error(scan, 0), empty));
	assert_non_null(strstr(scan_k8s_error(scan, 0), "*.yaml, *.yml and *.json"));

	// A directory with no entries at all is the same error.
	assert_int_equal(unlink(notes), 0);
	assert_int_equal(scan_k8s_add_path(scan, empty), -ENOENT);
	assert_int_equal(scan_k8s_error_count(scan), 2);

	scan_k8s_free(scan);
	scan_report_free(report);
	assert_int_equal(rmdir(empty), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_rule_case),
		cmocka_unit_test(every_rule_has_cases),
		cmocka_unit_test(every_rule_has_docs_page),
		cmocka_unit_test(finding_fields_name_object_and_path),
		cmocka_unit_test(secret_value_stays_out_of_message),
		cmocka_unit_test(severity_override_applies),
		cmocka_unit_test(input_errors_are_recorded),
		cmocka_unit_test(empty_directory_is_input_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
