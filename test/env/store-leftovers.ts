import type { Client } from '../../src/index.js'

/** What a failed pull or import could leave in a namespace, counted. */
export interface StoreLeftovers {
  images: number
  leases: number
  content: number
  ingests: number
  snapshots: number
}

/** An empty namespace's counts. */
export const NOTHING_LEFT: StoreLeftovers = { images: 0, leases: 0, content: 0, ingests: 0, snapshots: 0 }

/** Counts the images, leases, blobs, ingests and snapshots in the client's namespace, to compare before and after. */
export async function storeLeftovers(c: Client): Promise<StoreLeftovers> {
  let content = 0
  for await (const _ of c.content.list()) content++
  let snapshots = 0
  for await (const _ of c.snapshots().list()) snapshots++
  return {
    images: (await c.images.list()).length,
    leases: (await c.leases.list()).length,
    content,
    ingests: (await c.content.listStatuses()).length,
    snapshots,
  }
}
