/**
 * `flock(2)` from Node, which has no binding for it: nerdctl's stores lock with flock, and a lock scheme of
 * our own would not exclude nerdctl. The lock is taken on a file descriptor this process opened (a store
 * directory, or a lock file) by a helper, util-linux's (or busybox's) `flock -x 3`, given that descriptor
 * as its fd 3. A flock belongs to the open file description, which the helper shares with us, so the lock
 * outlives the helper's exit and is ours until we close the descriptor, or this process dies: no stale
 * locks, and no helper left running while the lock is held. Calls within this process are queued per
 * path first, so only one waits at a time.
 *
 * The lock is taken by this process's long-lived helper (src/nerdctl/flock-helper.ts: no process start
 * per lock) when it can run here, else by one short `flock` process per lock.
 */

import { spawn } from 'node:child_process'
import type { FileHandle } from 'node:fs/promises'
import { debuglog } from 'node:util'
import { throwIfAborted } from '../grpc/abort.js'
import { CanceledError, DeadlineExceededError, FailedPreconditionError } from '../grpc/errors.js'
import { flockHelper, FlockHelperUnavailable } from './flock-helper.js'

const debug = debuglog('containerd-sdk:flock')

/** How long a lock is waited for by default: nerdctl waits forever, we do not. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000

/** Options of a locked operation. */
export interface FlockOptions {
  /** Stops waiting for the lock; rejects with a `CanceledError` whose cause is the signal's reason. */
  signal?: AbortSignal | undefined
  /** How long to wait for the lock. Default {@link DEFAULT_LOCK_TIMEOUT_MS}. */
  timeoutMs?: number | undefined
}

// Per-path queue inside this process: the tail promise of each path's chain.
const queues = new Map<string, Promise<unknown>>()

/** Runs `task` after every earlier task queued under `key` in this process settled. */
export async function queuedPerPath<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve()
  const run = previous.catch(() => undefined).then(task)
  const tail = run.catch(() => undefined)
  queues.set(key, tail)
  try {
    return await run
  } finally {
    // Dropped once nobody queued behind, so the map does not grow with every path used.
    if (queues.get(key) === tail) queues.delete(key)
  }
}

/**
 * Takes an exclusive flock on the open file `handle` (of `path`, named in errors), through this
 * process's lock helper, or a `flock -x 3` process that inherits it. Released by closing the handle.
 * @throws DeadlineExceededError when the lock is not obtained in time; CanceledError on abort;
 *   FailedPreconditionError when no `flock` program is installed (util-linux provides it).
 */
export async function flockHandle(handle: FileHandle, path: string, options: FlockOptions = {}): Promise<void> {
  throwIfAborted(options.signal, `locking ${path}`)
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
  const helper = await flockHelper()
  if (helper !== undefined) {
    try {
      await boundedLockWait(helper.lock(handle.fd), path, timeoutMs, options.signal)
      return
    } catch (err) {
      if (!(err instanceof FlockHelperUnavailable)) throw err
      debug('lock helper failed on %s (%s): one flock process instead', path, err.message)
    }
  }
  await lockByProcess(handle, path, timeoutMs, options.signal)
}

/**
 * Waits for a lock request (the helper's or a `flock` process's), bounded by `timeoutMs` and `signal`; on
 * either, `giveUp` ends the request. A lock taken after that is on the caller's descriptor, which it
 * closes on failure.
 */
async function boundedLockWait(request: { locked: Promise<void>; giveUp: () => void }, path: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  try {
    await Promise.race([
      request.locked,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineExceededError(`waited ${timeoutMs} ms for the lock on ${path}: another nerdctl or containerd-sdk process holds it`)), timeoutMs)
        onAbort = () => reject(new CanceledError(`canceled while waiting for the lock on ${path}`, { cause: signal?.reason }))
        signal?.addEventListener('abort', onAbort, { once: true })
      }),
    ])
  } catch (err) {
    request.giveUp()
    throw err
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
  }
}

/**
 * Takes the lock through one `flock -x 3` process given the descriptor as its fd 3 (the fallback; the
 * store-lock bench times it beside the helper).
 */
export async function lockByProcess(handle: FileHandle, path: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  const child = spawn('flock', ['-x', '3'], { stdio: ['ignore', 'ignore', 'pipe', handle.fd] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 4096) stderr += chunk
  })
  const locked = new Promise<void>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new FailedPreconditionError(`cannot lock ${path}: no \`flock\` program on PATH; install util-linux`, { cause: err }) : err)
    })
    child.once('close', (code) => {
      if (code === 0) resolve()
      else reject(new FailedPreconditionError(`flock on ${path} exited (${code}) without taking the lock: ${stderr.trim()}`))
    })
  })
  // Settles after a give-up too (the killed process closes): nobody waits for it then.
  locked.catch(() => undefined)
  await boundedLockWait({ locked, giveUp: () => child.kill('SIGKILL') }, path, timeoutMs, signal)
}
