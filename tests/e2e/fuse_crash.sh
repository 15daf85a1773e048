#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash of a fuse volume's server: the storage manager mounts a volume with
# engine=fuse through the Docker plugin API, a writer fills a file and
# fsyncs every 4 MiB, and the volume's FUSE server is killed with SIGKILL
# mid-write. The manager must notice, remount the volume at the same path,
# and every byte written before the last completed fsync must read back.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd curl jq python3 mountpoint fusermount3
[ -c /dev/fuse ] || skip_or_fail "/dev/fuse is missing"
fuse_transport_prepare

on_exit storage_cleanup
on_exit "fusermount3 -uz $STORAGE_DIR/mounts/fuse_crash_v1"
storage_start
VOLUME=fuse_crash_v1

step "create and mount $VOLUME with engine=fuse"
"$COFFER_BIN" volume create --admin-socket "$ADMIN_SOCKET" -o engine=fuse "$VOLUME" >/dev/null
reply=$(plugin_post /VolumeDriver.Mount "{\"Name\":\"$VOLUME\",\"ID\":\"fuse-crash-c1\"}")
[ "$(tail -1 <<<"$reply")" = 200 ] || fail "mount failed: $reply"
MNT=$(head -1 <<<"$reply" | jq -r .Mountpoint)
mountpoint -q "$MNT" || fail "$MNT is not a mount point"
info=$("$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$VOLUME")
echo "status: $(jq -r .status <<<"$info")"
[ "$(jq -r .engine <<<"$info")" = fuse ] || fail "volume engine is not fuse: $info"
PID=$(jq -r .status <<<"$info" | sed -n 's/.*server pid \([0-9]*\).*/\1/p')
[ -n "$PID" ] || fail "no server pid in the status: $info"

step "write with fsync checkpoints, then SIGKILL server $PID"
python3 - "$MNT/data.bin" "$E2E_WORK/checkpoint" <<'PY' &
import os, random, sys
path, checkpoint = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
chunk = 0
try:
    while chunk < 4096:  # at most 4 GiB; the kill stops it long before
        os.write(fd, random.Random(chunk).randbytes(1 << 20))
        chunk += 1
        if chunk % 4 == 0:
            os.fsync(fd)
            with open(checkpoint, "w") as f:
                f.write(str(chunk))
except OSError:
    pass
PY
WRITER=$!
for ((i = 0; i < 200; i++)); do
	[ -s "$E2E_WORK/checkpoint" ] && [ "$(cat "$E2E_WORK/checkpoint")" -ge 8 ] && break
	sleep 0.05
done
[ -s "$E2E_WORK/checkpoint" ] || fail "the writer made no checkpoint"
kill -KILL "$PID"
wait "$WRITER" || true
CHUNKS=$(cat "$E2E_WORK/checkpoint")
echo "killed after the fsync of $CHUNKS MiB"

step "the manager restarts the server and remounts $MNT"
for ((i = 0; i < 100; i++)); do
	status=$("$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$VOLUME" |
		jq -r .status)
	case "$status" in *"restarts: 1"*) break ;; esac
	sleep 0.1
done
echo "status: $status"
case "$status" in *"restarts: 1"*) ;; *) fail "server was not restarted: $status" ;; esac
grep -q "event=fuse.server_exited volume=$VOLUME" "$STORAGE_LOG" || fail "the crash was not logged"
mountpoint -q "$MNT" || fail "$MNT is not mounted after the restart"

step "every block before the last fsync reads back intact"
python3 - "$MNT/data.bin" "$CHUNKS" <<'PY' || fail "data written before the last fsync was lost"
import random, sys
path, chunks = sys.argv[1], int(sys.argv[2])
with open(path, "rb") as f:
    for chunk in range(chunks):
        data = f.read(1 << 20)
        if data != random.Random(chunk).randbytes(1 << 20):
            sys.exit(f"chunk {chunk} differs")
print(f"{chunks} MiB intact")
PY

step "unmount locks the volume; remove destroys it"
reply=$(plugin_post /VolumeDriver.Unmount "{\"Name\":\"$VOLUME\",\"ID\":\"fuse-crash-c1\"}")
[ "$(tail -1 <<<"$reply")" = 200 ] || fail "unmount failed: $reply"
! mountpoint -q "$MNT" || fail "$MNT is still mounted after unmount"
"$COFFER_BIN" volume rm --admin-socket "$ADMIN_SOCKET" "$VOLUME" >/dev/null
[ ! -e "$STORAGE_DIR/fuse-volumes/$VOLUME" ] || fail "ciphertext left after remove"
storage_stop
fuse_transport_check "$STORAGE_LOG"
echo "PASS"
