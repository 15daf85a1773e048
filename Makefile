# SPDX-License-Identifier: Apache-2.0
# Entry points: `make demo` runs the encrypted-volume demo, `make check` runs
# every test (the normal build, then the unit and fuzz-replay tests again
# under AddressSanitizer and UndefinedBehaviorSanitizer). Both install the
# Debian packages they need first. `make images` builds the service images
# with podman (see deploy/build-images.sh).

BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc)
CTEST_ARGS ?=
IMAGE_PREFIX ?= localhost/coffer-
PREFIX ?= /usr/local

.PHONY: all deps build build-asan demo check check-asan bench images clean

all: build

deps:
	./scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DCOFFER_SANITIZE=ON
	cmake --build $(BUILD_ASAN) -j $(JOBS)

demo: build
	./scripts/demo.sh $(BUILD)/coffer

check: build build-asan
	ctest --test-dir $(BUILD) --output-on-failure --no-tests=error $(CTEST_ARGS)
	$(MAKE) check-asan

check-asan:
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir $(BUILD_ASAN) --output-on-failure --no-tests=error -L 'unit|fuzz' $(CTEST_ARGS)

images: build
	IMAGE_PREFIX=$(IMAGE_PREFIX) ./deploy/build-images.sh $(BUILD)

bench: build
	./bench/run-all.sh $(BUILD)

install: build
	install -D -m 0755 $(BUILD)/coffer $(DESTDIR)$(PREFIX)/bin/coffer

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
