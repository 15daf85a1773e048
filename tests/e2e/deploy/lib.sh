# SPDX-License-Identifier: Apache-2.0
# Helpers for the deploy_* end-to-end scripts, sourced after lib.sh: image
# names and the podman options every container gets.

# Test images get their own names so they never replace images a user built.
DEPLOY_IMAGE_PREFIX=${DEPLOY_IMAGE_PREFIX:-localhost/deploy-coffer-}
DEPLOY_IMAGE_TAG=e2e
DEPLOY_PODMAN_RUN=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

# Prints the name of the test image for target $1 (ca, kms or storage).
deploy_image() {
	echo "$DEPLOY_IMAGE_PREFIX$1:$DEPLOY_IMAGE_TAG"
}

# Builds the three images with `make images` from the build tree of
# COFFER_BIN. The images stay in place for the next deploy test, and a
# rebuild only copies files, so it takes seconds.
deploy_build_images() {
	step "make images"
	local build_dir
	build_dir=$(dirname "$COFFER_BIN")
	IMAGE_TAG=$DEPLOY_IMAGE_TAG TMPDIR=$E2E_WORK \
		make -C "$COFFER_SOURCE_DIR" images BUILD="$build_dir" \
		IMAGE_PREFIX="$DEPLOY_IMAGE_PREFIX" >"$E2E_WORK/make-images.log" 2>&1 || {
		tail -n 40 "$E2E_WORK/make-images.log" >&2
		fail "make images failed (log above)"
	}
}
