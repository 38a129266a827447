import { RegistryError } from './registry-error.js'
/**
 * Pure pieces of the distribution spec's blob-upload protocol: where an upload session lives, how the
 * final `?digest=` is attached, and how a blob is cut into `Content-Range` chunks. Kept apart from the
 * HTTP code so they can be tested without a registry.
 */

/** One chunk of a chunked upload: bytes `start` to `end`, both inclusive (the spec's `Content-Range`). */
export interface ChunkRange {
  /** Offset of the first byte. */
  start: number
  /** Offset of the last byte (inclusive). */
  end: number
}

/**
 * Resolves the `Location` header of an upload response against the URL the request went to. Registries
 * answer with absolute URLs (distribution) or absolute paths (`/v2/…/uploads/<uuid>?_state=…`); both, and
 * relative references, are resolved the way a browser would.
 * @throws TypeError when the header is missing or not a URL.
 */
export function resolveUploadLocation(requestUrl: URL, location: string | string[] | undefined): URL {
  const value = Array.isArray(location) ? location[0] : location
  if (value === undefined || value.trim() === '') throw new RegistryError('Protocol', `the registry did not say where to upload (no Location header in its answer to ${requestUrl.pathname})`)
  try {
    return new URL(value.trim(), requestUrl)
  } catch {
    throw new RegistryError('Protocol', `the registry answered with an upload Location that is not a URL: ${JSON.stringify(value)}`)
  }
}

/**
 * The session URL with `digest=<digest>` added for the closing PUT. The existing query (distribution's
 * opaque, signed `_state`) is kept byte for byte: re-encoding it through URLSearchParams could change
 * characters the registry's signature covers.
 */
export function withDigestParam(location: URL, digest: string): URL {
  const url = new URL(location.href)
  const param = `digest=${encodeURIComponent(digest)}`
  url.search = url.search === '' || url.search === '?' ? `?${param}` : `${url.search}&${param}`
  return url
}

/**
 * The chunk size actually used: the caller's, raised to the registry's `OCI-Chunk-Min-Length` when it
 * announces one (the spec lets registries refuse smaller chunks, except the last).
 * @throws RangeError for a chunk size that is not a positive integer.
 */
export function effectiveChunkSize(requested: number, registryMinimum?: number): number {
  if (!Number.isSafeInteger(requested) || requested <= 0) throw new RangeError(`chunkSize must be a positive integer, got ${requested}`)
  return registryMinimum !== undefined && Number.isSafeInteger(registryMinimum) && registryMinimum > requested ? registryMinimum : requested
}

/** Splits `total` bytes into consecutive chunks of `chunkSize` (the last one shorter); none for 0 bytes. */
export function planChunks(total: number, chunkSize: number): ChunkRange[] {
  if (!Number.isSafeInteger(total) || total < 0) throw new RangeError(`blob size must be a non-negative integer, got ${total}`)
  const size = effectiveChunkSize(chunkSize)
  const chunks: ChunkRange[] = []
  for (let start = 0; start < total; start += size) chunks.push({ start, end: Math.min(start + size, total) - 1 })
  return chunks
}

/** The `Content-Range` value for `length` bytes from `start`: `start-end`, inclusive, no unit (the spec's form). */
export function contentRange(start: number, length: number): string {
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(length) || length <= 0) {
    throw new RangeError(`no Content-Range for ${length} bytes at ${start}`)
  }
  return `${start}-${start + length - 1}`
}

/**
 * Parses the `Range` header of an upload session (`0-1023`, or `bytes=0-1023` from older registries):
 * how many bytes the registry holds. Undefined when absent or malformed. Only meaningful once at least
 * one byte was sent: distribution answers `0-0` for both an empty and a one-byte upload.
 */
export function uploadedBytes(range: string | string[] | undefined): number | undefined {
  const value = Array.isArray(range) ? range[0] : range
  const match = /^(?:bytes=)?(\d+)-(\d+)$/.exec(value?.trim() ?? '')
  if (match === null) return undefined
  return Number(match[2]) + 1
}

/**
 * Regroups a stream's pieces into buffers of exactly `size` bytes (the last one shorter), for chunked
 * uploads: each chunk is then a Buffer that can be sent with its length. Holds at most one chunk plus
 * one piece in memory.
 */
export async function* rechunk(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`chunk size must be a positive integer, got ${size}`)
  let parts: Buffer[] = []
  let length = 0
  for await (const piece of source) {
    let rest = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength)
    while (length + rest.byteLength >= size) {
      const take = size - length
      parts.push(rest.subarray(0, take))
      yield Buffer.concat(parts, size)
      parts = []
      length = 0
      rest = rest.subarray(take)
    }
    if (rest.byteLength > 0) {
      parts.push(rest)
      length += rest.byteLength
    }
  }
  if (length > 0) yield Buffer.concat(parts, length)
}
