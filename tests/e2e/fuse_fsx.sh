#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Randomized differential test of the FUSE engine: thousands of seeded
# operations applied to a plaintext directory and to a coffer mount, with
# the two compared after every step. Set FSX_SEED to repeat a failing run
# and FSX_OPS to change the length (default 3000).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fuse/mount.sh"

require_root
require_cmd fusermount3 python3 mountpoint
[ -c /dev/fuse ] || skip_or_fail "/dev/fuse is missing"
fuse_transport_prepare

W=$E2E_WORK
mkdir -p "$W/plain" "$W/cipher" "$W/mnt"
head -c 32 /dev/urandom > "$W/key"
on_exit "fusermount3 -uz $W/mnt"
coffer_fuse_mount "$W/cipher" "$W/mnt" "$W/key"

seed=${FSX_SEED:-$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')}
echo "fsx seed: $seed"
python3 "$COFFER_SOURCE_DIR/tests/e2e/fuse/fsx.py" "$W/plain" "$W/mnt" \
	--seed "$seed" --ops "${FSX_OPS:-3000}" || fail "fsx found a difference (seed $seed)"

step "concurrent writers and readers of one file"
python3 "$COFFER_SOURCE_DIR/tests/e2e/fuse/concurrent.py" "$W/mnt/concurrent.bin" "$seed" ||
	fail "concurrent writers and readers disagree (seed $seed)"
rm -f "$W/mnt/concurrent.bin"

step "ownership, times, permissions and statfs"
M=$W/mnt
echo data > "$M/owned"
chown 1000:1000 "$M/owned"
touch -d '2020-01-02 03:04:05' "$M/owned"
[ "$(stat -c '%u:%g %Y' "$M/owned")" = "1000:1000 1577934245" ] ||
	fail "chown or utimens not applied: $(stat -c '%u:%g %Y' "$M/owned")"
ln -s owned "$M/owned_link"
chown -h 1002:1002 "$M/owned_link"
[ "$(stat -c '%u:%g' "$M/owned_link")" = "1002:1002" ] || fail "chown -h of a symlink not applied"
[ "$(stat -f -c '%l' "$M")" = 255 ] || fail "statfs reports name max $(stat -f -c '%l' "$M"), expected 255"
# The work directory is private (mktemp); let user nobody reach the mount.
chmod 755 "$E2E_WORK" "$W"
su nobody -s /bin/sh -c "cat '$M/owned'" >/dev/null || fail "user nobody cannot read a mode 0644 file"
chmod 600 "$M/owned"
if su nobody -s /bin/sh -c "cat '$M/owned'" >/dev/null 2>&1; then
	fail "user nobody could read a mode 0600 file of uid 1000"
fi
mkdir "$M/shared" && chmod 1777 "$M/shared"
su nobody -s /bin/sh -c "echo mine > '$M/shared/by_nobody'" || fail "nobody cannot create a file in a 1777 directory"
[ "$(stat -c '%U' "$M/shared/by_nobody")" = nobody ] || fail "a new file does not belong to its creator"
rm -rf "$M/owned" "$M/owned_link" "$M/shared"

step "the tree survives a remount"
python3 "$COFFER_SOURCE_DIR/tests/e2e/fuse/manifest.py" "$W/mnt" > "$W/before"
coffer_fuse_unmount "$W/mnt"
coffer_fuse_mount "$W/cipher" "$W/mnt" "$W/key"
python3 "$COFFER_SOURCE_DIR/tests/e2e/fuse/manifest.py" "$W/mnt" > "$W/after"
diff -u "$W/before" "$W/after" || fail "tree changed across remount (seed $seed)"
coffer_fuse_unmount "$W/mnt"

step "more files than the server's descriptor limit"
# A server limited to 256 descriptors must still serve 2000 files, since
# it keeps descriptors only for directories.
mkdir -p "$W/many_cipher" "$W/many"
on_exit "fusermount3 -uz $W/many"
(
	ulimit -n 256
	coffer_fuse_mount "$W/many_cipher" "$W/many" "$W/key"
)
python3 - "$W/many" <<'PY' || fail "cannot create 2000 files"
import os, sys
for i in range(2000):
    d = os.path.join(sys.argv[1], f"d{i % 4}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}"), "wb") as f:
        f.write(bytes([i % 256]) * 100)
PY
count=$(find "$W/many" -type f -print0 | xargs -0 cat | wc -c)
[ "$count" = 200000 ] || fail "read $count bytes back from 2000 files, expected 200000"
rm -rf "${W:?}/many/"* || fail "cannot remove the 2000 files"
fusermount3 -u "$W/many" || fail "cannot unmount $W/many"
fuse_transport_check "$E2E_WORK/server.log"
echo "PASS"
