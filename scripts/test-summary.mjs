// Prints vitest's JSON results as the closing line CI reads: "N passed, N failed[, N skipped]".
// Several result files (one per Node.js version) are summed; a missing or unreadable one counts as a failure.
import { readFileSync } from 'node:fs'

const files = process.argv.length > 2 ? process.argv.slice(2) : ['.test-results.json']
let passed = 0
let failed = 0
let skipped = 0
for (const file of files) {
  let results
  try {
    results = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    console.log(`no test results in ${file}: ${err.message}`)
    failed += 1
    continue
  }
  const p = results.numPassedTests ?? 0
  // Files that failed to load count as failures even though none of their tests ran.
  const f = (results.numFailedTests ?? 0) + (results.testResults ?? []).filter((r) => r.status === 'failed' && r.assertionResults.length === 0).length
  const s = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0)
  if (files.length > 1) console.log(`${file}: ${p} passed, ${f} failed${s > 0 ? `, ${s} skipped` : ''}`)
  passed += p
  failed += f
  skipped += s
}
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
