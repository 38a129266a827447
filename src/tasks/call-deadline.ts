import type { CallOptions } from '../grpc/call-options.js'
import { CanceledError, DeadlineExceededError, InvalidArgumentError, type ContainerdError } from '../grpc/errors.js'

/**
 * A caller's `signal` and `timeoutMs` for a call made of several steps (start, wait, delete), so that it
 * can clean up before failing instead of passing the signal to each step (an aborted Start may still
 * start the process in the shim, and an aborted Wait left alone rejects unhandled). `fired` rejects with
 * `CanceledError` (cause: the signal's reason) or `DeadlineExceededError` when either comes first; call
 * {@link CallDeadline.dispose} when the call is over, which takes the listener and timer away.
 */
export class CallDeadline {
  /** Rejects when the signal aborts or the time is up; never resolves. Handled: await it or not. */
  readonly fired: Promise<never>
  private firedError: ContainerdError | undefined
  private readonly undo: () => void

  /** @param what the call, for the message (`exec abc output()`). */
  constructor(options: CallOptions, what: string) {
    const { signal, timeoutMs } = options
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))) {
      throw new InvalidArgumentError(`timeoutMs must be a number of milliseconds ≥ 0, got ${String(timeoutMs)}`)
    }
    let reject: (err: ContainerdError) => void = () => undefined
    this.fired = new Promise<never>((_resolve, rej) => { reject = rej })
    this.fired.catch(() => undefined)
    const fire = (err: ContainerdError): void => {
      if (this.firedError !== undefined) return
      this.firedError = err
      reject(err)
    }
    const canceled = (): ContainerdError => new CanceledError(`${what}: canceled`, { cause: signal?.reason })
    const onAbort = (): void => fire(canceled())
    let timer: NodeJS.Timeout | undefined
    if (signal?.aborted === true) fire(canceled())
    else signal?.addEventListener('abort', onAbort, { once: true })
    if (timeoutMs !== undefined && this.firedError === undefined) {
      timer = setTimeout(() => fire(new DeadlineExceededError(`${what}: not done within ${timeoutMs} ms`)), timeoutMs)
    }
    this.undo = () => {
      signal?.removeEventListener('abort', onAbort)
      clearTimeout(timer)
    }
  }

  /** The error, once the signal aborted or the time was up. */
  get error(): ContainerdError | undefined {
    return this.firedError
  }

  /**
   * `work`, or the deadline's error if that comes first (`work` is then left to finish on its own, its
   * failure handled).
   */
  race<T>(work: Promise<T>): Promise<T> {
    work.catch(() => undefined)
    return Promise.race([work, this.fired])
  }

  /** Takes the abort listener and the timer away. Idempotent. */
  dispose(): void {
    this.undo()
  }
}
