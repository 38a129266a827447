import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { constants } from 'node:fs'
import { mkdtemp, open, rmdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Transform, type TransformCallback } from 'node:stream'
import { promisify } from 'node:util'
import { createGunzip } from 'node:zlib'
import { extract } from 'tar-stream'
import type { ClientCore } from '../client/client.js'
import type { Mount } from '../client/snapshots/snapshot-store.js'
import type { CallOptions } from '../grpc/call-options.js'
import { CanceledError, ResourceExhaustedError } from '../grpc/errors.js'
import type { ImageConfig } from '../image-spec/image-config.js'
import type { ImageManifest } from '../image-spec/manifest.js'
import { parseJson } from '../image-spec/parse.js'
import { chainIds } from '../images/unpack.js'
import type { UserDatabase } from '../oci/user-database.js'
import { lookupInRoot } from '../util/root-path.js'

const run = promisify(execFile)

/** The most bytes read of `/etc/passwd` or `/etc/group`: a larger file is refused, not read. */
export const MAX_USER_FILE_BYTES = 1024 * 1024

/**
 * The most layer bytes inflated when the files must be searched for in the layers (no mount: not root,
 * or the snapshots are not visible from here). A gzip bomb of a few MiB inflates to GiBs: searching one
 * whole cost 8.5 CPU-seconds of the client's.
 */
export const MAX_LAYER_SCAN_BYTES = 64 * 1024 * 1024

// How long a view's lease outlives a crash of ours: the daemon then collects the view.
const VIEW_LEASE_MS = 10 * 60 * 1000

/** Options of {@link readUserDatabase}. */
export interface ReadUserDatabaseOptions extends CallOptions {
  /** The snapshotter the image is unpacked in. Default `overlayfs`. */
  snapshotter?: string
}

/**
 * The image's `/etc/passwd` and `/etc/group` (each left out when the image has none), to resolve user
 * and group names the way the container will see them. Read like the Go client's `WithUser` does: from a
 * read-only mount of the prepared rootfs (here a view snapshot of the image's top layer, under a lease
 * of its own, unmounted and removed afterwards), so no layer is inflated in this process; symlinks are
 * resolved inside that root. Mounting needs root and the daemon's snapshot directories; without them the
 * layers are searched from the top down instead, inflating at most {@link MAX_LAYER_SCAN_BYTES}.
 * @throws ResourceExhaustedError when a file is larger than {@link MAX_USER_FILE_BYTES}, or the layer
 *   search passes its bound; CanceledError on abort.
 */
export async function readUserDatabase(client: ClientCore, manifest: ImageManifest, options: ReadUserDatabaseOptions = {}): Promise<UserDatabase> {
  // An image without layers has no files: nothing to ask the daemon.
  if (manifest.layers.length === 0) return {}
  const call = callOptions(options)
  const config = parseJson<ImageConfig>(await client.content.readAll(manifest.config.digest, call), `config ${manifest.config.digest}`)
  const top = chainIds(config.rootfs?.diff_ids ?? []).at(-1)
  if (top === undefined) return {}
  if (process.getuid?.() === 0) {
    try {
      return await readFromView(client, options.snapshotter ?? 'overlayfs', top, call)
    } catch (err) {
      if (err instanceof CanceledError || err instanceof ResourceExhaustedError || options.signal?.aborted === true) throw err
      // Not unpacked here, or mounting is not possible from this process: search the layers instead.
    }
  }
  const budget = { left: MAX_LAYER_SCAN_BYTES }
  const [passwd, group] = [await readImageFile(client, manifest, '/etc/passwd', call, budget), await readImageFile(client, manifest, '/etc/group', call, budget)]
  return toDatabase(passwd, group)
}

function toDatabase(passwd: Buffer | undefined, group: Buffer | undefined): UserDatabase {
  return { ...(passwd !== undefined ? { passwd: passwd.toString('utf8') } : {}), ...(group !== undefined ? { group: group.toString('utf8') } : {}) }
}

/** Mounts a view of `parent` read-only at a temporary directory, reads the two files, and undoes it all. */
async function readFromView(client: ClientCore, snapshotter: string, parent: string, options: CallOptions): Promise<UserDatabase> {
  // The lease keeps a view we could not remove (a crash) from living on: the daemon collects it on expiry.
  return client.underLease(async (leased) => {
    const snapshots = leased.snapshots(snapshotter)
    const key = `csdk-userdb-${randomUUID()}`
    const mounts = await snapshots.view(key, parent, options)
    try {
      const dir = await mkdtemp(join(tmpdir(), 'csdk-userdb-'))
      try {
        let mounted = 0
        try {
          for (const m of mounts) {
            await run('mount', mountArgs(m, dir))
            mounted++
          }
          const passwd = await readRootFile(dir, 'etc/passwd')
          const group = await readRootFile(dir, 'etc/group')
          return toDatabase(passwd, group)
        } finally {
          for (; mounted > 0; mounted--) await run('umount', [dir]).catch(() => run('umount', ['-l', dir]))
        }
      } finally {
        await rmdir(dir).catch(() => undefined)
      }
    } finally {
      await snapshots.remove(key).catch(() => undefined)
    }
  }, { ...options, expiresInMs: VIEW_LEASE_MS })
}

/** mount(8) arguments for one of a view's mounts, read-only whatever the snapshotter said. */
function mountArgs(m: Mount, dir: string): string[] {
  const type = m.type === 'rbind' ? 'bind' : m.type
  const opts = [...m.options.filter((o) => o !== 'rw' && o !== 'ro'), 'ro']
  return ['-t', type, '-o', opts.join(','), m.source, dir]
}

/**
 * Reads `path` (relative) inside `root` as the container would see it: symlinks, absolute ones too, are
 * followed within `root` (never out of it, like containerd's `fs.RootPath`), at most 40 of them. Only a
 * regular file is read; anything else, or a missing component, is no file.
 * @throws ResourceExhaustedError when the file is larger than {@link MAX_USER_FILE_BYTES}.
 */
export async function readRootFile(root: string, path: string): Promise<Buffer | undefined> {
  const found = await lookupInRoot(root, path)
  if (found === undefined || !found.stats.isFile()) return undefined
  if (found.stats.size > MAX_USER_FILE_BYTES) throw tooLarge(path, found.stats.size)
  return readBounded(found.path, path)
}

// O_NOFOLLOW and O_NONBLOCK: the path was checked to be a regular file; refuse whatever replaced it since.
async function readBounded(file: string, name: string): Promise<Buffer | undefined> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined)
  if (handle === undefined) return undefined
  try {
    const buf = Buffer.alloc(MAX_USER_FILE_BYTES + 1)
    let total = 0
    for (;;) {
      const { bytesRead } = await handle.read(buf, total, buf.byteLength - total, null)
      if (bytesRead === 0) break
      total += bytesRead
      if (total > MAX_USER_FILE_BYTES) throw tooLarge(name, total)
    }
    return buf.subarray(0, total)
  } finally {
    await handle.close()
  }
}

function tooLarge(path: string, size: number): ResourceExhaustedError {
  return new ResourceExhaustedError(`the image's /${path.replace(/^\/+/, '')} is ${size} bytes or more, over the ${MAX_USER_FILE_BYTES} read to resolve users`)
}

/**
 * Reads one small file (e.g. `/etc/passwd`) out of an image's layers without mounting anything: layers
 * are searched from the top down, a whiteout (`.wh.<name>` or an opaque directory marker) hides the file
 * in lower layers. Returns undefined when no layer has it. At most `budget.left` bytes of layers are
 * inflated (shared by the calls given the same budget).
 * @throws ResourceExhaustedError when the search would inflate more.
 */
export async function readImageFile(
  client: ClientCore,
  manifest: ImageManifest,
  path: string,
  options: CallOptions = {},
  budget: { left: number } = { left: MAX_LAYER_SCAN_BYTES },
): Promise<Buffer | undefined> {
  const wanted = path.replace(/^\/+/, '')
  const dir = wanted.includes('/') ? wanted.slice(0, wanted.lastIndexOf('/') + 1) : ''
  const base = wanted.slice(dir.length)
  for (const layer of [...manifest.layers].reverse()) {
    const found = await searchLayer(client, layer.digest, layer.mediaType, wanted, `${dir}.wh.${base}`, `${dir}.wh..wh..opq`, options, budget)
    if (found === 'deleted') return undefined
    if (found !== undefined) return found
  }
  return undefined
}

/** Passes bytes on until the budget is spent, then fails. */
class Budget extends Transform {
  constructor(private readonly budget: { left: number }) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.budget.left -= chunk.byteLength
    if (this.budget.left < 0) {
      callback(new ResourceExhaustedError(
        `reading /etc/passwd and /etc/group out of the image's layers stopped after ${MAX_LAYER_SCAN_BYTES} bytes: run as root so the image can be mounted (as containerd's Go client does), or give a numeric uid:gid`,
      ))
      return
    }
    callback(null, chunk)
  }
}

async function searchLayer(
  client: ClientCore,
  digest: string,
  mediaType: string,
  wanted: string,
  whiteout: string,
  opaque: string,
  options: CallOptions,
  budget: { left: number },
): Promise<Buffer | 'deleted' | undefined> {
  const tar = extract()
  const source = client.content.read(digest, options)
  const counted = new Budget(budget)
  const done = mediaType.endsWith('gzip') ? pipeline(source, createGunzip(), counted, tar) : pipeline(source, counted, tar)
  // The pipeline's failure (the budget's error among them) fails the tar stream, so the loop below sees it.
  done.catch(() => undefined)
  let result: Buffer | 'deleted' | undefined
  try {
    for await (const entry of tar) {
      const name = entry.header.name.replace(/^\.\//, '').replace(/^\/+/, '')
      if (result === undefined && (name === whiteout || name === opaque)) result = 'deleted'
      if (name === wanted && entry.header.type === 'file') {
        if ((entry.header.size ?? 0) > MAX_USER_FILE_BYTES) throw tooLarge(wanted, entry.header.size ?? 0)
        const chunks: Buffer[] = []
        for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk)
        result = Buffer.concat(chunks)
        break // the rest of the layer cannot change the answer
      } else {
        entry.resume()
      }
    }
  } finally {
    source.destroy()
  }
  return result
}

function callOptions(options: CallOptions): CallOptions {
  return { ...(options.signal !== undefined ? { signal: options.signal } : {}), ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) }
}
