#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Connection handling of `coffer kms serve`. 64 concurrent connections each
# create and fetch keys. With --max-connections 4 a fifth connection is
# closed at once, and with --idle-timeout 1 idle connections are closed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kms/common.bash"

require_cmd openssl
[ -x "$PYTHON" ] || skip_or_fail "$PYTHON not found"

make_pki
step "64 concurrent connections"
start_kms "$E2E_WORK/state"
"$PYTHON" "$KMS_HELPERS/probe.py" "$KMS_PORT" "$PKI" load
stop_kms

step "connection limit and idle timeout"
start_kms "$E2E_WORK/state" --max-connections 4 --idle-timeout 1
"$PYTHON" "$KMS_HELPERS/probe.py" "$KMS_PORT" "$PKI" limits
grep -q "event=kms_connection_rejected" "$E2E_WORK/kms.log" || fail "no kms_connection_rejected line in the log"
grep -q "event=kms_idle_timeout" "$E2E_WORK/kms.log" || fail "no kms_idle_timeout line in the log"
stop_kms
"$COFFER_BIN" kms audit verify --state-dir "$E2E_WORK/state"
echo "PASS"
