/**
 * nerdctl's volume store: `<data store>/volumes/<namespace>/<name>/volume.json` (`{"labels":{…}}`) beside
 * `<name>/_data`, the directory bind-mounted into containers (`pkg/mountutil/volumestore`). Every
 * read-modify-write holds the `flock` nerdctl takes on `volumes/<namespace>`, and `volume.json` is written
 * through a temp file and a rename, so volumes made here and by `nerdctl volume create` are one set.
 */

import { AsyncLocalStorage } from 'node:async_hooks'
import { randomBytes } from 'node:crypto'
import { lstat, mkdir, readFile, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { validateIdentifier } from '../client/identifiers.js'
import { CALL_OPTION_KEYS, checkOptionKeys, keysOf } from '../client/option-check.js'
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../grpc/errors.js'
import { withDirLock, writeFileAtomic, STORE_DIR_MODE, type DirLockOptions } from '../nerdctl/dir-lock.js'
import { NerdctlLabel } from '../nerdctl/labels.js'

/** Docker's rule for volume names (nerdctl's `identifiers.ValidateDockerCompat`): two or more characters. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/

// Each volume is a directory: its name must fit in a file name (nerdctl's `ValidatePathComponent`).
const MAX_NAME_BYTES = 255

/** The file holding a volume's labels, in the volume's directory. */
export const VOLUME_JSON = 'volume.json'

/** The volume's data directory, in the volume's directory: the host side of its mounts. */
export const VOLUME_DATA_DIR = '_data'

/**
 * Mode of `_data`. nerdctl makes it 0700 (its store's directory mode); Docker's local driver 0755, which
 * lets a container's non-root users read a volume nothing was copied into. We follow Docker: the mode is
 * not part of nerdctl's format, and a copy-up replaces it with the image directory's mode anyway.
 */
const DATA_DIR_MODE = 0o755

/**
 * The label nerdctl puts on volumes made without a name (`nerdctl volume create` with no name), with an
 * empty value; `volume prune` without `--all` removes only volumes carrying it. We put it on every
 * anonymous volume we make, those of `-v /path` and of an image's `VOLUME`s too, so that both prunes find them.
 */
export const ANONYMOUS_VOLUME_LABEL = NerdctlLabel.anonymousVolumes

/** A volume as `docker volume inspect` shows it (nerdctl's `native.Volume` plus Docker's fixed fields). */
export interface VolumeInfo {
  /** When the volume was made (RFC 3339, the modification time of its directory, as Docker's local driver reports it). */
  CreatedAt: string
  /** Always `local`. */
  Driver: 'local'
  /** The labels given at creation (`{}` when none). */
  Labels: Record<string, string>
  /** The host directory mounted into containers: `<data store>/volumes/<namespace>/<name>/_data`. */
  Mountpoint: string
  /** The volume's name. */
  Name: string
  /** Always `local`. */
  Scope: 'local'
  /** Bytes of the files under `_data` (sizes of non-directories, as nerdctl counts); only when asked for. */
  Size?: number
}

/** Options of {@link NerdctlVolumeStore.create}. */
export interface CreateVolumeOptions extends DirLockOptions {
  /** Labels written to `volume.json`. Ignored when the volume exists already (as in nerdctl and Docker). */
  labels?: Readonly<Record<string, string>>
}

/** Options of {@link NerdctlVolumeStore.inspect}. */
export interface InspectVolumeOptions extends DirLockOptions {
  /** Also compute `Size` (walks the whole volume). Default false. */
  size?: boolean
}

/** Options of {@link NerdctlVolumeStore.list}. */
export interface ListVolumesOptions extends InspectVolumeOptions {
  /**
   * `docker volume ls --filter` values: `label=<key>` or `label=<key>=<value>` (all must match),
   * `name=<regular expression>` (any may match, as nerdctl matches it), `dangling=true|false` (no
   * container uses it; needs `inUse`). Default: every volume.
   */
  filters?: readonly string[]
  /** Which containers use which volumes, for the `dangling` filter. */
  inUse?: VolumeUsage
}

/**
 * Which containers use which volumes: volume name → ids of the containers using it. `volumesInUse(client)`
 * gives it from the containers' `nerdctl/mounts` and `nerdctl/anonymous-volumes` labels.
 */
export type VolumeUsage = () => Promise<ReadonlyMap<string, readonly string[]>>

/** Options of {@link NerdctlVolumeStore.remove}. */
export interface RemoveVolumeOptions extends DirLockOptions {
  /** Asked under the store's lock; a volume some container uses is not removed. Default: nothing is checked. */
  inUse?: VolumeUsage
}

/** Options of {@link NerdctlVolumeStore.prune}. */
export interface PruneVolumesOptions extends DirLockOptions {
  /** Asked under the store's lock; volumes in use are kept. Required: pruning blind would remove volumes in use. */
  inUse: VolumeUsage
  /** Remove named volumes too, not only anonymous ones (`docker volume prune --all`). Default false. */
  all?: boolean
}

/** Known keys of {@link CreateVolumeOptions}, for the run-time check of JavaScript callers' options. */
export const CREATE_VOLUME_OPTION_KEYS = keysOf<CreateVolumeOptions>()({ ...CALL_OPTION_KEYS, labels: true })
/** Known keys of {@link InspectVolumeOptions}. */
export const INSPECT_VOLUME_OPTION_KEYS = keysOf<InspectVolumeOptions>()({ ...CALL_OPTION_KEYS, size: true })
/** Known keys of {@link ListVolumesOptions}. */
export const LIST_VOLUMES_OPTION_KEYS = keysOf<ListVolumesOptions>()({ ...INSPECT_VOLUME_OPTION_KEYS, filters: true, inUse: true })
/** Known keys of {@link RemoveVolumeOptions}. */
export const REMOVE_VOLUME_OPTION_KEYS = keysOf<RemoveVolumeOptions>()({ ...CALL_OPTION_KEYS, inUse: true })
/** Known keys of {@link PruneVolumesOptions}. */
export const PRUNE_VOLUMES_OPTION_KEYS = keysOf<PruneVolumesOptions>()({ ...CALL_OPTION_KEYS, inUse: true, all: true })

/** What {@link NerdctlVolumeStore.ensure} did. */
export interface EnsuredVolume {
  /** The volume. */
  volume: VolumeInfo
  /** Whether this call made it (false: it existed). */
  created: boolean
}

/**
 * Checks a volume name by Docker's rule: a letter or digit, then one or more letters, digits, `_`, `.` or `-`.
 * @throws InvalidArgumentError naming the rule.
 */
export function validateVolumeName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name) : String(name)
    throw new InvalidArgumentError(
      `volume name ${shown} is invalid: use at least two characters, a letter or digit first, then letters, digits, '_', '.' or '-'`,
    )
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new InvalidArgumentError(`volume name "${name.slice(0, 32)}…" is ${name.length} characters long; at most ${MAX_NAME_BYTES} are allowed (it is a directory name)`)
  }
}

/** Whether `name` is a valid volume name (so `-v name:/dst` names a volume, not a host path). */
export function isVolumeName(name: string): boolean {
  return NAME.test(name) && Buffer.byteLength(name) <= MAX_NAME_BYTES
}

/** A new anonymous volume name: 64 random hex characters, like nerdctl's `idgen.GenerateID`. */
export function anonymousVolumeName(): string {
  return randomBytes(32).toString('hex')
}

// The store locks the current async context holds (see NerdctlVolumeStore.withLock); `active` turns false when
// the lock is released, so a callback that outlives the locked section does not take itself for the holder.
interface HeldLock {
  dir: string
  active: boolean
}
const held = new AsyncLocalStorage<readonly HeldLock[]>()

/** The directory of a namespace's volume store: `<data store>/volumes/<namespace>`. */
export function volumeStoreDir(dataStore: string, namespace: string): string {
  return join(dataStore, 'volumes', namespace)
}

/**
 * The volume store of one namespace in one nerdctl data store. Every method holds the store directory's
 * lock for its duration, so it is safe against concurrent calls here, in other processes and in nerdctl.
 */
export class NerdctlVolumeStore {
  /** The store's directory, `<data store>/volumes/<namespace>`. */
  readonly dir: string

  /**
   * @param dataStore the nerdctl data store (see `dataStorePath`).
   * @param namespace the containerd namespace.
   * @throws InvalidArgumentError for an invalid namespace.
   */
  constructor(dataStore: string, namespace: string) {
    validateIdentifier('namespace', namespace)
    this.dir = volumeStoreDir(dataStore, namespace)
  }

  /**
   * Runs `fn` holding the store's lock, as nerdctl holds it for a whole `container create`: the calls of
   * this store made inside `fn` (and `prepareVolumeMounts` on it) run under that lock without taking it
   * again, and no `volume rm`/`prune`, ours or nerdctl's, runs until `fn` settles. Wrap the preparing of a
   * container's volumes and the creating of its record in it, so a prune cannot take a new anonymous
   * volume before the container's labels name it. "Inside" is the async context: whatever `fn` starts,
   * awaited or not, runs as the lock's holder until `fn` settles.
   * @throws DeadlineExceededError when the lock is not obtained in time; CanceledError on abort.
   */
  async withLock<T>(fn: () => Promise<T>, options: DirLockOptions = {}): Promise<T> {
    return this.locked(fn, options)
  }

  private async locked<T>(fn: () => Promise<T>, options: DirLockOptions): Promise<T> {
    const current = held.getStore() ?? []
    if (current.some((h) => h.active && h.dir === this.dir)) return fn()
    return withDirLock(this.dir, async () => {
      const token: HeldLock = { dir: this.dir, active: true }
      try {
        return await held.run([...current, token], fn)
      } finally {
        token.active = false
      }
    }, options)
  }

  /** The data directory of volume `name` (whether or not it exists). @throws InvalidArgumentError for a bad name. */
  mountpoint(name: string): string {
    validateVolumeName(name)
    return join(this.dir, name, VOLUME_DATA_DIR)
  }

  /**
   * Makes volume `name`, or returns it as it is when it exists (labels are then not changed, as in
   * nerdctl and Docker). Without a name, makes an anonymous volume: a random 64-hex name and the label
   * `nerdctl/anonymous-volumes=""`, as `nerdctl volume create` does.
   * @throws InvalidArgumentError for an invalid name (nothing is written).
   */
  async create(name?: string, options: CreateVolumeOptions = {}): Promise<VolumeInfo> {
    checkOptionKeys(options, CREATE_VOLUME_OPTION_KEYS, 'volumes.create()')
    const labels = name === undefined ? { ...options.labels, [ANONYMOUS_VOLUME_LABEL]: '' } : options.labels
    return (await this.ensure(name ?? anonymousVolumeName(), { ...options, ...(labels !== undefined ? { labels } : {}) })).volume
  }

  /**
   * Like {@link create}, and tells whether the volume was made by this call.
   * @throws InvalidArgumentError for an invalid name (nothing is written).
   */
  async ensure(name: string, options: CreateVolumeOptions = {}): Promise<EnsuredVolume> {
    validateVolumeName(name)
    const labels = checkLabels(options.labels)
    return this.locked(async () => {
      const created = !(await this.exists(name))
      if (created) {
        await mkdir(join(this.dir, name), { mode: STORE_DIR_MODE, recursive: true })
        await writeFileAtomic(join(this.dir, name, VOLUME_JSON), volumeJson(labels))
      }
      // Also for a volume that exists: nerdctl's `GroupEnsure` makes a missing `_data` again.
      await mkdir(join(this.dir, name, VOLUME_DATA_DIR), { mode: DATA_DIR_MODE, recursive: true })
      return { volume: await this.read(name, false), created }
    }, options)
  }

  /**
   * The volume `name` in `docker volume inspect`'s shape.
   * @throws NotFoundError when there is no such volume; InvalidArgumentError for an invalid name.
   */
  async inspect(name: string, options: InspectVolumeOptions = {}): Promise<VolumeInfo> {
    checkOptionKeys(options, INSPECT_VOLUME_OPTION_KEYS, 'volumes.inspect()')
    validateVolumeName(name)
    return this.locked(async () => {
      if (!(await this.exists(name))) throw notFound(name)
      return this.read(name, options.size === true)
    }, options)
  }

  /**
   * The volumes matching `filters` (default all), sorted by name. Entries that are not volumes (no
   * `volume.json`) are skipped, as nerdctl does.
   * @throws InvalidArgumentError for an unknown filter, a bad regular expression, or `dangling` without `inUse`.
   */
  async list(options: ListVolumesOptions = {}): Promise<VolumeInfo[]> {
    checkOptionKeys(options, LIST_VOLUMES_OPTION_KEYS, 'volumes.list()')
    const match = volumeFilter(options.filters ?? [], options.inUse !== undefined)
    return this.locked(async () => {
      const used = match.needsUsage && options.inUse !== undefined ? await options.inUse() : new Map<string, readonly string[]>()
      const out: VolumeInfo[] = []
      for (const name of await this.names()) {
        const volume = await this.read(name, options.size === true).catch(() => undefined)
        if (volume !== undefined && match.test(volume, (used.get(name)?.length ?? 0) > 0)) out.push(volume)
      }
      return out
    }, options)
  }

  /**
   * Removes volume `name` and its data.
   * @throws NotFoundError when there is no such volume; FailedPreconditionError naming the containers that
   *   use it (per `inUse`); InvalidArgumentError for an invalid name.
   */
  async remove(name: string, options: RemoveVolumeOptions = {}): Promise<void> {
    checkOptionKeys(options, REMOVE_VOLUME_OPTION_KEYS, 'volumes.remove()')
    validateVolumeName(name)
    await this.locked(async () => {
      if (!(await this.exists(name))) throw notFound(name)
      const users = (await options.inUse?.())?.get(name) ?? []
      if (users.length > 0) {
        throw new FailedPreconditionError(`volume "${name}" is in use by container ${users.join(', ')}: remove ${users.length > 1 ? 'them' : 'it'} first`)
      }
      await rm(join(this.dir, name), { recursive: true, force: true })
    }, options)
  }

  /**
   * Removes the volumes no container uses: anonymous ones only (those labelled `nerdctl/anonymous-volumes=""`,
   * nerdctl's rule), or every unused one with `all`. Returns the names removed.
   */
  async prune(options: PruneVolumesOptions): Promise<string[]> {
    checkOptionKeys(options, PRUNE_VOLUMES_OPTION_KEYS, 'volumes.prune()')
    if (typeof options?.inUse !== 'function') {
      throw new InvalidArgumentError('volumes.prune() needs inUse, a function giving the volumes containers use (e.g. () => volumesInUse(client))')
    }
    return this.locked(async () => {
      const used = await options.inUse()
      const removed: string[] = []
      for (const name of await this.names()) {
        if ((used.get(name)?.length ?? 0) > 0) continue
        const volume = await this.read(name, false).catch(() => undefined)
        if (volume === undefined) continue
        if (options.all !== true && volume.Labels[ANONYMOUS_VOLUME_LABEL] !== '') continue
        await rm(join(this.dir, name), { recursive: true, force: true })
        removed.push(name)
      }
      return removed
    }, options)
  }

  /**
   * Removes the volumes among `names` that exist, in one locked step, without checking use (for undoing
   * what a failed create made, and `docker rm -v`). Returns the names removed.
   */
  async removeUnchecked(names: readonly string[], options: DirLockOptions = {}): Promise<string[]> {
    for (const name of names) validateVolumeName(name)
    if (names.length === 0) return []
    return this.locked(async () => {
      const removed: string[] = []
      for (const name of names) {
        if (!(await this.exists(name))) continue
        await rm(join(this.dir, name), { recursive: true, force: true })
        removed.push(name)
      }
      return removed
    }, options)
  }

  private async exists(name: string): Promise<boolean> {
    try {
      await lstat(join(this.dir, name, VOLUME_JSON))
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false
      throw err
    }
  }

  private async names(): Promise<string[]> {
    const entries = await readdir(this.dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return []
      throw err
    })
    return entries.filter((e) => e.isDirectory() && isVolumeName(e.name)).map((e) => e.name).sort()
  }

  private async read(name: string, withSize: boolean): Promise<VolumeInfo> {
    const dir = join(this.dir, name)
    const [text, info] = await Promise.all([readFile(join(dir, VOLUME_JSON), 'utf8'), stat(dir)])
    const mountpoint = join(dir, VOLUME_DATA_DIR)
    const volume: VolumeInfo = {
      CreatedAt: info.mtime.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      Driver: 'local',
      Labels: parseLabels(text),
      Mountpoint: mountpoint,
      Name: name,
      Scope: 'local',
    }
    if (withSize) volume.Size = await treeSize(mountpoint)
    return volume
  }
}

/** `volume.json` as nerdctl writes it: Go's `json.MarshalIndent` with 4 spaces, sorted keys, `null` for no labels. */
export function volumeJson(labels: Readonly<Record<string, string>> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return JSON.stringify({ labels: entries.length === 0 ? null : Object.fromEntries(entries) }, null, 4)
}

/** The labels in a `volume.json` text; `{}` for `null`, none, or unreadable JSON (nerdctl reads those as no labels). */
export function parseLabels(text: string): Record<string, string> {
  try {
    const parsed = JSON.parse(text) as { labels?: unknown }
    const labels = parsed?.labels
    if (typeof labels !== 'object' || labels === null) return {}
    return Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === 'string'))
  } catch {
    return {}
  }
}

interface VolumeFilter {
  needsUsage: boolean
  test(volume: VolumeInfo, used: boolean): boolean
}

/** The predicate of `docker volume ls --filter` values (see {@link ListVolumesOptions.filters}). */
function volumeFilter(filters: readonly string[], haveUsage: boolean): VolumeFilter {
  if (!Array.isArray(filters)) throw new InvalidArgumentError('volumes.list() filters must be an array such as ["label=app=web", "name=^db"]')
  const labels: Array<[string, string | undefined]> = []
  const names: RegExp[] = []
  let dangling: boolean | undefined
  for (const filter of filters) {
    const eq = typeof filter === 'string' ? filter.indexOf('=') : -1
    const key = eq < 0 ? String(filter) : filter.slice(0, eq)
    const value = eq < 0 ? '' : filter.slice(eq + 1)
    if (key === 'label' && value !== '') {
      const at = value.indexOf('=')
      labels.push(at < 0 ? [value, undefined] : [value.slice(0, at), value.slice(at + 1)])
    } else if (key === 'name') {
      try {
        names.push(new RegExp(value))
      } catch (err) {
        throw new InvalidArgumentError(`volumes.list() filter "${filter}": not a regular expression`, { cause: err })
      }
    } else if (key === 'dangling' && (value === 'true' || value === 'false' || value === '1' || value === '0')) {
      if (!haveUsage) throw new InvalidArgumentError(`volumes.list() filter "${filter}" needs inUse, to know which volumes containers use`)
      dangling = value === 'true' || value === '1'
    } else {
      throw new InvalidArgumentError(`volumes.list(): unknown filter "${String(filter)}"; use label=<key>[=<value>], name=<regexp> or dangling=true|false`)
    }
  }
  return {
    needsUsage: dangling !== undefined,
    test: (volume, used) =>
      labels.every(([k, v]) => k in volume.Labels && (v === undefined || volume.Labels[k] === v)) &&
      (names.length === 0 || names.some((re) => re.test(volume.Name))) &&
      (dangling === undefined || dangling === !used),
  }
}

function checkLabels(labels: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> | undefined {
  if (labels === undefined) return undefined
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new InvalidArgumentError('volume labels must be an object of strings, e.g. { team: "web" }')
  }
  for (const [key, value] of Object.entries(labels)) {
    if (key === '') throw new InvalidArgumentError('volume labels: a key must not be empty')
    if (typeof value !== 'string') throw new InvalidArgumentError(`volume label "${key}" must be a string, got ${typeof value}`)
  }
  return labels
}

function notFound(name: string): NotFoundError {
  return new NotFoundError(`no such volume: ${name}`)
}

/** Bytes of the non-directories under `dir` (lstat sizes, symlinks not followed), as nerdctl's `GroupSize`. */
async function treeSize(dir: string): Promise<number> {
  let total = 0
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])
  for (const entry of entries) {
    if (entry.isDirectory()) continue
    const info = await lstat(join(entry.parentPath, entry.name)).catch(() => undefined)
    total += info?.size ?? 0
  }
  return total
}
