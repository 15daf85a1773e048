#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Renewal with a short lifetime. `coffer enroll --watch` runs the library
# renewer against `coffer ca serve` with 15-second certificates. It must
# renew at two thirds of each lifetime, each time with a new serial and a
# certificate that chains to the root and keeps its SANs.

source "$(dirname "$0")/lib.sh"
require_cmd openssl

W=$E2E_WORK
CA=$W/ca
LIFETIME=15
cd "$W"

"$COFFER_BIN" ca init --dir "$CA" >/dev/null
ca_serve_start "$CA"

step "enroll with a ${LIFETIME}s certificate and keep renewing"
"$COFFER_BIN" ca token create --dir "$CA" --san DNS:svc.test --san IP:127.0.0.1 --ttl 5m \
	--lifetime ${LIFETIME}s > token
start=$(date +%s)
"$COFFER_BIN" enroll --server "127.0.0.1:$PORT" --root "$CA/root.pem" --token-file token \
	--san DNS:svc.test --san IP:127.0.0.1 --key svc.key --cert svc.pem --chain svc.chain \
	--watch > watch.log 2> watch.err &
WATCHER=$!
on_exit "kill $WATCHER"

# Two renewals are due about 10 s and 20 s after enrollment; allow 45 s.
for ((i = 0; i < 450; i++)); do
	[ "$(grep -c '^renewed' watch.log || true)" -ge 2 ] && break
	kill -0 $WATCHER 2>/dev/null || fail "the watcher exited: $(cat watch.err)"
	sleep 0.1
done
elapsed=$(($(date +%s) - start))
[ "$(grep -c '^renewed' watch.log || true)" -ge 2 ] ||
	fail "fewer than 2 renewals in $elapsed s: $(cat watch.log watch.err)"
cat watch.log

step "each renewal came at two thirds of the lifetime, not earlier"
# The first renewal is due 10 s after enrollment, the second 10 s later.
[ "$elapsed" -ge 18 ] || fail "two renewals took only $elapsed s; they came too early"
grep -q "event=ca.renewed" watch.err || fail "the renewer did not log its renewals"
grep -q "event=ca.renew_failed" watch.err && fail "a renewal failed: $(cat watch.err)"

step "the files hold a valid renewed certificate with the same SANs"
serials=$(grep -o 'serial [0-9a-f]*' watch.log | sort -u | wc -l)
[ "$serials" -ge 3 ] || fail "expected 3 distinct serials, saw $serials"
openssl verify -CAfile "$CA/root.pem" -untrusted svc.chain svc.pem >/dev/null ||
	fail "the renewed certificate does not chain to the root"
openssl x509 -in svc.pem -noout -ext subjectAltName | grep -q "DNS:svc.test, IP Address:127.0.0.1" ||
	fail "the renewed certificate lost its SANs"
[ "$(openssl x509 -in svc.pem -noout -pubkey | sha256sum)" = \
  "$(openssl pkey -in svc.key -pubout | sha256sum)" ] || fail "svc.key does not match svc.pem"
[ "$(stat -c %a svc.key)" = 600 ] || fail "svc.key mode is $(stat -c %a svc.key)"
[ "$(grep -c 'via=reenroll' "$W/serve.log")" -ge 2 ] || fail "the server saw fewer than 2 renewals"

kill $WATCHER
wait $WATCHER || true
echo "ok"
