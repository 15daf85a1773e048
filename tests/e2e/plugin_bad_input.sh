#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Bad input to the storage manager's plugin socket, admin socket and CLI:
# each case gets its own error message and status, the server keeps
# running, and the volume created first keeps its key and its data.

. "$(dirname "$0")/lib.sh"

require_root
require_cmd curl sqlite3 jq mountpoint /usr/bin/python3

on_exit storage_cleanup
storage_start

coffer_volume() {
	"$COFFER_BIN" volume "$1" --admin-socket "$ADMIN_SOCKET" "${@:2}"
}

# Posts body to the plugin path and checks for HTTP 500 and text in Err.
expect_plugin_error() {
	local path=$1 body=$2 text=$3 reply err
	reply=$(plugin_post "$path" "$body")
	[ "$(tail -1 <<<"$reply")" = 500 ] || fail "$path $body: expected HTTP 500, got: $reply"
	err=$(head -1 <<<"$reply" | jq -r .Err)
	case "$err" in
	*"$text"*) echo "plugin $path: $err" ;;
	*) fail "$path $body: expected '$text' in Err, got: $reply" ;;
	esac
}

# Sends a request to the admin socket and checks the status and the message.
expect_admin_error() {
	local method=$1 path=$2 body=$3 status=$4 text=$5 reply message
	reply=$(curl -sS --max-time 60 --unix-socket "$ADMIN_SOCKET" -X "$method" \
		--data-binary "$body" -w '\n%{http_code}\n' "http://coffer$path")
	[ "$(tail -1 <<<"$reply")" = "$status" ] ||
		fail "$method $path: expected HTTP $status, got: $reply"
	message=$(sed '$d' <<<"$reply" | jq -r .error)
	case "$message" in
	*"$text"*) echo "admin $method $path: $status $message" ;;
	*) fail "$method $path: expected '$text' in the error, got: $reply" ;;
	esac
}

# Runs the CLI and checks its exit status and a text in its output.
expect_cli() {
	local status=$1 text=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" = "$status" ] || fail "$*: expected exit $status, got $rc (output: $out)"
	case "$out" in
	*"$text"*) echo "cli exit $rc: $(head -1 <<<"$out")" ;;
	*) fail "$*: expected '$text' in the output, got: $out" ;;
	esac
}

step "a volume with data that no bad request may touch"
coffer_volume create keep >/dev/null
KEY_ID=$(coffer_volume inspect keep --format json | jq -r .key_id)
reply=$(plugin_post /VolumeDriver.Mount '{"Name":"keep","ID":"writer"}')
mountpoint=$(head -1 <<<"$reply" | jq -r .Mountpoint)
head -c 65536 /dev/urandom >"$mountpoint/data.bin"
sha256sum <"$mountpoint/data.bin" >"$E2E_WORK/data.sha256"

step "bad requests to the plugin socket"
expect_plugin_error /VolumeDriver.Remove '{"Name":"keep"' "invalid JSON"
expect_plugin_error /VolumeDriver.Remove '["keep"]' "expected a JSON object"
expect_plugin_error /VolumeDriver.Remove '{}' "missing Name"
expect_plugin_error /VolumeDriver.Remove '{"Name":["keep"]}' "Name must be a string"
expect_plugin_error /VolumeDriver.Remove '{"Name":"../keep"}' "invalid volume name"
expect_plugin_error /VolumeDriver.Create '{"Name":"keep/x"}' "invalid volume name"
expect_plugin_error /VolumeDriver.Create '{"Name":"keep"}' "already exists"
expect_plugin_error /VolumeDriver.Create '{"Name":"new","Opts":{"size":"1G"}}' \
	"unknown volume option 'size'"
expect_plugin_error /VolumeDriver.Create '{"Name":"new","Opts":{"shared":1}}' \
	"option 'shared' must be a string"
expect_plugin_error /VolumeDriver.Mount '{"Name":"keep"}' "missing ID"
expect_plugin_error /VolumeDriver.Mount '{"Name":"keep","ID":"intruder"}' "already mounted"
expect_plugin_error /VolumeDriver.Unmount '{"Name":"keep","ID":"intruder"}' "not mounted by"
expect_plugin_error /VolumeDriver.Remove '{"Name":"keep"}' "stop the container"
expect_plugin_error /VolumeDriver.Remove '{"Name":"missing"}' "not found"
expect_plugin_error /VolumeDriver.Get '{"Name":"missing"}' "not found"
expect_plugin_error /VolumeDriver.Frobnicate '{}' "unknown plugin endpoint"
expect_plugin_error /VolumeDriver.Create "{\"Name\":\"big\",\"Pad\":\"$(head -c 70000 /dev/zero | tr '\0' a)\"}" \
	"exceeds the limit of 65536 bytes"

reply=$(curl -sS --unix-socket "$PLUGIN_SOCKET" -w '\n%{http_code}\n' http://coffer/VolumeDriver.List)
[ "$(tail -1 <<<"$reply")" = 500 ] && grep -q "takes POST requests" <<<"$reply" ||
	fail "GET on the plugin socket: $reply"
echo "plugin GET: rejected with 500"

# Bodies past 1 MiB are cut off by libevent itself, with status 413.
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' a >"$E2E_WORK/huge.json"
status=$(curl -sS --unix-socket "$PLUGIN_SOCKET" -X POST --data-binary @"$E2E_WORK/huge.json" \
	-o /dev/null -w '%{http_code}' http://coffer/VolumeDriver.Create || true)
[ "$status" = 413 ] || fail "a 2 MiB body got HTTP $status, expected 413"
echo "plugin 2 MiB body: 413"

/usr/bin/python3 - "$PLUGIN_SOCKET" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(b"\x00\x01 this is not HTTP\r\n\r\n")
reply = s.recv(4096)
assert reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply
print("plugin garbage bytes:", reply.split(b"\r\n")[0].decode() or "connection closed")
PY

step "bad requests to the admin socket"
expect_admin_error GET /v2/volumes "" 404 "unknown admin path"
expect_admin_error PUT /v1/volumes "" 405 "not allowed"
expect_admin_error POST /v1/volumes '{"name":' 400 "invalid JSON"
expect_admin_error POST /v1/volumes '{"Name":"x"}' 400 "missing name"
expect_admin_error POST /v1/volumes '{"name":"x","options":{"bogus":"1"}}' 400 "unknown volume option"
expect_admin_error POST /v1/volumes '{"name":"keep"}' 409 "already exists"
expect_admin_error GET /v1/volumes/missing "" 404 "not found"
expect_admin_error DELETE /v1/volumes/keep "" 409 "stop the container"
expect_admin_error DELETE /v1/volumes/..%2Fkeep "" 400 "invalid volume name"
expect_admin_error GET /v1/volumes/a/b "" 400 "invalid volume name"

step "bad command lines"
expect_cli 2 "Usage: coffer volume" "$COFFER_BIN" volume
expect_cli 2 "unknown command 'frob' for 'coffer volume'" "$COFFER_BIN" volume frob
expect_cli 2 "takes exactly one volume name" coffer_volume create
expect_cli 2 "invalid volume name" coffer_volume create ../keep
expect_cli 2 "expected -o KEY=VALUE" coffer_volume create new -o shared
expect_cli 2 "unknown volume option 'bogus'" coffer_volume create new -o bogus=1
expect_cli 2 "invalid --format 'yaml'" coffer_volume ls --format yaml
expect_cli 2 "--format is not an option" coffer_volume rm keep --format json
expect_cli 1 "already exists" coffer_volume create keep
expect_cli 1 "not found" coffer_volume inspect missing
expect_cli 1 "stop the container" coffer_volume rm keep
expect_cli 1 "cannot connect to the storage manager" \
	"$COFFER_BIN" volume ls --admin-socket "$E2E_WORK/none.sock"
expect_cli 2 "invalid pool-size 'lots'" "$COFFER_BIN" storage serve --pool-size lots
expect_cli 2 "cannot open" "$COFFER_BIN" storage serve --config "$E2E_WORK/missing.conf"
printf 'state-dir = %s\nlog-level = loud\n' "$E2E_WORK/x" >"$E2E_WORK/bad.conf"
expect_cli 2 "line 2: invalid log-level 'loud'" \
	"$COFFER_BIN" storage serve --config "$E2E_WORK/bad.conf"
expect_cli 1 "another coffer storage manager is using state directory" \
	"$COFFER_BIN" storage serve --state-dir "$STORAGE_DIR" \
	--plugin-socket "$E2E_WORK/p2.sock" --admin-socket "$E2E_WORK/a2.sock"
expect_cli 1 "another process is already serving on $PLUGIN_SOCKET" \
	"$COFFER_BIN" storage serve --state-dir "$E2E_WORK/second" \
	--plugin-socket "$PLUGIN_SOCKET" --admin-socket "$E2E_WORK/a2.sock"
[ -S "$PLUGIN_SOCKET" ] || fail "the rejected second server removed the live plugin socket"
expect_cli 1 "given with --pool is unusable" \
	"$COFFER_BIN" storage serve --state-dir "$E2E_WORK/third" --pool "$E2E_WORK/no_pool" \
	--plugin-socket "$E2E_WORK/p3.sock" --admin-socket "$E2E_WORK/a3.sock"
expect_cli 2 "CIPHER_DIR and MOUNT_POINT, got 0 arguments" "$COFFER_BIN" fuse-server
expect_cli 2 "missing --key-fd" "$COFFER_BIN" fuse-server "$E2E_WORK/c" "$E2E_WORK/m"
expect_cli 0 "Usage: coffer volume create" coffer_volume create --help
expect_cli 0 "Usage: coffer storage serve" "$COFFER_BIN" storage serve --help
expect_cli 0 "Commands:" "$COFFER_BIN" --help

step "nothing was lost: the volume, its key and its data are intact"
[ "$(coffer_volume ls --format json | jq -r '[.[].name] | join(",")')" = keep ] ||
	fail "volumes changed: $(coffer_volume ls)"
[ "$(coffer_volume inspect keep --format json | jq -r .key_id)" = "$KEY_ID" ] ||
	fail "the key id of keep changed"
[ "$(sqlite3 "$STORAGE_DIR/keys/keys.db" "SELECT count(*) FROM objects WHERE state = 2")" = 1 ] ||
	fail "expected exactly one active key"
sha256sum <"$mountpoint/data.bin" | cmp - "$E2E_WORK/data.sha256" || fail "data.bin changed"
reply=$(plugin_post /VolumeDriver.Unmount '{"Name":"keep","ID":"writer"}')
[ "$(tail -1 <<<"$reply")" = 200 ] || fail "unmount failed: $reply"
reply=$(plugin_post /VolumeDriver.Mount '{"Name":"keep","ID":"reader"}')
sha256sum <"$(head -1 <<<"$reply" | jq -r .Mountpoint)/data.bin" | cmp - "$E2E_WORK/data.sha256" ||
	fail "data.bin differs after a lock and unlock"
plugin_post /VolumeDriver.Unmount '{"Name":"keep","ID":"reader"}' >/dev/null
storage_stop
echo "PASS"
