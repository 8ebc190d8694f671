# httpcloop: `make` builds the kernel module and the userspace; `make test` runs
# every test (unit tests on the host, end-to-end tests in a VM); `make demo`
# shows an image mounted over HTTP inside a VM.
#
# KDIR picks the kernel headers the module is built against. Default: the
# running kernel's, if it has them, else Debian 12's (what scripts/install-deps
# installs, and what the test VM boots, since this host cannot load modules).

KDIR ?= $(shell scripts/default-kdir)
BUILD_TYPE ?= RelWithDebInfo
USERSPACE_BUILD := build/userspace
JOBS ?= $(shell nproc)

.PHONY: all module userspace deps test unit-test vm-test demo bench clean

all: module userspace

deps:
	scripts/install-deps

module:
	@test -n "$(KDIR)" || { echo "no kernel headers found: run scripts/install-deps or set KDIR" >&2; exit 1; }
	$(MAKE) -C kernel KDIR=$(KDIR)

$(USERSPACE_BUILD)/CMakeCache.txt:
	cmake -S userspace -B $(USERSPACE_BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

userspace: $(USERSPACE_BUILD)/CMakeCache.txt
	cmake --build $(USERSPACE_BUILD) -j$(JOBS)

# Everything, from a fresh machine: dependencies, build, unit and VM tests.
test:
	scripts/run-tests

unit-test: userspace
	cd $(USERSPACE_BUILD) && ctest --output-on-failure -j$(JOBS)

vm-test: all
	tests/vm/run-all

demo:
	scripts/demo

clean:
	-$(MAKE) -C kernel KDIR=$(KDIR) clean
	rm -rf build

bench: all
	scripts/vm-run --timeout 900 --env HTTPCLOOP_SRC=$(CURDIR) -- bash $(CURDIR)/bench/read-throughput-guest.sh
