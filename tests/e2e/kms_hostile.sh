#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Hostile KMIP messages against `coffer kms serve`: a length past the end,
# 2 GiB and 2 MiB lengths, deep nesting, wrong item types, non-zero padding,
# truncated records, 5000 batch items and 1000 failing ones. Each gets a
# KMIP error or a closed connection, and a second client's connection keeps
# working throughout; the server then stops cleanly on SIGTERM.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kms/common.bash"

require_cmd openssl
[ -x "$PYTHON" ] || skip_or_fail "$PYTHON not found"

make_pki
start_kms "$E2E_WORK/state"
"$PYTHON" "$KMS_HELPERS/probe.py" "$KMS_PORT" "$PKI" hostile
kill -0 "$KMS_PID" || fail "the server died"
stop_kms
"$COFFER_BIN" kms audit verify --state-dir "$E2E_WORK/state"
echo "PASS"
