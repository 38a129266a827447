/**
 * When a response body counts as stalled, for the node:http path (http-request.ts) and the raw blob reader
 * (raw-blob-get.ts) alike. A body stalls when, while we wait for it, fewer than {@link MIN_PROGRESS_BYTES}
 * arrive within the idle timeout: nothing at all, or a trickle (a server sending one byte a second never
 * leaves a connection idle for long, yet would hold a pull for days). Time spent waiting for our own
 * consumer (a full content writer) is no stall of the server's.
 */

/** Default time a body may go without progress, and a response without headers. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000

/**
 * Bytes that must arrive per idle timeout while we wait: 16 KiB per 60 s (≈ 270 B/s) is far below any
 * link a pull could finish on, and far above a trickle meant to hold a connection.
 */
export const MIN_PROGRESS_BYTES = 16 * 1024

const stalls = new WeakSet<object>()

/** Marks an error as a stalled body's (see {@link isStall}). */
export function markStall<E extends Error>(err: E): E {
  stalls.add(err)
  return err
}

/** True for an error that says a body stalled (a resume or retry may help). */
export function isStall(err: unknown): boolean {
  return typeof err === 'object' && err !== null && stalls.has(err)
}

/**
 * Counts the bytes of one body in windows of `ms` while the reader waits, and calls `onStall` when a
 * window ends with fewer than {@link MIN_PROGRESS_BYTES}. {@link pause} while the consumer, not the server,
 * holds things up; {@link resume} starts a new window.
 */
export class StallWatch {
  private timer: NodeJS.Timeout | undefined
  private bytes = 0
  private stopped = false

  constructor(
    /** The window, in ms. */
    readonly ms: number,
    private readonly onStall: (received: number) => void,
  ) {}

  /** Starts a window (again), unless one runs. */
  resume(): void {
    if (this.stopped || this.timer !== undefined) return
    this.bytes = 0
    this.timer = setTimeout(() => this.fire(), this.ms)
  }

  /** `n` bytes arrived: enough of them start a new window. */
  progress(n: number): void {
    if (this.timer === undefined) return
    this.bytes += n
    if (this.bytes >= MIN_PROGRESS_BYTES) {
      this.bytes = 0
      this.timer.refresh()
    }
  }

  /** The consumer is full: the wait that follows is not the server's. */
  pause(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Ends the watch for good. */
  stop(): void {
    this.stopped = true
    this.pause()
  }

  private fire(): void {
    this.timer = undefined
    if (this.stopped) return
    this.onStall(this.bytes)
  }
}

/** The message of a stalled body. */
export function stallMessage(host: string, ms: number, received: number): string {
  return received === 0
    ? `the response body from ${host} stalled: no bytes for ${ms} ms`
    : `the response body from ${host} stalled: ${received} bytes in ${ms} ms, fewer than the ${MIN_PROGRESS_BYTES} required`
}
