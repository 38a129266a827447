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
import { mkdir, open, rename, rm } from 'node:fs/promises'
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
  await mkdir(dir, { recursive: true, mode: STORE_DIR_MODE })
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
    await ensureStoreDir(key)
    const release = await acquireFlock(key, options)
    try {
      return await fn()
    } finally {
      await release()
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

/** Takes the flock through a helper process; resolves to a function that releases it. */
async function acquireFlock(dir: string, options: DirLockOptions): Promise<() => Promise<void>> {
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
  return release
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
