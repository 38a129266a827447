/**
 * A single-consumer async queue: producers `push`, one consumer iterates. `close()` ends the iteration
 * after the queued items; `fail(err)` makes the consumer throw. Used to feed a bidirectional gRPC stream
 * from imperative calls (`writer.write(...)`).
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = []
  private waiter: (() => void) | undefined
  private spaceWaiters: (() => void)[] = []
  private ended = false
  private failed = false
  private error: unknown

  constructor(private readonly highWater = Infinity) {}

  /** Adds an item; ignored after close. */
  push(item: T): void {
    if (this.ended) return
    this.items.push(item)
    this.wake()
  }

  /** Resolves once the queue holds fewer than `highWater` items (backpressure for producers). */
  async space(): Promise<void> {
    while (this.items.length >= this.highWater && !this.ended) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve))
    }
  }

  /** Ends the stream once the queued items are consumed. */
  close(): void {
    this.ended = true
    this.wake()
    this.releaseSpace()
  }

  /** Ends the stream with an error for the consumer. */
  fail(err: unknown): void {
    if (!this.failed) {
      this.failed = true
      this.error = err
    }
    this.close()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.items.length > 0) {
        const item = this.items.shift() as T
        this.releaseSpace()
        yield item
        continue
      }
      if (this.failed) throw this.error
      if (this.ended) return
      await new Promise<void>((resolve) => { this.waiter = resolve })
      this.waiter = undefined
    }
  }

  private wake(): void {
    this.waiter?.()
  }

  private releaseSpace(): void {
    const waiters = this.spaceWaiters
    this.spaceWaiters = []
    for (const w of waiters) w()
  }
}
