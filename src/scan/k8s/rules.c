// SPDX-License-Identifier: Apache-2.0
// The Kubernetes checker's rule table. Each rule has a page under
// docs/rules/ with examples and the equivalent checks of other tools.

#include "scan/k8s/k8s.h"

#define RULE(id_, severity_, title_, description_, fix_)                          \
	{                                                                         \
		.id = id_, .severity = severity_, .title = title_,                \
		.description = description_, .fix = fix_,                          \
		.help_uri = "docs/rules/" id_ ".md",                              \
	}

const struct scan_rule k8s_rules[K8S_RULE_COUNT] = {
	[K8S_RULE_HOST_PROCESS] = RULE("PSS-HOST-PROCESS", SCAN_SEV_ERROR,
		"Windows HostProcess container",
		"A HostProcess container runs directly on the Windows node with the node's "
		"privileges; the baseline Pod Security Standard forbids it.",
		"Remove windowsOptions.hostProcess or set it to false."),
	[K8S_RULE_HOST_NAMESPACES] = RULE("PSS-HOST-NAMESPACES", SCAN_SEV_ERROR,
		"Pod shares a host namespace",
		"hostNetwork, hostPID or hostIPC gives the pod the node's network, process "
		"or IPC namespace, so it can see and reach the node's other workloads.",
		"Remove hostNetwork, hostPID and hostIPC or set them to false."),
	[K8S_RULE_PRIVILEGED] = RULE("PSS-PRIVILEGED", SCAN_SEV_ERROR,
		"Privileged container",
		"A privileged container has every capability and the node's devices; it "
		"can take over the node.",
		"Remove securityContext.privileged or set it to false."),
	[K8S_RULE_CAPABILITIES_BASELINE] = RULE("PSS-CAPABILITIES-BASELINE", SCAN_SEV_ERROR,
		"Container adds a capability outside the baseline set",
		"The baseline Pod Security Standard allows adding only AUDIT_WRITE, CHOWN, "
		"DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, "
		"SETPCAP, SETUID and SYS_CHROOT.",
		"Remove the capability from securityContext.capabilities.add."),
	[K8S_RULE_HOST_PATH] = RULE("PSS-HOST-PATH", SCAN_SEV_ERROR,
		"hostPath volume",
		"A hostPath volume exposes a directory of the node to the pod; writes reach "
		"the node and reads can leak other workloads' data.",
		"Use an emptyDir, a configMap or a persistent volume claim instead."),
	[K8S_RULE_HOST_PORTS] = RULE("PSS-HOST-PORTS", SCAN_SEV_ERROR,
		"Container binds a host port",
		"A hostPort opens a port on the node itself, bypassing network policy and "
		"limiting where the pod can be scheduled.",
		"Remove hostPort and expose the pod through a Service."),
	[K8S_RULE_APPARMOR] = RULE("PSS-APPARMOR", SCAN_SEV_ERROR,
		"AppArmor profile disabled or overridden",
		"The baseline Pod Security Standard allows only the runtime's default AppArmor "
		"profile or a profile loaded on the node (Localhost).",
		"Set appArmorProfile.type to RuntimeDefault or Localhost, or remove it."),
	[K8S_RULE_SELINUX] = RULE("PSS-SELINUX", SCAN_SEV_ERROR,
		"Custom SELinux type, user or role",
		"Setting a custom SELinux user or role, or a type other than container_t, "
		"container_init_t, container_kvm_t or container_engine_t, can lift the "
		"container's confinement.",
		"Remove seLinuxOptions.user and .role and use an allowed type."),
	[K8S_RULE_PROC_MOUNT] = RULE("PSS-PROC-MOUNT", SCAN_SEV_ERROR,
		"Unmasked /proc mount",
		"procMount: Unmasked exposes the node's /proc paths that the runtime "
		"normally masks.",
		"Remove securityContext.procMount or set it to Default."),
	[K8S_RULE_SECCOMP_BASELINE] = RULE("PSS-SECCOMP-BASELINE", SCAN_SEV_ERROR,
		"Seccomp explicitly unconfined",
		"A seccomp profile of type Unconfined lets the container make every system "
		"call, including those used in kernel exploits.",
		"Set seccompProfile.type to RuntimeDefault or Localhost."),
	[K8S_RULE_SYSCTLS] = RULE("PSS-SYSCTLS", SCAN_SEV_ERROR,
		"Unsafe sysctl",
		"Only sysctls that are namespaced and isolated per pod are allowed; others "
		"change settings for the whole node.",
		"Remove the sysctl, or set it on the node instead."),
	[K8S_RULE_VOLUME_TYPES] = RULE("PSS-VOLUME-TYPES", SCAN_SEV_WARNING,
		"Volume type outside the restricted set",
		"The restricted Pod Security Standard allows only configMap, csi, downwardAPI, "
		"emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret "
		"volumes; other types reach storage outside a PersistentVolume's control.",
		"Reach the storage through a PersistentVolumeClaim."),
	[K8S_RULE_PRIVILEGE_ESCALATION] = RULE("PSS-PRIVILEGE-ESCALATION", SCAN_SEV_WARNING,
		"Privilege escalation not disabled",
		"Unless allowPrivilegeEscalation is false, a process can gain privileges "
		"through set-user-ID binaries or file capabilities.",
		"Set securityContext.allowPrivilegeEscalation: false in every container."),
	[K8S_RULE_RUN_AS_NON_ROOT] = RULE("PSS-RUN-AS-NON-ROOT", SCAN_SEV_WARNING,
		"Container may run as root",
		"Without runAsNonRoot: true the kubelet starts the container as whatever "
		"user the image names, which is often root.",
		"Set securityContext.runAsNonRoot: true on the pod or every container."),
	[K8S_RULE_RUN_AS_USER] = RULE("PSS-RUN-AS-USER", SCAN_SEV_WARNING,
		"Container runs as user 0",
		"runAsUser: 0 runs the container as root.",
		"Set runAsUser to a non-zero user id, or remove it."),
	[K8S_RULE_SECCOMP_RESTRICTED] = RULE("PSS-SECCOMP-RESTRICTED", SCAN_SEV_WARNING,
		"No seccomp profile",
		"The restricted Pod Security Standard requires an explicit seccomp profile "
		"(RuntimeDefault or Localhost) for every container.",
		"Set securityContext.seccompProfile.type: RuntimeDefault on the pod."),
	[K8S_RULE_CAPABILITIES_RESTRICTED] = RULE("PSS-CAPABILITIES-RESTRICTED", SCAN_SEV_WARNING,
		"Capabilities not dropped",
		"The restricted Pod Security Standard requires every container to drop ALL "
		"capabilities and to add back at most NET_BIND_SERVICE.",
		"Set securityContext.capabilities.drop: [ALL] and add only NET_BIND_SERVICE."),
	[K8S_RULE_IMAGE_NO_TAG] = RULE("K8S-IMAGE-NO-TAG", SCAN_SEV_WARNING,
		"Image without a tag",
		"An image without a tag or digest means latest: each pull may run "
		"different code.",
		"Name a version tag, or better a digest (image@sha256:...)."),
	[K8S_RULE_IMAGE_LATEST] = RULE("K8S-IMAGE-LATEST", SCAN_SEV_WARNING,
		"Image tagged latest",
		"The latest tag moves, so each pull may run different code and rollbacks "
		"do not restore the old version.",
		"Name a version tag, or better a digest (image@sha256:...)."),
	[K8S_RULE_IMAGE_NO_DIGEST] = RULE("K8S-IMAGE-NO-DIGEST", SCAN_SEV_INFO,
		"Image not pinned by digest",
		"A tag can be moved to other content by whoever controls the registry; a "
		"digest names exactly one image.",
		"Append the digest: image:tag@sha256:..."),
	[K8S_RULE_CPU_REQUEST] = RULE("K8S-CPU-REQUEST", SCAN_SEV_WARNING,
		"No CPU request",
		"Without a CPU request the scheduler cannot place the pod by its needs and "
		"the container is first to be starved.",
		"Set resources.requests.cpu."),
	[K8S_RULE_CPU_LIMIT] = RULE("K8S-CPU-LIMIT", SCAN_SEV_WARNING,
		"No CPU limit",
		"Without a CPU limit one container can take every CPU of the node.",
		"Set resources.limits.cpu."),
	[K8S_RULE_MEMORY_REQUEST] = RULE("K8S-MEMORY-REQUEST", SCAN_SEV_WARNING,
		"No memory request",
		"Without a memory request the scheduler cannot place the pod by its needs "
		"and the container is first to be evicted.",
		"Set resources.requests.memory."),
	[K8S_RULE_MEMORY_LIMIT] = RULE("K8S-MEMORY-LIMIT", SCAN_SEV_WARNING,
		"No memory limit",
		"Without a memory limit one container can exhaust the node's memory.",
		"Set resources.limits.memory."),
	[K8S_RULE_READONLY_ROOT_FS] = RULE("K8S-READONLY-ROOT-FS", SCAN_SEV_WARNING,
		"Writable root filesystem",
		"A writable root filesystem lets an attacker change the container's "
		"binaries and configuration.",
		"Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes "
		"where the program writes."),
	[K8S_RULE_SA_TOKEN_AUTOMOUNT] = RULE("K8S-SA-TOKEN-AUTOMOUNT", SCAN_SEV_LOW,
		"Service account token mounted",
		"Every container gets a token for the Kubernetes API unless "
		"automountServiceAccountToken is false; a compromised container can use it.",
		"Set automountServiceAccountToken: false on the pod or its service account."),
	[K8S_RULE_DEFAULT_SERVICE_ACCOUNT] = RULE("K8S-DEFAULT-SERVICE-ACCOUNT", SCAN_SEV_LOW,
		"Default service account",
		"Pods that share the namespace's default service account share its "
		"permissions; grants for one workload reach all of them.",
		"Create a service account for the workload and set serviceAccountName."),
	[K8S_RULE_SECRET_IN_ENV] = RULE("K8S-SECRET-IN-ENV", SCAN_SEV_ERROR,
		"Secret written literally in env",
		"A secret value in the manifest is stored in version control and readable by "
		"anyone who can read the workload.",
		"Move the value to a Secret and use valueFrom.secretKeyRef."),
	[K8S_RULE_RUNTIME_SOCKET] = RULE("K8S-RUNTIME-SOCKET", SCAN_SEV_ERROR,
		"Container runtime socket mounted",
		"The container runtime's socket (Docker, containerd, CRI-O, Podman) gives "
		"full control over every container on the node.",
		"Remove the hostPath volume of the runtime socket."),
	[K8S_RULE_LIVENESS_PROBE] = RULE("K8S-LIVENESS-PROBE", SCAN_SEV_INFO,
		"No liveness probe",
		"Without a liveness probe the kubelet cannot restart a container that hangs.",
		"Add a livenessProbe."),
	[K8S_RULE_READINESS_PROBE] = RULE("K8S-READINESS-PROBE", SCAN_SEV_INFO,
		"No readiness probe",
		"Without a readiness probe a Service sends traffic to the container before "
		"it can serve.",
		"Add a readinessProbe."),
	[K8S_RULE_RBAC_WILDCARD] = RULE("K8S-RBAC-WILDCARD", SCAN_SEV_WARNING,
		"Wildcard in an RBAC rule",
		"A * in verbs or resources grants every current and future verb or resource, "
		"including ones added by later API versions.",
		"List the verbs and resources the subject needs."),
	[K8S_RULE_RBAC_CLUSTER_ADMIN] = RULE("K8S-RBAC-CLUSTER-ADMIN", SCAN_SEV_ERROR,
		"Binding to cluster-admin",
		"cluster-admin allows every action on every resource; a subject bound to it "
		"controls the cluster.",
		"Bind a role that grants only what the subject needs."),
	[K8S_RULE_RBAC_SECRETS] = RULE("K8S-RBAC-SECRETS", SCAN_SEV_WARNING,
		"Read access to Secrets",
		"get, list or watch on secrets reveals every credential in scope; list and "
		"watch return the values too.",
		"Grant access to named secrets (resourceNames) or mount them instead."),
	[K8S_RULE_RBAC_ANONYMOUS] = RULE("K8S-RBAC-ANONYMOUS", SCAN_SEV_ERROR,
		"Binding to anonymous users",
		"A binding to system:anonymous or system:unauthenticated grants the role to "
		"anyone who can reach the API server.",
		"Remove the subject; bind authenticated users or service accounts."),
	[K8S_RULE_CLAIM_UNENCRYPTED] = RULE("K8S-CLAIM-UNENCRYPTED", SCAN_SEV_WARNING,
		"Volume claim without per-volume encryption",
		"The claim's storage class is not known to use an encrypting provisioner, so "
		"its data is stored without per-volume encryption.",
		"Use a storage class whose provisioner encrypts each volume, and list that "
		"provisioner under k8s.encrypted-provisioners (or the class under "
		"k8s.encrypted-storage-classes) in .coffer.yaml."),
	[K8S_RULE_STORAGE_CLASS_UNENCRYPTED] = RULE("K8S-STORAGECLASS-UNENCRYPTED",
		SCAN_SEV_WARNING,
		"Storage class without per-volume encryption",
		"The storage class's provisioner is not known to encrypt, so volumes it "
		"provisions store data without per-volume encryption.",
		"Use a provisioner that encrypts each volume, and list it under "
		"k8s.encrypted-provisioners (or the class under k8s.encrypted-storage-classes) "
		"in .coffer.yaml."),
	[K8S_RULE_SKIPPED] = RULE("K8S-SKIPPED", SCAN_SEV_INFO,
		"Document not checked",
		"The document is not a Kubernetes object, or its kind is one that coffer "
		"does not check (such as a custom resource).",
		"None needed; add coffer.io/ignore: K8S-SKIPPED to silence it."),
};

const enum k8s_rule_level k8s_rule_levels[K8S_RULE_COUNT] = {
	[K8S_RULE_HOST_PROCESS] = K8S_LEVEL_BASELINE,
	[K8S_RULE_HOST_NAMESPACES] = K8S_LEVEL_BASELINE,
	[K8S_RULE_PRIVILEGED] = K8S_LEVEL_BASELINE,
	[K8S_RULE_CAPABILITIES_BASELINE] = K8S_LEVEL_BASELINE,
	[K8S_RULE_HOST_PATH] = K8S_LEVEL_BASELINE,
	[K8S_RULE_HOST_PORTS] = K8S_LEVEL_BASELINE,
	[K8S_RULE_APPARMOR] = K8S_LEVEL_BASELINE,
	[K8S_RULE_SELINUX] = K8S_LEVEL_BASELINE,
	[K8S_RULE_PROC_MOUNT] = K8S_LEVEL_BASELINE,
	[K8S_RULE_SECCOMP_BASELINE] = K8S_LEVEL_BASELINE,
	[K8S_RULE_SYSCTLS] = K8S_LEVEL_BASELINE,
	[K8S_RULE_VOLUME_TYPES] = K8S_LEVEL_RESTRICTED,
	[K8S_RULE_PRIVILEGE_ESCALATION] = K8S_LEVEL_RESTRICTED,
	[K8S_RULE_RUN_AS_NON_ROOT] = K8S_LEVEL_RESTRICTED,
	[K8S_RULE_RUN_AS_USER] = K8S_LEVEL_RESTRICTED,
	[K8S_RULE_SECCOMP_RESTRICTED] = K8S_LEVEL_RESTRICTED,
	[K8S_RULE_CAPABILITIES_RESTRICTED] = K8S_LEVEL_RESTRICTED,
	[K8S_RULE_IMAGE_NO_TAG] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_IMAGE_LATEST] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_IMAGE_NO_DIGEST] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_CPU_REQUEST] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_CPU_LIMIT] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_MEMORY_REQUEST] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_MEMORY_LIMIT] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_READONLY_ROOT_FS] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_SA_TOKEN_AUTOMOUNT] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_DEFAULT_SERVICE_ACCOUNT] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_SECRET_IN_ENV] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_RUNTIME_SOCKET] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_LIVENESS_PROBE] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_READINESS_PROBE] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_RBAC_WILDCARD] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_RBAC_CLUSTER_ADMIN] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_RBAC_SECRETS] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_RBAC_ANONYMOUS] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_CLAIM_UNENCRYPTED] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_STORAGE_CLASS_UNENCRYPTED] = K8S_LEVEL_ALWAYS,
	[K8S_RULE_SKIPPED] = K8S_LEVEL_ALWAYS,
};

const struct scan_rule *scan_k8s_rules(size_t *count)
{
	*count = K8S_RULE_COUNT;
	return k8s_rules;
}
