import type { ClientCore } from '../client/client.js'
import { AlreadyExistsError, FailedPreconditionError, InternalError, NotFoundError } from '../grpc/errors.js'
import type { Digest } from '../client/content/digest.js'
import type { ContentWriter } from '../client/content/content-writer.js'
import type { BlobSink } from '../registry/raw-blob-get.js'
import type { RegistryClient } from '../registry/registry-client.js'
import type { OciDescriptor } from '../image-spec/descriptor.js'
import { RegistryError } from '../registry/registry-error.js'
import type { PullProgressListener } from './progress.js'

/** Options of {@link fetchIntoStore}. */
export interface FetchIntoStoreOptions {
  /** Labels to set on the blob when it is committed (or on the existing blob). */
  labels?: Record<string, string>
  signal?: AbortSignal | undefined
  onProgress?: PullProgressListener | undefined
  /** The reference, for progress events. */
  ref: string
}

// Report download progress at most this often per blob: listeners redraw terminals.
const PROGRESS_EVERY_BYTES = 1024 * 1024
// How often one blob's download is resumed after the connection dropped.
const RESUME_ATTEMPTS = 3

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE'].includes(code)
}

/**
 * Downloads one blob into the content store, unless it is there already: the ingest ref is derived from
 * the digest (like containerd's `layer-<digest>`). A connection that drops mid-blob is resumed with a
 * Range request from what the store holds. containerd verifies the digest and size on commit (a mismatch
 * is a `RegistryError` `DigestMismatch`); more bytes than the descriptor's size are refused on the way. On
 * failure the partial ingest is removed.
 */
export async function fetchIntoStore(
  client: ClientCore,
  registry: RegistryClient,
  desc: OciDescriptor,
  kind: 'manifest' | 'index' | 'config' | 'layer',
  options: FetchIntoStoreOptions,
): Promise<void> {
  const event = { ref: options.ref, digest: desc.digest, mediaType: desc.mediaType, total: desc.size }
  try {
    await client.content.info(desc.digest, { signal: options.signal })
    if (options.labels !== undefined && Object.keys(options.labels).length > 0) await client.content.setLabels(desc.digest, options.labels)
    options.onProgress?.({ ...event, status: 'exists', current: desc.size })
    return
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
  }
  const expected = desc.digest as Digest
  // One hash, containerd's: its content store hashes every byte as it is written and refuses to commit
  // an ingest whose digest or size is not `expected`, so nothing unverified ever becomes a blob (the
  // bytes of a resumed download could only ever be verified there). Hashing here too, in the registry
  // stream or the writer, cost a tenth of the pull's CPU and added no check: the Go client does not
  // either. What we do check here is the length, so a registry cannot make us write without end.
  const ref = `${kind}-${desc.digest}`
  let writer: ContentWriter
  try {
    writer = await client.content.writer(ref, { total: desc.size, expected, signal: options.signal, verify: false })
  } catch (err) {
    // Another pull committed it between our check and the writer opening.
    if (err instanceof AlreadyExistsError) {
      if (options.labels !== undefined) await client.content.setLabels(desc.digest, options.labels)
      options.onProgress?.({ ...event, status: 'exists', current: desc.size })
      return
    }
    throw err
  }
  try {
    let stored = writer.offset
    let reported = stored
    const count = (n: number): void => {
      stored += n
      if (stored - reported >= PROGRESS_EVERY_BYTES) {
        reported = stored
        options.onProgress?.({ ...event, status: 'downloading', current: stored })
      }
    }
    // A connection that drops mid-blob is resumed from what we have (Range request), a few times.
    for (let attempt = 0; stored < desc.size; attempt++) {
      options.onProgress?.({ ...event, status: 'downloading', current: stored })
      try {
        // The socket reads into the writer's message slots (no copy); bytes that arrive another way (with
        // the response head, or from a registry that sends no length) are copied in by `write`.
        const sink: BlobSink = {
          target: () => writer.writeTarget(),
          advance: (n) => {
            const wait = writer.wroteIntoTarget(n)
            count(n)
            return wait
          },
          write: async (bytes) => {
            if (stored + bytes.byteLength > desc.size) {
              throw new RegistryError('DigestMismatch', `blob ${desc.digest}: the registry sent more than the ${desc.size} bytes of its descriptor`)
            }
            await writer.write(bytes)
            count(bytes.byteLength)
          },
        }
        await registry.fetchBlobInto(desc, sink, { offset: stored, signal: options.signal })
        if (stored < desc.size) throw new RegistryError('Unavailable', `blob ${desc.digest}: the registry closed the stream after ${stored} of ${desc.size} bytes`)
      } catch (err) {
        const retriable = (err as { code?: string }).code === 'Unavailable' || isConnectionError(err)
        if (!retriable || attempt >= RESUME_ATTEMPTS || options.signal?.aborted === true) throw err
      }
    }
    // The write stream carries the lease current when it opened. Inside a renewing lease that renewed
    // since (a long download), that lease expires soon and containerd would refuse the commit ("lease
    // does not exist"): hand the ingest over to a stream under the current lease, which resumes it whole.
    if (writer.leaseChanged) {
      await writer.close()
      writer = await client.content.writer(ref, { total: desc.size, expected, signal: options.signal, verify: false })
      if (writer.offset !== desc.size) throw new InternalError(`blob ${desc.digest}: the ingest holds ${writer.offset} of ${desc.size} bytes after reopening it`)
    }
    try {
      await writer.commit({ size: desc.size, expected, ...(options.labels !== undefined ? { labels: options.labels } : {}) })
    } catch (err) {
      // containerd refused the bytes (digest or size): the registry sent something else than the blob.
      if (err instanceof FailedPreconditionError) {
        throw new RegistryError('DigestMismatch', `blob ${desc.digest}: the bytes from ${registry.host} do not match it (${err.message})`, { cause: err })
      }
      throw err
    }
    options.onProgress?.({ ...event, status: 'downloaded', current: desc.size })
  } catch (err) {
    if (err instanceof AlreadyExistsError) return
    // A failed pull leaves nothing behind: the partial ingest goes too.
    await writer.abort().catch(() => undefined)
    throw err
  }
}
