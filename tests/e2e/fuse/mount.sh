# SPDX-License-Identifier: Apache-2.0
# Helpers for the FUSE engine's e2e scripts; sourced after lib.sh.

# Starts coffer's FUSE server for CIPHER at MOUNT with the key file KEY and
# waits until the mount is live. The server's log goes to $E2E_WORK/server.log.
# FUSE_WRAPPER, when set, is a command that runs the server.
coffer_fuse_mount() {
	local cipher=$1 mnt=$2 key=$3 i
	${FUSE_WRAPPER:-} "$COFFER_BIN" fuse-server --init --key-fd 3 --volume "$(basename "$cipher")" \
		"$cipher" "$mnt" 3<"$key" >>"$E2E_WORK/server.log" 2>&1 &
	FUSE_SERVER_PID=$!
	for ((i = 0; i < 100; i++)); do
		mountpoint -q "$mnt" && return 0
		sleep 0.1
	done
	cat "$E2E_WORK/server.log" >&2
	fail "coffer fuse-server did not mount $mnt"
}

# Unmounts MOUNT and waits for the server to exit.
coffer_fuse_unmount() {
	local mnt=$1 i
	fusermount3 -u "$mnt" || fail "cannot unmount $mnt"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$FUSE_SERVER_PID" 2>/dev/null || return 0
		sleep 0.1
	done
	fail "fuse-server $FUSE_SERVER_PID did not exit after unmount"
}
