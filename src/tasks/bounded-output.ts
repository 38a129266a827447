import type { Readable } from 'node:stream'
import { InvalidArgumentError, ResourceExhaustedError } from '../grpc/errors.js'

/**
 * How many bytes of each output stream `exec().output()` and `run({ stdio: 'pipe' })` keep by default:
 * 1 MiB, the default of Node's `child_process.exec` / `execFile` (`maxBuffer: 1024 * 1024`).
 */
export const DEFAULT_MAX_BUFFER = 1024 * 1024

/**
 * A `maxBuffer` option checked: a number of bytes ≥ 0, an integer or `Infinity` (no limit), like
 * `child_process`; `undefined` gives {@link DEFAULT_MAX_BUFFER}.
 * @throws InvalidArgumentError for anything else.
 */
export function checkMaxBuffer(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_BUFFER
  if (typeof value !== 'number' || !(value === Infinity || (Number.isInteger(value) && value >= 0))) {
    throw new InvalidArgumentError(`maxBuffer must be a number of bytes (an integer ≥ 0, or Infinity for no limit), got ${typeof value === 'number' ? String(value) : JSON.stringify(value) ?? typeof value}`)
  }
  return value
}

/**
 * One output stream's bytes, kept up to `maxBuffer`. Past it nothing more is kept (memory stays bounded
 * however much the process writes) and {@link BoundedBuffer.overflow} holds the error to fail with.
 */
export class BoundedBuffer {
  private readonly chunks: Buffer[] = []
  private size = 0
  private error: ResourceExhaustedError | undefined

  constructor(
    /** The stream's name for the error (`stdout`, `stderr`). */
    readonly name: string,
    /** Bytes allowed; one more fails (as with `child_process`, exactly `maxBuffer` bytes is fine). */
    readonly maxBuffer: number,
  ) {}

  /** Keeps `chunk`; false once the total passed `maxBuffer` (the chunk and all later ones are dropped). */
  push(chunk: Buffer): boolean {
    if (this.error !== undefined) return false
    if (this.size + chunk.length > this.maxBuffer) {
      this.error = new ResourceExhaustedError(`${this.name} exceeded maxBuffer (${this.maxBuffer} bytes)`)
      // What was kept is of no use any more: the caller fails.
      this.chunks.length = 0
      return false
    }
    this.size += chunk.length
    this.chunks.push(chunk)
    return true
  }

  /** The error past `maxBuffer`, once it was passed. */
  get overflow(): ResourceExhaustedError | undefined {
    return this.error
  }

  /** What was kept, as UTF-8 text. */
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8')
  }
}

/**
 * Collects a process's output stream into a {@link BoundedBuffer}. Past `maxBuffer`, `onOverflow` is
 * called (once) and the stream keeps being read and dropped: the shim's copy into the FIFO must be able
 * to finish, or deleting the process waits for it. `done` resolves with the text when the stream ends
 * or closes (`''` for no stream).
 */
export class OutputCollector {
  /** The text, once the stream ended. */
  readonly done: Promise<string>
  private readonly buffer: BoundedBuffer
  private reported = false

  constructor(private readonly stream: Readable | undefined, name: string, maxBuffer: number, onOverflow: (err: ResourceExhaustedError) => void) {
    this.buffer = new BoundedBuffer(name, maxBuffer)
    const buffer = this.buffer
    this.done = new Promise((resolve) => {
      if (stream === undefined) return resolve('')
      const finish = (): void => resolve(buffer.text)
      stream.on('data', (chunk: Buffer) => {
        if (!buffer.push(chunk) && buffer.overflow !== undefined && !this.reported) {
          this.reported = true
          onOverflow(buffer.overflow)
        }
      })
      stream.once('end', finish)
      stream.once('close', finish)
      // A read error (our end was destroyed) ends the collection with what came; the caller fails anyway.
      stream.once('error', finish)
    })
  }

  /** The error past `maxBuffer`, once it was passed. */
  get overflow(): ResourceExhaustedError | undefined {
    return this.buffer.overflow
  }

  /** Stops reading: our end of the stream is closed (for a process that is gone, or never started). */
  destroy(): void {
    this.stream?.destroy()
  }
}
