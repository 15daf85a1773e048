#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# coffer's CA against real EST clients: openssl makes keys and requests,
# curl posts them, openssl checks the chain, SANs, usages and the CRL.
# Also covers token misuse, malformed bodies, renewal rejections and
# `coffer enroll`.

source "$(dirname "$0")/lib.sh"
require_cmd openssl curl base64

W=$E2E_WORK
CA=$W/ca
cd "$W"

# Prints the HTTP status of an EST request; the body goes to $W/body.
est_post() {
	local path=$1
	shift
	curl -sS --cacert "$CA/root.pem" -o "$W/body" -w '%{http_code}' "$@" \
		"https://127.0.0.1:$PORT/.well-known/est/$path"
}

expect_status() {
	local want=$1 got=$2 what=$3
	[ "$got" = "$want" ] || fail "$what: expected HTTP $want, got $got ($(cat "$W/body"))"
}

expect_body() {
	grep -q -- "$1" "$W/body" || fail "expected '$1' in the response, got: $(cat "$W/body")"
}

# Makes NAME.key and NAME.b64 (a base64 DER request) with openssl.
make_csr() {
	local name=$1 subject=$2 sans=$3 keyopt=${4:-ec_paramgen_curve:P-256} alg=${5:-ec}
	openssl req -new -newkey "$alg" -pkeyopt "$keyopt" -nodes -keyout "$name.key" \
		-subj "$subject" -addext "subjectAltName=$sans" -outform DER -out "$name.der" 2>/dev/null
	base64 "$name.der" > "$name.b64"
}

# Extracts the certificate from a certs-only response into FILE.
save_cert() {
	base64 -d "$W/body" | openssl pkcs7 -inform DER -print_certs -out "$1" ||
		fail "the response is not a base64 PKCS#7 certs-only message"
}

token() {
	"$COFFER_BIN" ca token create --dir "$CA" "$@"
}

step "ca init creates keys with mode 0600 and never overwrites"
"$COFFER_BIN" ca init --dir "$CA" --name e2e >/dev/null
[ "$(stat -c %a "$CA/root.key")" = 600 ] || fail "root.key mode is $(stat -c %a "$CA/root.key")"
[ "$(stat -c %a "$CA/ca.key")" = 600 ] || fail "ca.key mode is $(stat -c %a "$CA/ca.key")"
openssl verify -CAfile "$CA/root.pem" "$CA/ca.pem" >/dev/null || fail "intermediate does not chain to root"
before=$(sha256sum "$CA/root.key")
expect_fail_with "will not overwrite" "$COFFER_BIN" ca init --dir "$CA"
[ "$before" = "$(sha256sum "$CA/root.key")" ] || fail "ca init changed root.key"

step "ca serve listens on a free loopback port"
ca_serve_start "$CA"

step "the issuing key lives in OpenSSL's locked secure heap"
heap=$(grep -o 'event=ca.secure_heap .*' "$E2E_WORK/serve.log") ||
	fail "no ca.secure_heap line: $(cat "$E2E_WORK/serve.log")"
[[ "$heap" == *"locked=yes"* ]] || fail "the secure heap is not locked: $heap"
used=${heap##*used=}
[ "$used" -gt 0 ] || fail "no key material in the secure heap: $heap"

step "cacerts returns the chain as base64 PKCS#7"
status=$(curl -sS --cacert "$CA/root.pem" -o "$W/body" -w '%{http_code}' \
	"https://127.0.0.1:$PORT/.well-known/est/cacerts")
expect_status 200 "$status" cacerts
base64 -d "$W/body" | openssl pkcs7 -inform DER -print_certs -out "$W/cacerts.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$W/cacerts.pem")" = 2 ] || fail "cacerts should hold 2 certificates"

step "simpleenroll with an openssl request and a Basic-auth token"
T1=$(token --san DNS:web.test --san IP:127.0.0.1 --ttl 10m --profile server)
make_csr web /CN=web.test "DNS:web.test,IP:127.0.0.1"
status=$(est_post simpleenroll -u "est:$T1" -H 'Content-Type: application/pkcs10' --data-binary @web.b64)
expect_status 200 "$status" "simpleenroll"
save_cert web.pem
openssl verify -CAfile "$CA/root.pem" -untrusted "$W/cacerts.pem" web.pem >/dev/null ||
	fail "issued certificate does not chain to the root"
text=$(openssl x509 -in web.pem -noout -text)
grep -q "DNS:web.test, IP Address:127.0.0.1" <<<"$text" || fail "SANs missing: $text"
grep -q "TLS Web Server Authentication" <<<"$text" || fail "serverAuth missing"
grep -q "TLS Web Client Authentication" <<<"$text" && fail "clientAuth present on a server profile"
grep -A1 "Key Usage: critical" <<<"$text" | grep -q "Digital Signature" || fail "key usage wrong"
grep -q "Subject: CN = web.test" <<<"$text" || fail "CN wrong"
serial_bits=$(openssl x509 -in web.pem -noout -serial | cut -d= -f2 | wc -c)
[ "$serial_bits" -ge 30 ] || fail "serial is shorter than 128 bits"
nb=$(date -d "$(openssl x509 -in web.pem -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in web.pem -noout -enddate | cut -d= -f2)" +%s)
[ $((na - nb)) = $((24 * 3600 + 60)) ] || fail "validity is $((na - nb)) s, expected 24 h plus 60 s backdating"
[ "$nb" -le "$(($(date +%s) - 50))" ] || fail "notBefore is not backdated"

step "a reused token is rejected"
status=$(est_post simpleenroll -u "est:$T1" -H 'Content-Type: application/pkcs10' --data-binary @web.b64)
expect_status 401 "$status" "reused token"
expect_body "already used"

step "a token rejects SANs it does not allow"
T2=$(token --san DNS:a.test --ttl 10m)
make_csr other /CN=b.test "DNS:b.test"
status=$(est_post simpleenroll -H "Authorization: Bearer $T2" -H 'Content-Type: application/pkcs10' --data-binary @other.b64)
expect_status 403 "$status" "wrong SAN"
expect_body "DNS:b.test is not allowed"
make_csr cnbad /CN=evil.test "DNS:a.test"
status=$(est_post simpleenroll -H "Authorization: Bearer $T2" -H 'Content-Type: application/pkcs10' --data-binary @cnbad.b64)
expect_status 403 "$status" "CN outside the SANs"
expect_body "CN 'evil.test' is not one of its SANs"

step "an expired token is rejected"
T3=$(token --san DNS:late.test --ttl 1s)
make_csr late /CN=late.test "DNS:late.test"
sleep 2
status=$(est_post simpleenroll -H "Authorization: Bearer $T3" -H 'Content-Type: application/pkcs10' --data-binary @late.b64)
expect_status 401 "$status" "expired token"
expect_body "has expired"

step "malformed requests get 4xx with a message"
T4=$(token --san DNS:p384.test --san DNS:rsa.test --san DNS:weak.test --ttl 10m)
status=$(est_post simpleenroll -H "Authorization: Bearer $T4" -H 'Content-Type: application/pkcs10' --data-binary 'not base64 !!')
expect_status 400 "$status" "bad base64"
expect_body "not valid base64"
status=$(est_post simpleenroll -H "Authorization: Bearer $T4" -H 'Content-Type: application/pkcs10' --data-binary 'AAAAAAAA')
expect_status 400 "$status" "bad DER"
expect_body "not a DER PKCS#10"
status=$(est_post simpleenroll -H "Authorization: Bearer $T4" -H 'Content-Type: application/json' --data-binary @web.b64)
expect_status 415 "$status" "wrong content type"
status=$(est_post simpleenroll -H 'Content-Type: application/pkcs10' --data-binary @web.b64)
expect_status 401 "$status" "missing token"
expect_body "bootstrap token is required"
head -c 70000 /dev/zero | tr '\0' 'A' > big.b64
# With Expect: 100-continue the server's 413 arrives before the body is
# sent. Without it, the server still answers 413 but closes the connection
# at once, so a client still uploading may see a reset instead.
status=$(est_post simpleenroll -H "Authorization: Bearer $T4" -H 'Content-Type: application/pkcs10' -H 'Expect: 100-continue' --data-binary @big.b64)
expect_status 413 "$status" "oversized body"
status=$(est_post simpleenroll -X GET)
expect_status 405 "$status" "GET on simpleenroll"
status=$(curl -sS --cacert "$CA/root.pem" -o "$W/body" -w '%{http_code}' "https://127.0.0.1:$PORT/nothing")
expect_status 404 "$status" "unknown path"
make_csr weak /CN=weak.test "DNS:weak.test" rsa_keygen_bits:1024 rsa
status=$(est_post simpleenroll -H "Authorization: Bearer $T4" -H 'Content-Type: application/pkcs10' --data-binary @weak.b64)
expect_status 400 "$status" "RSA 1024"
expect_body "RSA key of 1024 bits is not accepted"

step "P-384 and RSA 2048 requests are accepted"
make_csr p384 /CN=p384.test "DNS:p384.test" ec_paramgen_curve:P-384
status=$(est_post simpleenroll -H "Authorization: Bearer $T4" -H 'Content-Type: application/pkcs10' --data-binary @p384.b64)
expect_status 200 "$status" "P-384 request"
T5=$(token --san DNS:rsa.test --ttl 10m)
make_csr rsa /CN=rsa.test "DNS:rsa.test" rsa_keygen_bits:2048 rsa
status=$(est_post simpleenroll -H "Authorization: Bearer $T5" -H 'Content-Type: application/pkcs10' --data-binary @rsa.b64)
expect_status 200 "$status" "RSA 2048 request"

step "simplereenroll with the current certificate over TLS"
make_csr web2 /CN=web.test "DNS:web.test,IP:127.0.0.1"
status=$(est_post simplereenroll --cert web.pem --key web.key -H 'Content-Type: application/pkcs10' --data-binary @web2.b64)
expect_status 200 "$status" "reenroll"
save_cert web2.pem
openssl verify -CAfile "$CA/root.pem" -untrusted "$W/cacerts.pem" web2.pem >/dev/null || fail "renewed certificate does not chain"
openssl x509 -in web2.pem -noout -ext extendedKeyUsage | grep -q "TLS Web Server Authentication" ||
	fail "renewal lost the server profile"
make_csr web3 /CN=web.test "DNS:web.test,DNS:extra.test"
status=$(est_post simplereenroll --cert web2.pem --key web2.key -H 'Content-Type: application/pkcs10' --data-binary @web3.b64)
expect_status 403 "$status" "reenroll with other SANs"
expect_body "must keep the SANs"
status=$(est_post simplereenroll -H 'Content-Type: application/pkcs10' --data-binary @web2.b64)
expect_status 401 "$status" "reenroll without a certificate"

step "simplereenroll with an expired certificate is rejected"
T6=$(token --san DNS:short.test --ttl 10m --lifetime 2s)
make_csr short /CN=short.test "DNS:short.test"
status=$(est_post simpleenroll -H "Authorization: Bearer $T6" -H 'Content-Type: application/pkcs10' --data-binary @short.b64)
expect_status 200 "$status" "short-lived enrollment"
save_cert short.pem
sleep 3
status=$(est_post simplereenroll --cert short.pem --key short.key -H 'Content-Type: application/pkcs10' --data-binary @short.b64)
expect_status 401 "$status" "reenroll with an expired certificate"
expect_body "certificate has expired"

step "a revoked certificate cannot renew and appears on the CRL"
serial=$(openssl x509 -in web2.pem -noout -serial | cut -d= -f2)
"$COFFER_BIN" ca revoke --dir "$CA" "$serial" >/dev/null
expect_fail_with "already revoked" "$COFFER_BIN" ca revoke --dir "$CA" "$serial"
expect_fail_with "no certificate with serial" "$COFFER_BIN" ca revoke --dir "$CA" 0123
status=$(est_post simplereenroll --cert web2.pem --key web2.key -H 'Content-Type: application/pkcs10' --data-binary @web2.b64)
expect_status 401 "$status" "reenroll with a revoked certificate"
expect_body "is revoked"
curl -sS --cacert "$CA/root.pem" -o crl.der "https://127.0.0.1:$PORT/crl"
openssl crl -inform DER -in crl.der -CAfile "$W/cacerts.pem" -noout 2>&1 | grep -q "verify OK" ||
	fail "the CRL signature does not verify"
openssl crl -inform DER -in crl.der -noout -text | grep -qi "Serial Number: $serial" ||
	fail "serial $serial is not on the CRL"
openssl crl -inform DER -in crl.der -out crl.pem
verdict=$(openssl verify -crl_check -CAfile "$CA/chain.pem" -CRLfile crl.pem web2.pem 2>&1 || true)
grep -q "certificate revoked" <<<"$verdict" || fail "openssl does not see web2.pem as revoked: $verdict"

step "coffer enroll and coffer enroll --renew"
token --san DNS:node.test --san URI:spiffe://coffer/node/n1 --ttl 10m --profile client > node.token
"$COFFER_BIN" enroll --server "127.0.0.1:$PORT" --root "$CA/root.pem" --token-file node.token \
	--san DNS:node.test --san spiffe://coffer/node/n1 --key node.key --cert node.pem --chain node.chain >/dev/null
[ "$(stat -c %a node.key)" = 600 ] || fail "node.key mode is $(stat -c %a node.key)"
openssl verify -CAfile "$CA/root.pem" -untrusted node.chain node.pem >/dev/null || fail "enrolled certificate does not chain"
first=$(openssl x509 -in node.pem -noout -serial)
"$COFFER_BIN" enroll --server "127.0.0.1:$PORT" --root "$CA/root.pem" --key node.key \
	--cert node.pem --chain node.chain --renew >/dev/null
[ "$first" != "$(openssl x509 -in node.pem -noout -serial)" ] || fail "renewal kept the serial"
openssl x509 -in node.pem -noout -ext subjectAltName | grep -q "URI:spiffe://coffer/node/n1" ||
	fail "renewal lost the URI SAN"
expect_fail_with "was already used" "$COFFER_BIN" enroll --server "127.0.0.1:$PORT" \
	--root "$CA/root.pem" --token-file node.token --san DNS:node.test --key x.key --cert x.pem --chain x.chain

step "ca ls lists what was issued"
"$COFFER_BIN" ca ls --dir "$CA" > ls.txt
grep -q "revoked.*web.test" ls.txt || fail "ca ls does not show the revoked certificate: $(cat ls.txt)"
grep -q "client.*node.test" ls.txt || fail "ca ls does not show node.test"
# Each column starts where its header does, whatever the lengths of the CNs.
for header in STATUS EKU "NOT AFTER" CN "[SANS]"; do
	column=$(head -1 ls.txt | awk -v h="$header" '{ print index($0, "  " h) }')
	[ "$column" -gt 0 ] || fail "ca ls has no $header column: $(head -1 ls.txt)"
	tail -n +2 ls.txt | awk -v c="$column" -v h="$header" '
		substr($0, c, 2) != "  " || substr($0, c + 2, 1) == " " {
			print "ca ls row " NR + 1 " does not start its " h " column at " c + 2 ": " $0
			bad = 1
		}
		END { exit bad }' || fail "ca ls columns are misaligned: $(cat ls.txt)"
done

kill $SERVER
wait $SERVER || true
grep -q "event=est.stop" "$W/serve.log" || fail "the server did not log its stop"
echo "ok"
