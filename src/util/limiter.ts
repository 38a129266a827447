/** Runs at most `limit` tasks at once; the rest wait in order. */
export class Limiter {
  private running = 0
  private readonly queue: (() => void)[] = []

  constructor(private readonly limit: number) {}

  /** Runs `task` when a slot is free and resolves with its result. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve))
    this.running++
    try {
      return await task()
    } finally {
      this.running--
      this.queue.shift()?.()
    }
  }
}
