/**
 * One rule for aborts, wherever a caller's AbortSignal stops the work: the rejection is a
 * `CanceledError` whose `cause` is `signal.reason` (a `DeadlineExceededError` when the reason is a
 * `TimeoutError`, as from `AbortSignal.timeout()`), never the raw reason and never Node's `AbortError`.
 *
 * Node APIs that take `{ signal }` (timers/promises, events.once, stream.pipeline, fs, http) reject with
 * an `AbortError` or the reason itself; wrap their call sites with {@link asCanceled}.
 */
import { CanceledError, type ContainerdError, DeadlineExceededError } from './errors.js'

/**
 * The typed error for an aborted `signal`: `CanceledError` with `signal.reason` as its cause, or
 * `DeadlineExceededError` when the reason is a `TimeoutError`.
 * @param what the operation, for the message (`pull`, `reading blob sha256:…`).
 */
export function canceledError(signal: AbortSignal, what: string): ContainerdError {
  const reason: unknown = signal.reason
  if (reason instanceof Error && reason.name === 'TimeoutError') return new DeadlineExceededError(`${what}: the deadline passed`, { cause: reason })
  // The reason's text in the message too: logs and test output often show only the message.
  return new CanceledError(`${what}: aborted (${reason instanceof Error ? reason.message : String(reason)})`, { cause: reason })
}

/**
 * The error to throw for `err`, caught while `signal` may have aborted: when it has, the typed abort
 * error for it (an error that already is one, carrying `signal.reason`, is kept: it names the gRPC
 * method); otherwise `err` unchanged. Use it in the catch of any call the caller's signal can abort:
 * `catch (err) { throw asCanceled(err, signal, 'pull') }`.
 * @param what the operation, for the message (`pull`, a gRPC method).
 */
export function asCanceled(err: unknown, signal: AbortSignal | undefined, what: string): unknown {
  if (signal === undefined || !signal.aborted) return err
  if ((err instanceof CanceledError || err instanceof DeadlineExceededError) && err.cause === signal.reason) return err
  return canceledError(signal, what)
}

/**
 * Throws the typed abort error when `signal` has aborted, like `signal.throwIfAborted()` (which throws
 * the raw reason).
 * @param what the operation, for the message.
 */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) throw canceledError(signal, what)
}
