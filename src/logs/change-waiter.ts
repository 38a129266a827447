import { watch, type FSWatcher } from 'node:fs'

/**
 * Waits for a log to change: an inotify watch on its directory (writes, renames of rotation) wakes it at
 * once, and a periodic recheck covers what a watch can miss (files on NFS, a watch that failed to start).
 */
export class ChangeWaiter {
  private readonly watcher: FSWatcher | undefined
  private dirty = false
  private wake: (() => void) | undefined

  constructor(dir: string, private readonly intervalMs: number) {
    try {
      this.watcher = watch(dir, { persistent: false }, () => this.notify())
      this.watcher.on('error', () => this.watcher?.close())
    } catch {
      this.watcher = undefined
    }
  }

  /** Wakes a pending {@link wait}, or makes the next one return at once. */
  notify(): void {
    this.dirty = true
    this.wake?.()
  }

  /** Resolves on a change, after the recheck interval, or when the signal aborts (whichever first). */
  async wait(signal: AbortSignal | undefined): Promise<void> {
    if (this.dirty || signal?.aborted === true) {
      this.dirty = false
      return
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.wake = undefined
        resolve()
      }
      const timer = setTimeout(done, this.intervalMs)
      signal?.addEventListener('abort', done, { once: true })
      this.wake = done
    })
    this.dirty = false
  }

  /** Stops watching. */
  close(): void {
    this.watcher?.close()
    this.wake?.()
  }
}
