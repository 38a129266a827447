import type { ClientCore } from '../client/client.js'
import type { CallOptions } from '../grpc/call-options.js'
import { CALL_OPTION_KEYS, checkOptionKeys, keysOf } from '../client/option-check.js'
import { createContainer, type CreateContainerOptions } from '../containers/create-container.js'
import { restartSupport, type RestartSupport } from '../containers/restart-policy.js'
import { resolveContainerId } from '../nerdctl/container-lookup.js'
import { dataStorePath } from '../nerdctl/data-store.js'
import { releaseStaleReservations, STALE_RESERVATION_MS } from '../nerdctl/name-owner.js'
import { killOrphanShims } from '../containers/orphan-shims.js'
import { releaseOrphanNetworks } from '../network/container-network.js'
import { NerdctlLabel } from '../nerdctl/labels.js'
import { readRestartState } from '../containers/restart-policy.js'
import { NotFoundError } from '../grpc/errors.js'
import { Task } from '../tasks/task.js'
import { isOwnerDead, OWNER_LABEL } from '../util/process-owner.js'
import { removeContainer } from './container-remove.js'
import { listContainerRows, type ContainerRow, type ListContainerRowsOptions } from './container-rows.js'
import { Container } from './container.js'

/** Options of {@link ContainerStore.list}. */
export interface ListContainersOptions extends CallOptions {
  /** containerd filters, e.g. `labels."app"==web`, `image==docker.io/library/busybox:latest`; any one may match. */
  filters?: string[]
}

const LIST_CONTAINERS_OPTION_KEYS = keysOf<ListContainersOptions>()({ ...CALL_OPTION_KEYS, filters: true })

/**
 * The containers of the client's namespace (`client.containers`): create one from an image, get one by
 * id or name, list them as handles, or as `docker ps` rows. Running an image in one step is the
 * client's headline verb, `client.run`.
 */
export class ContainerStore {
  /** @internal */
  constructor(private readonly client: ClientCore) {}

  /**
   * Creates a container from an unpacked image (a new rootfs snapshot, an OCI spec from the image config
   * and the options, the record), all or nothing: containerd's create, with no nerdctl name or state
   * dir (`client.run` makes those). Then `container.newTask()` runs it.
   * @throws AlreadyExistsError when the id is taken; NotFoundError for a missing or not unpacked image.
   */
  async create(id: string, options: CreateContainerOptions): Promise<Container> {
    await this.client.guardNamespace(() => createContainer(this.client, id, options))
    return new Container(this.client, id)
  }

  /**
   * A handle on an existing container, by id, name (nerdctl's `nerdctl/name` label, so nerdctl's
   * containers are found too) or unique id prefix.
   * @throws NotFoundError when nothing matches; InvalidArgumentError for an ambiguous name or prefix.
   */
  async get(reference: string, options?: CallOptions): Promise<Container> {
    return new Container(this.client, await resolveContainerId(this.client, reference, options))
  }

  /** Handles on the namespace's containers, optionally filtered. */
  async list(options: ListContainersOptions = {}): Promise<Container[]> {
    checkOptionKeys(options, LIST_CONTAINERS_OPTION_KEYS, 'containers.list()')
    const { containers } = await this.client.services.containers.list({ filters: options.filters ?? [] }, options)
    return containers.map((c) => new Container(this.client, c.id))
  }

  /** `docker ps` rows of the namespace's containers: running ones, or all with `all: true`; newest first. */
  async ps(options?: ListContainerRowsOptions): Promise<ContainerRow[]> {
    return listContainerRows(this.client, options)
  }

  /**
   * Removes stopped containers, like `docker container prune`, and returns their ids. A container is
   * stopped when its task exited or it has none; kept are those the restart monitor keeps running, and
   * those a live process is still making (no task yet, made by a `run()` whose process is alive). Also
   * removed, even while running: attached `rm` runs whose process died (the `containerd-sdk/owner`
   * label names a process that is gone or whose pid was reused), which nobody else would ever remove.
   * Each is removed as by `remove({ force: true })`: task, record, snapshot, name and state dir. Last,
   * names a killed run reserved without ever creating its container (held for over a minute by an id
   * containerd does not know) are freed with their state dirs, network namespaces such a run attached
   * (addresses, port rules) are detached, and shims a crashed containerd lost (running for a container it
   * no longer knows, over a minute old) are killed with the processes below them; their ids are not in the
   * result.
   */
  async prune(options: CallOptions = {}): Promise<string[]> {
    checkOptionKeys(options, CALL_OPTION_KEYS, 'containers.prune()')
    const { containers } = await this.client.services.containers.list({ filters: [] }, options)
    const removed: string[] = []
    for (const record of containers) {
      const labels = record.labels
      const owner = labels[OWNER_LABEL]
      const ownerDead = owner !== undefined && isOwnerDead(owner)
      let status: string | undefined
      try {
        status = await new Task(this.client, record.id, 0).status(options)
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err
      }
      const stopped = status === undefined || status === 'stopped' || status === 'created'
      const orphanedRm = ownerDead && labels[NerdctlLabel.autoRemove] === 'true'
      if (!stopped && !orphanedRm) continue
      if (!orphanedRm && readRestartState(labels)?.status === 'running') continue
      if (!orphanedRm && status === undefined && owner !== undefined && !ownerDead) continue
      try {
        await removeContainer(this.client, record.id, { ...options, force: true })
        removed.push(record.id)
      } catch (err) {
        // Removed by someone else meanwhile.
        if (!(err instanceof NotFoundError)) throw err
      }
    }
    await releaseStaleReservations(this.client, dataStorePath(this.client.address, this.client.dataRoot), options)
    // Network namespaces a killed run attached before its record existed (it attaches during the create).
    await releaseOrphanNetworks(this.client, STALE_RESERVATION_MS, options)
    // Shims a crashed containerd lost track of (their containers are gone): with their processes.
    const known = new Set((await this.client.services.containers.list({ filters: [] }, options)).containers.map((c) => c.id))
    await killOrphanShims(this.client, known, STALE_RESERVATION_MS / 1000)
    return removed
  }

  /** Which restart policies the daemon's restart monitor supports (containerd 1.6: only `always`). */
  async restartSupport(options?: CallOptions): Promise<RestartSupport> {
    return restartSupport(this.client, options)
  }
}
