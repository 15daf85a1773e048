#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Interop: PyKMIP's ProxyKmipClient (python3-pykmip) against `coffer kms
# serve` with KMIP 1.2 and 1.4, checking every operation's result. Then the
# audit chain of the state the clients left behind must verify.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kms/common.bash"

require_cmd openssl
[ -x "$PYTHON" ] || skip_or_fail "$PYTHON not found"
"$PYTHON" -c "import kmip" 2>/dev/null || skip_or_fail "python3-pykmip is not installed"

make_pki
start_kms "$E2E_WORK/state"

for version in 1.2 1.4; do
	step "PyKMIP ProxyKmipClient, KMIP $version"
	"$PYTHON" "$KMS_HELPERS/pykmip_client.py" "$KMS_PORT" "$PKI" "$version"
done

stop_kms
step "audit chain"
"$COFFER_BIN" kms audit verify --state-dir "$E2E_WORK/state"
grep -q 'event=kms_stop' "$E2E_WORK/kms.log" || fail "no kms_stop line in the server log"
echo "PASS"
