import type { ClientCore } from '../client/client.js'
import { InvalidArgumentError, NotFoundError } from '../grpc/errors.js'
import { CALL_OPTION_KEYS, checkOptionKeys, checkStringArray, describe, keysOf } from '../client/option-check.js'
import { validateIdentifier } from '../client/identifiers.js'
import type { CallOptions } from '../grpc/call-options.js'
import { Image } from '../images/image.js'
import { getImage } from '../images/get-image.js'
import { chainIds } from '../images/unpack.js'
import type { ImageConfig } from '../image-spec/image-config.js'
import type { ImageManifest } from '../image-spec/manifest.js'
import { parseJson } from '../image-spec/parse.js'
import { ContainerdContainer } from './container.js'
import { buildContainerSpec, type ContainerSpecOptions } from './container-spec.js'
import { encodeSpec } from '../oci/spec-json.js'
import { checkSpecFlagShapes, SPEC_FLAG_KEYS } from '../oci/spec-flags.js'
import { withTerminal } from '../oci/terminal-option.js'
import { runtimeChoice } from './runtime-choice.js'
import { STOP_SIGNAL_LABEL } from './container-labels.js'

export { DEFAULT_RUNTIME } from './runtime-choice.js'

/** Options of `client.containers.create()`. */
export interface CreateContainerOptions extends CallOptions, ContainerSpecOptions {
  /** The image (a handle or a reference to an image in the namespace) whose unpacked layers become the rootfs. */
  image: Image | string
  /** Labels for the container record. */
  labels?: Record<string, string>
  /** Snapshotter the image is unpacked in. Default `overlayfs`. */
  snapshotter?: string
  /**
   * Runtime: a containerd runtime name (default `io.containerd.runc.v2`), or an OCI runtime binary the
   * runc shim runs instead of runc, such as `crun` (like `nerdctl run --runtime crun`).
   */
  runtime?: string
  /** Run the process on a pseudo-terminal (`docker run -t`); its task then needs `stdio: { terminal: true }`. */
  tty?: boolean
}

/** The keys of {@link CreateContainerOptions}, for the run-time check (see {@link checkCreateContainerOptions}). */
export const CREATE_CONTAINER_OPTION_KEYS = keysOf<CreateContainerOptions>()({
  ...CALL_OPTION_KEYS,
  ...SPEC_FLAG_KEYS,
  args: true,
  entrypoint: true,
  user: true,
  specOptions: true,
  image: true,
  labels: true,
  snapshotter: true,
  runtime: true,
  tty: true,
})

/**
 * Checks options for `createContainer` at run time, for callers in plain JavaScript, before anything is
 * read or made: an options object with known keys only (see {@link CREATE_CONTAINER_OPTION_KEYS}) and
 * an image, then the values' shapes (see {@link checkContainerOptionShapes}).
 * @param where the call, for messages. Default `containers.create()`.
 * @throws InvalidArgumentError naming the unknown key (and the closest known one) or the value and the fix.
 */
export function checkCreateContainerOptions(options: unknown, where = 'containers.create()'): void {
  if (options === undefined) throw new InvalidArgumentError(`${where} needs options with an image, e.g. { image: 'docker.io/library/busybox:latest' }`)
  checkOptionKeys(options, CREATE_CONTAINER_OPTION_KEYS, where)
  const { image } = options as { image?: unknown }
  if (typeof image !== 'string' && (typeof image !== 'object' || image === null)) {
    throw new InvalidArgumentError(`${where} image must be an image reference or an Image, got ${describe(image)}`)
  }
  checkContainerOptionShapes(options as CreateContainerOptions, where)
}

/**
 * Checks the shapes of the container options' values (not their keys): `args` and `entrypoint` arrays
 * of strings (a string would run its first character), `user`, `snapshotter` and `runtime` strings,
 * `labels` an object of strings, `specOptions` an array of functions, and the Docker flags (see
 * `checkSpecFlagShapes`). `run()` calls it on its options, which hold these and more.
 * @param where the call, for messages (`run()`).
 * @throws InvalidArgumentError naming the option and the fix.
 */
export function checkContainerOptionShapes(options: Omit<CreateContainerOptions, 'image'>, where: string): void {
  checkStringArray(options.args, `${where} args`, "['sleep', '30']")
  checkStringArray(options.entrypoint, `${where} entrypoint`, "['/bin/sh', '-c']")
  for (const key of ['user', 'snapshotter', 'runtime'] as const) {
    const value: unknown = options[key]
    if (value !== undefined && typeof value !== 'string') throw new InvalidArgumentError(`${where} ${key} must be a string, got ${describe(value)}`)
  }
  const labels: unknown = options.labels
  if (labels !== undefined) {
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
      throw new InvalidArgumentError(`${where} labels must be an object of strings such as { app: 'web' }, got ${describe(labels)}`)
    }
    for (const [key, value] of Object.entries(labels)) {
      if (typeof value !== 'string') throw new InvalidArgumentError(`${where} labels.${key} must be a string, got ${describe(value)}`)
    }
  }
  const specOptions: unknown = options.specOptions
  if (specOptions !== undefined && (!Array.isArray(specOptions) || specOptions.some((o) => typeof o !== 'function'))) {
    throw new InvalidArgumentError(`${where} specOptions must be an array of spec options (functions such as withMemory('64m'))`)
  }
  checkSpecFlagShapes(options, where)
}

/**
 * Creates a container from an unpacked image: a new writable snapshot on top of the image's layers
 * (keyed by the container id, like the Go client's `WithNewSnapshot`), an OCI spec built from the
 * image config and the options, and the container record. All under one lease, so a failure at any step
 * leaves no snapshot and no record behind.
 * @throws InvalidArgumentError for a bad id, or options that are not options of this call (an unknown
 *   key, a value of the wrong shape: see {@link checkCreateContainerOptions}), checked before anything is
 *   read or made; NotFoundError for a missing or not unpacked image; AlreadyExistsError when the id is
 *   taken (nothing is changed then).
 */
export async function createContainer(client: ClientCore, id: string, options: CreateContainerOptions, read?: ImageContent): Promise<ContainerdContainer> {
  checkCreateContainerOptions(options)
  validateIdentifier('container id', id)
  const image = typeof options.image === 'string' ? await getImage(client, options.image, options) : options.image
  const snapshotter = options.snapshotter ?? 'overlayfs'
  const { manifest, config } = read ?? (await readImageContent(client, image, options))
  const top = chainIds(config.rootfs.diff_ids).at(-1) ?? ''
  const runtime = runtimeChoice(options.runtime)
  const specOptions = [...(options.tty === true ? [withTerminal()] : []), ...(options.specOptions ?? [])]
  const spec = await buildContainerSpec(client, { namespace: client.namespace, id, manifest, config }, { ...options, specOptions })
  const stopSignal = config.config?.StopSignal
  // Like the Go client's WithImageConfigLabels + WithImageStopSignal (and nerdctl): the image's labels,
  // then its stop signal, then the caller's labels over both.
  const labels = {
    ...config.config?.Labels,
    ...(stopSignal !== undefined && stopSignal !== '' ? { [STOP_SIGNAL_LABEL]: stopSignal } : {}),
    ...options.labels,
  }
  // The snapshot and the record are made under a lease of their own (as the Go client's NewContainer), which
  // its view of the client carries on both calls.
  await client.underLease(async (leased) => {
    // No Stat of the image's top snapshot first (one call less per container, as the Go client): a
    // prepare on a parent that is not there fails NotFound, which says what to do here.
    try {
      await leased.snapshots(snapshotter).prepare(id, top, { signal: options.signal })
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
      throw new NotFoundError(`image ${image.name} is not unpacked in ${snapshotter}: pull it (pull unpacks) before creating containers`, { cause: err })
    }
    await leased.services.containers.create(
      {
        container: {
          id,
          image: image.name,
          labels,
          runtime,
          spec: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from(encodeSpec(spec)) },
          snapshotter,
          snapshotKey: id,
        },
      },
      options,
    )
  }, { sync: false })
  return new ContainerdContainer(client, id)
}

/** What a container is made from: the image's manifest for this host and its config. */
export interface ImageContent {
  /** The manifest. */
  manifest: ImageManifest
  /** Its config. */
  config: ImageConfig
}

/**
 * One read each of the image's manifest and its config (image.config() and isUnpacked() would re-read
 * both); `run()` reads them once for its own checks and hands them to {@link createContainer}.
 */
export async function readImageContent(client: ClientCore, image: Image, options: CallOptions = {}): Promise<ImageContent> {
  const { manifest } = await image.manifest(options)
  const config = parseJson<ImageConfig>(await client.content.readAll(manifest.config.digest, options), `config ${manifest.config.digest}`)
  return { manifest, config }
}

/** A handle on an existing container. @throws NotFoundError when there is none with that id. */
export async function loadContainer(client: ClientCore, id: string, options?: CallOptions): Promise<ContainerdContainer> {
  await client.services.containers.get({ id }, options)
  return new ContainerdContainer(client, id)
}
