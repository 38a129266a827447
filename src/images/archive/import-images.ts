import { open, type FileHandle } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import type { ClientCore } from '../../client/client.js'
import { checkOptionKeys, keysOf } from '../../client/option-check.js'
import { AlreadyExistsError, CanceledError, InvalidArgumentError } from '../../grpc/errors.js'
import { checkReadable, ioError, watchStreamErrors } from '../../grpc/io-error.js'
import type { RenewingLease } from '../../client/leases/lease-manager.js'
import type { Image as ImageRecord } from '../../gen/containerd/services/images/v1/images_pb.js'
import type { OciDescriptor } from '../../image-spec/descriptor.js'
import type { PlatformSpec } from '../../image-spec/platform.js'
import { ArchiveError } from './archive-error.js'
import { DOCKER_MANIFEST_FILE } from './docker-manifest-json.js'
import { dockerSaveRoots } from './docker-save-roots.js'
import type { ImportRoot } from './import-root.js'
import { gunzipIfNeeded } from './gunzip-if-needed.js'
import { normalizeNamePrefix } from './image-names.js'
import { parseReference } from '../../image-spec/reference.js'
import { unpackImported } from './import-unpack.js'
import { walkImport } from './import-walk.js'
import { INDEX_FILE, OCI_LAYOUT_FILE } from './index-json.js'
import { ingestArchive } from './ingest-archive.js'
import { ociLayoutRoots } from './oci-layout-roots.js'
import { platformSelection, toSpec } from './platform-selection.js'

/** Options of `client.importImages()`. */
export interface ImportImagesOptions {
  /** Keep every platform of multi-platform images. Default: only `platform` (this host's). */
  allPlatforms?: boolean
  /** The platform to keep from multi-platform images and to unpack. Default: this host's. */
  platform?: string | PlatformSpec
  /**
   * A repository (`example.com/app`) for entries the archive does not fully name: an OCI ref name that
   * is only a tag becomes `<prefix>:<tag>`, an entry without any name `<prefix>@<digest>`. Without it
   * such entries are not imported (no image record keeps them).
   */
  namePrefix?: string
  /** Unpack each image's `platform` manifest into snapshots, so containers can use it. Default true. */
  unpack?: boolean
  /** The snapshotter to unpack into. Default `overlayfs`. */
  snapshotter?: string
  /** Labels for the image records created or updated. */
  labels?: Record<string, string>
  /** Aborts the import; nothing it stored remains. */
  signal?: AbortSignal | undefined
}

/** The keys of {@link ImportImagesOptions}, for the run-time check at the start of {@link importImages}. */
export const IMPORT_IMAGES_OPTION_KEYS = keysOf<ImportImagesOptions>()({
  allPlatforms: true,
  platform: true,
  namePrefix: true,
  unpack: true,
  snapshotter: true,
  labels: true,
  signal: true,
})

/** An image record an import created or updated. */
export interface ImportedImage {
  /** The normalized name, e.g. `docker.io/library/busybox:latest`. */
  name: string
  /** The manifest or index the record points at. */
  target: OciDescriptor
}

/**
 * Imports an image archive — an OCI layout tar (`ctr images export`, `skopeo copy … oci-archive:`,
 * Docker 25+ `docker save`) or a classic `docker save` / skopeo `docker-archive:` tar, plain or gzipped —
 * into the client's namespace, and returns the image records it created or updated.
 *
 * The archive is read once, as a stream: every file goes straight into the content store (verified
 * against the digest its path names) as it arrives, since the metadata may come last; then the images
 * are resolved, parents get containerd's `containerd.io/gc.ref.content.*` labels, the `platform` manifest
 * of each image is unpacked (unless `unpack: false`), and finally the records are written. Everything
 * happens under one renewing lease (5 minute expiry); if anything fails, the records written are reverted and the lease is deleted
 * with a synchronous garbage collection, so no content, ingest, snapshot or record of the import remains.
 *
 * Archives are untrusted input: entries with absolute paths or `..`, hard links, devices, duplicate
 * paths, links in place of blobs, truncated data, blobs whose bytes do not match their digest and JSON
 * documents over 4 MiB are refused with an {@link ArchiveError}.
 *
 * @param source the archive: a stream (read to its end; destroyed if the import fails), or a file path.
 * @throws ArchiveError for a refused archive (`reason` says why); InvalidArgumentError for bad options
 * (an unknown key is named with the closest known one), before anything is read;
 * CanceledError when `signal` aborts. A source that cannot be used: NotFoundError for a missing path,
 * InvalidArgumentError for a directory or a stream already destroyed or ended (before anything is made),
 * PermissionDeniedError for a file that cannot be read, and a stream that fails mid-way as a typed error
 * (`UnknownError` for the stream's own error, `AbortedError` when it closed early) with its error as `cause`.
 */
export async function importImages(client: ClientCore, source: Readable | string, options: ImportImagesOptions = {}, naming: ImportNaming = {}): Promise<ImportedImage[]> {
  checkOptionKeys(options, IMPORT_IMAGES_OPTION_KEYS, 'images.import()')
  // Checked first, like every option: a bad name fails before anything is read.
  const names = naming.names?.map((n) => parseReference(n).string)
  if (options.allPlatforms === true && options.platform !== undefined) {
    throw new InvalidArgumentError('importImages: give either platform or allPlatforms, not both')
  }
  const namePrefix = options.namePrefix === undefined ? undefined : normalizeNamePrefix(options.namePrefix)
  const selection = platformSelection(options.allPlatforms, options.platform === undefined ? undefined : [options.platform])
  const unpackPlatform = options.platform === undefined ? (selection.platforms[0] as PlatformSpec) : toSpec(options.platform)
  const snapshotter = options.snapshotter ?? 'overlayfs'
  const signal = options.signal
  if (signal?.aborted === true) throw new CanceledError('the import was aborted before it started', { cause: signal.reason })

  const what = typeof source === 'string' ? `the import source ${JSON.stringify(source)}` : 'the import source stream'
  if (typeof source !== 'string') checkReadable(source, what)
  // A path is opened (and checked to be something readable) before anything is made, so a missing file
  // or a directory is a typed error at once rather than a stream error (or an unhandled one) later.
  const raw = typeof source === 'string' ? await openArchiveFile(source, what) : source
  // The source's errors reach us through the reads below; listening keeps one raised while no read is
  // pending (after the failure, or from a source that errors twice) from crashing the process.
  const unwatch = watchStreamErrors(raw, () => undefined)
  const input = gunzipIfNeeded(raw)
  // Ours, and not read until the lease exists: an abort before that destroys it with an error nothing
  // reads yet (it crashed the process). The read below still sees the error: the stream is errored.
  watchStreamErrors(input, () => undefined)
  // An abort stops the read at once; the calls in flight see the same signal.
  const onAbort = (): void => {
    input.destroy(new CanceledError('the import was aborted', { cause: signal?.reason }))
    // The source too: `input` is only torn down once its read of the source returns, which a source
    // that stalls never does (the import then never ended).
    raw.destroy()
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  const written: { name: string; previous: ImageRecord | undefined }[] = []
  let lease: RenewingLease | undefined
  try {
    // Short and renewed while the import runs: a process killed mid-import pins its blobs for minutes.
    lease = await client.leases.createRenewing({ signal })
    // Every call of the import carries the lease (its current id: it renews on a long import).
    const leased = client.leased(lease)
    const archive = await ingestArchive(leased, input, { signal })
    const roots = renamed(await archiveRoots(leased, archive, namePrefix, signal), names)
    // Images nothing would name are not walked: without a record, the lease's end collects them anyway.
    const named = roots.filter((r) => r.names.length > 0)
    const walk = await walkImport(leased, archive, named.map((r) => r.descriptor), selection, signal)
    for (const [digest, labels] of walk.labels) await leased.content.setLabels(digest, labels, { signal })
    if (options.unpack !== false) {
      const done = new Set<string>()
      for (const root of named) {
        await unpackImported(leased, walk.manifests.get(root.descriptor.digest) ?? [], done, { platform: unpackPlatform, snapshotter, ref: root.names[0] as string, signal })
      }
    }
    // Records last: until now, failing needs nothing but the lease's removal. A name given twice
    // keeps its last image, as containerd's import does.
    const records = new Map<string, OciDescriptor>()
    for (const root of named) for (const name of root.names) records.set(name, recordTarget(root.descriptor))
    for (const [name, target] of records) await saveRecord(leased, name, target, options.labels, written, signal)
    const result: ImportedImage[] = [...records].map(([name, target]) => ({ name, target }))
    // Nothing named, nothing kept: collect at once rather than leave the blobs to the next GC.
    await lease.delete(result.length === 0 ? { sync: true } : {})
    return result
  } catch (err) {
    // Also the source itself: a file stream opened but never read would hold its descriptor.
    input.destroy()
    raw.destroy()
    await revertRecords(client, written)
    // Synchronous GC: what the failed import stored is gone when this rejects.
    await lease?.delete({ sync: true }).catch(() => undefined)
    // Whatever the abort broke first (a stream, a call), the caller sees one CanceledError.
    if (aborted(signal) && !(err instanceof CanceledError)) throw new CanceledError('the import was aborted', { cause: signal?.reason })
    // The source's own failure (a read error, a stream closed early) as a typed error naming it.
    throw ioError(err, what)
  } finally {
    signal?.removeEventListener('abort', onAbort)
    // A file we opened keeps our listener (we destroyed it); a caller's stream is theirs again.
    if (typeof source !== 'string') unwatch()
  }
}

/**
 * How an import names what it stores, for the SDK's own callers (a build lands its one image under the
 * caller's tags, whatever name the builder gave it): not an option of `images.import()`.
 */
export interface ImportNaming {
  /** Names for the archive's only image, instead of those in the archive. */
  names?: readonly string[]
}

/** The roots under the names given, when given; an archive with other than one image is refused then. */
function renamed(roots: ImportRoot[], names: readonly string[] | undefined): ImportRoot[] {
  if (names === undefined) return roots
  const [only, ...more] = roots
  if (only === undefined || more.length > 0) {
    throw new ArchiveError('Malformed', `expected one image in the archive to name ${names.join(', ')}, found ${roots.length}`)
  }
  return [{ descriptor: only.descriptor, names: [...names] }]
}

/**
 * Opens an archive file for reading, 1 MiB at a time (with the default 64 KiB, reading the file was a
 * sixth of an import's time).
 * @throws NotFoundError for a missing file; InvalidArgumentError for a directory or anything but a file
 * or FIFO; PermissionDeniedError when it cannot be read.
 */
async function openArchiveFile(path: string, what: string): Promise<Readable> {
  let handle: FileHandle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    throw ioError(err, what)
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile() && !stat.isFIFO()) throw new InvalidArgumentError(`${what} is not a file${stat.isDirectory() ? ' (a directory)' : ''}`)
  } catch (err) {
    await handle.close()
    throw ioError(err, what)
  }
  return handle.createReadStream({ highWaterMark: 1024 * 1024 })
}

// A function, so the check reads the signal's state now rather than what an earlier test narrowed it to.
function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

async function archiveRoots(client: ClientCore, archive: Awaited<ReturnType<typeof ingestArchive>>, namePrefix: string | undefined, signal: AbortSignal | undefined): Promise<ImportRoot[]> {
  const ociLayout = archive.metadata.get(OCI_LAYOUT_FILE)
  const indexJson = archive.metadata.get(INDEX_FILE)
  const manifestJson = archive.metadata.get(DOCKER_MANIFEST_FILE)
  // An OCI layout wins over manifest.json when an archive has both (Docker 25+ writes both), as in containerd.
  if (ociLayout !== undefined) {
    if (indexJson === undefined) throw new ArchiveError('Malformed', 'the archive has oci-layout but no index.json', { path: INDEX_FILE })
    return ociLayoutRoots(ociLayout, indexJson, namePrefix)
  }
  if (manifestJson !== undefined) return dockerSaveRoots(client, archive, manifestJson, { namePrefix, signal })
  throw new ArchiveError('UnrecognizedFormat', 'the archive is neither an OCI image layout (oci-layout and index.json) nor a docker save archive (manifest.json)')
}

function recordTarget(desc: OciDescriptor): OciDescriptor {
  // The record keeps the entry's annotations (names included), like containerd's; a platform has no
  // place in an image record.
  const target: OciDescriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }
  if (desc.annotations !== undefined) target.annotations = { ...desc.annotations }
  return target
}

async function saveRecord(
  client: ClientCore,
  name: string,
  target: OciDescriptor,
  labels: Record<string, string> | undefined,
  written: { name: string; previous: ImageRecord | undefined }[],
  signal: AbortSignal | undefined,
): Promise<void> {
  const image = { name, labels: labels ?? {}, target: { mediaType: target.mediaType, digest: target.digest, size: BigInt(target.size), annotations: target.annotations ?? {} } }
  try {
    await client.services.images.create({ image }, { signal })
    written.push({ name, previous: undefined })
  } catch (err) {
    if (!(err instanceof AlreadyExistsError)) throw err
    const { image: previous } = await client.services.images.get({ name }, { signal })
    await client.services.images.update({ image, updateMask: { paths: labels === undefined ? ['target'] : ['target', 'labels'] } }, { signal })
    written.push({ name, previous })
  }
}

async function revertRecords(client: ClientCore, written: readonly { name: string; previous: ImageRecord | undefined }[]): Promise<void> {
  // Best effort, newest first; deliberately without the caller's signal, which may be what aborted.
  for (const { name, previous } of [...written].reverse()) {
    if (previous === undefined) await client.services.images.delete({ name, sync: false }).catch(() => undefined)
    else await client.services.images.update({ image: previous, updateMask: { paths: ['target', 'labels'] } }).catch(() => undefined)
  }
}
