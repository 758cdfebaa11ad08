# Sourced by the project's scripts: installs the Debian packages named that
# are not installed yet, quietly; refreshes the package lists only when an
# install from the current ones fails. Seconds when everything is there.
apt_ensure() {
  local p q status missing=() native
  native=$(dpkg --print-architecture)
  for p in "$@"; do
    # A bare name is the native package (with arm64 added, dpkg-query would
    # list both architectures' of a multiarch library), or an arch-all one.
    q=$p
    [[ "$q" == *:* ]] || q="$q:$native"
    status=$(dpkg-query -W -f='${Status}' "$q" 2>/dev/null \
      || dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "apt: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}
