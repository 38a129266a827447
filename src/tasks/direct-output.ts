import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net'
import { readdir, readFile, stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { drained, OUTPUT_DRAIN_MS } from './drained.js'
import { HOLDER_MARKER } from './output-holder.js'

/** First read size, and the least: what an idle task's stream holds. */
const MIN_READ_BYTES = 64 * 1024
/** Largest read: the size the holder gives the pipe. */
const MAX_READ_BYTES = 1024 * 1024
/** Bound on the drain at exit: the pipe holds 1 MiB; more means a writer outlived the process (host pid namespace). */
const DRAIN_LIMIT = 16 * MAX_READ_BYTES

/**
 * One output of a container's init process read straight from the pipe the process writes to, with no
 * shim copy in between (see output-holder.ts for how the pipe is reached).
 *
 * The shim keeps the pipe's write end open until the task is deleted, so the pipe alone gives EOF only
 * then. To end when the process ends, as a FIFO does, the stream is told when the process exited:
 * everything it wrote is in the pipe by then, so what is left is read at once, without waiting for more,
 * and the stream ends. Backpressure holds: while the consumer does not read, the pipe fills and the
 * process blocks on its next write.
 */
export class DirectOutput extends Readable {
  private readonly socket: Socket
  private finished = false
  /**
   * Reads grow from 64 KiB to 1 MiB while they fill their buffer and shrink when they come small, so a
   * fast writer is read in few large pieces and a quiet task holds little memory.
   */
  private readBytes = MIN_READ_BYTES
  /** Where the next read lands; dropped once handed on as it is, made anew when a read comes. */
  private buffer: Buffer | undefined

  /**
   * @param fd  A non-blocking read end of the pipe; this stream owns it from now on.
   * @param exited  Settles once the process has exited; a rejection is ignored (the stream then ends at
   *   the pipe's EOF, when the task is deleted).
   */
  constructor(private readonly fd: number, exited: Promise<unknown>) {
    super({ highWaterMark: MAX_READ_BYTES })
    // Reads into our own buffer (`onread`), of up to 1 MiB instead of the 64 KiB Node's sockets read: a
    // full 1 MiB pipe then takes 16 times fewer reads and callbacks. (Node takes `onread` in the Socket
    // constructor too; its type declarations list it only for connect().)
    const options: SocketConstructorOpts & { onread: OnReadOpts } = {
      fd,
      readable: true,
      writable: false,
      onread: { buffer: () => this.nextBuffer(), callback: (n: number) => this.onRead(n) },
    }
    this.socket = new Socket(options)
    this.socket.on('end', () => this.finish())
    this.socket.on('error', (err) => this.destroy(err))
    exited.then(() => this.drainAndEnd(), () => undefined)
  }

  private nextBuffer(): Buffer {
    this.buffer ??= Buffer.allocUnsafe(this.readBytes)
    return this.buffer
  }

  /** Hands on what a read brought; returning false pauses the socket until `_read` resumes it. */
  private onRead(n: number): boolean {
    if (this.finished) return false
    return this.push(this.chunkOf(n))
  }

  /** The first `n` bytes of the read buffer as a chunk of their own, and the next read's size. */
  private chunkOf(n: number): Buffer {
    const buffer = this.nextBuffer()
    if (n === buffer.length) this.readBytes = Math.min(this.readBytes * 4, MAX_READ_BYTES)
    else if (n < this.readBytes / 16) this.readBytes = Math.max(this.readBytes / 4, MIN_READ_BYTES)
    if (n >= buffer.length / 4) {
      // Mostly full: handed on without a copy; the next read gets a fresh buffer.
      this.buffer = undefined
      return buffer.subarray(0, n)
    }
    // A small read is copied out, so a large buffer is not kept alive for a few bytes.
    return Buffer.from(buffer.subarray(0, n))
  }

  override _read(): void {
    if (!this.finished) this.socket.resume()
  }

  override _destroy(err: Error | null, callback: (err: Error | null) => void): void {
    this.finished = true
    this.socket.destroy()
    callback(err)
  }

  /**
   * The process exited: reads the pipe until it is empty (EAGAIN; nobody writes any more) and ends.
   * Every read so far was handed on in onRead (the socket keeps nothing), so the pipe holds the rest.
   * Synchronous, so the event loop cannot interleave a read of its own; bounded by the pipe's size,
   * whatever the consumer's pace.
   */
  private drainAndEnd(): void {
    if (this.finished || this.destroyed) return
    this.socket.pause()
    for (let total = 0; total < DRAIN_LIMIT; ) {
      const buffer = this.nextBuffer()
      let n: number
      try {
        n = readSync(this.fd, buffer, 0, buffer.length, null)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break
        this.destroy(err as Error)
        return
      }
      if (n === 0) break
      this.push(this.chunkOf(n))
      total += n
    }
    this.finish()
  }

  private finish(): void {
    if (this.finished) return
    this.finished = true
    this.push(null)
    this.socket.destroy()
  }
}

/**
 * Opens a new read end of the pipe behind file descriptor `fd` of process `pid` (through /proc, as
 * root on the same host), non-blocking. Throws when that descriptor is not a pipe.
 */
export function openProcessPipe(pid: number, fd: number): number {
  const opened = openSync(`/proc/${pid}/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    if (!fstatSync(opened).isFIFO()) throw new Error(`fd ${fd} of process ${pid} is not a pipe`)
    return opened
  } catch (err) {
    closeSync(opened)
    throw err
  }
}

/** The streams of a process read directly, and how to let go of them. */
export interface DirectOutputs {
  /** The process's stdout. */
  stdout: Readable
  /** The process's stderr. */
  stderr: Readable
  /** Lets flowing output finish (bounded), then closes our ends. */
  close: () => Promise<void>
}

/**
 * Opens both outputs of a created process whose stdio is the output holder's (see output-holder.ts), after
 * checking that the pipes reached through `/proc/<pid>` are the holder's: a pid from a daemon in another
 * pid namespace would name some other process here. Both outputs must be read (or resumed to drop
 * them): the holder does not read, so a full pipe would block the process. `waitExit` starts waiting
 * for the process to exit (see {@link DirectOutput}).
 * @throws Error when the pipes cannot be opened or are not the holder's.
 */
export async function attachDirectOutputs(pid: number, waitExit: () => Promise<unknown>): Promise<DirectOutputs> {
  const fds: number[] = []
  try {
    fds.push(openProcessPipe(pid, 1))
    fds.push(openProcessPipe(pid, 2))
    await checkHolderPipes(pid, fds as [number, number])
  } catch (err) {
    for (const fd of fds) closeSync(fd)
    throw err
  }
  const exited = waitExit()
  const stdout = new DirectOutput(fds[0] as number, exited)
  const stderr = new DirectOutput(fds[1] as number, exited)
  return {
    stdout,
    stderr,
    close: async () => {
      await Promise.all([stdout, stderr].map((s) => drained(s, OUTPUT_DRAIN_MS)))
      stdout.destroy()
      stderr.destroy()
    },
  }
}

/**
 * Finds the holder among the children of the process's parent (the shim) and checks that its fds 3
 * and 4 are the pipes `fds` were opened on.
 */
async function checkHolderPipes(pid: number, fds: [number, number]): Promise<void> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const ppid = /^PPid:\s+(\d+)$/m.exec(status)?.[1]
  if (ppid === undefined || ppid === '0') throw new Error(`process ${pid} has no parent here`)
  // A multi-threaded parent (the Go shim) lists each thread's children apart.
  const threads = await readdir(`/proc/${ppid}/task`)
  const children = new Set<string>()
  for (const list of await Promise.all(threads.map((t) => readFile(`/proc/${ppid}/task/${t}/children`, 'utf8').catch(() => '')))) {
    for (const child of list.split(' ')) if (child.trim() !== '') children.add(child.trim())
  }
  const wantedInodes = fds.map((fd) => fstatSync(fd).ino)
  for (const child of children) {
    const cmdline = await readFile(`/proc/${child}/cmdline`, 'utf8').catch(() => '')
    if (!cmdline.includes(HOLDER_MARKER)) continue
    const held = await Promise.all([3, 4].map((fd) => stat(`/proc/${child}/fd/${fd}`).then((st) => st.ino, () => -1)))
    if (held[0] === wantedInodes[0] && held[1] === wantedInodes[1]) return
  }
  throw new Error(`the output pipes of process ${pid} are not held by an output holder of its parent ${ppid}`)
}
