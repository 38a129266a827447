import type { ClientCore } from '../client/client.js'
import { InternalError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { Image } from './image.js'
import { parseReference } from '../image-spec/reference.js'

/**
 * Reads one image record by reference (normalized first: `busybox` finds `docker.io/library/busybox:latest`).
 * @throws NotFoundError when there is no such image in the namespace.
 */
export async function getImage(client: ClientCore, reference: string, options?: CallOptions): Promise<Image> {
  const { image } = await client.services.images.get({ name: parseReference(reference).string }, options)
  if (image === undefined) throw new InternalError('containerd answered Images.Get without an image')
  return new Image(client, image)
}

/** Options of `client.listImages()`. */
export interface ListImagesOptions extends CallOptions {
  /** containerd filters, e.g. `name~="busybox"`, `labels."app"==web`, `target.mediatype==…`. */
  filters?: string[]
}

/** Lists the image records of the namespace. */
export async function listImages(client: ClientCore, options: ListImagesOptions = {}): Promise<Image[]> {
  const { images } = await client.services.images.list({ filters: options.filters ?? [] }, options)
  return images.map((record) => new Image(client, record))
}

/** Options of `client.removeImage()`. */
export interface RemoveImageOptions extends CallOptions {
  /** Wait until garbage collection has removed what only this image held. Default false. */
  sync?: boolean
}

/**
 * Removes an image record; its blobs and snapshots go with the next garbage collection (at once with
 * `sync: true`) unless another image or a container still uses them.
 * @throws NotFoundError when there is no such image.
 */
export async function removeImage(client: ClientCore, reference: string, options: RemoveImageOptions = {}): Promise<void> {
  await client.services.images.delete({ name: parseReference(reference).string, sync: options.sync ?? false }, options)
}
