#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The coffer demo (`make demo`): an encrypted volume used by real podman
# containers, step by step. Runs as root on Debian 12 and leaves nothing
# behind: the storage manager, its state, the pool image and a private
# podman storage root all live in one temporary directory that is removed
# at the end, also when a step fails.
#
# Usage: scripts/demo.sh PATH/TO/coffer
set -euo pipefail

COFFER=${1:?usage: scripts/demo.sh PATH/TO/coffer}
COFFER=$(realpath "$COFFER")

if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (fscrypt keys, loop devices and podman need it)" >&2
	exit 1
fi
for tool in podman runc sqlite3 curl ldd; do
	command -v "$tool" >/dev/null || {
		echo "demo: '$tool' not found; run scripts/install-deps first" >&2
		exit 1
	}
done

WORK=$(mktemp -d /tmp/coffer-demo.XXXXXX)
STATE=$WORK/state
PLUGIN_SOCKET=$WORK/plugin.sock
ADMIN_SOCKET=$WORK/admin.sock
PLUGIN_NAME=coffer_demo
IMAGE=localhost/coffer-demo:latest
VOLUME=demo-data
SERVER_PID=

bold='' plain=''
if [ -t 1 ]; then
	bold=$(tput bold 2>/dev/null || true)
	plain=$(tput sgr0 2>/dev/null || true)
fi
step_number=0

step() {
	step_number=$((step_number + 1))
	printf '\n%s== Step %d: %s%s\n' "$bold" "$step_number" "$*" "$plain"
}

# Prints a command as it could be pasted into a shell, then runs it. pm is
# shown as podman: every podman command here also gets the private storage
# root options. Words with spaces or shell characters are single-quoted.
show() {
	local shown=("$@") word line="$" quote="'\\''"
	[ "${shown[0]}" = pm ] && shown[0]=podman
	for word in "${shown[@]}"; do
		if [[ "$word" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
			line+=" $word"
		else
			line+=" '${word//\'/$quote}'"
		fi
	done
	printf '%s\n' "$line"
	"$@"
}

pm() {
	podman --root "$WORK/podman/root" --runroot "$WORK/podman/runroot" --storage-driver vfs "$@"
}

RUN_OPTIONS=(--rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
	--network none)

cleanup() {
	local rc=$?
	set +e
	printf '\n%s== Cleaning up%s\n' "$bold" "$plain"
	pm rm -f -t 0 coffer-demo-writer coffer-demo-reader coffer-demo-holder \
		coffer-demo-intruder >/dev/null 2>&1
	pm volume rm -f "$VOLUME" >/dev/null 2>&1
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID"
		wait "$SERVER_PID"
		echo "storage manager stopped (exit status $?)"
	fi
	if mountpoint -q "$STATE/pool" 2>/dev/null; then
		umount "$STATE/pool" || umount -l "$STATE/pool"
	fi
	rm -rf "$WORK"
	echo "removed $WORK"
	if [ "$rc" != 0 ]; then
		echo "demo FAILED at step $step_number (exit status $rc); the storage manager log was:"
		cat "$WORK.log" 2>/dev/null
	fi
	rm -f "$WORK.log"
	exit "$rc"
}
trap cleanup EXIT

step "start the Encrypted Storage Manager with a private state directory"
echo "state: $STATE (512 MiB fscrypt pool image), plugin socket: $PLUGIN_SOCKET"
echo "podman runs with a private storage root in $WORK/podman, so the host's"
echo "containers, images and volumes are untouched."
"$COFFER" storage serve --state-dir "$STATE" --plugin-socket "$PLUGIN_SOCKET" \
	--admin-socket "$ADMIN_SOCKET" --pool-size 512M >"$WORK.log" 2>&1 &
SERVER_PID=$!
for ((i = 0; i < 300; i++)); do
	if [ -S "$PLUGIN_SOCKET" ] &&
		curl -sf --max-time 30 --unix-socket "$PLUGIN_SOCKET" -X POST \
			http://coffer/Plugin.Activate >/dev/null 2>&1; then
		break
	fi
	kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK.log"; exit 1; }
	sleep 0.1
done
show curl -s --unix-socket "$PLUGIN_SOCKET" -X POST http://coffer/Plugin.Activate
echo

step "configure podman to use coffer as the volume plugin '$PLUGIN_NAME'"
show "$COFFER" storage hook-config --dir "$WORK/hooks" --admin-socket "$ADMIN_SOCKET"
cat >"$WORK/containers.conf" <<EOF
[engine]
runtime = "runc"
hooks_dir = ["$WORK/hooks"]
events_logger = "file"
cgroup_manager = "cgroupfs"

[engine.volume_plugins]
$PLUGIN_NAME = "$PLUGIN_SOCKET"
EOF
export CONTAINERS_CONF=$WORK/containers.conf
cat "$CONTAINERS_CONF"

step "build a small local image (busybox and sqlite3) with podman import"
rootfs=$WORK/rootfs
mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/lib64"
cp /bin/busybox "$rootfs/bin/busybox"
for tool in sh ls cat sha256sum find head seq sync sleep; do
	ln -s busybox "$rootfs/bin/$tool"
done
cp /usr/bin/sqlite3 "$rootfs/bin/sqlite3"
for lib in $(ldd /usr/bin/sqlite3 | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do
	mkdir -p "$rootfs$(dirname "$lib")"
	cp -L "$lib" "$rootfs$lib"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$rootfs/lib64/"
tar -C "$rootfs" -cf "$WORK/rootfs.tar" .
pm import -q "$WORK/rootfs.tar" "$IMAGE" >/dev/null
echo "imported $IMAGE"

step "create an encrypted volume through podman"
show pm volume create --driver "$PLUGIN_NAME" -o engine=fscrypt "$VOLUME"
show "$COFFER" volume inspect --admin-socket "$ADMIN_SOCKET" "$VOLUME"
KEY_ID=$("$COFFER" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$VOLUME" |
	sed -n 's/.*"key_id": "\([^"]*\)".*/\1/p')

step "a container writes a SQLite database with 5000 rows and a file"
show pm run "${RUN_OPTIONS[@]}" --name coffer-demo-writer -v "$VOLUME:/data" "$IMAGE" sh -c '
	sqlite3 /data/orders.db "CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT, cents INTEGER);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
		INSERT INTO orders(item, cents) SELECT printf(\"item-%04d\", i), i * 125 FROM n;"
	echo "a secret note written by the first container" > /data/note.txt
	sync
	sha256sum /data/orders.db /data/note.txt
	echo "rows written: $(sqlite3 /data/orders.db "SELECT count(*) FROM orders;")"'

step "the container has exited: the volume is locked, the host sees only ciphertext"
show "$COFFER" volume ls --admin-socket "$ADMIN_SOCKET"
volume_dir=$STATE/pool/volumes/$VOLUME
show ls -l "$volume_dir"
encrypted=$(find "$volume_dir" -maxdepth 1 -type f | head -1)
printf '$ cat %s\n' "$encrypted"
if cat "$encrypted" 2>&1; then
	echo "demo: reading a locked file succeeded, which must not happen" >&2
	exit 1
fi

step "a second container reads the same data back"
show pm run "${RUN_OPTIONS[@]}" --name coffer-demo-reader -v "$VOLUME:/data" "$IMAGE" sh -c '
	sha256sum /data/orders.db /data/note.txt
	cat /data/note.txt
	sqlite3 /data/orders.db "SELECT count(*), sum(cents) FROM orders;"'

step "the volume is never shared: a second container at the same time is rejected"
show pm run -d "${RUN_OPTIONS[@]}" --name coffer-demo-holder -v "$VOLUME:/data" "$IMAGE" sleep 300
if show pm run "${RUN_OPTIONS[@]}" --name coffer-demo-intruder -v "$VOLUME:/data" "$IMAGE" \
	cat /data/note.txt; then
	echo "a second container could read the volume while another used it" >&2
	exit 1
fi
show pm rm -f -t 0 coffer-demo-holder

step "remove the volume: coffer destroys its key (crypto-shredding)"
show pm volume rm "$VOLUME"
printf '$ sqlite3 %s "SELECT state, wrapped IS NULL FROM objects WHERE id = '"'"'%s'"'"'"\n' \
	"$STATE/keys/keys.db" "$KEY_ID"
key_state=$(sqlite3 "$STATE/keys/keys.db" "SELECT state FROM objects WHERE id = '$KEY_ID'")
key_material=$(sqlite3 "$STATE/keys/keys.db" \
	"SELECT CASE WHEN wrapped IS NULL THEN 'erased' ELSE 'present' END FROM objects WHERE id = '$KEY_ID'")
echo "key $KEY_ID: KMIP state $key_state ($([ "$key_state" = 5 ] && echo Destroyed || echo NOT destroyed)), wrapped key $key_material"
[ "$key_state" = 5 ] && [ "$key_material" = erased ] || exit 1
printf '$ ls %s\n' "$volume_dir"
if ls "$volume_dir" 2>&1; then
	echo "demo: the volume directory still exists" >&2
	exit 1
fi

printf '\n%sDemo finished: data written, locked, read back and crypto-shredded.%s\n' \
	"$bold" "$plain"
