/**
 * nerdctl's container name store: `<data store>/names/<namespace>/<name>`, a file holding the id of the
 * container that owns the name. A name is taken by writing that file while holding the store's directory
 * lock, so two creators (ours or nerdctl's) can never both get one name.
 */

import { readFile, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ConflictError, InvalidArgumentError, NotFoundError } from '../grpc/errors.js'
import { validateIdentifier } from '../client/identifiers.js'
import { withDirLock, writeFileAtomic, type DirLockOptions } from './dir-lock.js'

/** Docker's rule for container names (nerdctl's `ValidateDockerCompat`): two or more characters. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/

// A file name holds at most 255 bytes (NAME_MAX; nerdctl checks the same for every store key).
const MAX_FILE_NAME_BYTES = 255
// Each name is written through a temp file beside it, `.tmp-<name><12 hex>` (writeFileAtomic), which must
// fit in a file name too: a longer name fails the write with ENAMETOOLONG after the image was pulled.
const TEMP_FILE_EXTRA_BYTES = '.tmp-'.length + 12

/**
 * The longest container name: 238 characters, so that its name store file and the temp file it is
 * written through fit in a file name. (Docker sets no limit; nerdctl's store, whose temp names are up to
 * 2 characters shorter than ours, takes up to 240.)
 */
export const MAX_CONTAINER_NAME_LENGTH = MAX_FILE_NAME_BYTES - TEMP_FILE_EXTRA_BYTES

/**
 * Checks a container name by Docker's rule: a letter or digit, then one or more letters, digits, `_`,
 * `.` or `-`; and at most {@link MAX_CONTAINER_NAME_LENGTH} characters.
 * @throws InvalidArgumentError naming the rule or the limit.
 */
export function validateContainerName(name: string): void {
  checkName(name, MAX_CONTAINER_NAME_LENGTH)
}

/**
 * The names only looked up or removed may be as long as a file name: nerdctl may have written one a
 * little longer than {@link MAX_CONTAINER_NAME_LENGTH}, and it must still be found and freed.
 */
function checkExistingName(name: string): void {
  checkName(name, MAX_FILE_NAME_BYTES)
}

function checkName(name: string, maxLength: number): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name) : String(name)
    throw new InvalidArgumentError(
      `container name ${shown} is invalid: use at least two characters, a letter or digit first, then letters, digits, '_', '.' or '-'`,
    )
  }
  if (name.length > maxLength) {
    throw new InvalidArgumentError(
      `container name "${name.slice(0, 32)}…" is ${name.length} characters long; at most ${maxLength} are allowed (each name is a file in nerdctl's name store, and a file name holds at most ${MAX_FILE_NAME_BYTES} bytes)`,
    )
  }
}

/** The directory of a namespace's name store: `<data store>/names/<namespace>`. */
export function nameStoreDir(dataStore: string, namespace: string): string {
  return join(dataStore, 'names', namespace)
}

/** Options of {@link NameStore.acquire}. */
export interface AcquireNameOptions extends DirLockOptions {
  /**
   * Called, under the store's lock, when the name belongs to another id; returning true takes the name
   * over. Use it to reclaim names whose container no longer exists (left by a crash). Default: never.
   */
  reclaim?: ((holderId: string) => Promise<boolean>) | undefined
  /**
   * Called first, under the store's lock, with the id holding the name (undefined when free); returns the
   * holder to go by, undefined when the name is to be taken as free. Used to check the name store
   * against containerd (see `acquireContainerName`), so that a crash cannot leave the two disagreeing.
   */
  reconcile?: ((holderId: string | undefined) => Promise<string | undefined>) | undefined
}

/**
 * The name store of one namespace in one nerdctl data store. Every method locks the store's directory
 * for its duration, so it is safe against concurrent calls in this process, in other processes, and in
 * nerdctl itself.
 */
export class NameStore {
  /** The store's directory, `<data store>/names/<namespace>`. */
  readonly dir: string

  /**
   * @param dataStore the nerdctl data store (see `dataStorePath`).
   * @param namespace the containerd namespace.
   * @throws InvalidArgumentError for an invalid namespace.
   */
  constructor(dataStore: string, namespace: string) {
    validateIdentifier('namespace', namespace)
    this.dir = nameStoreDir(dataStore, namespace)
  }

  /**
   * Gives `name` to the container `id`. Acquiring a name the same id already holds is a no-op, as in
   * nerdctl (a restarted container re-acquires its own name).
   * @throws InvalidArgumentError for an invalid name; ConflictError when another container holds it
   *   (nothing is written then).
   */
  async acquire(name: string, id: string, options: AcquireNameOptions = {}): Promise<void> {
    validateContainerName(name)
    checkId(id)
    await withDirLock(
      this.dir,
      async () => {
        const stored = await this.read(name)
        const holder = options.reconcile !== undefined ? await options.reconcile(stored === '' ? undefined : stored) : stored
        // An empty file is abnormal (nerdctl warns and lets the new container have the name): do the same.
        if (holder !== undefined && holder !== '' && holder !== id && !(await options.reclaim?.(holder))) {
          throw new ConflictError(`name "${name}" is already used by container ${holder}: choose another name or remove that container`)
        }
        await writeFileAtomic(join(this.dir, name), id)
      },
      options,
    )
  }

  /**
   * Frees `name`, which `id` must hold. Returns false when no container holds the name (already free).
   * @throws InvalidArgumentError for an invalid name; ConflictError when another container holds it.
   */
  async release(name: string, id: string, options: DirLockOptions = {}): Promise<boolean> {
    checkExistingName(name)
    checkId(id)
    return withDirLock(
      this.dir,
      async () => {
        const holder = await this.read(name)
        if (holder === undefined) return false
        if (holder !== id) throw new ConflictError(`cannot release name "${name}": it is used by container ${holder}, not ${id}`)
        await rm(join(this.dir, name), { force: true })
        return true
      },
      options,
    )
  }

  /**
   * Moves the container `id` from `oldName` to `newName` in one locked step.
   * @throws InvalidArgumentError for an invalid name; ConflictError when `newName` is taken or `oldName`
   *   belongs to another container; NotFoundError when nobody holds `oldName`.
   */
  async rename(oldName: string, id: string, newName: string, options: DirLockOptions = {}): Promise<void> {
    checkExistingName(oldName)
    validateContainerName(newName)
    checkId(id)
    await withDirLock(
      this.dir,
      async () => {
        const taken = await this.read(newName)
        if (taken !== undefined) throw new ConflictError(`name "${newName}" is already used by container ${taken}`)
        const holder = await this.read(oldName)
        if (holder === undefined) throw new NotFoundError(`name "${oldName}" is not in use`)
        if (holder !== id) throw new ConflictError(`name "${oldName}" is used by container ${holder}, not ${id}`)
        await writeFileAtomic(join(this.dir, newName), id)
        await rm(join(this.dir, oldName), { force: true })
      },
      options,
    )
  }

  /** The id holding `name`, or undefined when it is free. @throws InvalidArgumentError for an invalid name. */
  async get(name: string, options: DirLockOptions = {}): Promise<string | undefined> {
    checkExistingName(name)
    return withDirLock(this.dir, () => this.read(name), options)
  }

  /** Every name in the store with the id holding it (names being written, `.tmp-*`, are skipped). */
  async list(options: DirLockOptions = {}): Promise<Map<string, string>> {
    return withDirLock(
      this.dir,
      async () => {
        const names = new Map<string, string>()
        for (const entry of await readdir(this.dir)) {
          if (entry.startsWith('.')) continue
          const id = await this.read(entry)
          if (id !== undefined) names.set(entry, id)
        }
        return names
      },
      options,
    )
  }

  private async read(name: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.dir, name), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }
}

function checkId(id: string): void {
  if (id === '') throw new InvalidArgumentError('container id must not be empty')
  validateIdentifier('container id', id)
}
