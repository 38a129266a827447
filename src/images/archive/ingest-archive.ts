import { createHash, randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { ClientCore } from '../../client/client.js'
import { digestAlgorithm, type Digest } from '../../client/content/digest.js'
import { AlreadyExistsError } from '../../grpc/errors.js'
import { ArchiveError } from './archive-error.js'
import { MAX_JSON_BYTES } from './archive-json.js'
import { DOCKER_MANIFEST_FILE } from './docker-manifest-json.js'
import { digestFromBlobPath, isUnderBlobs, resolveLinkTarget } from './entry-path.js'
import { INDEX_FILE, OCI_LAYOUT_FILE } from './index-json.js'
import { tarEntries } from './tar-entries.js'

/** A file of the archive, now a blob in the content store. */
export interface StoredFile {
  /** The blob's digest (verified against the path for `blobs/…` entries, computed for others). */
  digest: Digest
  /** Its length. */
  size: number
  /** Its first bytes, to tell a compressed layer from a plain tar. */
  head: Buffer
}

/** What {@link ingestArchive} found and stored. */
export interface IngestedArchive {
  /** Regular files stored as blobs, by normalized path. */
  files: Map<string, StoredFile>
  /** Sizes of the blobs stored from the archive, by digest. */
  blobs: Map<string, number>
  /** Symbolic links, as link path → resolved archive path (`docker save` and skopeo write them for layers). */
  symlinks: Map<string, string>
  /** `oci-layout`, `index.json` and `manifest.json`, kept in memory. */
  metadata: Map<string, Buffer>
}

// Read into memory, never stored: they describe the archive rather than being content.
const METADATA_FILES = new Set([OCI_LAYOUT_FILE, INDEX_FILE, DOCKER_MANIFEST_FILE])
// Legacy `docker save` metadata: `repositories` and the per-layer v1 `json`/`VERSION` files. Nothing
// reads them (manifest.json has superseded them since Docker 1.10), so they are skipped, not stored.
const IGNORED = (path: string): boolean => path === 'repositories' || /^[^/]+\/(json|VERSION)$/.test(path)
const HEAD_BYTES = 8

/**
 * Streams an archive's files into the content store as they come (tar order is arbitrary: `docker save`
 * writes manifest.json last), keeping only the small metadata files in memory. Files under `blobs/`
 * are written with the digest their path names, which containerd and the writer verify; every file is
 * also hashed here as it passes, so a blob the store already had is checked against the archive's bytes
 * too. Other files (the layers and configs of a `docker save` archive) are stored under the digest of
 * their bytes. Must run inside the import's lease: nothing stored here has a GC reference yet.
 * @throws ArchiveError for unsafe, duplicate or unsupported entries, truncation, digest mismatches and
 * oversize metadata.
 */
export async function ingestArchive(client: ClientCore, input: Readable, options: { signal?: AbortSignal | undefined } = {}): Promise<IngestedArchive> {
  const result: IngestedArchive = { files: new Map(), blobs: new Map(), symlinks: new Map(), metadata: new Map() }
  for await (const entry of tarEntries(input)) {
    if (entry.kind === 'symlink') {
      // Only `docker save`'s legacy layer aliases (`<id>/layer.tar -> ../<hex>.tar`) need links; in the
      // layout's own files a link would let one path stand for another's bytes.
      if (METADATA_FILES.has(entry.path) || isUnderBlobs(entry.path)) {
        throw new ArchiveError('UnsupportedEntry', `archive entry ${JSON.stringify(entry.path)} is a symbolic link; blobs and layout files must be regular files`, { path: entry.path })
      }
      result.symlinks.set(entry.path, resolveLinkTarget(entry.path, entry.target))
      continue
    }
    if (METADATA_FILES.has(entry.path)) {
      result.metadata.set(entry.path, await readSmall(entry.body, entry.size, entry.path))
      continue
    }
    if (IGNORED(entry.path)) continue
    const expected = isUnderBlobs(entry.path) ? digestFromBlobPath(entry.path) : undefined
    const stored = await storeFile(client, entry.path, entry.body, entry.size, expected, options.signal)
    result.files.set(entry.path, stored)
    result.blobs.set(stored.digest, stored.size)
  }
  return result
}

async function readSmall(body: AsyncIterable<Uint8Array>, size: number, path: string): Promise<Buffer> {
  // The header says how big the file is: refuse before reading a byte of it.
  if (size > MAX_JSON_BYTES) {
    throw new ArchiveError('TooLarge', `${path} is ${size} bytes, more than the ${MAX_JSON_BYTES}-byte limit for JSON documents`, { path })
  }
  const chunks: Uint8Array[] = []
  for await (const chunk of body) chunks.push(chunk)
  return Buffer.concat(chunks)
}

async function storeFile(client: ClientCore, path: string, body: AsyncIterable<Uint8Array>, size: number, expected: Digest | undefined, signal: AbortSignal | undefined): Promise<StoredFile> {
  const hash = createHash(expected === undefined ? 'sha256' : digestAlgorithm(expected))
  const state = { bytes: 0, head: Buffer.alloc(0) }
  async function* hashed(): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      hash.update(chunk)
      state.bytes += chunk.byteLength
      if (state.head.byteLength < HEAD_BYTES) state.head = Buffer.concat([state.head, chunk.subarray(0, HEAD_BYTES - state.head.byteLength)])
      yield chunk
    }
  }
  const data = hashed()
  const actual = (): Digest => `${expected === undefined ? 'sha256' : digestAlgorithm(expected)}:${hash.digest('hex')}`
  let written: Digest | undefined
  try {
    written = expected !== undefined
      ? await client.content.writeBlob(data, { expected, size, signal })
      // No digest to name the ingest after: a unique ref, so concurrent imports never share one.
      : await client.content.writeBlob(data, { ref: `import-${randomUUID()}`, size, signal })
  } catch (err) {
    if (state.bytes === size) {
      const digest = actual()
      if (expected !== undefined && digest !== expected) throw mismatch(path, expected, digest, err)
      // containerd reports an identical blob it already holds as AlreadyExists on commit.
      if (expected === undefined && err instanceof AlreadyExistsError) return { digest, size, head: state.head }
    }
    throw err
  }
  // writeBlob returns at once, reading nothing, when the store already has the expected blob: read the
  // archive's bytes anyway, so they are verified like any other.
  for await (const _ of data) {
    // hashed while passing
  }
  const digest = actual()
  if (expected !== undefined && digest !== expected) throw mismatch(path, expected, digest)
  if (expected === undefined && written !== digest) {
    throw new ArchiveError('DigestMismatch', `archive entry ${JSON.stringify(path)}: the content store computed ${written}, but the bytes read hash to ${digest}`, { path })
  }
  return { digest, size, head: state.head }
}

function mismatch(path: string, expected: string, actual: string, cause?: unknown): ArchiveError {
  return new ArchiveError('DigestMismatch', `archive entry ${JSON.stringify(path)} should hold ${expected}, but its bytes hash to ${actual}`, cause === undefined ? { path } : { path, cause })
}
