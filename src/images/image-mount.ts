import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import type { ClientCore } from '../client/client.js'
import { InvalidArgumentError, NotFoundError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import type { ImageView } from './image-view.js'
import { chainIds } from './unpack.js'

const run = promisify(execFile)

/** Options of `image.mount()`. */
export interface MountImageOptions extends CallOptions {
  /** The snapshotter the image is unpacked in. Default `overlayfs`. */
  snapshotter?: string
  /** `os/arch[/variant]` of a multi-platform image. Default this host's. */
  platform?: string
}

/** The snapshot key of a mount at `dir`: derived from the path, so unmount finds it again. */
function viewKey(dir: string): string {
  return `csdk-mount-${createHash('sha256').update(dir).digest('hex').slice(0, 32)}`
}

/**
 * Mounts an unpacked image read-only at `dir` (like `ctr images mount`): a view snapshot of its top
 * layer, kept from garbage collection until {@link unmountImage}. Needs root (it runs mount(8)).
 * @throws FailedPreconditionError-like NotFoundError when the image is not unpacked in the snapshotter.
 */
export async function mountImage(client: ClientCore, image: ImageView, dir: string, options: MountImageOptions = {}): Promise<void> {
  if (!dir.startsWith('/')) throw new InvalidArgumentError(`mount target must be an absolute path, got ${dir}`)
  const snapshotter = options.snapshotter ?? 'overlayfs'
  if (!(await image.isUnpacked(options))) throw new NotFoundError(`image ${image.name} is not unpacked in ${snapshotter}: pull it with unpack first`)
  const config = await image.config(options)
  const top = chainIds(config.rootfs.diff_ids).at(-1) ?? ''
  const key = viewKey(dir)
  const snapshots = client.snapshots(snapshotter)
  const mounts = await snapshots.view(key, top, { labels: { 'containerd.io/gc.root': new Date().toISOString() }, signal: options.signal })
  try {
    for (const m of mounts) {
      const opts = m.type === 'bind' || m.type === 'rbind' ? [...m.options.filter((o) => o !== 'rw'), 'ro'] : m.options
      await run('mount', ['-t', m.type === 'rbind' ? 'bind' : m.type, '-o', opts.join(','), m.source, dir])
    }
  } catch (err) {
    await snapshots.remove(key).catch(() => undefined)
    throw err
  }
}

/** Unmounts what {@link mountImage} mounted at `dir` and removes its view snapshot. */
export async function unmountImage(client: ClientCore, dir: string, options: { snapshotter?: string } & CallOptions = {}): Promise<void> {
  await run('umount', [dir])
  await client.snapshots(options.snapshotter ?? 'overlayfs').remove(viewKey(dir), options)
}
