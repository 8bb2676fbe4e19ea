# Thin wrapper over CMake for the README's two commands and daily work.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps build check unit demo clean asan install release

all: build

deps:
	scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDDBMIG_WERROR=ON $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Installs what is missing, builds with -Werror, runs every test against a
# DynamoDB Local that is started for the run and stopped afterwards, then
# runs every fuzz target (item decoder, HTTP response parser, URL parser)
# for 30 seconds each.
check: deps
	$(MAKE) build
	scripts/run-tests $(BUILD)
	scripts/fuzz 30

# Unit tests only: no Java, no DynamoDB Local.
unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit -j $(JOBS)

asan:
	$(MAKE) check BUILD=build-asan CMAKE_FLAGS="-DDDBMIG_SANITIZE=ON"

demo: deps
	$(MAKE) build
	scripts/demo $(BUILD)

# bin/ddbmig, share/man/man1/ddbmig.1 and the bash and zsh completions
# under PREFIX (default /usr/local), below DESTDIR when it is set.
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# dist/ddbmig-VERSION-linux-ARCH: the statically linked binary for this
# machine's architecture, its tarball and their SHA-256 (scripts/release).
release: deps
	scripts/release

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-release
