import type { ClientCore } from '../client/client.js'
import { FailedPreconditionError, NotFoundError } from '../client/errors.js'
import type { CallOptions } from '../client/transport/call-options.js'
import { labelPatch } from '../client/label-patch.js'
import { toDate } from '../client/time.js'
import type { Container as ContainerMessage } from '../gen/containerd/services/containers/v1/containers_pb.js'
import { snapshotMounts } from './snapshot-mounts.js'
import { Task } from '../tasks/task.js'
import { taskIo, type TaskStdio } from '../tasks/task-io.js'

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

/** Options of {@link Container.newTask}. */
export interface NewTaskOptions extends CallOptions {
  /** Where the process's stdio goes. Default `'null'`. */
  stdio?: TaskStdio
}

/** Options of {@link Container.delete}. */
export interface DeleteContainerOptions extends CallOptions {
  /** Also remove the container's rootfs snapshot. Default true. */
  cleanupSnapshot?: boolean
}

/** A handle on a container in the client's namespace. */
export class Container {
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
    return JSON.parse(Buffer.from(record.spec?.value ?? new Uint8Array()).toString('utf8') || '{}') as Record<string, unknown>
  }

  /** Sets labels (merged; a `''` value removes the key) and returns all labels. */
  async setLabels(labels: Record<string, string>, options?: CallOptions): Promise<Record<string, string>> {
    const patch = labelPatch(labels)
    const { container } = await this.client.services.containers.update(
      { container: { id: this.id, labels: patch.labels }, updateMask: { paths: patch.paths } },
      options,
    )
    return { ...(container?.labels ?? {}) }
  }

  /**
   * Creates the container's task (its process, not yet started). Call `task.wait()` before `task.start()`.
   * @throws AlreadyExistsError when the container already has a task.
   */
  async newTask(options: NewTaskOptions = {}): Promise<Task> {
    const record = await this.record(options)
    const io = await taskIo(options.stdio ?? 'null', this.id)
    let created = false
    try {
      const rootfs = await snapshotMounts(this.client, record.snapshotter, record.snapshotKey, options)
      const { pid } = await this.client.services.tasks.create(
        { containerId: this.id, rootfs, stdin: io.stdin, stdout: io.stdout, stderr: io.stderr, terminal: false },
        options,
      )
      created = true
      return new Task(this.client, this.id, pid, await io.attach(), io.close)
    } catch (err) {
      // Undo what was made: the task (if creating it succeeded but attaching failed), then the FIFOs.
      if (created) await this.client.services.tasks.delete({ containerId: this.id }).catch(() => undefined)
      await io.close()
      throw err
    }
  }

  /** Attaches to the container's existing task (without its stdio). */
  async task(options?: CallOptions): Promise<Task> {
    const { process } = await this.client.services.tasks.get({ containerId: this.id }, options)
    return new Task(this.client, this.id, process?.pid ?? 0)
  }

  /**
   * Deletes the container and (by default) its rootfs snapshot.
   * @throws FailedPreconditionError while it has a task: delete the task first.
   */
  async delete(options: DeleteContainerOptions = {}): Promise<void> {
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

  private async record(options?: CallOptions): Promise<ContainerMessage> {
    const { container } = await this.client.services.containers.get({ id: this.id }, options)
    if (container === undefined) throw new NotFoundError(`container ${this.id}: not found`)
    return container
  }
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
