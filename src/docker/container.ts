import type { ClientCore } from '../client/client.js'
import { NotFoundError } from '../grpc/errors.js'
import { CALL_OPTION_KEYS, checkOptionKeys, keysOf } from '../client/option-check.js'
import type { CallOptions } from '../grpc/call-options.js'
import { ContainerdContainer, type CreateTaskOptions } from '../containers/container.js'
import type { Task } from '../tasks/task.js'
import type { TaskStdio } from '../tasks/task-io.js'
import type { ExitStatus } from '../tasks/process-handle.js'
import { readPortsLabel, type PortMapping } from '../nerdctl/labels.js'
import { reattachContainerNetwork } from '../network/container-network.js'
import { jsonFileStdio, type JsonFileStdio } from './json-file-stdio.js'
import { stopContainer, type StopContainerOptions } from './container-stop.js'
import { removeContainer, type RemoveContainerOptions } from './container-remove.js'
import { inspectContainer, type ContainerInspect } from './container-inspect.js'

/** Options of {@link Container.newTask}. */
export interface NewTaskOptions extends CallOptions {
  /**
   * Where the process's stdio goes (see {@link TaskStdio}), or the json-file logger ({@link JsonFileStdio}:
   * nerdctl's log format and place, read back with `client.logs`). Default `'null'`.
   */
  stdio?: TaskStdio | JsonFileStdio
}

/** The keys of {@link NewTaskOptions}, for the run-time check. */
const NEW_TASK_OPTION_KEYS = keysOf<NewTaskOptions>()({ ...CALL_OPTION_KEYS, stdio: true })

/**
 * A container in the client's namespace, as `client.containers` and `client.run` give it: containerd's
 * verbs (record, spec, labels, task, exec, kill, pause, …, and `delete`, which removes the record and
 * snapshot only) plus Docker's: `stop` with a grace period, `remove` (task, record, snapshot, nerdctl
 * name, state dir and json log), `inspect` (Docker's JSON) and `ports`.
 *
 * `await using` a container removes it when the scope ends (`remove({ force: true })`): use it for
 * containers you create for a while, not on a handle of one you mean to keep.
 */
export class Container extends ContainerdContainer implements AsyncDisposable {
  /** @internal */
  constructor(
    private readonly owner: ClientCore,
    id: string,
  ) {
    super(owner, id)
  }

  /**
   * Creates the container's task (its process, not yet started); with `stdio: { jsonFile }` its output
   * goes to the json-file log. Call `task.wait()` before `task.start()`.
   * @throws AlreadyExistsError when the container already has a task.
   */
  override async newTask(options: NewTaskOptions = {}): Promise<Task> {
    checkOptionKeys(options, NEW_TASK_OPTION_KEYS, 'newTask()')
    const { stdio, ...rest } = options
    // The record is read once, for the labels here and for the task (newTaskOf).
    const record = await this.record(rest)
    const labels = record.labels
    // stop() took it off its networks: back on them before its process starts.
    await reattachContainerNetwork(this.owner, this.id, labels, rest.signal)
    if (stdio === undefined || typeof stdio !== 'object' || !('jsonFile' in stdio)) {
      return this.newTaskOf(record, options as CreateTaskOptions)
    }
    return this.newTaskOf(record, { ...rest, stdio: await jsonFileStdio(this.owner, this.id, labels, stdio, rest) })
  }

  /**
   * Stops the container's task like `docker stop` (stop signal, grace period, SIGKILL), recording the stop
   * so a restart policy does not bring it back (the stop signal comes from the image, or the
   * `stopSignal` option; the grace period from `timeout`, the container's `nerdctl/stop-timeout` label,
   * else 10 s). A paused task is thawed so it can act on the signal. Resolves with how it exited,
   * or undefined when it has no task.
   * @throws NotFoundError when the container does not exist.
   */
  async stop(options?: StopContainerOptions): Promise<ExitStatus | undefined> {
    return stopContainer(this.owner, this.id, options)
  }

  /**
   * Removes the container like `docker rm`: its task (a running one only with `force`, killed first),
   * the record, its rootfs snapshot, and its nerdctl name reservation and state dir with the json log.
   * For containerd's delete alone (record and snapshot) use {@link ContainerdContainer.delete}.
   * @throws FailedPreconditionError when it is running and `force` is not set.
   * @throws NotFoundError when it does not exist.
   */
  async remove(options?: RemoveContainerOptions): Promise<void> {
    await removeContainer(this.owner, this.id, options)
  }

  /** Docker-compatible `inspect` JSON of the container. @throws NotFoundError when it does not exist. */
  async inspect(options?: CallOptions): Promise<ContainerInspect> {
    return inspectContainer(this.owner, this.id, options)
  }

  /** The ports published for the container (from its nerdctl labels); empty when none. */
  async ports(options?: CallOptions): Promise<PortMapping[]> {
    return readPortsLabel((await this.info(options)).labels)
  }

  /** Removes the container with everything it has (`remove({ force: true })`); nothing when it is already gone. Idempotent. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.remove({ force: true }).catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err
    })
  }
}
