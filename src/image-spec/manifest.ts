import { DataLossError } from '../grpc/errors.js'
import type { OciDescriptor } from './descriptor.js'

/** An OCI image manifest (or Docker schema 2 manifest: same shape). */
export interface ImageManifest {
  /** Always 2. */
  schemaVersion: number
  /** The manifest's own media type (required by Docker, optional in OCI). */
  mediaType?: string
  /** The image config blob. */
  config: OciDescriptor
  /** The layer blobs, base first. */
  layers: OciDescriptor[]
  /** Free-form annotations. */
  annotations?: Record<string, string>
}

/** An OCI image index (or Docker manifest list). */
export interface ImageIndex {
  /** Always 2. */
  schemaVersion: number
  /** The index's own media type. */
  mediaType?: string
  /** One entry per platform-specific manifest (or nested index). */
  manifests: OciDescriptor[]
  /** Free-form annotations. */
  annotations?: Record<string, string>
}

/** Runtime defaults an image declares for its containers (`config` in the image config). */
export interface ImageRuntimeConfig {
  /** User (name or uid, optionally `:group`) to run as. */
  User?: string
  /** Environment as `KEY=value` strings. */
  Env?: string[]
  /** Executable and leading arguments. */
  Entrypoint?: string[] | null
  /** Default arguments (or the command, without an entrypoint). */
  Cmd?: string[] | null
  /** Working directory. */
  WorkingDir?: string
  /** Image labels. */
  Labels?: Record<string, string> | null
  /** Ports the image listens on, as `"80/tcp": {}`. */
  ExposedPorts?: Record<string, unknown>
  /** Paths meant to be volumes. */
  Volumes?: Record<string, unknown>
  /** Signal that stops the process, e.g. `SIGQUIT`. */
  StopSignal?: string
}

/** One step of how the image was built. */
export interface ImageHistoryEntry {
  /** When the step ran (RFC 3339). */
  created?: string
  /** The command that made it. */
  created_by?: string
  /** True when the step made no layer. */
  empty_layer?: boolean
  /** Free text. */
  comment?: string
}

/** The `rootfs` of an image config. */
export interface ImageRootfs {
  /** Always `layers`. */
  type: string
  /** The uncompressed layer digests (diffIDs), base first. */
  diff_ids: string[]
}

/** The parts of an OCI image config the SDK uses. */
export interface ImageConfig {
  /** CPU architecture, e.g. `amd64`. */
  architecture: string
  /** Operating system, e.g. `linux`. */
  os: string
  /** Architecture variant, e.g. `v7`. */
  variant?: string
  /** When the image was created (RFC 3339). */
  created?: string
  /** Runtime defaults for containers. */
  config?: ImageRuntimeConfig
  /** The layers as the filesystem sees them. */
  rootfs: ImageRootfs
  /** Build history, oldest first. */
  history?: ImageHistoryEntry[]
}

/**
 * Parses JSON bytes as a manifest, index or config.
 * @throws DataLossError naming what failed to parse.
 */
export function parseJson<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T
  } catch (err) {
    throw new DataLossError(`${what} is not valid JSON: ${(err as Error).message}`)
  }
}
