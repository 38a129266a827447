/**
 * Runs a bench script in a child Node process (under tsx, from the repo root) so that its memory and CPU
 * are its own, and returns the JSON object it prints last, plus the child's whole wall time.
 * `profileEnv` names an environment variable: when set to a directory, the child writes a V8 CPU profile
 * there (`--cpu-prof`).
 */
import { spawn } from 'node:child_process'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nowUs } from './stats.js'

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CHILD_TIMEOUT_MS = 300_000

/**
 * Spawns the bench script at `scriptUrl` (a file URL, resolved by the caller against its own
 * `import.meta.url`, so it does not depend on where this helper lives) with `args`; rejects on a non-zero
 * exit, a timeout (SIGKILL) or no JSON result.
 */
export function runJsonChild<T>(scriptUrl: URL, args: string[], profileEnv: string): Promise<T & { processMs: number }> {
  const profileDir = process.env[profileEnv]
  const nodeArgs = ['--import', 'tsx', ...(profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir])]
  const scriptPath = fileURLToPath(scriptUrl)
  const script = basename(scriptPath)
  return new Promise((resolve, reject) => {
    const start = nowUs()
    const child = spawn(process.execPath, [...nodeArgs, scriptPath, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      if (stderr.length < 8192) stderr += text
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const processMs = (nowUs() - start) / 1000
      if (code !== 0) {
        reject(new Error(`${script} failed (${code ?? signal}): ${stderr.trim()}`))
        return
      }
      try {
        resolve({ ...(JSON.parse(stdout.trim().split('\n').pop() ?? '') as T), processMs })
      } catch (err) {
        reject(new Error(`${script} printed no result (${String(err)}): ${stdout.trim()} ${stderr.trim()}`))
      }
    })
  })
}
