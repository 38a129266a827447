import { validateDigest } from '../../client/content/digest.js'
import type { OciDescriptor } from '../../image-spec/descriptor.js'
import type { ImageIndex } from '../../image-spec/image-index.js'
import type { ImageManifest } from '../../image-spec/manifest.js'
import { ArchiveError } from './archive-error.js'

/**
 * The largest JSON document (index.json, manifest.json, oci-layout, a manifest, an index, a config) an
 * import reads into memory. Real ones are a few KiB; containerd caps manifests from registries at 4 MiB
 * too. Anything bigger is refused before it is parsed.
 */
export const MAX_JSON_BYTES = 4 * 1024 * 1024

/**
 * Parses archive metadata, naming the document in the error.
 * @throws ArchiveError `TooLarge` above {@link MAX_JSON_BYTES}, `Malformed` for invalid JSON.
 */
export function parseArchiveJson(bytes: Uint8Array, what: string, path?: string): unknown {
  if (bytes.byteLength > MAX_JSON_BYTES) {
    throw new ArchiveError('TooLarge', `${what} is ${bytes.byteLength} bytes, more than the ${MAX_JSON_BYTES}-byte limit for JSON documents`, pathOption(path))
  }
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as unknown
  } catch (err) {
    throw new ArchiveError('Malformed', `${what} is not valid JSON: ${(err as Error).message}`, { ...pathOption(path), cause: err })
  }
}

/**
 * Checks a descriptor from archive metadata (media type, digest, size, and optional platform and
 * annotations of the right types) and returns a clean copy with only those fields.
 * @throws ArchiveError `Malformed`.
 */
export function checkDescriptor(value: unknown, what: string): OciDescriptor {
  const bad = (why: string): never => {
    throw new ArchiveError('Malformed', `${what} is not a valid descriptor: ${why}`)
  }
  if (!isObject(value)) return bad('not an object')
  const { mediaType, digest, size, annotations, platform } = value
  if (typeof mediaType !== 'string' || mediaType === '') bad('mediaType is missing')
  if (typeof digest !== 'string') return bad('digest is missing')
  try {
    validateDigest(digest)
  } catch {
    bad(`digest ${JSON.stringify(digest)} is malformed`)
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) bad(`size ${JSON.stringify(size)} is not a non-negative integer`)
  const desc: OciDescriptor = { mediaType: mediaType as string, digest, size: size as number }
  if (annotations !== undefined && annotations !== null) {
    if (!isObject(annotations) || Object.values(annotations).some((v) => typeof v !== 'string')) bad('annotations must map strings to strings')
    desc.annotations = { ...(annotations as Record<string, string>) }
  }
  if (platform !== undefined && platform !== null) {
    if (!isObject(platform) || typeof platform['os'] !== 'string' || typeof platform['architecture'] !== 'string') bad('platform needs os and architecture')
    const p = platform as Record<string, unknown>
    desc.platform = { os: p['os'] as string, architecture: p['architecture'] as string }
    if (typeof p['variant'] === 'string' && p['variant'] !== '') desc.platform.variant = p['variant']
  }
  return desc
}

/**
 * Parses an index (index.json or an index blob): `manifests` must be an array of valid descriptors.
 * @throws ArchiveError `TooLarge` or `Malformed`.
 */
export function parseIndexDocument(bytes: Uint8Array, what: string, path?: string): ImageIndex {
  const value = parseArchiveJson(bytes, what, path)
  if (!isObject(value) || !Array.isArray(value['manifests'])) {
    throw new ArchiveError('Malformed', `${what} has no "manifests" array`, pathOption(path))
  }
  const manifests = (value['manifests'] as unknown[]).map((m, i) => checkDescriptor(m, `${what}, manifests[${i}]`))
  const index: ImageIndex = { schemaVersion: typeof value['schemaVersion'] === 'number' ? value['schemaVersion'] : 2, manifests }
  if (typeof value['mediaType'] === 'string') index.mediaType = value['mediaType']
  return index
}

/**
 * Parses an image manifest blob: a config descriptor and an array of layer descriptors.
 * @throws ArchiveError `TooLarge` or `Malformed`.
 */
export function parseManifestDocument(bytes: Uint8Array, what: string): ImageManifest {
  const value = parseArchiveJson(bytes, what)
  if (!isObject(value) || !Array.isArray(value['layers'])) {
    throw new ArchiveError('Malformed', `${what} has no "layers" array`)
  }
  return {
    schemaVersion: typeof value['schemaVersion'] === 'number' ? value['schemaVersion'] : 2,
    config: checkDescriptor(value['config'], `${what}, config`),
    layers: (value['layers'] as unknown[]).map((l, i) => checkDescriptor(l, `${what}, layers[${i}]`)),
  }
}

/** The only OCI image layout version there is. */
export const OCI_LAYOUT_VERSION = '1.0.0'

/**
 * Checks the `oci-layout` marker file.
 * @throws ArchiveError `Malformed`, or `UnsupportedVersion` for any version but 1.0.0 (containerd
 * refuses those too: a future layout may store blobs differently).
 */
export function checkOciLayout(bytes: Uint8Array): void {
  const value = parseArchiveJson(bytes, 'oci-layout', 'oci-layout')
  const version = isObject(value) ? value['imageLayoutVersion'] : undefined
  if (typeof version !== 'string') throw new ArchiveError('Malformed', 'oci-layout has no imageLayoutVersion', { path: 'oci-layout' })
  if (version !== OCI_LAYOUT_VERSION) {
    throw new ArchiveError('UnsupportedVersion', `oci-layout declares layout version ${JSON.stringify(version)}; only ${OCI_LAYOUT_VERSION} is supported`, { path: 'oci-layout' })
  }
}

/** True for a plain (non-array) object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function pathOption(path: string | undefined): { path?: string } {
  return path === undefined ? {} : { path }
}
