import type { OciDescriptor } from '../../image-spec/descriptor.js'
import { MediaTypes } from '../../image-spec/media-types.js'
import { OCI_LAYOUT_VERSION } from './archive-json.js'

/** Name of the OCI layout marker file. */
export const OCI_LAYOUT_FILE = 'oci-layout'
/** Name of the OCI layout's entry point. */
export const INDEX_FILE = 'index.json'

/** The bytes of the `oci-layout` file, as containerd writes it. */
export function ociLayoutJson(): Buffer {
  return Buffer.from(JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION }), 'utf8')
}

/**
 * Serializes a descriptor with the key order and sorted annotation keys Go's encoding/json produces for
 * containerd's descriptors, so our archives read the same as containerd's (and diff cleanly).
 */
export function canonicalDescriptor(desc: OciDescriptor): Record<string, unknown> {
  const out: Record<string, unknown> = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }
  if (desc.urls !== undefined && desc.urls.length > 0) out['urls'] = [...desc.urls]
  if (desc.annotations !== undefined && Object.keys(desc.annotations).length > 0) {
    out['annotations'] = Object.fromEntries(Object.entries(desc.annotations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }
  if (desc.platform !== undefined) {
    const p = desc.platform
    out['platform'] = {
      architecture: p.architecture,
      os: p.os,
      ...(p['os.version'] !== undefined ? { 'os.version': p['os.version'] } : {}),
      ...(p['os.features'] !== undefined ? { 'os.features': p['os.features'] } : {}),
      ...(p.variant !== undefined ? { variant: p.variant } : {}),
    }
  }
  return out
}

/** The bytes of an OCI index listing `manifests` (index.json of an export, or a synthesized index). */
export function buildIndexJson(manifests: readonly OciDescriptor[]): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: manifests.map(canonicalDescriptor) }), 'utf8')
}
