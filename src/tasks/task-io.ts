import { createWriteStream, type WriteStream } from 'node:fs'
import type { Readable, Writable } from 'node:stream'
import { InvalidArgumentError } from '../client/errors.js'
import { FifoSet } from './fifo-set.js'

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
 * a given Readable is piped into its stdin (the process reads EOF when it ends). A stream left out is
 * discarded (stdin empty).
 */
export interface StreamsStdio {
  /** Fed to the process's stdin. */
  stdin?: Readable
  /** Receives the process's stdout. */
  stdout?: Writable
  /** Receives the process's stderr. */
  stderr?: Writable
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
 * - `{ stdin?, stdout?, stderr? }`: your own Node streams (see {@link StreamsStdio}).
 */
export type TaskStdio = 'null' | 'pipe' | 'inherit' | LogFileStdio | LogUriStdio | TerminalStdio | StreamsStdio

/** The process's ends of its stdio, when piped. */
export interface ProcessStreams {
  /** Write here to feed the process's stdin ('pipe' only). */
  stdin?: Writable
  /** The process's stdout ('pipe' only). */
  stdout?: Readable
  /** The process's stderr ('pipe' only). */
  stderr?: Readable
}

/** The stdio URIs for the create request, and what to do after it and at the end. */
export interface TaskIo {
  stdin: string
  stdout: string
  stderr: string
  /** Whether the shim must put the process on a pseudo-terminal. */
  terminal: boolean
  /**
   * Called after the task/exec is created: connects the streams. `closeStdin` closes the process's stdin
   * (the CloseIO call), for a stdin Readable of the caller's that ended.
   */
  attach: (closeStdin: () => Promise<void>) => Promise<ProcessStreams>
  /** Called after the task/exec is deleted (or creating it failed). */
  close: () => Promise<void>
}

/** Resolves a {@link TaskStdio} into the URIs containerd's shim understands. */
export async function taskIo(stdio: TaskStdio, id: string): Promise<TaskIo> {
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
  if (typeof stdio === 'object' && !('logFile' in stdio)) return streamsIo(stdio, id)
  if (stdio !== 'pipe' && stdio !== 'inherit' && (typeof stdio !== 'object' || typeof stdio.logFile !== 'string' || stdio.logFile === '')) {
    throw new InvalidArgumentError(`stdio must be 'null', 'pipe', 'inherit', { logFile }, { logUri }, { terminal: true } or { stdin?, stdout?, stderr? } streams`)
  }
  const fifos = await FifoSet.create(id, { stdin: stdio === 'pipe', stdout: true, stderr: true })
  let file: WriteStream | undefined
  return {
    ...fifos.paths,
    terminal: false,
    attach: async () => {
      const streams = await fifos.attach()
      if (stdio === 'pipe') return streams
      const out = stdio === 'inherit' ? { stdout: process.stdout, stderr: process.stderr } : undefined
      if (out !== undefined) {
        streams.stdout?.pipe(out.stdout, { end: false })
        streams.stderr?.pipe(out.stderr, { end: false })
      } else {
        file = createWriteStream((stdio as LogFileStdio).logFile, { flags: 'a' })
        streams.stdout?.pipe(file, { end: false })
        streams.stderr?.pipe(file, { end: false })
      }
      return {}
    },
    close: async () => {
      await fifos.close()
      const f = file
      if (f !== undefined) await new Promise<void>((resolve) => f.end(() => resolve()))
    },
  }
}

const STREAM_KEYS = new Set(['stdin', 'stdout', 'stderr'])

async function streamsIo(stdio: StreamsStdio, id: string): Promise<TaskIo> {
  const unknown = Object.keys(stdio).filter((k) => !STREAM_KEYS.has(k))
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`stdio: unknown key ${JSON.stringify(unknown[0])}; want 'null', 'pipe', 'inherit', { logFile }, { logUri }, { terminal: true } or { stdin?, stdout?, stderr? } streams`)
  }
  const isStream = (s: unknown, method: 'pipe' | 'write'): boolean => s !== null && typeof s === 'object' && typeof (s as Record<string, unknown>)[method] === 'function'
  const { stdin, stdout, stderr } = stdio
  if ((stdin !== undefined && !isStream(stdin, 'pipe')) || (stdout !== undefined && !isStream(stdout, 'write')) || (stderr !== undefined && !isStream(stderr, 'write'))) {
    throw new InvalidArgumentError('stdio streams: stdin must be a Readable, stdout and stderr Writables')
  }
  const fifos = await FifoSet.create(id, { stdin: stdin !== undefined, stdout: stdout !== undefined, stderr: stderr !== undefined })
  let detachStdin = (): void => undefined
  return {
    ...fifos.paths,
    terminal: false,
    attach: async (closeStdin) => {
      const ends = await fifos.attach()
      if (stdout !== undefined) ends.stdout?.pipe(stdout, { end: false })
      if (stderr !== undefined) ends.stderr?.pipe(stderr, { end: false })
      const fifo = ends.stdin
      if (stdin !== undefined && fifo !== undefined) {
        // When the input ends, flush it into the FIFO, then close the process's stdin so it reads EOF.
        const onEnd = (): void => {
          fifo.end(() => void closeStdin().catch(() => undefined))
        }
        stdin.pipe(fifo, { end: false })
        stdin.once('end', onEnd)
        // The caller's stream may outlive the process (process.stdin): leave it as it was found.
        detachStdin = () => {
          stdin.off('end', onEnd)
          stdin.unpipe(fifo)
        }
      }
      return {}
    },
    close: async () => {
      detachStdin()
      await fifos.close()
    },
  }
}

/**
 * Reconnects to the FIFOs of a process created by another client (which may have exited): the process's
 * output from here on arrives on the returned streams, and `stdin` feeds it if it has one.
 * Returns the streams and a closer that releases our ends and removes the FIFO directory.
 */
export async function reattachIo(paths: { stdin: string; stdout: string; stderr: string }): Promise<{ streams: ProcessStreams; close: () => Promise<void> }> {
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
