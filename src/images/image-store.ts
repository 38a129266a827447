import type { Readable, Writable } from 'node:stream'
import type { ClientCore } from '../client/client.js'
import { ConflictError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { CALL_OPTION_KEYS, checkOptionKeys, keysOf } from '../client/option-check.js'
import { parseReference } from '../image-spec/reference.js'
import { Image } from './image.js'
import { getImage } from './get-image.js'
import { pruneImages, type PruneImagesOptions } from './image-prune.js'
import { pushImage, type PushedImage, type PushOptions } from './push.js'
import { importImages, type ImportImagesOptions } from './archive/import-images.js'
import { exportImages, type ExportImagesOptions, type ExportResult } from './archive/export-images.js'

/** Options of {@link ImageStore.list}. */
export interface ListImagesOptions extends CallOptions {
  /** containerd filters, e.g. `name~="busybox"`, `labels."app"==web`, `target.mediatype==…`. */
  filters?: string[]
}

/** Options of {@link ImageStore.remove}. */
export interface RemoveImageOptions extends CallOptions {
  /**
   * Remove the image even while containers were created from it (their rootfs snapshots keep what they
   * need). Default false: such an image is refused, as `docker rmi` and `nerdctl rmi` do.
   */
  force?: boolean
  /** Wait until garbage collection has removed what only this image held. Default false. */
  sync?: boolean
}

const LIST_IMAGES_OPTION_KEYS = keysOf<ListImagesOptions>()({ ...CALL_OPTION_KEYS, filters: true })
const REMOVE_IMAGE_OPTION_KEYS = keysOf<RemoveImageOptions>()({ ...CALL_OPTION_KEYS, force: true, sync: true })

/**
 * The images of the client's namespace (`client.images`): read, list, remove, prune, push, and move
 * images in and out as archives. Pulling is the client's headline verb, `client.pull`.
 */
export class ImageStore {
  /** @internal */
  constructor(private readonly client: ClientCore) {}

  /**
   * Reads an image record (the reference is normalized: `busybox` finds `docker.io/library/busybox:latest`).
   * @throws NotFoundError when the image is not in the namespace.
   */
  async get(reference: string, options?: CallOptions): Promise<Image> {
    return getImage(this.client, reference, options)
  }

  /** Lists the namespace's images, optionally filtered. */
  async list(options: ListImagesOptions = {}): Promise<Image[]> {
    checkOptionKeys(options, LIST_IMAGES_OPTION_KEYS, 'images.list()')
    const { images } = await this.client.services.images.list({ filters: options.filters ?? [] }, options)
    return images.map((record) => new Image(this.client, record))
  }

  /**
   * Removes an image record; its blobs and snapshots go with the next garbage collection (at once with
   * `sync: true`) unless another image or a container still uses them.
   * @throws ConflictError when a container was created from it and `force` is not set.
   * @throws NotFoundError when there is no such image.
   */
  async remove(reference: string, options: RemoveImageOptions = {}): Promise<void> {
    checkOptionKeys(options, REMOVE_IMAGE_OPTION_KEYS, 'images.remove()')
    const name = parseReference(reference).string
    if (options.force !== true) {
      const { containers } = await this.client.services.containers.list({ filters: [`image==${JSON.stringify(name)}`] }, options)
      const user = containers[0]
      if (user !== undefined) {
        throw new ConflictError(`image ${name} is used by container ${user.id}${containers.length > 1 ? ` and ${containers.length - 1} more` : ''}: remove them first, or pass force: true`)
      }
    }
    await this.client.services.images.delete({ name, sync: options.sync ?? false }, options)
  }

  /**
   * Removes images no container uses: only untagged ones by default, all unused with `dangling: false`.
   * Returns the names removed.
   */
  async prune(options?: PruneImagesOptions): Promise<string[]> {
    return pruneImages(this.client, options)
  }

  /**
   * Pushes an image of this namespace to the registry its name points at (tag it first to push under
   * another name); see `PushOptions`. Blobs the repository has are skipped, blobs another repository of
   * the same registry has are mounted.
   * @throws NotFoundError when the image, or content it needs, is not in the namespace.
   * @throws RegistryError for registry failures (unauthorized, denied, unavailable, digest mismatch).
   */
  async push(reference: string, options: PushOptions = {}): Promise<PushedImage> {
    return pushImage(this.client, reference, options)
  }

  /**
   * Imports an image archive (a stream or a file path): an OCI layout tar (`ctr images export`, skopeo
   * `oci-archive:`, Docker 25+ `docker save`) or a classic `docker save` / skopeo `docker-archive:` tar,
   * plain or gzipped. Returns the images it created or updated, unpacked for this host unless
   * `unpack: false`. A failed import leaves nothing behind.
   * @throws ArchiveError for a refused archive (`reason` says why).
   */
  async import(source: Readable | string, options: ImportImagesOptions = {}): Promise<Image[]> {
    return this.client.guardNamespace(async () => {
      const imported = await importImages(this.client, source, options)
      return Promise.all(imported.map((i) => getImage(this.client, i.name, { signal: options.signal })))
    })
  }

  /**
   * Exports images to one tar (OCI layout plus Docker manifest.json) written to a stream or a file path,
   * streamed from the content store; it loads with `ctr images import`, `docker load` and skopeo.
   * @throws NotFoundError for an unknown image, missing content or an unoffered platform.
   */
  async export(references: string | readonly string[], destination: Writable | string, options: ExportImagesOptions = {}): Promise<ExportResult> {
    return exportImages(this.client, typeof references === 'string' ? [references] : references, destination, options)
  }
}
