#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Renders deploy/kubernetes with kubectl kustomize, lints it with yamllint
# and checks the settings every workload must carry: seccomp RuntimeDefault,
# no service account token, dropped capabilities, requests and limits and
# probes. The base must contain no Secret, because secrets come from the
# cluster.

source "$(dirname "$0")/lib.sh"

require_cmd kubectl yamllint /usr/bin/python3

base=$COFFER_SOURCE_DIR/deploy/kubernetes
rendered=$E2E_WORK/rendered.yaml

step "kubectl kustomize renders the base"
kubectl kustomize "$base" >"$rendered" 2>"$E2E_WORK/kustomize.err" || {
	cat "$E2E_WORK/kustomize.err" >&2
	fail "kubectl kustomize $base failed (errors above)"
}

step "yamllint passes in strict mode"
yamllint --strict "$base" || fail "yamllint reported problems in $base (above)"

step "the rendered objects carry the required settings"
/usr/bin/python3 - "$rendered" <<'PY' || fail "the rendered manifests miss required settings (above)"
import sys
import yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
problems = []

expected = [
    ("Namespace", "coffer"),
    ("Deployment", "coffer-ca"),
    ("Service", "coffer-ca"),
    ("PersistentVolumeClaim", "coffer-ca-state"),
    ("StatefulSet", "coffer-kms"),
    ("Service", "coffer-kms"),
    ("DaemonSet", "coffer-storage"),
    ("NetworkPolicy", "default-deny"),
    ("NetworkPolicy", "coffer-ca"),
    ("NetworkPolicy", "coffer-kms"),
    ("NetworkPolicy", "coffer-storage"),
]
for kind in expected:
    if kind not in kinds:
        problems.append("missing %s/%s" % kind)

for doc in docs:
    name = "%s/%s" % (doc["kind"], doc["metadata"]["name"])
    if doc["kind"] == "Secret":
        problems.append("%s: the base must not contain Secrets" % name)
    if doc["kind"] != "Namespace" and doc["metadata"].get("namespace") != "coffer":
        problems.append("%s: not in namespace coffer" % name)
    if doc["kind"] not in ("Deployment", "StatefulSet", "DaemonSet"):
        continue
    pod = doc["spec"]["template"]["spec"]
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("%s: automountServiceAccountToken is not false" % name)
    seccomp = pod.get("securityContext", {}).get("seccompProfile", {}).get("type")
    if seccomp != "RuntimeDefault":
        problems.append("%s: pod seccompProfile is %r" % (name, seccomp))
    for container in pod.get("initContainers", []) + pod["containers"]:
        where = "%s container %s" % (name, container["name"])
        security = container.get("securityContext", {})
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append("%s: does not drop ALL capabilities" % where)
        if security.get("readOnlyRootFilesystem") is not True:
            problems.append("%s: root filesystem is not read-only" % where)
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(part, {}):
                    problems.append("%s: no %s.%s" % (where, part, resource))
        for value in container.get("env", []):
            if "value" in value and "valueFrom" not in value:
                problems.append("%s: env %s is a literal" % (where, value["name"]))
    for container in pod["containers"]:
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in container:
                problems.append("%s container %s: no %s" % (name, container["name"], probe))
    if doc["kind"] != "DaemonSet":
        if pod.get("securityContext", {}).get("runAsNonRoot") is not True:
            problems.append("%s: runAsNonRoot is not true" % name)
        for container in pod.get("initContainers", []) + pod["containers"]:
            if container.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
                problems.append("%s container %s: allows privilege escalation"
                                % (name, container["name"]))

for problem in problems:
    print("problem:", problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

echo "PASS"
