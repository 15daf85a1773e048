#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# End to end with podman and runc on a volume created with -o engine=fuse:
# a container writes a SQLite database and a file tree, the volume is
# locked once the container exits (no FUSE mount left, only gocryptfs
# ciphertext on the host), a second container reads the same bytes back,
# and `podman volume rm` destroys the key and the ciphertext. After a
# restart of the storage manager, a container that podman would bind to
# the stale mount directory is rejected.

. "$(dirname "$0")/lib.sh"

require_root
require_cmd podman runc curl sqlite3 jq ldd mountpoint
[ -x /bin/busybox ] || skip_or_fail "/bin/busybox (busybox-static) not found"
[ -c /dev/fuse ] || skip_or_fail "/dev/fuse is missing"
fuse_transport_prepare

on_exit storage_cleanup
storage_start
podman_setup

VOLUME=fuse_podman_v1
CIPHER_DIR=$STORAGE_DIR/fuse-volumes/$VOLUME
MOUNT_DIR=$STORAGE_DIR/mounts/$VOLUME
on_exit "podman_cmd volume rm -f $VOLUME"
on_exit "umount -l $MOUNT_DIR"

step "podman volume create --driver $PLUGIN_NAME -o engine=fuse $VOLUME"
podman_cmd volume create --driver "$PLUGIN_NAME" -o engine=fuse "$VOLUME" >/dev/null
info=$("$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$VOLUME")
[ "$(jq -r .engine <<<"$info")" = fuse ] || fail "volume engine is not fuse: $info"
KEY_ID=$(jq -r .key_id <<<"$info")

step "a container writes 5000 SQLite rows and a file tree"
SOURCE=$E2E_WORK/source
mkdir -p "$SOURCE/tree/deep/deeper"
for ((i = 1; i <= 40; i++)); do
	head -c $((i * 1531)) /dev/urandom >"$SOURCE/tree/deep/deeper/blob-$i.bin"
done
head -c $((2 * 1024 * 1024 + 5)) /dev/urandom >"$SOURCE/tree/large.bin"
(cd "$SOURCE" && find tree -type f | sort | xargs sha256sum) >"$E2E_WORK/tree.sha256"
podman_cmd run --rm "${PODMAN_RUN[@]}" --name fuse-podman-writer \
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
[ "$(jq -r .status <<<"$info")" = locked ] || fail "fuse server still running: $info"
if mountpoint -q "$MOUNT_DIR"; then fail "$MOUNT_DIR is still mounted"; fi

step "the host sees only gocryptfs ciphertext in $CIPHER_DIR"
[ -f "$CIPHER_DIR/gocryptfs.diriv" ] || fail "no gocryptfs.diriv in $CIPHER_DIR"
listing=$(find "$CIPHER_DIR" -mindepth 1 -not -name gocryptfs.diriv)
[ "$(echo "$listing" | wc -l)" -ge 40 ] || fail "expected the written files in $CIPHER_DIR"
if grep -E 'app\.db|tree|blob|large|deep' <<<"$listing"; then
	fail "plaintext names are visible on the host (above)"
fi
if grep -rqa "item-00001" "$CIPHER_DIR"; then fail "plaintext rows found in the ciphertext"; fi

step "a second container reads the same data back bit for bit"
podman_cmd run --rm "${PODMAN_RUN[@]}" --name fuse-podman-reader -v "$VOLUME:/data" "$IMAGE" \
	sh -c 'set -e
	sqlite3 /data/app.db "PRAGMA integrity_check; SELECT count(*), sum(value), max(name) FROM items;"
	cd /data && find tree -type f | sort | xargs sha256sum' >"$E2E_WORK/reader.out" ||
	fail "the reader container failed"
[ "$(sed -n 1p "$E2E_WORK/reader.out")" = ok ] || fail "SQLite integrity check failed"
[ "$(sed -n 2p "$E2E_WORK/reader.out")" = "5000|87517500|item-05000" ] ||
	fail "SQLite rows differ: $(sed -n 2p "$E2E_WORK/reader.out")"
tail -n +3 "$E2E_WORK/reader.out" >"$E2E_WORK/reader.sha256"
cmp "$E2E_WORK/tree.sha256" "$E2E_WORK/reader.sha256" ||
	fail "file tree checksums differ: $(diff "$E2E_WORK/tree.sha256" "$E2E_WORK/reader.sha256")"
echo "$(wc -l <"$E2E_WORK/reader.sha256") files match their host checksums"

step "podman volume rm destroys the key and the ciphertext"
podman_cmd volume rm "$VOLUME" >/dev/null
key_row=$(sqlite3 "$STORAGE_DIR/keys/keys.db" \
	"SELECT state, wrapped IS NULL FROM objects WHERE id = '$KEY_ID'")
[ "$key_row" = "5|1" ] || fail "key $KEY_ID row is '$key_row', expected 5|1 (Destroyed, no material)"
[ ! -e "$CIPHER_DIR" ] || fail "$CIPHER_DIR still exists after remove"
step "after a storage manager restart, podman's stale mount is rejected"
# podman keeps counting a volume as mounted across a restart of the
# manager and does not call Mount again, so a new container would get the
# bare mount directory. The OCI hook's claim must stop it.
STALE=fuse_podman_stale
STALE_DIR=$STORAGE_DIR/mounts/$STALE
on_exit "podman_cmd volume rm -f $STALE"
on_exit "podman_cmd rm -f -t 0 fuse-podman-holder"
podman_cmd volume create --driver "$PLUGIN_NAME" -o engine=fuse "$STALE" >/dev/null
podman_cmd run -d "${PODMAN_RUN[@]}" --name fuse-podman-holder -v "$STALE:/data" "$IMAGE" \
	sleep 300 >/dev/null || fail "the holder container did not start"
kill -TERM "$STORAGE_PID"
wait "$STORAGE_PID" || true
storage_start
if podman_cmd run --rm "${PODMAN_RUN[@]}" --name fuse-podman-late -v "$STALE:/data" "$IMAGE" \
	sh -c 'echo leaked > /data/leak' 2>"$E2E_WORK/late.err"; then
	fail "a container started on $STALE while coffer did not serve it"
fi
[ ! -e "$STALE_DIR/leak" ] || fail "a container wrote plaintext to $STALE_DIR"
grep -q "volume=$STALE .*reason=not_mounted" "$STORAGE_LOG" ||
	fail "the claim was not rejected as not mounted: $(cat "$E2E_WORK/late.err")"
podman_cmd rm -f -t 0 fuse-podman-holder >/dev/null

storage_stop
fuse_transport_check "$STORAGE_LOG"
echo "PASS"
