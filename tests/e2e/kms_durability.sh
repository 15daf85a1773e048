#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Durability: SIGKILL `coffer kms serve` during a stream of Create requests
# from PyKMIP's client. After a restart, every key whose Create got a
# response is retrievable and unchanged, and the audit chain verifies.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kms/common.bash"

require_cmd openssl
"$PYTHON" -c "import kmip" 2>/dev/null || skip_or_fail "python3-pykmip is not installed"

make_pki
state=$E2E_WORK/state
log=$E2E_WORK/created.log
: > "$log"

for round in 1 2 3; do
	step "round $round: SIGKILL during Creates"
	start_kms "$state"
	"$PYTHON" "$KMS_HELPERS/durability.py" stream "$KMS_PORT" "$PKI" "$log" &
	client=$!
	# Kill once some Creates in this round have got their response.
	before=$(wc -l < "$log")
	for ((i = 0; i < 200; i++)); do
		[ "$(wc -l < "$log")" -ge $((before + 60)) ] && break
		sleep 0.05
	done
	kill -9 "$KMS_PID"
	wait "$KMS_PID" 2>/dev/null || true
	wait "$client" || fail "the Create stream failed"
	[ "$(wc -l < "$log")" -gt "$before" ] || fail "no Create was answered in round $round"
done

step "restart and verify"
start_kms "$state"
"$PYTHON" "$KMS_HELPERS/durability.py" verify "$KMS_PORT" "$PKI" "$log"
stop_kms
"$COFFER_BIN" kms audit verify --state-dir "$state"
echo "PASS"
