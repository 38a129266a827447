/**
 * What a caller asks of a build, checked and turned into what BuildKit's Dockerfile frontend reads
 * (`FrontendAttrs`), before anything connects: a bad option changes nothing.
 */

import type { Writable } from 'node:stream'
import { InvalidArgumentError } from '../grpc/errors.js'
import { checkOptionKeys, keysOf } from '../client/option-check.js'
import type { CredentialsProvider, RegistryCredentials } from '../registry/credentials.js'
import type { BuildKit } from './buildkit.js'
import { parseCacheSpecs, type BuildCacheSpec } from './build-cache.js'
import type { BuildProgressEvent } from './progress/build-progress.js'

/** A secret for `RUN --mount=type=secret,id=<id>`: from a file, an environment variable, or a value. */
export type BuildSecret =
  | {
    /** The id the Dockerfile's mount names. */
    readonly id: string
    /** A file whose contents are the secret. */
    readonly src: string
  }
  | {
    /** The id the Dockerfile's mount names. */
    readonly id: string
    /** An environment variable of this process whose value is the secret. */
    readonly env: string
  }
  | {
    /** The id the Dockerfile's mount names. */
    readonly id: string
    /** The secret itself. */
    readonly value: string | Uint8Array
  }

/** Where a build's result goes besides (or instead of) an image in the client's namespace. */
export type BuildOutput =
  | {
    /** The image, named by `tags`, in the client's namespace (the default output). */
    readonly type: 'image'
  }
  | {
    /** The final stage's files, written into a directory on this machine. */
    readonly type: 'local'
    /** The directory (created if missing). */
    readonly dest: string
  }
  | {
    /** The final stage's files as a tar. */
    readonly type: 'tar'
    /** A file path, or a stream (ended when the tar is complete). */
    readonly dest: string | Writable
  }
  | {
    /** The image as an OCI layout tar (`oci`) or a `docker load` tar (`docker`). */
    readonly type: 'oci' | 'docker'
    /** A file path, or a stream (ended when the archive is complete). */
    readonly dest: string | Writable
  }
  | {
    /** Nothing but BuildKit's cache (buildx `--output type=cacheonly`). */
    readonly type: 'cacheonly'
  }

/** Options of `client.build()`. */
export interface BuildOptions {
  /** The build context: a directory on this machine. */
  context: string
  /** The Dockerfile, relative to `context` (or absolute). Default `Dockerfile`. */
  dockerfile?: string
  /** Names for the image in the client's namespace (`example.com/app:1`, normalized as pulls are). */
  tags?: readonly string[]
  /** `ARG` values. */
  buildArgs?: Readonly<Record<string, string>>
  /** The stage to build. Default: the last. */
  target?: string
  /** Platforms to build for, e.g. `linux/amd64`. Default: the builder's. */
  platforms?: readonly string[]
  /** Labels added to the image config. */
  labels?: Readonly<Record<string, string>>
  /** Build every step again instead of using the cache. */
  noCache?: boolean
  /** Check the registry for newer base images even when the builder has them. */
  pull?: boolean
  /** The network `RUN` steps get. `host` needs the builder to allow the `network.host` entitlement. Default `default`. */
  network?: 'default' | 'none' | 'host'
  /** Secrets `RUN --mount=type=secret` may read; read here, before the build starts. */
  secrets?: readonly BuildSecret[]
  /**
   * SSH agents `RUN --mount=type=ssh` may use (buildx `--ssh`): `true` forwards `$SSH_AUTH_SOCK` as the
   * `default` agent; an object maps ids to agent sockets (`{ default: '/run/agent.sock', deploy: … }`).
   * Never on by itself: a Dockerfile with an ssh mount could sign with your keys.
   */
  ssh?: true | Readonly<Record<string, string>>
  /**
   * Registry credentials for the builder's pulls: fixed ones, or a provider called per registry host.
   * Default: the docker config and credential helpers, as for pulls.
   */
  auth?: RegistryCredentials | CredentialsProvider
  /**
   * Caches to import (buildx `--cache-from`): `type=registry,ref=example.com/app:cache`, a bare reference
   * (a registry cache), or `{ type, attrs }`.
   */
  cacheFrom?: readonly BuildCacheSpec[]
  /** Caches to export (buildx `--cache-to`): `type=inline`, `type=registry,ref=…,mode=max`, or `{ type, attrs }`. */
  cacheTo?: readonly BuildCacheSpec[]
  /** Where the result goes. Default `[{ type: 'image' }]` (which needs `tags`). */
  outputs?: readonly BuildOutput[]
  /**
   * The BuildKit to use: a handle from `BuildKit.connect()` (kept open), or an address (`unix://…`,
   * `tcp://…`, `docker://unix:///var/run/docker.sock`) connected for this build only. Default:
   * `$BUILDKIT_HOST`, then `/run/buildkit/buildkitd.sock`, then `/run/buildkit-default/buildkitd.sock`.
   */
  builder?: string | BuildKit
  /** Called with each progress event (vertices, logs, warnings) as BuildKit reports it. */
  onProgress?: (event: BuildProgressEvent) => void
  /** Cancels the build: the session is closed and nothing is tagged. */
  signal?: AbortSignal
}

/** The keys of {@link BuildOptions}, for the run-time check. */
export const BUILD_OPTION_KEYS = keysOf<BuildOptions>()({
  context: true,
  dockerfile: true,
  tags: true,
  buildArgs: true,
  target: true,
  platforms: true,
  labels: true,
  noCache: true,
  pull: true,
  network: true,
  secrets: true,
  ssh: true,
  auth: true,
  cacheFrom: true,
  cacheTo: true,
  outputs: true,
  builder: true,
  onProgress: true,
  signal: true,
})

const OUTPUT_TYPES = new Set(['image', 'local', 'tar', 'oci', 'docker', 'cacheonly'])

/**
 * Checks the options' shape (unknown keys, types, combinations); nothing on disk is looked at.
 * @throws InvalidArgumentError naming the option.
 */
export function checkBuildOptions(options: BuildOptions): void {
  checkOptionKeys(options, BUILD_OPTION_KEYS, 'build()')
  if (typeof options.context !== 'string' || options.context === '') throw new InvalidArgumentError('build(): context must be a directory path')
  if (options.dockerfile !== undefined && (typeof options.dockerfile !== 'string' || options.dockerfile === '')) {
    throw new InvalidArgumentError('build(): dockerfile must be a non-empty path')
  }
  for (const [name, map] of [['buildArgs', options.buildArgs], ['labels', options.labels]] as const) {
    if (map === undefined) continue
    for (const [key, value] of Object.entries(map)) {
      if (key === '' || typeof value !== 'string') throw new InvalidArgumentError(`build(): ${name} needs non-empty keys and string values (${JSON.stringify(key)})`)
    }
  }
  if (options.network !== undefined && !['default', 'none', 'host'].includes(options.network)) {
    throw new InvalidArgumentError(`build(): network must be 'default', 'none' or 'host', got ${JSON.stringify(options.network)}`)
  }
  for (const tag of options.tags ?? []) {
    if (typeof tag !== 'string' || tag === '') throw new InvalidArgumentError('build(): tags must be non-empty image names')
  }
  const ids = new Set<string>()
  for (const secret of options.secrets ?? []) {
    if (typeof secret.id !== 'string' || secret.id === '') throw new InvalidArgumentError('build(): every secret needs an id')
    if (ids.has(secret.id)) throw new InvalidArgumentError(`build(): secret ${JSON.stringify(secret.id)} is given twice`)
    ids.add(secret.id)
    const sources = ['src', 'env', 'value'].filter((k) => k in secret)
    if (sources.length !== 1) throw new InvalidArgumentError(`build(): secret ${JSON.stringify(secret.id)} needs exactly one of src, env, value`)
  }
  if (options.ssh !== undefined && options.ssh !== true) {
    if (typeof options.ssh !== 'object' || options.ssh === null) throw new InvalidArgumentError('build(): ssh must be true or an object of agent sockets by id')
    for (const [id, socket] of Object.entries(options.ssh)) {
      if (id === '' || typeof socket !== 'string' || socket === '') throw new InvalidArgumentError(`build(): ssh agent ${JSON.stringify(id)} needs a socket path`)
    }
  }
  parseCacheSpecs(options.cacheFrom, 'cacheFrom')
  parseCacheSpecs(options.cacheTo, 'cacheTo')
  const outputs = buildOutputs(options)
  for (const output of outputs) {
    if (!OUTPUT_TYPES.has(output.type)) throw new InvalidArgumentError(`build(): unknown output type ${JSON.stringify(output.type)} (use image, local, tar, oci, docker or cacheonly)`)
  }
  if (outputs.filter((o) => o.type === 'image').length > 1) throw new InvalidArgumentError('build(): give the image output once')
  if (outputs.some((o) => o.type === 'image') && (options.tags ?? []).length === 0) {
    throw new InvalidArgumentError('build(): the image output needs tags (an image in containerd is found by its name); give tags, or outputs without image')
  }
  if (outputs.some((o) => o.type === 'cacheonly') && outputs.length > 1) throw new InvalidArgumentError('build(): cacheonly cannot be combined with other outputs')
}

/** The outputs asked for, with the default. */
export function buildOutputs(options: Pick<BuildOptions, 'outputs'>): readonly BuildOutput[] {
  return options.outputs ?? [{ type: 'image' }]
}

/**
 * The Dockerfile frontend's attributes: `filename` (relative to the `dockerfile` local), `target`,
 * `build-arg:*`, `label:*`, `platform`, `no-cache`, `image-resolve-mode`, `force-network-mode`.
 */
export function frontendAttrs(options: BuildOptions, dockerfileName: string): Record<string, string> {
  const attrs: Record<string, string> = { filename: dockerfileName }
  if (options.target !== undefined) attrs['target'] = options.target
  for (const [key, value] of Object.entries(options.buildArgs ?? {})) attrs[`build-arg:${key}`] = value
  for (const [key, value] of Object.entries(options.labels ?? {})) attrs[`label:${key}`] = value
  if (options.platforms !== undefined && options.platforms.length > 0) attrs['platform'] = options.platforms.join(',')
  // An empty value means "no step from the cache" (a list would name the stages to rebuild).
  if (options.noCache === true) attrs['no-cache'] = ''
  if (options.pull === true) attrs['image-resolve-mode'] = 'pull'
  if (options.network === 'none' || options.network === 'host') attrs['force-network-mode'] = options.network
  // The frontend resolves imported caches itself: it reads the list from here (as buildx sends it).
  const imports = parseCacheSpecs(options.cacheFrom, 'cacheFrom')
  if (imports.length > 0) attrs['cache-imports'] = JSON.stringify(imports)
  return attrs
}

/** The entitlements the options need from the builder. */
export function entitlements(options: Pick<BuildOptions, 'network'>): string[] {
  return options.network === 'host' ? ['network.host'] : []
}
