import type { Client, Image } from '../../src/index.js'
import { busyboxImage } from '../fixtures/index.js'
import { importFixture } from './import-fixture.js'
import { unpackImage } from './unpack-image.js'

/** Stores the busybox fixture under `name` in the client's namespace and unpacks it, ready for containers. */
export async function runnableBusybox(client: Client, name = 'docker.io/library/busybox:fixture'): Promise<Image> {
  await importFixture(client, await busyboxImage(), name)
  const image = await client.images.get(name)
  await unpackImage(client, image)
  return image
}

/** A container id unique to this run, readable in `ctr` listings. */
export function uniqueId(label: string): string {
  return `${label}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`
}
