import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { Info } from '../../gen/containerd/services/content/v1/content_pb.js'
import { AlreadyExistsError, DataLossError, InvalidArgumentError } from '../../grpc/errors.js'
import { canceledError } from '../../grpc/abort.js'
import { checkReadable, ioError } from '../../grpc/io-error.js'
import { labelPatch } from '../label-patch.js'
import type { NamespaceScope } from '../namespace-scope.js'
import type { Services } from '../services.js'
import type { CallOptions } from '../../grpc/call-options.js'
import { toDate } from '../time.js'
import { ContentWriter, type ContentWriterOptions } from './content-writer.js'
import { digestAlgorithm, validateDigest, type Digest } from './digest.js'

/** A blob in the content store. */
export interface ContentInfo {
  /** The blob's digest. */
  digest: Digest
  /** Its size in bytes. */
  size: number
  /** When it was committed. */
  createdAt: Date | undefined
  /** When its labels last changed. */
  updatedAt: Date | undefined
  /** Its labels (GC references, distribution sources, …). */
  labels: Record<string, string>
}

/** The progress of an unfinished write (an ingest). */
export interface IngestStatus {
  /** The ingest ref the writer was opened with. */
  ref: string
  /** Bytes stored so far. */
  offset: number
  /** Expected total size, or 0 when unknown. */
  total: number
  /** Expected digest, or `''`. */
  expected: string
  /** When the write started. */
  startedAt: Date | undefined
  /** When data last arrived. */
  updatedAt: Date | undefined
}

/** Options for {@link ContentStore.read}. */
export interface ReadOptions extends CallOptions {
  /** Where to start, in bytes. Default 0. */
  offset?: number
  /** How many bytes to read. Default: to the end. */
  size?: number
}

/** Options for {@link ContentStore.writeBlob}. */
export interface WriteBlobOptions extends CallOptions {
  /** The ingest ref. Default: derived from the expected digest, else random. */
  ref?: string
  /** The digest the data must have. Recommended: it makes the write idempotent and verified. */
  expected?: Digest
  /** The size, when known. */
  size?: number
  /** Labels to set on the blob. */
  labels?: Record<string, string>
}

/** Data accepted by {@link ContentStore.writeBlob}. */
export type BlobSource = Uint8Array | AsyncIterable<Uint8Array> | Readable

/** containerd's content store: immutable blobs addressed by digest. */
export class ContentStore {
  /** @internal */
  constructor(
    private readonly services: Services,
    private readonly scope: NamespaceScope,
    // The lease id the client's calls carry now (a write stream keeps the one it opened with).
    private readonly leaseNow: () => string | undefined,
  ) {}

  /**
   * Reads a blob's metadata.
   * @throws NotFoundError if the blob is not in the store.
   */
  async info(digest: string, options?: CallOptions): Promise<ContentInfo> {
    validateDigest(digest)
    const { info } = await this.services.content.info({ digest }, options)
    return toContentInfo(info, digest)
  }

  /** Lists blobs, optionally filtered (`digest==…`, `labels."key"==value`), as they arrive. */
  async *list(options: CallOptions & { filters?: string[] } = {}): AsyncIterable<ContentInfo> {
    for await (const batch of this.services.content.list({ filters: options.filters ?? [] }, options)) {
      for (const info of batch.info) yield toContentInfo(info, info.digest as Digest)
    }
  }

  /**
   * Streams a blob's bytes (or a range of them) as a Node Readable, with backpressure.
   * @throws NotFoundError (as a stream error) if the blob is missing.
   */
  read(digest: string, options: ReadOptions = {}): Readable {
    validateDigest(digest)
    const offset = options.offset ?? 0
    const size = options.size ?? 0
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError(`read offset must be a non-negative integer, got ${offset}`)
    if (!Number.isSafeInteger(size) || size < 0) throw new InvalidArgumentError(`read size must be a non-negative integer, got ${size}`)
    const responses = this.services.content.read({ digest, offset: BigInt(offset), size: BigInt(size) }, options)
    async function* chunks(): AsyncGenerator<Buffer> {
      // containerd numbers the chunks from the start of the requested range, not of the blob; a gap
      // would mean lost data, so refuse rather than splice.
      let next = 0
      for await (const res of responses) {
        if (Number(res.offset) !== next && Number(res.offset) !== next + offset) {
          throw new DataLossError(`content ${digest}: expected data at offset ${next}, got ${res.offset}`)
        }
        next += res.data.byteLength
        yield Buffer.from(res.data.buffer, res.data.byteOffset, res.data.byteLength)
      }
    }
    const stream = Readable.from(chunks(), { objectMode: false, highWaterMark: 4 * 1024 * 1024 })
    // The stream reads ahead of its consumer (up to 4 MiB, a small blob whole): an abort must stop it at
    // once with CanceledError, not let it hand out what it holds and end as if nothing happened.
    const signal = options.signal
    if (signal !== undefined) {
      const onAbort = (): void => void stream.destroy(canceledError(signal, `reading content ${digest}`))
      signal.addEventListener('abort', onAbort, { once: true })
      stream.once('close', () => signal.removeEventListener('abort', onAbort))
    }
    return stream
  }

  /**
   * Reads a whole blob into memory and verifies its digest. Meant for manifests and configs.
   * @throws ResourceExhaustedError-like InvalidArgumentError when it exceeds `maxBytes` (default 64 MiB).
   * @throws DataLossError if the bytes do not match the digest.
   */
  async readAll(digest: string, options: CallOptions & { maxBytes?: number } = {}): Promise<Buffer> {
    validateDigest(digest)
    const maxBytes = options.maxBytes ?? 64 * 1024 * 1024
    const chunks: Buffer[] = []
    let total = 0
    const hash = createHash(digestAlgorithm(digest))
    for await (const chunk of this.read(digest, options) as AsyncIterable<Buffer>) {
      total += chunk.byteLength
      if (total > maxBytes) throw new InvalidArgumentError(`content ${digest} is larger than the ${maxBytes}-byte limit of readAll; use read() to stream it`)
      hash.update(chunk)
      chunks.push(chunk)
    }
    const actual = `${digestAlgorithm(digest)}:${hash.digest('hex')}`
    if (actual !== digest) throw new DataLossError(`content ${digest}: the store returned bytes with digest ${actual}`)
    return Buffer.concat(chunks, total)
  }

  /**
   * Opens a resumable writer (see {@link ContentWriter}). While another writer holds the same ref
   * (containerd's "ref … locked"), waits and retries with a growing backoff, up to
   * `lockWaitMs` (default 10 minutes), then fails with containerd's `UnavailableError`.
   */
  async writer(ref: string, options: ContentWriterOptions = {}): Promise<ContentWriter> {
    return this.scope.guard.run(this.scope.namespace, () => ContentWriter.open(this.services, ref, options, this.leaseNow))
  }

  /**
   * Writes a whole blob and commits it. Idempotent when `expected` is given: if the blob already exists,
   * nothing is written, `labels` are merged into its labels, and its digest is returned. Any failure
   * aborts the ingest.
   * @throws InvalidArgumentError for a stream already destroyed or ended (before an ingest is opened); a
   * source stream failing mid-way as a typed error (`UnknownError`, `AbortedError` when it closed early)
   * whose `cause` is the stream's error.
   */
  async writeBlob(data: BlobSource, options: WriteBlobOptions = {}): Promise<Digest> {
    return this.scope.guard.run(this.scope.namespace, () => this.writeBlobOnce(data, options))
  }

  private async writeBlobOnce(data: BlobSource, options: WriteBlobOptions): Promise<Digest> {
    // A stream already destroyed or ended is refused before an ingest is opened.
    if (data instanceof Readable) checkReadable(data, 'the blob source stream')
    const ref = options.ref ?? `csdk-${options.expected ?? `blob-${Date.now()}-${Math.random().toString(36).slice(2)}`}`
    const writerOptions: ContentWriterOptions = { signal: options.signal, timeoutMs: options.timeoutMs }
    if (options.expected !== undefined) writerOptions.expected = options.expected
    const size = options.size ?? (data instanceof Uint8Array ? data.byteLength : undefined)
    if (size !== undefined) writerOptions.total = size
    let writer: ContentWriter
    try {
      writer = await ContentWriter.open(this.services, ref, writerOptions, this.leaseNow)
    } catch (err) {
      if (err instanceof AlreadyExistsError && options.expected !== undefined) return this.existing(options.expected, options)
      throw err
    }
    try {
      if (data instanceof Uint8Array) {
        // A resumed ingest already holds the first `offset` bytes.
        await writer.write(data.subarray(writer.offset))
      } else {
        // A resumed ingest already holds the first `offset` bytes (containerd also reports a blob still
        // present in its shared store as fully written): skip that much of the stream.
        let skip = writer.offset
        for await (const chunk of data as AsyncIterable<Uint8Array>) {
          if (skip >= chunk.byteLength) {
            skip -= chunk.byteLength
            continue
          }
          await writer.write(skip > 0 ? chunk.subarray(skip) : chunk)
          skip = 0
        }
      }
      const commit: { size?: number; labels?: Record<string, string> } = {}
      if (size !== undefined) commit.size = size
      if (options.labels !== undefined) commit.labels = options.labels
      return await writer.commit(commit)
    } catch (err) {
      await writer.abort().catch(() => undefined)
      if (err instanceof AlreadyExistsError && options.expected !== undefined) return this.existing(options.expected, options)
      // The source's own failure (a stream erroring or closing mid-way) as a typed error; the store's are typed already.
      throw ioError(err, 'the blob source stream')
    }
  }

  // The blob was there already: the caller still gets the labels it asked for.
  private async existing(digest: Digest, options: WriteBlobOptions): Promise<Digest> {
    if (options.labels !== undefined && Object.keys(options.labels).length > 0) await this.setLabels(digest, options.labels, options)
    return digest
  }

  /**
   * Deletes a blob.
   * @throws NotFoundError if it is not in the store.
   */
  async delete(digest: string, options?: CallOptions): Promise<void> {
    validateDigest(digest)
    await this.services.content.delete({ digest }, options)
  }

  /**
   * Sets labels on a blob: merged by default (a `''` value removes the key), or replacing all labels
   * with `replace: true`.
   */
  async setLabels(digest: string, labels: Record<string, string>, options: CallOptions & { replace?: boolean } = {}): Promise<ContentInfo> {
    validateDigest(digest)
    const patch = labelPatch(labels)
    const paths = options.replace === true ? ['labels'] : patch.paths
    const { info } = await this.services.content.update({ info: { digest, labels: patch.labels }, updateMask: { paths } }, options)
    return toContentInfo(info, digest)
  }

  /**
   * The status of an unfinished write.
   * @throws NotFoundError if no ingest has that ref.
   */
  async status(ref: string, options?: CallOptions): Promise<IngestStatus> {
    const { status } = await this.services.content.status({ ref }, options)
    return toIngestStatus(status, ref)
  }

  /** Lists unfinished writes (`ref~=…` filters). */
  async listStatuses(options: CallOptions & { filters?: string[] } = {}): Promise<IngestStatus[]> {
    const { statuses } = await this.services.content.listStatuses({ filters: options.filters ?? [] }, options)
    return statuses.map((s) => toIngestStatus(s, s.ref))
  }

  /** Removes an unfinished write. A missing ref is not an error. */
  async abort(ref: string, options?: CallOptions): Promise<void> {
    try {
      await this.services.content.abort({ ref }, options)
    } catch (err) {
      if ((err as { code?: string }).code !== 'NotFound') throw err
    }
  }
}

function toContentInfo(info: Info | undefined, digest: Digest): ContentInfo {
  return {
    digest: (info?.digest || digest) as Digest,
    size: Number(info?.size ?? 0),
    createdAt: toDate(info?.createdAt),
    updatedAt: toDate(info?.updatedAt),
    labels: { ...(info?.labels ?? {}) },
  }
}

function toIngestStatus(
  s: { ref: string; offset: bigint; total: bigint; expected: string; startedAt?: Parameters<typeof toDate>[0]; updatedAt?: Parameters<typeof toDate>[0] } | undefined,
  ref: string,
): IngestStatus {
  return {
    ref: s?.ref || ref,
    offset: Number(s?.offset ?? 0),
    total: Number(s?.total ?? 0),
    expected: s?.expected ?? '',
    startedAt: toDate(s?.startedAt),
    updatedAt: toDate(s?.updatedAt),
  }
}
