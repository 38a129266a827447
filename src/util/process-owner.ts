/**
 * Who made something: `<hostname>/<pid>/<start time>`, the start time being the process's start in clock
 * ticks after boot (`/proc/<pid>/stat` field 22). A pid alone is not enough: pids are reused, and a
 * reused pid has another start time. Used to label what a client creates, so that what a killed process
 * left can be told from what a live one is still using.
 */

import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'

/**
 * The start time of process `pid` in clock ticks after boot, or undefined when there is no such
 * process (or no /proc to read it from).
 */
export function processStartTime(pid: number): string | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Field 3 (state) is fields[0], so field 22 (starttime) is fields[19].
  return fields[19]
}

/**
 * The label naming the process that made a container (`<hostname>/<pid>/<start time>`): `run()` sets it,
 * and `client.containers.prune()` removes the `rm` runs whose owner died before it could remove them.
 */
export const OWNER_LABEL = 'containerd-sdk/owner'

let own: string | undefined

/** This process's owner token, `<hostname>/<pid>/<start time>`. */
export function ownerToken(): string {
  own ??= `${hostname()}/${process.pid}/${processStartTime(process.pid) ?? '0'}`
  return own
}

/**
 * Whether the process an owner token names is known to be gone: same host, and its pid is not running
 * or is running with another start time (reused). A token of another host, or one that does not parse,
 * is never called dead: we cannot see that process.
 */
export function isOwnerDead(token: string): boolean {
  const match = /^(.+)\/(\d+)\/(\d+)$/.exec(token)
  if (match === null || match[1] !== hostname()) return false
  const start = processStartTime(Number(match[2]))
  return start === undefined || start !== match[3]
}
