#!/usr/bin/env bash
# Checks that the `node` on PATH is Node.js >= 22 and says how to get one when it is not.
set -euo pipefail
hint='Node.js >= 22 is required. scripts/install-node.sh fetches one from the npm registry into /var/cache/containerd-sdk:
  export PATH="$(bash scripts/install-node.sh 22):$PATH"
or install Node.js 22 or 24 from nodejs.org or your distribution.'
if ! command -v node >/dev/null 2>&1; then
  echo "node was not found on PATH. $hint" >&2
  exit 1
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)'; then
  echo "found Node.js $(node --version) at $(command -v node). $hint" >&2
  exit 1
fi
