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
bash scripts/setup.sh --peers

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
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --release --workspace --exclude exporter-ebpf 2>&1 | tee "$log"

# Bounded: a crash fails the suite, and its input (fuzz/artifacts/decode/)
# becomes a regression test in exporter/src/decode/tests.rs.
FUZZ_SECONDS="${SYSOTEL_FUZZ_SECONDS:-60}"
step "fuzz the decoder (${FUZZ_SECONDS}s)"
(cd fuzz && rustup run "$NIGHTLY" cargo fuzz run decode -- \
  -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 2>&1 | tail -n 12)

# One closing line for the whole suite: the sum over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
