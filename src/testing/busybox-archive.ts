import { createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { busyboxImage } from './fixtures/busybox-image.js'
import { ociLayoutTarStream } from './fixtures/oci-layout.js'

/** Options of {@link writeBusyboxImageArchive}. */
export interface BusyboxArchiveOptions {
  /** The image's full name, e.g. `docker.io/library/busybox:demo`. */
  name: string
  /** The static busybox binary to put in the image. Default `/bin/busybox` (Debian's `busybox-static`). */
  busyboxPath?: string
}

/**
 * Writes a small, deterministic busybox image for this host's architecture as an OCI layout tar (what
 * `client.importImages` and `ctr images import` read): Debian's static busybox with its applet links,
 * /etc/passwd and /etc/group. For demos and tests on machines that cannot reach a registry.
 */
export async function writeBusyboxImageArchive(path: string, options: BusyboxArchiveOptions): Promise<void> {
  const image = await busyboxImage({ name: options.name, ...(options.busyboxPath !== undefined ? { busyboxPath: options.busyboxPath } : {}) })
  await pipeline(ociLayoutTarStream(image), createWriteStream(path))
}
