import { DeadlineExceededError, InvalidArgumentError } from './errors.js'

/**
 * The longest `timeoutMs` accepted: 2^31 - 1 ms (about 24.8 days), the most a Node timer holds. Node
 * runs a longer timer after 1 ms instead (with a TimeoutOverflowWarning), which would end the call at once.
 */
export const MAX_TIMEOUT_MS = 2_147_483_647

// grpc-timeout carries at most 8 digits (gRPC over HTTP/2: TimeoutValue → {positive integer as ASCII
// string of at most 8 digits}); containerd answers HTTP 400 to a longer value.
const MAX_TIMEOUT_DIGITS_VALUE = 99_999_999

/**
 * Checks a `timeoutMs` option before anything is sent: a number of milliseconds up to
 * {@link MAX_TIMEOUT_MS}. Zero or less is valid and means the deadline has already passed, as with Go's
 * `context.WithTimeout`, so a caller that passes what is left of its own deadline gets a
 * `DeadlineExceededError`, not an argument error, when nothing is left.
 * @param value the option as the caller gave it (JavaScript callers may pass anything).
 * @param where what the option belongs to, for the message (a gRPC method, `connect`).
 * @throws InvalidArgumentError for a value that is not a number, NaN, or above the maximum (Infinity too).
 */
export function checkTimeoutMs(value: unknown, where: string): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value > MAX_TIMEOUT_MS) {
    const shown = typeof value === 'number' ? String(value) : `${typeof value === 'string' ? JSON.stringify(value) : String(value)} (a ${value === null ? 'null' : typeof value})`
    throw new InvalidArgumentError(
      `${where}: timeoutMs must be a number of milliseconds up to ${MAX_TIMEOUT_MS} (about 24.8 days), got ${shown}; leave it out for no deadline`,
    )
  }
}

/**
 * The error for a `timeoutMs` of zero or less (a deadline already passed), or undefined when the call
 * may go ahead. Call after {@link checkTimeoutMs}.
 */
export function expiredDeadline(timeoutMs: number | undefined, method: string): DeadlineExceededError | undefined {
  if (timeoutMs === undefined || timeoutMs > 0) return undefined
  return new DeadlineExceededError(`${method}: the deadline had passed before the call (timeoutMs ${timeoutMs})`, { method })
}

/**
 * The `grpc-timeout` header for a positive `timeoutMs`: rounded up to whole milliseconds, or whole
 * seconds when the milliseconds need more than the 8 digits the header allows.
 */
export function grpcTimeoutHeader(timeoutMs: number): string {
  const ms = Math.max(1, Math.ceil(timeoutMs))
  return ms <= MAX_TIMEOUT_DIGITS_VALUE ? `${ms}m` : `${Math.ceil(ms / 1000)}S`
}
