/**
 * nerdctl's on-disk stores (names, container state dirs, volumes) are directories of small files. Every
 * store takes an exclusive `flock(2)` on its own directory around each read-modify-write, and writes files
 * to a temp file then renames it over the target. This file does the same, so our writes and nerdctl's
 * exclude each other.
 *
 * Locking: Node has no `flock`. A lock-file scheme of our own (`O_EXCL`) would not exclude nerdctl, and a
 * native addon is a build dependency every user pays for. Instead the lock is held by a child process:
 * util-linux's `flock -x <dir> cat` (also busybox's `flock`). `flock` takes the lock on the directory and
 * only then runs `cat`, so a byte written to the child's stdin comes back on its stdout exactly when the
 * lock is held; closing stdin ends `cat`, then `flock`, which releases the lock. If this process dies,
 * the pipe closes and the lock goes with it: no stale locks. The cost is one process spawn per locked
 * operation (a few milliseconds), paid only by name reservation and state-dir updates, not by the
 * container lifecycle itself. Calls within one process are queued first, so only one helper per directory
 * waits at a time.
 */

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { CanceledError, DeadlineExceededError, FailedPreconditionError } from '../grpc/errors.js'
import { throwIfAborted } from '../grpc/abort.js'

/** Permission of the directories nerdctl's stores create (`store.New`'s default). */
export const STORE_DIR_MODE = 0o700

/** Permission of the files nerdctl's stores write. */
export const STORE_FILE_MODE = 0o600

/** How long {@link withDirLock} waits for the lock by default: nerdctl waits forever, we do not. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000

/** Options of {@link withDirLock}. */
export interface DirLockOptions {
  /** Stops waiting for the lock; rejects with a `CanceledError` whose cause is the signal's reason. */
  signal?: AbortSignal | undefined
  /** How long to wait for the lock. Default {@link DEFAULT_LOCK_TIMEOUT_MS}. */
  timeoutMs?: number | undefined
}

// Per-directory queue inside this process: the tail promise of each directory's chain.
const queues = new Map<string, Promise<unknown>>()

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
  const previous = queues.get(key) ?? Promise.resolve()
  const run = previous.catch(() => undefined).then(async () => {
    for (let attempt = 0; ; attempt++) {
      await ensureStoreDir(key)
      const [release, pid] = await acquireFlock(key, options)
      // The directory may have been removed (it was empty) while we waited: the lock is then on a
      // directory no path names, and excludes nobody. Take it again on the one there now.
      if (attempt < STALE_LOCK_RETRIES && !(await locksCurrentDir(pid, key))) {
        await release()
        continue
      }
      try {
        return await fn()
      } finally {
        await release()
      }
    }
  })
  const tail = run.catch(() => undefined)
  queues.set(key, tail)
  try {
    return await run
  } finally {
    // Drop the entry once nobody queued behind us, so the map does not grow with every directory used.
    if (queues.get(key) === tail) queues.delete(key)
  }
}

/**
 * Whether the flock helper `pid` holds `dir` as it is now (one of its open files is the directory's
 * inode). Without /proc to tell, assumed so.
 */
async function locksCurrentDir(pid: number | undefined, dir: string): Promise<boolean> {
  let current: { dev: number; ino: number }
  try {
    current = await stat(dir)
  } catch {
    return false
  }
  if (pid === undefined) return true
  let fds: string[]
  try {
    fds = await readdir(`/proc/${pid}/fd`)
  } catch {
    return true
  }
  for (const fd of fds) {
    const held = await stat(`/proc/${pid}/fd/${fd}`).catch(() => undefined)
    if (held !== undefined && held.dev === current.dev && held.ino === current.ino) return true
  }
  return false
}

/** Takes the flock through a helper process; resolves to a function that releases it, and the helper's pid. */
async function acquireFlock(dir: string, options: DirLockOptions): Promise<[() => Promise<void>, number | undefined]> {
  throwIfAborted(options.signal, `locking ${dir}`)
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
  const child = spawn('flock', ['-x', dir, 'cat'], { stdio: ['pipe', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('close', (code) => resolveExit(code))
    child.once('error', () => resolveExit(null))
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 4096) stderr += chunk
  })
  const release = async (): Promise<void> => {
    child.stdin.end()
    await exited
  }
  try {
    await new Promise<void>((resolveLock, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
        child.stdout.off('data', onData)
        child.off('error', onError)
        child.off('close', onClose)
      }
      const fail = (err: Error): void => {
        cleanup()
        child.kill('SIGKILL')
        reject(err)
      }
      const onData = (): void => {
        cleanup()
        resolveLock()
      }
      const onError = (err: NodeJS.ErrnoException): void => {
        fail(
          err.code === 'ENOENT'
            ? new FailedPreconditionError('cannot lock nerdctl stores: no `flock` program on PATH; install util-linux', { cause: err })
            : err,
        )
      }
      const onClose = (code: number | null): void => {
        fail(new FailedPreconditionError(`flock on ${dir} exited (${code}) before taking the lock: ${stderr.trim()}`))
      }
      const onAbort = (): void => {
        fail(new CanceledError(`canceled while waiting for the lock on ${dir}`, { cause: options.signal?.reason }))
      }
      const timer = setTimeout(() => {
        fail(new DeadlineExceededError(`waited ${timeoutMs} ms for the lock on ${dir}: another nerdctl or containerd-sdk process holds it`))
      }, timeoutMs)
      child.stdout.on('data', onData)
      child.once('error', onError)
      child.once('close', onClose)
      options.signal?.addEventListener('abort', onAbort, { once: true })
      // `cat` echoes this byte only once flock holds the lock and has started it.
      child.stdin.write('L')
    })
  } catch (err) {
    await exited
    throw err
  }
  // From here on the helper's output is of no interest; keep draining so it never blocks on a full pipe.
  child.stdout.resume()
  return [release, child.pid]
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
