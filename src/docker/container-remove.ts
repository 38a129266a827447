import type { ClientCore } from '../client/client.js'
import { FailedPreconditionError, NotFoundError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { CALL_OPTION_KEYS, checkOptionKeys, keysOf } from '../client/option-check.js'
import { Task } from '../tasks/task.js'
import { ContainerdContainer } from '../containers/container.js'
import { markRestartStopping } from '../containers/restart-policy.js'
import { releaseNerdctlMetadata } from '../nerdctl/release-metadata.js'
import { detachContainerNetwork } from '../network/container-network.js'
import { dataStorePath } from '../nerdctl/data-store.js'
import { NerdctlVolumeStore } from '../volumes/volume-store.js'
import { removeAnonymousVolumes } from '../volumes/volume-mounts.js'
import { volumesInUse } from '../volumes/volumes-in-use.js'

/** Options of `container.remove()`. */
export interface RemoveContainerOptions extends CallOptions {
  /** Kill a running (or paused) task first (`docker rm -f`). Default false: a running container is refused. */
  force?: boolean
  /** Remove its anonymous volumes too (`docker rm -v`); one another container uses is kept. Default false. */
  volumes?: boolean
}

const REMOVE_CONTAINER_OPTION_KEYS = keysOf<RemoveContainerOptions>()({ ...CALL_OPTION_KEYS, force: true, volumes: true })

/**
 * Removes a container like `docker rm`: a stopped (or created) task is deleted, a running one only with
 * `force` (SIGKILL first); then the record, its rootfs snapshot, and its nerdctl name and state dir
 * (with the json log).
 * @throws FailedPreconditionError when the task is running and `force` is not set; NotFoundError when
 *   there is no such container.
 */
export async function removeContainer(client: ClientCore, id: string, options: RemoveContainerOptions = {}): Promise<void> {
  checkOptionKeys(options, REMOVE_CONTAINER_OPTION_KEYS, 'remove()')
  const container = new ContainerdContainer(client, id)
  const { labels } = await container.info(options)
  const task = new Task(client, id, 0)
  let status: string | undefined
  try {
    status = await task.status(options)
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
  }
  if (status !== undefined && status !== 'stopped' && status !== 'created' && options.force !== true) {
    throw new FailedPreconditionError(`container ${id} is ${status}: stop it first, or remove it with { force: true }`)
  }
  // Out of the restart monitor's hands (only now that it will go), or it could start a new task
  // between the two deletes.
  const { force: _force, volumes, ...call } = options
  await markRestartStopping(client, id, call)
  if (status !== undefined) await task.delete({ ...call, force: true })
  // Once nothing runs in its namespace, before the record (whose labels say what to detach) goes. The
  // record goes even when the network cannot be detached (the error is thrown after): a record kept for
  // that would keep its name taken, and containers.prune() releases a namespace no record names.
  const detached = await detachContainerNetwork(client, id, labels, true).then(
    () => undefined,
    (err: unknown) => ({ err }),
  )
  await container.delete(call)
  // Last: the record and snapshot are gone even when the name store or state dir cannot be reached.
  await releaseNerdctlMetadata(id, labels)
  if (volumes === true) {
    const dataStore = dataStorePath(client.address, client.dataRoot)
    await removeAnonymousVolumes(new NerdctlVolumeStore(dataStore, client.namespace), labels, { inUse: () => volumesInUse(client, call) })
  }
  if (detached !== undefined) throw detached.err
}
