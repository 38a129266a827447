import type { ClientCore } from '../../client/client.js'
import { NotFoundError } from '../../grpc/errors.js'
import type { OciDescriptor } from '../../image-spec/descriptor.js'
import { isIndex, isManifest } from '../../image-spec/media-types.js'
import type { ImageManifest } from '../../image-spec/manifest.js'
import { formatPlatform, type PlatformSpec } from '../../image-spec/platform.js'
import { ArchiveError } from './archive-error.js'
import { MAX_JSON_BYTES, parseIndexDocument, parseManifestDocument } from './archive-json.js'
import { descriptorPlatform } from '../../image-spec/platform.js'
import { describePlatforms, selects, type PlatformSelection } from './platform-selection.js'

/** A manifest an import keeps, with the platform its index entry gave it (if any). */
export interface WalkedManifest {
  /** The manifest's descriptor. */
  descriptor: OciDescriptor
  /** The parsed manifest. */
  manifest: ImageManifest
  /** The platform from the index entry that led here; undefined for a top-level manifest. */
  platform?: PlatformSpec
}

/** What an import keeps: the GC labels to set, and the manifests under each root. */
export interface ImportWalk {
  /** `containerd.io/gc.ref.content.*` labels per parent blob (index → manifests, manifest → config and layers). */
  labels: Map<string, Record<string, string>>
  /** The kept manifests under each root, by the root's digest. */
  manifests: Map<string, WalkedManifest[]>
}

/** How {@link walkImport} learns what the archive held. */
export interface WalkSource {
  /** Sizes of the blobs stored from the archive, by digest. */
  blobs: ReadonlyMap<string, number>
}

// Deeper nesting than index → index → manifest is not seen in practice; the cap stops reference loops.
const MAX_DEPTH = 4

/**
 * Walks each root (an index.json entry or a synthesized Docker manifest) the way containerd's import
 * does: an index keeps the entries the platform selection takes, a manifest keeps its config and layers;
 * every kept blob must have come with the archive or be in the content store already, with the size
 * its descriptor declares. Entries of an index that the archive lacks are skipped (an export of some
 * platforms still carries the full index, whose digest covers every entry), but an index must keep at
 * least one manifest. Records the GC labels parents need; sets nothing yet.
 * @throws ArchiveError `MissingBlob`, `SizeMismatch`, `PlatformNotFound`, `Malformed`, `TooLarge`.
 */
export async function walkImport(client: ClientCore, source: WalkSource, roots: readonly OciDescriptor[], selection: PlatformSelection, signal?: AbortSignal): Promise<ImportWalk> {
  const labels = new Map<string, Record<string, string>>()
  const walked = new Map<string, WalkedManifest>()
  const checked = new Map<string, Promise<boolean>>()

  // True when the blob is available; a wrong size is an error either way.
  const available = (desc: OciDescriptor): Promise<boolean> => {
    let pending = checked.get(desc.digest)
    if (pending === undefined) {
      pending = (async () => {
        let size = source.blobs.get(desc.digest)
        if (size === undefined) {
          try {
            size = (await client.content.info(desc.digest, { signal })).size
          } catch (err) {
            if (err instanceof NotFoundError) return false
            throw err
          }
        }
        if (size !== desc.size) {
          throw new ArchiveError('SizeMismatch', `blob ${desc.digest} is ${size} bytes, but a descriptor (${desc.mediaType}) declares ${desc.size}`)
        }
        return true
      })()
      checked.set(desc.digest, pending)
    }
    return pending
  }
  const require = async (desc: OciDescriptor, what: string): Promise<void> => {
    if (!(await available(desc))) throw new ArchiveError('MissingBlob', `${what} ${desc.digest} is neither in the archive nor in the content store`)
  }
  const readJson = async (desc: OciDescriptor): Promise<Buffer> => {
    if (desc.size > MAX_JSON_BYTES) {
      throw new ArchiveError('TooLarge', `${desc.mediaType} ${desc.digest} is ${desc.size} bytes, more than the ${MAX_JSON_BYTES}-byte limit for JSON documents`)
    }
    return client.content.readAll(desc.digest, { maxBytes: MAX_JSON_BYTES, signal })
  }

  const walkManifest = async (desc: OciDescriptor, platform: PlatformSpec | undefined): Promise<WalkedManifest> => {
    const seen = walked.get(desc.digest)
    if (seen !== undefined) return platform === undefined || seen.platform !== undefined ? seen : { ...seen, platform }
    await require(desc, 'manifest')
    const manifest = parseManifestDocument(await readJson(desc), `manifest ${desc.digest}`)
    await require(manifest.config, `the config of manifest ${desc.digest},`)
    for (const layer of manifest.layers) await require(layer, `a layer of manifest ${desc.digest},`)
    const gc: Record<string, string> = { 'containerd.io/gc.ref.content.config': manifest.config.digest }
    manifest.layers.forEach((layer, i) => { gc[`containerd.io/gc.ref.content.l.${i}`] = layer.digest })
    labels.set(desc.digest, gc)
    const result: WalkedManifest = platform === undefined ? { descriptor: desc, manifest } : { descriptor: desc, manifest, platform }
    walked.set(desc.digest, result)
    return result
  }

  const walkIndex = async (desc: OciDescriptor, depth: number): Promise<WalkedManifest[]> => {
    if (depth > MAX_DEPTH) throw new ArchiveError('Malformed', `index ${desc.digest} nests indexes more than ${MAX_DEPTH} deep`)
    await require(desc, 'index')
    const index = parseIndexDocument(await readJson(desc), `index ${desc.digest}`)
    const children = index.manifests.map((m, i) => ({ m, i })).filter(({ m }) => isManifest(m.mediaType) || isIndex(m.mediaType))
    const taken = children.filter(({ m }) => selects(selection, m))
    if (taken.length === 0) {
      const wanted = selection.platforms.map(formatPlatform).join(', ')
      throw new ArchiveError('PlatformNotFound', `index ${desc.digest} has no manifest for ${wanted} (it offers ${describePlatforms(index.manifests)}); import with another platform or allPlatforms`)
    }
    const gc: Record<string, string> = {}
    const out: WalkedManifest[] = []
    for (const { m, i } of taken) {
      if (!(await available(m))) continue
      gc[`containerd.io/gc.ref.content.m.${i}`] = m.digest
      if (isIndex(m.mediaType)) out.push(...(await walkIndex(m, depth + 1)))
      else out.push(await walkManifest(m, descriptorPlatform(m)))
    }
    if (out.length === 0) {
      const wanted = selection.all ? 'any platform' : selection.platforms.map(formatPlatform).join(', ')
      throw new ArchiveError('MissingBlob', `index ${desc.digest} lists manifests for ${wanted}, but the archive holds none of them (it may have been exported for other platforms)`)
    }
    labels.set(desc.digest, { ...labels.get(desc.digest), ...gc })
    return out
  }

  const manifests = new Map<string, WalkedManifest[]>()
  for (const root of roots) {
    if (manifests.has(root.digest)) continue
    if (isIndex(root.mediaType)) manifests.set(root.digest, await walkIndex(root, 1))
    else if (isManifest(root.mediaType)) manifests.set(root.digest, [await walkManifest(root, descriptorPlatform(root))])
    else throw new ArchiveError('Malformed', `the archive names an image of media type ${root.mediaType}, which is neither a manifest nor an index`)
  }
  return { labels, manifests }
}
