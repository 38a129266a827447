import { createHash } from 'node:crypto'
import type { Digest } from '../../client/content/digest.js'
import type { OciDescriptor } from '../../image-spec/descriptor.js'
import { MediaTypes } from '../../image-spec/media-types.js'

/** Docker's media type for an uncompressed layer tar (missing from {@link MediaTypes}: registries never serve it). */
export const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar'

/**
 * The media type containerd gives a `docker save` layer, from its first bytes: an uncompressed tar or
 * an empty file is a plain tar; gzip or zstd data gets the gzip type, as in containerd (Docker schema 2
 * has no zstd type, and containerd's diff service detects the real compression when it applies it).
 */
export function dockerLayerMediaType(head: Uint8Array): string {
  if (head.byteLength === 0) return DOCKER_LAYER_TAR
  const gzip = head[0] === 0x1f && head[1] === 0x8b
  const zstd = head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd
  return gzip || zstd ? MediaTypes.dockerLayerGzip : DOCKER_LAYER_TAR
}

/** A manifest synthesized for a `docker save` image, and its descriptor. */
export interface SynthesizedManifest {
  /** The manifest JSON bytes. */
  bytes: Buffer
  /** Its descriptor (Docker schema 2 manifest media type). */
  descriptor: OciDescriptor
}

/**
 * Builds the Docker schema 2 manifest containerd's importer creates for a `docker save` image: the
 * same fields in the same order as Go's encoding/json writes them, so importing the same archive here
 * or with `ctr images import` yields the same manifest digest.
 */
export function dockerSchema2Manifest(config: { digest: string; size: number }, layers: readonly OciDescriptor[]): SynthesizedManifest {
  const value = {
    schemaVersion: 2,
    mediaType: MediaTypes.dockerManifest,
    config: { mediaType: MediaTypes.dockerConfig, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  }
  const bytes = Buffer.from(JSON.stringify(value), 'utf8')
  const digest: Digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  return { bytes, descriptor: { mediaType: MediaTypes.dockerManifest, digest, size: bytes.byteLength } }
}
