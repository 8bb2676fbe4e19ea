# Thin wrapper over CMake for the README's two commands and daily work.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build check unit demo clean asan

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

clean:
	rm -rf $(BUILD) build-asan build-fuzz
