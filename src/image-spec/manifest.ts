import type { OciDescriptor } from './descriptor.js'

/** An OCI image manifest (or Docker schema 2 manifest: same shape): one platform's config and layers. */
export interface ImageManifest {
  /** Always 2. */
  schemaVersion: number
  /** The manifest's own media type (required by Docker, optional in OCI). */
  mediaType?: string
  /** The image config blob (see `ImageConfig`). */
  config: OciDescriptor
  /** The layer blobs, base first. */
  layers: OciDescriptor[]
  /** Free-form annotations. */
  annotations?: Record<string, string>
}
