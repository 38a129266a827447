// Checks what `npm pack` would ship (run after the build): every source map's `sources` resolve to files in
// the tarball, the README's docs/ and examples/ links are shipped, generated docs/api is not, and every
// `exports` target exists. Prints one line per problem and exits 1 when there are any.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'

const [report] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' }))
const files = new Set(report.files.map((f) => f.path))
const problems = []

let maps = 0
for (const file of files) {
  if (!file.endsWith('.map')) continue
  maps++
  const map = JSON.parse(readFileSync(file, 'utf8'))
  for (const source of map.sources ?? []) {
    const resolved = normalize(join(dirname(file), map.sourceRoot ?? '', source))
    if (!files.has(resolved)) problems.push(`${file}: source ${source} (${resolved}) is not in the package`)
  }
}
if (maps === 0) problems.push('no source maps in the package: run npm run build first')

const pkg = JSON.parse(readFileSync('package.json', 'utf8'))
const targets = (value) => (typeof value === 'string' ? [value] : Object.values(value ?? {}).flatMap(targets))
for (const target of targets(pkg.exports)) {
  if (!files.has(normalize(target))) problems.push(`exports target ${target} is not in the package`)
}
for (const file of files) {
  if (file.startsWith('docs/api/')) problems.push(`${file}: generated API docs are shipped`)
}
for (const link of readFileSync('README.md', 'utf8').matchAll(/\]\(((?:docs|examples)\/[^)#\s]+)/g)) {
  const path = normalize(link[1])
  if (!files.has(path) && ![...files].some((f) => f.startsWith(`${path}/`))) problems.push(`README links ${link[1]}, which is not in the package`)
}

for (const problem of problems) console.error(problem)
console.log(`package: ${files.size} files, ${report.size} bytes packed, ${maps} source maps checked, ${problems.length} problems`)
process.exit(problems.length === 0 ? 0 : 1)
