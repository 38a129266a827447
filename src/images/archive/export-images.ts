import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ClientCore } from '../../client/client.js'
import { checkOptionKeys, checkStringArray, describe, keysOf } from '../../client/option-check.js'
import { CanceledError, InvalidArgumentError, NotFoundError } from '../../grpc/errors.js'
import { checkWritable, ioError } from '../../grpc/io-error.js'
import type { OciDescriptor } from '../../image-spec/descriptor.js'
import { formatPlatform, hostPlatform, type PlatformSpec } from '../../image-spec/platform.js'
import { exportImagesOf, planExport } from './export-plan.js'
import { layoutTarStream } from './layout-tar-writer.js'
import { platformSelection, toSpec } from './platform-selection.js'

/** One image written to an archive. */
export interface ExportedImage {
  /** The normalized name. */
  name: string
  /** The index or manifest it points to. */
  target: OciDescriptor
}

/** Options of `client.exportImages()`. */
export interface ExportImagesOptions {
  /**
   * `oci` (default): an OCI image layout plus Docker's manifest.json, which `ctr images import`, skopeo
   * (`oci-archive:` and `docker-archive:`), `docker load` and `importImages` all read.
   * `docker`: the same archive — Docker (since 1.10) loads by manifest.json, whatever the paths — but
   * the export fails unless every image has a manifest for `docker load` (the first platform's).
   */
  format?: 'oci' | 'docker'
  /** The platforms to export from multi-platform images. Default: this host's. */
  platforms?: (string | PlatformSpec)[]
  /** Export every platform of multi-platform images (each must be in the content store). */
  allPlatforms?: boolean
  /** Aborts the export; a file destination is then removed. */
  signal?: AbortSignal | undefined
}

/** The keys of {@link ExportImagesOptions}, for the run-time check at the start of {@link exportImages}. */
export const EXPORT_IMAGES_OPTION_KEYS = keysOf<ExportImagesOptions>()({ format: true, platforms: true, allPlatforms: true, signal: true })

/** What an export wrote. */
export interface ExportResult {
  /** The exported images: normalized name and target. */
  images: ExportedImage[]
  /** How many blobs the archive holds. */
  blobs: number
  /** Whether it has a manifest.json for `docker load`. */
  dockerManifest: boolean
}

/**
 * Exports images to one tar archive, streamed straight from the content store into `destination` (no
 * temporary copies): `oci-layout`, `index.json` (one entry per name, annotated with
 * `io.containerd.image.name` and `org.opencontainers.image.ref.name` like containerd's exporter),
 * `blobs/<alg>/<hex>` for every blob the selected platforms need (once each, however many images
 * share it; a multi-platform image's index is written whole, since its digest covers every entry), and
 * Docker's `manifest.json` so `docker load` accepts it too. Blob sizes and digests are verified as the
 * bytes pass.
 *
 * Everything the archive needs is checked to be in the content store before the first byte is written.
 * A file `destination` is written next to its final path and renamed into place on success, so a failed
 * export leaves no partial file; a stream `destination` is destroyed on failure.
 *
 * @param refs image names (normalized: `busybox` is `docker.io/library/busybox:latest`).
 * @param destination a writable stream, or a file path.
 * @throws NotFoundError for an unknown image, content missing from the store, or a platform an image does
 * not offer; DataLossError when the store's bytes do not match a digest or size; InvalidArgumentError
 * for bad options (an unknown key is named with the closest known one), before anything is written.
 * A destination that cannot be used: NotFoundError for a path in a missing directory, InvalidArgumentError
 * for a directory or a stream already destroyed or ended (both before anything is read), and a
 * destination failing mid-way as a typed error (`PermissionDeniedError`, `ResourceExhaustedError` for a
 * full disk, `AbortedError` for a stream closed early, `UnknownError` for a stream's own error) with its
 * error as `cause`.
 */
export async function exportImages(client: ClientCore, refs: readonly string[], destination: Writable | string, options: ExportImagesOptions = {}): Promise<ExportResult> {
  checkOptionKeys(options, EXPORT_IMAGES_OPTION_KEYS, 'images.export()')
  checkStringArray(refs, 'images.export() references', "['docker.io/library/busybox:latest']")
  if (options.platforms !== undefined && !Array.isArray(options.platforms)) {
    throw new InvalidArgumentError(`images.export() platforms must be an array, e.g. ['linux/amd64', 'linux/arm64']; got ${describe(options.platforms)}`)
  }
  const format = options.format ?? 'oci'
  if (format !== 'oci' && format !== 'docker') throw new InvalidArgumentError(`export format must be "oci" or "docker", got ${JSON.stringify(format)}`)
  if (options.allPlatforms === true && options.platforms !== undefined) {
    throw new InvalidArgumentError('exportImages: give either platforms or allPlatforms, not both')
  }
  const signal = options.signal
  const what = typeof destination === 'string' ? `the export destination ${JSON.stringify(destination)}` : 'the export destination stream'
  // A destination that cannot take the archive is refused before anything is read or written.
  if (typeof destination === 'string') await checkDestinationPath(destination, what)
  else checkWritable(destination, what)
  const selection = platformSelection(options.allPlatforms, options.platforms)
  const images = await exportImagesOf(client, refs, signal)
  const plan = await planExport(client, images, selection, signal)
  if (format === 'docker' && plan.notDockerLoadable.length > 0) {
    throw new NotFoundError(`format "docker" needs one manifest per image for docker load, but ${plan.notDockerLoadable.join(', ')} has none for ${formatPlatform(dockerPlatform(options))}`)
  }
  const result: ExportResult = { images: plan.images, blobs: plan.blobs.length, dockerManifest: plan.docker.length > 0 }
  const tar = layoutTarStream(client, plan, signal)
  try {
    if (typeof destination !== 'string') {
      await pipeline(tar, destination, signal === undefined ? {} : { signal })
      return result
    }
    // Same directory, so the final rename is atomic and never copies.
    const partial = join(dirname(destination), `.${basename(destination)}.${randomBytes(6).toString('hex')}.partial`)
    try {
      await pipeline(tar, createWriteStream(partial, { flags: 'wx' }), signal === undefined ? {} : { signal })
      await rename(partial, destination)
    } catch (err) {
      await rm(partial, { force: true })
      throw err
    }
    return result
  } catch (err) {
    tar.destroy()
    if (signal?.aborted === true && !(err instanceof CanceledError)) throw new CanceledError('the export was aborted', { cause: signal.reason })
    // The destination's own failure (a write error, a full disk, a stream closed early), typed and named.
    throw ioError(err, what)
  }
}

/**
 * A file destination must be a path whose directory exists and that is not itself a directory: checked
 * first, so the export fails at once instead of after writing the whole archive next to it.
 */
async function checkDestinationPath(path: string, what: string): Promise<void> {
  const dir = await stat(dirname(path)).catch((err: unknown) => {
    throw ioError(err, what)
  })
  if (!dir.isDirectory()) throw new InvalidArgumentError(`${what}: ${dirname(path)} is not a directory`)
  const existing = await stat(path).catch(() => undefined)
  if (existing?.isDirectory() === true) throw new InvalidArgumentError(`${what} is a directory; give a file path`)
}

/** The platform manifest.json is written for: the first one asked for, else this host's. */
function dockerPlatform(options: ExportImagesOptions): PlatformSpec {
  const first = options.allPlatforms === true ? undefined : options.platforms?.[0]
  return first === undefined ? hostPlatform() : toSpec(first)
}
