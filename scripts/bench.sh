#!/usr/bin/env bash
# Builds and runs the benchmark (see scripts/bench.py). Root required.
# Without arguments: the comparison table against bpftrace (installed from
# Debian when missing), 5 rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --locked --release --quiet
if [ $# -eq 0 ]; then
  # bpftrace: the side-by-side reference.
  # shellcheck source=scripts/apt.sh
  source scripts/apt.sh
  apt_ensure bpftrace
  set -- --tracers --rounds 5
fi
exec python3 scripts/bench.py "$@"
