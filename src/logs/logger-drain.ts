import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * The file a running logger keeps in the state dir, `csdk-logger-<pid>.json` (the same pattern as in
 * bin/containerd-sdk-logger.pl, a perl program).
 */
const MARKER = /^csdk-logger-(\d+)\.json$/

/** Options for {@link waitForLoggerDrain}. */
export interface WaitForLoggerDrainOptions {
  /** Stops waiting early (resolves false). */
  signal?: AbortSignal | undefined
  /** How long to wait for all loggers together. Default 5000 ms. */
  timeoutMs?: number | undefined
}

/**
 * Asks every json-file logger running for a container to drain, and waits until each has: call it once
 * the container's task has exited, so nothing writes to the pipes any more. Then everything the task
 * wrote is in the log file.
 *
 * The protocol (Node has no flock for nerdctl's `logger-lock`): the logger keeps `csdk-logger-<pid>.json`
 * while it runs. This notes the monotonic clock, sends the logger SIGUSR2, and waits until the file's
 * `drainedFrom` (the monotonic time the logger began emptying its pipes) is at or after that note, or
 * the file is gone (the logger finished). A marker whose process is not a logger (killed, pid reused)
 * is ignored.
 * @returns true when every logger drained (or none runs); false on timeout, abort, or a logger this
 *   process may not signal.
 */
export async function waitForLoggerDrain(stateDir: string, options: WaitForLoggerDrainOptions = {}): Promise<boolean> {
  const deadline = Date.now() + (options.timeoutMs ?? 5_000)
  let names: string[]
  try {
    names = await readdir(stateDir)
  } catch {
    return true
  }
  let all = true
  for (const name of names) {
    const m = MARKER.exec(name)
    if (m === null) continue
    if (!(await drainOne(join(stateDir, name), Number(m[1]), deadline, options.signal))) all = false
  }
  return all
}

async function drainOne(marker: string, pid: number, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (!(await isLogger(pid))) return true
  const from = process.hrtime.bigint()
  try {
    process.kill(pid, 'SIGUSR2')
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
  // Bounded by the deadline; the delay grows from 5 to 50 ms.
  for (let delay = 5; Date.now() < deadline; delay = Math.min(50, delay * 2)) {
    try {
      await sleep(delay, undefined, { signal })
    } catch {
      return false
    }
    const drainedFrom = await readDrainedFrom(marker)
    if (drainedFrom === 'gone' || (drainedFrom !== undefined && drainedFrom >= from)) return true
    if (!(await isLogger(pid))) return true
  }
  return false
}

async function readDrainedFrom(marker: string): Promise<bigint | 'gone' | undefined> {
  let text: string
  try {
    text = await readFile(marker, 'utf8')
  } catch {
    return 'gone'
  }
  try {
    const value = (JSON.parse(text) as { drainedFrom?: unknown }).drainedFrom
    return typeof value === 'string' && /^\d+$/.test(value) ? BigInt(value) : undefined
  } catch {
    return undefined
  }
}

/** A pid is our logger if its command line names the logger file (guards against reused pids). */
async function isLogger(pid: number): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes('containerd-sdk-logger')
  } catch {
    return false
  }
}
