#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The KMS with a certificate from coffer's CA. `coffer kms serve
# --enroll-server` enrolls with a bootstrap token and renews its
# 12-second certificate in the background. A client enrolled with
# `coffer enroll` keeps creating keys over mutual TLS across several
# renewals, and no request may fail.

source "$(dirname "$0")/lib.sh"
require_cmd openssl

W=$E2E_WORK
CA=$W/ca
cd "$W"

"$COFFER_BIN" ca init --dir "$CA" >/dev/null
"$COFFER_BIN" ca serve --dir "$CA" --listen 127.0.0.1:0 --port-file ca.port 2>ca.log &
CA_PID=$!
on_exit "kill $CA_PID"
for ((i = 0; i < 100; i++)); do [ -s ca.port ] && break; sleep 0.1; done
CA_PORT=$(cat ca.port)
[ -n "$CA_PORT" ] || fail "ca serve did not start: $(cat ca.log)"

step "the KMS enrolls at start with a bootstrap token"
"$COFFER_BIN" ca token create --dir "$CA" --san IP:127.0.0.1 --profile server --ttl 5m \
	--lifetime 12s > kms.token
"$COFFER_BIN" kms serve --listen 127.0.0.1:0 --state-dir "$W/state" --port-file kms.port \
	--cert "$W/kms.pem" --key "$W/kms.key" --client-ca "$CA/root.pem" \
	--enroll-server "127.0.0.1:$CA_PORT" --enroll-token-file kms.token --enroll-san IP:127.0.0.1 \
	2>kms.log &
KMS_PID=$!
on_exit "kill $KMS_PID"
for ((i = 0; i < 100; i++)); do
	[ -s kms.port ] && break
	kill -0 $KMS_PID 2>/dev/null || fail "kms serve exited: $(cat kms.log)"
	sleep 0.1
done
KMS_PORT=$(cat kms.port)
[ "$(stat -c %a kms.key)" = 600 ] || fail "kms.key mode is $(stat -c %a kms.key)"
openssl verify -CAfile "$CA/root.pem" -untrusted kms.pem.chain kms.pem >/dev/null ||
	fail "the KMS certificate does not chain to the CA root"
first_serial=$(openssl x509 -in kms.pem -noout -serial)

step "a client enrolls and uses the KMS over mutual TLS"
"$COFFER_BIN" ca token create --dir "$CA" --san URI:spiffe://coffer/node/n1 --profile client \
	--ttl 5m > client.token
"$COFFER_BIN" enroll --server "127.0.0.1:$CA_PORT" --root "$CA/root.pem" \
	--token-file client.token --san URI:spiffe://coffer/node/n1 \
	--key client.key --cert client.pem --chain client.chain >/dev/null
kms() {
	"$COFFER_BIN" kms "$@" --server "127.0.0.1:$KMS_PORT" --cert client.pem --key client.key \
		--ca "$CA/root.pem"
}
id=$(kms create --name first) || fail "create over mutual TLS failed: $(tail -5 kms.log)"
[ -n "$id" ] || fail "create printed no id"

step "requests keep succeeding while the KMS renews its certificate"
requests=0
failures=0
start=$(date +%s)
# 12 s certificates renew every 8 s; 26 s cover at least two renewals.
while (($(date +%s) - start < 26)); do
	if kms create --name "loop$requests" >/dev/null 2>>client.err; then
		requests=$((requests + 1))
	else
		failures=$((failures + 1))
	fi
	sleep 0.3
done
echo "requests=$requests failures=$failures"
[ "$failures" = 0 ] || fail "$failures requests failed during renewal: $(tail -3 client.err)"
[ "$requests" -ge 20 ] || fail "only $requests requests in 26 s"
renewals=$(grep -c "event=ca.renewed" kms.log || true)
[ "$renewals" -ge 2 ] || fail "the KMS renewed $renewals times, expected at least 2: $(grep ca. kms.log)"
[ "$first_serial" != "$(openssl x509 -in kms.pem -noout -serial)" ] || fail "kms.pem was not replaced"
grep -q "event=ca.renew_failed" kms.log && fail "a renewal failed: $(grep renew_failed kms.log)"

step "a restart reuses the valid certificate without a token"
kill $KMS_PID
wait $KMS_PID || true
rm -f kms.port
"$COFFER_BIN" kms serve --listen 127.0.0.1:0 --state-dir "$W/state" --port-file kms.port \
	--cert "$W/kms.pem" --key "$W/kms.key" --client-ca "$CA/root.pem" \
	--enroll-server "127.0.0.1:$CA_PORT" --enroll-san IP:127.0.0.1 2>kms2.log &
KMS_PID=$!
on_exit "kill $KMS_PID"
for ((i = 0; i < 100; i++)); do
	[ -s kms.port ] && break
	kill -0 $KMS_PID 2>/dev/null || fail "kms serve did not restart: $(cat kms2.log)"
	sleep 0.1
done
KMS_PORT=$(cat kms.port)
kms get "$id" | grep -q "^Name  *first$" || fail "get after restart failed"
echo "ok"
