import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import type { Readable, Writable } from 'node:stream'
import { debuglog } from 'node:util'
import { FailedPreconditionError, InvalidArgumentError } from '../grpc/errors.js'
import { checkReadable, checkWritable, ioError, watchStreamErrors } from '../grpc/io-error.js'
import { attachDirectOutputs, type DirectOutputs } from './direct-output.js'
import { FifoSet } from './fifo-set.js'
import { OUTPUT_HOLDER_URI } from './output-holder.js'
import { isReadableStream, isWritableStream } from './stream-shape.js'

const debug = debuglog('containerd-sdk:task-io')

/** stdout and stderr appended, line by line as they come, to one file. */
export interface LogFileStdio {
  /** Path of the file; created if missing. */
  logFile: string
}

/**
 * stdout and stderr handed to a logging URI the shim understands: `binary:///path/to/logger?k=v` runs a
 * logging program (fds 3 and 4 are stdout and stderr, fd 5 signals it is ready), `file:///path` appends
 * to a file. stdin is empty. Nothing in this process needs to keep running.
 */
export interface LogUriStdio {
  /** The URI; `binary://` and `file://` (containerd ≥ 1.6) are the shim's schemes. */
  logUri: string
  /**
   * Put the process on a pseudo-terminal whose output the shim hands to the URI (stdout only), like
   * `nerdctl run -d -t`. The container must be created with `tty: true`. Default false.
   */
  terminal?: boolean
}

/**
 * A pseudo-terminal, like `docker run -t`: the shim allocates it and joins stdout and stderr into one
 * stream (`stdout`); `stdin` feeds its input; `resize()` on the task or process sets its size. The
 * container (or exec) must run with a terminal too: `tty: true` on createContainer or exec.
 */
export interface TerminalStdio {
  /** Must be `true`. */
  terminal: true
}

/**
 * Your own Node streams (like the Go client's `cio.WithStreams`): the process's stdout and stderr are
 * piped into the given Writables (with backpressure; they are not ended, so `process.stdout` works), and
 * a given Readable is piped into its stdin (the process reads EOF when it ends). `'pipe'` for stdout or
 * stderr puts that output on the task or process instead, as a Readable that ends when the process
 * ends (like Node's `child_process` stdio). A stream left out is read and dropped (stdin: empty).
 *
 * Without stdin, a task's output is read straight from the pipes its process writes to, with no copy by
 * the shim in between (more than twice the throughput; see output-holder.ts), when this process runs as
 * root in containerd's pid namespace and /usr/bin/perl exists; otherwise, and for exec processes,
 * through FIFOs.
 */
export interface StreamsStdio {
  /** Fed to the process's stdin. */
  stdin?: Readable
  /** Receives the process's stdout; `'pipe'` for a Readable on the task or process. */
  stdout?: Writable | 'pipe'
  /** Receives the process's stderr; `'pipe'` for a Readable on the task or process. */
  stderr?: Writable | 'pipe'
}

/**
 * Where a process's stdio goes.
 * - `'null'`: nowhere; stdin is empty.
 * - `'pipe'`: `stdin` (Writable), `stdout` and `stderr` (Readables) on the task or process, through FIFOs.
 *   Consume both outputs (the process blocks when a pipe is full) and end stdin when done.
 * - `'inherit'`: stdout and stderr go to this process's own; stdin is empty.
 * - `{ logFile }`: stdout and stderr appended to a file by this process (through FIFOs, like `'pipe'`), so
 *   it must keep running; the file is complete once the task is deleted. (containerd's own `file://`
 *   URIs were not used: with both streams pointing at one file the shim's writes overwrote each other.)
 * - `{ logUri }`: stdout and stderr to a logging URI run by the shim (see {@link LogUriStdio}).
 * - `{ terminal: true }`: a pseudo-terminal (see {@link TerminalStdio}).
 * - `{ stdin?, stdout?, stderr? }`: your own Node streams, or `'pipe'` per output (see {@link StreamsStdio}).
 */
export type TaskStdio = 'null' | 'pipe' | 'inherit' | LogFileStdio | LogUriStdio | TerminalStdio | StreamsStdio

/** The process's ends of its stdio, when piped. */
export interface ProcessStreams {
  /** Write here to feed the process's stdin (`'pipe'` only). */
  stdin?: Writable
  /** The process's stdout (`'pipe'`, as a whole or for stdout). */
  stdout?: Readable
  /** The process's stderr (`'pipe'`, as a whole or for stderr). */
  stderr?: Readable
}

/** A created (not yet started) process, for connecting its stdio. */
export interface CreatedProcess {
  pid: number
  /** Starts waiting for the process to exit. */
  exited: () => Promise<unknown>
}

/** The stdio URIs for the create request, and what to do after it and at the end. */
export interface TaskIo {
  stdin: string
  stdout: string
  stderr: string
  /** Whether the shim must put the process on a pseudo-terminal. */
  terminal: boolean
  /** True when the outputs are read straight from the process's pipes (see output-holder.ts). */
  direct?: boolean
  /**
   * Called after the task/exec is created: connects the streams. `closeStdin` closes the process's stdin
   * (the CloseIO call), for a stdin Readable of the caller's that ended. `created` is the created process
   * (its pid, and a wait for its exit): direct output needs it.
   */
  attach: (closeStdin: () => Promise<void>, created?: CreatedProcess) => Promise<ProcessStreams>
  /** Called after the task/exec is deleted (or creating it failed). */
  close: () => Promise<void>
}

/** Resolves a {@link TaskStdio} into the URIs containerd's shim understands. */
export async function taskIo(stdio: TaskStdio, id: string, direct?: () => Promise<boolean>): Promise<TaskIo> {
  const none = async (): Promise<void> => undefined
  if (stdio === 'null') return { stdin: '', stdout: '', stderr: '', terminal: false, attach: async () => ({}), close: none }
  if (typeof stdio === 'object' && 'logUri' in stdio) {
    const uri = checkLogUri(stdio.logUri)
    return { stdin: '', stdout: uri, stderr: uri, terminal: stdio.terminal === true, attach: async () => ({}), close: none }
  }
  if (typeof stdio === 'object' && 'terminal' in stdio) {
    if (stdio.terminal !== true) throw new InvalidArgumentError('stdio { terminal } must be { terminal: true }')
    // With a terminal the shim copies one stream (the pty's output) to stdout; stderr must be empty.
    const fifos = await FifoSet.create(id, { stdin: true, stdout: true, stderr: false })
    return { ...fifos.paths, terminal: true, attach: () => fifos.attach(), close: () => fifos.close() }
  }
  if (typeof stdio === 'object' && !('logFile' in stdio)) return streamsIo(stdio, id, direct)
  if (stdio === 'pipe') {
    const fifos = await FifoSet.create(id, { stdin: true, stdout: true, stderr: true })
    return { ...fifos.paths, terminal: false, attach: () => fifos.attach(), close: () => fifos.close() }
  }
  if (stdio === 'inherit') return streamsIo({ stdout: process.stdout, stderr: process.stderr }, id, direct)
  if (typeof stdio !== 'object' || typeof stdio.logFile !== 'string' || stdio.logFile === '') {
    throw new InvalidArgumentError(`stdio must be 'null', 'pipe', 'inherit', { logFile }, { logUri }, { terminal: true } or { stdin?, stdout?, stderr? } streams`)
  }
  return logFileIo(stdio.logFile, id, direct)
}

/** Both outputs appended to one file by this process. */
async function logFileIo(path: string, id: string, direct: (() => Promise<boolean>) | undefined): Promise<TaskIo> {
  const file = createWriteStream(path, { flags: 'a' })
  let io: TaskIo
  try {
    await once(file, 'open') // a path that cannot be opened fails here, before anything is created
    io = await streamsIo({ stdout: file, stderr: file }, id, direct)
  } catch (err) {
    file.destroy()
    throw ioError(err, `stdio logFile ${JSON.stringify(path)}`)
  }
  return {
    ...io,
    close: async () => {
      await io.close()
      await new Promise<void>((resolve) => file.end(() => resolve()))
    },
  }
}

const STREAM_KEYS = new Set(['stdin', 'stdout', 'stderr'])

async function streamsIo(stdio: StreamsStdio, id: string, direct: (() => Promise<boolean>) | undefined): Promise<TaskIo> {
  const unknown = Object.keys(stdio).filter((k) => !STREAM_KEYS.has(k))
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`stdio: unknown key ${JSON.stringify(unknown[0])}; want 'null', 'pipe', 'inherit', { logFile }, { logUri }, { terminal: true } or { stdin?, stdout?, stderr? } streams`)
  }
  const { stdin, stdout, stderr } = stdio
  const isOutput = (s: unknown): boolean => s === undefined || s === 'pipe' || isWritableStream(s)
  if ((stdin !== undefined && !isReadableStream(stdin)) || !isOutput(stdout) || !isOutput(stderr)) {
    throw new InvalidArgumentError("stdio streams: stdin must be a Readable, stdout and stderr Writables or 'pipe'")
  }
  // A stream already destroyed or ended would drop the output silently, or (stdin) never end.
  if (stdin !== undefined) checkReadable(stdin, 'stdio stdin')
  if (stdout !== undefined && stdout !== 'pipe') checkWritable(stdout, 'stdio stdout')
  if (stderr !== undefined && stderr !== 'pipe') checkWritable(stderr, 'stdio stderr')
  if (stdin === undefined && direct !== undefined && (await direct())) return directIo(stdout, stderr)
  // Both output FIFOs, wanted or not: the shim refuses an empty path for one output beside a FIFO for
  // the other (it would open "" as a file); an output not wanted is read and dropped here.
  const fifos = await FifoSet.create(id, { stdin: stdin !== undefined, stdout: true, stderr: true })
  let detachStdin = (): void => undefined
  let detachOutputs = (): void => undefined
  return {
    ...fifos.paths,
    terminal: false,
    attach: async (closeStdin) => {
      const ends = await fifos.attach()
      const connected = connectOutputs(ends, stdout, stderr)
      detachOutputs = connected.detach
      const fifo = ends.stdin
      if (stdin !== undefined && fifo !== undefined) {
        // When the input ends, flush it into the FIFO, then close the process's stdin so it reads EOF.
        const input = stdin
        const onEnd = (): void => {
          fifo.end(() => void closeStdin().catch(() => undefined))
        }
        input.pipe(fifo, { end: false })
        input.once('end', onEnd)
        // An input failing mid-way ends the process's stdin as if it had ended (the process reads EOF),
        // rather than crashing this process with an 'error' event nobody handles.
        const unwatch = watchStreamErrors(input, (err) => {
          debug('stdin stream failed, closing the process stdin: %s', err.message)
          input.unpipe(fifo)
          onEnd()
        })
        // The caller's stream may outlive the process (process.stdin): leave it as it was found.
        detachStdin = () => {
          unwatch()
          input.off('end', onEnd)
          input.unpipe(fifo)
        }
      }
      return connected.streams
    },
    close: async () => {
      detachStdin()
      detachOutputs()
      await fifos.close()
    },
  }
}

/** Output read straight from the process's pipes (see output-holder.ts); only for a task's init process. */
function directIo(stdout: Writable | 'pipe' | undefined, stderr: Writable | 'pipe' | undefined): TaskIo {
  let outputs: DirectOutputs | undefined
  let detach = (): void => undefined
  return {
    stdin: '',
    stdout: OUTPUT_HOLDER_URI,
    stderr: OUTPUT_HOLDER_URI,
    terminal: false,
    direct: true,
    attach: async (_closeStdin, created) => {
      if (created === undefined) throw new Error('direct output needs the created process')
      outputs = await attachDirectOutputs(created.pid, created.exited)
      const connected = connectOutputs(outputs, stdout, stderr)
      detach = connected.detach
      return connected.streams
    },
    close: async () => {
      detach()
      await outputs?.close()
    },
  }
}

/**
 * Pipes each output into its Writable, not ending it (it may be process.stdout, or one file for both), or
 * hands it to the caller for `'pipe'`; an output without either is read and dropped, so the process
 * never blocks on it. A Writable that fails (its first write, or later) is let go: the output is read and
 * dropped from then on, so the process neither blocks on a full pipe nor crashes this process with the
 * Writable's 'error' event (pipe() re-emits it when nothing else listens). `detach` stops listening, for
 * when the process is gone and the Writable is the caller's alone again.
 */
function connectOutputs(
  ends: { stdout?: Readable; stderr?: Readable },
  stdout: Writable | 'pipe' | undefined,
  stderr: Writable | 'pipe' | undefined,
): { streams: ProcessStreams; detach: () => void } {
  const streams: ProcessStreams = {}
  const unwatchers: (() => void)[] = []
  const connect = (end: Readable | undefined, target: Writable | 'pipe' | undefined, name: string): Readable | undefined => {
    if (end === undefined) return undefined
    if (target === 'pipe') return end
    if (target !== undefined) {
      unwatchers.push(
        watchStreamErrors(target, (err) => {
          debug('%s destination failed, dropping the rest of the output: %s', name, err.message)
          end.unpipe(target)
          end.resume()
        }),
      )
      end.pipe(target, { end: false })
    } else end.resume()
    return undefined
  }
  const out = connect(ends.stdout, stdout, 'stdout')
  const err = connect(ends.stderr, stderr, 'stderr')
  if (out !== undefined) streams.stdout = out
  if (err !== undefined) streams.stderr = err
  return { streams, detach: () => unwatchers.forEach((u) => u()) }
}

/**
 * Reconnects to the stdio of a process created by another client (which may have exited): its FIFOs, or
 * for a task with direct output (see output-holder.ts) new read ends of its pipes, which need `created`
 * and `direct` (whether this client can reach them). The process's output from here on arrives on the
 * returned streams, and `stdin` feeds it if it has one. Returns the streams and a closer that releases
 * our ends (and removes the FIFO directory).
 * @throws FailedPreconditionError when the process's pipes cannot be reached from this client.
 */
export async function reattachIo(
  paths: { stdin: string; stdout: string; stderr: string },
  created?: CreatedProcess & { exitedAlready: boolean; direct: () => Promise<boolean> },
): Promise<{ streams: ProcessStreams; close: () => Promise<void> }> {
  if (paths.stdout === OUTPUT_HOLDER_URI && created !== undefined) {
    // Once the process is gone, so are the /proc entries that lead to its pipes.
    if (created.exitedAlready) return { streams: {}, close: async () => undefined }
    if (!(await created.direct())) {
      throw new FailedPreconditionError(`the task's output is read from its process's own pipes, which this client cannot reach: it must run as root, in containerd's pid namespace, with /usr/bin/perl`)
    }
    let outputs: DirectOutputs
    try {
      outputs = await attachDirectOutputs(created.pid, created.exited)
    } catch (err) {
      throw new FailedPreconditionError(`cannot reach the output pipes of process ${created.pid}: ${(err as Error).message}`, { cause: err })
    }
    return { streams: { stdout: outputs.stdout, stderr: outputs.stderr }, close: () => outputs.close() }
  }
  const isFifo = (p: string): boolean => p !== '' && !/^[a-z][a-z0-9+.-]*:\/\//.test(p)
  const fifos = await FifoSet.reopen({
    stdin: isFifo(paths.stdin) ? paths.stdin : '',
    stdout: isFifo(paths.stdout) ? paths.stdout : '',
    stderr: isFifo(paths.stderr) ? paths.stderr : '',
  })
  return { streams: await fifos.attach(), close: () => fifos.close() }
}

/** The shim launches `binary://` and appends to `file://` URIs; anything else it would treat as a FIFO path. */
function checkLogUri(uri: unknown): string {
  if (typeof uri !== 'string') throw new InvalidArgumentError('logUri must be a string')
  let parsed: URL
  try {
    parsed = new URL(uri)
  } catch {
    throw new InvalidArgumentError(`logUri ${JSON.stringify(uri)} is not a URI (want binary:///path or file:///path)`)
  }
  if (!['binary:', 'file:'].includes(parsed.protocol) || !parsed.pathname.startsWith('/')) {
    throw new InvalidArgumentError(`logUri ${JSON.stringify(uri)}: the scheme must be binary:// or file:// with an absolute path`)
  }
  return uri
}
