#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Image scanner on hand-made saved images: every archive format and layer
# compression, whiteouts, configuration checks, OSV matching cases with an
# expected result each, SARIF and CycloneDX schema validation, the ignore
# file and --fail-on, and hostile archives that must fail cleanly.

source "$(dirname "$0")/lib.sh"
require_cmd zstd
PY=/usr/bin/python3
TOOLS=$COFFER_SOURCE_DIR/tests/tools
DATA=$COFFER_SOURCE_DIR/tests/data
SCHEMAS=$COFFER_SHARED_DIR/corpus/schemas
W=$E2E_WORK

make_image() { # SPEC FORMAT OUTPUT
	$PY - "$1" "$2" "$W/spec.json" <<'PYEOF'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["format"] = sys.argv[2]
json.dump(spec, open(sys.argv[3], "w"))
PYEOF
	$PY "$TOOLS/make_image.py" "$W/spec.json" "$3"
}

scan_json() { # IMAGE [OPTIONS...] -> stdout JSON
	"$COFFER_BIN" scan image "$@" --no-progress --format json
}

step "database import and info"
"$COFFER_BIN" db import "$DATA/osv" --db "$W/osv.db" >"$W/import.txt"
grep -q "14 advisories imported" "$W/import.txt" || fail "import: $(cat "$W/import.txt")"
"$COFFER_BIN" db info --db "$W/osv.db" >"$W/info.txt"
grep -q "Debian:12" "$W/info.txt" || fail "db info lacks Debian:12: $(cat "$W/info.txt")"
grep -q "imported 20" "$W/info.txt" || fail "db info lacks the import time"
(cd "$DATA/osv" && zip -q "$W/all.zip" ./*.json -x expected.json)
"$COFFER_BIN" db import "$W/all.zip" --db "$W/zip.db" | grep -q "14 advisories imported" ||
	fail "zip import did not import 14 advisories"

step "every format and compression lists the same packages"
for format in docker-archive oci-archive oci-dir; do
	make_image "$DATA/images/debian-two-layers.json" "$format" "$W/img-$format"
	scan_json "$W/img-$format" --db "$W/osv.db" >"$W/$format.json"
	$PY - "$W/$format.json" "$format" <<'PYEOF' || fail "package list wrong for $format"
import json, sys
doc = json.load(open(sys.argv[1]))
got = sorted((p["name"], p["version"], p["layer_index"]) for p in doc["packages"])
want = [("curl", "7.88.1-10+deb12u5", 1), ("libc6", "2.36-9+deb12u1", 0),
        ("zlib1g", "1:1.2.13.dfsg-1", 0)]
assert got == want, (sys.argv[2], got)
expected_format = {"oci-dir": "oci-layout"}.get(sys.argv[2], sys.argv[2])
assert doc["image"]["format"] == expected_format, doc["image"]["format"]
assert doc["image"]["os"]["ecosystem"] == "Debian:12", doc["image"]["os"]
curl = [p for p in doc["packages"] if p["name"] == "curl"][0]
assert curl["created_by"] == "RUN apt-get install curl", curl
PYEOF
done

step "a multi-platform OCI index resolves to this host's image"
# The scanner picks the architecture it was built for, which is the host's.
case $(uname -m) in
x86_64) host_arch=amd64 ;;
aarch64) host_arch=arm64 ;;
i?86) host_arch=386 ;;
*) host_arch=$(uname -m) ;;
esac
$PY - "$DATA/images/debian-two-layers.json" "$W/multi.json" "$host_arch" <<'PYEOF'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["multi_platform"] = True
spec["host_arch"] = sys.argv[3]
json.dump(spec, open(sys.argv[2], "w"))
PYEOF
make_image "$W/multi.json" oci-archive "$W/multi.tar"
scan_json "$W/multi.tar" >"$W/multi.out" 2>/dev/null
$PY -c "
import json
doc = json.load(open('$W/multi.out'))
assert len(doc['packages']) == 3, doc['packages']
" || fail "the multi-platform index did not resolve to the amd64 image"

step "OSV cases match their expected results"
$PY - "$W/docker-archive.json" "$DATA/osv/expected.json" <<'PYEOF' || fail "OSV matching differs from expected.json"
import json, sys
doc = json.load(open(sys.argv[1]))
expected = json.load(open(sys.argv[2]))
keys = ["package", "installed_version", "fixed_version", "severity", "severity_source",
        "source_package", "layer_index", "aliases"]
got = {f["rule_id"]: {k: f.get(k) for k in keys} for f in doc["findings"]
       if not f["rule_id"].startswith("IMG-")}
bad = 0
for advisory, want in expected.items():
    if got.get(advisory) != want:
        print(f"{advisory}: expected {want}, got {got.get(advisory)}")
        bad += 1
listed = {v["id"]: {k: v.get(k) for k in keys} for v in doc["vulnerabilities"]}
if listed != got:
    print("the vulnerabilities list differs from the findings:", listed, got)
    bad += 1
extra = set(got) - set(expected)
if extra:
    print("unexpected findings:", extra)
    bad += 1
sys.exit(1 if bad else 0)
PYEOF

step "text output is a table sorted by severity"
"$COFFER_BIN" scan image "$W/img-docker-archive" --db "$W/osv.db" --no-progress >"$W/text.txt"
grep -q "^SEVERITY  ID  *PACKAGE  *INSTALLED  *FIXED  *LAYER$" "$W/text.txt" ||
	fail "text output has no table header: $(cat "$W/text.txt")"
[ "$(grep -A1 '^SEVERITY' "$W/text.txt" | tail -1 | cut -d' ' -f1)" = critical ] ||
	fail "the first table row is not the most severe finding"
grep -q "^6 vulnerabilities, 4 other findings$" "$W/text.txt" || fail "text summary line missing"

step "configuration findings, including a key deleted in a later layer"
$PY - "$W/docker-archive.json" <<'PYEOF' || fail "configuration findings wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
rules = sorted((f["rule_id"], f.get("layer_index")) for f in doc["findings"]
               if f["rule_id"].startswith("IMG-"))
assert ("IMG-PRIVATE-KEY", 0) in rules, rules
assert ("IMG-ROOT-USER", None) in rules, rules
assert ("IMG-SECRET-ENV", None) in rules, rules
assert ("IMG-SETUID", 1) in rules, rules
assert all("hunter2" not in f["message"] for f in doc["findings"]), "secret value leaked"
PYEOF

step "--ignore-unfixed, --fail-on and the ignore file"
scan_json "$W/img-docker-archive" --db "$W/osv.db" --ignore-unfixed >"$W/fixed.json"
$PY -c "
import json, sys
doc = json.load(open('$W/fixed.json'))
ids = sorted(f['rule_id'] for f in doc['findings'] if not f['rule_id'].startswith('IMG-'))
assert ids == ['DEBIAN-CVE-2024-0007', 'DSA-0001-1'], ids
" || fail "--ignore-unfixed kept unfixed findings"
set +e
scan_json "$W/img-docker-archive" --db "$W/osv.db" --fail-on critical >/dev/null
rc=$?
set -e
[ "$rc" = 1 ] || fail "--fail-on critical exited $rc, expected 1"
cat >"$W/ignore.txt" <<'IGNEOF'
# accepted findings
CVE-2024-0001 package=libc6 expires=2999-12-31 reason=glibc fix is scheduled for the next rebuild
DEBIAN-CVE-2024-0003 expires=2020-01-01 reason=expired entry that must stop suppressing
IMG-ROOT-USER expires=2999-12-31 reason=runs under a user namespace
IGNEOF
scan_json "$W/img-docker-archive" --db "$W/osv.db" --ignore-file "$W/ignore.txt" \
	>"$W/ignored.json" 2>"$W/ignored.err"
grep -q "expired on 2020-01-01" "$W/ignored.err" || fail "expired ignore entry not reported"
$PY -c "
import json
doc = json.load(open('$W/ignored.json'))
ids = [f['rule_id'] for f in doc['findings']]
assert 'DSA-0001-1' not in ids and 'IMG-ROOT-USER' not in ids, ids
assert 'DEBIAN-CVE-2024-0003' in ids, ids
assert [e['id'] for e in doc['expired_ignores']] == ['DEBIAN-CVE-2024-0003'], doc['expired_ignores']
assert sorted(e['id'] for e in doc['ignored']) == ['DSA-0001-1', 'IMG-ROOT-USER'], doc['ignored']
" || fail "ignore file not applied as expected"
echo "CVE-1 expires=2999-01-01" >"$W/bad-ignore.txt"
expect_fail_with "needs expires=YYYY-MM-DD and reason=TEXT" \
	"$COFFER_BIN" scan image "$W/img-docker-archive" --ignore-file "$W/bad-ignore.txt"

step "--fail-on takes the shared scale, and --no-color and -o are accepted"
expect_fail_with "use style, info, low, warning, medium, error, high, critical or none" \
	"$COFFER_BIN" scan image "$W/img-docker-archive" --fail-on severe
set +e
scan_json "$W/img-docker-archive" --db "$W/osv.db" --fail-on warning --no-color >/dev/null
rc=$?
set -e
[ "$rc" = 1 ] || fail "--fail-on warning (ranks with medium) exited $rc, expected 1"
"$COFFER_BIN" scan image "$W/img-docker-archive" --db "$W/osv.db" --no-progress --no-color \
	-f json -o "$W/output.json" || fail "--no-color -f json -o exited $?"
$PY -c "import json; json.load(open('$W/output.json'))['findings']" ||
	fail "-o did not write the JSON report"
"$COFFER_BIN" scan image --help | grep -q "critical ignores" ||
	fail "--help does not explain the --fail-on ranks"

step "SARIF and CycloneDX validate against their schemas"
"$COFFER_BIN" scan image "$W/img-oci-archive" --db "$W/osv.db" --no-progress --format sarif \
	>"$W/out.sarif"
$PY "$TOOLS/validate_json_schema.py" "$SCHEMAS/sarif-schema-2.1.0.json" "$W/out.sarif" ||
	fail "SARIF output is not valid SARIF 2.1.0"
"$COFFER_BIN" scan image "$W/img-oci-archive" --db "$W/osv.db" --no-progress \
	--format cyclonedx >"$W/out.cdx.json"
$PY "$TOOLS/validate_cyclonedx.py" "$SCHEMAS" "$W/out.cdx.json" ||
	fail "CycloneDX output is not valid CycloneDX 1.5"

step "an advisory with only a CVSS v4.0 vector gets its score"
$PY - "$W/docker-archive.json" "$W/out.cdx.json" <<'PYEOF' || fail "CVSS v4.0 score missing"
import json, sys
doc = json.load(open(sys.argv[1]))
finding = [f for f in doc["findings"] if f["rule_id"] == "DEBIAN-CVE-2024-0014"][0]
assert finding["cvss_score"] == 8.3, finding
assert finding["cvss_vector"].startswith("CVSS:4.0/"), finding
bom = json.load(open(sys.argv[2]))
vuln = [v for v in bom["vulnerabilities"] if v["id"] == "DEBIAN-CVE-2024-0014"][0]
rating = vuln["ratings"][0]
assert rating["method"] == "CVSSv4", rating
assert rating["score"] == 8.3, rating
assert rating["severity"] == "high", rating
PYEOF

step "whiteouts: deleted and replaced databases, opaque directories"
cat >"$W/whiteouts.json" <<'SPECEOF'
{"layers": [
  {"compression": "gzip", "entries": [
    {"path": "etc/os-release", "content": "ID=alpine\nVERSION_ID=3.19.1\n"},
    {"path": "lib/apk/db/installed", "content": "P:musl\nV:1.2.4-r2\no:musl\n\nP:busybox\nV:1.36.1-r15\no:busybox\n"},
    {"path": "var/lib/dpkg/status", "content": "Package: stale\nStatus: install ok installed\nVersion: 1\n"},
    {"path": "app/node_modules/left-pad/package.json", "content": "{\"name\": \"left-pad\", \"version\": \"1.3.0\"}"},
    {"path": "app/node_modules/@scope/kept/package.json", "content": "{\"name\": \"@scope/kept\", \"version\": \"2.0.0\"}"},
    {"path": "srv/lib/python3.11/site-packages/Requests-2.31.0.dist-info/METADATA", "content": "Metadata-Version: 2.1\nName: Requests\nVersion: 2.31.0\n\nbody"}
  ]},
  {"compression": "none", "entries": [
    {"path": "var/lib/dpkg/.wh.status"},
    {"path": "app/node_modules/.wh..wh..opq"},
    {"path": "app/node_modules/@scope/kept/package.json", "content": "{\"name\": \"@scope/kept\", \"version\": \"2.0.1\"}"},
    {"path": "lib/apk/db/installed", "content": "P:musl\nV:1.2.4-r2\no:musl\n\nP:busybox\nV:1.36.1-r16\no:busybox\n"}
  ]}
]}
SPECEOF
make_image "$W/whiteouts.json" oci-archive "$W/whiteouts.tar"
scan_json "$W/whiteouts.tar" --db "$W/osv.db" >"$W/whiteouts.out"
$PY - "$W/whiteouts.out" <<'PYEOF' || fail "whiteouts not applied"
import json, sys
doc = json.load(open(sys.argv[1]))
got = sorted((p["type"], p["name"], p["version"], p["layer_index"]) for p in doc["packages"])
want = [("apk", "busybox", "1.36.1-r16", 1), ("apk", "musl", "1.2.4-r2", 0),
        ("npm", "@scope/kept", "2.0.1", 1), ("pypi", "requests", "2.31.0", 0)]
assert got == want, got
assert doc["image"]["os"]["ecosystem"] == "Alpine:v3.19", doc["image"]["os"]
PYEOF

step "rpm database (rpm headers made by python3-rpm) and Rocky Linux advisories"
$PY - "$W/rpmdb.sqlite" <<'PYEOF'
import sqlite3, sys
import rpm
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
for name, version, release, epoch, source in [
        ("openssl-libs", "3.0.7", "27.el9", 1, "openssl-3.0.7-27.el9.src.rpm"),
        ("bash", "5.1.8", "6.el9", None, "bash-5.1.8-6.el9.src.rpm"),
        ("gpg-pubkey", "8483c65d", "5ccc5b19", None, None)]:
    h = rpm.hdr()
    h[rpm.RPMTAG_NAME] = name
    h[rpm.RPMTAG_VERSION] = version
    h[rpm.RPMTAG_RELEASE] = release
    if epoch is not None:
        h[rpm.RPMTAG_EPOCH] = epoch
    if source is not None:
        h[rpm.RPMTAG_SOURCERPM] = source
    db.execute("INSERT INTO Packages(blob) VALUES (?)", (h.unload(),))
db.commit()
PYEOF
# No os-release here: the release file names the distribution.
cat >"$W/rocky.json" <<SPECEOF
{"layers": [{"compression": "gzip", "entries": [
  {"path": "etc/redhat-release", "content": "Rocky Linux release 9.3 (Blue Onyx)\n"},
  {"path": "usr/lib/sysimage/rpm/rpmdb.sqlite", "content_file": "$W/rpmdb.sqlite"}]}]}
SPECEOF
make_image "$W/rocky.json" docker-archive "$W/rocky.tar"
scan_json "$W/rocky.tar" --db "$W/osv.db" >"$W/rocky.out"
$PY - "$W/rocky.out" <<'PYEOF' || fail "rpm packages or their matches are wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
got = sorted((p["name"], p["version"], p["source"]) for p in doc["packages"])
assert got == [("bash", "5.1.8-6.el9", "bash"), ("openssl-libs", "1:3.0.7-27.el9", "openssl")], got
assert doc["image"]["os"]["ecosystem"] == "Rocky Linux:9", doc["image"]["os"]
vulns = {f["rule_id"]: f for f in doc["findings"] if not f["rule_id"].startswith("IMG-")}
assert sorted(vulns) == ["RLSA-2024:0012"], sorted(vulns)
assert vulns["RLSA-2024:0012"]["package"] == "openssl-libs", vulns
assert vulns["RLSA-2024:0012"]["fixed_version"] == "1:3.0.7-28.el9", vulns
assert vulns["RLSA-2024:0012"]["severity"] == "high", vulns
PYEOF

step "distroless dpkg status.d entries"
cat >"$W/distroless.json" <<'SPECEOF'
{"layers": [{"entries": [
  {"path": "etc/os-release", "content": "ID=debian\nVERSION_ID=\"12\"\n"},
  {"path": "var/lib/dpkg/status.d/libc6", "content": "Package: libc6\nVersion: 2.36-9+deb12u1\nSource: glibc\nArchitecture: amd64\n"},
  {"path": "var/lib/dpkg/status.d/libc6.md5sums", "content": "d41d8cd98f00b204e9800998ecf8427e  lib/x\n"},
  {"path": "var/lib/dpkg/status.d/tzdata", "content": "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n"}]}]}
SPECEOF
make_image "$W/distroless.json" oci-archive "$W/distroless.tar"
scan_json "$W/distroless.tar" --db "$W/osv.db" >"$W/distroless.out"
$PY - "$W/distroless.out" <<'PYEOF' || fail "status.d packages or matches wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
got = sorted((p["name"], p["version"], p["source"]) for p in doc["packages"])
assert got == [("libc6", "2.36-9+deb12u1", "glibc"), ("tzdata", "2024a-0+deb12u1", "tzdata")], got
ids = sorted(f["rule_id"] for f in doc["findings"] if not f["rule_id"].startswith("IMG-"))
assert ids == ["DSA-0001-1"], ids
PYEOF

step "language packages installed by dpkg or apk match only OS advisories"
mkdir -p "$W/lang-osv"
cat >"$W/lang-osv/pypi.json" <<'OSVEOF'
{"id": "PYSEC-TEST-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.32.0"}]}]}]}
OSVEOF
cat >"$W/lang-osv/npm.json" <<'OSVEOF'
{"id": "GHSA-test-0001", "affected": [{"package": {"ecosystem": "npm", "name": "semver"},
  "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "7.5.2"}]}]}]}
OSVEOF
"$COFFER_BIN" db import "$W/lang-osv" --db "$W/lang.db" >/dev/null
cat >"$W/owned.json" <<'SPECEOF'
{"layers": [{"entries": [
  {"path": "etc/os-release", "content": "ID=debian\nVERSION_ID=\"12\"\n"},
  {"path": "var/lib/dpkg/status", "content": "Package: python3-requests\nStatus: install ok installed\nVersion: 2.28.1+dfsg-1\nSource: requests\n\nPackage: node-semver\nStatus: install ok installed\nVersion: 7.3.5+~7.3.8-2\n"},
  {"path": "var/lib/dpkg/info/python3-requests.list", "content": "/.\n/usr\n/usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO\n"},
  {"path": "var/lib/dpkg/info/node-semver.list", "content": "/usr/share/nodejs/semver/package.json\n"},
  {"path": "usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO", "content": "Name: requests\nVersion: 2.28.1\n"},
  {"path": "usr/share/nodejs/semver/package.json", "content": "{\"name\": \"semver\", \"version\": \"7.3.5\"}"},
  {"path": "usr/local/lib/python3.11/dist-packages/requests-2.31.0.dist-info/METADATA", "content": "Name: requests\nVersion: 2.31.0\n"},
  {"path": "app/node_modules/semver/package.json", "content": "{\"name\": \"semver\", \"version\": \"7.5.1\"}"}
]}]}
SPECEOF
make_image "$W/owned.json" docker-archive "$W/owned.tar"
scan_json "$W/owned.tar" --db "$W/lang.db" >"$W/owned.out"
$PY - "$W/owned.out" <<'PYEOF' || fail "packages owned by dpkg were matched against language advisories"
import json, sys
doc = json.load(open(sys.argv[1]))
owned = sorted((p["type"], p["version"], p.get("owned_by")) for p in doc["packages"]
               if p["type"] in ("npm", "pypi"))
assert owned == [("npm", "7.3.5", "node-semver"), ("npm", "7.5.1", None),
                 ("pypi", "2.28.1", "python3-requests"), ("pypi", "2.31.0", None)], owned
hits = sorted((v["id"], v["installed_version"]) for v in doc["vulnerabilities"])
assert hits == [("GHSA-test-0001", "7.5.1"), ("PYSEC-TEST-1", "2.31.0")], hits
PYEOF
cat >"$W/owned-apk.json" <<'SPECEOF'
{"layers": [{"entries": [
  {"path": "etc/os-release", "content": "ID=alpine\nVERSION_ID=3.19.1\n"},
  {"path": "lib/apk/db/installed", "content": "P:py3-requests\nV:2.31.0-r0\no:py3-requests\nF:usr/lib/python3.11/site-packages/requests-2.31.0.dist-info\nR:METADATA\nR:RECORD\n"},
  {"path": "usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA", "content": "Name: requests\nVersion: 2.31.0\n"}
]}]}
SPECEOF
$PY - "$W/owned-rpmdb.sqlite" <<'PYEOF'
import sqlite3, sys
import rpm
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
h = rpm.hdr()
h[rpm.RPMTAG_NAME] = "python3-requests"
h[rpm.RPMTAG_VERSION] = "2.25.1"
h[rpm.RPMTAG_RELEASE] = "8.el9"
h[rpm.RPMTAG_DIRNAMES] = ["/usr/lib/python3.9/site-packages/requests-2.25.1-py3.9.egg-info/", "/usr/share/doc/"]
h[rpm.RPMTAG_BASENAMES] = ["PKG-INFO", "README"]
h[rpm.RPMTAG_DIRINDEXES] = [0, 1]
db.execute("INSERT INTO Packages(blob) VALUES (?)", (h.unload(),))
db.commit()
PYEOF
cat >"$W/owned-rpm.json" <<SPECEOF
{"layers": [{"entries": [
  {"path": "etc/os-release", "content": "ID=rocky\nVERSION_ID=9.3\n"},
  {"path": "var/lib/rpm/rpmdb.sqlite", "content_file": "$W/owned-rpmdb.sqlite"},
  {"path": "usr/lib/python3.9/site-packages/requests-2.25.1-py3.9.egg-info/PKG-INFO", "content": "Name: requests\nVersion: 2.25.1\n"}
]}]}
SPECEOF
make_image "$W/owned-rpm.json" docker-archive "$W/owned-rpm.tar"
scan_json "$W/owned-rpm.tar" --db "$W/lang.db" >"$W/owned-rpm.out"
$PY - "$W/owned-rpm.out" <<'PYEOF' || fail "packages owned by rpm were matched against language advisories"
import json, sys
doc = json.load(open(sys.argv[1]))
pypi = [p for p in doc["packages"] if p["type"] == "pypi"]
assert [p.get("owned_by") for p in pypi] == ["python3-requests"], pypi
assert doc["vulnerabilities"] == [], doc["vulnerabilities"]
PYEOF
make_image "$W/owned-apk.json" oci-archive "$W/owned-apk.tar"
scan_json "$W/owned-apk.tar" --db "$W/lang.db" >"$W/owned-apk.out"
$PY - "$W/owned-apk.out" <<'PYEOF' || fail "packages owned by apk were matched against language advisories"
import json, sys
doc = json.load(open(sys.argv[1]))
pypi = [p for p in doc["packages"] if p["type"] == "pypi"]
assert [p.get("owned_by") for p in pypi] == ["py3-requests"], pypi
assert doc["vulnerabilities"] == [], doc["vulnerabilities"]
PYEOF

step "hostile archives fail with a clear error"
hostile() { # NAME MESSAGE SPEC-JSON [FORMAT]
	echo "$3" >"$W/$1.json"
	make_image "$W/$1.json" "${4:-docker-archive}" "$W/$1.tar"
	set +e
	out=$("$COFFER_BIN" scan image "$W/$1.tar" --no-progress --format json 2>&1 >/dev/null)
	rc=$?
	set -e
	[ "$rc" = 2 ] || fail "$1: exit status $rc, expected 2 (output: $out)"
	case "$out" in
	*"$2"*) ;;
	*) fail "$1: expected '$2' in: $out" ;;
	esac
}
hostile traversal "leaves the image root" \
	'{"layers": [{"entries": [{"path": "../../tmp/scan-image-evil", "content": "x"}]}]}'
[ ! -e /tmp/scan-image-evil ] || fail "traversal entry was written outside the image"
hostile symlink "outside the image root" \
	'{"layers": [{"entries": [{"path": "lib/escape", "type": "symlink", "link": "../../../../etc"}]}]}'
hostile hardlink "outside the image root" \
	'{"layers": [{"entries": [{"path": "etc/x", "type": "hardlink", "link": "../../etc/shadow"}]}]}'
hostile bomb "decompression bomb" \
	'{"layers": [{"compression": "gzip", "entries": [{"path": "zeros", "content_repeat": ["\u0000", 67108864]}]}]}'
hostile truncated "truncated" \
	'{"layers": [{"compression": "gzip", "truncate": 200, "entries": [{"path": "var/lib/dpkg/status", "content_repeat": ["Package: a\nVersion: 1\nStatus: install ok installed\n\n", 2000]}]}]}'
hostile tampered "does not belong to this image or was modified" \
	'{"layers": [{"compression": "gzip", "diff_id": "sha256:0000000000000000000000000000000000000000000000000000000000000000", "entries": [{"path": "a", "content": "x"}]}]}'
hostile missing "is missing" \
	'{"missing_layer": true, "layers": [{"entries": [{"path": "a", "content": "x"}]}]}' oci-archive
hostile huge-status "byte limit for package databases" \
	'{"layers": [{"entries": [{"path": "var/lib/dpkg/status", "content_repeat": ["a", 104857600]}]}]}'
expect_fail_with "neither a docker-archive" "$COFFER_BIN" scan image "$W/osv.db" --no-progress

echo "PASS"
