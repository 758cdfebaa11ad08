#!/usr/bin/env bash
# Installs the real peers the end-to-end tests talk to, from PyPI, idempotently:
#   rotel (rotel-agent): an OpenTelemetry collector with OTLP gRPC + HTTP receivers.
set -euo pipefail

log() { echo "peers: $*" >&2; }

# (pip's output is captured first: grep -q closing the pipe early would fail it under pipefail)
pip_has() {
  local info
  info=$(python3 -m pip show "$1" 2>/dev/null) || return 1
  grep -qx "Version: $2" <<<"$info"
}

if ! pip_has rotel 0.0.1a15; then
  log "installing rotel 0.0.1a15"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "rotel==0.0.1a15"
fi
