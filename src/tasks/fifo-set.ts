import { randomBytes } from 'node:crypto'
import { closeSync, constants, openSync } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { drained, OUTPUT_DRAIN_MS } from './drained.js'
import { FifoPool } from './fifo-pool.js'

/** Where containerd's Go client puts its FIFOs; the shim must be able to open them (same host). */
export const FIFO_ROOT = '/run/containerd/fifo'

const pool = new FifoPool(FIFO_ROOT)

/** FIFOs for one process's stdio, and our ends of them. */
export class FifoSet {
  private stdinSocket: Socket | undefined
  private stdoutSocket: Socket | undefined
  private stderrSocket: Socket | undefined
  private readFds: { stdout?: number; stderr?: number } = {}

  private constructor(
    /** The directory holding the FIFOs. */
    readonly dir: string,
    /** Paths for CreateTaskRequest / ExecProcessRequest; `''` for a stream not wanted. */
    readonly paths: { stdin: string; stdout: string; stderr: string },
  ) {}

  /**
   * Creates the FIFOs in a private directory and opens the read ends of stdout and stderr without
   * blocking (a FIFO opened for reading waits for a writer unless O_NONBLOCK is set). Call
   * {@link FifoSet.attach} once the shim has opened its ends (after the task or exec is created).
   */
  static async create(id: string, wanted: { stdin: boolean; stdout: boolean; stderr: boolean }): Promise<FifoSet> {
    const dir = join(FIFO_ROOT, randomBytes(8).toString('hex'))
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const path = (name: string, on: boolean): string => (on ? join(dir, `${id}-${name}`) : '')
    const set = new FifoSet(dir, { stdin: path('stdin', wanted.stdin), stdout: path('stdout', wanted.stdout), stderr: path('stderr', wanted.stderr) })
    try {
      const all = [set.paths.stdin, set.paths.stdout, set.paths.stderr].filter((p) => p !== '')
      await takeFifos(all)
      for (const stream of ['stdout', 'stderr'] as const) {
        if (set.paths[stream] === '') continue
        // A raw fd, not a FileHandle: it is handed to a Socket, and a FileHandle would close it when collected.
        // O_NONBLOCK makes the open return at once, without waiting for a writer.
        set.readFds[stream] = openSync(set.paths[stream], constants.O_RDONLY | constants.O_NONBLOCK)
      }
    } catch (err) {
      await set.close()
      throw err
    }
    return set
  }

  /**
   * Opens FIFOs a task already has (made by another client, which may have exited): containerd reports
   * their paths in the task's process info. The shim keeps a reader of its own on each output FIFO, so
   * the output written while nobody was attached waits in the pipe and is read from here on.
   * {@link FifoSet.close} removes their directory when it is a FIFO directory of ours (under
   * {@link FIFO_ROOT}), as the task is gone by then.
   */
  static async reopen(paths: { stdin: string; stdout: string; stderr: string }): Promise<FifoSet> {
    const set = new FifoSet(fifoDirOf([paths.stdin, paths.stdout, paths.stderr]) ?? '', { ...paths })
    try {
      for (const stream of ['stdout', 'stderr'] as const) {
        if (set.paths[stream] !== '') set.readFds[stream] = openSync(set.paths[stream], constants.O_RDONLY | constants.O_NONBLOCK)
      }
    } catch (err) {
      await set.close()
      throw err
    }
    return set
  }

  /** Wraps our ends in sockets once the shim holds its ends: stdin writable, stdout/stderr readable. */
  async attach(): Promise<{ stdin?: Socket; stdout?: Socket; stderr?: Socket }> {
    if (this.readFds.stdout !== undefined) this.stdoutSocket = new Socket({ fd: this.readFds.stdout, readable: true, writable: false })
    if (this.readFds.stderr !== undefined) this.stderrSocket = new Socket({ fd: this.readFds.stderr, readable: true, writable: false })
    if (this.paths.stdin !== '') {
      // O_RDWR, not O_WRONLY: an exec's shim opens its end only at start, and a write-only open of a FIFO
      // without a reader fails (ENXIO). Closing our only writer still gives the process EOF.
      this.stdinSocket = new Socket({ fd: openSync(this.paths.stdin, constants.O_RDWR | constants.O_NONBLOCK), readable: false, writable: true })
    }
    const out: { stdin?: Socket; stdout?: Socket; stderr?: Socket } = {}
    if (this.stdinSocket !== undefined) out.stdin = this.stdinSocket
    if (this.stdoutSocket !== undefined) out.stdout = this.stdoutSocket
    if (this.stderrSocket !== undefined) out.stderr = this.stderrSocket
    return out
  }

  /**
   * Closes our ends and removes the FIFOs. Idempotent. Output still in the pipes is read first when
   * somebody reads it (the stream flows): once the process is gone the shim has closed its ends, so
   * the streams end by themselves; waiting is bounded, and an unread (paused) stream is dropped.
   */
  async close(): Promise<void> {
    this.stdinSocket?.destroy()
    await Promise.all([this.stdoutSocket, this.stderrSocket].map((s) => (s !== undefined ? drained(s, OUTPUT_DRAIN_MS) : undefined)))
    for (const s of [this.stdoutSocket, this.stderrSocket]) s?.destroy()
    // Read fds never wrapped in a socket (attach not reached) are closed directly.
    for (const stream of ['stdout', 'stderr'] as const) {
      const fd = this.readFds[stream]
      const socket = stream === 'stdout' ? this.stdoutSocket : this.stderrSocket
      if (fd !== undefined && socket === undefined) {
        try { closeSync(fd) } catch { /* already closed */ }
      }
    }
    this.readFds = {}
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true })
  }
}

/** Moves fresh FIFOs from the pool to `paths`; a pool whose directory vanished is started anew, once. */
async function takeFifos(paths: string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const fresh = await pool.take(paths.length)
    try {
      await Promise.all(paths.map((path, i) => rename(fresh[i] as string, path)))
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw err
      pool.reset()
    }
  }
}

/**
 * The FIFO directory holding the given stdio paths, when it is one of the directories clients make
 * (`<FIFO_ROOT>/<name>/`); undefined for URIs, empty paths and anything elsewhere.
 */
function fifoDirOf(paths: readonly string[]): string | undefined {
  const fifo = paths.find((p) => p.startsWith(`${FIFO_ROOT}/`))
  return fifo !== undefined && dirname(dirname(fifo)) === FIFO_ROOT ? dirname(fifo) : undefined
}

/** Removes the FIFO directory that holds the given stdio paths (see {@link fifoDirOf}); nothing else. */
export async function removeFifoDir(paths: readonly string[]): Promise<void> {
  const dir = fifoDirOf(paths)
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
}
