#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Crash recovery of the storage manager: SIGKILL in the middle of a loop of
# create, mount, write, unmount and remove requests, then a restart. After
# each restart every volume must be usable or cleanly gone: no volume without
# an active key, no active key without a volume, no directory without a
# volume, and data written before the crash reads back.

. "$(dirname "$0")/lib.sh"

require_root
require_cmd curl sqlite3 jq mountpoint /usr/bin/python3

ROUNDS=4
REQUESTS_PER_ROUND=60

on_exit storage_cleanup

# Runs create/mount/write/unmount (and remove for every third volume) until
# a request fails because the server is gone, or REQUESTS_PER_ROUND volumes.
request_loop() {
	local round=$1 i name reply mountpoint
	for ((i = 1; i <= REQUESTS_PER_ROUND; i++)); do
		name=crash-$round-$i
		reply=$(plugin_post /VolumeDriver.Create "{\"Name\":\"$name\",\"Opts\":{\"engine\":\"fscrypt\"}}") || return 0
		reply=$(plugin_post /VolumeDriver.Mount "{\"Name\":\"$name\",\"ID\":\"c$i\"}") || return 0
		mountpoint=$(head -1 <<<"$reply" | jq -r '.Mountpoint // empty' 2>/dev/null) || true
		if [ -n "$mountpoint" ]; then
			echo "$name" >"$mountpoint/owner" 2>/dev/null || true
		fi
		plugin_post /VolumeDriver.Unmount "{\"Name\":\"$name\",\"ID\":\"c$i\"}" >/dev/null ||
			return 0
		if ((i % 3 == 0)); then
			plugin_post /VolumeDriver.Remove "{\"Name\":\"$name\"}" >/dev/null || return 0
		fi
	done
}

# Checks that volumes, keys and directories agree after a restart, and that
# every volume mounts and keeps the data written before the crash.
check_consistent() {
	local volumes keys dirs name key_id state status reply mountpoint content
	volumes=$("$COFFER_BIN" volume ls --admin-socket "$ADMIN_SOCKET" --format json)
	keys=$(sqlite3 "$STORAGE_DIR/keys/keys.db" "SELECT id FROM objects WHERE state <> 5 ORDER BY id")
	dirs=$(ls "$STORAGE_DIR/pool/volumes" | sort)

	[ "$(jq -r '.[].key_id' <<<"$volumes" | sort)" = "$keys" ] ||
		fail "keys that are not destroyed differ from the volumes' keys:
volumes: $(jq -c '[.[] | {name, key_id}]' <<<"$volumes")
keys: $keys"
	[ "$(jq -r '.[].name' <<<"$volumes" | sort)" = "$dirs" ] ||
		fail "directories differ from volumes: dirs [$dirs] volumes [$(jq -r '.[].name' <<<"$volumes")]"

	while read -r name key_id state; do
		[ -n "$name" ] || continue
		[ "$state" = ready ] || fail "volume $name is $state after restart, expected ready"
		# Only inspect reports the engine's status; ls leaves it empty.
		status=$("$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$name" |
			jq -r .status)
		[ "$status" = locked ] || fail "volume $name is '$status' after restart, expected locked"
		[ "$(sqlite3 "$STORAGE_DIR/keys/keys.db" "SELECT state FROM objects WHERE id = '$key_id'")" = 2 ] ||
			fail "key $key_id of volume $name is not active"
		reply=$(plugin_post /VolumeDriver.Mount "{\"Name\":\"$name\",\"ID\":\"check\"}")
		[ "$(tail -1 <<<"$reply")" = 200 ] || fail "volume $name does not mount: $reply"
		mountpoint=$(head -1 <<<"$reply" | jq -r .Mountpoint)
		if [ -e "$mountpoint/owner" ]; then
			content=$(cat "$mountpoint/owner")
			[ "$content" = "$name" ] || fail "volume $name contains '$content', expected its name"
		fi
		echo check >"$mountpoint/check" || fail "volume $name is not writable"
		reply=$(plugin_post /VolumeDriver.Unmount "{\"Name\":\"$name\",\"ID\":\"check\"}")
		[ "$(tail -1 <<<"$reply")" = 200 ] || fail "volume $name does not unmount: $reply"
	done < <(jq -r '.[] | "\(.name) \(.key_id) \(.state)"' <<<"$volumes")
	echo "consistent: $(jq length <<<"$volumes") volumes, each locked, with one active key and a directory"
}

storage_start
for ((round = 1; round <= ROUNDS; round++)); do
	step "round $round: SIGKILL during the request loop, then restart"
	request_loop "$round" &
	loop_pid=$!
	sleep "$((RANDOM % 2)).$((RANDOM % 9 + 1))"
	kill -KILL "$STORAGE_PID"
	wait "$STORAGE_PID" || true
	STORAGE_PID=
	wait "$loop_pid" || true
	grep -c 'event=volume.created' "$STORAGE_LOG" | xargs echo "volumes created so far:"

	storage_start
	check_consistent
done

step "remove every volume: keys destroyed, directories gone"
for name in $("$COFFER_BIN" volume ls --admin-socket "$ADMIN_SOCKET" --format json | jq -r '.[].name'); do
	"$COFFER_BIN" volume rm --admin-socket "$ADMIN_SOCKET" "$name" >/dev/null
done
[ "$(sqlite3 "$STORAGE_DIR/keys/keys.db" "SELECT count(*) FROM objects WHERE state <> 5")" = 0 ] ||
	fail "keys left that are not destroyed"
[ -z "$(ls "$STORAGE_DIR/pool/volumes")" ] || fail "directories left in the pool"

step "SIGTERM finishes a request in flight, locks a mounted volume and exits 0"
"$COFFER_BIN" volume create --admin-socket "$ADMIN_SOCKET" -o engine=fscrypt crash-final >/dev/null
reply=$(plugin_post /VolumeDriver.Mount '{"Name":"crash-final","ID":"c-final"}')
[ "$(tail -1 <<<"$reply")" = 200 ] || fail "mount failed: $reply"
echo secret >"$(head -1 <<<"$reply" | jq -r .Mountpoint)/secret"
# The client sends half a Create request, the server gets SIGTERM, then the
# client sends the rest: the request must still succeed.
/usr/bin/python3 - "$PLUGIN_SOCKET" "$STORAGE_PID" <<'PY' || fail "the request in flight failed"
import os, signal, socket, sys, time
body = b'{"Name":"crash-inflight","Opts":{"engine":"fscrypt"}}'
s = socket.socket(socket.AF_UNIX)
s.settimeout(60)
s.connect(sys.argv[1])
s.sendall(b"POST /VolumeDriver.Create HTTP/1.1\r\nHost: coffer\r\nConnection: close\r\n"
          b"Content-Length: %d\r\n\r\n" % len(body) + body[:20])
time.sleep(0.2)
os.kill(int(sys.argv[2]), signal.SIGTERM)
time.sleep(0.1)
s.sendall(body[20:])
reply = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    reply += chunk
print(reply.split(b"\r\n")[0].decode(), reply.split(b"\r\n\r\n", 1)[-1].decode().strip())
sys.exit(0 if reply.startswith(b"HTTP/1.1 200") else 1)
PY
storage_stop
grep -q 'event=volume.locked volume=crash-final' "$STORAGE_LOG" ||
	fail "crash-final was not locked at shutdown"
# A server restarted after SIGKILL reuses the pool mount the killed one
# left, and leaves it mounted at exit. The volume must be locked either way.
if mountpoint -q "$STORAGE_DIR/pool"; then
	expect_fail_with "Required key not available" \
		cat "$(find "$STORAGE_DIR/pool/volumes/crash-final" -type f | head -1)"
fi
storage_start
"$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" crash-inflight >/dev/null ||
	fail "the volume created during shutdown is missing after a restart"
check_consistent
storage_stop
echo "PASS"
