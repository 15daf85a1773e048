#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `ca serve --threads 2` spreads keep-alive connections evenly over its
# threads: 8 clients that connect at once and stay connected end up 4 and
# 4, as the server's stop line reports.

source "$(dirname "$0")/lib.sh"
require_cmd /usr/bin/python3

W=$E2E_WORK
CA=$W/ca
cd "$W"

"$COFFER_BIN" ca init --dir "$CA" --name e2e >/dev/null
ca_serve_start "$CA" --threads 2

step "8 keep-alive connections, opened together, each make 3 requests"
/usr/bin/python3 - "$PORT" "$CA/root.pem" <<'PY' || fail "the keep-alive clients failed"
import socket, ssl, sys, threading

port, root = int(sys.argv[1]), sys.argv[2]
context = ssl.create_default_context(cafile=root)
connected = threading.Barrier(8)
done = threading.Barrier(8)
errors = []

def get(tls):
    tls.sendall(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += tls.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
              if line.lower().startswith(b"content-length:")][0]
    while len(body) < length:
        body += tls.recv(4096)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.split(b"\r\n")[0].decode())

def client():
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                connected.wait()
                for _ in range(3):
                    get(tls)
                done.wait()
    except Exception as error:
        errors.append(repr(error))
        connected.abort()
        done.abort()

threads = [threading.Thread(target=client) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
if errors:
    sys.exit("client errors: " + "; ".join(errors))
PY

step "the stop line shows 4 connections on each thread"
kill $SERVER
wait $SERVER || true
line=$(grep "event=est.stop " "$W/serve.log") || fail "the server did not log its stop"
counts=$(sed -n 's/.*connections_per_thread=\([0-9,]*\).*/\1/p' <<<"$line")
[ "$counts" = "4,4" ] || fail "connections per thread are '$counts', expected 4,4: $line"
