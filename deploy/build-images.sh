#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds the coffer-ca, coffer-kms and coffer-storage images with podman.
# It stages root filesystems in a temporary build context. They contain the
# coffer binary, the tools the storage manager runs (mkfs.ext4, mount,
# fusermount3) and exactly the shared libraries each of them loads according
# to ldd (the dynamic loader included), plus a few files under /etc. Every
# target in deploy/Containerfile starts FROM scratch, so nothing is pulled
# and the images contain no shell and no package manager.
#
# Usage: deploy/build-images.sh [BUILD_DIR]     (default: build)
# Environment:
#   IMAGE_PREFIX         image name prefix (default localhost/coffer-), so the
#                        images are PREFIXca, PREFIXkms and PREFIXstorage
#   IMAGE_TAG            tag (default: the project version from CMakeLists.txt)
#   COFFER_IMAGE_SOURCE  value of org.opencontainers.image.source (default:
#                        the URL of the git remote "origin", else file://REPO)
#   PODMAN               podman command (default podman)

set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-build}
case "$build_dir" in
/*) ;;
*) build_dir="$repo/$build_dir" ;;
esac
binary="$build_dir/coffer"
[ -x "$binary" ] || { echo "build-images: $binary not found; build coffer first (make build)" >&2; exit 1; }

podman_cmd=${PODMAN:-podman}
prefix=${IMAGE_PREFIX:-localhost/coffer-}
version=$(sed -n 's/^project(coffer VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
[ -n "$version" ] || { echo "build-images: no project version in $repo/CMakeLists.txt" >&2; exit 1; }
tag=${IMAGE_TAG:-$version}
revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
source_url=${COFFER_IMAGE_SOURCE:-$(git -C "$repo" remote get-url origin 2>/dev/null || echo "file://$repo")}

# The non-root account of the CA and KMS images. 65532 is outside the range
# Debian gives to system and regular users, so it matches no host account.
# deploy/Containerfile and deploy/kubernetes use the same number.
service_uid=65532

context=$(mktemp -d "${TMPDIR:-/tmp}/coffer-images.XXXXXX")
trap 'rm -rf "$context"' EXIT

# Copies FILE to ROOT at the path DEST (default: FILE's own path), following
# symlinks and dropping setuid bits, which a container never needs here.
copy_file() {
	local root=$1 file=$2 dest=${3:-$2}
	mkdir -p "$root$(dirname "$dest")"
	cp -L "$file" "$root$dest"
	chmod u-s,g-s "$root$dest"
}

# Copies the ELF program FILE to ROOT at DEST and every shared library that
# ldd lists for it, each at the path the dynamic loader looks it up under.
stage_program() {
	local root=$1 file=$2 dest=$3 lib
	copy_file "$root" "$file" "$dest"
	if ldd "$file" | grep -q 'not found'; then
		echo "build-images: $file needs a library that is not installed:" >&2
		ldd "$file" | grep 'not found' >&2
		exit 1
	fi
	# ldd prints "name => /path (addr)" for libraries and "/path (addr)" for
	# the dynamic loader; linux-vdso has no file and is skipped.
	for lib in $(program_files "$file" | tail -n +2); do
		[ -e "$root$lib" ] || copy_file "$root" "$lib"
	done
}

# Prints the Debian package that installed FILE. On a merged-/usr system a
# file may be registered under /lib or /usr/lib (and /bin or /usr/bin), and a
# symlink under its own name, so each spelling is tried.
debian_package() {
	local file=$1 real candidates=() candidate owner
	real=$(readlink -f "$file")
	for candidate in "$file" "$real"; do
		candidates+=("$candidate")
		case "$candidate" in
		/usr/*) candidates+=("${candidate#/usr}") ;;
		*) candidates+=("/usr$candidate") ;;
		esac
	done
	for candidate in "${candidates[@]}"; do
		owner=$(dpkg-query -S "$candidate" 2>/dev/null | head -n 1) || continue
		[ -n "$owner" ] && { echo "${owner%%: *}"; return 0; }
	done
	echo "build-images: no Debian package owns $file" >&2
	return 1
}

# Records the Debian packages that installed FILE... in ROOT, one
# var/lib/dpkg/status.d file each as distroless images do, so image scanners
# can match the copied libraries and tools against vulnerability data.
record_packages() {
	local root=$1 file package
	shift
	mkdir -p "$root/var/lib/dpkg/status.d"
	for file in "$@"; do
		package=$(debian_package "$file")
		[ -e "$root/var/lib/dpkg/status.d/${package%%:*}" ] ||
			dpkg-query -s "$package" >"$root/var/lib/dpkg/status.d/${package%%:*}"
	done
}

# Prints FILE and every shared library ldd lists for it.
program_files() {
	echo "$1"
	ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}

# Writes the account files and the directories every image needs.
stage_etc() {
	local root=$1
	mkdir -p "$root/etc" "$root/tmp"
	chmod 1777 "$root/tmp"
	cat >"$root/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/nonexistent
coffer:x:$service_uid:$service_uid:coffer:/nonexistent:/nonexistent
PASSWD
	cat >"$root/etc/group" <<GROUP
root:x:0:
coffer:x:$service_uid:
GROUP
	# glibc 2.34 and later carry the files and dns lookups inside libc, so
	# this file needs no NSS modules copied with it.
	printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
	# The libraries come from this host's distribution, which scanners read
	# from os-release to pick the vulnerability data.
	cp -L /etc/os-release "$root/etc/os-release"
}

echo "build-images: staging root filesystems in $context"

# base: what the CA and KMS images hold (the binary and its libraries).
stage_program "$context/base" "$binary" /usr/bin/coffer
stage_etc "$context/base"
record_packages "$context/base" $(program_files "$binary" | tail -n +2)

# state: the empty state directories, copied with the service user as owner.
mkdir -p "$context/state/ca" "$context/state/kms"

# storage: the base plus the programs the storage manager runs.
cp -a "$context/base" "$context/storage"
tools=("$(command -v mkfs.ext4)" "$(command -v mount)" "$(command -v fusermount3)")
stage_program "$context/storage" "${tools[0]}" /usr/sbin/mkfs.ext4
stage_program "$context/storage" "${tools[1]}" /usr/bin/mount
stage_program "$context/storage" "${tools[2]}" /usr/bin/fusermount3
copy_file "$context/storage" /etc/mke2fs.conf
for tool in "${tools[@]}"; do
	record_packages "$context/storage" $(program_files "$tool")
done

cp "$repo/deploy/Containerfile" "$context/Containerfile"

for target in ca kms storage; do
	image="$prefix$target:$tag"
	echo "build-images: building $image"
	# --no-cache: podman 4.3 reused cached LABEL layers after the revision
	# build argument changed, leaving the old commit in the label.
	"$podman_cmd" build --pull=never --no-cache --network none --target "$target" \
		--build-arg "COFFER_VERSION=$version" \
		--build-arg "COFFER_REVISION=$revision" \
		--build-arg "COFFER_SOURCE=$source_url" \
		--tag "$image" --file "$context/Containerfile" "$context"
done

# Each build leaves untagged images behind: the replaced image and, because
# podman builds the stages before --target too, the other targets' stages.
# Only untagged images with this file's title labels are removed, and one
# still used by a container stays.
for target in ca kms storage; do
	dangling=$("$podman_cmd" images --quiet --filter dangling=true \
		--filter "label=org.opencontainers.image.title=coffer-$target")
	for id in $dangling; do
		"$podman_cmd" rmi "$id" >/dev/null 2>&1 || true
	done
done
