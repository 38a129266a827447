import { describe, it, expect } from 'vitest'
import { FrameDecoder, FrameError, MAX_MESSAGE_BYTES, encodeFrame } from '../../../src/grpc/grpc-frame.js'

function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}

function catchFrameError(fn: () => unknown): FrameError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(FrameError)
    return err as FrameError
  }
  throw new Error('expected a FrameError')
}

describe('encodeFrame', () => {
  it('writes flag 0, the big-endian length, then the message', () => {
    const frame = encodeFrame(new Uint8Array([1, 2, 3]))
    expect(Buffer.isBuffer(frame)).toBe(true)
    expect([...frame]).toEqual([0, 0, 0, 0, 3, 1, 2, 3])
  })

  it('encodes an empty message as a 5-byte header', () => {
    expect([...encodeFrame(new Uint8Array(0))]).toEqual([0, 0, 0, 0, 0])
  })

  it('encodes lengths above 16 bits big-endian', () => {
    const frame = encodeFrame(new Uint8Array(0x010203))
    expect(frame.byteLength).toBe(5 + 0x010203)
    expect([...frame.subarray(0, 5)]).toEqual([0, 0, 0x01, 0x02, 0x03])
  })

  it('copies from a subarray view correctly', () => {
    const backing = new Uint8Array([9, 9, 4, 5, 6, 9])
    const frame = encodeFrame(backing.subarray(2, 5))
    expect([...frame]).toEqual([0, 0, 0, 0, 3, 4, 5, 6])
  })
})

describe('FrameDecoder', () => {
  it('MAX_MESSAGE_BYTES is 16 MiB', () => {
    expect(MAX_MESSAGE_BYTES).toBe(16 * 1024 * 1024)
  })

  it('decodes one frame in one chunk', () => {
    const d = new FrameDecoder()
    const out = d.push(encodeFrame(Buffer.from('hello')))
    expect(out.map((b) => b.toString())).toEqual(['hello'])
    expect(d.pending).toBe(false)
  })

  it('starts with nothing pending', () => {
    expect(new FrameDecoder().pending).toBe(false)
  })

  it('decodes several messages in one chunk, in order', () => {
    const msgs = ['a', '', 'bcd', 'efghij', '']
    const chunk = Buffer.concat(msgs.map((m) => encodeFrame(Buffer.from(m))))
    const d = new FrameDecoder()
    expect(d.push(chunk).map((b) => b.toString())).toEqual(msgs)
    expect(d.pending).toBe(false)
  })

  it('decodes zero-length messages', () => {
    const d = new FrameDecoder()
    const out = d.push(encodeFrame(new Uint8Array(0)))
    expect(out).toHaveLength(1)
    expect(out[0]!.byteLength).toBe(0)
    expect(d.pending).toBe(false)
  })

  it('decodes consecutive zero-length messages fed one byte at a time', () => {
    const stream = Buffer.concat([encodeFrame(new Uint8Array(0)), encodeFrame(new Uint8Array(0))])
    const d = new FrameDecoder()
    const out: Buffer[] = []
    for (let i = 0; i < stream.byteLength; i++) out.push(...d.push(stream.subarray(i, i + 1)))
    expect(out.map((b) => b.byteLength)).toEqual([0, 0])
    expect(d.pending).toBe(false)
  })

  it('returns messages split at every byte boundary (two chunks)', () => {
    const msgs = [bytes(7, 1), bytes(0), bytes(13, 2)]
    const stream = Buffer.concat(msgs.map((m) => encodeFrame(m)))
    for (let cut = 0; cut <= stream.byteLength; cut++) {
      const d = new FrameDecoder()
      const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))]
      expect(out, `cut at ${cut}`).toEqual(msgs)
      expect(d.pending).toBe(false)
    }
  })

  it('returns messages split at every byte boundary (three chunks)', () => {
    const msgs = [bytes(4, 3), bytes(6, 4)]
    const stream = Buffer.concat(msgs.map((m) => encodeFrame(m)))
    for (let a = 0; a <= stream.byteLength; a++) {
      for (let b = a; b <= stream.byteLength; b++) {
        const d = new FrameDecoder()
        const out = [...d.push(stream.subarray(0, a)), ...d.push(stream.subarray(a, b)), ...d.push(stream.subarray(b))]
        expect(out, `cuts at ${a},${b}`).toEqual(msgs)
        expect(d.pending).toBe(false)
      }
    }
  })

  it('decodes a stream fed one byte at a time, emitting each message when its last byte arrives', () => {
    const msgs = [bytes(3, 5), bytes(10, 6)]
    const first = encodeFrame(msgs[0]!)
    const stream = Buffer.concat([first, encodeFrame(msgs[1]!)])
    const d = new FrameDecoder()
    const emittedAt: number[] = []
    const out: Buffer[] = []
    for (let i = 0; i < stream.byteLength; i++) {
      const got = d.push(stream.subarray(i, i + 1))
      if (got.length > 0) emittedAt.push(i)
      out.push(...got)
    }
    expect(out).toEqual(msgs)
    expect(emittedAt).toEqual([first.byteLength - 1, stream.byteLength - 1])
  })

  it('tolerates empty chunks', () => {
    const d = new FrameDecoder()
    expect(d.push(Buffer.alloc(0))).toEqual([])
    expect(d.pending).toBe(false)
    const frame = encodeFrame(Buffer.from('xyz'))
    expect(d.push(frame.subarray(0, 2))).toEqual([])
    expect(d.push(Buffer.alloc(0))).toEqual([])
    expect(d.push(frame.subarray(2)).map((b) => b.toString())).toEqual(['xyz'])
    expect(d.pending).toBe(false)
  })

  describe('pending', () => {
    it('is true after a partial header', () => {
      const d = new FrameDecoder()
      d.push(Buffer.from([0, 0, 0]))
      expect(d.pending).toBe(true)
    })

    it('is true after a full header without the body', () => {
      const d = new FrameDecoder()
      expect(d.push(encodeFrame(bytes(10)).subarray(0, 5))).toEqual([])
      expect(d.pending).toBe(true)
    })

    it('is true after a partial body', () => {
      const d = new FrameDecoder()
      d.push(encodeFrame(bytes(10)).subarray(0, 9))
      expect(d.pending).toBe(true)
    })

    it('is true when a complete message is followed by a partial one', () => {
      const d = new FrameDecoder()
      const chunk = Buffer.concat([encodeFrame(bytes(2)), encodeFrame(bytes(2)).subarray(0, 1)])
      expect(d.push(chunk)).toHaveLength(1)
      expect(d.pending).toBe(true)
    })

    it('is false once the frame completes', () => {
      const d = new FrameDecoder()
      const frame = encodeFrame(bytes(10))
      d.push(frame.subarray(0, 9))
      expect(d.push(frame.subarray(9))).toHaveLength(1)
      expect(d.pending).toBe(false)
    })
  })

  it('rejects a compressed frame', () => {
    const d = new FrameDecoder()
    const frame = encodeFrame(Buffer.from('x'))
    frame[0] = 1
    const err = catchFrameError(() => d.push(frame))
    expect(err.name).toBe('FrameError')
    expect(err.message).toBe('received a compressed gRPC message, but no compression was negotiated')
    expect(err.tooLarge).toBe(false)
    expect(err).toBeInstanceOf(Error)
  })

  it('rejects any non-zero flag byte, even when the header arrives byte by byte', () => {
    const d = new FrameDecoder()
    const frame = encodeFrame(Buffer.from('x'))
    frame[0] = 0x80
    for (let i = 0; i < 4; i++) expect(d.push(frame.subarray(i, i + 1))).toEqual([])
    const err = catchFrameError(() => d.push(frame.subarray(4, 5)))
    expect(err.message).toContain('compressed')
  })

  it('rejects a length above the limit with tooLarge, before the body arrives', () => {
    const d = new FrameDecoder(100)
    const header = Buffer.from([0, 0, 0, 0, 101])
    const err = catchFrameError(() => d.push(header))
    expect(err.tooLarge).toBe(true)
    expect(err.message).toBe('received a message of 101 bytes, above the 100-byte limit')
  })

  it('accepts a message exactly at the limit', () => {
    const d = new FrameDecoder(100)
    const msg = bytes(100)
    expect(d.push(encodeFrame(msg))).toEqual([msg])
  })

  it('applies the 16 MiB default limit', () => {
    const d = new FrameDecoder()
    const header = Buffer.alloc(5)
    header.writeUInt32BE(MAX_MESSAGE_BYTES + 1, 1)
    const err = catchFrameError(() => d.push(header))
    expect(err.tooLarge).toBe(true)
    expect(err.message).toBe(`received a message of ${MAX_MESSAGE_BYTES + 1} bytes, above the ${MAX_MESSAGE_BYTES}-byte limit`)

    const ok = new FrameDecoder()
    const atLimit = Buffer.alloc(5)
    atLimit.writeUInt32BE(MAX_MESSAGE_BYTES, 1)
    expect(ok.push(atLimit)).toEqual([])
    expect(ok.pending).toBe(true)
  })

  it('rejects the maximum 32-bit length', () => {
    const d = new FrameDecoder()
    const err = catchFrameError(() => d.push(Buffer.from([0, 0xff, 0xff, 0xff, 0xff])))
    expect(err.tooLarge).toBe(true)
    expect(err.message).toContain('4294967295 bytes')
  })

  it('a limit of 0 only allows empty messages', () => {
    const d = new FrameDecoder(0)
    expect(d.push(encodeFrame(new Uint8Array(0)))).toHaveLength(1)
    expect(catchFrameError(() => d.push(encodeFrame(new Uint8Array(1)))).tooLarge).toBe(true)
  })

  it('reassembles a 1 MiB message delivered in 16 KiB chunks', () => {
    const size = 1024 * 1024
    const msg = Buffer.alloc(size)
    for (let i = 0; i < size; i++) msg[i] = (i * 7 + (i >> 8)) & 0xff
    const trailer = Buffer.from('next')
    const stream = Buffer.concat([encodeFrame(msg), encodeFrame(trailer)])
    const d = new FrameDecoder()
    const out: Buffer[] = []
    const chunkSize = 16 * 1024
    let chunksBeforeFirst = 0
    for (let off = 0; off < stream.byteLength; off += chunkSize) {
      const got = d.push(stream.subarray(off, off + chunkSize))
      if (out.length === 0 && got.length === 0) chunksBeforeFirst++
      out.push(...got)
    }
    expect(out).toHaveLength(2)
    expect(out[0]!.byteLength).toBe(size)
    expect(out[0]!.equals(msg)).toBe(true)
    expect(out[1]!.toString()).toBe('next')
    // 1 MiB + 5 header bytes spans 65 chunks; the message completes in the 65th.
    expect(chunksBeforeFirst).toBe(64)
    expect(d.pending).toBe(false)
  })
})
