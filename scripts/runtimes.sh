#!/usr/bin/env bash
# The container runtimes the end-to-end tests start containers with, from
# Debian, idempotently: installs docker.io (which brings containerd and runc),
# starts containerd (with its CRI plugin configured) and then dockerd on it
# when they are not answering, and builds the local test images when they are
# missing. Seconds when all is there.
#
#   - containerd first, on /run/containerd/containerd.sock: one containerd
#     serves Docker (namespace moby) and Kubernetes' CRI (k8s.io), with the
#     configuration in $CONTAINERD_CONFIG: the pod sandbox image is the local
#     pause image, and restrict_oom_score_adj (a sandbox sets its
#     oom_score_adj, which needs CAP_SYS_RESOURCE some hosts do not give).
#     A containerd started otherwise is restarted with it (its containers
#     keep running).
#   - dockerd with --iptables=false --ip-forward=false --bridge=none: its
#     defaults rewrite the host's firewall and forwarding; the tests' containers
#     run with --network none.
#   - Podman's Docker-compatible service (`podman system service`) on
#     /run/podman/podman.sock, with $PODMAN_CONF: default_ulimits within what
#     this host allows (Podman's defaults ask for more open files than some
#     hosts give). Tests drive it with `podman --url unix://...`.
#   - No registry is reachable: the image `sysotel-test/busybox:1` is a rootfs
#     holding busybox-static and its applet links, imported with `docker import`;
#     `sysotel-test/pause:1` is the same with `sleep` as its entrypoint (a pod's
#     sandbox). Both are also imported into containerd's k8s.io namespace
#     (as docker.io/sysotel-test/...), where CRI pods find them.
#
# Logs: /var/log/sysotel-test/{containerd,dockerd}.log.
set -euo pipefail

log() { echo "runtimes: $*" >&2; }

IMAGE="sysotel-test/busybox:1"
PAUSE="sysotel-test/pause:1"
LOGS=/var/log/sysotel-test
CONTAINERD_CONFIG=/etc/sysotel-test/containerd.toml
PODMAN_CONF=/etc/sysotel-test/containers.conf
PODMAN_SOCK=/run/podman/podman.sock
PODMAN=(podman --url "unix://$PODMAN_SOCK")
SOCK=/run/containerd/containerd.sock
# Debian's client, of the same release as the daemon (another docker CLI may
# come first on PATH).
DOCKER=/usr/bin/docker

# shellcheck source=scripts/apt.sh
source "$(dirname "$0")/apt.sh"
apt_ensure docker.io containerd runc busybox-static podman

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

mkdir -p "$(dirname "$CONTAINERD_CONFIG")"
config='version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/'"$PAUSE"'"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
'
if [ "$(cat "$CONTAINERD_CONFIG" 2>/dev/null)" != "$config" ]; then
  printf '%s' "$config" > "$CONTAINERD_CONFIG"
fi

# A daemon left running with a working directory that is gone (started from
# a checkout since removed) fails to start containers (conmon: "Failed to get
# working directory"): stop it, to start again from / below.
for pid in $(pgrep -f "^podman system service" || true) $(pgrep -x dockerd || true) \
           $(pgrep -x containerd || true); do
  case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in
    *" (deleted)")
      log "restarting $(tr '\0' ' ' < "/proc/$pid/cmdline" | cut -c1-40)(pid $pid): its working directory was removed"
      kill "$pid"
      wait_for "! kill -0 $pid" 30 || { log "$pid did not stop"; exit 1; }
      ;;
  esac
done

# A containerd running without this configuration is restarted with it.
for pid in $(pgrep -x containerd || true); do
  if ! tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "--config $CONTAINERD_CONFIG"; then
    log "restarting containerd $pid with $CONTAINERD_CONFIG"
    kill "$pid"
    wait_for "! kill -0 $pid" 30 || { log "containerd $pid did not stop"; exit 1; }
  fi
done
if ! ctr --address "$SOCK" version >/dev/null 2>&1; then
  log "starting containerd"
  (cd / && exec setsid containerd --config "$CONTAINERD_CONFIG") >>"$LOGS/containerd.log" 2>&1 < /dev/null &
  wait_for "ctr --address $SOCK version" 30 \
    || { tail -n 20 "$LOGS/containerd.log" >&2; log "containerd did not start"; exit 1; }
fi

if ! "$DOCKER" version >/dev/null 2>&1; then
  log "starting dockerd"
  (cd / && exec setsid dockerd --containerd=/run/containerd/containerd.sock \
    --iptables=false --ip-forward=false --bridge=none) \
    >>"$LOGS/dockerd.log" 2>&1 < /dev/null &
  wait_for "$DOCKER version" 60 \
    || { tail -n 20 "$LOGS/dockerd.log" >&2; log "dockerd did not start"; exit 1; }
fi

# Imports the busybox rootfs as image $1, with `docker import` options $2...
import_busybox() {
  local image=$1 root
  shift
  log "building $image from busybox-static"
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
  echo "root:x:0:" > "$root/etc/group"
  tar -C "$root" -c . | "$DOCKER" import "$@" - "$image" >/dev/null
  rm -rf "$root"
}

if ! "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  import_busybox "$IMAGE"
fi
if ! "$DOCKER" image inspect "$PAUSE" >/dev/null 2>&1; then
  import_busybox "$PAUSE" --change 'ENTRYPOINT ["/bin/sleep","2147483647"]'
fi
for image in "$IMAGE" "$PAUSE"; do
  if ! ctr --address "$SOCK" -n k8s.io images ls -q | grep -qx "docker.io/$image"; then
    log "importing $image into containerd's k8s.io namespace"
    "$DOCKER" save "$image" | ctr --address "$SOCK" -n k8s.io images import - >/dev/null
  fi
done
podman_conf='[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
'
if [ "$(cat "$PODMAN_CONF" 2>/dev/null)" != "$podman_conf" ]; then
  printf '%s' "$podman_conf" > "$PODMAN_CONF"
fi
if ! "${PODMAN[@]}" version >/dev/null 2>&1; then
  log "starting podman system service"
  mkdir -p "$(dirname "$PODMAN_SOCK")"
  (cd / && CONTAINERS_CONF="$PODMAN_CONF" exec setsid podman system service --time=0 \
    "unix://$PODMAN_SOCK") >>"$LOGS/podman.log" 2>&1 < /dev/null &
  wait_for "${PODMAN[*]} version" 30 \
    || { tail -n 20 "$LOGS/podman.log" >&2; log "podman did not start"; exit 1; }
fi
if ! "${PODMAN[@]}" image exists "localhost/$IMAGE"; then
  log "loading $IMAGE into podman"
  "$DOCKER" save "$IMAGE" | "${PODMAN[@]}" load >/dev/null
fi
log "ok (containerd with CRI, dockerd, podman, $IMAGE, $PAUSE)"
