#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Exporting the gocryptfs master key of a fuse volume whose key lives on
# coffer's KMS: refused without --force, every attempt recorded on the key
# as an x-coffer-key-export attribute (and in the KMS audit chain), and with
# --force the printed key lets stock gocryptfs read the volume.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kms/common.bash"

require_root
require_cmd openssl curl jq sqlite3 gocryptfs fusermount3
[ -c /dev/fuse ] || skip_or_fail "/dev/fuse is missing"

VOLUME=fuse_export_kms_v1
make_pki
start_kms "$E2E_WORK/kms-state"
KMS_OPTS=(--kms "kmip://127.0.0.1:$KMS_PORT" --kms-cert "$PKI/alice.crt"
	--kms-key "$PKI/alice.key" --kms-ca "$PKI/ca.crt")
on_exit storage_cleanup
on_exit "fusermount3 -uz $E2E_WORK/gc"
storage_start "${KMS_OPTS[@]}"

step "write a file into a fuse volume whose key is on the KMS"
"$COFFER_BIN" volume create --admin-socket "$ADMIN_SOCKET" -o engine=fuse "$VOLUME" >/dev/null
reply=$(plugin_post /VolumeDriver.Mount "{\"Name\":\"$VOLUME\",\"ID\":\"fuse-export-kms-c1\"}")
[ "$(tail -1 <<<"$reply")" = 200 ] || fail "mount failed: $reply"
MNT=$(head -1 <<<"$reply" | jq -r .Mountpoint)
echo "readable without coffer" > "$MNT/note.txt"
reply=$(plugin_post /VolumeDriver.Unmount "{\"Name\":\"$VOLUME\",\"ID\":\"fuse-export-kms-c1\"}")
[ "$(tail -1 <<<"$reply")" = 200 ] || fail "unmount failed: $reply"
KEY_ID=$(sqlite3 "$STORAGE_DIR/volumes.db" "SELECT key_id FROM volumes WHERE name = '$VOLUME'")
[ -n "$KEY_ID" ] || fail "volume $VOLUME has no key id"

step "a missing --kms-key is rejected before anything is fetched"
expect_fail_with "--kms-cert, --kms-key and --kms-ca" "$COFFER_BIN" volume export-gocryptfs-key \
	--force --state-dir "$STORAGE_DIR" --kms "kmip://127.0.0.1:$KMS_PORT" \
	--kms-cert "$PKI/alice.crt" --kms-ca "$PKI/ca.crt" "$VOLUME"

step "export without --force is refused and recorded on the key"
expect_fail_with "--force" "$COFFER_BIN" volume export-gocryptfs-key \
	--state-dir "$STORAGE_DIR" "${KMS_OPTS[@]}" "$VOLUME"
kms_client alice attributes "$KEY_ID" | grep -q "^x-coffer-key-export .*export refused" ||
	fail "the refused attempt is not on the key"

step "export with --force prints a key that gocryptfs accepts"
KEY=$("$COFFER_BIN" volume export-gocryptfs-key --force --state-dir "$STORAGE_DIR" \
	"${KMS_OPTS[@]}" "$VOLUME")
[[ "$KEY" =~ ^[0-9a-f]{64}$ ]] || fail "expected 64 hex digits, got '$KEY'"
mkdir -p "$E2E_WORK/gc"
echo "$KEY" | gocryptfs -q -masterkey=stdin "$STORAGE_DIR/fuse-volumes/$VOLUME" "$E2E_WORK/gc" \
	2>/dev/null || fail "gocryptfs rejected the exported key"
content=$(cat "$E2E_WORK/gc/note.txt")
fusermount3 -u "$E2E_WORK/gc"
[ "$content" = "readable without coffer" ] || fail "gocryptfs read '$content'"
records=$(kms_client alice attributes "$KEY_ID" | grep -c "^x-coffer-key-export ")
[ "$records" = 2 ] || fail "expected 2 x-coffer-key-export instances, found $records"

step "both attempts are in the KMS audit chain"
storage_stop
stop_kms
adds=$(sqlite3 "$E2E_WORK/kms-state/keys.db" \
	"SELECT count(*) FROM audit WHERE object = '$KEY_ID' AND operation LIKE '%attribute%'")
[ "$adds" -ge 2 ] || fail "expected 2 attribute records in the KMS audit, found $adds"
"$COFFER_BIN" kms audit verify --state-dir "$E2E_WORK/kms-state" >/dev/null ||
	fail "the KMS audit chain does not verify"
echo "PASS"
