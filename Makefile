# Front door. `make demo` and `make test` work on a fresh Debian 12 machine.
BUILD_DIR ?= build
PRESET    ?= default

.PHONY: all deps npm-deps configure build test test-unit test-e2e bench demo package clean fuzz

all: build

deps:
	@scripts/install-deps.sh

# near-api-js for the compatibility tests, installed from the npm registry.
npm-deps: deps
	@cd tests/compat && { [ -d node_modules/near-api-js ] || npm ci --no-audit --no-fund --loglevel=error; }

configure: deps
	@[ -f $(BUILD_DIR)/build.ninja ] || cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR)

test: build npm-deps
	@ctest --preset $(PRESET)

test-unit: build
	@ctest --preset $(PRESET) -L unit

test-e2e: build
	@ctest --preset $(PRESET) -L e2e

bench: build
	@scripts/bench.sh

demo: build
	@scripts/demo.sh

# libFuzzer targets (fuzz/) in build-fuzz with clang, ASan and UBSan; each runs
# FUZZ_SECONDS (default 60) on a copy of its seeds; FUZZ_TARGETS selects. Not part of `make test`.
fuzz:
	@FUZZ_SECONDS="$(FUZZ_SECONDS)" FUZZ_TARGETS="$(FUZZ_TARGETS)" fuzz/run.sh

# A Debian package of the four binaries, man pages and systemd units, in build/packages/.
package: build
	@cd $(BUILD_DIR) && cpack -G DEB >/dev/null && ls -1 $(abspath $(BUILD_DIR))/packages/*.deb

clean:
	rm -rf $(BUILD_DIR)
