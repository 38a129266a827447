#!/usr/bin/env bash
# The main demo, on a fresh Debian machine as root: installs what it needs (Node.js 22 from the npm registry
# into /var/cache/containerd-sdk, containerd and friends from Debian, npm dependencies) and runs
# examples/hello against a reachable containerd, or a private one.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$(bash scripts/install-node.sh 22):$PATH"
export PATH
bash scripts/require-node.sh
bash test/env/install.sh >/dev/null
npm ci --no-audit --no-fund --loglevel=error
exec node --import tsx examples/hello/main.ts
