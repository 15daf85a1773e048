#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The KMS and the storage manager enroll with bootstrap tokens for
# 15-second certificates from coffer's CA and renew them in the background.
# The storage manager keeps its volume keys on the KMS over mutual TLS.
# Volumes are created, mounted, written, unmounted and removed through the
# Docker plugin API across several renewals, and no request may fail.

source "$(dirname "$0")/lib.sh"
require_root
require_cmd openssl curl jq

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

expect_ok() {
	local reply=$1 what=$2
	[ "$(tail -1 <<<"$reply")" = 200 ] || fail "$what failed: $reply"
	local error
	error=$(head -1 <<<"$reply" | jq -r '.Err // empty')
	[ -z "$error" ] || fail "$what failed: $error"
}

step "the CA, then the KMS enrolled with a token"
"$COFFER_BIN" ca init --dir "$CA" >/dev/null
"$COFFER_BIN" ca serve --dir "$CA" --listen 127.0.0.1:0 --port-file ca.port 2>ca.log &
CA_PID=$!
on_exit "kill $CA_PID"
wait_port_file ca.port $CA_PID ca.log
CA_PORT=$(cat ca.port)

"$COFFER_BIN" ca token create --dir "$CA" --san IP:127.0.0.1 --profile server --ttl 5m \
	--lifetime 15s > kms.token
"$COFFER_BIN" kms serve --listen 127.0.0.1:0 --state-dir "$W/kms" --port-file kms.port \
	--cert "$W/kms.pem" --key "$W/kms.key" --client-ca "$CA/root.pem" \
	--enroll-server "127.0.0.1:$CA_PORT" --enroll-token-file kms.token --enroll-san IP:127.0.0.1 \
	2>kms.log &
KMS_PID=$!
on_exit "kill $KMS_PID"
wait_port_file kms.port $KMS_PID kms.log
KMS_PORT=$(cat kms.port)

step "the storage manager enrolls and keeps its keys on the KMS"
"$COFFER_BIN" ca token create --dir "$CA" --san URI:spiffe://coffer/node/storage1 \
	--profile client --ttl 5m --lifetime 15s > storage.token
on_exit storage_cleanup
storage_start --kms "kmip://127.0.0.1:$KMS_PORT" --kms-cert "$W/storage.pem" \
	--kms-key "$W/storage.key" --kms-ca "$CA/root.pem" --kms-enroll "127.0.0.1:$CA_PORT" \
	--kms-enroll-token-file storage.token --kms-enroll-san URI:spiffe://coffer/node/storage1
[ "$(stat -c %a storage.key)" = 600 ] || fail "storage.key mode is $(stat -c %a storage.key)"
openssl x509 -in storage.pem -noout -ext subjectAltName | grep -q "URI:spiffe://coffer/node/storage1" ||
	fail "the storage certificate lacks its URI SAN"

step "volume requests keep succeeding while both certificates renew"
start=$(date +%s)
rounds=0
# 15 s certificates renew every 10 s; 32 s cover at least two renewals each.
while (($(date +%s) - start < 32)); do
	volume=stack-v$rounds
	expect_ok "$(plugin_post /VolumeDriver.Create "{\"Name\":\"$volume\"}")" "create $volume"
	reply=$(plugin_post /VolumeDriver.Mount "{\"Name\":\"$volume\",\"ID\":\"c$rounds\"}")
	expect_ok "$reply" "mount $volume"
	mountpoint=$(head -1 <<<"$reply" | jq -r .Mountpoint)
	echo "round $rounds" > "$mountpoint/data.txt"
	expect_ok "$(plugin_post /VolumeDriver.Unmount "{\"Name\":\"$volume\",\"ID\":\"c$rounds\"}")" \
		"unmount $volume"
	expect_ok "$(plugin_post /VolumeDriver.Remove "{\"Name\":\"$volume\"}")" "remove $volume"
	rounds=$((rounds + 1))
	sleep 1
done
echo "rounds=$rounds"
[ "$rounds" -ge 5 ] || fail "only $rounds volume rounds in 32 s"

kms_renewals=$(grep -c "event=ca.renewed" kms.log || true)
storage_renewals=$(grep -c "event=ca.renewed" "$STORAGE_LOG" || true)
[ "$kms_renewals" -ge 2 ] || fail "the KMS renewed $kms_renewals times, expected at least 2"
[ "$storage_renewals" -ge 2 ] || fail "the storage manager renewed $storage_renewals times, expected at least 2"
grep -q "event=ca.renew_failed" kms.log "$STORAGE_LOG" && fail "a renewal failed: $(grep -h renew_failed kms.log "$STORAGE_LOG")"

step "the KMS saw the storage manager's identity"
grep -q "spiffe://coffer/node/storage1" kms.log ||
	fail "the KMS log does not show the storage manager's identity: $(grep kms_connection kms.log | head -3)"

storage_stop
echo "ok"
