#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Mutual TLS of `coffer kms serve`. Clients without a certificate, with one
# from another CA or with an expired one are refused. TLS 1.2 with
# ECDHE-ECDSA-AES128-GCM-SHA256 and TLS 1.3 both work, and a certificate
# with only a CN is accepted under that CN. coffer's client rejects a server
# certificate that does not name the address it connects to.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kms/common.bash"

require_cmd openssl
[ -x "$PYTHON" ] || skip_or_fail "$PYTHON not found"

make_pki
start_kms "$E2E_WORK/state"
"$PYTHON" "$KMS_HELPERS/probe.py" "$KMS_PORT" "$PKI" mtls

step "refusals are logged"
for text in "peer did not return a certificate" "certificate verify failed"; do
	grep -q "$text" "$E2E_WORK/kms.log" || fail "server log lacks '$text'"
done
grep -q 'identity="carol"' "$E2E_WORK/kms.log" || fail "CN-only certificate not identified as carol"
stop_kms

step "coffer's client rejects a server certificate for another host"
"$COFFER_BIN" kms serve --listen 127.0.0.1:0 --port-file "$E2E_WORK/wrong.port" \
	--state-dir "$E2E_WORK/wrong-state" --cert "$PKI/wrong-host.crt" --key "$PKI/wrong-host.key" \
	--client-ca "$PKI/ca.crt" >>"$E2E_WORK/wrong.log" 2>&1 &
KMS_PID=$!
on_exit "kill -9 $KMS_PID"
for ((i = 0; i < 100; i++)); do
	[ -s "$E2E_WORK/wrong.port" ] && break
	sleep 0.1
done
KMS_PORT=$(cat "$E2E_WORK/wrong.port")
expect_fail_with "IP address mismatch" kms_client alice create
stop_kms
echo "PASS"
