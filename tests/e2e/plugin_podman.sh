#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# End to end with podman and runc as the container engine and coffer as its
# volume plugin: a container writes a SQLite database and a file tree into
# an encrypted volume, the host sees only ciphertext once it exits, a second
# container reads the same bytes back, neither a second container nor a
# second engine can use the volume while it is in use, and `podman volume
# rm` destroys the key.

. "$(dirname "$0")/lib.sh"

require_root
require_cmd podman runc curl sqlite3 jq ldd mountpoint
[ -x /bin/busybox ] || skip_or_fail "/bin/busybox (busybox-static) not found"

on_exit storage_cleanup
storage_start
podman_setup

VOLUME=plugin_e2e_v1
VOLUME_DIR=$STORAGE_DIR/pool/volumes/$VOLUME
on_exit "podman_cmd rm -f -t 0 plugin-e2e-holder"
on_exit "podman_cmd volume rm -f $VOLUME"

step "podman volume create --driver $PLUGIN_NAME -o engine=fscrypt $VOLUME"
podman_cmd volume create --driver "$PLUGIN_NAME" -o engine=fscrypt "$VOLUME" >/dev/null
info=$("$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$VOLUME")
KEY_ID=$(jq -r .key_id <<<"$info")
[ "$(jq -r .state <<<"$info")" = ready ] || fail "new volume is not ready: $info"
[ -n "$KEY_ID" ] && [ "$KEY_ID" != null ] || fail "new volume has no key id: $info"
key_state=$(sqlite3 "$STORAGE_DIR/keys/keys.db" "SELECT state FROM objects WHERE id = '$KEY_ID'")
[ "$key_state" = 2 ] || fail "key $KEY_ID is in state '$key_state', expected 2 (Active)"

step "prepare a file tree with known checksums on the host"
SOURCE=$E2E_WORK/source
mkdir -p "$SOURCE/tree/docs" "$SOURCE/tree/blobs/deep/deeper"
for ((i = 1; i <= 50; i++)); do
	head -c $((i * 1537)) /dev/urandom >"$SOURCE/tree/blobs/deep/deeper/blob-$i.bin"
	printf 'document %d\n' "$i" >"$SOURCE/tree/docs/doc-$i.txt"
done
head -c $((3 * 1024 * 1024)) /dev/urandom >"$SOURCE/tree/blobs/large.bin"
(cd "$SOURCE" && find tree -type f | sort | xargs sha256sum) >"$E2E_WORK/tree.sha256"

step "a container writes 5000 SQLite rows and copies the tree into the volume"
podman_cmd run --rm "${PODMAN_RUN[@]}" --name plugin-e2e-writer \
	-v "$VOLUME:/data" -v "$SOURCE:/source:ro" "$IMAGE" sh -c '
	set -e
	sqlite3 /data/app.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, value INTEGER);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
		INSERT INTO items(name, value) SELECT printf(\"item-%05d\", i), i * 7 FROM n;"
	cp -r /source/tree /data/tree
	sync' || fail "the writer container failed"

step "the volume is locked after the container exits"
info=$("$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$VOLUME")
[ "$(jq -r .state <<<"$info")" = ready ] || fail "volume not locked after exit: $info"
[ "$(jq -r .status <<<"$info")" = locked ] || fail "fscrypt key still loaded: $info"

step "the host sees only encrypted names in $VOLUME_DIR"
listing=$(find "$VOLUME_DIR" -mindepth 1)
echo "$listing" | head -5
[ "$(echo "$listing" | wc -l)" -ge 50 ] || fail "expected the written files in $VOLUME_DIR"
if grep -E 'app\.db|tree|blob|doc-|large' <<<"$listing"; then
	fail "plaintext names are visible on the host (above)"
fi
encrypted_file=$(find "$VOLUME_DIR" -maxdepth 1 -type f | head -1)
[ -n "$encrypted_file" ] || fail "no file found in $VOLUME_DIR"
expect_fail_with "Required key not available" cat "$encrypted_file"
echo "cat $encrypted_file: Required key not available"

step "a second container reads the same data back bit for bit"
podman_cmd run --rm "${PODMAN_RUN[@]}" --name plugin-e2e-reader -v "$VOLUME:/data" "$IMAGE" \
	sh -c 'set -e
	sqlite3 /data/app.db "PRAGMA integrity_check; SELECT count(*), sum(value), max(name) FROM items;"
	cd /data && find tree -type f | sort | xargs sha256sum' >"$E2E_WORK/reader.out" ||
	fail "the reader container failed"
sed -n 1,2p "$E2E_WORK/reader.out"
[ "$(sed -n 1p "$E2E_WORK/reader.out")" = ok ] || fail "SQLite integrity check failed"
[ "$(sed -n 2p "$E2E_WORK/reader.out")" = "5000|87517500|item-05000" ] ||
	fail "SQLite rows differ: $(sed -n 2p "$E2E_WORK/reader.out")"
tail -n +3 "$E2E_WORK/reader.out" >"$E2E_WORK/reader.sha256"
cmp "$E2E_WORK/tree.sha256" "$E2E_WORK/reader.sha256" ||
	fail "file tree checksums differ: $(diff "$E2E_WORK/tree.sha256" "$E2E_WORK/reader.sha256")"
echo "$(wc -l <"$E2E_WORK/reader.sha256") files match their host checksums"

step "a holder container keeps the volume mounted"
podman_cmd run -d "${PODMAN_RUN[@]}" --name plugin-e2e-holder -v "$VOLUME:/data" "$IMAGE" \
	sleep 600 >/dev/null
for ((i = 0; i < 100; i++)); do
	state=$("$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$VOLUME" |
		jq -r .state)
	[ "$state" = mounted ] && break
	sleep 0.1
done
[ "$state" = mounted ] || fail "the holder container did not mount the volume"

step "a second container of the same podman cannot use it while the holder runs"
expect_fail_with "never shared between containers" \
	podman_cmd run --rm "${PODMAN_RUN[@]}" --name plugin-e2e-second \
	-v "$VOLUME:/data" "$IMAGE" cat /data/app.db
echo "the second container got coffer's message"
podman_cmd run --rm "${PODMAN_RUN[@]}" --name plugin-e2e-other -v "$E2E_WORK:/work:ro" \
	"$IMAGE" echo started >/dev/null || fail "a container without coffer volumes failed to start"

step "a second container engine cannot mount the volume while it is in use"
SECOND=$E2E_WORK/podman2
podman_build_image "$SECOND"
podman_at "$SECOND" volume reload >/dev/null
expect_fail_with "never shared between containers" \
	podman_at "$SECOND" run --rm "${PODMAN_RUN[@]}" --name plugin-e2e-intruder \
	-v "$VOLUME:/data" "$IMAGE" cat /data/app.db
echo "the second engine got coffer's message"

step "a Docker-style mount with another container ID is rejected too"
reply=$(plugin_post /VolumeDriver.Mount "{\"Name\":\"$VOLUME\",\"ID\":\"other-container\"}")
[ "$(tail -1 <<<"$reply")" = 500 ] || fail "expected HTTP 500, got: $reply"
grep -q '"Err":"volume plugin_e2e_v1 is already mounted' <<<"$reply" ||
	fail "expected coffer's message in Err, got: $reply"
podman_cmd rm -f -t 0 plugin-e2e-holder >/dev/null
state=$("$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$VOLUME" |
	jq -r .state)
[ "$state" = ready ] || fail "volume is $state after the holder stopped, expected ready"

step "podman volume rm destroys the key and the directory"
podman_cmd volume rm "$VOLUME" >/dev/null
expect_fail_with "not found" "$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" "$VOLUME"
key_row=$(sqlite3 "$STORAGE_DIR/keys/keys.db" \
	"SELECT state, wrapped IS NULL FROM objects WHERE id = '$KEY_ID'")
[ "$key_row" = "5|1" ] || fail "key $KEY_ID row is '$key_row', expected 5|1 (Destroyed, no material)"
echo "key $KEY_ID: state Destroyed, wrapped key erased"
[ ! -e "$VOLUME_DIR" ] || fail "$VOLUME_DIR still exists after remove"

step "SIGTERM stops the storage manager with exit status 0"
storage_stop
[ ! -e "$PLUGIN_SOCKET" ] || fail "plugin socket left behind after SIGTERM"
[ ! -e "$ADMIN_SOCKET" ] || fail "admin socket left behind after SIGTERM"
grep -q 'event=storage.stop result=ok' "$STORAGE_LOG" || fail "no clean stop in the log"

step "the key store's audit chain records the destroy and verifies"
audit=$(sqlite3 "$STORAGE_DIR/keys/keys.db" \
	"SELECT operation || ' ' || result FROM audit WHERE object = '$KEY_ID' ORDER BY seq")
echo "$audit" | tr '\n' ',' && echo
grep -qx "destroy ok" <<<"$audit" || fail "no successful destroy of $KEY_ID in the audit log"
"$COFFER_BIN" kms audit verify --state-dir "$STORAGE_DIR/keys" ||
	fail "coffer kms audit verify rejected the key store's audit chain"
echo "PASS"
