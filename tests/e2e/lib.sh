# SPDX-License-Identifier: Apache-2.0
# Shared helpers for end-to-end scripts: sourced, never run directly.
# Each script gets a private work directory that is removed on exit, and
# skip/require helpers that honour COFFER_REQUIRE_PRIVILEGED.

set -euo pipefail

: "${COFFER_BIN:?COFFER_BIN must point at the coffer binary}"
: "${COFFER_SOURCE_DIR:?COFFER_SOURCE_DIR must point at the source tree}"
COFFER_SHARED_DIR=${COFFER_SHARED_DIR:-$COFFER_SOURCE_DIR/../shared}

E2E_WORK=$(mktemp -d /tmp/coffer-e2e.XXXXXX)
E2E_CLEANUPS=()

# Runs the registered cleanups in reverse order, then removes the work dir.
e2e_cleanup() {
	local i
	for ((i = ${#E2E_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${E2E_CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$E2E_WORK"
}
trap e2e_cleanup EXIT

# Registers a shell command to run when the script exits.
on_exit() {
	E2E_CLEANUPS+=("$1")
}

# Starts `coffer ca serve --dir DIR` on a free loopback port with any extra
# options and waits for its port file. Sets SERVER and PORT.
ca_serve_start() {
	local dir=$1 i
	shift
	rm -f "$E2E_WORK/port"
	"$COFFER_BIN" ca serve --dir "$dir" --listen 127.0.0.1:0 --port-file "$E2E_WORK/port" "$@" \
		2>"$E2E_WORK/serve.log" &
	SERVER=$!
	on_exit "kill $SERVER"
	for ((i = 0; i < 100; i++)); do
		[ -s "$E2E_WORK/port" ] && break
		kill -0 "$SERVER" 2>/dev/null || fail "ca serve exited: $(cat "$E2E_WORK/serve.log")"
		sleep 0.1
	done
	PORT=$(cat "$E2E_WORK/port")
	[ -n "$PORT" ] || fail "ca serve wrote no port"
}

# Skips the test (exit 77), or fails it when privileged tests are required.
skip_or_fail() {
	if [ "${COFFER_REQUIRE_PRIVILEGED:-0}" = 1 ]; then
		echo "FAIL: $* (COFFER_REQUIRE_PRIVILEGED=1 makes this a failure)" >&2
		exit 1
	fi
	echo "SKIP: $*" >&2
	exit 77
}

require_root() {
	[ "$(id -u)" = 0 ] || skip_or_fail "this test needs root"
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_or_fail "command '$c' not found"
	done
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

step() {
	echo "== $*"
}

# Asserts that the command fails and that its output contains the text.
expect_fail_with() {
	local text=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		fail "expected failure from: $* (output: $out)"
	fi
	case "$out" in
	*"$text"*) ;;
	*) fail "expected '$text' in the output of: $* (output: $out)" ;;
	esac
}

# Waits up to $2 seconds (default 10) for the unix socket $1 to appear.
wait_for_socket() {
	local path=$1 limit=${2:-10} i
	for ((i = 0; i < limit * 10; i++)); do
		[ -S "$path" ] && return 0
		sleep 0.1
	done
	fail "socket $path did not appear within $limit s"
}

# ---- FUSE transport -----------------------------------------------------------
# COFFER_FUSE_URING=require (set by the e2e_*_uring CTest variants) makes every
# coffer FUSE server of a test serve its requests over io_uring or fail.

FUSE_URING_PARAM=/sys/module/fuse/parameters/enable_uring

# With COFFER_FUSE_URING=require or enable, sets the fuse module parameter
# enable_uring to Y for the test and restores the old value on exit.
fuse_transport_prepare() {
	case "${COFFER_FUSE_URING:-}" in
	require | enable) ;;
	*) return 0 ;;
	esac
	[ -w "$FUSE_URING_PARAM" ] ||
		skip_or_fail "$FUSE_URING_PARAM is missing or read-only (a kernel without CONFIG_FUSE_IO_URING?)"
	local old
	old=$(cat "$FUSE_URING_PARAM")
	on_exit "echo $old > $FUSE_URING_PARAM"
	echo Y >"$FUSE_URING_PARAM"
}

# With COFFER_FUSE_URING=require or enable, checks that the FUSE servers
# that logged to LOG used io_uring and none fell back to /dev/fuse.
fuse_transport_check() {
	local log=$1
	case "${COFFER_FUSE_URING:-}" in
	require | enable) ;;
	*) return 0 ;;
	esac
	grep -q 'event=fuse_transport .*transport=io_uring' "$log" ||
		fail "no FUSE server logged transport=io_uring in $log"
	if grep -q 'event=fuse_transport .*transport=dev_fuse' "$log"; then
		fail "a FUSE server fell back to /dev/fuse: $(grep 'transport=dev_fuse' "$log")"
	fi
}

# ---- storage manager and podman helpers ------------------------------------
# A test runs its own `coffer storage serve` (state, pool image and sockets in
# $E2E_WORK) and its own podman storage root, so nothing is shared with other
# tests or with the host's podman.

STORAGE_DIR=$E2E_WORK/storage
PLUGIN_SOCKET=$E2E_WORK/plugin.sock
ADMIN_SOCKET=$E2E_WORK/admin.sock
STORAGE_LOG=$E2E_WORK/storage.log
STORAGE_PID=

# Starts the storage manager in the background with a 512 MiB pool and waits
# until it answers /Plugin.Activate (a socket file left by a killed server
# does not count). Extra arguments are passed to `coffer storage serve`.
storage_start() {
	"$COFFER_BIN" storage serve --state-dir "$STORAGE_DIR" \
		--plugin-socket "$PLUGIN_SOCKET" --admin-socket "$ADMIN_SOCKET" \
		--pool-size 512M "$@" >>"$STORAGE_LOG" 2>&1 &
	STORAGE_PID=$!
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "$STORAGE_PID" 2>/dev/null || break
		if [ -S "$PLUGIN_SOCKET" ] && [ -S "$ADMIN_SOCKET" ] &&
			curl -sf --max-time 30 --unix-socket "$PLUGIN_SOCKET" -X POST \
				http://coffer/Plugin.Activate >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	cat "$STORAGE_LOG" >&2
	fail "coffer storage serve did not start (log above)"
}

# Stops the storage manager with SIGTERM and checks that it exits 0.
storage_stop() {
	[ -n "$STORAGE_PID" ] || return 0
	kill -TERM "$STORAGE_PID"
	local rc=0
	wait "$STORAGE_PID" || rc=$?
	STORAGE_PID=
	[ "$rc" = 0 ] || fail "coffer storage serve exited $rc after SIGTERM"
}

# Kills a storage manager that is still running and unmounts the pool it may
# have left mounted (after SIGKILL), so the work directory can be removed.
storage_cleanup() {
	if [ -n "$STORAGE_PID" ] && kill -0 "$STORAGE_PID" 2>/dev/null; then
		kill -TERM "$STORAGE_PID"
		wait "$STORAGE_PID" || true
	fi
	if mountpoint -q "$STORAGE_DIR/pool" 2>/dev/null; then
		umount "$STORAGE_DIR/pool" || umount -l "$STORAGE_DIR/pool" || true
	fi
}

# Sends a JSON body to the Docker plugin socket; prints the reply and
# appends the HTTP status on a last line of its own.
plugin_post() {
	curl -sS --max-time 60 --unix-socket "$PLUGIN_SOCKET" -X POST \
		-H 'Content-Type: application/json' --data-binary "$2" \
		-w '\n%{http_code}\n' "http://coffer$1"
}

# Sets up a private podman (storage root, containers.conf naming coffer as
# the volume plugin $PLUGIN_NAME, and coffer's OCI hooks, which enforce one
# container per volume) and imports a busybox + sqlite3 image as
# $IMAGE. podman_cmd runs podman against it; PODMAN_RUN holds the options
# every container gets.
podman_setup() {
	PLUGIN_NAME=coffer_e2e_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
	IMAGE=localhost/plugin-e2e-busybox:latest
	PODMAN_CONF=$E2E_WORK/containers.conf
	"$COFFER_BIN" storage hook-config --dir "$E2E_WORK/hooks" \
		--admin-socket "$ADMIN_SOCKET" >/dev/null
	cat >"$PODMAN_CONF" <<CONF
[engine]
runtime = "runc"
hooks_dir = ["$E2E_WORK/hooks"]
events_logger = "file"
cgroup_manager = "cgroupfs"

[engine.volume_plugins]
$PLUGIN_NAME = "$PLUGIN_SOCKET"
CONF
	export CONTAINERS_CONF=$PODMAN_CONF
	PODMAN_RUN=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
		--network none)
	podman_build_image "$E2E_WORK/podman"
}

# Runs podman against the private storage root $1; podman_cmd uses the first.
podman_at() {
	local root=$1
	shift
	podman --root "$root/root" --runroot "$root/runroot" --storage-driver vfs "$@"
}

podman_cmd() {
	podman_at "$E2E_WORK/podman" "$@"
}

# Imports the test image into the podman storage root $1: busybox-static
# plus /usr/bin/sqlite3 with the libraries ldd lists.
podman_build_image() {
	local root=$1 rootfs=$E2E_WORK/rootfs lib tool
	if [ ! -f "$E2E_WORK/rootfs.tar" ]; then
		mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/data" "$rootfs/lib64"
		cp /bin/busybox "$rootfs/bin/busybox"
		for tool in sh ls cat sha256sum find mkdir dd sleep echo wc head seq rm \
			cmp stat sort xargs tr cut test touch; do
			ln -s busybox "$rootfs/bin/$tool"
		done
		cp /usr/bin/sqlite3 "$rootfs/bin/sqlite3"
		for lib in $(ldd /usr/bin/sqlite3 | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do
			mkdir -p "$rootfs$(dirname "$lib")"
			cp -L "$lib" "$rootfs$lib"
		done
		cp -L /lib64/ld-linux-x86-64.so.2 "$rootfs/lib64/"
		tar -C "$rootfs" -cf "$E2E_WORK/rootfs.tar" .
	fi
	podman_at "$root" import -q "$E2E_WORK/rootfs.tar" "$IMAGE" >/dev/null
}
