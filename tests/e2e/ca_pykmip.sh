#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# PyKMIP's ProxyKmipClient (python3-pykmip) against `coffer kms serve`, with
# every certificate issued by coffer's CA: the KMS enrolls its own, and the
# three client identities (alice, bob and the admin) are enrolled with
# `coffer enroll`. The client script checks every operation's result and
# the ownership rules between alice and bob.

source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kms/common.bash"
require_cmd openssl
[ -x "$PYTHON" ] || skip_or_fail "$PYTHON not found"
"$PYTHON" -c "import kmip" 2>/dev/null || skip_or_fail "python3-pykmip is not installed"

W=$E2E_WORK
CA=$W/ca
CLIENTS=$W/clients
mkdir -p "$CLIENTS"
cd "$W"

"$COFFER_BIN" ca init --dir "$CA" >/dev/null
"$COFFER_BIN" ca serve --dir "$CA" --listen 127.0.0.1:0 --port-file ca.port 2>ca.log &
CA_PID=$!
on_exit "kill $CA_PID"
for ((i = 0; i < 100; i++)); do [ -s ca.port ] && break; sleep 0.1; done
CA_PORT=$(cat ca.port)
[ -n "$CA_PORT" ] || fail "ca serve did not start: $(cat ca.log)"

step "the KMS and three clients enroll with coffer's CA"
"$COFFER_BIN" ca token create --dir "$CA" --san IP:127.0.0.1 --profile server --ttl 5m > kms.token
"$COFFER_BIN" kms serve --listen 127.0.0.1:0 --state-dir "$W/state" --port-file kms.port \
	--cert "$W/kms.pem" --key "$W/kms.key" --client-ca "$CA/root.pem" \
	--admin spiffe://coffer/test/admin --enroll-server "127.0.0.1:$CA_PORT" \
	--enroll-token-file kms.token --enroll-san IP:127.0.0.1 2>kms.log &
KMS_PID=$!
on_exit "kill $KMS_PID"
for ((i = 0; i < 100; i++)); do
	[ -s kms.port ] && break
	kill -0 $KMS_PID 2>/dev/null || fail "kms serve exited: $(cat kms.log)"
	sleep 0.1
done
KMS_PORT=$(cat kms.port)

for who in alice bob admin; do
	"$COFFER_BIN" ca token create --dir "$CA" --san "URI:spiffe://coffer/test/$who" \
		--profile client --ttl 5m > "$who.token"
	"$COFFER_BIN" enroll --server "127.0.0.1:$CA_PORT" --root "$CA/root.pem" \
		--token-file "$who.token" --san "URI:spiffe://coffer/test/$who" \
		--key "$CLIENTS/$who.key" --cert "$CLIENTS/$who.crt" --chain "$CLIENTS/$who.chain" >/dev/null
done
cp "$CA/root.pem" "$CLIENTS/ca.crt"

step "PyKMIP ProxyKmipClient, KMIP 1.4"
"$PYTHON" "$KMS_HELPERS/pykmip_client.py" "$KMS_PORT" "$CLIENTS" 1.4
grep -q "spiffe://coffer/test/bob" kms.log || fail "the KMS did not see bob's identity"
echo "ok"
