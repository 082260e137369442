# Weft: a thin front over CMake. `make` builds into build/ (binaries in
# build/bin/) and touches nothing outside the tree; `make deps` installs
# what a fresh Debian 12 lacks (scripts/install-deps, apt-get), and
# `make test` and `make demo` run it first. `make test` runs every test in
# a normal build, an ASan+UBSan build, a TSan build and, when clang is
# there, a short libFuzzer pass.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE      ?= cmake
CTEST      ?= ctest
PREFIX     ?= /usr/local
FUZZ_SECONDS ?= 5
CMAKE_ARGS ?=

GEN := -G Ninja
CTEST_FLAGS := --output-on-failure --no-tests=error -j $(JOBS)

.PHONY: all deps build test test-normal test-asan test-fuzz test-tsan demo install deb format clean

all: build

deps:
	@scripts/install-deps

build:
	$(CMAKE) -S . -B $(BUILD) $(GEN) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	$(CMAKE) --build $(BUILD) -j $(JOBS)

test: deps test-normal test-asan test-tsan test-fuzz
	@echo "make test: all suites passed"

test-normal: deps build
	cd $(BUILD) && $(CTEST) $(CTEST_FLAGS)

# The whole suite again under AddressSanitizer and UBSan. CUDA stays out:
# its runtime and ASan's shadow memory do not mix, and the GPU tests skip
# on this machine anyway.
test-asan: deps
	$(CMAKE) -S . -B $(ASAN_BUILD) $(GEN) -DCMAKE_BUILD_TYPE=Debug \
	    -DWEFT_ASAN=ON -DWEFT_UBSAN=ON -DWEFT_CUDA=OFF $(CMAKE_ARGS)
	$(CMAKE) --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1 $(CTEST) $(CTEST_FLAGS) -LE gpu

# libFuzzer for a few seconds per target, only when clang is installed.
test-fuzz: deps
	@if command -v clang >/dev/null 2>&1; then \
	    set -e; \
	    $(CMAKE) -S . -B $(FUZZ_BUILD) $(GEN) -DCMAKE_BUILD_TYPE=Debug \
	        -DCMAKE_C_COMPILER=clang -DWEFT_FUZZ=ON -DWEFT_ASAN=ON -DWEFT_UBSAN=ON \
	        -DWEFT_CUDA=OFF -DWEFT_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CMAKE_ARGS); \
	    $(CMAKE) --build $(FUZZ_BUILD) -j $(JOBS); \
	    cd $(FUZZ_BUILD) && $(CTEST) $(CTEST_FLAGS) -L fuzz-smoke; \
	else \
	    echo "clang not found: skipping the libFuzzer pass (corpus replay ran above)"; \
	fi

# ThreadSanitizer build: the engine's thread pool, the logger under
# threads, and (later) the daemons' loop/worker hand-off.
test-tsan: deps
	$(CMAKE) -S . -B $(TSAN_BUILD) $(GEN) -DCMAKE_BUILD_TYPE=Debug \
	    -DWEFT_TSAN=ON -DWEFT_CUDA=OFF $(CMAKE_ARGS)
	$(CMAKE) --build $(TSAN_BUILD) -j $(JOBS)
	cd $(TSAN_BUILD) && $(CTEST) $(CTEST_FLAGS) -LE "gpu|fuzz-smoke"

# A region on loopback: scheduler, three simulated homes, three weftd nodes
# (scripts/demo.py). Needs ../shared/testdata for the model and profile.
demo: deps build
	/usr/bin/python3 scripts/demo.py

install: build
	$(CMAKE) --install $(BUILD) --prefix $(PREFIX)

# Debian packages (weftd, weft-scheduler, weft-tools) in build-deb/,
# built with debhelper from debian/ and checked with lintian.
deb: deps
	scripts/build-deb build-deb

format:
	find src include tests bench -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) \
	    -not -path '*/node_modules/*' -print0 2>/dev/null | xargs -0 clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
