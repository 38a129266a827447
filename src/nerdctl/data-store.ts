import { createHash } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { join } from 'node:path'

/** Where nerdctl keeps its data when run as root; rootless nerdctl uses `$XDG_DATA_HOME/nerdctl`. */
export const DEFAULT_DATA_ROOT = '/var/lib/nerdctl'

/**
 * The data store nerdctl uses for one containerd: `<dataRoot>/<first 8 hex of sha256(socket path)>`, the
 * socket path with symlinks resolved (nerdctl hashes `EvalSymlinks(address)`), so two tools talking to the
 * same daemon share names, state dirs and logs. `/run/containerd/containerd.sock` gives `…/1935db59`.
 */
export function dataStorePath(address: string, dataRoot: string = DEFAULT_DATA_ROOT): string {
  return join(dataRoot, daemonKey(address))
}

/**
 * The 8 hex digits that tell one containerd from another on this host (nerdctl's data store name): the
 * first 8 of sha256 of its socket path, symlinks resolved.
 */
export function daemonKey(address: string): string {
  const socket = address.replace(/^unix:\/\//, '')
  let resolved = socket
  try {
    resolved = realpathSync(socket)
  } catch {
    // A socket not (yet) there hashes as written, like EvalSymlinks' caller falling back.
  }
  return createHash('sha256').update(resolved).digest('hex').slice(0, 8)
}

/** A container's state dir in a data store: `<store>/containers/<namespace>/<id>` (nerdctl's layout). */
export function containerStateDir(dataStore: string, namespace: string, id: string): string {
  return join(dataStore, 'containers', namespace, id)
}

/** A container's json-file log in a data store: `<state dir>/<id>-json.log` (nerdctl's path). */
export function jsonLogPath(dataStore: string, namespace: string, id: string): string {
  return join(containerStateDir(dataStore, namespace, id), `${id}-json.log`)
}
