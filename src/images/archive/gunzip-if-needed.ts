import { pipeline, Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'

/**
 * The bytes of `source`, gunzipped when they start with the gzip magic bytes (`1f 8b`): `docker save |
 * gzip` and `.tar.gz` archives import like plain ones. A tar never starts with those bytes (its first
 * field is a file name), so the check cannot misfire. Errors of `source` or of the decompression
 * (a truncated gzip stream) surface on the returned stream.
 */
export function gunzipIfNeeded(source: AsyncIterable<Uint8Array>): Readable {
  async function* bytes(): AsyncGenerator<Uint8Array> {
    const it = source[Symbol.asyncIterator]()
    // Gather at least two bytes: a stream may deliver them in separate chunks.
    const head: Uint8Array[] = []
    let headBytes = 0
    let done = false
    while (headBytes < 2) {
      const next = await it.next()
      if (next.done === true) {
        done = true
        break
      }
      head.push(next.value)
      headBytes += next.value.byteLength
    }
    const first = Buffer.concat(head)
    async function* rest(): AsyncGenerator<Uint8Array> {
      if (first.byteLength > 0) yield first
      if (done) return
      for (;;) {
        const next = await it.next()
        if (next.done === true) return
        yield next.value
      }
    }
    try {
      if (first[0] === 0x1f && first[1] === 0x8b) {
        const gunzip = createGunzip()
        // pipeline destroys the gunzip stream with the first error, which ends the loop below with it.
        pipeline(Readable.from(rest(), { objectMode: false }), gunzip, () => undefined)
        yield* gunzip as AsyncIterable<Uint8Array>
      } else {
        yield* rest()
      }
    } finally {
      // Stops (and for a stream, destroys) the source when the reader gives up early.
      await it.return?.()
    }
  }
  return Readable.from(bytes(), { objectMode: false })
}
