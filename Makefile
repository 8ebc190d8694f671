# httpcloop: `make` builds the kernel module and the userspace; `make test` runs
# every test (unit tests on the host, end-to-end tests in a VM); `make demo`
# shows an image mounted over HTTP inside a VM.
#
# KDIR picks the kernel headers the module is built against. Default: the
# running kernel's, if it has them, else Debian 12's (what scripts/install-deps
# installs, and what the test VM boots, since this host cannot load modules).

KDIR ?= $(shell scripts/default-kdir)
# The release of the kernel KDIR belongs to: where `make install` puts the module.
KVER ?= $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null)
PREFIX ?= /usr/local
DESTDIR ?=
BUILD_TYPE ?= RelWithDebInfo
USERSPACE_BUILD := build/userspace
JOBS ?= $(shell nproc)
# ON (the default here and in make test): compiler warnings fail the build. CMake's own
# default is OFF, for package builds with other compilers.
WERROR ?= ON
# A libfuse built apart for FUSE passthrough (scripts/libfuse; make test builds it): used
# when it is there, else the system's.
FUSE3_PREFIX ?= $(shell scripts/libfuse --print 2>/dev/null)

.PHONY: all module userspace man deps test unit-test vm-test demo bench bench-sweep clean install install-files install-initramfs uninstall deb

all: module userspace man

deps:
	scripts/install-deps
	scripts/libfuse

module:
	@test -n "$(KDIR)" || { echo "no kernel headers found: run scripts/install-deps or set KDIR" >&2; exit 1; }
	$(MAKE) -C kernel KDIR=$(KDIR)

$(USERSPACE_BUILD)/CMakeCache.txt:
	cmake -S . -B $(USERSPACE_BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DHTTPCLOOP_FUSE3_PREFIX=$(FUSE3_PREFIX)

# The programs, their tests and the man pages (CMakeLists.txt: one project, a library per
# directory of userspace/).
userspace: $(USERSPACE_BUILD)/CMakeCache.txt
	@cmake -S . -B $(USERSPACE_BUILD) -DHTTPCLOOP_WERROR=$(WERROR) -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DHTTPCLOOP_FUSE3_PREFIX=$(FUSE3_PREFIX) >/dev/null
	cmake --build $(USERSPACE_BUILD) -j$(JOBS)

# httpcloop(8), httpcloop-boot(8) and httpcloop-mkpreboot(8), from the programs' --help
# and docs/ (scripts/mkman; CMake's target "man", part of every userspace build).
MAN_DIR := $(USERSPACE_BUILD)/man
man: userspace

# Everything, from a fresh machine: dependencies, build, unit and VM tests.
test:
	scripts/run-tests

unit-test: userspace
	cd $(USERSPACE_BUILD) && ctest --output-on-failure -j$(JOBS)

vm-test: all
	tests/vm/run-all

# The module to /lib/modules/$(KVER)/updates (found before an in-tree module of the same
# name), then depmod so that modprobe and the netlink family alias find it: `httpcloop
# attach` loads it on demand. Everything else as cmake/install.cmake says (cmake --install,
# the rules the Debian package uses too): the programs to $(PREFIX)/bin, the preboot to
# $(PREFIX)/libexec/httpcloop, man pages, bash completion, systemd units, the
# initramfs-tools hook. With DESTDIR (packaging), depmod is left to the package.
# install-files installs what is built, building nothing (KO: another build of the module,
# e.g. one for another kernel with KVER).
KO ?= kernel/httpcloop.ko

install: all
	$(MAKE) --no-print-directory install-files

install-files:
	@test -n "$(KVER)" || { echo "cannot tell the kernel release of KDIR=$(KDIR); set KVER" >&2; exit 1; }
	install -D -m 0644 $(KO) $(DESTDIR)/lib/modules/$(KVER)/updates/httpcloop.ko
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi
	DESTDIR=$(DESTDIR) cmake --install $(USERSPACE_BUILD) --prefix $(PREFIX)

# root=httpcloop: for Debian's initramfs-tools: the hook and the boot scripts (README,
# "Booting a whole system from HTTP"); `update-initramfs -u` afterwards puts them in.
install-initramfs:
	DESTDIR=$(DESTDIR) cmake --install $(USERSPACE_BUILD) --component initramfs

# What install-files installed (CMake's install_manifest.txt lists it).
uninstall:
	@test -n "$(KVER)" || { echo "cannot tell the kernel release of KDIR=$(KDIR); set KVER" >&2; exit 1; }
	rm -f $(DESTDIR)/lib/modules/$(KVER)/updates/httpcloop.ko
	if [ -z "$(DESTDIR)" ] && [ -d /lib/modules/$(KVER) ]; then depmod -a $(KVER); fi
	sed 's|^|$(DESTDIR)|' $(USERSPACE_BUILD)/install_manifest.txt | xargs -r -d '\n' rm -f

# The Debian packages httpcloop and httpcloop-dkms (debian/), built from a copy of the
# tree with dpkg-buildpackage and checked with lintian, into build/deb/ (scripts/make-deb).
deb:
	scripts/make-deb build/deb

# DKMS rebuilds the module for each kernel installed later (dkms.conf).
dkms-install:
	scripts/dkms-install --kernel $(KVER)

dkms-uninstall:
	scripts/dkms-install --uninstall

# checkpatch.pl --strict over the module's sources and the uapi header.
checkpatch:
	scripts/checkpatch

demo:
	scripts/demo

clean:
	-$(MAKE) -C kernel KDIR=$(KDIR) clean
	rm -rf build

# The benchmark suite (bench/run; bounded, up to about an hour): writes
# bench/results/latest.md, latest.png and latest.json. Not part of `make test`.
bench:
	scripts/install-deps
	scripts/libfuse
	$(MAKE) all
	bench/run

# The block-size sweep (bench/sweep; about 25 minutes): the VM part for 64, 128 and 256 KiB
# blocks; writes its section of bench/results/latest.md.
bench-sweep:
	scripts/install-deps
	$(MAKE) all
	bench/sweep
