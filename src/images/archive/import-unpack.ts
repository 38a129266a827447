import type { ClientCore } from '../../client/client.js'
import { isLayer } from '../../image-spec/media-types.js'
import type { ImageConfig } from '../../image-spec/image-config.js'
import { isImageConfig } from '../../image-spec/parse.js'
import { platformMatches, type PlatformSpec } from '../../image-spec/platform.js'
import { unpackManifest } from '../unpack.js'
import { ArchiveError } from './archive-error.js'
import { MAX_JSON_BYTES, parseArchiveJson } from './archive-json.js'
import type { WalkedManifest } from './import-walk.js'
import { bestMatch } from './platform-selection.js'

/** Options of {@link unpackImported}. */
export interface UnpackImportedOptions {
  /** The platform to unpack. */
  platform: PlatformSpec
  /** The snapshotter to unpack into. */
  snapshotter: string
  /** Names the unpack in progress events (the image name). */
  ref: string
  /** Cancels the unpack. */
  signal?: AbortSignal | undefined
}

/**
 * Unpacks the manifest of one imported image that fits `platform`, the way a pull does: layers applied
 * in order under their chain IDs (already committed ones are skipped), then the config labelled with
 * the top snapshot so the image keeps it. An image with no manifest for the platform (a foreign single
 * image, an index exported for other platforms) is left packed, as containerd's import leaves it; it
 * can still be exported or pushed. Must run inside the import's lease. Returns the unpacked manifest's
 * digest, or undefined.
 * @throws ArchiveError `Malformed` for a config without matching diff IDs or a non-layer blob;
 * DataLossError when a layer does not unpack to its diff ID.
 */
export async function unpackImported(client: ClientCore, manifests: readonly WalkedManifest[], done: Set<string>, options: UnpackImportedOptions): Promise<string | undefined> {
  const candidates: { entry: WalkedManifest; platform: PlatformSpec | undefined; config?: ImageConfig }[] = []
  for (const entry of manifests) {
    if (entry.platform !== undefined) {
      candidates.push({ entry, platform: entry.platform })
      continue
    }
    // A top-level manifest says its platform only in its config; one whose config is not an image
    // config (an artifact) is simply not a candidate.
    const config = await readConfig(client, entry, options.signal).catch((err: unknown) => {
      if (err instanceof ArchiveError && err.reason === 'Malformed') return undefined
      throw err
    })
    if (config === undefined) continue
    candidates.push({ entry, platform: { os: config.os, architecture: config.architecture, ...(config.variant !== undefined ? { variant: config.variant } : {}) }, config })
  }
  const chosen = bestMatch(options.platform, candidates)
  if (chosen === undefined || !platformMatches(options.platform, chosen.platform as PlatformSpec)) return undefined
  const { descriptor, manifest } = chosen.entry
  if (done.has(descriptor.digest)) return descriptor.digest
  const config = chosen.config ?? (await readConfig(client, chosen.entry, options.signal))
  const diffIds = config.rootfs.diff_ids
  if (diffIds.length !== manifest.layers.length) {
    throw new ArchiveError('Malformed', `config ${manifest.config.digest} lists ${diffIds.length} diff_ids for the ${manifest.layers.length} layers of manifest ${descriptor.digest}`)
  }
  for (const layer of manifest.layers) {
    if (!isLayer(layer.mediaType)) throw new ArchiveError('Malformed', `manifest ${descriptor.digest} lists a layer of media type ${layer.mediaType}, which cannot be unpacked`)
  }
  await unpackManifest(client, manifest, diffIds, { snapshotter: options.snapshotter, signal: options.signal, ref: options.ref })
  done.add(descriptor.digest)
  return descriptor.digest
}

async function readConfig(client: ClientCore, entry: WalkedManifest, signal: AbortSignal | undefined): Promise<ImageConfig> {
  const desc = entry.manifest.config
  if (desc.size > MAX_JSON_BYTES) {
    throw new ArchiveError('TooLarge', `config ${desc.digest} is ${desc.size} bytes, more than the ${MAX_JSON_BYTES}-byte limit for JSON documents`)
  }
  const value = parseArchiveJson(await client.content.readAll(desc.digest, { maxBytes: MAX_JSON_BYTES, signal }), `config ${desc.digest}`)
  if (!isImageConfig(value)) throw new ArchiveError('Malformed', `config ${desc.digest} lacks os, architecture or rootfs.diff_ids`)
  return value
}
