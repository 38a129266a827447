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
 */
export type TaskStdio = 'null' | 'pipe' | 'inherit' | LogFileStdio | LogUriStdio | TerminalStdio

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
  /** Called after the task/exec is created: connects the streams. */
  attach: () => Promise<ProcessStreams>
  /** Called after the task/exec is deleted (or creating it failed). */
  close: () => Promise<void>
}

/** Resolves a {@link TaskStdio} into the URIs containerd's shim understands. */
export async function taskIo(stdio: TaskStdio, id: string): Promise<TaskIo> {
  const none = async (): Promise<void> => undefined
  if (stdio === 'null') return { stdin: '', stdout: '', stderr: '', terminal: false, attach: async () => ({}), close: none }
  if (typeof stdio === 'object' && 'logUri' in stdio) {
    const uri = checkLogUri(stdio.logUri)
    return { stdin: '', stdout: uri, stderr: uri, terminal: false, attach: async () => ({}), close: none }
  }
  if (typeof stdio === 'object' && 'terminal' in stdio) {
    if (stdio.terminal !== true) throw new InvalidArgumentError('stdio { terminal } must be { terminal: true }')
    // With a terminal the shim copies one stream (the pty's output) to stdout; stderr must be empty.
    const fifos = await FifoSet.create(id, { stdin: true, stdout: true, stderr: false })
    return { ...fifos.paths, terminal: true, attach: () => fifos.attach(), close: () => fifos.close() }
  }
  if (stdio !== 'pipe' && stdio !== 'inherit' && (typeof stdio !== 'object' || typeof stdio.logFile !== 'string' || stdio.logFile === '')) {
    throw new InvalidArgumentError(`stdio must be 'null', 'pipe', 'inherit', { logFile: <path> } or { logUri: <uri> }`)
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
