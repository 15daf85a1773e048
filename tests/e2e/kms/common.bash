# SPDX-License-Identifier: Apache-2.0
# Helpers for the KMS end-to-end scripts; sourced after tests/e2e/lib.sh.
# start_kms runs `coffer kms serve` on a free loopback port with the test
# PKI and sets KMS_PID and KMS_PORT; stop_kms stops it with SIGTERM by PID.

KMS_HELPERS=$COFFER_SOURCE_DIR/tests/e2e/kms
PYTHON=/usr/bin/python3
PKI=$E2E_WORK/pki

make_pki() {
	[ -f "$PKI/ca.crt" ] || bash "$KMS_HELPERS/pki.sh" "$PKI"
}

# start_kms STATE_DIR [extra serve options...]
start_kms() {
	local state=$1 i
	shift
	rm -f "$E2E_WORK/kms.port"
	"$COFFER_BIN" kms serve --listen 127.0.0.1:0 --port-file "$E2E_WORK/kms.port" \
		--state-dir "$state" --cert "$PKI/server.crt" --key "$PKI/server.key" \
		--client-ca "$PKI/ca.crt" --admin spiffe://coffer/test/admin "$@" \
		>>"$E2E_WORK/kms.log" 2>&1 &
	KMS_PID=$!
	on_exit "kill -9 $KMS_PID"
	for ((i = 0; i < 100; i++)); do
		[ -s "$E2E_WORK/kms.port" ] && break
		kill -0 "$KMS_PID" 2>/dev/null || { cat "$E2E_WORK/kms.log" >&2; fail "coffer kms serve exited at start"; }
		sleep 0.1
	done
	[ -s "$E2E_WORK/kms.port" ] || fail "coffer kms serve did not start listening within 10 s"
	KMS_PORT=$(cat "$E2E_WORK/kms.port")
}

stop_kms() {
	local i
	kill -TERM "$KMS_PID"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$KMS_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$KMS_PID" 2>/dev/null && fail "coffer kms serve did not stop within 10 s of SIGTERM"
	wait "$KMS_PID" || fail "coffer kms serve exited with status $? after SIGTERM"
}

# kms_client WHO COMMAND [args...]: runs a `coffer kms` admin command as WHO.
kms_client() {
	local who=$1
	shift
	local command=$1
	shift
	"$COFFER_BIN" kms "$command" --server "127.0.0.1:$KMS_PORT" --cert "$PKI/$who.crt" \
		--key "$PKI/$who.key" --ca "$PKI/ca.crt" "$@"
}
