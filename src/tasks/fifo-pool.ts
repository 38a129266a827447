import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync, readlinkSync, rmSync, statSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { InternalError } from '../grpc/errors.js'
import { processStartTime } from '../util/process-owner.js'

const run = promisify(execFile)

/** How many FIFOs one `mkfifo` run makes: enough for 16 processes with three streams each. */
const BATCH = 48

const POOL_PREFIX = '.csdk-pool-'

/**
 * A pool whose name does not say its owner's start time (made by an older version) and whose pid looks
 * dead is removed after this long: a pid in another pid namespace looks dead too.
 */
const ABANDONED_AFTER_MS = 60 * 60 * 1000

/**
 * A pool directory is `.csdk-pool-<pid>-<start>-<pidns>-<random>`: the owner's pid, its start time (so a
 * reused pid is not taken for the owner) and its pid namespace's inode (pids of another namespace are not
 * ours to judge). Older pools are `.csdk-pool-<pid>-<random>`.
 */
const POOL_NAME = /^\.csdk-pool-(\d+)-(?:(\d+)-(\d+)-)?[0-9a-f]+$/

/**
 * Ready-made FIFOs, so that creating a process's stdio costs renames instead of a `mkfifo` run each time.
 *
 * Node cannot make a FIFO itself, and spawning `mkfifo` took 6–11 ms per task (4–5 ms of it blocking the
 * event loop) in the lifecycle benchmark; one run now makes a batch, and a FIFO is taken by renaming it
 * into the process's own directory (same file system, one syscall). The pool lives in a directory of its
 * own under the FIFO root, removed when this process exits; pools left for an hour by processes that
 * died are removed when a new pool starts: at once when the name says the owner is gone (its pid not running,
or running with another start time, in our pid namespace), else after an hour (a live pool removed by
mistake is recreated on first use).
 */
export class FifoPool {
  private dir: string | undefined
  private stock: string[] = []
  private refill: Promise<void> | undefined
  private counter = 0

  constructor(private readonly root: string) {}

  /** `count` fresh FIFO paths (mode 0600), each to be renamed away by the caller. */
  async take(count: number): Promise<string[]> {
    // Bounded: each refill adds BATCH ≥ count FIFOs, so one or two rounds always suffice.
    for (let round = 0; this.stock.length < count && round < 4; round++) {
      this.refill ??= this.makeBatch().finally(() => { this.refill = undefined })
      await this.refill
    }
    if (this.stock.length < count) throw new InternalError(`the FIFO pool could not provide ${count} FIFOs`)
    return this.stock.splice(0, count)
  }

  /**
   * Forgets the pool after its FIFOs vanished (its directory was removed by someone else): the next
   * {@link FifoPool.take} starts a new one.
   */
  reset(): void {
    this.dir = undefined
    this.stock = []
  }

  private async makeBatch(): Promise<void> {
    const dir = this.dir ?? (await this.open())
    const names = Array.from({ length: BATCH }, () => join(dir, `f${this.counter++}`))
    await run('mkfifo', ['-m', '0600', ...names])
    this.stock.push(...names)
  }

  private async open(): Promise<string> {
    await mkdir(this.root, { recursive: true, mode: 0o700 })
    removeAbandonedPools(this.root)
    const dir = join(this.root, `${POOL_PREFIX}${process.pid}-${processStartTime(process.pid) ?? 0}-${pidNamespace() ?? 0}-${randomBytes(4).toString('hex')}`)
    await mkdir(dir, { mode: 0o700 })
    this.dir = dir
    // Synchronous on purpose: 'exit' handlers cannot wait.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    return dir
  }

  /** Removes the pool's unused FIFOs now (tests; the process's exit does it otherwise). */
  async drain(): Promise<void> {
    const dir = this.dir
    this.dir = undefined
    this.stock = []
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  }
}

/** Removes pool directories whose process is gone (killed before its exit handler ran). */
export function removeAbandonedPools(root: string): void {
  let entries: string[]
  try {
    entries = readdirSync(root)
  } catch {
    return
  }
  const ownNamespace = pidNamespace()
  for (const entry of entries) {
    const match = POOL_NAME.exec(entry)
    if (match === null) continue
    const pid = Number(match[1])
    if (pid <= 0 || (pid === process.pid && match[2] === processStartTime(pid))) continue
    const [, , start, namespace] = match
    if (start !== undefined && namespace !== undefined && ownNamespace !== undefined && namespace === ownNamespace) {
      // Ours to judge: gone when the pid is not running or is another process (another start time).
      if (processStartTime(pid) === start) continue
    } else {
      if (isAlive(pid)) continue
      try {
        if (Date.now() - statSync(join(root, entry)).mtimeMs < ABANDONED_AFTER_MS) continue
      } catch {
        continue
      }
    }
    rmSync(join(root, entry), { recursive: true, force: true })
  }
}

/** The inode of this process's pid namespace (`pid:[4026531836]`), or undefined without /proc. */
function pidNamespace(): string | undefined {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1]
  } catch {
    return undefined
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
