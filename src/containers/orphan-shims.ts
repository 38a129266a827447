/**
 * Shims a crashed containerd lost: containerd SIGKILLed while it started a task leaves the task's shim
 * (and the container's process under it) running with no record of it once the daemon is back, and
 * removing the container does not reach it (the 1 000-iteration soak found one to five per line). A shim's
 * command line names its daemon's socket, namespace and container id, so one whose container containerd
 * does not know can be told, and is killed with everything below it (the container's init, whose death
 * ends its PID namespace).
 */

import type { ClientCore } from '../client/client.js'
import { killAndWait, processTable, withDescendants } from '../util/process-tree.js'

/** The value after `flag` in a shim's arguments (`-namespace x`, `--namespace=x`). */
function argument(cmdline: readonly string[], flag: string): string | undefined {
  for (const [i, arg] of cmdline.entries()) {
    if (arg === `-${flag}` || arg === `--${flag}`) return cmdline[i + 1]
    if (arg.startsWith(`-${flag}=`) || arg.startsWith(`--${flag}=`)) return arg.slice(arg.indexOf('=') + 1)
  }
  return undefined
}

/**
 * Kills the shims of the client's daemon and namespace whose container id is not in `known`, once they
 * are `staleSeconds` old (a younger one may belong to a container being made or removed right now), with
 * their descendants. Returns the container ids they served.
 */
export async function killOrphanShims(client: Pick<ClientCore, 'address' | 'namespace'>, known: ReadonlySet<string>, staleSeconds: number): Promise<string[]> {
  const socket = client.address.replace(/^unix:\/\//, '')
  const table = await processTable()
  const orphans: number[] = []
  const ids: string[] = []
  for (const [pid, p] of table) {
    if (p.cmdline[0]?.includes('containerd-shim') !== true) continue
    if (argument(p.cmdline, 'address') !== socket || argument(p.cmdline, 'namespace') !== client.namespace) continue
    const id = argument(p.cmdline, 'id')
    if (id === undefined || known.has(id) || p.ageSeconds < staleSeconds) continue
    orphans.push(pid)
    ids.push(id)
  }
  if (orphans.length > 0) await killAndWait(withDescendants(table, orphans))
  return ids
}
