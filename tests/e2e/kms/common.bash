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

# start_pykmip_server: runs Debian's pykmip-server (TLS 1.2, client
# certificates required) on a free loopback port with the test PKI; sets
# PYKMIP_PID and PYKMIP_PORT.
start_pykmip_server() {
	local dir=$E2E_WORK/pykmip i
	mkdir -p "$dir"
	PYKMIP_PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat > "$dir/server.conf" <<CONF
[server]
hostname=127.0.0.1
port=$PYKMIP_PORT
certificate_path=$PKI/server.crt
key_path=$PKI/server.key
ca_path=$PKI/ca.crt
auth_suite=TLS1.2
enable_tls_client_auth=True
logging_level=WARNING
database_path=$dir/pykmip.db
policy_path=$dir
CONF
	"$PYTHON" /usr/bin/pykmip-server -f "$dir/server.conf" -l "$dir/server.log" >"$dir/out" 2>&1 &
	PYKMIP_PID=$!
	on_exit "stop_pykmip_server"
	for ((i = 0; i < 150; i++)); do
		"$PYTHON" -c "import socket, sys; s = socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $PYKMIP_PORT)))" && return 0
		kill -0 "$PYKMIP_PID" 2>/dev/null || { cat "$dir/out" "$dir/server.log" >&2; fail "pykmip-server exited at start"; }
		sleep 0.2
	done
	fail "pykmip-server did not listen within 30 s"
}

# Stops pykmip-server with SIGINT (its clean path), then any of its child
# processes that are left, by PID.
stop_pykmip_server() {
	[ -n "${PYKMIP_PID:-}" ] || return 0
	local children i
	children=$(pgrep -P "$PYKMIP_PID" || true)
	kill -INT "$PYKMIP_PID" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$PYKMIP_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$PYKMIP_PID" 2>/dev/null || true
	for i in $children; do kill -9 "$i" 2>/dev/null || true; done
	PYKMIP_PID=
}
