/** An OCI descriptor as registries and manifests use it. */
export interface OciDescriptor {
  /** What the content is, e.g. `application/vnd.oci.image.manifest.v1+json`. */
  mediaType: string
  /** The content's digest, `sha256:<hex>`. */
  digest: string
  /** The content's size in bytes. */
  size: number
  /** Free-form annotations (image names in index.json, …). */
  annotations?: Record<string, string>
  /** The platform of a manifest listed in an index. */
  platform?: DescriptorPlatform
  /** Other places the content can be fetched from (foreign layers). */
  urls?: string[]
}

/** The platform of an index entry, with the OCI spec's field names. */
export interface DescriptorPlatform {
  /** CPU architecture, e.g. `amd64`. */
  architecture: string
  /** Operating system, e.g. `linux`. */
  os: string
  /** Architecture variant, e.g. `v7`. */
  variant?: string
  /** OS version (Windows). */
  'os.version'?: string
  /** OS features (Windows). */
  'os.features'?: string[]
}
