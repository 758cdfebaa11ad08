# The two commands of the README. Both install what is missing first
# (scripts/setup.sh: idempotent, seconds when everything is present).
.PHONY: setup build run test bench

ARGS ?=

setup:
	bash scripts/setup.sh

build: setup
	cargo build --locked --release

# Traces every new process and prints the table on stdout. Pass flags with
# ARGS, e.g. `make run ARGS="-o json --scope all"`.
run: build
	./target/release/sysotel $(ARGS)

test:
	bash scripts/test.sh

bench: build
	bash scripts/bench.sh
