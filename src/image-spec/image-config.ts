/**
 * TypeScript types for the OCI image configuration (image-spec v1.1 `config.json`, media type
 * `application/vnd.oci.image.config.v1+json`), which Docker's schema-2 config shares.
 *
 * This layer keeps its own copy instead of reusing `src/images`, so that spec building depends on nothing
 * but these JSON shapes: a config read from a registry, an archive or containerd's content store all fit.
 * Field names are the exact JSON names, which is why the runtime fields are capitalised (`Env`, `Cmd`).
 */

/** The image configuration blob. */
export interface Image {
  /** Creation time, RFC 3339. */
  created?: string
  /** Who made the image. */
  author?: string
  /** CPU architecture in GOARCH terms: `amd64`, `arm64`, … */
  architecture: string
  /** Operating system in GOOS terms: `linux`, `windows`, … */
  os: string
  /** Operating system version (Windows). */
  'os.version'?: string
  /** Required operating system features (Windows). */
  'os.features'?: string[]
  /** CPU variant, e.g. `v8` for arm64. */
  variant?: string
  /** The defaults a container made from the image starts with. */
  config?: ImageConfig
  /** The layers' uncompressed digests, bottom first. */
  rootfs: ImageRootFS
  /** How each layer was made. */
  history?: ImageHistory[]
}

/** The runtime defaults of an image (the `config` member of the config blob). */
export interface ImageConfig {
  /** `user`, `uid`, `user:group`, `uid:gid`, `uid:group` or `user:gid`; empty means root. */
  User?: string
  /** Ports the image listens on, as keys `port/tcp` or `port/udp` with empty-object values. */
  ExposedPorts?: Record<string, Record<string, never>>
  /** Environment, as `KEY=value` strings. */
  Env?: string[]
  /** The executable and fixed leading arguments. */
  Entrypoint?: string[]
  /** Default arguments (or the whole command when there is no entrypoint); replaced by the caller's args. */
  Cmd?: string[]
  /** Paths that should be volumes, as keys with empty-object values. */
  Volumes?: Record<string, Record<string, never>>
  /** Working directory of the process; empty means `/`. */
  WorkingDir?: string
  /** Free-form metadata. */
  Labels?: Record<string, string>
  /** The signal that stops the container, e.g. `SIGTERM` or `15`. */
  StopSignal?: string
  /** Deprecated Windows flag: Entrypoint/Cmd are already escaped into one command line. */
  ArgsEscaped?: boolean
  /** Docker extension: the health check. */
  Healthcheck?: ImageHealthcheck
  /** Docker extension: build triggers for child images. */
  OnBuild?: string[]
  /** Docker extension: the shell for shell-form instructions. */
  Shell?: string[]
}

/** Docker's health check (not part of the OCI spec, but present in Docker-built images). */
export interface ImageHealthcheck {
  /** `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", "…"]`. */
  Test?: string[]
  /** Nanoseconds between checks. */
  Interval?: number
  /** Nanoseconds before a check counts as failed. */
  Timeout?: number
  /** Nanoseconds of start-up grace. */
  StartPeriod?: number
  /** Nanoseconds between checks during the start-up period. */
  StartInterval?: number
  /** Consecutive failures before the container is unhealthy. */
  Retries?: number
}

/** The layer list of an image. */
export interface ImageRootFS {
  /** Always `layers`. */
  type: string
  /** Uncompressed layer digests (`sha256:…`), bottom first. */
  diff_ids: string[]
}

/** One history entry. */
export interface ImageHistory {
  /** When the layer was made, RFC 3339. */
  created?: string
  /** The command that made it. */
  created_by?: string
  /** Who made it. */
  author?: string
  /** A comment. */
  comment?: string
  /** True when the step made no layer. */
  empty_layer?: boolean
}
