#!/usr/bin/env bash
# The container runtimes the end-to-end tests start containers with, from
# Debian, idempotently: installs docker.io (which brings containerd and runc),
# starts containerd and then dockerd on it when they are not answering, and
# builds the local test image when it is missing. Seconds when all is there.
#
#   - containerd first, on /run/containerd/containerd.sock: one containerd
#     serves Docker (namespace moby) and Kubernetes' CRI (k8s.io).
#   - dockerd with --iptables=false --ip-forward=false --bridge=none: its
#     defaults rewrite the host's firewall and forwarding; the tests' containers
#     run with --network none.
#   - No registry is reachable: the image `sysotel-test/busybox:1` is a rootfs
#     holding busybox-static and its applet links, imported with `docker import`.
#
# Logs: /var/log/sysotel-test/{containerd,dockerd}.log.
set -euo pipefail

log() { echo "runtimes: $*" >&2; }

IMAGE="sysotel-test/busybox:1"
LOGS=/var/log/sysotel-test
# Debian's client, of the same release as the daemon (another docker CLI may
# come first on PATH).
DOCKER=/usr/bin/docker

# shellcheck source=scripts/apt.sh
source "$(dirname "$0")/apt.sh"
apt_ensure docker.io containerd runc busybox-static

mkdir -p "$LOGS"

# Waits up to $2 seconds for command $1 to succeed.
wait_for() {
  local what=$1 secs=$2 i
  for ((i = 0; i < secs * 10; i++)); do
    if eval "$what" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

if ! ctr --address /run/containerd/containerd.sock version >/dev/null 2>&1; then
  log "starting containerd"
  setsid containerd >>"$LOGS/containerd.log" 2>&1 < /dev/null &
  wait_for "ctr --address /run/containerd/containerd.sock version" 30 \
    || { tail -n 20 "$LOGS/containerd.log" >&2; log "containerd did not start"; exit 1; }
fi

if ! "$DOCKER" version >/dev/null 2>&1; then
  log "starting dockerd"
  setsid dockerd --containerd=/run/containerd/containerd.sock \
    --iptables=false --ip-forward=false --bridge=none \
    >>"$LOGS/dockerd.log" 2>&1 < /dev/null &
  wait_for "$DOCKER version" 60 \
    || { tail -n 20 "$LOGS/dockerd.log" >&2; log "dockerd did not start"; exit 1; }
fi

if ! "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  log "building $IMAGE from busybox-static"
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
  echo "root:x:0:" > "$root/etc/group"
  tar -C "$root" -c . | "$DOCKER" import - "$IMAGE" >/dev/null
fi
log "ok (containerd, dockerd, $IMAGE)"
