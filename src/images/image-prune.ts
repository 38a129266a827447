import type { ClientCore } from '../client/client.js'
import type { CallOptions } from '../grpc/call-options.js'
import { CALL_OPTION_KEYS, checkOptionKeys, keysOf } from '../client/option-check.js'
import { parseReference } from '../image-spec/reference.js'

/** Options of `client.images.prune()`. */
export interface PruneImagesOptions extends CallOptions {
  /**
   * `true` (default): remove only dangling images, those without a tag (a name that is a digest
   * reference). `false`: remove every image no container uses, like `nerdctl image prune --all`.
   */
  dangling?: boolean
}

const PRUNE_IMAGES_OPTION_KEYS = keysOf<PruneImagesOptions>()({ ...CALL_OPTION_KEYS, dangling: true })

/**
 * Removes unused images and returns their names. Images that a container was created from are kept.
 * Blobs and snapshots are freed by a synchronous garbage collection at the end.
 */
export async function pruneImages(client: ClientCore, options: PruneImagesOptions = {}): Promise<string[]> {
  checkOptionKeys(options, PRUNE_IMAGES_OPTION_KEYS, 'images.prune()')
  const dangling = options.dangling ?? true
  const { containers } = await client.services.containers.list({}, options)
  const inUse = new Set(containers.map((c) => c.image))
  const removed: string[] = []
  const { images } = await client.services.images.list({ filters: [] }, options)
  for (const image of images) {
    if (inUse.has(image.name)) continue
    if (dangling && !isUntagged(image.name)) continue
    await client.services.images.delete({ name: image.name, sync: false }, options)
    removed.push(image.name)
  }
  if (removed.length > 0) {
    // Deleting a lease with sync runs a full garbage collection and waits for it.
    const lease = await client.leases.create(options)
    await lease.delete({ sync: true })
  }
  return removed
}

function isUntagged(name: string): boolean {
  try {
    // A digest-only name (`repo@sha256:…`) gets no default tag.
    return parseReference(name).tag === undefined
  } catch {
    // Names containerd accepts but Docker's grammar does not (e.g. bare digests) have no tag either.
    return true
  }
}
