import type { Readable } from 'node:stream'

/** How long closing a process's stdio lets flowing output finish before it closes the streams. */
export const OUTPUT_DRAIN_MS = 2_000

/**
 * Resolves when a flowing readable has ended, closed or failed, or after `ms`; at once for one nobody
 * reads (paused or never piped), whose rest is dropped by the caller.
 */
export function drained(stream: Readable, ms: number): Promise<void> {
  if (stream.readableEnded || stream.destroyed || stream.readableFlowing !== true) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      stream.off('end', done).off('close', done).off('error', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    stream.once('end', done).once('close', done).once('error', done)
  })
}
