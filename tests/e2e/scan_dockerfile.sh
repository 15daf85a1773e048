#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# coffer scan dockerfile end to end. The findings for every Dockerfile of
# the shared corpus must match the reviewed golden files in
# tests/golden/dockerfile (COFFER_UPDATE_GOLDEN=1 rewrites them), and only
# the files that BuildKit rejects may have syntax errors. The SARIF output of
# the corpus must validate against the SARIF 2.1.0 schema. The CLI must keep
# its exit codes, --fail-on, standard input, directory search and --config.

source "$(dirname "$0")/lib.sh"

CORPUS=$COFFER_SHARED_DIR/corpus/dockerfiles
SCHEMA=$COFFER_SHARED_DIR/corpus/schemas/sarif-schema-2.1.0.json
GOLDEN=$COFFER_SOURCE_DIR/tests/golden/dockerfile
VALIDATE=$COFFER_SOURCE_DIR/tests/tools/validate_json_schema.py
[ -d "$CORPUS" ] || fail "corpus not found at $CORPUS; set COFFER_SHARED_DIR"

# Files that BuildKit rejects, and so must have a CF-DF-000 finding.
SYNTAX_ERRORS="
moby__buildkit__frontend__dockerfile__parser__testfiles-negative__empty_dockerfile__Dockerfile
moby__buildkit__frontend__dockerfile__parser__testfiles-negative__env_no_value__Dockerfile
moby__buildkit__frontend__dockerfile__parser__testfiles-negative__only_comments__Dockerfile
moby__buildkit__frontend__dockerfile__parser__testfiles__flags__Dockerfile
moby__buildkit__frontend__dockerfile__parser__testfiles__health__Dockerfile
"

# Prints the findings of a JSON report, one canonical JSON document.
findings_of() {
	/usr/bin/python3 -c '
import json, sys
report = json.load(open(sys.argv[1]))
json.dump(report["findings"], sys.stdout, indent=2, sort_keys=True)
print()
' "$1"
}

step "corpus findings match the golden files"
count=0
mismatches=0
cd "$CORPUS"
for name in *; do
	out=$E2E_WORK/$name.json
	rc=0
	"$COFFER_BIN" scan dockerfile --format json --fail-on none "$name" >"$out" || rc=$?
	[ "$rc" = 0 ] || fail "$name: exit status $rc with --fail-on none"
	findings_of "$out" >"$out.findings"

	syntax=$(/usr/bin/python3 -c '
import json, sys
print(sum(1 for f in json.load(open(sys.argv[1]))["findings"] if f["rule_id"] == "CF-DF-000"))
' "$out")
	case "$SYNTAX_ERRORS" in
	*"$name"*) [ "$syntax" -gt 0 ] || fail "$name: BuildKit rejects it but no syntax error was found" ;;
	*) [ "$syntax" = 0 ] || fail "$name: $syntax false syntax errors" ;;
	esac

	if [ "${COFFER_UPDATE_GOLDEN:-0}" = 1 ]; then
		cp "$out.findings" "$GOLDEN/$name.json"
	elif ! diff -u "$GOLDEN/$name.json" "$out.findings" >"$E2E_WORK/diff"; then
		echo "--- $name differs from its golden file:" >&2
		head -40 "$E2E_WORK/diff" >&2
		mismatches=$((mismatches + 1))
	fi
	count=$((count + 1))
done
[ "$count" -gt 0 ] || fail "no corpus files found in $CORPUS"
[ "$mismatches" = 0 ] || fail "$mismatches of $count corpus files differ from their golden files"
echo "$count corpus files match"

step "SARIF of the whole corpus validates against SARIF 2.1.0"
rc=0
"$COFFER_BIN" scan dockerfile --format sarif -- * >"$E2E_WORK/corpus.sarif" || rc=$?
[ "$rc" = 1 ] || fail "corpus SARIF run exited $rc, expected 1 (findings)"
/usr/bin/python3 "$VALIDATE" "$SCHEMA" "$E2E_WORK/corpus.sarif" ||
	fail "the SARIF output does not validate"
cd "$E2E_WORK"

step "exit codes and --fail-on"
mkdir -p proj/sub/.hidden proj/node_modules
printf 'FROM alpine:3.19@sha256:%064d\nUSER app\nHEALTHCHECK CMD ["true"]\n' 0 >proj/Dockerfile
printf 'FROM alpine:3.19\nUSER app\n' >proj/sub/web.Dockerfile
printf 'FROM alpine:latest\n' >proj/sub/Containerfile.dev
printf 'FROM alpine:latest\n' >proj/sub/.hidden/Dockerfile
printf 'FROM alpine:latest\n' >proj/node_modules/Dockerfile
printf 'not a dockerfile\n' >proj/README
printf '.git\n' >proj/.dockerignore

rc=0
"$COFFER_BIN" scan dockerfile proj/Dockerfile >out.txt || rc=$?
[ "$rc" = 0 ] || fail "a clean Dockerfile exited $rc: $(cat out.txt)"
rc=0
"$COFFER_BIN" scan dockerfile proj/sub/web.Dockerfile >out.txt || rc=$?
[ "$rc" = 1 ] || fail "a warning with the default --fail-on exited $rc"
rc=0
"$COFFER_BIN" scan dockerfile --fail-on error proj/sub/web.Dockerfile >out.txt || rc=$?
[ "$rc" = 0 ] || fail "a warning with --fail-on error exited $rc"
rc=0
"$COFFER_BIN" scan dockerfile --fail-on error proj/sub/Containerfile.dev >out.txt || rc=$?
[ "$rc" = 1 ] || fail "an error finding with --fail-on error exited $rc"
rc=0
"$COFFER_BIN" scan dockerfile missing/Dockerfile >out.txt 2>err.txt || rc=$?
[ "$rc" = 2 ] || fail "an unreadable file exited $rc"
grep -q "missing/Dockerfile" err.txt || fail "the error does not name the file: $(cat err.txt)"
rc=0
"$COFFER_BIN" scan dockerfile --format yaml proj/Dockerfile >out.txt 2>err.txt || rc=$?
[ "$rc" = 2 ] || fail "an invalid --format exited $rc"
rc=0
"$COFFER_BIN" scan dockerfile >out.txt 2>err.txt || rc=$?
[ "$rc" = 2 ] || fail "no argument exited $rc"
"$COFFER_BIN" scan dockerfile --help | grep -q -- "--fail-on" || fail "--help does not list --fail-on"
# DL3007 is an error, which ranks with high and below critical.
rc=0
"$COFFER_BIN" scan dockerfile --fail-on critical proj/sub/Containerfile.dev >out.txt || rc=$?
[ "$rc" = 0 ] || fail "an error finding with --fail-on critical exited $rc"
rc=0
"$COFFER_BIN" scan dockerfile --fail-on high proj/sub/Containerfile.dev >out.txt || rc=$?
[ "$rc" = 1 ] || fail "an error finding with --fail-on high exited $rc"
rc=0
"$COFFER_BIN" scan dockerfile --fail-on medium proj/sub/web.Dockerfile >out.txt || rc=$?
[ "$rc" = 1 ] || fail "a warning finding with --fail-on medium exited $rc"
rc=0
"$COFFER_BIN" scan dockerfile --fail-on severe proj/Dockerfile >out.txt 2>err.txt || rc=$?
[ "$rc" = 2 ] || fail "an invalid --fail-on exited $rc"
grep -q "use style, info, low, warning, medium, error, high, critical or none" err.txt ||
	fail "the --fail-on error does not list the levels: $(cat err.txt)"
"$COFFER_BIN" scan dockerfile --help | grep -q "critical ignores" ||
	fail "--help does not explain the --fail-on ranks"

step "--output, --no-config, --no-fix and --no-color"
rc=0
"$COFFER_BIN" scan dockerfile --format sarif --output report.sarif proj/sub/web.Dockerfile >out.txt || rc=$?
[ "$rc" = 1 ] || fail "--output with findings exited $rc"
[ -s out.txt ] && fail "--output also wrote to standard output: $(cat out.txt)"
grep -q '"CF-DF-001"' report.sarif || fail "--output did not write the report"
rc=0
"$COFFER_BIN" scan dockerfile --output missing-dir/report.txt proj/Dockerfile 2>err.txt || rc=$?
[ "$rc" = 2 ] || fail "an unwritable --output exited $rc"
grep -q "missing-dir/report.txt" err.txt || fail "the error does not name the output file: $(cat err.txt)"
mkdir -p cfgproj/.git
printf 'ignore: [CF-DF-001, DL3057]\n' >cfgproj/.coffer.yaml
cp proj/sub/web.Dockerfile cfgproj/Dockerfile
rc=0
(cd cfgproj && "$COFFER_BIN" scan dockerfile Dockerfile) >out.txt || rc=$?
[ "$rc" = 0 ] || fail "the project .coffer.yaml was not applied: $(cat out.txt)"
rc=0
(cd cfgproj && "$COFFER_BIN" scan dockerfile --no-config Dockerfile) >out.txt || rc=$?
[ "$rc" = 1 ] || fail "--no-config still applied .coffer.yaml"
rc=0
"$COFFER_BIN" scan dockerfile --no-config --config coffer.yaml proj/Dockerfile 2>err.txt || rc=$?
[ "$rc" = 2 ] || fail "--config with --no-config exited $rc"
"$COFFER_BIN" scan dockerfile --fail-on none proj/sub/web.Dockerfile >fix.txt
"$COFFER_BIN" scan dockerfile --fail-on none --no-fix --no-color proj/sub/web.Dockerfile >nofix.txt
[ "$(wc -l <nofix.txt)" -lt "$(wc -l <fix.txt)" ] || fail "--no-fix kept the fix hints"

rc=0
"$COFFER_BIN" scan dockerfile --ignore CF-DF-001,DL3057 proj/sub/web.Dockerfile >out.txt || rc=$?
[ "$rc" = 0 ] || fail "--ignore CF-DF-001,DL3057 left findings: $(cat out.txt)"

step "directory search and standard input"
"$COFFER_BIN" scan dockerfile --format json --fail-on none proj >dir.json
/usr/bin/python3 - dir.json <<'PY' || fail "directory search found the wrong files"
import json, sys
files = {f["file"] for f in json.load(open(sys.argv[1]))["findings"]}
expected = {"proj/sub/web.Dockerfile", "proj/sub/Containerfile.dev"}
assert files == expected, files
PY
rc=0
printf 'FROM alpine:latest\n' | "$COFFER_BIN" scan dockerfile --format json - >stdin.json || rc=$?
[ "$rc" = 1 ] || fail "standard input with findings exited $rc"
grep -q '"DL3007"' stdin.json || fail "standard input was not linted"
grep -q '"file": "-"' stdin.json || fail "standard input is not named - in findings"

step "downloads over plain HTTP are reported with their URL"
cat >Dockerfile.http <<'DOCKERFILE'
FROM alpine:3.19
RUN wget -O /tmp/tool http://example.com/tool
RUN curl -fsSLo /tmp/other http://example.com/other
ADD http://example.com/data.tgz /data/
RUN curl -fsSLo /tmp/local http://127.0.0.1:8080/local
DOCKERFILE
rc=0
"$COFFER_BIN" scan dockerfile --format json Dockerfile.http >http.json || rc=$?
[ "$rc" = 1 ] || fail "plain-HTTP downloads exited $rc"
/usr/bin/python3 - http.json <<'PY' || fail "plain-HTTP findings are wrong: $(cat http.json)"
import json, sys
hits = sorted((f["line"], f["message"]) for f in json.load(open(sys.argv[1]))["findings"]
              if f["rule_id"] == "CF-DF-019")
assert [line for line, _ in hits] == [2, 3, 4], hits
for (line, message), url in zip(hits, ["tool", "other", "data.tgz"]):
    assert "http://example.com/" + url in message, message
PY

step "a directory without Dockerfiles is an input error"
mkdir -p empty no-dockerfile/sub
printf 'notes\n' >no-dockerfile/README
printf 'FROM alpine:3.19\n' >no-dockerfile/sub/.dockerignore
rc=0
"$COFFER_BIN" scan dockerfile empty >out.txt 2>err.txt || rc=$?
[ "$rc" = 2 ] || fail "an empty directory exited $rc"
grep -q "empty: no Dockerfile found" err.txt || fail "the error does not name the directory: $(cat err.txt)"
grep -q "Containerfile" err.txt || fail "the error does not name the searched files: $(cat err.txt)"
rc=0
"$COFFER_BIN" scan dockerfile no-dockerfile >out.txt 2>err.txt || rc=$?
[ "$rc" = 2 ] || fail "a directory without Dockerfiles exited $rc"
rc=0
"$COFFER_BIN" scan dockerfile proj empty >out.txt 2>err.txt || rc=$?
[ "$rc" = 2 ] || fail "an empty directory next to a project exited $rc"
rc=0
"$COFFER_BIN" scan dockerfile empty/ no-dockerfile >out.txt 2>err.txt || rc=$?
[ "$rc" = 2 ] || fail "two directories without Dockerfiles exited $rc"
[ "$(grep -c "no Dockerfile found" err.txt)" = 2 ] || fail "not every empty directory was named: $(cat err.txt)"
printf 'FROM alpine:3.19@sha256:%064d\nUSER app\nHEALTHCHECK CMD ["true"]\n' 0 >empty/build.txt
rc=0
"$COFFER_BIN" scan dockerfile empty/build.txt >out.txt 2>err.txt || rc=$?
[ "$rc" = 0 ] || fail "an explicitly named file with another name exited $rc: $(cat out.txt err.txt)"
rm empty/build.txt

step "--config with trusted registries, ignores and fail-on"
cat >coffer.yaml <<'YAML'
ignore:
  - DL3057
fail-on: error
dockerfile:
  trusted-registries:
    - docker.io
YAML
printf 'FROM ghcr.io/x/y:1\nUSER app\n' >Dockerfile.ghcr
rc=0
"$COFFER_BIN" scan dockerfile --config coffer.yaml --format json Dockerfile.ghcr >cfg.json || rc=$?
[ "$rc" = 1 ] || fail "an untrusted registry with fail-on error exited $rc"
grep -q '"DL3026"' cfg.json || fail "DL3026 did not fire for an untrusted registry"
if grep -q '"DL3057"' cfg.json; then fail "the ignored rule DL3057 was reported"; fi
printf 'dockerfile:\n  unknown-key: 1\n' >bad.yaml
rc=0
"$COFFER_BIN" scan dockerfile --config bad.yaml Dockerfile.ghcr >out.txt 2>err.txt || rc=$?
[ "$rc" = 2 ] || fail "an invalid configuration exited $rc"

step "text output has colour only on request"
NO_COLOR=1 "$COFFER_BIN" scan dockerfile --fail-on none proj/sub/web.Dockerfile >plain.txt
if grep -q $'\e\\[' plain.txt; then fail "colour codes in output that is not a terminal"; fi
grep -q "CF-DF-001" plain.txt || fail "text output lacks the rule id"
echo "PASS"
