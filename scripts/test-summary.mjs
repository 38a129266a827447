// Prints vitest's JSON results as the closing line CI reads: "N passed, N failed[, N skipped]".
// Several result files (one per Node.js version) are summed; a missing or unreadable one counts as a failure.
// Failed tests are listed first, with the start of their message, so a CI log that keeps only its tail
// still says what failed.
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
  for (const fileResult of results.testResults ?? []) {
    const failures = (fileResult.assertionResults ?? []).filter((a) => a.status === 'failed')
    if (fileResult.status === 'failed' && failures.length === 0) {
      console.log(`FAILED ${file}: ${fileResult.name}: ${firstLines(fileResult.message)}`)
    }
    for (const a of failures) {
      console.log(`FAILED ${file}: ${fileResult.name} > ${a.fullName}: ${firstLines((a.failureMessages ?? []).join('\n'))}`)
    }
  }
  if (files.length > 1) console.log(`${file}: ${p} passed, ${f} failed${s > 0 ? `, ${s} skipped` : ''}`)
  passed += p
  failed += f
  skipped += s
}
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)

/** The first lines of a failure message, enough to name the cause without the whole stack. */
function firstLines(message) {
  return String(message ?? '').split('\n').slice(0, 6).join('\n    ')
}
