#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# podman with coffer as its volume plugin, where the storage manager keeps
# its keys on the KMS and both have certificates from coffer's CA (20 s
# lifetimes, so they renew while the containers run). A container writes a
# SQLite database into an encrypted volume, a second container reads it
# back, and `podman volume rm` destroys the key on the KMS.

source "$(dirname "$0")/lib.sh"
require_root
require_cmd podman runc curl sqlite3 jq ldd mountpoint openssl
[ -x /bin/busybox ] || skip_or_fail "/bin/busybox (busybox-static) not found"

W=$E2E_WORK
CA=$W/ca
cd "$W"

wait_port_file() {
	local file=$1 pid=$2 log=$3 i
	for ((i = 0; i < 100; i++)); do
		[ -s "$file" ] && return 0
		kill -0 "$pid" 2>/dev/null || fail "server $pid exited: $(cat "$log")"
		sleep 0.1
	done
	fail "$file did not appear: $(cat "$log")"
}

step "the CA, the KMS and the storage manager with enrolled certificates"
"$COFFER_BIN" ca init --dir "$CA" >/dev/null
"$COFFER_BIN" ca serve --dir "$CA" --listen 127.0.0.1:0 --port-file ca.port 2>ca.log &
CA_PID=$!
on_exit "kill $CA_PID"
wait_port_file ca.port $CA_PID ca.log
CA_PORT=$(cat ca.port)

"$COFFER_BIN" ca token create --dir "$CA" --san IP:127.0.0.1 --profile server --ttl 5m \
	--lifetime 20s > kms.token
"$COFFER_BIN" kms serve --listen 127.0.0.1:0 --state-dir "$W/kms" --port-file kms.port \
	--cert "$W/kms.pem" --key "$W/kms.key" --client-ca "$CA/root.pem" \
	--enroll-server "127.0.0.1:$CA_PORT" --enroll-token-file kms.token --enroll-san IP:127.0.0.1 \
	2>kms.log &
KMS_PID=$!
on_exit "kill $KMS_PID"
wait_port_file kms.port $KMS_PID kms.log
KMS_PORT=$(cat kms.port)

"$COFFER_BIN" ca token create --dir "$CA" --san URI:spiffe://coffer/node/podman1 \
	--profile client --ttl 5m --lifetime 20s > storage.token
on_exit storage_cleanup
storage_start --kms "kmip://127.0.0.1:$KMS_PORT" --kms-cert "$W/storage.pem" \
	--kms-key "$W/storage.key" --kms-ca "$CA/root.pem" --kms-enroll "127.0.0.1:$CA_PORT" \
	--kms-enroll-token-file storage.token --kms-enroll-san URI:spiffe://coffer/node/podman1
podman_setup

# Runs a `coffer kms` admin command with a client certificate of the
# storage manager's identity, which owns the volume keys.
"$COFFER_BIN" ca token create --dir "$CA" --san URI:spiffe://coffer/node/podman1 \
	--profile client --ttl 5m > inspector.token
"$COFFER_BIN" enroll --server "127.0.0.1:$CA_PORT" --root "$CA/root.pem" \
	--token-file inspector.token --san URI:spiffe://coffer/node/podman1 \
	--key inspector.key --cert inspector.pem --chain inspector.chain >/dev/null
kms_get() {
	"$COFFER_BIN" kms get "$1" --server "127.0.0.1:$KMS_PORT" --cert inspector.pem \
		--key inspector.key --ca "$CA/root.pem"
}

VOLUME=ca_stack_v1
on_exit "podman_cmd volume rm -f $VOLUME"

step "podman volume create puts the key on the KMS"
podman_cmd volume create --driver "$PLUGIN_NAME" "$VOLUME" >/dev/null
KEY_ID=$("$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$VOLUME" |
	jq -r .key_id)
[ -n "$KEY_ID" ] && [ "$KEY_ID" != null ] || fail "the volume has no key id"
kms_get "$KEY_ID" | grep -q "^State  *Active$" || fail "key $KEY_ID is not Active on the KMS"

step "a container writes a SQLite database, wait for renewals, a second reads it"
podman_cmd run --rm "${PODMAN_RUN[@]}" -v "$VOLUME:/data" "$IMAGE" sh -c '
	set -e
	sqlite3 /data/app.db "CREATE TABLE items(id INTEGER PRIMARY KEY, v INTEGER);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
		INSERT INTO items(v) SELECT i * 3 FROM n;"
	sync' || fail "the writer container failed"
# 20 s certificates renew about every 13 s; wait until both renewed once.
for ((i = 0; i < 300; i++)); do
	grep -q "event=ca.renewed" kms.log && grep -q "event=ca.renewed" "$STORAGE_LOG" && break
	sleep 0.1
done
grep -q "event=ca.renewed" kms.log || fail "the KMS did not renew its certificate"
grep -q "event=ca.renewed" "$STORAGE_LOG" || fail "the storage manager did not renew its certificate"
sum=$(podman_cmd run --rm "${PODMAN_RUN[@]}" -v "$VOLUME:/data" "$IMAGE" \
	sqlite3 /data/app.db "SELECT sum(v) FROM items;") || fail "the reader container failed"
[ "$sum" = 1501500 ] || fail "the reader saw sum $sum, expected 1501500"

step "podman volume rm destroys the key on the KMS"
podman_cmd volume rm "$VOLUME" >/dev/null
kms_get "$KEY_ID" | grep -q "^State  *Destroyed$" || fail "key $KEY_ID is not Destroyed on the KMS"
grep -q "event=ca.renew_failed" kms.log "$STORAGE_LOG" && fail "a renewal failed"

storage_stop
echo "ok"
