import type { Client } from '../../src/index.js'
import { AlreadyExistsError } from '../../src/grpc/errors.js'
import type { Descriptor, OciArtifact, OciImage } from '../fixtures/index.js'

/**
 * Stores a fixture image (or index) in containerd through the content and images services, the way the
 * Go client's import does: children before parents, each parent carrying the `containerd.io/gc.ref.*`
 * labels that keep its children alive, all under one lease, and finally the image record. The higher
 * level `importImages` of the SDK comes later; this is what the tests need until then.
 */
export async function importFixture(client: Client, artifact: OciArtifact, name: string): Promise<Descriptor> {
  return client.withLease(async () => {
    const target = artifact.kind === 'image' ? await storeImage(client, artifact) : await storeIndex(client, artifact)
    const image = { name, target: { mediaType: target.mediaType, digest: target.digest, size: BigInt(target.size) }, labels: {} }
    try {
      await client.services.images.create({ image })
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err
      await client.services.images.update({ image })
    }
    return target
  })
}

async function storeImage(client: Client, image: OciImage): Promise<Descriptor> {
  for (const layer of image.layers) await put(client, layer.descriptor, image.blobs)
  await put(client, image.config, image.blobs)
  const labels: Record<string, string> = { 'containerd.io/gc.ref.content.config': image.config.digest }
  image.layers.forEach((layer, i) => { labels[`containerd.io/gc.ref.content.l.${i}`] = layer.descriptor.digest })
  await put(client, image.manifest, image.blobs, labels)
  return image.manifest
}

async function storeIndex(client: Client, index: Extract<OciArtifact, { kind: 'index' }>): Promise<Descriptor> {
  const labels: Record<string, string> = {}
  for (const [i, image] of index.images.entries()) {
    await storeImage(client, image)
    labels[`containerd.io/gc.ref.content.m.${i}`] = image.manifest.digest
  }
  await put(client, index.index, index.blobs, labels)
  return index.index
}

async function put(client: Client, desc: Descriptor, blobs: ReadonlyMap<string, Buffer>, labels: Record<string, string> = {}): Promise<void> {
  const bytes = blobs.get(desc.digest)
  if (bytes === undefined) throw new Error(`fixture blob ${desc.digest} is missing`)
  await client.content.writeBlob(bytes, { expected: desc.digest, size: desc.size, labels })
}
