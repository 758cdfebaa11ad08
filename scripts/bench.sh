#!/usr/bin/env bash
# Builds and runs the benchmark (see scripts/bench.py). Root required.
# Without arguments: the comparison table against bpftrace (installed from
# Debian when missing), 5 rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --locked --release --quiet
if [ $# -eq 0 ]; then
  if ! command -v bpftrace >/dev/null 2>&1; then
    echo "bench: installing bpftrace (the side-by-side reference)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bpftrace >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bpftrace >/dev/null; }
  fi
  set -- --tracers --rounds 5
fi
exec python3 scripts/bench.py "$@"
