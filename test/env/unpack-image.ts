import type { ClientCore } from '../../src/client/client.js'
import type { Image } from '../../src/images/image.js'
import { chainIds, unpackLayer } from '../../src/images/unpack.js'

/** Unpacks an image that was stored without unpacking (fixtures imported through the raw services). */
export async function unpackImage(client: ClientCore, image: Image, snapshotter = 'overlayfs'): Promise<void> {
  const { manifest } = await image.manifest()
  const config = await image.config()
  const chain = chainIds(config.rootfs.diff_ids)
  await client.withLease(async () => {
    for (const [i, layer] of manifest.layers.entries()) {
      await unpackLayer(client, layer, config.rootfs.diff_ids[i] ?? '', chain[i] ?? '', i === 0 ? '' : (chain[i - 1] ?? ''), { snapshotter, ref: image.name })
    }
    await client.content.setLabels(manifest.config.digest, { [`containerd.io/gc.ref.snapshot.${snapshotter}`]: chain[chain.length - 1] ?? '' })
  })
}
