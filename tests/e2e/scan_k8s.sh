#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `coffer scan k8s` as a user runs it. The shared corpus is scanned as a
# directory, and its SARIF output must validate against the SARIF 2.1.0
# schema. Further steps cover standard input, exit codes with --fail-on,
# profiles, .coffer.yaml, and hostile input that must fail with exit code 2
# and a clear message.

source "$(dirname "$0")/lib.sh"

CORPUS=$COFFER_SHARED_DIR/corpus/k8s
SCHEMA=$COFFER_SHARED_DIR/corpus/schemas/sarif-schema-2.1.0.json
VALIDATOR=$COFFER_SOURCE_DIR/tests/tools/validate_json_schema.py
[ -d "$CORPUS" ] || fail "corpus $CORPUS not found; set COFFER_SHARED_DIR"
[ -f "$SCHEMA" ] || fail "SARIF schema $SCHEMA not found"
[ -x /usr/bin/python3 ] || skip_or_fail "/usr/bin/python3 is missing"
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
	skip_or_fail "python3-jsonschema is not installed"

# Runs coffer scan k8s (report discarded) and stores its exit status in
# $rc without tripping set -e.
scan() {
	rc=0
	"$COFFER_BIN" scan k8s "$@" >/dev/null || rc=$?
}

step "SARIF output for the whole corpus validates against the schema"
scan --format sarif --no-config --output "$E2E_WORK/corpus.sarif" "$CORPUS"
[ "$rc" = 1 ] || fail "expected exit 1 (findings) for the corpus, got $rc"
/usr/bin/python3 "$VALIDATOR" "$SCHEMA" "$E2E_WORK/corpus.sarif" ||
	fail "corpus SARIF does not validate"
results=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["runs"][0]["results"]))' \
	"$E2E_WORK/corpus.sarif")
[ "$results" -gt 500 ] || fail "expected more than 500 SARIF results, got $results"

step "one SARIF file per corpus manifest validates"
count=0
for file in "$CORPUS"/*; do
	scan --format sarif --no-config --fail-on none --output "$E2E_WORK/one.sarif" "$file"
	[ "$rc" = 0 ] || fail "$file: exit $rc with --fail-on none"
	/usr/bin/python3 "$VALIDATOR" "$SCHEMA" "$E2E_WORK/one.sarif" >/dev/null ||
		fail "$file: SARIF does not validate"
	count=$((count + 1))
done
[ "$count" -ge 80 ] || fail "expected at least 80 corpus files, found $count"

step "standard input, as helm template | coffer scan k8s -"
cat >"$E2E_WORK/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  hostNetwork: true
  containers:
  - name: app
    image: nginx:1.25
EOF
rc=0
out=$("$COFFER_BIN" scan k8s --no-config --format json - <"$E2E_WORK/pod.yaml") || rc=$?
[ "$rc" = 1 ] || fail "expected exit 1 for a pod with hostNetwork, got $rc"
/usr/bin/python3 - "$out" <<'EOF' || fail "JSON output from stdin is missing fields"
import json, sys
findings = json.loads(sys.argv[1])["findings"]
hit = [f for f in findings if f["rule_id"] == "PSS-HOST-NAMESPACES"]
assert len(hit) == 1, findings
f = hit[0]
assert f["file"] == "-", f
assert f["line"] == 6, f
assert f["object"] == "Pod/web", f
assert f["path"] == "spec.hostNetwork", f
assert all(k in f for k in ("rule_id", "severity", "message", "file", "line", "object", "path"))
assert any(g.get("container") == "app" for g in findings)
EOF

step "exit codes follow --fail-on and --profile"
cat >"$E2E_WORK/clean.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  level: debug
EOF
scan --no-config "$E2E_WORK/clean.yaml"
[ "$rc" = 0 ] || fail "expected exit 0 for a ConfigMap, got $rc"
scan --no-config --fail-on critical "$E2E_WORK/pod.yaml"
[ "$rc" = 0 ] || fail "expected exit 0 with --fail-on critical, got $rc"
scan --no-config --fail-on error "$E2E_WORK/pod.yaml"
[ "$rc" = 1 ] || fail "expected exit 1 with --fail-on error, got $rc"
out=$("$COFFER_BIN" scan k8s --no-config --profile baseline --fail-on none "$E2E_WORK/pod.yaml")
case "$out" in *PSS-RUN-AS-NON-ROOT*) fail "baseline profile reported a restricted control" ;; esac
case "$out" in *PSS-HOST-NAMESPACES*) ;; *) fail "baseline profile missed hostNetwork" ;; esac

step ".coffer.yaml ignores rules and sets the profile"
mkdir -p "$E2E_WORK/project/.git"
cat >"$E2E_WORK/project/.coffer.yaml" <<'EOF'
ignore: [PSS-HOST-NAMESPACES]
k8s:
  profile: baseline
EOF
cp "$E2E_WORK/pod.yaml" "$E2E_WORK/project/"
out=$(cd "$E2E_WORK/project" && "$COFFER_BIN" scan k8s --fail-on none pod.yaml)
case "$out" in *PSS-HOST-NAMESPACES* | *PSS-RUN-AS-NON-ROOT*) fail "configuration was not applied: $out" ;; esac

step "--ignore skips rules and --list-rules prints every rule"
out=$("$COFFER_BIN" scan k8s --no-config --fail-on none --ignore PSS-HOST-NAMESPACES,K8S-CPU-LIMIT \
	--ignore K8S-IMAGE-NO-DIGEST "$E2E_WORK/pod.yaml")
case "$out" in *PSS-HOST-NAMESPACES* | *K8S-CPU-LIMIT* | *K8S-IMAGE-NO-DIGEST*) fail "--ignore was not applied: $out" ;; esac
case "$out" in *K8S-CPU-REQUEST*) ;; *) fail "--ignore removed more than it named: $out" ;; esac
rules=$("$COFFER_BIN" scan k8s --list-rules | wc -l)
[ "$rules" = 38 ] || fail "expected 38 rules from --list-rules, got $rules"

step "usage errors and unreadable input exit 2"
expect_fail_with "invalid --format" "$COFFER_BIN" scan k8s --format xml "$E2E_WORK/pod.yaml"
expect_fail_with "invalid profile" "$COFFER_BIN" scan k8s --profile strict "$E2E_WORK/pod.yaml"
expect_fail_with "no manifest given" "$COFFER_BIN" scan k8s
expect_fail_with "no such file" "$COFFER_BIN" scan k8s --no-config "$E2E_WORK/missing.yaml"
scan --no-config "$E2E_WORK/missing.yaml"
[ "$rc" = 2 ] || fail "expected exit 2 for a missing file, got $rc"
"$COFFER_BIN" scan k8s --help | grep -q -- "--fail-on" || fail "--help lacks --fail-on"
"$COFFER_BIN" scan k8s --help | grep -q "critical ignores" ||
	fail "--help does not explain the --fail-on ranks"
expect_fail_with "use style, info, low, warning, medium, error, high, critical or none" \
	"$COFFER_BIN" scan k8s --no-config --fail-on severe "$E2E_WORK/pod.yaml"
scan --no-config --no-color --fail-on none "$E2E_WORK/pod.yaml"
[ "$rc" = 0 ] || fail "--no-color exited $rc"

step "a directory without manifests is an input error"
mkdir -p "$E2E_WORK/empty" "$E2E_WORK/no-manifests/sub" "$E2E_WORK/with-manifest"
printf 'notes\n' >"$E2E_WORK/no-manifests/README"
printf 'notes\n' >"$E2E_WORK/no-manifests/sub/values.txt"
cp "$E2E_WORK/clean.yaml" "$E2E_WORK/with-manifest/"
rc=0
"$COFFER_BIN" scan k8s --no-config "$E2E_WORK/empty" >/dev/null 2>"$E2E_WORK/err" || rc=$?
[ "$rc" = 2 ] || fail "expected exit 2 for an empty directory, got $rc"
grep -q "$E2E_WORK/empty: no manifest found" "$E2E_WORK/err" ||
	fail "the error does not name the directory: $(cat "$E2E_WORK/err")"
grep -q '\*.yaml, \*.yml and \*.json' "$E2E_WORK/err" ||
	fail "the error does not name the searched files: $(cat "$E2E_WORK/err")"
scan --no-config "$E2E_WORK/no-manifests"
[ "$rc" = 2 ] || fail "expected exit 2 for a directory without manifests, got $rc"
scan --no-config "$E2E_WORK/with-manifest" "$E2E_WORK/empty"
[ "$rc" = 2 ] || fail "expected exit 2 when one directory argument is empty, got $rc"
scan --no-config "$E2E_WORK/with-manifest"
[ "$rc" = 0 ] || fail "expected exit 0 for a directory with a clean manifest, got $rc"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n' >"$E2E_WORK/empty/manifest.txt"
scan --no-config "$E2E_WORK/empty/manifest.txt"
[ "$rc" = 0 ] || fail "an explicitly named file with another suffix exited $rc"

step "hostile YAML fails with exit 2 within 10 s and 1 GiB of address space"
{
	echo 'a: &a ["x","x","x","x","x","x","x","x","x","x"]'
	prev=a
	for name in b c d e f g h i; do
		printf '%s: &%s [' "$name" "$name"
		for _ in 1 2 3 4 5 6 7 8 9; do printf '*%s, ' "$prev"; done
		printf '*%s]\n' "$prev"
		prev=$name
	done
} >"$E2E_WORK/bomb.yaml"
/usr/bin/python3 -c 'print("[" * 10000 + "]" * 10000)' >"$E2E_WORK/deep.yaml"
printf 'kind: Pod\nmetadata:\n  name: \xff\xfe\n' >"$E2E_WORK/utf8.yaml"
/usr/bin/python3 -c 'print("data: " + "x" * (5 << 20))' >"$E2E_WORK/huge.yaml"
for hostile in bomb deep utf8 huge; do
	rc=0
	out=$(ulimit -v 1048576 && timeout 10 "$COFFER_BIN" scan k8s --no-config \
		"$E2E_WORK/$hostile.yaml" 2>&1) || rc=$?
	[ "$rc" = 2 ] || fail "$hostile.yaml: expected exit 2, got $rc ($out)"
	case "$out" in *"$hostile.yaml: line "*) ;; *) fail "$hostile.yaml: no position in: $out" ;; esac
done
printf -- '---\n' >"$E2E_WORK/only-separator.yaml"
scan --no-config "$E2E_WORK/only-separator.yaml"
[ "$rc" = 0 ] || fail "a document of only --- must be accepted, got $rc"

echo "scan_k8s: all checks passed"
