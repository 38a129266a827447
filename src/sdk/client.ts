import { ClientCore } from '../client/client.js'
import type { CallOptions } from '../grpc/call-options.js'
import { Image } from '../images/image.js'
import { getImage, listImages, removeImage, type ListImagesOptions, type RemoveImageOptions } from '../images/image-store.js'
import { pullImage, type PullOptions } from '../images/pull.js'
import { transferPull } from '../images/transfer-pull.js'
import { pushImage, type PushedImage, type PushOptions } from '../images/push.js'
import type { Readable, Writable } from 'node:stream'
import { createContainer, loadContainer, type CreateContainerOptions } from '../containers/create-container.js'
import { toInfo, type Container, type ContainerInfo } from '../containers/container.js'
import { importImages, type ImportImagesOptions } from '../images/archive/import-images.js'
import { exportImages, type ExportImagesOptions, type ExportResult } from '../images/archive/export-images.js'
import { pruneImages, type PruneImagesOptions } from '../images/image-prune.js'
import { DEFAULT_DATA_ROOT, dataStorePath } from '../nerdctl/data-store.js'
import { resolveContainerId } from '../nerdctl/container-lookup.js'
import { stopContainer, type StopContainerOptions } from '../docker/container-stop.js'
import { removeContainer } from '../docker/container-remove.js'
import { restartSupport, updateRestartPolicy, type RestartPolicy, type RestartSupport } from '../containers/restart-policy.js'
import { inspectContainer, type ContainerInspect } from '../docker/container-inspect.js'
import { listContainerRows, type ContainerRow, type ListContainerRowsOptions } from '../docker/container-rows.js'
import { containerLogs } from '../logs/container-logs.js'
import type { LogEntry } from '../logs/log-entry.js'
import type { ExitStatus } from '../tasks/process-handle.js'
import { runContainer, type CompletedRun, type DetachedRun } from '../run/run.js'
import type { RunOptions } from '../run/run-options.js'
import type { ConnectOptions } from '../client/client-options.js'
import type { LogsOptions } from './client-options.js'

/**
 * A connection to containerd, bound to one namespace: everything of the client core (services,
 * namespaces, leases, content, snapshots, events) plus images.
 *
 * Create one with {@link Client.connect}; make views on other namespaces with `withNamespace` (they
 * share the connection). The client reconnects by itself after the daemon restarts: a call made while
 * the daemon is down fails with `UnavailableError`, the next one after it is back succeeds.
 *
 * @example
 * ```ts
 * await using client = await Client.connect({ namespace: 'example' })
 * const image = await client.pull('docker.io/library/busybox:latest')
 * console.log(image.name, image.digest, (await image.config()).config?.Cmd)
 * ```
 */
export class Client extends ClientCore {
  /**
   * Connects to containerd and checks the connection with a `Version` call.
   * @throws UnavailableError naming the socket when nothing answers there.
   * @throws InvalidArgumentError for a malformed address, namespace or data root.
   */
  static override async connect(options: ConnectOptions = {}): Promise<Client> {
    return ClientCore.open(options, (channel, namespace) => new Client(channel, namespace, true, undefined, options.dataRoot))
  }

  /** The nerdctl data store of this client's containerd: `<dataRoot>/<8 hex of sha256(socket path)>`. */
  get dataStore(): string {
    return dataStorePath(this.address, this.dataRoot ?? DEFAULT_DATA_ROOT)
  }

  /**
   * Pulls an image and unpacks it; resolves when the image is stored and unpacked (see `PullOptions`).
   * A failed pull leaves nothing behind.
   * @throws RegistryError for registry failures (not found, unauthorized, unavailable, digest mismatch).
   */
  async pull(reference: string, options: PullOptions = {}): Promise<Image> {
    return this.guardNamespace(async () => {
      if (options.strategy === 'transfer') return getImage(this, await transferPull(this, reference, options), options)
      const pulled = await pullImage(this, reference, options)
      return getImage(this, pulled.name, options)
    })
  }

  /**
   * Pushes an image of this namespace to the registry its name points at (tag it first to push under
   * another name); see `PushOptions`. Blobs the repository has are skipped, blobs another repository of
   * the same registry has are mounted.
   * @throws NotFoundError when the image, or content it needs, is not in the namespace.
   * @throws RegistryError for registry failures (unauthorized, denied, unavailable, digest mismatch).
   */
  async push(reference: string, options: PushOptions = {}): Promise<PushedImage> {
    return pushImage(this, reference, options)
  }

  /**
   * Imports an image archive (OCI layout tar: `ctr images export`, skopeo `oci-archive:`, Docker 25+
   * `docker save`; or a classic `docker save` / skopeo `docker-archive:` tar; plain or gzipped) and returns
   * the images it created or updated, unpacked for this host unless `unpack: false`. A failed import
   * leaves nothing behind.
   * @throws ArchiveError for a refused archive (`reason` says why).
   */
  async importImages(source: Readable | string, options: ImportImagesOptions = {}): Promise<Image[]> {
    return this.guardNamespace(async () => {
      const imported = await importImages(this, source, options)
      return Promise.all(imported.map((i) => getImage(this, i.name, { signal: options.signal })))
    })
  }

  /**
   * Exports images to one tar (OCI layout plus Docker manifest.json), streamed from the content store;
   * it loads with `ctr images import`, `docker load` and skopeo.
   * @throws NotFoundError for an unknown image, missing content or an unoffered platform.
   */
  async exportImages(references: string | string[], destination: Writable | string, options: ExportImagesOptions = {}): Promise<ExportResult> {
    return exportImages(this, typeof references === 'string' ? [references] : references, destination, options)
  }

  /**
   * Creates a container from an unpacked image (a new rootfs snapshot, an OCI spec from the image config
   * and the options, the record), all or nothing. Then `container.newTask()` runs it.
   * @throws AlreadyExistsError when the id is taken; NotFoundError for a missing or not unpacked image.
   */
  async createContainer(id: string, options: CreateContainerOptions): Promise<Container> {
    return this.guardNamespace(() => createContainer(this, id, options))
  }

  /**
   * A handle on an existing container, by id, name (nerdctl's `nerdctl/name` label) or unique id prefix.
   * @throws NotFoundError when nothing matches.
   */
  async loadContainer(reference: string, options?: CallOptions): Promise<Container> {
    return loadContainer(this, await resolveContainerId(this, reference, options), options)
  }

  /**
   * Runs an image like `nerdctl run`: pulls it if missing, creates a container with nerdctl's metadata
   * (name, labels, state dir), starts it, and with `detach` returns it running (output in the json-file
   * log, see {@link Client.logs}); otherwise waits for it to exit and returns the exit code (and the
   * output with `stdio: 'pipe'`), removing it with `rm`. An attached run's output goes to `stdio` and to
   * the json-file log too. `tty` runs it on a terminal (`-t`), `interactive` feeds stdin (`-i`).
   * A failed run leaves nothing behind.
   * @throws InvalidArgumentError for bad or conflicting options; ConflictError when the name is taken.
   */
  async run(image: string, options: RunOptions & { detach: true }): Promise<DetachedRun>
  async run(image: string, options?: RunOptions & { detach?: false }): Promise<CompletedRun>
  async run(image: string, options: RunOptions = {}): Promise<DetachedRun | CompletedRun> {
    return this.guardNamespace(() => runContainer(this, image, options))
  }

  /**
   * Stops a container like `docker stop` (its stop signal, `timeout` seconds, then SIGKILL) and records
   * the stop so its restart policy does not bring it back. Resolves with how it exited (undefined when
   * it had no task).
   * @throws NotFoundError when there is no such container.
   */
  async stop(container: string | Container, options?: StopContainerOptions): Promise<ExitStatus | undefined> {
    const id = await this.containerId(container, options)
    return stopContainer(this, id, options)
  }

  /**
   * Removes a container like `docker rm`: its task (killed first with `force`), the record, its rootfs
   * snapshot, and its nerdctl name and state dir.
   * @throws FailedPreconditionError when it is running and `force` is not set; NotFoundError when there is none.
   */
  async removeContainer(container: string | Container, options: CallOptions & { force?: boolean } = {}): Promise<void> {
    const id = await this.containerId(container, options)
    await removeContainer(this, id, options)
  }

  /**
   * A container's json-file log (containers from `run()`, or nerdctl's), as an async iterator
   * of `{ stream, time, line }`; with `follow` it ends once the task exited and its logger drained.
   * @throws NotFoundError when the container or its log does not exist.
   */
  logs(container: string | Container, options: LogsOptions = {}): AsyncIterable<LogEntry> {
    const id = (): Promise<string> => this.containerId(container, options)
    const dataStore = this.dataStore
    const logsOf = (containerId: string): AsyncGenerator<LogEntry> => containerLogs(this, containerId, { ...options, dataStore })
    return {
      async *[Symbol.asyncIterator]() {
        yield* logsOf(await id())
      },
    }
  }

  /** Which restart policies the daemon's restart monitor supports (containerd 1.6: only `always`). */
  async restartSupport(options?: CallOptions): Promise<RestartSupport> {
    return restartSupport(this, options)
  }

  /**
   * Changes a container's restart policy (like `docker update --restart`).
   * @throws InvalidArgumentError for a malformed policy; NotImplementedError when the daemon does not support it.
   */
  async updateRestartPolicy(container: string | Container, policy: RestartPolicy, options?: CallOptions): Promise<void> {
    const id = await this.containerId(container, options)
    await updateRestartPolicy(this, id, policy, options)
  }

  /** Docker-compatible `inspect` JSON of a container (by id, name or unique id prefix). */
  async inspect(container: string | Container, options?: CallOptions): Promise<ContainerInspect> {
    const id = await this.containerId(container, options)
    return inspectContainer(this, id, options)
  }

  /** `docker ps` rows of the namespace's containers: running ones, or all with `all: true`; newest first. */
  async ps(options?: ListContainerRowsOptions): Promise<ContainerRow[]> {
    return listContainerRows(this, options)
  }

  /** The namespace's containers, optionally filtered (`labels."app"==web`, `image==…`). */
  async listContainers(options: CallOptions & { filters?: string[] } = {}): Promise<ContainerInfo[]> {
    const { containers } = await this.services.containers.list({ filters: options.filters ?? [] }, options)
    return containers.map(toInfo)
  }

  /**
   * Reads an image record (the reference is normalized: `busybox` finds `docker.io/library/busybox:latest`).
   * @throws NotFoundError when the image is not in the namespace.
   */
  async getImage(reference: string, options?: CallOptions): Promise<Image> {
    return getImage(this, reference, options)
  }

  /** Lists the namespace's images, optionally filtered. */
  async listImages(options?: ListImagesOptions): Promise<Image[]> {
    return listImages(this, options)
  }

  /**
   * Removes images no container uses: only untagged ones by default, all unused with `dangling: false`.
   * Returns the names removed.
   */
  async pruneImages(options?: PruneImagesOptions): Promise<string[]> {
    return pruneImages(this, options)
  }

  /**
   * Removes an image record (blobs and snapshots go with garbage collection; at once with `sync`).
   * @throws NotFoundError when there is no such image.
   */
  async removeImage(reference: string, options?: RemoveImageOptions): Promise<void> {
    return removeImage(this, reference, options)
  }

  /** A container argument as an id: a handle's own, or a name / id / id prefix resolved. */
  private async containerId(container: string | Container, options?: CallOptions): Promise<string> {
    return typeof container === 'string' ? resolveContainerId(this, container, options) : container.id
  }
}
