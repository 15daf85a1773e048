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
