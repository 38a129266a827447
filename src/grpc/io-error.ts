import type { Readable, Writable } from 'node:stream'
import {
  AbortedError,
  ContainerdError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  UnavailableError,
  UnknownError,
  isContainerdError,
} from './errors.js'

// Node's I/O errors in one place, as connect-node does in node-error.ts: a path or a stream the caller
// names that cannot be used becomes a typed error naming it, whichever pipeline (import, export, task
// stdio, run, content writes) met it, so nothing raw reaches the caller.

/**
 * Maps an error met while using a path or stream the caller named to a typed error. `what` names it for
 * the message (`the export destination "/x/y.tar"`). A `ContainerdError` is returned as it is.
 *
 * ENOENT → NotFoundError; EISDIR, ENOTDIR and a stream destroyed or ended before use → InvalidArgumentError;
 * EACCES, EPERM, EROFS → PermissionDeniedError; ENOSPC, EDQUOT, EMFILE, ENFILE → ResourceExhaustedError;
 * EPIPE, ECONNRESET → UnavailableError; a stream closed before the end → AbortedError; anything else
 * (an error of the caller's own stream) → UnknownError. The original is the `cause`.
 */
export function ioError(err: unknown, what: string): ContainerdError {
  if (isContainerdError(err)) return err
  const code = (err as { code?: unknown } | null)?.code
  const message = err instanceof Error ? err.message : String(err)
  const options = { cause: err }
  switch (code) {
    case 'ENOENT':
      return new NotFoundError(`${what}: no such file or directory (${message})`, options)
    case 'EISDIR':
      return new InvalidArgumentError(`${what} is a directory (${message})`, options)
    case 'ENOTDIR':
      return new InvalidArgumentError(`${what}: a part of the path is not a directory (${message})`, options)
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new PermissionDeniedError(`${what} cannot be written or read: ${message}`, options)
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EMFILE':
    case 'ENFILE':
      return new ResourceExhaustedError(`${what}: ${message}`, options)
    case 'EPIPE':
    case 'ECONNRESET':
      return new UnavailableError(`${what} was closed by its other end: ${message}`, options)
    case 'ERR_STREAM_DESTROYED':
    case 'ERR_STREAM_WRITE_AFTER_END':
    case 'ERR_STREAM_ALREADY_FINISHED':
      return new InvalidArgumentError(`${what} was already destroyed or ended: ${message}`, options)
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return new AbortedError(`${what} was closed before the end`, options)
    default:
      return new UnknownError(`${what} failed: ${message}`, options)
  }
}

/** A Node stream's state flags, as far as a duck-typed stream of the caller's has them. */
interface StreamState {
  destroyed?: boolean
  errored?: unknown
  readableEnded?: boolean
  writableEnded?: boolean
  writableFinished?: boolean
}

/**
 * Refuses a stream the caller named that can no longer be read (destroyed, errored or already ended), before
 * anything is made: used, it would never end (no 'end' event comes) or end at once with nothing.
 * @throws InvalidArgumentError naming `what`.
 */
export function checkReadable(stream: Readable, what: string): void {
  const s = stream as Readable & StreamState
  if (s.destroyed === true || (s.errored !== undefined && s.errored !== null)) throw new InvalidArgumentError(`${what} is a destroyed stream`)
  if (s.readableEnded === true) throw new InvalidArgumentError(`${what} has already ended`)
}

/**
 * Refuses a stream the caller named that can no longer be written (destroyed, errored or ended), before
 * anything is made: writes to it would be dropped without an error, or a pipe into it would stall.
 * @throws InvalidArgumentError naming `what`.
 */
export function checkWritable(stream: Writable, what: string): void {
  const s = stream as Writable & StreamState
  if (s.destroyed === true || (s.errored !== undefined && s.errored !== null)) throw new InvalidArgumentError(`${what} is a destroyed stream`)
  if (s.writableEnded === true || s.writableFinished === true) throw new InvalidArgumentError(`${what} has already ended`)
}

/**
 * Listens for `'error'` on a stream of the caller's while this process uses it, so an error it raises (a
 * failed write, a source failing mid-way) goes to `onError` instead of crashing the process as an
 * unhandled 'error' event; `onError` gets the first error only. Returns the function that stops
 * listening, for when the stream is handed back (a late error is then the caller's again).
 */
export function watchStreamErrors(stream: Readable | Writable, onError: (err: Error) => void): () => void {
  let seen = false
  const listener = (err: Error): void => {
    if (seen) return
    seen = true
    onError(err)
  }
  stream.on('error', listener)
  return () => void stream.off('error', listener)
}
