#!/usr/bin/env bash
# The whole test suite (what CI runs): install what is missing, then format,
# lints (the eBPF crate linted on its own target so user-space features do not
# leak into it), unit tests and the end-to-end tests against the real kernel.
# Run as root: the end-to-end tests load eBPF programs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
NIGHTLY="${SYSOTEL_NIGHTLY:-nightly-2026-05-20}"

step() { echo "== $* ($(date +%T))" >&2; }

# The golden files are a regression net: the suite compares with them and
# never rewrites them (UPDATE_GOLDEN=1 cargo test -p exporter golden does, by hand).
if [ -n "${UPDATE_GOLDEN:-}" ]; then
  echo "test.sh: UPDATE_GOLDEN is set; the suite checks the golden files, it never rewrites them" >&2
  exit 1
fi

step "setup"
bash scripts/setup.sh --peers --arm64
# Docker Engine on containerd, and the local test image: the container tests.
bash scripts/runtimes.sh

# Every build below uses the committed lock files as they are: a fresh clone
# builds exactly what was tested, or fails saying the lock is stale.
step "cargo fmt --check"
cargo fmt --all --check

step "clippy (user space, -D warnings)"
cargo clippy --locked --release --all-targets --quiet -- -D warnings

step "clippy (eBPF crate, bpfel-unknown-none, -D warnings)"
(cd exporter-ebpf && rustup run "$NIGHTLY" cargo clippy --locked --release --quiet \
  --target bpfel-unknown-none -Z build-std=core -- -D warnings)

step "build"
cargo build --locked --release --quiet

# The Debian packages of both architectures (target/deb/): the package tests
# below check their contents, install, remove and purge the amd64 one.
step "packages (make deb: amd64, arm64)"
bash scripts/deb.sh amd64 arm64

step "tests (unit + end-to-end, as root)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --release --workspace --exclude exporter-ebpf 2>&1 | tee "$log"

# The arm64 build's unit tests, under qemu-user (the syscall table, flags and
# register offsets of aarch64); the kernel matrix below cross-builds sysotel
# and the end-to-end tests for its arm64 guests.
step "unit tests of the aarch64 build (qemu-user)"
cargo test --locked --release --target aarch64-unknown-linux-gnu -p exporter-common -p exporter --lib 2>&1 | tee -a "$log"

# Bounded: a crash fails the suite, and its input (fuzz/artifacts/<target>/)
# becomes a regression test (exporter/src/decode/tests.rs, or beside the
# encoder it broke). Each run starts from the committed seeds
# (fuzz/corpus/seed) and what earlier runs here found (fuzz/corpus/<target>).
# cargo fuzz has no --locked: `cargo fetch --locked` refuses a stale lock first.
FUZZ_SECONDS="${SYSOTEL_FUZZ_SECONDS:-60}"
(cd fuzz && rustup run "$NIGHTLY" cargo fetch --locked --quiet)
for target in decode encode; do
  step "fuzz $target (${FUZZ_SECONDS}s)"
  mkdir -p "fuzz/corpus/$target"
  (cd fuzz && rustup run "$NIGHTLY" cargo fuzz run "$target" "corpus/$target" corpus/seed -- \
    -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 2>&1 | tail -n 12)
done

# The kernel matrix: the kernel-facing end-to-end tests again, in QEMU guests
# booting Debian's 5.10, 6.1 and 6.12 kernels, and the arm64 build's fixture
# checks in guests booting Debian's arm64 6.1 and 6.12 (scripts/kernels.py;
# the kernels download once into /var/cache/sysotel/kernels). SYSOTEL_KERNELS
# picks some, e.g. "5.10"; "none" leaves the matrix out, and says so.
KERNELS="${SYSOTEL_KERNELS:-5.10 6.1 6.12 5.10-fentry arm64-6.1 arm64-6.12}"
if [ "$KERNELS" = none ]; then
  step "kernel matrix: left out (SYSOTEL_KERNELS=none); only the host's kernel was tested"
else
  step "kernel matrix ($KERNELS)"
  matrix_status=0
  python3 scripts/kernels.py run --kernels "$KERNELS" 2>&1 | tee -a "$log" || matrix_status=$?
fi

# One closing line for the whole suite: the sum over every test binary and,
# per kernel, every test of the matrix.
awk '/^test result:|^kernels:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "${matrix_status:-0}"
