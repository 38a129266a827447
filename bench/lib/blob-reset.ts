/**
 * Removes a blob completely between write runs. Deleting it only drops the namespace's record: the file stays
 * in containerd's shared store until garbage collection, and a later write of the same digest would then
 * commit instantly without moving a byte. A lease deleted with `sync: true` makes containerd run its GC and
 * wait for it; we then check that the file is really gone.
 */
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import type { Client } from '../../src/index.js'
import type { Digest } from '../../src/client/content/digest.js'
import { NotFoundError } from '../../src/grpc/errors.js'
import { setTimeout as sleep } from 'node:timers/promises'

/** Where containerd 1.x keeps a blob under its root directory. */
export function blobFilePath(daemonRoot: string, digest: Digest): string {
  const [algorithm, hex] = digest.split(':') as [string, string]
  return join(daemonRoot, 'io.containerd.content.v1.content', 'blobs', algorithm, hex)
}

/** Whether a path exists (any error reads as no). */
export async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

export async function removeBlob(client: Client, digest: Digest, daemonRoot: string): Promise<void> {
  try {
    await client.content.delete(digest)
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
  }
  const lease = await client.leases.create()
  await lease.delete({ sync: true })
  const file = blobFilePath(daemonRoot, digest)
  // GC has finished when the delete returns; the short bounded poll only guards against a slow unlink.
  for (let i = 0; i < 50 && (await exists(file)); i++) await sleep(20)
  if (await exists(file)) throw new Error(`garbage collection left ${file} in place: a write benchmark would not write anything`)
}
