#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as root: installs containerd 1.6/1.7/2.x, runc and the
# other real parts (test/env/install.sh), the npm dependencies, then checks generated code, lint and
# types, and runs the unit tests and the integration tests against every containerd line.
# CONTAINERD_VERSIONS=1.6,1.7,2.x picks the lines; CONTAINERD_ADDRESS uses an existing daemon instead.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/require-node.sh
bash test/env/install.sh
npm ci --no-audit --no-fund --loglevel=error

echo "== generated code is up to date"
npm run --silent generate
if [ -n "$(git status --porcelain -- src/gen 2>/dev/null)" ]; then
  git status --porcelain -- src/gen >&2
  echo "src/gen differs from what npm run generate writes: regenerate and commit" >&2
  exit 1
fi
echo "== lint"
npm run --silent lint
echo "== typecheck"
npm run --silent typecheck
echo "== api docs (every export documented)"
npm run --silent docs >/dev/null
echo "== build, and import the package the way a user would"
npm run --silent build
node -e "Promise.all([import('containerd-sdk'), import('containerd-sdk/testing')]).then(([a, b]) => { if (typeof a.Client !== 'function' || typeof b.startContainerd !== 'function') process.exit(1) })"
echo "== tests"
status=0
npx vitest run --reporter=default --reporter=json --outputFile=.test-results.json || status=$?
node scripts/test-summary.mjs .test-results.json
exit "$status"
