#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Mutual TLS of `coffer kms serve`. Clients without a certificate, with one
# from another CA or with an expired one are refused. TLS 1.2 with
# ECDHE-ECDSA-AES128-GCM-SHA256 and TLS 1.3 both work, and a certificate
# with only a CN is accepted under that CN.
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
echo "PASS"
