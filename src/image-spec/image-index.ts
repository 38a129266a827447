import type { OciDescriptor } from './descriptor.js'

/** An OCI image index (or Docker manifest list): one entry per platform-specific manifest. */
export interface ImageIndex {
  /** Always 2. */
  schemaVersion: number
  /** The index's own media type. */
  mediaType?: string
  /** One entry per platform-specific manifest (or nested index); entries carry their `platform`. */
  manifests: OciDescriptor[]
  /** Free-form annotations. */
  annotations?: Record<string, string>
}
