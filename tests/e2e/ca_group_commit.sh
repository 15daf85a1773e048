#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Concurrent enrollments share commits in `ca serve`: every certificate a
# client receives is recorded in `ca ls`, rejected requests in the same
# batch leave the others intact, and each token stays single-use.

source "$(dirname "$0")/lib.sh"
require_cmd openssl curl base64

W=$E2E_WORK
CA=$W/ca
cd "$W"
COUNT=16

"$COFFER_BIN" ca init --dir "$CA" --name e2e >/dev/null
ca_serve_start "$CA" --threads 2

# Posts request N with token $2; the status goes to N.status.
enroll() {
	local n=$1 token=$2
	curl -sS --max-time 20 --cacert "$CA/root.pem" -o "$n.body" -w '%{http_code}' \
		-u "est:$token" -H 'Content-Type: application/pkcs10' --data-binary "@$n.b64" \
		"https://127.0.0.1:$PORT/.well-known/est/simpleenroll" > "$n.status" 2>"$n.err" || true
}

step "prepare $COUNT requests and tokens"
for ((n = 1; n <= COUNT; n++)); do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$n.key" \
		-subj "/CN=host$n.test" -addext "subjectAltName=DNS:host$n.test" -outform DER \
		-out "$n.der" 2>/dev/null
	base64 "$n.der" > "$n.b64"
	"$COFFER_BIN" ca token create --dir "$CA" --san "DNS:host$n.test" --ttl 10m > "$n.token"
done

step "enroll concurrently, with every fourth request using a wrong secret"
pids=()
for ((n = 1; n <= COUNT; n++)); do
	token=$(cat "$n.token")
	if ((n % 4 == 0)); then
		token="${token%?}$([ "${token: -1}" = 0 ] && echo 1 || echo 0)"
	fi
	enroll "$n" "$token" &
	pids+=($!)
done
for pid in "${pids[@]}"; do
	wait "$pid"
done

step "accepted requests got certificates that ca ls lists"
"$COFFER_BIN" ca ls --dir "$CA" > ls.txt
for ((n = 1; n <= COUNT; n++)); do
	status=$(cat "$n.status")
	if ((n % 4 == 0)); then
		[ "$status" = 401 ] || fail "request $n with a wrong secret got HTTP $status"
		continue
	fi
	[ "$status" = 200 ] || fail "request $n got HTTP $status: $(cat "$n.body" "$n.err")"
	base64 -d "$n.body" | openssl pkcs7 -inform DER -print_certs -out "$n.pem" ||
		fail "response $n is not a PKCS#7 certs-only message"
	# openssl prints the serial without the zero padding that ca ls adds.
	serial=$(openssl x509 -in "$n.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//')
	grep -q "^0*$serial " ls.txt || fail "certificate $serial of request $n is not in ca ls"
done
[ "$(grep -c 'host.*\.test' ls.txt)" = $((COUNT - COUNT / 4)) ] ||
	fail "ca ls lists $(grep -c 'host.*\.test' ls.txt) certificates, expected $((COUNT - COUNT / 4))"

step "a used token is still rejected, and an unused one still works"
enroll 1 "$(cat 1.token)"
[ "$(cat 1.status)" = 401 ] || fail "a reused token got HTTP $(cat 1.status)"
enroll 4 "$(cat 4.token)"
[ "$(cat 4.status)" = 200 ] || fail "the token of a rejected request got HTTP $(cat 4.status)"

kill $SERVER
wait $SERVER || true
grep -q "event=est.stop" "$W/serve.log" || fail "the server did not log its stop"
echo "ok"
