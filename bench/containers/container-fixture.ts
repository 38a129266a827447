/**
 * The image the container sections run: the busybox image of `src/testing` (Debian's static busybox),
 * written to an OCI layout tar and imported with unpacking, once, into the sections' namespace, where
 * ours and ctr both find it by name.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Client } from '../../src/index.js'
import { writeBusyboxImageArchive } from '../../src/testing/busybox-archive.js'
import type { ContainerBenchConfig } from './container-config.js'

/** Label on every container the sections create, so a sweep finds the leftovers of an interrupted run. */
export const CONTAINER_BENCH_LABEL = 'io.containerd-sdk.bench.container'

/** Imports the image into the namespace (unpacked in overlayfs) and checks that it is. */
export async function importBenchImage(client: Client, containers: ContainerBenchConfig, workDir: string): Promise<void> {
  const archive = join(workDir, 'busybox-containers.tar')
  try {
    await writeBusyboxImageArchive(archive, { name: containers.image })
    const images = await client.images.import(archive)
    const image = images.find((i) => i.name === containers.image)
    if (image === undefined) throw new Error(`importing the busybox archive created ${images.map((i) => i.name).join(', ') || 'nothing'}`)
    if (!(await image.isUnpacked())) throw new Error(`${containers.image} was imported but not unpacked`)
  } finally {
    await rm(archive, { force: true })
  }
}

/**
 * Checks that no container, task or container snapshot is left in the namespace (what a lifecycle must
 * remove); `what` names the run for the error. Snapshots of the image's own layers are committed ones
 * and stay.
 */
export async function checkNothingLeft(client: Client, what: string): Promise<void> {
  const [{ containers }, { tasks }] = await Promise.all([client.services.containers.list({}), client.services.tasks.list({})])
  const active: string[] = []
  for await (const info of client.snapshots('overlayfs').list()) if (info.kind !== 'committed') active.push(info.name)
  if (containers.length > 0 || tasks.length > 0 || active.length > 0) {
    throw new Error(
      `${what} left ${containers.length} containers (${containers.slice(0, 3).map((c) => c.id).join(', ')}), ` +
        `${tasks.length} tasks and ${active.length} active snapshots (${active.slice(0, 3).join(', ')})`,
    )
  }
}
