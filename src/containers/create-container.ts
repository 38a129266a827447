import type { ClientCore } from '../client/client.js'
import { NotFoundError } from '../grpc/errors.js'
import { validateIdentifier } from '../client/identifiers.js'
import type { CallOptions } from '../grpc/call-options.js'
import { Image } from '../images/image.js'
import { getImage } from '../images/image-store.js'
import { chainIds } from '../images/unpack.js'
import type { ImageConfig } from '../image-spec/image-config.js'
import { parseJson } from '../image-spec/parse.js'
import { Container } from './container.js'
import { buildContainerSpec, type ContainerSpecOptions } from './container-spec.js'
import { encodeSpec } from '../oci/spec-json.js'
import { withTerminal } from '../oci/terminal-option.js'
import { runtimeChoice } from './runtime-choice.js'
import { STOP_SIGNAL_LABEL } from '../docker/container-stop.js'

export { DEFAULT_RUNTIME } from './runtime-choice.js'

/** Options of `client.createContainer()`. */
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

/**
 * Creates a container from an unpacked image: a new writable snapshot on top of the image's layers
 * (keyed by the container id, like the Go client's `WithNewSnapshot`), an OCI spec built from the
 * image config and the options, and the container record. All under one lease, so a failure at any step
 * leaves no snapshot and no record behind.
 * @throws InvalidArgumentError for a bad id; NotFoundError for a missing or not unpacked image;
 *   AlreadyExistsError when the id is taken (nothing is changed then).
 */
export async function createContainer(client: ClientCore, id: string, options: CreateContainerOptions): Promise<Container> {
  validateIdentifier('container id', id)
  const image = typeof options.image === 'string' ? await getImage(client, options.image, options) : options.image
  const snapshotter = options.snapshotter ?? 'overlayfs'
  // One read each of the manifest and the config (image.config() and isUnpacked() would re-read both).
  const { manifest } = await image.manifest(options)
  const config = parseJson<ImageConfig>(await client.content.readAll(manifest.config.digest, options), `config ${manifest.config.digest}`)
  const top = chainIds(config.rootfs.diff_ids).at(-1) ?? ''
  if (top !== '' && !(await isCommitted(client, snapshotter, top, options))) {
    throw new NotFoundError(`image ${image.name} is not unpacked in ${snapshotter}: pull it (pull unpacks) before creating containers`)
  }
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
  await client.withLease(async () => {
    await client.snapshots(snapshotter).prepare(id, top, { signal: options.signal })
    await client.services.containers.create(
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
  return new Container(client, id)
}

async function isCommitted(client: ClientCore, snapshotter: string, key: string, options: CallOptions): Promise<boolean> {
  try {
    return (await client.snapshots(snapshotter).stat(key, options)).kind === 'committed'
  } catch (err) {
    if (err instanceof NotFoundError) return false
    throw err
  }
}

/** A handle on an existing container. @throws NotFoundError when there is none with that id. */
export async function loadContainer(client: ClientCore, id: string, options?: CallOptions): Promise<Container> {
  await client.services.containers.get({ id }, options)
  return new Container(client, id)
}
