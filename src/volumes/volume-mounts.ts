/**
 * From `-v` specs and an image's `VOLUME`s to a container's mounts and nerdctl labels, the way nerdctl's
 * `generateMountOpts` does it (`pkg/cmd/container/run_mount.go`): named volumes made when missing,
 * anonymous volumes (random 64-hex names) for `-v /path` and for every image `VOLUME` no spec covers, the
 * image's content at the mount path copied into a volume that is empty, and the mounts recorded in
 * `nerdctl/mounts.<N>` and `nerdctl/anonymous-volumes` so `nerdctl inspect`, `volume rm` and `rm -v` see them.
 */

import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rmdir, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { promisify } from 'node:util'
import type { ClientCore } from '../client/client.js'
import type { CallOptions } from '../grpc/call-options.js'
import { InvalidArgumentError } from '../grpc/errors.js'
import type { ImageConfig } from '../image-spec/image-config.js'
import { mountImage, unmountImage } from '../images/image-mount.js'
import type { ImageView } from '../images/image-view.js'
import { mountLabels, NerdctlLabel, type MountPoint } from '../nerdctl/labels.js'
import { withBindMount } from '../oci/mount-options.js'
import { parseBindMount, structuredBindMount, type BindMountSpec, type ParseBindMountOptions } from '../oci/mount-spec.js'
import type { Mount } from '../oci/runtime-spec.js'
import type { SpecOption } from '../oci/spec-options.js'
import { lookupInRoot } from '../util/root-path.js'
import { parseVolumeSpec, type VolumeSpec } from './volume-spec.js'
import { anonymousVolumeName, ANONYMOUS_VOLUME_LABEL, validateVolumeName, type NerdctlVolumeStore, type VolumeUsage } from './volume-store.js'

const run = promisify(execFile)

/** Image `VOLUME`s nerdctl refuses to make a volume of. */
const FORBIDDEN_IMAGE_VOLUMES = new Set(['/', '/dev', '/sys', '/proc'])

/** Options of {@link prepareVolumeMounts}. */
export interface PrepareVolumeMountsOptions extends CallOptions, ParseBindMountOptions {
  /**
   * The container's image: its `VOLUME`s get anonymous volumes, and its content at each volume's path is
   * copied into the volume when the volume is empty (needs `client`, and root: the image is mounted).
   * Without it there are no image volumes and nothing is copied.
   */
  image?: ImageView
  /** The image's config, when already read (saves reading it again). Default: `image.config()`. */
  imageConfig?: ImageConfig
  /** The connection the image is mounted through for the copy. Required with `image`. */
  client?: ClientCore
  /** The snapshotter the image is unpacked in. Default `overlayfs`. */
  snapshotter?: string
  /** `os/arch[/variant]` of a multi-platform image. Default this host's. */
  platform?: string
  /**
   * Container paths the container's other mounts (`mounts`, `tmpfs`) take: a spec at one of them is
   * refused (Docker's "duplicate mount point"), and no image `VOLUME` is made there (nerdctl skips those).
   */
  otherMountPaths?: readonly string[]
}

/** One mount {@link prepareVolumeMounts} made, in each form a caller may need. */
export interface PreparedMount {
  /** The OCI mount (type `bind`, with `rbind`, `ro` and the propagation as options). */
  mount: Mount
  /** The same mount for the `mounts` option of `createContainer` (a `-v` string or a structured bind). */
  spec: string | BindMountSpec
  /** The same mount as `nerdctl/mounts.<N>` records it. */
  mountPoint: MountPoint
}

/** What {@link prepareVolumeMounts} made. */
export interface PreparedVolumes {
  /** The mounts, parents before children (sorted by path depth, as nerdctl and Docker order them). */
  mounts: PreparedMount[]
  /** The mount points in spec order, then the image's volumes: the `nerdctl/mounts.<N>` labels' content. */
  mountPoints: MountPoint[]
  /** `nerdctl/mounts.<N>` and, when there are anonymous volumes, `nerdctl/anonymous-volumes` (a JSON list). */
  labels: Record<string, string>
  /** Names of the anonymous volumes made (for `-v /path` and the image's `VOLUME`s). */
  anonymousVolumes: string[]
  /** Names of the volumes this call made (anonymous ones and named ones that did not exist). */
  createdVolumes: string[]
  /** Removes the volumes this call made ({@link createdVolumes}); for a container create that failed. Idempotent. */
  undo(): Promise<void>
}

interface Planned {
  spec: VolumeSpec | { type: 'image'; destination: string }
  volume?: string
}

/**
 * Resolves `-v` specs (see {@link parseVolumeSpec}) and the image's `VOLUME`s into mounts, making the
 * volumes they need. All specs are checked before anything is written; if a later step fails, the volumes
 * made so far are removed again.
 *
 * - A named volume is made when missing (`volumes/<namespace>/<name>`), with no labels, as nerdctl does.
 * - `-v /path` and each image `VOLUME` not covered by a spec get a new anonymous volume, labelled
 *   `nerdctl/anonymous-volumes=""` so that `volume prune` (ours and nerdctl's) counts it as anonymous.
 * - A volume whose `_data` is empty gets the image's content at the mount path (a directory, symlinks
 *   resolved inside the image), copied with owners, modes and times (`cp -a`), unless `nocopy`.
 * - A bind source that does not exist is made (`mkdir -p`, mode 0755): nerdctl's `-v` does this
 *   (`ProcessFlagV(…, createDir=true)`), as Docker's `-v` does; it is not removed again by `undo`.
 *
 * @throws InvalidArgumentError for a bad spec, two mounts at one path, or a forbidden image `VOLUME`
 *   (`/`, `/dev`, `/sys`, `/proc`); NotFoundError when the image is not unpacked; errors of mount(8)/cp.
 */
export async function prepareVolumeMounts(store: NerdctlVolumeStore, specs: readonly string[], options: PrepareVolumeMountsOptions = {}): Promise<PreparedVolumes> {
  if (!Array.isArray(specs)) throw new InvalidArgumentError('volumes must be an array of strings such as ["data:/data", "/host:/mnt:ro"]')
  if (options.image !== undefined && options.client === undefined) {
    throw new InvalidArgumentError('prepareVolumeMounts: pass `client` with `image` (the image is mounted through it to copy its content)')
  }
  // Identical specs count once, as nerdctl dedupes them.
  const unique = [...new Set(specs)]
  const parsed = unique.map((s) => parseVolumeSpec(s, options))
  const seen = new Map<string, string>()
  for (const path of options.otherMountPaths ?? []) seen.set(cleanPath(path), `a mount at ${path}`)
  for (const [i, spec] of parsed.entries()) {
    const previous = seen.get(spec.destination)
    if (previous !== undefined) throw new InvalidArgumentError(`volumes: ${previous.startsWith('a mount') ? previous : `"${previous}"`} and "${unique[i]}" both mount ${spec.destination}; keep one`)
    seen.set(spec.destination, unique[i] ?? '')
  }
  const plan: Planned[] = parsed.map((spec) => ({ spec }))
  const config = options.imageConfig ?? (options.image !== undefined ? await options.image.config(imageOptions(options)) : undefined)
  for (const raw of Object.keys(config?.config?.Volumes ?? {}).sort()) {
    const destination = cleanPath(raw)
    if (FORBIDDEN_IMAGE_VOLUMES.has(destination) || !destination.startsWith('/')) {
      throw new InvalidArgumentError(`the image declares VOLUME ${JSON.stringify(raw)}, which cannot be a volume`)
    }
    if (seen.has(destination)) continue
    seen.set(destination, `VOLUME ${raw}`)
    plan.push({ spec: { type: 'image', destination } })
  }

  const created: string[] = []
  const undo = async (): Promise<void> => {
    const names = created.splice(0)
    await store.removeUnchecked(names)
  }
  const lock = { signal: options.signal, timeoutMs: options.timeoutMs }
  // One locked section for making the volumes and filling them (nerdctl holds the lock for the whole
  // create); a caller holding `store.withLock` around this and the container's creation keeps it longer.
  await store.withLock(async () => {
    try {
      await makeVolumes(store, plan, created, options)
    } catch (err) {
      await undo().catch(() => undefined)
      throw err
    }
  }, lock)

  const prepared = plan.map((item) => prepareMount(store, item, options))
  const mountPoints = prepared.map((p) => p.mountPoint)
  const anonymousVolumes = plan.filter((p) => p.spec.type === 'anonymous' || p.spec.type === 'image').map((p) => p.volume ?? '')
  const labels = mountLabels(mountPoints)
  if (anonymousVolumes.length > 0) labels[NerdctlLabel.anonymousVolumes] = JSON.stringify(anonymousVolumes)
  return {
    mounts: sortByDepth(prepared),
    mountPoints,
    labels,
    anonymousVolumes,
    createdVolumes: [...created],
    undo,
  }
}

/**
 * A spec option adding the prepared mounts (replacing default mounts at the same paths) and, for
 * `shared`/`slave` binds, the root propagation they need, as `mounts` does.
 */
export function withVolumeMounts(prepared: Pick<PreparedVolumes, 'mounts'>, options: ParseBindMountOptions = {}): SpecOption {
  const steps = prepared.mounts.map((m) => withBindMount(m.spec, options))
  return (spec) => {
    for (const step of steps) step(spec)
  }
}

/** Options of {@link removeAnonymousVolumes}. */
export interface RemoveAnonymousVolumesOptions extends CallOptions {
  /** Volumes another container still uses are kept (Docker keeps them; nerdctl removes them). Default: none checked. */
  inUse?: VolumeUsage
}

/**
 * Removes the anonymous volumes a container's `nerdctl/anonymous-volumes` label names (`docker rm -v`),
 * after the container is gone. Volumes already gone are skipped. Returns the names removed.
 */
export async function removeAnonymousVolumes(store: NerdctlVolumeStore, labels: Readonly<Record<string, string>>, options: RemoveAnonymousVolumesOptions = {}): Promise<string[]> {
  const raw = labels[NerdctlLabel.anonymousVolumes]
  if (raw === undefined || raw === '') return []
  let names: unknown
  try {
    names = JSON.parse(raw)
  } catch {
    return []
  }
  if (!Array.isArray(names)) return []
  const used = options.inUse !== undefined ? await options.inUse() : new Map<string, readonly string[]>()
  const valid = names.filter((n): n is string => typeof n === 'string' && isValid(n) && (used.get(n)?.length ?? 0) === 0)
  return store.removeUnchecked(valid, { signal: options.signal, timeoutMs: options.timeoutMs })
}

/** Makes what the plan needs (host dirs, volumes; `created` gets the new volumes' names), then copies the image's content up. */
async function makeVolumes(store: NerdctlVolumeStore, plan: Planned[], created: string[], options: PrepareVolumeMountsOptions): Promise<void> {
  for (const item of plan) {
    const spec = item.spec
    if (spec.type === 'bind') {
      await ensureBindSource(spec.source)
      continue
    }
    const named = spec.type === 'named'
    const name = named ? spec.name : anonymousVolumeName()
    const ensured = await store.ensure(name, named ? {} : { labels: { [ANONYMOUS_VOLUME_LABEL]: '' } })
    if (ensured.created) created.push(name)
    item.volume = name
  }
  if (options.image === undefined || options.client === undefined) return
  const targets = []
  for (const item of plan) {
    if (item.volume === undefined || (item.spec.type === 'named' && item.spec.noCopy)) continue
    const data = store.mountpoint(item.volume)
    if ((await readdir(data)).length === 0) targets.push({ path: item.spec.destination, data })
  }
  if (targets.length > 0) await copyFromImage(options.client, options.image, targets, options)
}

/**
 * Makes a missing bind source a directory (mode 0755): nerdctl's `-v` does (`createDirOnHost` with
 * `createDir=true`), as Docker's `-v` does. An existing source, a file too, is left as it is.
 */
async function ensureBindSource(source: string): Promise<void> {
  try {
    await stat(source)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    await mkdir(source, { recursive: true, mode: 0o755 })
  }
}

function isValid(name: string): boolean {
  try {
    validateVolumeName(name)
    return true
  } catch {
    return false
  }
}

function prepareMount(store: NerdctlVolumeStore, item: Planned, options: ParseBindMountOptions): PreparedMount {
  const spec = item.spec
  if (spec.type === 'bind') {
    const text = `${spec.source}:${spec.destination}${spec.mode === '' ? '' : `:${spec.mode}`}`
    return {
      mount: parseBindMount(text, options).mount,
      spec: text,
      mountPoint: mountPoint('bind', '', spec.source, spec.destination, spec.mode),
    }
  }
  const name = item.volume ?? ''
  const source = store.mountpoint(name)
  const readOnly = spec.type === 'named' && spec.readOnly
  const bind: BindMountSpec = { type: 'bind', source, target: spec.destination, ...(readOnly ? { readOnly } : {}) }
  const mode = spec.type === 'named' ? spec.mode : ''
  return { mount: structuredBindMount(bind, options).mount, spec: bind, mountPoint: mountPoint('volume', name, source, spec.destination, mode) }
}

/** A mount point as nerdctl's `dockercompatMounts` records it: RW and Propagation read from the mode. */
function mountPoint(type: 'bind' | 'volume', name: string, source: string, destination: string, mode: string): MountPoint {
  const opts = mode.split(',')
  const propagation = opts.filter((o) => ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'].includes(o)).at(-1) ?? ''
  return {
    Type: type,
    ...(name !== '' ? { Name: name } : {}),
    Source: source,
    Destination: destination,
    ...(type === 'volume' ? { Driver: 'local' } : {}),
    Mode: mode,
    RW: !opts.some((o) => o === 'ro' || o === 'rro'),
    Propagation: propagation,
  }
}

function cleanPath(path: string): string {
  return posix.normalize(path).replace(/(.)\/$/, '$1')
}

function sortByDepth(mounts: PreparedMount[]): PreparedMount[] {
  const depth = (m: PreparedMount): number => m.mount.destination.split('/').length
  return [...mounts].sort((a, b) => depth(a) - depth(b))
}

function imageOptions(options: PrepareVolumeMountsOptions): CallOptions & { platform?: string } {
  return { signal: options.signal, ...(options.platform !== undefined ? { platform: options.platform } : {}) }
}

/**
 * Mounts the image read-only once and copies, for each target, the image's directory at `path` into
 * `data` (`cp -a <dir>/. <data>/`), when that path is a directory in the image.
 */
async function copyFromImage(client: ClientCore, image: ImageView, targets: ReadonlyArray<{ path: string; data: string }>, options: PrepareVolumeMountsOptions): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'csdk-volume-'))
  try {
    const mountOptions = { ...imageOptions(options), ...(options.snapshotter !== undefined ? { snapshotter: options.snapshotter } : {}) }
    await mountImage(client, image, root, mountOptions)
    try {
      for (const { path, data } of targets) {
        // Copied only when it is a directory in the image, as Docker does.
        const found = await lookupInRoot(root, path)
        if (found === undefined || !found.stats.isDirectory()) continue
        await run('cp', ['-a', `${found.path}/.`, `${data}/`], { signal: options.signal, maxBuffer: 1024 * 1024 })
      }
    } finally {
      await unmountImage(client, root, options.snapshotter !== undefined ? { snapshotter: options.snapshotter } : {})
    }
  } finally {
    await rmdir(root).catch(() => undefined)
  }
}

