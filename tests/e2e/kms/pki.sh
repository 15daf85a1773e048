#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Makes test certificates with openssl, all EC P-256, in DIR:
#   ca.crt/key            test CA
#   server.crt/key        CN=127.0.0.1, SAN IP:127.0.0.1 and DNS:localhost
#   alice.crt/key         client, URI SAN spiffe://coffer/test/alice
#   bob.crt/key           client, URI SAN spiffe://coffer/test/bob
#   carol.crt/key         client with only CN=carol (no URI SAN)
#   admin.crt/key         client, URI SAN spiffe://coffer/test/admin
#   expired.crt/key       client from the test CA whose validity ended
#   other-ca.crt, rogue.crt/key   a second CA and a client it signed
#   wrong-host.crt/key    server certificate for other.example only
set -euo pipefail
D=$1
mkdir -p "$D"
cd "$D"

make_ca() {
	openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"
	openssl req -x509 -new -key "$1.key" -sha256 -days 2 -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.crt" 2>/dev/null
}

# issue NAME CA SUBJECT EXTENSIONS [x509 date options...]
issue() {
	local name=$1 ca=$2 subject=$3 ext=$4
	shift 4
	openssl ecparam -name prime256v1 -genkey -noout -out "$name.key"
	openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
	printf '%s\n' "$ext" > "$name.ext"
	if [ $# -gt 0 ]; then
		# An explicit validity window needs `openssl ca`-style dates, which
		# `x509 -req` lacks, so a minimal CA configuration is used.
		mkdir -p ca-db
		: > ca-db/index.txt
		cat > ca-db/ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = ca-db/index.txt
new_certs_dir = ca-db
serial = ca-db/serial
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
CNF
		openssl rand -hex 8 > ca-db/serial
		openssl ca -batch -config ca-db/ca.cnf -cert "$ca.crt" -keyfile "$ca.key" \
			-in "$name.csr" -out "$name.crt" -extfile "$name.ext" -notext "$@" 2>/dev/null
	else
		openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
			-days 2 -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
	fi
	rm -f "$name.csr" "$name.ext"
}

client_ext() {
	printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyAgreement\n%s' "$1"
}

make_ca ca "coffer test KMIP CA"
make_ca other-ca "unrelated CA"
issue server ca "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyAgreement"
issue wrong-host ca "/CN=other.example" "subjectAltName=DNS:other.example
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyAgreement"
for who in alice bob admin; do
	issue $who ca "/CN=$who" "$(client_ext "subjectAltName=URI:spiffe://coffer/test/$who")"
done
issue carol ca "/CN=carol" "$(client_ext "")"
issue rogue other-ca "/CN=alice" "$(client_ext "subjectAltName=URI:spiffe://coffer/test/alice")"
issue expired ca "/CN=expired" "$(client_ext "subjectAltName=URI:spiffe://coffer/test/expired")" \
	-startdate 20200101000000Z -enddate 20200102000000Z
chmod 600 ./*.key
openssl verify -CAfile ca.crt server.crt alice.crt bob.crt carol.crt admin.crt >/dev/null
