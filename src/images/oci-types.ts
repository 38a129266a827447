import type { OciDescriptor } from '../registry/registry-client.js'

/** An OCI image manifest (or Docker schema 2 manifest: same shape). */
export interface ImageManifest {
  schemaVersion: number
  mediaType?: string
  config: OciDescriptor
  layers: OciDescriptor[]
  annotations?: Record<string, string>
}

/** An OCI image index (or Docker manifest list). */
export interface ImageIndex {
  schemaVersion: number
  mediaType?: string
  manifests: OciDescriptor[]
  annotations?: Record<string, string>
}

/** The parts of an OCI image config the SDK uses. */
export interface ImageConfig {
  architecture: string
  os: string
  variant?: string
  created?: string
  config?: {
    User?: string
    Env?: string[]
    Entrypoint?: string[] | null
    Cmd?: string[] | null
    WorkingDir?: string
    Labels?: Record<string, string> | null
    ExposedPorts?: Record<string, unknown>
    Volumes?: Record<string, unknown>
    StopSignal?: string
  }
  rootfs: { type: string; diff_ids: string[] }
  history?: { created?: string; created_by?: string; empty_layer?: boolean; comment?: string }[]
}

/** Parses JSON bytes as a manifest, index or config, with a clear error naming what failed. */
export function parseJson<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T
  } catch (err) {
    throw new SyntaxError(`${what} is not valid JSON: ${(err as Error).message}`)
  }
}
