#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integrity of the FUSE engine. A flipped ciphertext byte makes exactly
# that 4096-byte block fail with EIO, and the failure is logged with the
# block number. A block copied from another file at the same position is
# rejected too, because each block's tag covers its number and file id.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fuse/mount.sh"

require_root
require_cmd fusermount3 python3 mountpoint
[ -c /dev/fuse ] || skip_or_fail "/dev/fuse is missing"
fuse_transport_prepare

W=$E2E_WORK
mkdir -p "$W/cipher" "$W/mnt"
head -c 32 /dev/urandom > "$W/key"
on_exit "fusermount3 -uz $W/mnt"

coffer_fuse_mount "$W/cipher" "$W/mnt" "$W/key"
head -c $((10 * 4096)) /dev/urandom > "$W/a"
head -c $((10 * 4096)) /dev/urandom > "$W/b"
cp "$W/a" "$W/mnt/a"
cp "$W/b" "$W/mnt/b"
coffer_fuse_unmount "$W/mnt"

# Finds the ciphertext of a plaintext name by its size and header order.
cipher_files=()
for f in "$W/cipher"/*; do
	case "$(basename "$f")" in gocryptfs.*) continue ;; esac
	cipher_files+=("$f")
done
[ "${#cipher_files[@]}" = 2 ] || fail "expected 2 ciphertext files, found ${#cipher_files[@]}"

# Reads every block of FILE in a fresh mount and prints one status per
# block (ok, EIO or mismatch against the reference REF).
check_blocks() {
	python3 - "$1" "$2" <<'PY'
import errno, os, sys
path, ref = sys.argv[1], sys.argv[2]
expected = open(ref, "rb").read()
fd = os.open(path, os.O_RDONLY)
out = []
for block in range(10):
    try:
        data = os.pread(fd, 4096, block * 4096)
        out.append("ok" if data == expected[block * 4096:(block + 1) * 4096] else "mismatch")
    except OSError as e:
        out.append("EIO" if e.errno == errno.EIO else f"errno{e.errno}")
print(" ".join(out))
PY
}

step "flipped byte in block 5"
python3 - "${cipher_files[0]}" <<'PY'
import sys
path = sys.argv[1]
with open(path, "r+b") as f:
    off = 18 + 5 * 4128 + 16 + 100
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x01]))
PY
coffer_fuse_mount "$W/cipher" "$W/mnt" "$W/key"
# The file whose ciphertext was damaged is whichever of a or b now fails.
status_a=$(check_blocks "$W/mnt/a" "$W/a")
status_b=$(check_blocks "$W/mnt/b" "$W/b")
echo "a: $status_a"
echo "b: $status_b"
expected="ok ok ok ok ok EIO ok ok ok ok"
clean="ok ok ok ok ok ok ok ok ok ok"
if [ "$status_a" = "$expected" ]; then
	[ "$status_b" = "$clean" ] || fail "the undamaged file b has bad blocks: $status_b"
elif [ "$status_b" = "$expected" ]; then
	[ "$status_a" = "$clean" ] || fail "the undamaged file a has bad blocks: $status_a"
else
	fail "expected EIO on block 5 only, got a: $status_a, b: $status_b"
fi
grep -q 'event=fuse_block_auth_failed .*block=5' "$E2E_WORK/server.log" ||
	fail "the authentication failure of block 5 was not logged"
coffer_fuse_unmount "$W/mnt"

step "block copied between files at the same position"
python3 - "${cipher_files[0]}" "${cipher_files[1]}" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
off = 18 + 2 * 4128
with open(src, "rb") as f:
    f.seek(off)
    block = f.read(4128)
with open(dst, "r+b") as f:
    f.seek(off)
    f.write(block)
PY
coffer_fuse_mount "$W/cipher" "$W/mnt" "$W/key"
status_a=$(check_blocks "$W/mnt/a" "$W/a")
status_b=$(check_blocks "$W/mnt/b" "$W/b")
echo "a: $status_a"
echo "b: $status_b"
case "$status_a $status_b" in
*mismatch*) fail "a read returned wrong data instead of EIO" ;;
esac
[ "$(echo "$status_a $status_b" | tr ' ' '\n' | grep -c EIO)" = 2 ] ||
	fail "expected EIO for block 5 of one file and block 2 of the other"
coffer_fuse_unmount "$W/mnt"
fuse_transport_check "$E2E_WORK/server.log"
echo "PASS"
