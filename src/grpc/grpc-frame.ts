/**
 * gRPC length-prefixed message framing: a 1-byte compressed flag, a 4-byte big-endian length, the bytes.
 * We never compress (containerd does not either), so a set flag is a protocol error.
 */

/** containerd's default maximum message size in both directions (`defaults/defaults.go`). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024

/** The 5-byte gRPC frame header for a message of `length` bytes (uncompressed). */
export function frameHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(5)
  header[0] = 0
  header.writeUInt32BE(length, 1)
  return header
}

/** Wraps one encoded message in a gRPC frame. */
export function encodeFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.byteLength)
  frame[0] = 0
  frame.writeUInt32BE(message.byteLength, 1)
  frame.set(message, 5)
  return frame
}

/** Thrown by {@link FrameDecoder} for a frame it cannot accept. */
export class FrameError extends Error {
  constructor(message: string, readonly tooLarge = false) {
    super(message)
    this.name = 'FrameError'
  }
}

/**
 * Incremental decoder: feed it the DATA chunks of an HTTP/2 stream, take out whole messages.
 * Chunks are kept in a list and only concatenated once a whole message is there, so a 16 MiB message
 * arriving in 16 KiB chunks costs one copy, not a quadratic number of them.
 */
export class FrameDecoder {
  private chunks: Buffer[] = []
  private buffered = 0
  private expected = -1

  constructor(private readonly maxMessageBytes = MAX_MESSAGE_BYTES) {}

  /** Adds a chunk and returns every message it completed. */
  push(chunk: Buffer): Buffer[] {
    // The common case of a unary answer: nothing buffered and the chunk is exactly one whole message.
    // Its bytes are handed out as they are, without going through the chunk list.
    if (this.expected < 0 && this.buffered === 0 && chunk.byteLength >= 5) {
      if (chunk[0] !== 0) throw new FrameError('received a compressed gRPC message, but no compression was negotiated')
      const length = chunk.readUInt32BE(1)
      if (length > this.maxMessageBytes) {
        throw new FrameError(`received a message of ${length} bytes, above the ${this.maxMessageBytes}-byte limit`, true)
      }
      if (chunk.byteLength === 5 + length) return [chunk.subarray(5)]
    }
    this.chunks.push(chunk)
    this.buffered += chunk.byteLength
    const out: Buffer[] = []
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < 5) break
        const head = this.take(5)
        if (head[0] !== 0) throw new FrameError('received a compressed gRPC message, but no compression was negotiated')
        const length = head.readUInt32BE(1)
        if (length > this.maxMessageBytes) {
          throw new FrameError(`received a message of ${length} bytes, above the ${this.maxMessageBytes}-byte limit`, true)
        }
        this.expected = length
      }
      if (this.buffered < this.expected) break
      out.push(this.take(this.expected))
      this.expected = -1
    }
    return out
  }

  /** True when a frame was started but not finished: the stream ended early. */
  get pending(): boolean {
    return this.expected >= 0 || this.buffered > 0
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0)
    const first = this.chunks[0]!
    let result: Buffer
    if (first.byteLength >= n) {
      result = first.subarray(0, n)
      if (first.byteLength === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
    } else {
      result = Buffer.allocUnsafe(n)
      let filled = 0
      while (filled < n) {
        const chunk = this.chunks[0]!
        const want = n - filled
        if (chunk.byteLength <= want) {
          result.set(chunk, filled)
          filled += chunk.byteLength
          this.chunks.shift()
        } else {
          result.set(chunk.subarray(0, want), filled)
          this.chunks[0] = chunk.subarray(want)
          filled += want
        }
      }
    }
    this.buffered -= n
    return result
  }
}
