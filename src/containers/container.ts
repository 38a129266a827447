import type { ClientCore } from '../client/client.js'
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { CALL_OPTION_KEYS, checkOptionKeys, keysOf } from '../client/option-check.js'
import { patchContainerLabels } from './container-labels.js'
import { toDate } from '../client/time.js'
import type { Container as ContainerMessage } from '../gen/containerd/services/containers/v1/containers_pb.js'
import { snapshotMounts } from './snapshot-mounts.js'
import { Task, type TaskStatus } from '../tasks/task.js'
import type { ExecOptions, ExecProcess } from '../tasks/exec-process.js'
import type { KillOptions } from '../tasks/process-handle.js'
import type { SignalInput } from '../tasks/signals.js'
import type { TaskMetrics } from '../tasks/task-metrics.js'
import { Status } from '../gen/containerd/types/task/task_pb.js'
import { reattachIo, taskIo, type TaskStdio } from '../tasks/task-io.js'
import { directOutputAvailable, DirectOutputFailure, isHolderStartFailure, markDirectOutputUnavailable } from '../tasks/output-holder.js'
import { closeProcessStdin } from '../tasks/process-handle.js'
import { getImage } from '../images/get-image.js'
import type { UserDatabase } from '../oci/user-database.js'
import { readUserDatabase } from './image-file.js'
import { decodeRecordSpec } from '../oci/spec-json.js'
import { updateContainer, type UpdateContainerOptions } from './container-update.js'
import { markRestartRunning, markRestartStarting, readRestartState, updateRestartPolicy, type RestartPolicy } from './restart-policy.js'

/** A container record: what containerd stores for a container (no process: see {@link Task}). */
export interface ContainerInfo {
  /** The container's id. */
  id: string
  /** The image it was created from. */
  image: string
  /** Its labels. */
  labels: Record<string, string>
  /** The runtime, e.g. `io.containerd.runc.v2`. */
  runtime: string
  /** The snapshotter holding its rootfs. */
  snapshotter: string
  /** The key of its rootfs snapshot. */
  snapshotKey: string
  /** When it was created. */
  createdAt: Date | undefined
  /** When it last changed. */
  updatedAt: Date | undefined
}

/** Options of {@link ContainerdContainer.newTask}. */
export interface CreateTaskOptions extends CallOptions {
  /** Where the process's stdio goes (see {@link TaskStdio}). Default `'null'`. */
  stdio?: TaskStdio
}

/** Options of {@link ContainerdContainer.task}. */
export interface LoadTaskOptions extends CallOptions {
  /**
   * Reconnect to the task's stdio FIFOs (made by whichever client created the task, even one that has
   * exited since), so `task.stdout`, `task.stderr` and `task.stdin` carry its I/O from here on. Output
   * written while nobody read it waits in the pipe (up to its size; the process blocks on a full pipe).
   * Attach when the first client is gone: two readers of one FIFO split the output between them. Our ends
   * are released (and the FIFO directory removed) when the task is deleted through this handle.
   * Default false.
   */
  attach?: boolean
}

const DELETE_CONTAINER_OPTION_KEYS = keysOf<DeleteContainerOptions>()({ ...CALL_OPTION_KEYS, cleanupSnapshot: true })
const CREATE_TASK_OPTION_KEYS = keysOf<CreateTaskOptions>()({ ...CALL_OPTION_KEYS, stdio: true })
const LOAD_TASK_OPTION_KEYS = keysOf<LoadTaskOptions>()({ ...CALL_OPTION_KEYS, attach: true })

/** Options of {@link ContainerdContainer.delete}. */
export interface DeleteContainerOptions extends CallOptions {
  /** Also remove the container's rootfs snapshot. Default true. */
  cleanupSnapshot?: boolean
}

/**
 * A handle on a container with containerd's semantics only: its record (labels, spec, image, runtime),
 * its rootfs snapshot, its task, and the verbs that act on the task's processes. It never touches
 * nerdctl's metadata (names, state dirs, json logs): the {@link Container} handles that
 * `client.containers` gives add Docker's verbs on top (stop with a grace period, `remove`, `inspect`).
 */
export class ContainerdContainer {
  /** The container's id. */
  readonly id: string

  /** @internal */
  constructor(
    private readonly client: ClientCore,
    id: string,
  ) {
    this.id = id
  }

  /** The container's record, read fresh. */
  async info(options?: CallOptions): Promise<ContainerInfo> {
    return toInfo(await this.record(options))
  }

  /** The container's OCI runtime spec (as stored: JSON). */
  async spec(options?: CallOptions): Promise<Record<string, unknown>> {
    const record = await this.record(options)
    return decodeRecordSpec(record.spec?.value) as Record<string, unknown>
  }

  /** Sets labels (merged; a `''` value removes the key) and returns all labels. */
  async setLabels(labels: Record<string, string>, options?: CallOptions): Promise<Record<string, string>> {
    return patchContainerLabels(this.client, this.id, labels, options)
  }

  /**
   * Updates the given record fields (labels merged or replaced, spec or spec options, image, snapshot
   * key) and returns the record as stored. A new spec applies to the next task.
   * @throws InvalidArgumentError when nothing (or a bad value) is given.
   */
  async update(options: UpdateContainerOptions): Promise<ContainerInfo> {
    return toInfo(await updateContainer(this.client, this.id, options))
  }

  /**
   * Changes the restart policy (like `docker update --restart`); see {@link updateRestartPolicy}.
   * @throws InvalidArgumentError for a malformed policy; NotImplementedError when the daemon's restart
   *   monitor does not support it (containerd 1.6 knows only `always`).
   */
  async updateRestartPolicy(policy: RestartPolicy, options?: CallOptions): Promise<void> {
    await updateRestartPolicy(this.client, this.id, policy, options)
  }

  /**
   * Creates the container's task (its process, not yet started). Call `task.wait()` before `task.start()`.
   * @throws AlreadyExistsError when the container already has a task.
   */
  async newTask(options: CreateTaskOptions = {}): Promise<Task> {
    checkOptionKeys(options, CREATE_TASK_OPTION_KEYS, 'newTask()')
    return this.newTaskOf(await this.record(options), options)
  }

  /**
   * @internal `newTask` on a record the caller just read (a subclass that needs the record first reads
   * it once, not twice: one call less per container lifecycle). Options are checked by the caller.
   */
  protected async newTaskOf(record: ContainerMessage, options: CreateTaskOptions): Promise<Task> {
    const stdio = options.stdio ?? 'null'
    const wantsTerminal = typeof stdio === 'object' && 'terminal' in stdio && (stdio.terminal === true || !('logUri' in stdio))
    if (wantsTerminal !== specTerminal(record)) {
      // runc refuses the mismatch with an obscure console-socket error; say what to change instead.
      throw new InvalidArgumentError(wantsTerminal
        ? `container ${this.id} was not created with tty: true, so its task cannot have a terminal`
        : `container ${this.id} was created with tty: true: its task needs stdio { terminal: true }`)
    }
    // A container with a restart policy leaves the monitor's view while its new task is created (the
    // monitor would kill or replace a `created` task) and comes back under it once the task started.
    const managed = readRestartState(record.labels) !== undefined && (await markRestartStarting(this.client, this.id, options))
    const afterStart = managed ? () => markRestartRunning(this.client, this.id) : undefined
    try {
      return await this.createTask(record, stdio, () => directOutputAvailable(this.client), options, afterStart)
    } catch (err) {
      if (!(err instanceof DirectOutputFailure)) throw err
      // Direct output did not work with this daemon after all: FIFOs from now on.
      markDirectOutputUnavailable(this.client)
      return await this.createTask(record, stdio, undefined, options, afterStart)
    }
  }

  /** Creates the task with the given stdio; whatever fails undoes what was made (task, FIFOs). */
  private async createTask(
    record: ContainerMessage,
    stdio: TaskStdio,
    direct: (() => Promise<boolean>) | undefined,
    options: CreateTaskOptions,
    afterStart: (() => Promise<unknown>) | undefined,
  ): Promise<Task> {
    const io = await taskIo(stdio, this.id, direct)
    let created = false
    try {
      const rootfs = await snapshotMounts(this.client, record.snapshotter, record.snapshotKey, options)
      const { pid } = await this.client.services.tasks.create(
        { containerId: this.id, rootfs, stdin: io.stdin, stdout: io.stdout, stderr: io.stderr, terminal: io.terminal },
        options,
      )
      created = true
      const closeStdin = (): Promise<void> => closeProcessStdin(this.client, this.id, '')
      return new Task(this.client, this.id, pid, await io.attach(closeStdin, { pid, exited: this.waitForExit }), io.close, this.userDatabase(record), afterStart)
    } catch (err) {
      // Undo what was made: the task (if creating it succeeded but attaching failed), then the FIFOs.
      if (created) await this.client.services.tasks.delete({ containerId: this.id }).catch(() => undefined)
      await io.close()
      // With direct output, the shim failing to start the holder, or its pipes not opening here, is the
      // mechanism failing, not the task: the caller retries with FIFOs.
      if (io.direct === true && (created || isHolderStartFailure(err))) throw new DirectOutputFailure(err)
      throw err
    }
  }

  /**
   * A handle on the container's existing task, e.g. from a new client after the one that started it
   * exited; with `attach: true` its stdio streams are reconnected too.
   * @throws NotFoundError when the container has no task.
   */
  async task(options: LoadTaskOptions = {}): Promise<Task> {
    checkOptionKeys(options, LOAD_TASK_OPTION_KEYS, 'task()')
    const record = await this.record(options)
    const { process } = await this.client.services.tasks.get({ containerId: this.id }, options)
    if (options.attach !== true) return new Task(this.client, this.id, process?.pid ?? 0, {}, undefined, this.userDatabase(record))
    const pid = process?.pid ?? 0
    const io = await reattachIo(
      { stdin: process?.stdin ?? '', stdout: process?.stdout ?? '', stderr: process?.stderr ?? '' },
      { pid, exited: this.waitForExit, exitedAlready: process?.status === Status.STOPPED, direct: () => directOutputAvailable(this.client) },
    )
    return new Task(this.client, this.id, process?.pid ?? 0, io.streams, io.close, this.userDatabase(record))
  }

  /**
   * Deletes the container record and (by default) its rootfs snapshot: containerd's delete, nothing
   * more. nerdctl metadata (a name, a state dir with the json log) stays: `Container.remove()` is the
   * Docker-style removal that also takes those.
   * @throws FailedPreconditionError while it has a task: delete the task first.
   */
  async delete(options: DeleteContainerOptions = {}): Promise<void> {
    checkOptionKeys(options, DELETE_CONTAINER_OPTION_KEYS, 'delete()')
    const record = await this.record(options)
    try {
      await this.client.services.tasks.get({ containerId: this.id }, options)
      throw new FailedPreconditionError(`container ${this.id} has a task: delete the task (with force to kill it) before the container`)
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
    }
    await this.client.services.containers.delete({ id: this.id }, options)
    if (options.cleanupSnapshot !== false && record.snapshotKey !== '') {
      await this.client.snapshots(record.snapshotter).remove(record.snapshotKey, options).catch((err: unknown) => {
        if (!(err instanceof NotFoundError)) throw err
      })
    }
  }

  /**
   * Runs another process in the running task (like `docker exec`), created but not started: `output()`
   * starts it, collects its output and waits; or `start()` it and use its streams.
   * @throws NotFoundError when the container has no task; FailedPreconditionError when it is not running.
   */
  async exec(options: ExecOptions): Promise<ExecProcess> {
    return (await this.task(callOptions(options))).exec(options)
  }

  /**
   * Sends a signal to the task's init process (`all: true`: to every process of the task).
   * @throws NotFoundError when the container has no task.
   */
  async kill(signal: SignalInput = 'SIGTERM', options: KillOptions = {}): Promise<void> {
    await (await this.task(callOptions(options))).kill(signal, options)
  }

  /** Freezes every process of the task. @throws NotFoundError when the container has no task. */
  async pause(options?: CallOptions): Promise<void> {
    await (await this.task(options)).pause(options)
  }

  /** Thaws a paused task. @throws NotFoundError when the container has no task. */
  async resume(options?: CallOptions): Promise<void> {
    await (await this.task(options)).resume(options)
  }

  /** The host pids of the task's processes. @throws NotFoundError when the container has no task. */
  async pids(options?: CallOptions): Promise<number[]> {
    return (await this.task(options)).pids(options)
  }

  /** The task's cgroup metrics (cgroup v1 or v2). @throws NotFoundError when the container has no task. */
  async metrics(options?: CallOptions): Promise<TaskMetrics> {
    return (await this.task(options)).metrics(options)
  }

  /** The task's status, or `undefined` when the container has no task. */
  async status(options?: CallOptions): Promise<TaskStatus | undefined> {
    try {
      return await (await this.task(options)).status(options)
    } catch (err) {
      if (err instanceof NotFoundError) return undefined
      throw err
    }
  }

  /**
   * The running task with its stdio reconnected (`task({ attach: true })`): its `stdout`, `stderr` and
   * `stdin` carry the process's I/O from here on. See {@link LoadTaskOptions.attach}.
   * @throws NotFoundError when the container has no task.
   */
  async attach(options?: CallOptions): Promise<Task> {
    return this.task({ ...options, attach: true })
  }

  /** Starts waiting for the task's init process to exit (a Wait call of its own): direct output ends there. */
  private readonly waitForExit = (): Promise<unknown> => this.client.services.tasks.wait({ containerId: this.id })

  /** Reads the container image's /etc/passwd and /etc/group when an exec names a user (not before). */
  private userDatabase(record: ContainerMessage): () => Promise<UserDatabase> {
    return async () => {
      if (record.image === '') return {}
      const { manifest } = await (await getImage(this.client, record.image)).manifest()
      // Mounted from the snapshotter the container's rootfs lives in, where the image is unpacked.
      return readUserDatabase(this.client, manifest, { snapshotter: record.snapshotter !== '' ? record.snapshotter : 'overlayfs' })
    }
  }

  /** @internal The record as containerd stores it. */
  protected async record(options?: CallOptions): Promise<ContainerMessage> {
    const { container } = await this.client.services.containers.get({ id: this.id }, options)
    if (container === undefined) throw new NotFoundError(`container ${this.id}: not found`)
    return container
  }
}

/** Whether the container's stored spec runs its process on a terminal. */
function specTerminal(record: ContainerMessage): boolean {
  return decodeRecordSpec(record.spec?.value).process?.terminal === true
}

/** Converts the wire record into a {@link ContainerInfo}. */
export function toInfo(c: ContainerMessage): ContainerInfo {
  return {
    id: c.id,
    image: c.image,
    labels: { ...c.labels },
    runtime: c.runtime?.name ?? '',
    snapshotter: c.snapshotter,
    snapshotKey: c.snapshotKey,
    createdAt: toDate(c.createdAt),
    updatedAt: toDate(c.updatedAt),
  }
}

/** Only the call options of an options bag (a task lookup must not see exec's or kill's own keys). */
function callOptions(options: CallOptions): CallOptions {
  return { ...(options.signal !== undefined ? { signal: options.signal } : {}), ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) }
}
