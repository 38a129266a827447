#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as root: fetches Node.js 22 and 24 from the npm registry
# (scripts/install-node.sh), installs containerd 1.6/1.7/2.x, runc and the other real parts
# (test/env/install.sh) and the npm dependencies; checks generated code, lint, layers, types, docs, the
# built package and its API report on Node 22; then runs all tests (unit, and integration against every
# containerd line) once on Node 22 and once on Node 24. The last line sums both runs.
# CONTAINERD_VERSIONS=1.6,1.7,2.x picks the lines; CONTAINERD_ADDRESS uses an existing daemon instead.
set -euo pipefail
cd "$(dirname "$0")/.."

node22="$(bash scripts/install-node.sh 22)"
node24="$(bash scripts/install-node.sh 24)"
# Everything up to the tests runs on Node 22; npm and npx stay the system's, run by whichever node is first.
export PATH="$node22:$PATH"
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
echo "== layers (.dependency-cruiser.cjs)"
npm run --silent lint:layers
echo "== typecheck"
npm run --silent typecheck
echo "== api docs (every export documented)"
npm run --silent docs >/dev/null
echo "== build, and import the package the way a user would"
npm run --silent build
node -e "Promise.all([import('containerd-sdk'), import('containerd-sdk/testing'), import('containerd-sdk/build')]).then(([a, b, c]) => { if (typeof a.Client !== 'function' || typeof b.startContainerd !== 'function' || typeof c.BuildKit !== 'function') process.exit(1) })"
echo "== package contents (source maps resolve, docs and examples shipped) and types (attw)"
node scripts/check-package.mjs
npm run --silent lint:package
echo "== API report (etc/*.api.md)"
if ! npm run --silent api:check; then
  for report in node_modules/.cache/api-extractor/*.api.md; do
    diff -u "etc/$(basename "$report")" "$report" >&2 || true
  done
  echo "the public API differs from etc/*.api.md: if that is intended, run npm run api:update and commit etc/" >&2
  exit 1
fi

# The same suite on each Node line; both always run, and the summary counts both.
status=0
for major in 22 24; do
  bin_var="node$major"
  bin="${!bin_var}"
  echo "== tests on Node.js $("$bin/node" --version)"
  rm -f ".test-results-node$major.json"
  PATH="$bin:$PATH" "$bin/node" node_modules/vitest/vitest.mjs run --reporter=default --reporter=json \
    --outputFile=".test-results-node$major.json" || status=1
done
node scripts/test-summary.mjs .test-results-node22.json .test-results-node24.json
exit "$status"
