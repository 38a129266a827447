import type { ClientCore } from '../../src/client/client.js'
import type { Image } from '../../src/images/image.js'
import { unpackManifest } from '../../src/images/unpack.js'

/** Unpacks an image that was stored without unpacking (fixtures imported through the raw services). */
export async function unpackImage(client: ClientCore, image: Image, snapshotter = 'overlayfs'): Promise<void> {
  const { manifest } = await image.manifest()
  const config = await image.config()
  await client.withLease(() => unpackManifest(client, manifest, config.rootfs.diff_ids, { snapshotter, ref: image.name }))
}
