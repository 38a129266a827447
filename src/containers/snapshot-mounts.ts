import type { ClientCore } from '../client/client.js'
import type { CallOptions } from '../grpc/call-options.js'

/** The rootfs mounts of a container's snapshot, in the wire form CreateTaskRequest takes. */
export async function snapshotMounts(client: ClientCore, snapshotter: string, key: string, options?: CallOptions): Promise<{ type: string; source: string; target: string; options: string[] }[]> {
  if (key === '') return []
  return client.snapshots(snapshotter).mounts(key, options)
}
