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
 * Where a process's stdio goes.
 * - `'null'`: nowhere; stdin is empty.
 * - `'pipe'`: `stdin` (Writable), `stdout` and `stderr` (Readables) on the task or process, through FIFOs.
 *   Consume both outputs (the process blocks when a pipe is full) and end stdin when done.
 * - `'inherit'`: stdout and stderr go to this process's own; stdin is empty.
 * - `{ logFile }`: stdout and stderr appended to a file by this process (through FIFOs, like `'pipe'`), so
 *   it must keep running; the file is complete once the task is deleted. (containerd's own `file://`
 *   URIs were not used: with both streams pointing at one file the shim's writes overwrote each other.)
 * Terminals and the json-file logger come with the rest of the containers and tasks issue.
 */
export type TaskStdio = 'null' | 'pipe' | 'inherit' | LogFileStdio

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
  /** Called after the task/exec is created: connects the streams. */
  attach: () => Promise<ProcessStreams>
  /** Called after the task/exec is deleted (or creating it failed). */
  close: () => Promise<void>
}

/** Resolves a {@link TaskStdio} into the URIs containerd's shim understands. */
export async function taskIo(stdio: TaskStdio, id: string): Promise<TaskIo> {
  const none = async (): Promise<void> => undefined
  if (stdio === 'null') return { stdin: '', stdout: '', stderr: '', attach: async () => ({}), close: none }
  if (stdio !== 'pipe' && stdio !== 'inherit' && (typeof stdio !== 'object' || typeof stdio.logFile !== 'string' || stdio.logFile === '')) {
    throw new InvalidArgumentError(`stdio must be 'null', 'pipe', 'inherit' or { logFile: <path> }`)
  }
  const fifos = await FifoSet.create(id, { stdin: stdio === 'pipe', stdout: true, stderr: true })
  let file: WriteStream | undefined
  return {
    ...fifos.paths,
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
