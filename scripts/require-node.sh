#!/usr/bin/env bash
# Checks for Node.js >= 20.19 (ESM require, Symbol.asyncDispose) and says how to get it when missing.
set -euo pipefail
if ! command -v node >/dev/null 2>&1; then
  echo "Node.js >= 20.19 is required and was not found; install it (e.g. from nodejs.org or your distribution) and retry" >&2
  exit 1
fi
node -e '
const [major, minor] = process.versions.node.split(".").map(Number)
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`Node.js >= 20.19 is required, found ${process.versions.node}`)
  process.exit(1)
}'
