#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# KMS benchmark: `coffer kms serve` against Debian's pykmip-server on this
# machine, both driven by the same client (build/bench_kms, coffer's C KMIP
# client) over mutual TLS on loopback, with 1 and 16 persistent
# connections. Prints every run as CSV, then the median of each case and
# the coffer/PyKMIP ratios.
#
# Usage: bench/kms.sh [BUILD_DIR]   (default build). Env: RUNS (default 3),
# CLIENT_BUSY_POLL_US (default 50): the client polls for each response for
# up to this long before sleeping, with either server; 0 makes it sleep at
# once.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
RUNS=${RUNS:-3}
CLIENT_BUSY_POLL_US=${CLIENT_BUSY_POLL_US:-50}
PYTHON=/usr/bin/python3
W=$(mktemp -d /tmp/kms-bench.XXXXXX)
COFFER_PID=
PYKMIP_PID=

cleanup() {
	set +e
	[ -n "$COFFER_PID" ] && kill -TERM "$COFFER_PID" && wait "$COFFER_PID"
	if [ -n "$PYKMIP_PID" ]; then
		children=$(pgrep -P "$PYKMIP_PID")
		kill -INT "$PYKMIP_PID"
		for _ in $(seq 1 100); do kill -0 "$PYKMIP_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$PYKMIP_PID" $children 2>/dev/null
	fi
	rm -rf "$W"
}
trap cleanup EXIT

free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
	for _ in $(seq 1 150); do
		"$PYTHON" -c "import socket, sys; s = socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $1)))" && return 0
		sleep 0.2
	done
	echo "server on port $1 did not start" >&2
	exit 1
}

bash "$SRC/tests/e2e/kms/pki.sh" "$W/pki" >/dev/null
PKI=$W/pki

COFFER_PORT=$(free_port)
"$BUILD/coffer" kms serve --listen "127.0.0.1:$COFFER_PORT" --state-dir "$W/coffer" \
	--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
	--log-level warn 2>"$W/coffer.log" &
COFFER_PID=$!

PYKMIP_PORT=$(free_port)
mkdir -p "$W/pykmip"
cat > "$W/pykmip/server.conf" <<CONF
[server]
hostname=127.0.0.1
port=$PYKMIP_PORT
certificate_path=$PKI/server.crt
key_path=$PKI/server.key
ca_path=$PKI/ca.crt
auth_suite=TLS1.2
enable_tls_client_auth=True
logging_level=WARNING
database_path=$W/pykmip/pykmip.db
policy_path=$W/pykmip
CONF
"$PYTHON" /usr/bin/pykmip-server -f "$W/pykmip/server.conf" -l "$W/pykmip/server.log" \
	>"$W/pykmip/out" 2>&1 &
PYKMIP_PID=$!
wait_port "$COFFER_PORT"
wait_port "$PYKMIP_PORT"

# pykmip-server forks helper processes (a multiprocessing manager and a
# policy monitor); their CPU time counts as the server's.
sleep 1
PYKMIP_PIDS=$(echo "$PYKMIP_PID" $(pgrep -P "$PYKMIP_PID") | tr ' ' ',')

run() { # label port connections creates gets server-pids
	"$BUILD/bench_kms" --label "$1" --port "$2" --connections "$3" --creates "$4" --gets "$5" \
		--server-pids "$6" --cert "$PKI/alice.crt" --key "$PKI/alice.key" --ca "$PKI/ca.crt" \
		--busy-poll-us "$CLIENT_BUSY_POLL_US"
}

echo "# $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs, client busy poll $CLIENT_BUSY_POLL_US us"
echo "server,connections,op,ops,seconds,ops_per_s,p50_ms,p99_ms,max_ms,server_cpu_ms_per_op"
for ((r = 1; r <= RUNS; r++)); do
	# PyKMIP gets fewer operations per run because it is much slower.
	run coffer "$COFFER_PORT" 1 200 5000 "$COFFER_PID"
	run pykmip "$PYKMIP_PORT" 1 100 500 "$PYKMIP_PIDS"
	run coffer "$COFFER_PORT" 16 50 1000 "$COFFER_PID"
	run pykmip "$PYKMIP_PORT" 16 10 40 "$PYKMIP_PIDS"
done | tee "$W/results.csv"

"$PYTHON" - "$W/results.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1])))
cases = {}
for server, conns, op, ops, secs, rate, p50, p99, mx, cpu in rows:
    cases.setdefault((server, int(conns), op), []).append(
        (float(rate), float(p50), float(p99), float(cpu)))
def med(key, i):
    return statistics.median(v[i] for v in cases[key])
print()
print("| connections | op | coffer ops/s | PyKMIP ops/s | ratio | coffer p50 ms | coffer p99 ms | PyKMIP p50 ms | PyKMIP p99 ms | server CPU ms/op coffer | PyKMIP | CPU ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for conns in (1, 16):
    for op in ("create", "get"):
        c, p = ("coffer", conns, op), ("pykmip", conns, op)
        print("| %d | %s | %.0f | %.0f | %.1fx | %.3f | %.3f | %.2f | %.2f | %.3f | %.2f | %.1fx |" % (
            conns, op.capitalize(), med(c, 0), med(p, 0), med(c, 0) / med(p, 0),
            med(c, 1), med(c, 2), med(p, 1), med(p, 2), med(c, 3), med(p, 3),
            med(p, 3) / med(c, 3)))
PY
