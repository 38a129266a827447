/**
 * nerdctl's on-disk stores (names, container state dirs, volumes) are directories of small files. Every
 * store takes an exclusive `flock(2)` on its own directory around each read-modify-write, and writes files
 * to a temp file then renames it over the target. This file does the same, so our writes and nerdctl's
 * exclude each other. How a flock is taken from Node: src/nerdctl/flock.ts (one short helper process per
 * locked operation, paid by name reservation and store updates, not by the container lifecycle itself).
 */

import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { mkdir, open, readdir, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { flockHandle, queuedPerPath, type FlockOptions } from './flock.js'

/** Permission of the directories nerdctl's stores create (`store.New`'s default). */
export const STORE_DIR_MODE = 0o700

/** Permission of the files nerdctl's stores write. */
export const STORE_FILE_MODE = 0o600

/** Options of {@link withDirLock}: the wait for the lock (default 30 s) and its abort. */
export type DirLockOptions = FlockOptions

/**
 * Creates `dir` (and missing parents) with mode 0700, like nerdctl's `os.MkdirAll(root, 0700)`; existing
 * directories keep their mode.
 */
export async function ensureStoreDir(dir: string): Promise<void> {
  // A parent removed at the same moment by removeEmptyStoreDir (it was empty) fails the mkdir with ENOENT: retry.
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(dir, { recursive: true, mode: STORE_DIR_MODE })
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 4) throw err
    }
  }
}

/** How often a lock taken on a directory that was removed meanwhile is retaken on the new one. */
const STALE_LOCK_RETRIES = 5

/**
 * Removes the store directory `dir` when it is empty, under its lock, and then `parent` levels above it
 * when they are empty too (without a lock: nothing locks them). A directory that is not empty, or gone,
 * is left as it is. Whoever waited for the lock meanwhile takes it again on the directory made anew
 * (see {@link withDirLock}).
 */
export async function removeEmptyStoreDir(dir: string, parents = 0): Promise<void> {
  const key = resolve(dir)
  try {
    await withDirLock(key, async () => {
      if ((await readdir(key)).length === 0) await rmdir(key)
    })
  } catch (err) {
    if (!isGoneOrBusy(err)) throw err
  }
  await removeEmptyParents(key, parents)
}

/** Removes `dir` and then up to `parents` levels above it while each is empty (no lock: for unlocked dirs). */
export async function removeEmptyParents(dir: string, parents: number): Promise<void> {
  let current = resolve(dir)
  for (let level = 0; level < parents; level++) {
    current = dirname(current)
    try {
      await rmdir(current)
    } catch (err) {
      if (isGoneOrBusy(err)) return
      throw err
    }
  }
}

function isGoneOrBusy(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EBUSY'
}

/**
 * Runs `fn` while holding an exclusive `flock` on `dir` (created 0700 if missing), the lock nerdctl takes
 * on the same directory. The lock is released when `fn` settles, whatever its outcome.
 * @throws DeadlineExceededError when the lock is not obtained in time; CanceledError on abort;
 *   FailedPreconditionError when no `flock` program is installed (util-linux provides it).
 */
export async function withDirLock<T>(dir: string, fn: () => Promise<T>, options: DirLockOptions = {}): Promise<T> {
  const key = resolve(dir)
  return queuedPerPath(key, async () => {
    for (let attempt = 0; ; attempt++) {
      await ensureStoreDir(key)
      const handle = await open(key, constants.O_RDONLY | constants.O_DIRECTORY)
      try {
        await flockHandle(handle, key, options)
        // The directory may have been removed (it was empty) while we waited: the lock is then on a
        // directory no path names, and excludes nobody. Take it again on the one there now.
        if (attempt < STALE_LOCK_RETRIES && !(await isCurrentDir(handle, key))) continue
        return await fn()
      } finally {
        // Closing our descriptor (the only one of its open file description) releases the lock.
        await handle.close()
      }
    }
  })
}

/** Whether the open directory `handle` is still the one at `dir`. */
async function isCurrentDir(handle: FileHandle, dir: string): Promise<boolean> {
  const [held, current] = await Promise.all([handle.stat(), stat(dir).catch(() => undefined)])
  return current !== undefined && held.dev === current.dev && held.ino === current.ino
}

/**
 * Writes a file the way nerdctl's stores do: to a temp file in the same directory (`.tmp-<name>…`),
 * synced, then renamed over `path`, so readers see the old content or the new, never a torn write.
 * `mode` is subject to the umask, as with `os.WriteFile`.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number = STORE_FILE_MODE): Promise<void> {
  const temp = join(dirname(path), `.tmp-${basename(path)}${randomBytes(6).toString('hex')}`)
  const handle = await open(temp, 'wx', mode)
  try {
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
}
