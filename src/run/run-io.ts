import { once } from 'node:events'
import { createWriteStream, type WriteStream } from 'node:fs'
import { PassThrough, Writable, type Readable } from 'node:stream'
import { debuglog } from 'node:util'
import { InvalidArgumentError, type ResourceExhaustedError } from '../grpc/errors.js'
import { checkReadable, checkWritable, watchStreamErrors } from '../grpc/io-error.js'
import { BoundedBuffer, checkMaxBuffer } from '../tasks/bounded-output.js'
import type { BinaryLogger } from '../logs/binary-logger.js'
import type { Task } from '../tasks/task.js'
import type { TaskStdio } from '../tasks/task-io.js'
import type { RunStdio } from './run-options.js'

const debug = debuglog('containerd-sdk:run')

/** After the process exited, how long its output may stay silent before the copy stops waiting for its end. */
const OUTPUT_IDLE_MS = 2_000

/**
 * After the process exited, how long a sink may take one chunk before it is let go of (it gets nothing
 * more; the other sinks, the logger among them, still get everything), so a Writable that never drains
 * cannot hold `run()` forever. Generous: a slow consumer is waited for, only a stuck one is dropped.
 */
export const SINK_STALL_MS = 30_000

/** How long {@link Tee.close} waits: for silence, and for a stuck sink. */
export interface TeeCloseOptions {
  /** Default {@link OUTPUT_IDLE_MS}. */
  idleMs?: number
  /** Default {@link SINK_STALL_MS}. */
  stallMs?: number
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Copies each chunk to every sink, with backpressure: the chunk is done once every sink took it (or
 * went away). Sinks are never ended (one may be `process.stdout`). It notes the Readables piped into
 * it, so {@link Tee.close} can tell when they all ended, and let go of them.
 */
export class Tee extends Writable {
  private readonly sources = new Set<Readable>()
  private piped = 0
  /** When a write started, or a sink took its chunk: silence and stalls are measured from here. */
  private lastActivity = Date.now()
  /** The sinks the write in progress waits for, each with what releases that wait. */
  private readonly waiting = new Map<Writable, () => void>()
  /** Sinks let go of for being stuck: skipped from then on. */
  private readonly dropped = new Set<Writable>()

  /** Stop listening for the sinks' errors (see the constructor). */
  private readonly unwatchSinks: (() => void)[]

  constructor(private readonly sinks: Writable[]) {
    super()
    // Errors end up in the sinks' own handlers; one here keeps a write after abort() from throwing.
    this.on('error', (e) => debug('tee: %s', e.message))
    // A sink that fails (the caller's Writable erroring on a write) is let go of, the others keep their
    // copy; without a listener its 'error' event would crash the process. Until close(): then the
    // caller's streams are theirs again.
    this.unwatchSinks = sinks.map((sink) =>
      watchStreamErrors(sink, (err) => {
        debug('tee: a sink failed, dropping it: %s', err.message)
        this.dropped.add(sink)
        this.waiting.get(sink)?.()
      }),
    )
    // With `end: false`, pipe() unpipes its source when the source ends: that is how the end shows here.
    this.on('pipe', (src: Readable) => {
      this.piped++
      this.sources.add(src)
    })
    this.on('unpipe', (src: Readable) => this.sources.delete(src))
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.lastActivity = Date.now()
    let pending = 1
    const done = (): void => {
      if (--pending > 0) return
      this.lastActivity = Date.now()
      callback()
    }
    for (const sink of this.sinks) {
      if (sink.destroyed || sink.writableEnded || this.dropped.has(sink)) continue
      if (!sink.write(chunk)) {
        pending++
        const settle = (): void => {
          sink.off('drain', settle).off('close', settle).off('error', settle)
          this.waiting.delete(sink)
          this.lastActivity = Date.now()
          done()
        }
        this.waiting.set(sink, settle)
        sink.once('drain', settle).once('close', settle).once('error', settle)
      }
    }
    done()
  }

  /**
   * Once the process exited: waits until every Readable piped in has ended, or nothing came for
   * `idleMs` (a child of the process may hold the output open after it exited; output written just
   * before the exit is still on its way), then lets go of the sources and waits for the last chunk to
   * reach the sinks. Silence counts only while no chunk is on its way to a sink: a slow sink is waited
   * for. A sink that takes no chunk for `stallMs` is let go of (see {@link SINK_STALL_MS}). Resolves
   * with the sinks let go of. The sinks are not ended.
   */
  async close(options: TeeCloseOptions = {}): Promise<Writable[]> {
    const { idleMs = OUTPUT_IDLE_MS, stallMs = SINK_STALL_MS } = options
    const called = Date.now()
    // Bounded: each round sleeps; silence ends it, and a stuck write is released after stallMs.
    while (this.piped === 0 || this.sources.size > 0) {
      if (this.writableLength === 0) {
        if (Date.now() - Math.max(this.lastActivity, called) >= idleMs) break
      } else this.dropStalled(stallMs)
      await sleep(Math.min(50, idleMs))
    }
    this.stopSources()
    // What the sources wrote before they were let go of: queued here, or on its way to a sink.
    while (this.writableLength > 0 && !this.destroyed) {
      this.dropStalled(stallMs)
      await sleep(50)
    }
    await new Promise<void>((resolve) => this.end(() => resolve()))
    for (const unwatch of this.unwatchSinks) unwatch()
    return [...this.dropped]
  }

  /** Stops every source still piped in (so nothing is written after the end). */
  stopSources(): void {
    for (const src of this.sources) src.unpipe(this)
    this.sources.clear()
  }

  /** On destroy (a failed run), takes the listeners of a write still waiting off the caller's streams. */
  override _destroy(err: Error | null, callback: (err: Error | null) => void): void {
    for (const [sink, release] of this.waiting) sink.off('drain', release).off('close', release).off('error', release)
    this.waiting.clear()
    for (const unwatch of this.unwatchSinks) unwatch()
    callback(err)
  }

  /** Lets go of the sinks the current write has waited on for `stallMs` without progress. */
  private dropStalled(stallMs: number): void {
    if (this.waiting.size === 0 || Date.now() - this.lastActivity < stallMs) return
    for (const [sink, release] of [...this.waiting]) {
      debug('tee: a sink took no output for %d ms after the exit: it gets no more', stallMs)
      this.dropped.add(sink)
      release()
    }
  }
}

/**
 * Collects what is written as UTF-8 text, up to `maxBuffer` bytes; past it `onOverflow` is called once
 * and the rest is taken and dropped (the other sinks, the logger among them, keep getting it).
 */
class Collector extends Writable {
  private readonly buffer: BoundedBuffer
  private reported = false

  constructor(name: string, maxBuffer: number, private readonly onOverflow: (err: ResourceExhaustedError) => void) {
    super()
    this.buffer = new BoundedBuffer(name, maxBuffer)
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    const overflow = this.buffer.push(chunk) ? undefined : this.buffer.overflow
    if (overflow !== undefined && !this.reported) {
      this.reported = true
      this.onOverflow(overflow)
    }
    callback()
  }

  get text(): string {
    return this.buffer.text
  }
}

/** What an attached run's output went to, as `run()` returns it. */
export interface CollectedOutput {
  stdout?: string
  stderr?: string
}

/** What {@link RunIo} needs. */
export interface RunIoOptions {
  /** Where the user wants the output (`run()`'s stdio; `{ logUri }` is not handled here). */
  stdio: Exclude<RunStdio, { logUri: string }>
  /** The process runs on a pseudo-terminal. */
  tty: boolean
  /** Feed stdin: this process's with `'inherit'`, the given Readable with streams. */
  interactive: boolean
  /** The json-file logger that gets a copy of the output, when there is one. */
  logger: BinaryLogger | undefined
  /** With `{ logFile }`: the file, opened by {@link openLogFile}. */
  logFile?: WriteStream
  /**
   * With `'pipe'`: the most bytes collected per stream (see `RunOptions.maxBuffer`). Default 1 MiB
   * (`DEFAULT_MAX_BUFFER`, as in `child_process`).
   */
  maxBuffer?: number
}

/**
 * Opens an attached run's `{ logFile }` for appending (created if missing), before anything of the run
 * is made, so a path that cannot be opened fails the run instead of losing its output.
 * @throws InvalidArgumentError naming the path and the reason.
 */
export async function openLogFile(path: string): Promise<WriteStream> {
  const file = createWriteStream(path, { flags: 'a' })
  try {
    await once(file, 'open')
  } catch (err) {
    file.destroy()
    throw new InvalidArgumentError(`stdio logFile ${JSON.stringify(path)} cannot be opened: ${(err as Error).message}`, { cause: err })
  }
  // Later write errors (a full disk) end up here; the run's output still goes to the json-file log.
  file.on('error', (e) => debug('log file %s: %s', path, e.message))
  return file
}

/**
 * An attached run's stdio, like nerdctl's container IO for `run` without `-d`: the task's output is
 * copied to the user's destination and to the logging program (so the json-file log has it too);
 * stdin comes from the user when interactive; with a terminal, the user's terminal is put in raw mode
 * and its size followed.
 */
export class RunIo {
  private readonly out: Tee
  private readonly err: Tee | undefined
  private readonly collectors: { stdout: Collector; stderr: Collector } | undefined
  private readonly file: WriteStream | undefined
  private readonly input: Readable | undefined
  /** Between the user's stdin and the task's (non-terminal runs): lets go of the user's stream at the end. */
  private readonly stdinRelay: PassThrough | undefined
  private readonly sizeSource: (Writable & { columns?: unknown; rows?: unknown }) | undefined
  private restore: (() => void)[] = []
  private finished = false
  private task: Task | undefined
  private overflowError: ResourceExhaustedError | undefined

  constructor(private readonly options: RunIoOptions) {
    const { stdio, tty, interactive, logger } = options
    const userOut: Writable[] = []
    const userErr: Writable[] = []
    if (stdio === 'inherit') {
      userOut.push(process.stdout)
      userErr.push(process.stderr)
      if (interactive) this.input = process.stdin
      this.sizeSource = process.stdout
    } else if (stdio === 'pipe') {
      const maxBuffer = checkMaxBuffer(options.maxBuffer)
      const onOverflow = (err: ResourceExhaustedError): void => this.overflowed(err)
      this.collectors = { stdout: new Collector('stdout', maxBuffer, onOverflow), stderr: new Collector('stderr', maxBuffer, onOverflow) }
      userOut.push(this.collectors.stdout)
      userErr.push(this.collectors.stderr)
    } else if (typeof stdio === 'object' && 'logFile' in stdio) {
      if (options.logFile === undefined) throw new Error('stdio { logFile } needs the file opened by openLogFile()')
      this.file = options.logFile
      userOut.push(this.file)
      userErr.push(this.file)
    } else if (typeof stdio === 'object') {
      // A stream already destroyed or ended would lose the output silently, or (stdin) never end.
      if (stdio.stdout !== undefined) checkWritable(stdio.stdout, 'run() stdio stdout')
      if (stdio.stderr !== undefined) checkWritable(stdio.stderr, 'run() stdio stderr')
      if (stdio.stdin !== undefined) checkReadable(stdio.stdin, 'run() stdio stdin')
      if (stdio.stdout !== undefined) userOut.push(stdio.stdout)
      if (stdio.stderr !== undefined) userErr.push(stdio.stderr)
      this.input = stdio.stdin
      this.sizeSource = stdio.stdout
    }
    this.out = new Tee([...userOut, ...(logger !== undefined ? [logger.stdout] : [])])
    // With a terminal the shim has one stream: stdout carries stderr too.
    this.err = tty ? undefined : new Tee([...userErr, ...(logger !== undefined ? [logger.stderr] : [])])
    if (!tty && this.input !== undefined) this.stdinRelay = new PassThrough()
  }

  /** The stdio for `newTask`. */
  taskStdio(): TaskStdio {
    if (this.options.tty) return { terminal: true }
    return { stdout: this.out, ...(this.err !== undefined ? { stderr: this.err } : {}), ...(this.stdinRelay !== undefined ? { stdin: this.stdinRelay } : {}) }
  }

  /**
   * Connects what `newTask` did not: the terminal's output and input, its initial size (before start,
   * so the process starts with it) and later resizes.
   */
  async attach(task: Task): Promise<void> {
    this.task = task
    const input = this.input
    if (this.stdinRelay !== undefined && input !== undefined) {
      const relay = this.stdinRelay
      input.pipe(relay)
      // An input failing mid-way ends the process's stdin (it reads EOF) instead of crashing this process
      // with an 'error' event nothing listens to (pipe() does not listen on its source).
      const unwatch = watchStreamErrors(input, (err) => {
        debug('stdin stream failed, ending the process stdin: %s', err.message)
        input.unpipe(relay)
        relay.end()
      })
      // unpipe() pauses a stream left without destinations, so process.stdin no longer holds the event loop.
      this.restore.push(() => {
        unwatch()
        input.unpipe(relay)
      })
    }
    if (!this.options.tty) return
    task.stdout?.pipe(this.out, { end: false })
    const stdin = task.stdin
    if (input !== undefined && stdin !== undefined) {
      const raw = input as Readable & { isTTY?: boolean; isRaw?: boolean; setRawMode?: (on: boolean) => unknown }
      if (raw.isTTY === true && typeof raw.setRawMode === 'function' && raw.isRaw !== true) {
        // Keys (Ctrl-C included) go to the container as typed, like `docker run -it`.
        raw.setRawMode(true)
        this.restore.push(() => raw.setRawMode?.(false))
      }
      const onEnd = (): void => void task.closeStdin().catch(() => undefined)
      input.pipe(stdin, { end: false })
      input.once('end', onEnd)
      this.restore.push(() => {
        input.off('end', onEnd)
        input.unpipe(stdin)
      })
    }
    const size = this.sizeSource
    const sizeOf = (): [number, number] | undefined => {
      const { columns, rows } = size ?? {}
      return typeof columns === 'number' && typeof rows === 'number' && columns > 0 && rows > 0 ? [columns, rows] : undefined
    }
    const initial = sizeOf()
    if (initial !== undefined) await task.resize(...initial)
    if (size !== undefined) {
      const onResize = (): void => {
        const now = sizeOf()
        if (now !== undefined) task.resize(...now).catch((e: unknown) => debug('resize: %s', String(e)))
      }
      size.on('resize', onResize)
      this.restore.push(() => size.off('resize', onResize))
    }
  }

  /**
   * Once the process exited: waits for its output to arrive (bounded by silence) and hands it all to
   * the sinks (waiting for slow ones; one stuck for {@link SINK_STALL_MS} is let go of), ends the
   * logger's input and waits for it to write out and exit; lets go of the user's stdin and terminal.
   * Returns the collected output with `'pipe'`.
   */
  async finish(closeOptions: TeeCloseOptions = {}): Promise<CollectedOutput> {
    this.release()
    const tees = [this.out, this.err].filter((t): t is Tee => t !== undefined)
    await Promise.all(tees.map((t) => t.close(closeOptions)))
    await this.options.logger?.close()
    const file = this.file
    if (file !== undefined) await new Promise<void>((resolve) => file.end(() => resolve()))
    if (this.collectors === undefined) return {}
    return { stdout: this.collectors.stdout.text, stderr: this.options.tty ? '' : this.collectors.stderr.text }
  }

  /**
   * With `'pipe'`: the error once a stream passed `maxBuffer`. The task was then killed (SIGKILL, every
   * process) so the run ends; `finish()` still lets go of everything as after any exit, and `run()`
   * rejects with this error instead of returning the output.
   */
  get overflow(): ResourceExhaustedError | undefined {
    return this.overflowError
  }

  /** A run that failed: lets go of everything at once. Idempotent. */
  abort(): void {
    this.release()
    for (const t of [this.out, this.err]) {
      t?.stopSources()
      t?.destroy()
    }
    this.options.logger?.kill()
    this.file?.destroy()
    this.stdinRelay?.destroy()
  }

  /** The first stream past `maxBuffer` stops the run: its task is killed, the error kept for run(). */
  private overflowed(err: ResourceExhaustedError): void {
    if (this.overflowError !== undefined) return
    this.overflowError = err
    debug('%s: killing the task', err.message)
    // Output only arrives once the task started, which is after attach(): the task is known here.
    this.task?.kill('SIGKILL', { all: true }).catch((e: unknown) => debug('kill after maxBuffer: %s', String(e)))
  }

  private release(): void {
    if (this.finished) return
    this.finished = true
    for (const undo of this.restore.reverse()) undo()
    this.restore = []
    // The process is gone: a relay still open would only hold its stdin FIFO.
    this.stdinRelay?.end()
  }
}
