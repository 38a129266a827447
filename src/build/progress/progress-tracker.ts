import type { StatusResponse } from '../../gen/moby/buildkit/api/services/control/control_pb.js'
import { checkOptionKeys, keysOf } from '../../client/option-check.js'
import { InvalidArgumentError } from '../../grpc/errors.js'
import { applyStatusResponse, isCanceledMessage, type BuildLogStream, type BuildProgressEvent, type BuildVertex, type BuildWarning } from './build-progress.js'

/** Options of {@link BuildProgressTracker}. */
export interface BuildProgressTrackerOptions {
  /** How many of each step's last log lines are kept. Default 20: enough to show why a step failed. */
  maxLogLines?: number
  /**
   * The longest line kept, in bytes; the rest of a longer line is dropped and a marker saying how much
   * was cut ends it. Default 4096.
   */
  maxLineBytes?: number
  /**
   * The bytes kept of each step's log, all kept lines together; the oldest lines go first. Default 16384,
   * so a step costs at most this plus one partial line per stream however much it prints.
   */
  maxLogBytes?: number
}

const OPTION_KEYS = keysOf<BuildProgressTrackerOptions>()({ maxLogLines: true, maxLineBytes: true, maxLogBytes: true })

const CR = 0x0d
const LF = 0x0a
const utf8 = new TextDecoder()
const encoder = new TextEncoder()

/** The line a stream is in the middle of: bytes so far (at most the line limit) and how many were cut. */
interface PartialLine {
  parts: Uint8Array[]
  length: number
  cut: number
  /** The last chunk ended with `\r`: a `\n` next ends the line, anything else starts it over. */
  pendingCR: boolean
}

/** The kept end of one step's output. */
interface LogTail {
  /** Complete lines, oldest first, with their byte sizes summed in `bytes`. */
  lines: Uint8Array[]
  bytes: number
  /** One partial line per stream: stdout and stderr chunks interleave, their lines do not. */
  partial: Map<BuildLogStream, PartialLine>
}

/**
 * Follows a build's Control.Status stream: merges the steps (vertices) by digest across messages, keeps
 * the last lines each step printed, and collects warnings, so that a failed build can say where and why it
 * failed. Memory stays bounded however much the build prints (see {@link BuildProgressTrackerOptions}).
 */
export class BuildProgressTracker {
  readonly #vertices = new Map<string, BuildVertex>()
  readonly #logs = new Map<string, LogTail>()
  readonly #warnings: BuildWarning[] = []
  /** Digests of failed steps, in the order they failed. */
  readonly #failed: string[] = []
  readonly #maxLines: number
  readonly #maxLineBytes: number
  readonly #maxBytes: number

  /** @throws InvalidArgumentError for an unknown option or a limit that is not a positive integer. */
  constructor(options: BuildProgressTrackerOptions = {}) {
    checkOptionKeys(options, OPTION_KEYS, 'BuildProgressTracker')
    this.#maxLines = positiveInteger(options.maxLogLines, 20, 'maxLogLines')
    this.#maxLineBytes = positiveInteger(options.maxLineBytes, 4096, 'maxLineBytes')
    this.#maxBytes = positiveInteger(options.maxLogBytes, 16384, 'maxLogBytes')
  }

  /**
   * Takes the next Status message and returns the events it causes: a `vertex` event for each step whose
   * state changed (the step merged with what earlier messages said), then its warnings and log chunks, with
   * a step's completion after the output it printed before completing.
   */
  update(response: StatusResponse): BuildProgressEvent[] {
    const events = applyStatusResponse(this.#vertices, response)
    for (const event of events) {
      switch (event.type) {
        case 'vertex':
          if (event.vertex.error !== undefined && !this.#failed.includes(event.vertex.digest)) this.#failed.push(event.vertex.digest)
          break
        case 'warning':
          this.#warnings.push(event.warning)
          break
        case 'log':
          this.#appendLog(event.log.vertex, event.log.stream, event.log.data)
          break
      }
    }
    return events
  }

  /** Every step seen so far, in the order the stream first mentioned them. */
  vertices(): BuildVertex[] {
    return [...this.#vertices.values()]
  }

  /** The step with this digest, if the stream mentioned it. */
  vertex(digest: string): BuildVertex | undefined {
    return this.#vertices.get(digest)
  }

  /**
   * The step the build failed at: the first to fail, preferring a step with a real error over one that was
   * only canceled because something else failed (`context canceled`), and a step that printed something or
   * whose inputs did not fail over a wrapper that failed only because an input did. Undefined when no step
   * failed.
   */
  failedVertex(): BuildVertex | undefined {
    let best: BuildVertex | undefined
    let bestRank = Infinity
    for (const digest of this.#failed) {
      const vertex = this.#vertices.get(digest)
      if (vertex?.error === undefined) continue
      const rank = this.#failureRank(vertex)
      if (rank < bestRank) {
        best = vertex
        bestRank = rank
      }
    }
    return best
  }

  /**
   * The last lines the step printed (at most `maxLogLines`), oldest first, without their line ends. A line
   * the step has not ended yet comes last; output after the last `\r` of a line replaces what came before,
   * as on a terminal (progress bars). Empty for an unknown step.
   */
  lastLogLines(digest: string): string[] {
    const tail = this.#logs.get(digest)
    if (tail === undefined) return []
    const lines = tail.lines.map((line) => utf8.decode(line))
    for (const partial of tail.partial.values()) {
      if (partial.length > 0 || partial.cut > 0) lines.push(utf8.decode(this.#lineBytes(partial)))
    }
    return lines.slice(-this.#maxLines)
  }

  /** Every warning received, in order. */
  warnings(): BuildWarning[] {
    return [...this.#warnings]
  }

  /** 0: a real failure; 1: a wrapper of a failed input, with no output; 2: canceled. */
  #failureRank(vertex: BuildVertex): number {
    if (isCanceledMessage(vertex.error ?? '')) return 2
    const printed = this.#logs.has(vertex.digest)
    const inputFailed = vertex.inputs.some((input) => this.#vertices.get(input)?.error !== undefined)
    return !printed && inputFailed ? 1 : 0
  }

  #appendLog(digest: string, stream: BuildLogStream, data: Uint8Array): void {
    let tail = this.#logs.get(digest)
    if (tail === undefined) {
      tail = { lines: [], bytes: 0, partial: new Map() }
      this.#logs.set(digest, tail)
    }
    let partial = tail.partial.get(stream)
    if (partial === undefined) {
      partial = { parts: [], length: 0, cut: 0, pendingCR: false }
      tail.partial.set(stream, partial)
    }
    let start = 0
    for (;;) {
      const end = data.indexOf(LF, start)
      this.#appendSegment(partial, data.subarray(start, end === -1 ? data.length : end))
      if (end === -1) break
      this.#endLine(tail, partial)
      start = end + 1
    }
  }

  /** Adds bytes without a `\n` to the line a stream is in, handling `\r` and the line limit. */
  #appendSegment(partial: PartialLine, segment: Uint8Array): void {
    let bytes = segment
    // A `\r` that was not the first half of `\r\n` moved the cursor back: what follows overwrites the line.
    if (partial.pendingCR && bytes.length > 0) this.#restart(partial)
    partial.pendingCR = bytes.length > 0 ? bytes[bytes.length - 1] === CR : partial.pendingCR
    if (partial.pendingCR && bytes.length > 0) bytes = bytes.subarray(0, bytes.length - 1)
    const cr = bytes.lastIndexOf(CR)
    if (cr !== -1) {
      this.#restart(partial)
      bytes = bytes.subarray(cr + 1)
    }
    if (bytes.length === 0) return
    let room = Math.max(0, this.#maxLineBytes - partial.length)
    if (room < bytes.length) {
      // Cut on a character boundary: never keep the first bytes of a UTF-8 sequence without the rest.
      while (room > 0 && ((bytes[room] as number) & 0xc0) === 0x80) room--
      partial.cut += bytes.length - room
    }
    if (room > 0) {
      // A copy: a view would keep the whole chunk (which may be megabytes) alive.
      partial.parts.push(bytes.slice(0, Math.min(room, bytes.length)))
      partial.length += Math.min(room, bytes.length)
    }
  }

  #restart(partial: PartialLine): void {
    partial.parts = []
    partial.length = 0
    partial.cut = 0
  }

  #endLine(tail: LogTail, partial: PartialLine): void {
    const line = this.#lineBytes(partial)
    this.#restart(partial)
    partial.pendingCR = false
    tail.lines.push(line)
    tail.bytes += line.length
    while (tail.lines.length > this.#maxLines || (tail.bytes > this.#maxBytes && tail.lines.length > 1)) {
      tail.bytes -= (tail.lines.shift() as Uint8Array).length
    }
  }

  /** The bytes of a line so far, with the cut marker when it was too long. */
  #lineBytes(partial: PartialLine): Uint8Array {
    const marker = partial.cut > 0 ? encoder.encode(`… [${partial.cut} bytes cut]`) : new Uint8Array(0)
    const line = new Uint8Array(partial.length + marker.length)
    let offset = 0
    for (const part of partial.parts) {
      line.set(part, offset)
      offset += part.length
    }
    line.set(marker, offset)
    return line
  }
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`BuildProgressTracker option ${name} must be a positive integer, got ${String(value)}`)
  }
  return value
}
