#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs coffer's own scanners on its Containerfile and its rendered Kubernetes
# manifests: nothing at warning level or above may be reported, apart from
# the exceptions suppressed in place and explained in
# deploy/scan-exceptions.md.

source "$(dirname "$0")/lib.sh"

require_cmd kubectl

step "coffer scan dockerfile reports nothing at warning or above"
"$COFFER_BIN" scan dockerfile --fail-on warning "$COFFER_SOURCE_DIR/deploy/Containerfile" ||
	fail "coffer scan dockerfile reported findings on deploy/Containerfile (above)"

step "coffer scan k8s reports nothing at warning or above"
kubectl kustomize "$COFFER_SOURCE_DIR/deploy/kubernetes" >"$E2E_WORK/rendered.yaml"
"$COFFER_BIN" scan k8s --no-config --fail-on warning "$E2E_WORK/rendered.yaml" ||
	fail "coffer scan k8s reported findings on the rendered deploy/kubernetes (above)"

step "every suppressed rule is explained in deploy/scan-exceptions.md"
exceptions=$COFFER_SOURCE_DIR/deploy/scan-exceptions.md
suppressed=$(
	{
		sed -n 's/^# coffer ignore=//p' "$COFFER_SOURCE_DIR/deploy/Containerfile"
		/usr/bin/python3 -c '
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc:
        print(doc["metadata"].get("annotations", {}).get("coffer.io/ignore", ""))
' "$E2E_WORK/rendered.yaml"
	} | tr ', ' '\n\n' | sed '/^$/d' | sort -u
)
[ -n "$suppressed" ] || fail "found no suppressed rules; the checks above did not see the exceptions"
for rule in $suppressed; do
	grep -q "$rule" "$exceptions" || fail "rule $rule is suppressed but not explained in $exceptions"
done

step "without the exceptions the scanners report the storage manager's privileges"
/usr/bin/python3 -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for doc in docs:
    doc["metadata"].get("annotations", {}).pop("coffer.io/ignore", None)
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
' "$E2E_WORK/rendered.yaml" "$E2E_WORK/unsuppressed.yaml"
if "$COFFER_BIN" scan k8s --no-config --fail-on warning "$E2E_WORK/unsuppressed.yaml" \
	>"$E2E_WORK/unsuppressed.txt"; then
	fail "coffer scan k8s found nothing in the manifests with the exceptions removed"
fi
grep -q "PSS-PRIVILEGED DaemonSet/coffer/coffer-storage" "$E2E_WORK/unsuppressed.txt" ||
	fail "PSS-PRIVILEGED was not reported for the storage DaemonSet without its exception"
grep -v '^# coffer ignore=' "$COFFER_SOURCE_DIR/deploy/Containerfile" >"$E2E_WORK/Containerfile"
if "$COFFER_BIN" scan dockerfile --fail-on warning "$E2E_WORK/Containerfile" >"$E2E_WORK/df.txt"; then
	fail "without its pragma the Containerfile should report DL3002 for the storage target"
fi
grep -q DL3002 "$E2E_WORK/df.txt" || fail "DL3002 missing from the report without the pragma"

echo "PASS"
