#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Image scanner on real images: a root filesystem made from busybox and a
# subset of the host's dpkg database is imported into podman, built upon
# (a package added, a key added then deleted, a directory replaced) and
# saved in every format podman writes. The scanner's package list must
# equal dpkg-query's for the same root filesystem in each format.

source "$(dirname "$0")/lib.sh"
require_cmd podman dpkg-query
[ -x /bin/busybox ] || skip_or_fail "busybox-static is not installed"
PY=/usr/bin/python3
W=$E2E_WORK
# No vulnerability database: these checks cover the package list only.
export COFFER_VULNDB=$W/no-database.sqlite
TAG=$$
BASE=localhost/scan-image-e2e-base:$TAG
APP=localhost/scan-image-e2e-app:$TAG
PODMAN_RUN_FLAGS=(--runtime runc --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

step "make a root filesystem from busybox and 40 host dpkg entries"
ROOTFS=$W/rootfs
mkdir -p "$ROOTFS"/{bin,etc,root,tmp,opt/app/node_modules/left-pad,var/lib/dpkg/info,var/lib/dpkg/updates}
cp /bin/busybox "$ROOTFS/bin/busybox"
for tool in sh rm mkdir printf cat; do ln -s busybox "$ROOTFS/bin/$tool"; done
cp /usr/lib/os-release "$ROOTFS/etc/os-release"
echo '{"name": "left-pad", "version": "1.3.0"}' >"$ROOTFS/opt/app/node_modules/left-pad/package.json"
$PY - /var/lib/dpkg/status "$ROOTFS/var/lib/dpkg/status" <<'PYEOF'
import sys
paragraphs = open(sys.argv[1], encoding="utf-8").read().split("\n\n")
installed = [p.strip("\n") for p in paragraphs
             if "\nStatus: install ok installed" in "\n" + p.strip("\n")]
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for p in installed[:40]:
        out.write(p + "\n\n")
PYEOF
touch "$ROOTFS/var/lib/dpkg/available"

dpkg_list() { # ADMINDIR
	dpkg-query -W --admindir="$1" -f '${Package}\t${Version}\n' | sort
}
packages_of() { # SCAN-JSON -> "name<TAB>version" lines of deb packages
	$PY -c "
import json, sys
doc = json.load(open(sys.argv[1]))
for p in sorted((p['name'], p['version']) for p in doc['packages'] if p['type'] == 'deb'):
    print(p[0] + '\t' + p[1])
" "$1"
}

dpkg_list "$ROOTFS/var/lib/dpkg" >"$W/expected-base.txt"
[ "$(wc -l <"$W/expected-base.txt")" = 40 ] || fail "expected 40 packages in the test root filesystem"

step "scan the root filesystem directory"
"$COFFER_BIN" scan rootfs "$ROOTFS" --no-progress --format json >"$W/rootfs.json"
packages_of "$W/rootfs.json" >"$W/rootfs.txt"
diff -u "$W/expected-base.txt" "$W/rootfs.txt" || fail "rootfs package list differs from dpkg-query"

step "import and build the image with podman"
on_exit "podman rmi -f $APP $BASE"
tar -C "$ROOTFS" -cf "$W/rootfs.tar" .
podman import -q "$W/rootfs.tar" "$BASE" >/dev/null
mkdir -p "$W/context"
cat >"$W/context/Containerfile" <<CFEOF
FROM $BASE
RUN printf 'Package: scan-image-extra\nStatus: install ok installed\nArchitecture: all\nMaintainer: coffer tests <tests@coffer.invalid>\nDescription: package added by a later layer\nVersion: 1:2.0~rc1-3\nSource: scan-image-extra-src (2.0~rc1-3)\n\n' >> /var/lib/dpkg/status
RUN mkdir -p /root/.ssh && printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n' > /root/.ssh/id_rsa
RUN rm /root/.ssh/id_rsa
RUN rm -rf /opt/app && mkdir -p /opt/app/node_modules/right-pad && printf '{"name": "right-pad", "version": "1.0.0"}' > /opt/app/node_modules/right-pad/package.json
CFEOF
podman build -q "${PODMAN_RUN_FLAGS[@]}" -t "$APP" "$W/context" >/dev/null

# The same change applied to a copy of the database gives the expected list.
mkdir -p "$W/final-dpkg/info" "$W/final-dpkg/updates"
cp "$ROOTFS/var/lib/dpkg/status" "$W/final-dpkg/status"
printf 'Package: scan-image-extra\nStatus: install ok installed\nArchitecture: all\nMaintainer: coffer tests <tests@coffer.invalid>\nDescription: package added by a later layer\nVersion: 1:2.0~rc1-3\nSource: scan-image-extra-src (2.0~rc1-3)\n\n' >>"$W/final-dpkg/status"
dpkg_list "$W/final-dpkg" >"$W/expected-app.txt"

step "save in every format podman writes"
podman save -q --format docker-archive -o "$W/app-docker.tar" "$APP"
podman save -q --format oci-archive -o "$W/app-oci.tar" "$APP"
podman save -q --format oci-dir -o "$W/app-oci-dir" "$APP"
podman push -q --compression-format gzip "$APP" "oci:$W/app-gzip:latest"
podman push -q --compression-format zstd "$APP" "oci:$W/app-zstd:latest"
podman save -q --format docker-archive -o "$W/two-images.tar" -m "$BASE" "$APP"

for image in app-docker.tar app-oci.tar app-oci-dir app-gzip app-zstd; do
	step "scan $image"
	"$COFFER_BIN" scan image "$W/$image" --no-progress --format json >"$W/$image.json"
	packages_of "$W/$image.json" >"$W/$image.txt"
	diff -u "$W/expected-app.txt" "$W/$image.txt" || fail "$image: package list differs from dpkg-query"
	$PY - "$W/$image.json" <<'PYEOF' || fail "$image: layers, whiteouts or findings wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
packages = {p["name"]: p for p in doc["packages"]}
extra = packages["scan-image-extra"]
assert extra["layer_index"] == 1, extra
assert "scan-image-extra" in extra["created_by"], extra
assert extra["source"] == "scan-image-extra-src", extra
assert extra["source_version"] == "2.0~rc1-3", extra
base = [p for p in doc["packages"] if p["type"] == "deb" and p["name"] != "scan-image-extra"]
assert all(p["layer_index"] == 0 for p in base), [p for p in base if p["layer_index"] != 0]
assert "left-pad" not in packages, "the replaced directory's package is still listed"
assert packages["right-pad"]["layer_index"] == 4, packages["right-pad"]
keys = [f for f in doc["findings"] if f["rule_id"] == "IMG-PRIVATE-KEY"]
assert len(keys) == 1 and keys[0]["layer_index"] == 2, keys
assert "id_rsa" in keys[0]["created_by"], keys
assert doc["image"]["os"]["ecosystem"].startswith("Debian:"), doc["image"]["os"]
PYEOF
done

step "choose one image of a multi-image archive by tag and by index"
"$COFFER_BIN" scan image "$W/two-images.tar" --image "$APP" --no-progress --format json >"$W/by-tag.json"
packages_of "$W/by-tag.json" | diff -u "$W/expected-app.txt" - || fail "--image by tag picked the wrong image"
"$COFFER_BIN" scan image "$W/two-images.tar" --image 0 --no-progress --format json >"$W/by-index.json"
packages_of "$W/by-index.json" | diff -u "$W/expected-base.txt" - || fail "--image 0 picked the wrong image"
expect_fail_with "no image" "$COFFER_BIN" scan image "$W/two-images.tar" --image nosuch:tag --no-progress

echo "PASS"
