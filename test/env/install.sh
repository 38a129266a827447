#!/usr/bin/env bash
# Installs the real parts the integration tests start privately: containerd 1.6 and runc from bookworm,
# containerd 1.7 (trixie) and 2.x (sid) unpacked into a cache dir, plus the registry, skopeo, busybox, tini (for --init) and crun (an alternative OCI runtime).
# BuildKit's peers: bookworm's docker.io (dockerd 20.10, BuildKit v0.8) installed, sid's docker.io (dockerd 28.5)
# unpacked into the cache dir the same way as containerd; neither runs as a system service.
# The build bench's reference: sid's docker-buildx (a docker CLI plugin, run standalone) unpacked likewise.
# Newer suites are added with a low pin priority so that nothing already on the machine is upgraded.
set -euo pipefail

CACHE_DIR="${CSDK_CACHE_DIR:-/var/cache/containerd-sdk}"
PACKAGES=(containerd runc busybox-static skopeo docker-registry containernetworking-plugins iptables iproute2 apache2-utils openssl tini crun docker.io)

if [ "$(id -u)" != 0 ]; then
  echo "install.sh must run as root (it uses apt-get)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

sources=/etc/apt/sources.list.d/containerd-sdk-extra.sources
pin=/etc/apt/preferences.d/containerd-sdk-extra-pin
if [ ! -f "$sources" ]; then
  cat >"$sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
if [ ! -f "$pin" ]; then
  cat >"$pin" <<PIN
Package: *
Pin: release n=trixie
Pin-Priority: 100

Package: *
Pin: release n=sid
Pin-Priority: 50
PIN
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

need_update=1
if [ ${#missing[@]} -gt 0 ] || [ ! -x "$CACHE_DIR/1.7/usr/bin/containerd" ] || [ ! -x "$CACHE_DIR/2.x/usr/bin/containerd" ] || [ ! -x "$CACHE_DIR/docker-28.5/usr/sbin/dockerd" ] \
  || [ ! -x "$CACHE_DIR/docker-buildx/usr/libexec/docker/cli-plugins/docker-buildx" ]; then
  apt-get update -qq
  need_update=0
fi
if [ ${#missing[@]} -gt 0 ]; then
  # -t bookworm keeps every dependency on the machine's own release.
  apt-get install -y -qq --no-install-recommends -t bookworm "${missing[@]}" >/dev/null
fi

# The package's own service must not hold /run/containerd: tests run private daemons only.
systemctl disable --now containerd >/dev/null 2>&1 || true
# Likewise dockerd: the BuildKit tests start their own, pointed at a private containerd.
systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true

unpack() { # unpack <suite> <dir>
  local suite=$1 dir=$2 tmp
  [ -x "$dir/usr/bin/containerd" ] && return 0
  tmp=$(mktemp -d) && chmod 755 "$tmp"
  (cd "$tmp" && apt-get download -qq "containerd/$suite" >/dev/null)
  rm -rf "$dir" && mkdir -p "$dir"
  dpkg-deb -x "$tmp"/containerd_*.deb "$dir"
  rm -rf "$tmp"
}
unpack_docker() { # unpack_docker <suite> <dir>: dockerd without installing it (sid's would pull sid's libc)
  local suite=$1 dir=$2 tmp
  [ -x "$dir/usr/sbin/dockerd" ] && return 0
  tmp=$(mktemp -d) && chmod 755 "$tmp"
  (cd "$tmp" && apt-get download -qq "docker.io/$suite" >/dev/null)
  rm -rf "$dir" && mkdir -p "$dir"
  dpkg-deb -x "$tmp"/docker.io_*.deb "$dir"
  rm -rf "$tmp"
}
unpack_buildx() { # unpack_buildx <suite> <dir>: the buildx CLI plugin, for bench/build (never installed)
  local suite=$1 dir=$2 tmp
  [ -x "$dir/usr/libexec/docker/cli-plugins/docker-buildx" ] && return 0
  tmp=$(mktemp -d) && chmod 755 "$tmp"
  (cd "$tmp" && apt-get download -qq "docker-buildx/$suite" >/dev/null)
  rm -rf "$dir" && mkdir -p "$dir"
  dpkg-deb -x "$tmp"/docker-buildx_*.deb "$dir"
  rm -rf "$tmp"
}
mkdir -p "$CACHE_DIR"
unpack trixie "$CACHE_DIR/1.7"
unpack sid "$CACHE_DIR/2.x"
unpack_docker sid "$CACHE_DIR/docker-28.5"
unpack_buildx sid "$CACHE_DIR/docker-buildx"
: "$need_update"

for v in 1.6 1.7 2.x; do
  case $v in 1.6) bin=/usr/bin/containerd ;; *) bin="$CACHE_DIR/$v/usr/bin/containerd" ;; esac
  echo "containerd $v: $("$bin" --version | awk '{print $3}')"
done
for bin in /usr/sbin/dockerd "$CACHE_DIR/docker-28.5/usr/sbin/dockerd"; do
  echo "dockerd: $("$bin" --version | awk '{print $3}' | tr -d ,)"
done
echo "buildx: $("$CACHE_DIR/docker-buildx/usr/libexec/docker/cli-plugins/docker-buildx" version | awk '{print $2}')"
