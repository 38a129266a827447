import type { ClientCore } from '../../client/client.js'
import { DataLossError, InvalidArgumentError, NotFoundError } from '../../grpc/errors.js'
import type { OciDescriptor } from '../../image-spec/descriptor.js'
import { isIndex, isManifest } from '../../image-spec/media-types.js'
import type { ImageIndex } from '../../image-spec/image-index.js'
import type { ImageManifest } from '../../image-spec/manifest.js'
import { parseJson } from '../../image-spec/parse.js'
import { formatPlatform, hostPlatform, platformMatches, type PlatformSpec } from '../../image-spec/platform.js'
import { parseReference } from '../../image-spec/reference.js'
import { MAX_JSON_BYTES } from './archive-json.js'
import type { DockerManifestEntry } from './docker-manifest-json.js'
import { blobPath } from './entry-path.js'
import { dockerRepoTag, exportNameAnnotations } from './image-names.js'
import { descriptorPlatform } from '../../image-spec/platform.js'
import { bestMatch, describePlatforms, selects, type PlatformSelection } from './platform-selection.js'

/** What an export writes: the blobs, the index.json entries and Docker's manifest.json entries. */
export interface ExportPlan {
  /** Every blob to write, once each, in the order found. */
  blobs: OciDescriptor[]
  /** index.json entries: one per exported name, annotated with it. */
  index: OciDescriptor[]
  /** manifest.json entries: one per distinct manifest chosen for `docker load`. */
  docker: DockerManifestEntry[]
  /** The exported images. */
  images: { name: string; target: OciDescriptor }[]
  /** Names of images with no manifest for the manifest.json platform (so `docker load` skips them). */
  notDockerLoadable: string[]
}

/** An image to export: its normalized name and its record's target. */
export interface ExportImage {
  /** The normalized name. */
  name: string
  /** The record's target. */
  target: OciDescriptor
}

const DISTRIBUTION_SOURCE_PREFIX = 'containerd.io/distribution.source.'
const MAX_DEPTH = 4

/**
 * Reads the image records of `refs` (normalized, so `busybox` finds `docker.io/library/busybox:latest`).
 * @throws NotFoundError for a name without a record; InvalidArgumentError for a malformed one.
 */
export async function exportImagesOf(client: ClientCore, refs: readonly string[], signal?: AbortSignal): Promise<ExportImage[]> {
  if (refs.length === 0) throw new InvalidArgumentError('exportImages needs at least one image reference')
  const out: ExportImage[] = []
  const names = new Set<string>()
  for (const ref of refs) {
    const name = parseReference(ref).string
    if (names.has(name)) continue
    names.add(name)
    const { image } = await client.services.images.get({ name }, { signal })
    const t = image?.target
    if (t === undefined) throw new NotFoundError(`image ${name} has no target`)
    const target: OciDescriptor = { mediaType: t.mediaType, digest: t.digest, size: Number(t.size) }
    if (Object.keys(t.annotations).length > 0) target.annotations = { ...t.annotations }
    out.push({ name, target })
  }
  return out
}

/**
 * Works out what an export of `images` contains, following containerd's exporter:
 * - a manifest brings its config and layers;
 * - an index is written as it is (its digest covers every entry) with the manifests the selection takes
 *   (all, or those for the wanted platforms, plus entries without a platform); each wanted platform
 *   must be offered, and what is taken must be in the content store;
 * - index.json lists each name once, with `io.containerd.image.name` (full name) and
 *   `org.opencontainers.image.ref.name` (tag) and the `containerd.io/distribution.source.*` labels of the
 *   target as annotations;
 * - manifest.json gets, per image, the manifest for the first wanted platform (this host's with
 *   `allPlatforms`), so `docker load` finds one image per name; names merge per manifest.
 * Every blob is checked to be in the store with its declared size before anything is written, so a
 * failed export fails before its first byte.
 * @throws NotFoundError for missing content or a platform an index does not offer; DataLossError for a
 * size mismatch.
 */
export async function planExport(client: ClientCore, images: readonly ExportImage[], selection: PlatformSelection, signal?: AbortSignal): Promise<ExportPlan> {
  const blobs = new Map<string, OciDescriptor>()
  const infos = new Map<string, Promise<Record<string, string>>>()
  // Checks presence and size once per blob; resolves to its labels.
  const check = (desc: OciDescriptor, what: string): Promise<Record<string, string>> => {
    let pending = infos.get(desc.digest)
    if (pending === undefined) {
      pending = (async () => {
        let info
        try {
          info = await client.content.info(desc.digest, { signal })
        } catch (err) {
          if (err instanceof NotFoundError) throw new NotFoundError(`${what} ${desc.digest} is not in the content store`, { cause: err })
          throw err
        }
        if (info.size !== desc.size) throw new DataLossError(`${what} ${desc.digest} is ${info.size} bytes in the content store, but its descriptor says ${desc.size}`)
        return info.labels
      })()
      infos.set(desc.digest, pending)
    }
    return pending
  }
  const add = async (desc: OciDescriptor, what: string): Promise<Record<string, string>> => {
    const labels = await check(desc, what)
    if (!blobs.has(desc.digest)) blobs.set(desc.digest, { mediaType: desc.mediaType, digest: desc.digest, size: desc.size })
    return labels
  }
  const readJson = async <T>(desc: OciDescriptor, what: string): Promise<T> => {
    if (desc.size > MAX_JSON_BYTES) throw new InvalidArgumentError(`${what} ${desc.digest} is ${desc.size} bytes, more than the ${MAX_JSON_BYTES}-byte limit for JSON documents`)
    return parseJson<T>(await client.content.readAll(desc.digest, { maxBytes: MAX_JSON_BYTES, signal }), `${what} ${desc.digest}`)
  }

  const manifests = new Map<string, ImageManifest>()
  const walkManifest = async (desc: OciDescriptor): Promise<void> => {
    await add(desc, 'manifest')
    if (manifests.has(desc.digest)) return
    const manifest = await readJson<ImageManifest>(desc, 'manifest')
    if (manifest.config === undefined || !Array.isArray(manifest.layers)) throw new DataLossError(`manifest ${desc.digest} has no config or layers`)
    await add(manifest.config, `the config of manifest ${desc.digest},`)
    for (const layer of manifest.layers) await add(layer, `a layer of manifest ${desc.digest},`)
    manifests.set(desc.digest, manifest)
  }
  const walkIndex = async (name: string, desc: OciDescriptor, depth: number): Promise<{ desc: OciDescriptor; platform?: PlatformSpec | undefined }[]> => {
    if (depth > MAX_DEPTH) throw new DataLossError(`index ${desc.digest} nests indexes more than ${MAX_DEPTH} deep`)
    await add(desc, 'index')
    const index = await readJson<ImageIndex>(desc, 'index')
    if (!Array.isArray(index.manifests)) throw new DataLossError(`index ${desc.digest} has no manifests`)
    const children = index.manifests.filter((m) => isManifest(m.mediaType) || isIndex(m.mediaType))
    if (!selection.all) {
      for (const wanted of selection.platforms) {
        const offered = children.some((m) => { const p = descriptorPlatform(m); return p !== undefined && platformMatches(wanted, p) })
        if (!offered) throw new NotFoundError(`image ${name} has no manifest for ${formatPlatform(wanted)} (it offers ${describePlatforms(children)})`)
      }
    }
    const out: { desc: OciDescriptor; platform?: PlatformSpec | undefined }[] = []
    for (const child of children.filter((m) => selects(selection, m))) {
      const platform = descriptorPlatform(child)
      if (isIndex(child.mediaType)) {
        out.push(...(await walkIndex(name, child, depth + 1)))
        continue
      }
      try {
        await walkManifest(child)
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err
        // The usual cause: a pull stores only the host's platform of a multi-platform image.
        const which = platform === undefined ? child.digest : formatPlatform(platform)
        throw new NotFoundError(`image ${name}: the content for ${which} is not in the content store (pull the image for that platform, or with allPlatforms, before exporting it): ${err.message}`, { cause: err })
      }
      out.push({ desc: child, platform })
    }
    return out
  }

  const index: OciDescriptor[] = []
  const notDockerLoadable: string[] = []
  const docker = new Map<string, DockerManifestEntry>()
  const dockerPlatform = selection.all ? hostPlatform() : (selection.platforms[0] as PlatformSpec)
  for (const { name, target } of images) {
    let chosen: OciDescriptor | undefined
    let labels: Record<string, string>
    if (isManifest(target.mediaType)) {
      await walkManifest(target)
      labels = await check(target, 'manifest')
      chosen = target
    } else if (isIndex(target.mediaType)) {
      const walked = await walkIndex(name, target, 1)
      labels = await check(target, 'index')
      chosen = bestMatch(dockerPlatform, walked)?.desc
    } else {
      throw new InvalidArgumentError(`image ${name} points at ${target.mediaType}; only manifests and indexes can be exported`)
    }
    const annotations: Record<string, string> = { ...target.annotations }
    for (const [key, value] of Object.entries(labels)) if (key.startsWith(DISTRIBUTION_SOURCE_PREFIX)) annotations[key] = value
    Object.assign(annotations, exportNameAnnotations(name))
    index.push({ mediaType: target.mediaType, digest: target.digest, size: target.size, annotations })
    if (chosen === undefined) notDockerLoadable.push(name)
    else {
      const manifest = manifests.get(chosen.digest) as ImageManifest
      let entry = docker.get(chosen.digest)
      if (entry === undefined) {
        entry = { Config: blobPath(manifest.config.digest), RepoTags: [], Layers: manifest.layers.map((l) => blobPath(l.digest)) }
        docker.set(chosen.digest, entry)
      }
      const tag = dockerRepoTag(name)
      if (tag !== undefined && !entry.RepoTags.includes(tag)) entry.RepoTags.push(tag)
    }
  }
  return { blobs: [...blobs.values()], index, docker: [...docker.values()], images: images.map(({ name, target }) => ({ name, target })), notDockerLoadable }
}
