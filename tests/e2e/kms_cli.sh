#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The `coffer kms` admin commands against a running `coffer kms serve`
# configured from a config file: create, get (metadata, then --export),
# attributes, locate, revoke, destroy, ownership, rotate-kek (keys keep
# their value) and audit verify, which must name a tampered record and,
# given an earlier head as anchor, notice removed newest records.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kms/common.bash"

require_cmd openssl sqlite3

make_pki
state=$E2E_WORK/state
cat > "$E2E_WORK/kms.conf" <<CONF
# coffer kms serve settings
listen = 127.0.0.1:0
state-dir = $state
cert = $PKI/server.crt
key = $PKI/server.key
client-ca = $PKI/ca.crt
admin = spiffe://coffer/test/admin
idle-timeout = 30
CONF

"$COFFER_BIN" kms serve --config "$E2E_WORK/kms.conf" --port-file "$E2E_WORK/kms.port" \
	>>"$E2E_WORK/kms.log" 2>&1 &
KMS_PID=$!
on_exit "kill -9 $KMS_PID"
for ((i = 0; i < 100; i++)); do
	[ -s "$E2E_WORK/kms.port" ] && break
	sleep 0.1
done
KMS_PORT=$(cat "$E2E_WORK/kms.port") || fail "server from the config file did not start"

step "create and inspect"
id=$(kms_client alice create --name vol-a)
[ -n "$id" ] || fail "create printed no id"
meta=$(kms_client alice get "$id")
echo "$meta"
echo "$meta" | grep -q "^State  *Active$" || fail "get does not show State Active"
echo "$meta" | grep -q "^Name  *vol-a$" || fail "get does not show the Name"
echo "$meta" | grep -qiE "[0-9a-f]{64}" && fail "get without --export printed key material"
key=$(kms_client alice get "$id" --export)
[[ $key =~ ^[0-9a-f]{64}$ ]] || fail "get --export did not print a 256-bit key in hex: $key"

step "attributes"
kms_client alice attributes "$id" --add x-app=postgres
kms_client alice attributes "$id" | grep -q "^x-app  *postgres$" || fail "x-app not shown"
kms_client alice attributes "$id" --delete x-app
kms_client alice attributes "$id" | grep -q "x-app" && fail "x-app still shown after delete"
expect_fail_with "custom attributes start with x-" kms_client alice attributes "$id" --add State=1

step "locate"
other=$(kms_client alice create --name vol-b --no-activate)
[ "$(kms_client alice locate --name vol-a)" = "$id" ] || fail "locate --name vol-a"
kms_client alice locate --state pre-active | grep -qx "$other" || fail "locate --state pre-active"
kms_client alice locate --state pre-active | grep -qx "$id" && fail "Active key located as pre-active"
[ "$(kms_client alice locate --max 1 | wc -l)" = 1 ] || fail "locate --max 1"

step "ownership"
expect_fail_with "Permission Denied" kms_client bob get "$id" --export
expect_fail_with "Permission Denied" kms_client bob destroy "$id"
[ -z "$(kms_client bob locate --name vol-a)" ] || fail "bob located alice's key"
[ "$(kms_client admin get "$id" --export)" = "$key" ] || fail "admin export differs"

step "revoke and destroy"
expect_fail_with "revoke it before destroying" kms_client alice destroy "$id"
kms_client alice revoke "$id"
kms_client alice destroy "$id"
kms_client alice get "$id" | grep -q "^State  *Destroyed$" || fail "state is not Destroyed"
expect_fail_with "Item Not Found" kms_client alice get "$id" --export

step "rotate-kek keeps key values"
before=$(kms_client alice get "$other" --export)
kill -TERM "$KMS_PID"
wait "$KMS_PID" || fail "serve exited with status $? after SIGTERM"
"$COFFER_BIN" kms rotate-kek --state-dir "$state" | grep -q "KEK version 2" || fail "rotate-kek"
rm -f "$E2E_WORK/kms.port"
start_kms "$state"
[ "$(kms_client alice get "$other" --export)" = "$before" ] || fail "key changed across rotate-kek"
stop_kms

step "audit verify prints the head, and an anchor catches removed records"
out=$("$COFFER_BIN" kms audit verify --state-dir "$state")
echo "$out"
head=$(sed -n 's/^head: //p' <<<"$out")
[[ "$head" =~ ^[0-9]+:[0-9a-f]{64}$ ]] || fail "no SEQ:HASH head in '$out'"
"$COFFER_BIN" kms audit verify --state-dir "$state" --anchor "$head" | grep -q "anchor found" ||
	fail "the current head is not accepted as an anchor"
expect_fail_with "is invalid" "$COFFER_BIN" kms audit verify --state-dir "$state" --anchor 3:zz
head_seq=${head%%:*}
sqlite3 "$state/keys.db" "DELETE FROM audit WHERE seq >= $((head_seq - 1))"
"$COFFER_BIN" kms audit verify --state-dir "$state" >/dev/null ||
	fail "a truncated chain should still verify without an anchor"
expect_fail_with "newest records were removed" "$COFFER_BIN" kms audit verify \
	--state-dir "$state" --anchor "$head"

step "audit verify names a tampered record"
sqlite3 "$state/keys.db" "UPDATE audit SET actor = 'mallory' WHERE seq = 3"
expect_fail_with "record 3" "$COFFER_BIN" kms audit verify --state-dir "$state"
echo "PASS"
