/**
 * The host's processes from /proc, and killing a set of them with everything below them: what the test
 * kit's daemon stop and `containers.prune()`'s orphan-shim sweep both need.
 */

import { readdir, readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'

/** A process as /proc shows it. */
export interface ProcessEntry {
  /** Its parent's pid. */
  ppid: number
  /** Its arguments (argv[0] first). */
  cmdline: string[]
  /** Seconds since it started (from its start time in clock ticks and the system's uptime). */
  ageSeconds: number
}

// Linux reports start times in USER_HZ ticks, 100 per second on every architecture it runs on.
const TICKS_PER_SECOND = 100

/** Every process's parent, command line and age, from /proc (one that exits while read is left out). */
export async function processTable(): Promise<Map<number, ProcessEntry>> {
  const uptime = Number((await readFile('/proc/uptime', 'utf8').catch(() => '0')).split(' ')[0])
  const table = new Map<number, ProcessEntry>()
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
      // Fields after the command's closing parenthesis: state (3), ppid (4), …, starttime (22).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0')
      table.set(Number(entry), { ppid: Number(fields[1]), cmdline, ageSeconds: uptime - Number(fields[19]) / TICKS_PER_SECOND })
    } catch {
      // The process exited while we looked.
    }
  }
  return table
}

/** `roots` and every process below them in `table`, by parent pid. */
export function withDescendants(table: ReadonlyMap<number, ProcessEntry>, roots: Iterable<number>): Set<number> {
  const found = new Set<number>(roots)
  for (let grew = true; grew;) {
    grew = false
    for (const [pid, p] of table) {
      if (!found.has(pid) && found.has(p.ppid)) {
        found.add(pid)
        grew = true
      }
    }
  }
  return found
}

/** Whether `pid` runs (a zombie waiting for its parent does not count). */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** SIGKILLs `pids` and waits until none runs, at most `waitMs`. */
export async function killAndWait(pids: Iterable<number>, waitMs = 5_000): Promise<void> {
  const doomed = new Set(pids)
  for (const pid of doomed) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + waitMs
  while (doomed.size > 0 && Date.now() < deadline) {
    for (const pid of doomed) if (!(await isRunning(pid))) doomed.delete(pid)
    if (doomed.size > 0) await sleep(20)
  }
}
