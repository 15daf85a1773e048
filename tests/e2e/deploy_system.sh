#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The whole system as containers on one host, from the images `make images`
# builds. The CA container issues certificates over EST with bootstrap
# tokens to the KMS and storage-manager containers. The storage-manager
# container serves the volume plugin socket to the host's podman, and
# workload containers get encrypted volumes (fscrypt and FUSE) whose keys
# live in the KMS container. A volume is locked when its workload stops, a
# KMS restart loses no key, and removing a volume destroys its key. Every
# service runs on the host network, listening on loopback only.

source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/deploy/lib.sh"

require_root
require_cmd podman runc curl jq openssl mkfs.ext4 mount umount mountpoint /usr/bin/python3
[ -x /bin/busybox ] || skip_or_fail "/bin/busybox (busybox-static) not found"

deploy_build_images

# Sockets live in run/, which the storage-manager container bind-mounts.
RUN_DIR=$E2E_WORK/run
PLUGIN_SOCKET=$RUN_DIR/plugin.sock
ADMIN_SOCKET=$RUN_DIR/admin.sock
STATE_DIR=$E2E_WORK/storage
POOL_DIR=$E2E_WORK/pool
SECRETS=$E2E_WORK/secrets
mkdir -p "$RUN_DIR" "$STATE_DIR" "$POOL_DIR" "$SECRETS"
podman_setup

ID=$$
CA=deploy-e2e-ca-$ID
KMS=deploy-e2e-kms-$ID
STORAGE=deploy-e2e-storage-$ID
SERVICE_RUN=("${DEPLOY_PODMAN_RUN[@]}" --network host --cap-drop all)
# podman rm with several names removes none when one of them is missing.
for name in "$CA" "$KMS" "$STORAGE"; do
	on_exit "podman rm -f -t 5 --ignore $name"
done
on_exit "podman volume rm -f $CA"
on_exit "podman volume rm -f $KMS"

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
CA_PORT=$(free_port)
KMS_PORT=$(free_port)

# Runs `coffer kms COMMAND` on the host as the administrator.
kms_admin() {
	local command=$1
	shift
	"$COFFER_BIN" kms "$command" --server "127.0.0.1:$KMS_PORT" --cert "$SECRETS/admin.crt" \
		--key "$SECRETS/admin.key" --ca "$SECRETS/root.pem" "$@"
}

# Waits up to 30 s until the command succeeds; $1 names what is awaited.
wait_until() {
	local what=$1 i
	shift
	for ((i = 0; i < 300; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "$what did not happen within 30 s"
}

# Stops container $1 with SIGTERM and checks that it exited 0.
stop_cleanly() {
	podman stop -t 30 "$1" >/dev/null
	local code
	code=$(podman inspect --format '{{.State.ExitCode}}' "$1")
	[ "$code" = 0 ] || { podman logs "$1" >&2; fail "container $1 exited $code after SIGTERM (log above)"; }
}

# Prints the user id the main process of container $1 runs as.
process_uid() {
	local pid
	pid=$(podman inspect --format '{{.State.Pid}}' "$1")
	stat -c %u "/proc/$pid"
}

step "the CA container initializes its state volume and serves EST on 127.0.0.1:$CA_PORT"
podman volume create "$CA" >/dev/null
podman run --rm "${SERVICE_RUN[@]}" --read-only -v "$CA:/var/lib/coffer/ca" "$(deploy_image ca)" \
	ca init --dir /var/lib/coffer/ca --if-missing >/dev/null
podman run --rm "${SERVICE_RUN[@]}" --read-only -v "$CA:/var/lib/coffer/ca" "$(deploy_image ca)" \
	ca root --dir /var/lib/coffer/ca >"$SECRETS/root.pem"
cat >"$E2E_WORK/ca.conf" <<CONF
dir = /var/lib/coffer/ca
listen = 127.0.0.1:$CA_PORT
tls-san = DNS:coffer-ca.deploy.test
CONF
podman run -d --name "$CA" "${SERVICE_RUN[@]}" --read-only -v "$CA:/var/lib/coffer/ca" \
	-v "$E2E_WORK/ca.conf:/etc/coffer/ca.conf:ro" "$(deploy_image ca)" \
	ca serve --config /etc/coffer/ca.conf >/dev/null
wait_until "the CA answering /cacerts" curl -sf --max-time 5 --cacert "$SECRETS/root.pem" \
	"https://127.0.0.1:$CA_PORT/.well-known/est/cacerts"
curl -sf --max-time 5 --cacert "$SECRETS/root.pem" \
	--resolve "coffer-ca.deploy.test:$CA_PORT:127.0.0.1" \
	"https://coffer-ca.deploy.test:$CA_PORT/.well-known/est/cacerts" >/dev/null ||
	fail "the CA's TLS certificate does not name the --tls-san DNS:coffer-ca.deploy.test"
[ "$(process_uid "$CA")" = 65532 ] || fail "the CA runs as uid $(process_uid "$CA"), expected 65532"

step "bootstrap tokens come from 'coffer ca token create' run in the CA container"
# Creates a token in the CA container for the SANs and profile given and
# writes it to $SECRETS/$1.token, readable only by the user id $2.
create_token() {
	local name=$1 owner=$2
	shift 2
	podman exec "$CA" /usr/bin/coffer ca token create --dir /var/lib/coffer/ca "$@" \
		>"$SECRETS/$name.token"
	chown "$owner:$owner" "$SECRETS/$name.token"
	chmod 0400 "$SECRETS/$name.token"
}
create_token kms 65532 --san IP:127.0.0.1 --san DNS:localhost --profile server
create_token storage 0 --san URI:spiffe://coffer/node/deploy-e2e --profile client
create_token admin 0 --san URI:spiffe://coffer/admin --profile client
"$COFFER_BIN" enroll --server "127.0.0.1:$CA_PORT" --root "$SECRETS/root.pem" \
	--token-file "$SECRETS/admin.token" --san URI:spiffe://coffer/admin \
	--key "$SECRETS/admin.key" --cert "$SECRETS/admin.crt" --chain "$SECRETS/admin-chain.pem" \
	>/dev/null || fail "the host administrator could not enroll"

step "the KMS container enrolls with its token and serves KMIP on 127.0.0.1:$KMS_PORT"
# The KMS obtains its certificate itself (enroll-server) and renews it in
# the background. Peers present their chain, so the root is the only anchor.
podman volume create "$KMS" >/dev/null
cat >"$E2E_WORK/kms.conf" <<CONF
listen = 127.0.0.1:$KMS_PORT
state-dir = /var/lib/coffer/kms
cert = /var/lib/coffer/kms/tls-cert.pem
key = /var/lib/coffer/kms/tls-key.pem
client-ca = /etc/coffer/ca/root.pem
admin = spiffe://coffer/admin
enroll-server = 127.0.0.1:$CA_PORT
enroll-token-file = /etc/coffer/bootstrap/token
enroll-san = IP:127.0.0.1
enroll-san = DNS:localhost
CONF
start_kms() {
	podman run -d --name "$KMS" "${SERVICE_RUN[@]}" --read-only -v "$KMS:/var/lib/coffer/kms" \
		-v "$E2E_WORK/kms.conf:/etc/coffer/kms.conf:ro" \
		-v "$SECRETS/root.pem:/etc/coffer/ca/root.pem:ro" \
		-v "$SECRETS/kms.token:/etc/coffer/bootstrap/token:ro" "$(deploy_image kms)" >/dev/null
	wait_until "the KMS answering KMIP" kms_admin locate --max 1
}
start_kms
[ "$(process_uid "$KMS")" = 65532 ] || fail "the KMS runs as uid $(process_uid "$KMS"), expected 65532"
podman logs "$KMS" >"$E2E_WORK/kms.log" 2>&1
grep -q 'identity="spiffe://coffer/admin"' "$E2E_WORK/kms.log" ||
	fail "the KMS did not log the administrator's identity from its certificate"

step "a used bootstrap token is rejected"
mkdir -p "$E2E_WORK/second"
chown 65532:65532 "$E2E_WORK/second"
expect_fail_with "token" podman run --rm "${SERVICE_RUN[@]}" --read-only \
	-v "$E2E_WORK/second:/var/lib/coffer/kms" -v "$SECRETS/root.pem:/etc/coffer/ca/root.pem:ro" \
	-v "$SECRETS/kms.token:/etc/coffer/bootstrap/token:ro" "$(deploy_image kms)" \
	enroll --server "127.0.0.1:$CA_PORT" --root /etc/coffer/ca/root.pem \
	--token-file /etc/coffer/bootstrap/token --san IP:127.0.0.1 \
	--key /var/lib/coffer/kms/k.pem --cert /var/lib/coffer/kms/c.pem --chain /var/lib/coffer/kms/ch.pem

step "the storage-manager container enrolls and serves the plugin socket"
# The host prepares the fscrypt pool, so the container needs no loop device.
# The state directory is a shared mount, so FUSE mounts the container makes
# there propagate back to the host, where podman bind-mounts them.
truncate -s 256M "$E2E_WORK/pool.img"
mkfs.ext4 -q -F -O encrypt -E nodiscard "$E2E_WORK/pool.img"
mount -o loop,nodev,nosuid "$E2E_WORK/pool.img" "$POOL_DIR"
on_exit "umount -l $POOL_DIR"
mount --bind "$STATE_DIR" "$STATE_DIR"
mount --make-rshared "$STATE_DIR"
on_exit "umount -R -l $STATE_DIR"
STORAGE_MOUNTS=(-v "$STATE_DIR:$STATE_DIR:rshared" -v "$POOL_DIR:$POOL_DIR" -v "$RUN_DIR:$RUN_DIR"
	-v "$SECRETS/root.pem:/etc/coffer/ca/root.pem:ro"
	-v "$SECRETS/storage.token:/etc/coffer/bootstrap/token:ro")
cat >"$E2E_WORK/storage.conf" <<CONF
state-dir = $STATE_DIR
pool = $POOL_DIR
plugin-socket = $PLUGIN_SOCKET
admin-socket = $ADMIN_SOCKET
kms = kmip://127.0.0.1:$KMS_PORT
kms-cert = $STATE_DIR/tls-cert.pem
kms-key = $STATE_DIR/tls-key.pem
kms-ca = /etc/coffer/ca/root.pem
kms-enroll = 127.0.0.1:$CA_PORT
kms-enroll-token-file = /etc/coffer/bootstrap/token
kms-enroll-san = URI:spiffe://coffer/node/deploy-e2e
CONF
# CAP_SYS_ADMIN mounts and manages fscrypt keys. The FUSE server reopens
# files with open_by_handle_at, which needs CAP_DAC_READ_SEARCH.
podman run -d --name "$STORAGE" "${SERVICE_RUN[@]}" --read-only --cap-add SYS_ADMIN \
	--cap-add DAC_READ_SEARCH --device /dev/fuse "${STORAGE_MOUNTS[@]}" \
	-v "$E2E_WORK/storage.conf:/etc/coffer/storage.conf:ro" "$(deploy_image storage)" >/dev/null
wait_until "the plugin socket answering /Plugin.Activate" curl -sf --max-time 5 \
	--unix-socket "$PLUGIN_SOCKET" -X POST http://coffer/Plugin.Activate

# Prints field $2 of volume $1 as the storage manager reports it.
volume_field() {
	"$COFFER_BIN" volume inspect --admin-socket "$ADMIN_SOCKET" --format json "$1" | jq -r ".$2"
}

declare -A KEY_IDS
for engine in fscrypt fuse; do
	volume=deploy-e2e-$engine-$ID
	on_exit "podman_cmd volume rm -f $volume"

	step "$engine: a workload container writes to a new encrypted volume"
	podman_cmd volume create --driver "$PLUGIN_NAME" -o engine="$engine" "$volume" >/dev/null
	key_id=$(volume_field "$volume" key_id)
	[ -n "$key_id" ] && [ "$key_id" != null ] || fail "volume $volume has no key id"
	KEY_IDS[$engine]=$key_id
	kms_admin get "$key_id" >"$E2E_WORK/key.txt" || fail "key $key_id of $volume is not in the KMS"
	podman logs "$KMS" >"$E2E_WORK/kms.log" 2>&1
	grep -q 'identity="spiffe://coffer/node/deploy-e2e"' "$E2E_WORK/kms.log" ||
		fail "the KMS logged no connection from the storage manager's certificate identity"
	grep -Eq '^State +Active$' "$E2E_WORK/key.txt" ||
		fail "key $key_id is not active: $(cat "$E2E_WORK/key.txt")"
	grep -Eq "^Name +volume/$volume\$" "$E2E_WORK/key.txt" ||
		fail "key $key_id does not name $volume: $(cat "$E2E_WORK/key.txt")"
	podman_cmd run --rm "${PODMAN_RUN[@]}" -v "$volume:/data" "$IMAGE" \
		sh -c "echo secret-$engine-$ID >/data/note; sync" || fail "the $engine writer failed"

	step "$engine: the volume is locked once the workload stops"
	[ "$(volume_field "$volume" state)" = ready ] || fail "$volume is not ready after the writer exited"
	[ "$(volume_field "$volume" status)" = locked ] || fail "$volume is not locked after the writer exited"
	if grep -rqs "secret-$engine-$ID" "$STATE_DIR" "$POOL_DIR"; then
		fail "the plaintext of $volume is readable on the host"
	fi
done

step "a KMS container restart loses no key"
stop_cleanly "$KMS"
podman rm "$KMS" >/dev/null
start_kms
for engine in fscrypt fuse; do
	volume=deploy-e2e-$engine-$ID
	kms_admin get "${KEY_IDS[$engine]}" >/dev/null || fail "key ${KEY_IDS[$engine]} is gone after the restart"
	out=$(podman_cmd run --rm "${PODMAN_RUN[@]}" -v "$volume:/data" "$IMAGE" cat /data/note) ||
		fail "the $engine reader failed after the KMS restart"
	[ "$out" = "secret-$engine-$ID" ] || fail "$volume returned '$out' after the KMS restart"
done

step "removing a volume destroys its key in the KMS"
for engine in fscrypt fuse; do
	volume=deploy-e2e-$engine-$ID
	podman_cmd volume rm "$volume" >/dev/null || fail "podman volume rm $volume failed"
	if kms_admin get "${KEY_IDS[$engine]}" --export >"$E2E_WORK/export.txt" 2>&1; then
		fail "key ${KEY_IDS[$engine]} of the removed volume $volume can still be exported"
	fi
	grep -q "was destroyed" "$E2E_WORK/export.txt" ||
		fail "exporting the removed key failed for another reason: $(cat "$E2E_WORK/export.txt")"
	kms_admin get "${KEY_IDS[$engine]}" >"$E2E_WORK/key.txt"
	grep -Eq '^State +Destroyed$' "$E2E_WORK/key.txt" ||
		fail "key ${KEY_IDS[$engine]} is not destroyed: $(cat "$E2E_WORK/key.txt")"
done

step "every service stops cleanly on SIGTERM"
stop_cleanly "$STORAGE"
stop_cleanly "$KMS"
stop_cleanly "$CA"
for name in "$CA" "$KMS" "$STORAGE"; do
	podman logs "$name" >"$E2E_WORK/service.log" 2>&1
	grep -q '^time=.* level=info event=' "$E2E_WORK/service.log" ||
		fail "container $name logged no key=value lines"
done

echo "PASS"
