/** Media types of the OCI image spec and Docker's schema 2, and what each kind of blob is. */
export const MediaTypes = {
  /** OCI image index (multi-platform). */
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  /** OCI image manifest. */
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  /** OCI image config. */
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  /** Uncompressed OCI layer. */
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  /** gzip-compressed OCI layer. */
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  /** zstd-compressed OCI layer. */
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  /** Docker manifest list (multi-platform). */
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  /** Docker schema 2 manifest. */
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  /** Docker image config. */
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  /** gzip-compressed Docker layer. */
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  /** Docker foreign layer (fetched from `urls`). */
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const

/** True for a multi-platform index (OCI index or Docker manifest list). */
export function isIndex(mediaType: string): boolean {
  return mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList
}

/** True for a single-platform manifest (OCI or Docker schema 2). */
export function isManifest(mediaType: string): boolean {
  return mediaType === MediaTypes.ociManifest || mediaType === MediaTypes.dockerManifest
}

/** True for a layer blob that containerd's diff service can apply. */
export function isLayer(mediaType: string): boolean {
  return mediaType.startsWith('application/vnd.oci.image.layer.') || mediaType.startsWith('application/vnd.docker.image.rootfs.')
}
