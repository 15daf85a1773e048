#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# CA private keys encrypted at rest under a coffer master key file: openssl
# cannot read them without the derived passphrase, `ca serve` issues with
# the right master key and stops with a clear error without it or with a
# wrong one.

source "$(dirname "$0")/lib.sh"
require_cmd openssl curl base64

W=$E2E_WORK
CA=$W/ca
cd "$W"
umask 077

# Writes a master key file with one random KEK, version 1.
make_master_key() {
	printf 'kek 1 %s\n' "$(openssl rand -hex 32)" > "$1"
}

# Starts `ca serve` with the given extra options; sets SERVER and PORT.
start_server() {
	rm -f "$W/port"
	timeout 20 "$COFFER_BIN" ca serve --dir "$CA" --listen 127.0.0.1:0 --port-file "$W/port" --threads 2 \
		"$@" 2>"$W/serve.log" &
	SERVER=$!
	on_exit "kill $SERVER 2>/dev/null"
	for ((i = 0; i < 100; i++)); do
		[ -s "$W/port" ] && break
		kill -0 $SERVER 2>/dev/null || fail "ca serve exited: $(cat "$W/serve.log")"
		sleep 0.1
	done
	PORT=$(cat "$W/port")
	[ -n "$PORT" ] || fail "ca serve wrote no port"
}

make_master_key "$W/master.key"
make_master_key "$W/wrong.key"

step "ca init --master-key writes encrypted PKCS#8 keys with mode 0600"
"$COFFER_BIN" ca init --dir "$CA" --name e2e --master-key "$W/master.key" >/dev/null
for key in root.key ca.key; do
	[ "$(stat -c %a "$CA/$key")" = 600 ] || fail "$key mode is $(stat -c %a "$CA/$key")"
	head -1 "$CA/$key" | grep -qx 'coffer-ca-key: kek-version=1' ||
		fail "$key lacks the KEK version line: $(head -1 "$CA/$key")"
	grep -q 'BEGIN ENCRYPTED PRIVATE KEY' "$CA/$key" || fail "$key is not encrypted PKCS#8"
	grep -q 'BEGIN PRIVATE KEY\|BEGIN EC PRIVATE KEY' "$CA/$key" && fail "$key holds a plain key"
done

step "openssl cannot read the keys without the master key"
expect_fail_with "" openssl pkey -in "$CA/ca.key" -passin pass: -noout
expect_fail_with "" openssl pkey -in "$CA/root.key" -passin pass:guess -noout

step "openssl reads the key with the passphrase derived from the KEK"
kek=$(awk '/^kek 1 /{print $3}' "$W/master.key")
pass=$(openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt "hexkey:$kek" \
	-kdfopt "info:coffer CA private key v1" HKDF | tr -d ':\n' | tr 'A-F' 'a-f')
openssl pkey -in "$CA/ca.key" -passin "pass:$pass" -pubout -out "$W/ca-pub.pem" ||
	fail "the derived passphrase does not decrypt ca.key"
openssl x509 -in "$CA/ca.pem" -noout -pubkey > "$W/cert-pub.pem"
cmp -s "$W/ca-pub.pem" "$W/cert-pub.pem" || fail "ca.key does not match ca.pem"

step "serve without --master-key fails and names the key file"
expect_fail_with "ca.key is encrypted under a master key; pass --master-key" \
	timeout 20 "$COFFER_BIN" ca serve --dir "$CA" --listen 127.0.0.1:0

step "serve with a wrong master key fails and names both files"
expect_fail_with "cannot decrypt $CA/ca.key with master key file $W/wrong.key" \
	timeout 20 "$COFFER_BIN" ca serve --dir "$CA" --listen 127.0.0.1:0 --master-key "$W/wrong.key"

step "serve with a missing or world-readable master key fails"
expect_fail_with "master key file $W/missing.key not found" \
	timeout 20 "$COFFER_BIN" ca serve --dir "$CA" --listen 127.0.0.1:0 --master-key "$W/missing.key"
cp "$W/master.key" "$W/open.key"
chmod 644 "$W/open.key"
expect_fail_with "has mode 0644" \
	timeout 20 "$COFFER_BIN" ca serve --dir "$CA" --listen 127.0.0.1:0 --master-key "$W/open.key"

step "token create needs the master key too"
expect_fail_with "pass --master-key" "$COFFER_BIN" ca token create --dir "$CA" --san DNS:web.test
T1=$("$COFFER_BIN" ca token create --dir "$CA" --master-key "$W/master.key" \
	--san DNS:web.test --ttl 10m --profile server) || fail "token create failed"

step "serve with the master key from a config file issues a certificate"
printf 'master-key = %s\n' "$W/master.key" > "$W/serve.conf"
start_server --config "$W/serve.conf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout web.key \
	-subj /CN=web.test -addext subjectAltName=DNS:web.test -outform DER -out web.der 2>/dev/null
base64 web.der > web.b64
status=$(curl -sS --cacert "$CA/root.pem" -o "$W/body" -w '%{http_code}' -u "est:$T1" \
	-H 'Content-Type: application/pkcs10' --data-binary @web.b64 \
	"https://127.0.0.1:$PORT/.well-known/est/simpleenroll")
[ "$status" = 200 ] || fail "simpleenroll: expected HTTP 200, got $status ($(cat "$W/body"))"
base64 -d "$W/body" | openssl pkcs7 -inform DER -print_certs -out web.pem ||
	fail "the response is not a base64 PKCS#7 certs-only message"
openssl verify -CAfile "$CA/root.pem" -untrusted "$CA/ca.pem" web.pem >/dev/null ||
	fail "the certificate does not chain to the root"

step "a CA without --master-key keeps plain keys"
"$COFFER_BIN" ca init --dir "$W/plain" --name plain >/dev/null
openssl pkey -in "$W/plain/ca.key" -noout || fail "the plain ca.key is not readable by openssl"

kill $SERVER
wait $SERVER || true
echo "ok"
