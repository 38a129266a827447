/**
 * Network namespaces that outlive a task: each networked container gets one, bind-mounted at a path of
 * its own, and its spec joins that path instead of asking runc for a new namespace. containerd's restart
 * monitor re-creates a task from the spec without this process; with the namespace (and its interfaces,
 * addresses and port rules) still there, the new task is back on the network without any hook. The
 * namespace goes when the container is stopped or removed through the SDK.
 *
 * Made with util-linux's `unshare --net=<file>`, which creates the namespace and bind-mounts it on the
 * file (Node cannot call unshare(2) or mount(2) itself) and runs iproute2's `ip` in it to bring loopback
 * up; removed with `umount` and unlink.
 */

import { spawn } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { InternalError } from '../grpc/errors.js'
import { exists } from '../util/optional-file.js'
import { inHostMountNamespace } from './host-mount-ns.js'

/** Where network namespaces are bind-mounted by default: iproute2's directory, so `ip netns` lists them. */
export const DEFAULT_NETNS_DIR = '/run/netns'

/**
 * The file name prefix of one daemon's namespace's network namespaces: `csdk-<daemon>-<namespace>-`, the
 * daemon being its data store key (two containerds on a host may use the same namespace names, and one
 * must never take the other's namespaces for orphans).
 */
export function netnsPrefix(daemon: string, namespace: string): string {
  return `csdk-${daemon}-${namespace}-`
}

/** The path of a container's network namespace: `<dir>/csdk-<daemon>-<namespace>-<id>`. */
export function netnsPath(dir: string, daemon: string, namespace: string, id: string): string {
  return join(dir, `${netnsPrefix(daemon, namespace)}${id}`)
}

/**
 * Creates a network namespace bind-mounted at `path` (a new file; a stale one from a crash is replaced).
 * @throws InternalError with `unshare`'s message when it fails.
 */
export async function createNetns(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 })
  // A file left by a crash between the two steps of a removal: unmount it too, then start afresh. (Only
  // then: the umount is a process start a new container does not need.)
  if (await exists(path)) await removeNetns(path)
  await writeFile(path, '', { mode: 0o444, flag: 'wx' })
  try {
    // Inside the new namespace, loopback is brought up: runc does that only for namespaces it makes itself
    // (a path-joined one is taken as it is), and a server on 127.0.0.1 in the container needs it.
    await runTool('unshare', [`--net=${path}`, 'ip', 'link', 'set', 'lo', 'up'])
  } catch (err) {
    await rm(path, { force: true })
    throw err
  }
}

/** How many mounts stacked on one path {@link removeNetns} takes off before giving up. */
const MAX_STACKED_MOUNTS = 8

/** Unmounts and removes a network namespace's file; nothing when it is not there. Idempotent. */
export async function removeNetns(path: string): Promise<void> {
  // `umount` fails when nothing is mounted there (a file never mounted, or already unmounted): that ends
  // the loop. A path mounted more than once needs one umount per mount before the file can go (EBUSY).
  for (let i = 0; i < MAX_STACKED_MOUNTS; i++) {
    const unmounted = await runTool('umount', ['--lazy', path]).then(
      () => true,
      () => false,
    )
    if (!unmounted) break
  }
  await rm(path, { force: true })
}

/** Runs a util-linux tool to completion; rejects with its stderr. */
function runTool(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // Mounted where containerd and runc look: see host-mount-ns.ts.
    const [program, argv] = inHostMountNamespace(command, args)
    const child = spawn(program, argv, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk
    })
    child.on('error', (err) => reject(new InternalError(`${command} could not run: ${err.message}`, { cause: err })))
    child.on('close', (code) => {
      if (code === 0) resolve()
      else reject(new InternalError(`${command} ${args.join(' ')} failed (exit ${String(code)}): ${stderr.trim()}`))
    })
  })
}
