import type { CallOptions } from '../grpc/call-options.js'
import type { OciDescriptor } from '../image-spec/descriptor.js'
import type { ImageConfig } from '../image-spec/image-config.js'
import type { ImageManifest } from '../image-spec/manifest.js'
import type { PlatformSpec } from '../image-spec/platform.js'

// The read side of an image handle, apart from the class: the helpers the class delegates to (inspect,
// mount) take this shape, so they need not import the class that imports them.

/** Options that pick one platform of a multi-platform image. Default: this host's. */
export interface PlatformOptions extends CallOptions {
  /** `os/arch[/variant]` or a platform object. Default: this host's platform. */
  platform?: string | PlatformSpec
}

/** A platform's manifest and the descriptor it was found by. */
export interface PlatformManifest {
  /** The manifest's descriptor (from the index, with its platform, or the image's target). */
  descriptor: OciDescriptor
  /** The parsed manifest. */
  manifest: ImageManifest
}

/** What an image takes on disk. */
export interface ImageSize {
  /** Bytes of its blobs in the content store: manifest, config and compressed layers. */
  content: number
  /** Bytes of its unpacked snapshots (0 when not unpacked). */
  unpacked: number
}

/** What the image helpers read of an image handle (`Image` implements it). */
export interface ImageView {
  /** The normalized name. */
  readonly name: string
  /** The digest of the manifest or index the name points at. */
  readonly digest: string
  /** When the record was last updated. */
  readonly updatedAt: Date | undefined
  /** The manifest of one platform. */
  manifest(options?: PlatformOptions): Promise<PlatformManifest>
  /** The config of one platform. */
  config(options?: PlatformOptions): Promise<ImageConfig>
  /** What the image takes on disk. */
  size(options?: PlatformOptions & { snapshotter?: string }): Promise<ImageSize>
  /** Whether one platform is unpacked in a snapshotter. */
  isUnpacked(options?: PlatformOptions & { snapshotter?: string }): Promise<boolean>
}
