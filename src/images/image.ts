import type { ClientCore } from '../client/client.js'
import { NotFoundError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import type { Image as ImageMessage } from '../gen/containerd/services/images/v1/images_pb.js'
import { toDate } from '../client/time.js'
import type { OciDescriptor } from '../image-spec/descriptor.js'
import { isIndex, isManifest } from '../image-spec/media-types.js'
import type { ImageConfig } from '../image-spec/image-config.js'
import type { ImageIndex } from '../image-spec/image-index.js'
import type { ImageManifest } from '../image-spec/manifest.js'
import { parseJson } from '../image-spec/parse.js'
import { descriptorPlatform, formatPlatform, hostPlatform, parsePlatform, platformMatches, type PlatformSpec } from '../image-spec/platform.js'
import { parseReference } from '../image-spec/reference.js'
import { chainIds } from './unpack.js'
import { inspectImage, type DockerImageInspect } from './image-inspect.js'
import { mountImage, unmountImage, type MountImageOptions } from './image-mount.js'
import type { ImageSize, ImageView, PlatformManifest, PlatformOptions } from './image-view.js'

export type { ImageSize, PlatformManifest, PlatformOptions } from './image-view.js'

/**
 * An image record in the client's namespace: a name pointing at a manifest or index. A thin handle:
 * reading its config, manifest or size goes to the content store each time.
 */
export class Image implements ImageView {
  /** The normalized name, e.g. `docker.io/library/busybox:latest`. */
  readonly name: string
  /** The index or manifest the name points to. */
  readonly target: OciDescriptor
  /** The record's labels. */
  readonly labels: Readonly<Record<string, string>>
  /** When the record was created. */
  readonly createdAt: Date | undefined
  /** When the record last changed. */
  readonly updatedAt: Date | undefined

  /** @internal */
  constructor(
    private readonly client: ClientCore,
    record: ImageMessage,
  ) {
    this.name = record.name
    const t = record.target
    this.target = { mediaType: t?.mediaType ?? '', digest: t?.digest ?? '', size: Number(t?.size ?? 0n) }
    if (t !== undefined && Object.keys(t.annotations).length > 0) this.target.annotations = { ...t.annotations }
    this.labels = { ...record.labels }
    this.createdAt = toDate(record.createdAt)
    this.updatedAt = toDate(record.updatedAt)
  }

  /** The digest of the target (the image id Docker and nerdctl show). */
  get digest(): string {
    return this.target.digest
  }

  /**
   * The manifest for one platform (the target itself when it is a single manifest).
   * @throws NotFoundError when the image has no manifest for the platform, or it was not pulled.
   */
  async manifest(options: PlatformOptions = {}): Promise<PlatformManifest> {
    const wanted = typeof options.platform === 'string' ? parsePlatform(options.platform) : options.platform ?? hostPlatform()
    let desc = this.target
    if (isIndex(desc.mediaType)) {
      const index = parseJson<ImageIndex>(await this.client.content.readAll(desc.digest, options), `index ${desc.digest}`)
      const match = index.manifests.find((m) => isManifest(m.mediaType) && m.platform !== undefined && platformMatches(wanted, descriptorPlatform(m) as PlatformSpec))
      if (match === undefined) throw new NotFoundError(`image ${this.name} has no manifest for ${formatPlatform(wanted)}`)
      desc = match
    }
    if (!isManifest(desc.mediaType)) throw new NotFoundError(`image ${this.name} points at ${desc.mediaType}, not a manifest`)
    try {
      return { descriptor: desc, manifest: parseJson<ImageManifest>(await this.client.content.readAll(desc.digest, options), `manifest ${desc.digest}`) }
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`image ${this.name}: the manifest for ${formatPlatform(wanted)} was not pulled`, { cause: err })
      throw err
    }
  }

  /** The image config (entrypoint, env, user, diff IDs, …) for one platform. */
  async config(options: PlatformOptions = {}): Promise<ImageConfig> {
    const { manifest } = await this.manifest(options)
    return parseJson<ImageConfig>(await this.client.content.readAll(manifest.config.digest, options), `config ${manifest.config.digest}`)
  }

  /**
   * Sizes for one platform: `content` is what the blobs take in the content store (manifest, config,
   * compressed layers), `unpacked` what its snapshots take on disk (0 when not unpacked).
   */
  async size(options: PlatformOptions & { snapshotter?: string } = {}): Promise<ImageSize> {
    const { descriptor, manifest } = await this.manifest(options)
    const content = descriptor.size + manifest.config.size + manifest.layers.reduce((sum, l) => sum + l.size, 0)
    let unpacked = 0
    if (await this.isUnpacked(options)) {
      const config = await this.config(options)
      const snapshots = this.client.snapshots(options.snapshotter)
      for (const chain of chainIds(config.rootfs.diff_ids)) unpacked += (await snapshots.usage(chain, options)).size
    }
    return { content, unpacked }
  }

  /**
   * What the image holds in the content store across every platform present (like the Go client's
   * `Usage`): the target, the manifests that were pulled, their configs and layers, each blob counted
   * once. With `snapshots: true`, adds the disk use of the host platform's unpacked snapshots.
   */
  async usage(options: CallOptions & { snapshots?: boolean; snapshotter?: string } = {}): Promise<number> {
    const seen = new Set<string>()
    let total = 0
    const add = (d: OciDescriptor): void => {
      if (!seen.has(d.digest)) {
        seen.add(d.digest)
        total += d.size
      }
    }
    const present = async (d: OciDescriptor): Promise<boolean> => {
      try {
        await this.client.content.info(d.digest, options)
        return true
      } catch (err) {
        if (err instanceof NotFoundError) return false
        throw err
      }
    }
    const manifests: OciDescriptor[] = []
    add(this.target)
    if (isIndex(this.target.mediaType)) {
      const index = parseJson<ImageIndex>(await this.client.content.readAll(this.target.digest, options), `index ${this.target.digest}`)
      for (const m of index.manifests) if (await present(m)) manifests.push(m)
    } else {
      manifests.push(this.target)
    }
    for (const m of manifests) {
      add(m)
      const manifest = parseJson<ImageManifest>(await this.client.content.readAll(m.digest, options), `manifest ${m.digest}`)
      for (const blob of [manifest.config, ...manifest.layers]) if (await present(blob)) add(blob)
    }
    if (options.snapshots === true) total += (await this.size(options)).unpacked
    return total
  }

  /** True when every layer of the platform's image is committed as a snapshot in `snapshotter`. */
  async isUnpacked(options: PlatformOptions & { snapshotter?: string } = {}): Promise<boolean> {
    const config = await this.config(options)
    const chain = chainIds(config.rootfs.diff_ids)
    const top = chain[chain.length - 1]
    if (top === undefined) return true
    try {
      return (await this.client.snapshots(options.snapshotter).stat(top, options)).kind === 'committed'
    } catch (err) {
      if (err instanceof NotFoundError) return false
      throw err
    }
  }

  /** Docker-compatible `image inspect` JSON (Id, RepoTags, RepoDigests, Config, RootFS, Size, …). */
  async inspect(options: CallOptions & { platform?: string } = {}): Promise<DockerImageInspect> {
    return inspectImage(this, options)
  }

  /**
   * Mounts the unpacked image read-only at `dir` (like `ctr images mount`); undo with {@link Image.unmount}.
   * Needs root.
   */
  async mount(dir: string, options: MountImageOptions = {}): Promise<void> {
    return mountImage(this.client, this, dir, options)
  }

  /** Unmounts a mount made by {@link Image.mount} and releases its snapshot. */
  async unmount(dir: string, options: CallOptions & { snapshotter?: string } = {}): Promise<void> {
    return unmountImage(this.client, dir, options)
  }

  /**
   * Gives the image another name (like `docker tag`): a new record with the same target. An existing
   * record of that name is repointed.
   */
  async tag(name: string, options?: CallOptions): Promise<Image> {
    const ref = parseReference(name)
    const image = { name: ref.string, labels: { ...this.labels }, target: { mediaType: this.target.mediaType, digest: this.target.digest, size: BigInt(this.target.size) } }
    try {
      const { image: created } = await this.client.services.images.create({ image }, options)
      return new Image(this.client, created ?? (image as unknown as ImageMessage))
    } catch (err) {
      if ((err as { code?: string }).code !== 'AlreadyExists') throw err
      const { image: updated } = await this.client.services.images.update({ image, updateMask: { paths: ['target'] } }, options)
      return new Image(this.client, updated ?? (image as unknown as ImageMessage))
    }
  }
}
