/**
 * The archive the import runs read: the multi-layer fixture image as an OCI layout tar on disk, named so
 * that both importers create the same image record (`io.containerd.image.name`, which `ctr images import`
 * takes as is, with or without `--base-name`).
 */
import { createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Digest } from '../../src/index.js'
import { multiLayerImage, ociLayoutTarStream } from '../../test/fixtures/index.js'
import type { ArchiveBenchConfig } from './archive-config.js'

export interface ArchiveFixture {
  /** The OCI layout tar. */
  path: string
  /** Its size in bytes. */
  fileBytes: number
  /** The image's name in the archive (and in the store after an import). */
  name: string
  /** The manifest's digest: the target of the image record. */
  manifestDigest: Digest
  /** Every blob of the image: manifest, config, layers. */
  digests: Digest[]
  /** The blobs' total size. */
  imageBytes: number
}

/** Builds the image and streams it to `<dir>/archive-bench.tar`; the image (in memory) is garbage once this returns. */
export async function writeArchiveFixture(dir: string, archive: ArchiveBenchConfig): Promise<ArchiveFixture> {
  const image = await multiLayerImage({ layers: archive.layers, layerSize: archive.layerBytes, name: archive.name })
  const path = join(dir, 'archive-bench.tar')
  await pipeline(ociLayoutTarStream(image), createWriteStream(path, { flags: 'wx' }))
  const blobs = [image.manifest, image.config, ...image.layers.map((layer) => layer.descriptor)]
  return {
    path,
    fileBytes: (await stat(path)).size,
    name: archive.name,
    manifestDigest: image.manifest.digest as Digest,
    digests: blobs.map((d) => d.digest as Digest),
    imageBytes: blobs.reduce((sum, d) => sum + d.size, 0),
  }
}
