#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Transport selection of the FUSE server. --uring require fails while the
# fuse module parameter enable_uring is N, and auto falls back to /dev/fuse.
# enable sets the parameter and serves over io_uring. When seccomp blocks
# io_uring_setup, auto falls back and require fails. SIGTERM under load
# stops a server whose ring threads are busy. The storage manager passes
# --fuse-uring to its servers and `coffer volume inspect` shows the
# transport. The parameter's old value is restored on exit.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fuse/mount.sh"

require_root
require_cmd fusermount3 mountpoint curl jq
[ -c /dev/fuse ] || skip_or_fail "/dev/fuse is missing"
[ -w "$FUSE_URING_PARAM" ] ||
	skip_or_fail "$FUSE_URING_PARAM is missing or read-only (a kernel without CONFIG_FUSE_IO_URING?)"
on_exit "echo $(cat "$FUSE_URING_PARAM") > $FUSE_URING_PARAM"

W=$E2E_WORK
mkdir -p "$W/cipher" "$W/mnt"
head -c 32 /dev/urandom > "$W/key"
on_exit "fusermount3 -uz $W/mnt"
LOG=$E2E_WORK/server.log

# Waits up to 10 s for process $1 to exit and stores its status in $rc.
wait_exit() {
	local pid=$1 i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "process $pid did not exit within 10 s"
	rc=0
	wait "$pid" || rc=$?
}

# Runs a command that must fail by itself within 30 s with $1 in its
# output. A server that logs the failure but never stops would otherwise
# hold the test until CTest's timeout.
fails_quickly_with() {
	local text=$1 out rc=0
	shift
	out=$(timeout 30 "$@" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || fail "expected failure from: $* (output: $out)"
	[ "$rc" -ne 124 ] || fail "still running after 30 s: $* (output: $out)"
	case "$out" in
	*"$text"*) ;;
	*) fail "expected '$text' in the output of: $* (output: $out)" ;;
	esac
}

step "require fails while enable_uring is N"
echo N > "$FUSE_URING_PARAM"
fails_quickly_with "enable_uring" "$COFFER_BIN" fuse-server --init --uring require --key-fd 3 \
	"$W/cipher" "$W/mnt" 3<"$W/key"
! mountpoint -q "$W/mnt" || fail "--uring require mounted without io_uring"

step "auto falls back to /dev/fuse"
COFFER_FUSE_URING=auto coffer_fuse_mount "$W/cipher" "$W/mnt" "$W/key"
echo classic > "$W/mnt/a"
[ "$(cat "$W/mnt/a")" = classic ] || fail "cannot read back through /dev/fuse"
coffer_fuse_unmount "$W/mnt"
grep -q 'event=fuse_transport .*transport=dev_fuse' "$LOG" || fail "auto did not log dev_fuse"

step "enable sets enable_uring and serves over io_uring"
: > "$LOG"
COFFER_FUSE_URING=enable coffer_fuse_mount "$W/cipher" "$W/mnt" "$W/key"
[ "$(cat "$FUSE_URING_PARAM")" = Y ] || fail "--uring enable left enable_uring at $(cat "$FUSE_URING_PARAM")"
for i in $(seq 200); do echo "$i" > "$W/mnt/f$i"; done
[ "$(cat "$W/mnt/f200")" = 200 ] || fail "cannot read back through io_uring"
[ "$(cat "$W/mnt/a")" = classic ] || fail "a file written over /dev/fuse reads differently"
rm -f "$W"/mnt/f*
grep -q 'event=fuse_transport .*transport=io_uring' "$LOG" || fail "enable did not log io_uring"
coffer_fuse_unmount "$W/mnt"

step "auto falls back when seccomp blocks io_uring_setup"
# The kernel still offers io_uring (enable_uring is Y). Accepting it
# without working rings would make the kernel hold every request.
: > "$LOG"
FUSE_WRAPPER="python3 $COFFER_SOURCE_DIR/tests/e2e/fuse/no_io_uring.py" \
	COFFER_FUSE_URING=auto coffer_fuse_mount "$W/cipher" "$W/mnt" "$W/key"
timeout 10 sh -c "echo sandboxed > '$W/mnt/s' && cat '$W/mnt/s'" > "$W/s.out" ||
	fail "the mount hangs or fails when io_uring_setup is blocked"
[ "$(cat "$W/s.out")" = sandboxed ] || fail "read back '$(cat "$W/s.out")'"
grep -q 'event=fuse_transport .*transport=dev_fuse.*io_uring_setup failed' "$LOG" ||
	fail "no dev_fuse fallback logged: $(cat "$LOG")"
coffer_fuse_unmount "$W/mnt"

step "require fails cleanly when seccomp blocks io_uring_setup"
fails_quickly_with "io_uring_setup failed" \
	python3 "$COFFER_SOURCE_DIR/tests/e2e/fuse/no_io_uring.py" \
	"$COFFER_BIN" fuse-server --uring require --key-fd 3 "$W/cipher" "$W/mnt" 3<"$W/key"
! mountpoint -q "$W/mnt" || fail "--uring require mounted without io_uring"

step "SIGTERM stops a server while requests are in flight"
COFFER_FUSE_URING=require coffer_fuse_mount "$W/cipher" "$W/mnt" "$W/key"
dd if=/dev/zero of="$W/mnt/big" bs=1M count=1024 2>/dev/null &
WRITER=$!
sleep 0.5
kill -TERM "$FUSE_SERVER_PID"
wait_exit "$FUSE_SERVER_PID"
kill "$WRITER" 2>/dev/null || true
wait "$WRITER" || true
! mountpoint -q "$W/mnt" || fail "$W/mnt is still mounted after SIGTERM"
grep -q 'event=fuse_stopped' "$LOG" || fail "the server did not log its stop"

step "the storage manager passes --fuse-uring require to its servers"
on_exit storage_cleanup
storage_start --fuse-uring require
VOLUME=fuse_uring_v1
"$COFFER_BIN" volume create --admin-socket "$ADMIN_SOCKET" -o engine=fuse "$VOLUME" >/dev/null
reply=$(plugin_post /VolumeDriver.Mount "{\"Name\":\"$VOLUME\",\"ID\":\"fuse-uring-c1\"}")
[ "$(tail -1 <<<"$reply")" = 200 ] || fail "mount failed: $reply"
MNT=$(head -1 <<<"$reply" | jq -r .Mountpoint)
on_exit "fusermount3 -uz $MNT"
echo data > "$MNT/file"
status=$("$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$VOLUME" |
	jq -r .status)
echo "status: $status"
case "$status" in *io_uring*) ;; *) fail "inspect does not show io_uring: $status" ;; esac
reply=$(plugin_post /VolumeDriver.Unmount "{\"Name\":\"$VOLUME\",\"ID\":\"fuse-uring-c1\"}")
[ "$(tail -1 <<<"$reply")" = 200 ] || fail "unmount failed: $reply"
"$COFFER_BIN" volume rm --admin-socket "$ADMIN_SOCKET" "$VOLUME" >/dev/null
storage_stop
COFFER_FUSE_URING=require fuse_transport_check "$STORAGE_LOG"
grep -q "event=fuse.server_started volume=$VOLUME .*transport=io_uring" "$STORAGE_LOG" ||
	fail "the storage manager did not log the io_uring transport"
echo "PASS"
