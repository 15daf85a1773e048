#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The storage manager with its volume keys on Debian's pykmip-server
# (`coffer storage serve --kms kmip://...`), through the Docker volume
# plugin API: create, mount, write, unmount, remount and read back, remove.
# The key lives on the KMS and is destroyed there at remove. A mount while
# the KMS is down fails with a message naming the KMS and loses nothing. A
# remove while it is down stays pending until the KMS confirms the Destroy.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kms/common.bash"

require_root
require_cmd openssl curl jq
[ -x /usr/bin/pykmip-server ] || skip_or_fail "pykmip-server (python3-pykmip) is not installed"

make_pki
start_pykmip_server
KMS_PORT=$PYKMIP_PORT
KMS_OPTS=(--kms "kmip://127.0.0.1:$PYKMIP_PORT" --kms-cert "$PKI/alice.crt"
	--kms-key "$PKI/alice.key" --kms-ca "$PKI/ca.crt")
on_exit storage_cleanup
storage_start "${KMS_OPTS[@]}"

volume=kms-pykmip-v1
expect_ok() {
	local reply=$1
	[ "$(tail -1 <<<"$reply")" = 200 ] || fail "plugin request failed: $reply"
	local error
	error=$(head -1 <<<"$reply" | jq -r '.Err // empty')
	[ -z "$error" ] || fail "plugin request failed: $error"
}

step "create: the key is created and activated on pykmip-server"
expect_ok "$(plugin_post /VolumeDriver.Create "{\"Name\":\"$volume\"}")"
info=$("$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$volume")
key_id=$(jq -r .key_id <<<"$info")
[ -n "$key_id" ] && [ "$key_id" != null ] || fail "volume has no key id: $info"
kms_client alice get "$key_id" | grep -q "^State  *Active$" || fail "key $key_id is not Active on the KMS"
kms_client alice locate --name "volume/$volume" | grep -qx "$key_id" || fail "key not named volume/$volume"

step "mount, write, unmount, remount, read back"
reply=$(plugin_post /VolumeDriver.Mount "{\"Name\":\"$volume\",\"ID\":\"c1\"}")
expect_ok "$reply"
mountpoint=$(head -1 <<<"$reply" | jq -r .Mountpoint)
head -c 1048576 /dev/urandom >"$E2E_WORK/data.bin"
cp "$E2E_WORK/data.bin" "$mountpoint/data.bin"
sync
expect_ok "$(plugin_post /VolumeDriver.Unmount "{\"Name\":\"$volume\",\"ID\":\"c1\"}")"
reply=$(plugin_post /VolumeDriver.Mount "{\"Name\":\"$volume\",\"ID\":\"c2\"}")
expect_ok "$reply"
mountpoint=$(head -1 <<<"$reply" | jq -r .Mountpoint)
cmp "$E2E_WORK/data.bin" "$mountpoint/data.bin" || fail "data read back differs"
expect_ok "$(plugin_post /VolumeDriver.Unmount "{\"Name\":\"$volume\",\"ID\":\"c2\"}")"

step "mount while the KMS is down fails and names the KMS"
stop_pykmip_server
reply=$(plugin_post /VolumeDriver.Mount "{\"Name\":\"$volume\",\"ID\":\"c3\"}")
grep -q "KMS 127.0.0.1:$PYKMIP_PORT" <<<"$reply" || fail "mount error does not name the KMS: $reply"
"$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" "$volume" >/dev/null ||
	fail "the volume was lost after a failed mount"

step "remove while the KMS is down stays pending"
reply=$(plugin_post /VolumeDriver.Remove "{\"Name\":\"$volume\"}")
head -1 <<<"$reply" | jq -e '.Err | length > 0' >/dev/null || fail "remove succeeded without the KMS: $reply"
state=$("$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$volume" | jq -r .state)
[ "$state" = removing ] || fail "volume state is '$state', expected removing"

step "with the KMS back, the pending remove destroys the key"
# pykmip-server keeps its database, so the key is still there.
start_pykmip_server_again() {
	local dir=$E2E_WORK/pykmip i
	"$PYTHON" /usr/bin/pykmip-server -f "$dir/server.conf" -l "$dir/server.log" >>"$dir/out" 2>&1 &
	PYKMIP_PID=$!
	for ((i = 0; i < 150; i++)); do
		"$PYTHON" -c "import socket, sys; s = socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $PYKMIP_PORT)))" && return 0
		sleep 0.2
	done
	fail "pykmip-server did not restart"
}
start_pykmip_server_again
kms_client alice get "$key_id" | grep -q "^State  *Active$" || fail "key lost while the KMS was down"
expect_ok "$(plugin_post /VolumeDriver.Remove "{\"Name\":\"$volume\"}")"
expect_fail_with "Item Not Found" kms_client alice get "$key_id" --export
expect_fail_with "not found" "$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" "$volume"

storage_stop
stop_pykmip_server
echo "PASS"
