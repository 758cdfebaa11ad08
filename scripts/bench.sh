#!/usr/bin/env bash
# Builds and runs the benchmark (see scripts/bench.py). Root required.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --locked --release --quiet
exec python3 scripts/bench.py "$@"
