/**
 * Makes every pull run pull for real. containerd shares blobs across namespaces (a fresh namespace alone
 * would find every layer already in the store and only take a reference to it), and an unpacked chain ID
 * that is still committed is skipped. So after each run, untimed: the image is removed with a synchronous
 * garbage collection, whatever is left of it (snapshots, blobs, leases) is removed too, and then the store
 * is checked from the outside: `ctr content ls` in every namespace used so far lists none of the image's
 * digests, none of them has a file under the content store, and the overlayfs snapshotter holds no
 * snapshot directory that was not there before the section.
 */
import { execFile } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { NotFoundError, type Client, type Digest } from '../../src/index.js'
import { CTR_PATH } from '../lib/bench-config.js'
import { blobFilePath, exists } from '../lib/blob-reset.js'

const run = promisify(execFile)
const SNAPSHOTTER = 'overlayfs'

export interface PullResetOptions {
  /** A client on the daemon (any namespace; views on the run namespaces are made from it). */
  client: Client
  /** The daemon's socket, for ctr. */
  address: string
  /** The daemon's root directory. */
  daemonRoot: string
  /** The image reference every run pulls. */
  reference: string
  /** Every blob of the image: manifest, config, layers. */
  digests: readonly Digest[]
}

export interface PullReset {
  /** Checks the store holds nothing of the image, in every namespace used so far (and on disk). */
  verifyClean(): Promise<void>
  /** Removes what a run stored in `namespace`, then {@link verifyClean}. */
  reset(namespace: string): Promise<void>
  /** Removes every namespace used (they are empty by then). */
  dispose(): Promise<void>
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path)
  } catch {
    return []
  }
}

async function ctrLines(address: string, namespace: string, args: readonly string[]): Promise<string[]> {
  const { stdout } = await run(CTR_PATH, ['--address', address, '-n', namespace, ...args], { maxBuffer: 16 * 2 ** 20 })
  return stdout.split('\n').map((line) => line.trim()).filter((line) => line !== '')
}

async function ignoreNotFound(work: Promise<unknown>): Promise<void> {
  try {
    await work
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
  }
}

export async function createPullReset(options: PullResetOptions): Promise<PullReset> {
  const { client, address, daemonRoot, reference, digests } = options
  const snapshotDir = join(daemonRoot, `io.containerd.snapshotter.v1.${SNAPSHOTTER}`, 'snapshots')
  const ingestDir = join(daemonRoot, 'io.containerd.content.v1.content', 'ingest')
  const baseline = new Set(await listDir(snapshotDir))
  const used = new Set<string>()

  const verifyClean = async (): Promise<void> => {
    const problems: string[] = []
    for (const namespace of used) {
      const listed = new Set(await ctrLines(address, namespace, ['content', 'ls', '-q']))
      const kept = digests.filter((d) => listed.has(d))
      if (kept.length > 0) problems.push(`ctr content ls -n ${namespace} still lists ${kept.join(', ')}`)
      // The first line is the header (KEY PARENT KIND).
      const snapshots = (await ctrLines(address, namespace, ['snapshots', '--snapshotter', SNAPSHOTTER, 'ls'])).slice(1)
      if (snapshots.length > 0) problems.push(`ctr snapshots ls -n ${namespace} still lists ${snapshots.length} snapshot(s)`)
    }
    for (const digest of digests) {
      const file = blobFilePath(daemonRoot, digest)
      if (await exists(file)) problems.push(`${file} is still on disk`)
    }
    const extra = (await listDir(snapshotDir)).filter((name) => !baseline.has(name))
    if (extra.length > 0) problems.push(`${extra.length} snapshot dir(s) left under ${snapshotDir}`)
    const ingests = await listDir(ingestDir)
    if (ingests.length > 0) problems.push(`${ingests.length} ingest(s) left under ${ingestDir}`)
    if (problems.length > 0) throw new Error(`the next pull would not start from an empty store:\n  ${problems.join('\n  ')}`)
  }

  return {
    verifyClean,
    reset: async (namespace) => {
      used.add(namespace)
      const ns = client.withNamespace(namespace)
      // Image record first: with it gone, a synchronous GC collects its blobs and snapshots.
      await ignoreNotFound(ns.images.remove(reference, { sync: true }))
      for (const lease of await ns.leases.list()) await ignoreNotFound(ns.leases.delete(lease.id, { sync: true }))
      // Whatever GC did not take (nothing, normally): snapshots top-down, like `ctr snapshots rm`, then blobs.
      const snapshots = ns.snapshots(SNAPSHOTTER)
      for (let pass = 0; pass < 64; pass++) {
        const infos = []
        for await (const info of snapshots.list()) infos.push(info)
        if (infos.length === 0) break
        const parents = new Set(infos.map((info) => info.parent))
        for (const info of infos) if (!parents.has(info.name)) await ignoreNotFound(snapshots.remove(info.name))
      }
      for (const status of await ns.content.listStatuses()) await ignoreNotFound(ns.content.abort(status.ref))
      for (const digest of digests) await ignoreNotFound(ns.content.delete(digest))
      // A lease deleted with sync makes containerd run its GC and wait for it (as blob-reset.ts does).
      await (await ns.leases.create()).delete({ sync: true })
      await verifyClean()
    },
    dispose: async () => {
      for (const namespace of used) await ignoreNotFound(client.namespaces.delete(namespace))
      used.clear()
    },
  }
}
