import type { ClientCore } from '../client/client.js'
import { InternalError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { parseReference } from '../image-spec/reference.js'
import { Image } from './image.js'

/**
 * Reads one image record by reference (normalized first: `busybox` finds `docker.io/library/busybox:latest`).
 * @throws NotFoundError when there is no such image in the namespace.
 */
export async function getImage(client: ClientCore, reference: string, options?: CallOptions): Promise<Image> {
  const { image } = await client.services.images.get({ name: parseReference(reference).string }, options)
  if (image === undefined) throw new InternalError('containerd answered Images.Get without an image')
  return new Image(client, image)
}
