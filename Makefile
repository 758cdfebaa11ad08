# The two commands of the README. Both install what is missing first
# (scripts/setup.sh: idempotent, seconds when everything is present).
.PHONY: setup build build-arm64 run test test-kernels test-arm64 bench deb

ARGS ?=

setup:
	bash scripts/setup.sh

build: setup
	cargo build --locked --release

# sysotel for arm64 (aarch64), cross-built on this machine:
# target/aarch64-unknown-linux-gnu/release/sysotel.
build-arm64:
	bash scripts/setup.sh --arm64
	cargo build --locked --release --target aarch64-unknown-linux-gnu

# Traces every new process and prints the table on stdout. Pass flags with
# ARGS, e.g. `make run ARGS="-o json --scope all"`.
run: build
	./target/release/sysotel $(ARGS)

# Everything: fmt, clippy, unit and end-to-end tests, fuzzing, the arm64
# build's unit tests (qemu-user), then the kernel matrix (Debian's 5.10, 6.1
# and 6.12 in QEMU guests, and the arm64 build in arm64 guests of 6.1 and 6.12).
test:
	bash scripts/test.sh

# The kernel matrix alone, e.g. `make test-kernels KERNELS="5.10 6.12"`.
KERNELS ?= 5.10 6.1 6.12 5.10-fentry arm64-6.1 arm64-6.12
test-kernels:
	bash scripts/setup.sh --peers --arm64
	python3 scripts/kernels.py run --kernels "$(KERNELS)"

# The arm64 build alone: its unit tests under qemu-user, then the end-to-end
# fixture checks in arm64 guests (Debian's arm64 6.1 and 6.12 kernels).
test-arm64: build-arm64
	bash scripts/peers.sh
	cargo test --locked --release --target aarch64-unknown-linux-gnu -p exporter-common -p exporter --lib
	python3 scripts/kernels.py run --kernels "arm64-6.1 arm64-6.12"

bench: build
	bash scripts/bench.sh

# The Debian packages, target/deb/sysotel_<version>_<arch>.deb: the binary,
# the config file, the systemd unit, man pages and completions (see the
# README's "Install on a host"). One architecture: `make deb DEB_ARCHES=amd64`.
DEB_ARCHES ?= amd64 arm64
deb:
	bash scripts/deb.sh $(DEB_ARCHES)
