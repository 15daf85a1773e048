#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Interop the other way: coffer's KMIP client (through the `coffer kms`
# admin commands) against Debian's pykmip-server: create, metadata, export,
# locate, revoke, destroy, and another identity refused.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kms/common.bash"

require_cmd openssl
[ -x /usr/bin/pykmip-server ] || skip_or_fail "pykmip-server (python3-pykmip) is not installed"

make_pki
start_pykmip_server
KMS_PORT=$PYKMIP_PORT

step "create and inspect"
id=$(kms_client alice create --name interop-1)
[ -n "$id" ] || fail "create printed no id"
meta=$(kms_client alice get "$id")
echo "$meta"
echo "$meta" | grep -q "^State  *Active$" || fail "key is not Active after create"
echo "$meta" | grep -q "^Cryptographic Length  *256$" || fail "length is not 256"
key=$(kms_client alice get "$id" --export)
[[ $key =~ ^[0-9a-f]{64}$ ]] || fail "export did not print a 256-bit key: $key"
[ "$(kms_client alice get "$id" --export)" = "$key" ] || fail "a second Get returned another key"

step "locate, ownership, revoke, destroy"
kms_client alice locate --name interop-1 | grep -qx "$id" || fail "locate by name"
expect_fail_with "Permission Denied" kms_client bob get "$id" --export
kms_client alice revoke "$id"
kms_client alice get "$id" | grep -q "^State  *Deactivated$" || fail "not Deactivated after revoke"
kms_client alice destroy "$id"
expect_fail_with "Item Not Found" kms_client alice get "$id" --export
stop_pykmip_server
echo "PASS"
