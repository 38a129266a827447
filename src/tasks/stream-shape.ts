import type { Readable, Writable } from 'node:stream'

const hasMethods = (value: unknown, methods: readonly string[]): boolean =>
  value !== null && typeof value === 'object' && methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function')

/**
 * True for a Readable stream given as stdio: it has `pipe()` and `read()` (a Writable has a legacy
 * `pipe()` too; `read()` tells them apart).
 */
export function isReadableStream(value: unknown): value is Readable {
  return hasMethods(value, ['pipe', 'read'])
}

/**
 * True for a Writable stream given as stdio: `write()`, and the event methods backpressure needs
 * (piping into it waits for its 'drain'). A bare `{ write }` object is not one.
 */
export function isWritableStream(value: unknown): value is Writable {
  return hasMethods(value, ['write', 'once', 'off'])
}
