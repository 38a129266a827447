// Prints vitest's JSON results as the closing line CI reads: "N passed, N failed[, N skipped]".
import { readFileSync } from 'node:fs'

const file = process.argv[2] ?? '.test-results.json'
let results
try {
  results = JSON.parse(readFileSync(file, 'utf8'))
} catch (err) {
  console.log(`no test results in ${file}: ${err.message}`)
  console.log('0 passed, 1 failed')
  process.exit(0)
}
const passed = results.numPassedTests ?? 0
// Files that failed to load count as failures even though none of their tests ran.
const failed = (results.numFailedTests ?? 0) + (results.testResults ?? []).filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length
const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0)
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
