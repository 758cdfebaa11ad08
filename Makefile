# The two commands of the README. Both install what is missing first
# (scripts/setup.sh: idempotent, seconds when everything is present).
.PHONY: setup build run test test-kernels bench

ARGS ?=

setup:
	bash scripts/setup.sh

build: setup
	cargo build --locked --release

# Traces every new process and prints the table on stdout. Pass flags with
# ARGS, e.g. `make run ARGS="-o json --scope all"`.
run: build
	./target/release/sysotel $(ARGS)

# Everything: fmt, clippy, unit and end-to-end tests, fuzzing, then the kernel
# matrix (Debian's 5.10, 6.1 and 6.12 in QEMU guests).
test:
	bash scripts/test.sh

# The kernel matrix alone, e.g. `make test-kernels KERNELS="5.10 6.12"`.
KERNELS ?= 5.10 6.1 6.12 5.10-fentry
test-kernels: setup
	bash scripts/peers.sh
	python3 scripts/kernels.py run --kernels "$(KERNELS)"

bench: build
	bash scripts/bench.sh
