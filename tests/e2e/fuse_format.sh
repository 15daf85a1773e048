#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Format compatibility with stock gocryptfs (Debian): a tree written through
# coffer's FUSE server is read back by `gocryptfs -masterkey=stdin`, and a
# tree written by gocryptfs is read back by coffer, both compared entry by
# entry (type, mode, size, SHA-256, symlink target).
source "$(dirname "$0")/lib.sh"

require_root
require_cmd gocryptfs fusermount3 python3 mountpoint
[ -c /dev/fuse ] || skip_or_fail "/dev/fuse is missing"
fuse_transport_prepare

HELPERS=$COFFER_SOURCE_DIR/tests/e2e/fuse
W=$E2E_WORK
mkdir -p "$W/src" "$W/c1" "$W/m1" "$W/c2" "$W/m2"
head -c 32 /dev/urandom > "$W/key"
KEY_HEX=$(od -An -tx1 -v "$W/key" | tr -d ' \n')

# Mounts CIPHER at MOUNT with coffer's server and waits until it is live.
coffer_mount() {
	local cipher=$1 mnt=$2 i
	"$COFFER_BIN" fuse-server --init --key-fd 3 --volume fuse-format "$cipher" "$mnt" \
		3<"$W/key" >>"$W/server.log" 2>&1 &
	for ((i = 0; i < 100; i++)); do
		mountpoint -q "$mnt" && return 0
		sleep 0.1
	done
	cat "$W/server.log" >&2
	fail "coffer fuse-server did not mount $mnt"
}

gocryptfs_mount() {
	echo "$KEY_HEX" | gocryptfs -q -masterkey=stdin "$1" "$2" 2>/dev/null ||
		fail "gocryptfs could not mount $1"
}

unmount() {
	fusermount3 -u "$1" || fail "cannot unmount $1"
}
on_exit "fusermount3 -uz $W/m1"
on_exit "fusermount3 -uz $W/m2"

python3 "$HELPERS/make_tree.py" "$W/src"
python3 "$HELPERS/manifest.py" "$W/src" > "$W/expected"
grep -q '^file .* nnnnnnnnn' "$W/expected" || fail "test tree has no long names"

step "coffer writes, gocryptfs reads"
coffer_mount "$W/c1" "$W/m1"
cp -a "$W/src/." "$W/m1/"
python3 "$HELPERS/manifest.py" "$W/m1" > "$W/coffer_view"
diff -u "$W/expected" "$W/coffer_view" || fail "coffer mount differs from the source tree"
unmount "$W/m1"
ls "$W/c1" | grep -q '^gocryptfs.longname\.' || fail "no long-name files in the ciphertext"
if grep -rq "leaf" "$W/c1"; then fail "plaintext found in the ciphertext"; fi
gocryptfs_mount "$W/c1" "$W/m1"
python3 "$HELPERS/manifest.py" "$W/m1" > "$W/gocryptfs_view"
unmount "$W/m1"
diff -u "$W/expected" "$W/gocryptfs_view" || fail "gocryptfs reads coffer's tree differently"

step "gocryptfs writes, coffer reads"
head -c 16 /dev/urandom > "$W/c2/gocryptfs.diriv"
gocryptfs_mount "$W/c2" "$W/m2"
cp -a "$W/src/." "$W/m2/"
unmount "$W/m2"
coffer_mount "$W/c2" "$W/m2"
python3 "$HELPERS/manifest.py" "$W/m2" > "$W/coffer_reads_gocryptfs"
unmount "$W/m2"
diff -u "$W/expected" "$W/coffer_reads_gocryptfs" || fail "coffer reads gocryptfs's tree differently"

step "file holes stay sparse in coffer's ciphertext"
sparse=$(python3 - "$W/c1" <<'PY'
import os, sys
root = sys.argv[1]
# The largest ciphertext with fewer allocated blocks than its size is a hole.
print(sum(1 for n in os.listdir(root)
          if os.path.isfile(os.path.join(root, n))
          and os.stat(os.path.join(root, n)).st_blocks * 512 < os.stat(os.path.join(root, n)).st_size))
PY
)
[ "$sparse" -ge 1 ] || fail "no sparse ciphertext file found"

step "a wrong key is refused, not shown as an empty volume"
# By our estimate a wrong key decrypts about one name in 256 by chance, so
# several keys are tried. Each run is bounded in case one mounts and keeps
# serving.
for ((i = 0; i < 20; i++)); do
	head -c 32 /dev/urandom > "$W/wrong_key"
	rc=0
	timeout 20 "$COFFER_BIN" fuse-server --key-fd 3 --volume fuse-format "$W/c1" "$W/m1" \
		3<"$W/wrong_key" > "$W/wrong.log" 2>&1 || rc=$?
	if mountpoint -q "$W/m1"; then
		fusermount3 -u "$W/m1"
		fail "wrong key $i was mounted"
	fi
	[ "$rc" -ne 0 ] || fail "fuse-server accepted wrong key $i"
	[ "$rc" -ne 124 ] || fail "fuse-server kept serving with wrong key $i"
	if ! grep -q "not this volume's key" "$W/wrong.log"; then
		cat "$W/wrong.log" >&2
		fail "no wrong-key message for wrong key $i"
	fi
done

fuse_transport_check "$W/server.log"
echo "PASS: both directions match ($(wc -l < "$W/expected") entries)"
