/**
 * The OCI image configuration (image-spec v1.1 `config.json`, media type
 * `application/vnd.oci.image.config.v1+json`), which Docker's schema-2 config
 * (`application/vnd.docker.container.image.v1+json`) shares, plus the Docker extensions found in
 * Docker-built images (`Healthcheck`, `OnBuild`, `Shell`).
 *
 * One set of types for every reader: a config read from a registry, an archive or containerd's content
 * store, and the spec builder that applies it. Field names are the exact JSON names, which is why the
 * runtime fields are capitalised (`Env`, `Cmd`) and the others are not (`rootfs.diff_ids`). The members
 * Docker-built configs carry as `null` when empty (`"Entrypoint": null`, `"Cmd": null`, `"Volumes": null`,
 * `"OnBuild": null`, `"Labels": null`) admit `null`.
 */

/** The image config blob: what the image is for (platform), how it was built, its layers and runtime defaults. */
export interface ImageConfig {
  /** When the image was created (RFC 3339). */
  created?: string
  /** Who made the image. */
  author?: string
  /** CPU architecture in GOARCH terms, e.g. `amd64`, `arm64`. */
  architecture: string
  /** Operating system in GOOS terms, e.g. `linux`, `windows`. */
  os: string
  /** Operating system version (Windows). */
  'os.version'?: string
  /** Required operating system features (Windows). */
  'os.features'?: string[]
  /** Architecture variant, e.g. `v7` for arm, `v8` for arm64. */
  variant?: string
  /** Runtime defaults for containers made from the image. */
  config?: ImageRuntimeConfig
  /** The layers as the filesystem sees them. */
  rootfs: ImageRootfs
  /** Build history, oldest first. */
  history?: ImageHistoryEntry[]
}

/** Runtime defaults an image declares for its containers (the `config` member of the config blob). */
export interface ImageRuntimeConfig {
  /** `user`, `uid`, `user:group`, `uid:gid`, `uid:group` or `user:gid`; empty means root. */
  User?: string
  /** Ports the image listens on, as keys `port/tcp` or `port/udp` with empty-object values. */
  ExposedPorts?: Record<string, Record<string, never>>
  /** Environment as `KEY=value` strings. */
  Env?: string[] | null
  /** The executable and fixed leading arguments. */
  Entrypoint?: string[] | null
  /** Default arguments (or the whole command when there is no entrypoint); replaced by the caller's args. */
  Cmd?: string[] | null
  /** Paths meant to be volumes, as keys with empty-object values. */
  Volumes?: Record<string, Record<string, never>> | null
  /** Working directory of the process; empty means `/`. */
  WorkingDir?: string
  /** Image labels. */
  Labels?: Record<string, string> | null
  /** The signal that stops the container, e.g. `SIGQUIT` or `15`. */
  StopSignal?: string
  /** Deprecated Windows flag: Entrypoint/Cmd are already escaped into one command line. */
  ArgsEscaped?: boolean
  /** Docker extension: the health check. */
  Healthcheck?: ImageHealthcheck
  /** Docker extension: build triggers for child images. */
  OnBuild?: string[] | null
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

/** The `rootfs` of an image config. */
export interface ImageRootfs {
  /** Always `layers`. */
  type: string
  /** The uncompressed layer digests (diffIDs, `sha256:…`), base first. */
  diff_ids: string[]
}

/** One step of how the image was built. */
export interface ImageHistoryEntry {
  /** When the step ran (RFC 3339). */
  created?: string
  /** The command that made it. */
  created_by?: string
  /** Who made it. */
  author?: string
  /** Free text. */
  comment?: string
  /** True when the step made no layer. */
  empty_layer?: boolean
}
