#!/usr/bin/env bash
# The whole test suite (what CI runs): install what is missing, then format,
# lints (the eBPF crate linted on its own target so user-space features do not
# leak into it), unit tests and the end-to-end tests against the real kernel.
# Run as root: the end-to-end tests load eBPF programs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
NIGHTLY="${SYSOTEL_NIGHTLY:-nightly-2026-05-20}"

step() { echo "== $*" >&2; }

step "setup"
bash scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all --check

step "clippy (user space, -D warnings)"
cargo clippy --release --all-targets --quiet -- -D warnings

step "clippy (eBPF crate, bpfel-unknown-none, -D warnings)"
(cd exporter-ebpf && rustup run "$NIGHTLY" cargo clippy --release --quiet \
  --target bpfel-unknown-none -Z build-std=core -- -D warnings)

step "build"
cargo build --release --quiet

step "tests (unit + end-to-end, as root)"
cargo test --release --workspace --exclude exporter-ebpf
