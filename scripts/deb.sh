#!/usr/bin/env bash
# Builds the Debian packages: `scripts/deb.sh [amd64] [arm64]` (default: this
# machine's architecture) writes target/deb/sysotel_<version>_<arch>.deb.
#
# Each holds /usr/bin/sysotel (stripped), /etc/sysotel/sysotel.toml (a
# conffile: config/sysotel.toml, every key at its default), the systemd unit
# (package/sysotel.service), the man pages and the bash, zsh and fish
# completions (generated from the clap definition by sysotel-docgen, so they
# cannot drift from --help), and the copyright with both licenses. arm64 is
# cross-built (scripts/setup.sh --arm64). The build is reproducible: file
# times come from the last commit, owners are root.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
umask 022

log() { echo "deb: $*" >&2; }

native=$(dpkg --print-architecture)
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=("$native")
for arch in "${arches[@]}"; do
  case "$arch" in
    amd64 | arm64) ;;
    *) echo "deb.sh: unknown architecture '$arch' (known: amd64, arm64)" >&2; exit 2 ;;
  esac
done

# Each architecture's Rust target (empty: this machine's own build) and strip.
declare -A target strip
for arch in "${arches[@]}"; do
  if [ "$arch" = "$native" ]; then
    target[$arch]="" strip[$arch]=strip
  elif [ "$arch" = arm64 ]; then
    target[$arch]=aarch64-unknown-linux-gnu strip[$arch]=aarch64-linux-gnu-strip
  else
    echo "deb.sh: $arch cannot be cross-built on $native" >&2; exit 2
  fi
done

setup_args=()
for arch in "${arches[@]}"; do
  [ -z "${target[$arch]}" ] || setup_args=(--arm64)
done
bash scripts/setup.sh "${setup_args[@]}"
# shellcheck source=scripts/apt.sh
source scripts/apt.sh
apt_ensure dpkg-dev binutils

version=$(cargo metadata --locked --no-deps --format-version 1 \
  | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "exporter"))')
# Not exported: build scripts (ring's, openssl-sys's) watch SOURCE_DATE_EPOCH,
# and a build with it set would not be the build the suite made.
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
out=target/deb
mkdir -p "$out"

# The man pages and completions, once (they do not depend on the
# architecture): from this machine's build of the default members, the same
# build `make build` and the suite make, so nothing is rebuilt.
log "building sysotel and sysotel-docgen ($native)"
cargo build --locked --release --quiet
generated="$out/generated"
rm -rf "$generated"
./target/release/sysotel-docgen "$generated" > /dev/null

for arch in "${arches[@]}"; do
  t=${target[$arch]}
  bin=target/${t:+$t/}release/sysotel
  if [ -n "$t" ]; then
    log "cross-building sysotel ($arch, $t)"
    cargo build --locked --release --quiet --target "$t"
  fi
  root="$out/$arch/root"
  rm -rf "$out/$arch"
  mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1"

  "${strip[$arch]}" --strip-unneeded --remove-section=.comment --remove-section=.note \
    -o "$root/usr/bin/sysotel" "$bin"
  install -D -m 0644 config/sysotel.toml "$root/etc/sysotel/sysotel.toml"
  install -D -m 0644 package/sysotel.service "$root/lib/systemd/system/sysotel.service"
  for page in "$generated"/man/*.1; do
    gzip -9n < "$page" > "$root/usr/share/man/man1/$(basename "$page").gz"
  done
  install -D -m 0644 "$generated/completions/sysotel.bash" "$root/usr/share/bash-completion/completions/sysotel"
  install -D -m 0644 "$generated/completions/_sysotel" "$root/usr/share/zsh/vendor-completions/_sysotel"
  install -D -m 0644 "$generated/completions/sysotel.fish" "$root/usr/share/fish/vendor_completions.d/sysotel.fish"
  install -D -m 0644 package/debian/copyright "$root/usr/share/doc/sysotel/copyright"
  {
    echo "sysotel ($version) unstable; urgency=medium"
    echo
    echo "  * sysotel $version: see https://github.com/sysotel/sysotel for the changes."
    echo
    echo " -- sysotel developers <sysotel@users.noreply.github.com>  $(date -u -R -d "@$epoch")"
  } | gzip -9n > "$root/usr/share/doc/sysotel/changelog.gz"

  # Control files: the conffile, the maintainer scripts, the libraries the
  # binary links (dpkg-shlibdeps, for the package's architecture), checksums.
  echo /etc/sysotel/sysotel.toml > "$root/DEBIAN/conffiles"
  install -m 0755 package/debian/postinst package/debian/prerm package/debian/postrm "$root/DEBIAN/"
  shlib=$(mktemp -d)
  mkdir -p "$shlib/debian"
  printf 'Source: sysotel\n\nPackage: sysotel\nArchitecture: any\n' > "$shlib/debian/control"
  if ! (cd "$shlib" && DEB_HOST_ARCH=$arch dpkg-shlibdeps -O "$OLDPWD/$root/usr/bin/sysotel") \
      > "$shlib/out" 2> "$shlib/err"; then
    cat "$shlib/err" >&2
    echo "deb.sh: dpkg-shlibdeps failed on $arch's sysotel (are the $arch libraries installed? scripts/setup.sh --arm64)" >&2
    exit 1
  fi
  depends=$(sed -n 's/^shlibs:Depends=//p' "$shlib/out")
  rm -rf "$shlib"
  [ -n "$depends" ] || { echo "deb.sh: dpkg-shlibdeps found no libraries for $arch's sysotel" >&2; exit 1; }
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
    package/debian/control.in > "$root/DEBIAN/control"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z \
    | xargs -0 md5sum > DEBIAN/md5sums)
  chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
  find "$root" -type d -exec chmod 0755 {} +
  find "$root" -exec touch -h -d "@$epoch" {} +

  deb="$out/sysotel_${version}_${arch}.deb"
  SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" > /dev/null
  log "$deb ($(( $(stat -c %s "$deb") / 1024 )) KiB): Depends: $depends"
done
