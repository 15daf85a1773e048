#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Exporting a fuse volume's gocryptfs master key: refused without --force,
# audited either way, and with --force the printed key lets stock gocryptfs
# read the volume written through coffer.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd curl jq sqlite3 gocryptfs fusermount3 mountpoint
[ -c /dev/fuse ] || skip_or_fail "/dev/fuse is missing"

VOLUME=fuse_export_v1
on_exit storage_cleanup
on_exit "fusermount3 -uz $E2E_WORK/gc"
storage_start

step "write a file into a fuse volume"
"$COFFER_BIN" volume create --admin-socket "$ADMIN_SOCKET" -o engine=fuse "$VOLUME" >/dev/null
reply=$(plugin_post /VolumeDriver.Mount "{\"Name\":\"$VOLUME\",\"ID\":\"fuse-export-c1\"}")
[ "$(tail -1 <<<"$reply")" = 200 ] || fail "mount failed: $reply"
MNT=$(head -1 <<<"$reply" | jq -r .Mountpoint)
mkdir -p "$MNT/dir"
echo "readable without coffer" > "$MNT/dir/note.txt"
reply=$(plugin_post /VolumeDriver.Unmount "{\"Name\":\"$VOLUME\",\"ID\":\"fuse-export-c1\"}")
[ "$(tail -1 <<<"$reply")" = 200 ] || fail "unmount failed: $reply"

step "export without --force is refused"
expect_fail_with "--force" "$COFFER_BIN" volume export-gocryptfs-key \
	--state-dir "$STORAGE_DIR" "$VOLUME"

step "export with --force prints a key that gocryptfs accepts"
KEY=$("$COFFER_BIN" volume export-gocryptfs-key --force --state-dir "$STORAGE_DIR" "$VOLUME")
[[ "$KEY" =~ ^[0-9a-f]{64}$ ]] || fail "expected 64 hex digits, got '$KEY'"
mkdir -p "$E2E_WORK/gc"
echo "$KEY" | gocryptfs -q -masterkey=stdin "$STORAGE_DIR/fuse-volumes/$VOLUME" "$E2E_WORK/gc" \
	2>/dev/null || fail "gocryptfs rejected the exported key"
content=$(cat "$E2E_WORK/gc/dir/note.txt")
fusermount3 -u "$E2E_WORK/gc"
[ "$content" = "readable without coffer" ] || fail "gocryptfs read '$content'"

step "both attempts are in the audit log"
records=$(sqlite3 "$STORAGE_DIR/keys/keys.db" \
	"SELECT result FROM audit WHERE operation = 'export-gocryptfs-key' AND object = '$VOLUME'
	 ORDER BY seq" | tr '\n' ' ')
[ "$records" = "refused ok " ] || fail "expected audit results 'refused ok', got '$records'"

step "export warns while the volume is mounted"
reply=$(plugin_post /VolumeDriver.Mount "{\"Name\":\"$VOLUME\",\"ID\":\"fuse-export-c2\"}")
[ "$(tail -1 <<<"$reply")" = 200 ] || fail "mount failed: $reply"
"$COFFER_BIN" volume export-gocryptfs-key --force --state-dir "$STORAGE_DIR" "$VOLUME" \
	>/dev/null 2>"$E2E_WORK/export.err" || fail "export failed: $(cat "$E2E_WORK/export.err")"
grep -q "is mounted at" "$E2E_WORK/export.err" || fail "no warning: $(cat "$E2E_WORK/export.err")"
reply=$(plugin_post /VolumeDriver.Unmount "{\"Name\":\"$VOLUME\",\"ID\":\"fuse-export-c2\"}")
[ "$(tail -1 <<<"$reply")" = 200 ] || fail "unmount failed: $reply"

storage_stop
echo "PASS"
