#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Certificates issued per second over HTTPS keep-alive connections: coffer's
# EST server against `cfssl serve`, in one run, signing the same P-256
# requests (made with openssl beforehand), with 1 and 8 connections.
# cfssl serves TLS with a certificate from its own CA; its config gives 24 h
# leaves with digital signature, key encipherment, server and client auth.
# coffer also consumes a one-time token, records the certificate in SQLite
# and appends an audit record per request; cfssl runs without a database.
# Usage: bench/ca.sh [BUILD_DIR]   Env: ROUNDS (default 5), NCSR (default 500).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
COFFER=$BUILD/coffer
CLIENT=$BUILD/bench_ca
ROUNDS=${ROUNDS:-5}
NCSR=${NCSR:-500}
for cmd in openssl cfssl cfssljson python3 "$COFFER" "$CLIENT"; do
	command -v "$cmd" >/dev/null || { echo "bench/ca.sh: $cmd not found" >&2; exit 1; }
done

W=$(mktemp -d /tmp/ca-bench.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$W"
}
trap cleanup EXIT
cd "$W"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
	local port=$1 pid=$2 i
	for ((i = 0; i < 100; i++)); do
		python3 -c "import socket, sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', $port)))" && return 0
		kill -0 "$pid" 2>/dev/null || { echo "bench/ca.sh: server $pid exited" >&2; exit 1; }
		sleep 0.1
	done
	echo "bench/ca.sh: port $port did not open" >&2
	exit 1
}

mkdir csr
for i in $(seq -w 1 "$NCSR"); do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "csr/leaf$i.key" \
		-subj "/CN=leaf$i.bench.test" -addext "subjectAltName=DNS:leaf$i.bench.test" \
		-out "csr/leaf$i.csr" 2>/dev/null
done

# cfssl: CA, a TLS certificate for 127.0.0.1 from that CA, and the server.
cat > ca-csr.json <<'J'
{"CN": "bench cfssl CA", "key": {"algo": "ecdsa", "size": 256}, "names": [{"O": "bench"}]}
J
cat > config.json <<'J'
{"signing": {"default": {"expiry": "24h",
  "usages": ["digital signature", "key encipherment", "server auth", "client auth"]}}}
J
cfssl gencert -initca ca-csr.json 2>/dev/null | cfssljson -bare cfssl-ca
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key \
	-subj /CN=127.0.0.1 -out tls.csr 2>/dev/null
openssl x509 -req -in tls.csr -CA cfssl-ca.pem -CAkey cfssl-ca-key.pem -CAcreateserial -days 1 \
	-extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') -out tls.pem 2>/dev/null
CFSSL_PORT=$(free_port)
cfssl serve -address=127.0.0.1 -port="$CFSSL_PORT" -ca=cfssl-ca.pem -ca-key=cfssl-ca-key.pem \
	-config=config.json -tls-cert=tls.pem -tls-key=tls.key -loglevel=3 > cfssl.log 2>&1 &
CFSSL_PID=$!
PIDS+=("$CFSSL_PID")
wait_port "$CFSSL_PORT" "$CFSSL_PID"

# coffer: a new CA and the EST server.
"$COFFER" ca init --dir ca --name bench >/dev/null
"$COFFER" ca serve --dir ca --listen 127.0.0.1:0 --port-file coffer.port --log-level warn 2> coffer.log &
COFFER_PID=$!
PIDS+=("$COFFER_PID")
for ((i = 0; i < 100; i++)); do [ -s coffer.port ] && break; sleep 0.1; done
COFFER_PORT=$(cat coffer.port)

echo "server,connections,requests,seconds,certs_per_s,p50_ms,p99_ms,server_cpu_ms_per_cert,client_cpu_ms_per_cert,idle_pct" > results.csv
for conns in 1 8; do
	# Rounds alternate between the two servers so that drift in the
	# machine's load affects both alike.
	for ((r = 0; r < ROUNDS; r++)); do
		"$CLIENT" --mode cfssl --port "$CFSSL_PORT" --csr-dir csr --root cfssl-ca.pem \
			--connections "$conns" --rounds 1 --server-pid "$CFSSL_PID" >> results.csv
		"$CLIENT" --mode est --port "$COFFER_PORT" --csr-dir csr --root ca/root.pem --ca-dir ca \
			--connections "$conns" --rounds 1 --server-pid "$COFFER_PID" >> results.csv
	done
done

python3 - results.csv "$ROUNDS" "$NCSR" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(f"CA issuance over HTTPS keep-alive, {sys.argv[3]} P-256 requests per connection, "
      f"{sys.argv[2]} rounds; median [min-max]")
print("| connections | server | certs/s | p50 ms | p99 ms | server CPU ms/cert | machine idle % |")
print("|---|---|---|---|---|---|---|")
med = {}
for conns in ("1", "8"):
    for server in ("cfssl", "coffer"):
        sel = [r for r in rows if r["server"] == server and r["connections"] == conns]
        def col(name):
            vals = [float(r[name]) for r in sel]
            return statistics.median(vals), min(vals), max(vals)
        rate = col("certs_per_s")
        med[(server, conns)] = rate[0]
        p50, p99, cpu = col("p50_ms"), col("p99_ms"), col("server_cpu_ms_per_cert")
        idle = col("idle_pct")
        print(f"| {conns} | {server} | {rate[0]:.0f} [{rate[1]:.0f}-{rate[2]:.0f}] | "
              f"{p50[0]:.2f} | {p99[0]:.2f} | {cpu[0]:.3f} | {idle[0]:.0f} |")
for conns in ("1", "8"):
    print(f"coffer / cfssl, {conns} connection(s): "
          f"{med[('coffer', conns)] / med[('cfssl', conns)]:.2f}x")
PY
