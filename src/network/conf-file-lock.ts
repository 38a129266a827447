/**
 * The lock nerdctl takes around its CNI conf dir writes: an exclusive `flock(2)` on the *file*
 * `<confDir>/.nerdctl.lock` (created 0600; nerdctl `pkg/netutil/store.go` and
 * `pkg/internal/filesystem/lock.go`), not on the directory as its other stores do, so
 * `withDirLock` (src/nerdctl/dir-lock.ts) does not fit.
 *
 * Node has no `flock`. Here the lock is taken on a file descriptor this process opened, by a helper:
 * util-linux's (or busybox's) `flock -x 3`, given that descriptor as its fd 3. A flock belongs to the open
 * file description, which the helper shares with us, so the lock outlives the helper's exit and is ours
 * until we close the descriptor (or this process dies: no stale locks). One short-lived process per locked
 * write, none held open. Calls within this process are queued first, so only one helper waits at a time.
 */

import { spawn } from 'node:child_process'
import { constants } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { CallOptions } from '../grpc/call-options.js'
import { throwIfAborted } from '../grpc/abort.js'
import { CanceledError, DeadlineExceededError, FailedPreconditionError } from '../grpc/errors.js'
import { DEFAULT_LOCK_TIMEOUT_MS } from '../nerdctl/dir-lock.js'

/** The permission nerdctl creates its lock files with (`privateFilePermission`). */
const LOCK_FILE_MODE = 0o600

// Per-file queue inside this process: the tail promise of each lock file's chain.
const queues = new Map<string, Promise<unknown>>()

/**
 * Runs `fn` while holding an exclusive `flock` on the file `path` (created 0600 if missing, its directory
 * 0755), the lock nerdctl takes on the same file. Released when `fn` settles, whatever its outcome.
 * `timeoutMs` bounds the wait for the lock (default 30 s), not `fn`.
 * @throws DeadlineExceededError when the lock is not obtained in time; CanceledError on abort;
 *   FailedPreconditionError when no `flock` program is installed (util-linux provides it).
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, options: CallOptions = {}): Promise<T> {
  const key = resolve(path)
  const previous = queues.get(key) ?? Promise.resolve()
  const run = previous.catch(() => undefined).then(async () => {
    throwIfAborted(options.signal, `locking ${key}`)
    await mkdir(dirname(key), { recursive: true, mode: 0o755 })
    const handle = await open(key, constants.O_RDONLY | constants.O_CREAT, LOCK_FILE_MODE)
    try {
      await flockDescriptor(handle.fd, key, options)
      return await fn()
    } finally {
      // Closing our (last) descriptor of the open file description releases the lock.
      await handle.close()
    }
  })
  const tail = run.catch(() => undefined)
  queues.set(key, tail)
  try {
    return await run
  } finally {
    if (queues.get(key) === tail) queues.delete(key)
  }
}

/** Takes `flock(LOCK_EX)` on our descriptor `fd` through a `flock -x 3` helper that inherits it. */
async function flockDescriptor(fd: number, path: string, options: CallOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
  const child = spawn('flock', ['-x', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 4096) stderr += chunk
  })
  await new Promise<void>((resolveLock, reject) => {
    let settled = false
    const finish = (err?: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      if (err === undefined) resolveLock()
      else reject(err)
    }
    // A helper killed after it took the lock leaves it on our descriptor: the caller closes that on failure.
    const fail = (err: Error): void => {
      child.kill('SIGKILL')
      finish(err)
    }
    const onAbort = (): void => fail(new CanceledError(`canceled while waiting for the lock on ${path}`, { cause: options.signal?.reason }))
    const timer = setTimeout(() => {
      fail(new DeadlineExceededError(`waited ${timeoutMs} ms for the lock on ${path}: another nerdctl or containerd-sdk process holds it`))
    }, timeoutMs)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    child.once('error', (err: NodeJS.ErrnoException) => {
      finish(
        err.code === 'ENOENT'
          ? new FailedPreconditionError('cannot lock the CNI conf dir: no `flock` program on PATH; install util-linux', { cause: err })
          : err,
      )
    })
    child.once('close', (code) => {
      if (code === 0) finish()
      else finish(new FailedPreconditionError(`flock on ${path} exited (${code}) without taking the lock: ${stderr.trim()}`))
    })
  })
}
