import type { ClientCore } from '../client/client.js'
import { FailedPreconditionError, NotFoundError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { toDate } from '../client/time.js'
import { ProcessHandle, type ExitStatus } from './process-handle.js'
import { Status } from '../gen/containerd/types/task/task_pb.js'
import type { ProcessStreams } from './task-io.js'
import type { UserDatabase } from '../oci/user-database.js'
import { removeFifoDir } from './fifo-set.js'
import { createExec, type ExecOptions, type ExecProcess } from './exec-process.js'
import { readTaskMetrics, type TaskMetrics } from './task-metrics.js'
import { updateTask, type UpdateTaskOptions } from './task-update.js'

/** A task's state, as containerd reports it. */
export type TaskStatus = 'unknown' | 'created' | 'running' | 'stopped' | 'paused' | 'pausing'

/** Options of {@link Task.delete}. */
export interface DeleteTaskOptions extends CallOptions {
  /** Kill the task first (SIGKILL, all processes) if it is still running. Default false. */
  force?: boolean
}

/**
 * The running (or created) process of a container. Call `wait()` before `start()` so a fast exit is not
 * missed; `delete()` after it stopped releases it.
 */
export class Task extends ProcessHandle implements AsyncDisposable {
  /** The init process's pid on the host. */
  readonly pid: number
  private disposed: Promise<void> | undefined

  /** @internal */
  constructor(
    client: ClientCore,
    id: string,
    pid: number,
    streams: ProcessStreams = {},
    private readonly cleanup?: () => Promise<void>,
    private readonly userDatabase: () => Promise<UserDatabase> = async () => ({}),
    private readonly afterStart?: () => Promise<unknown>,
  ) {
    super(client, id, '', streams)
    this.pid = pid
  }

  /** The container's id (the task has no id of its own). */
  get id(): string {
    return this.containerId
  }

  /**
   * Creates another process in the running container (like `docker exec`), inheriting the container's
   * process spec (env, user, cwd) with the options on top. Its stdout and stderr are piped unless `stdio`
   * says otherwise (see {@link ExecOptions.stdio}). Start it with `start()`, or let `output()` start it,
   * collect its output and delete it: `const { exitCode, stdout } = await (await task.exec({ args })).output()`.
   */
  async exec(options: ExecOptions): Promise<ExecProcess> {
    return createExec(this.client, this.id, options, this.userDatabase)
  }

  /** Starts the process. */
  async start(options?: CallOptions): Promise<void> {
    await this.client.services.tasks.start({ containerId: this.id }, options)
    await this.afterStart?.()
  }

  /** The task's current state. */
  async status(options?: CallOptions): Promise<TaskStatus> {
    const { process } = await this.client.services.tasks.get({ containerId: this.id }, options)
    return statusName(process?.status ?? Status.UNKNOWN)
  }

  /** The pids of every process in the container. */
  async pids(options?: CallOptions): Promise<number[]> {
    const { processes } = await this.client.services.tasks.listPids({ containerId: this.id }, options)
    return processes.map((p) => p.pid)
  }

  /**
   * The task's cgroup statistics (CPU, memory, pids, block I/O), decoded for cgroup v1 and v2.
   * @throws NotFoundError when the task is gone.
   */
  async metrics(options?: CallOptions): Promise<TaskMetrics> {
    return readTaskMetrics(this.client, this.id, options)
  }

  /**
   * Changes the running task's cgroup limits, like `docker update` (`{ resources: { memory: '128m' } }`).
   * The container's stored spec is not changed: use `container.update({ spec })` for the next task.
   * @throws InvalidArgumentError for a bad value (before anything is sent).
   */
  async update(options: UpdateTaskOptions): Promise<void> {
    await updateTask(this.client, this.id, options)
  }

  /** Pauses every process (cgroup freezer). */
  async pause(options?: CallOptions): Promise<void> {
    await this.client.services.tasks.pause({ containerId: this.id }, options)
  }

  /** Resumes a paused task. */
  async resume(options?: CallOptions): Promise<void> {
    await this.client.services.tasks.resume({ containerId: this.id }, options)
  }

  /**
   * Deletes the task and returns how it exited.
   * @throws FailedPreconditionError when it is still running (unless `force`).
   */
  async delete(options: DeleteTaskOptions = {}): Promise<ExitStatus> {
    // A task this handle saw exit is stopped, when this handle made its stdio (the cleanup is ours) and no
    // restart policy could have put a new task in its place (`afterStart` is set for those): no need to
    // ask for its state, one call less per container lifecycle (the Go client's Delete asks).
    const known = this.exitSeen && this.cleanup !== undefined && this.afterStart === undefined
    const { process: info } = known ? { process: undefined } : await this.client.services.tasks.get({ containerId: this.id }, options)
    const state = known ? 'stopped' : statusName(info?.status ?? Status.UNKNOWN)
    if (options.force !== true && state !== 'stopped' && state !== 'created' && state !== 'unknown') {
      // Like the Go client: refuse before asking, since containerd reports this as an unclassified error.
      throw new FailedPreconditionError(`task ${this.id} is ${state}: stop it first, or delete with { force: true }`)
    }
    if (options.force === true) {
      if (state !== 'stopped') {
        const exited = this.wait()
        exited.catch(() => undefined) // awaited below; a failing kill must not leave it unhandled
        await this.kill('SIGKILL', { ...options, all: true }).catch((err: unknown) => {
          if (!(err instanceof NotFoundError)) throw err
        })
        await exited
      }
    }
    const res = await this.client.services.tasks.delete({ containerId: this.id }, options)
    await this.releaseIo(info)
    return { exitCode: res.exitStatus, exitedAt: toDate(res.exitedAt) }
  }

  /**
   * Releases the task's FIFOs: ours when this handle made them, else the FIFO directory containerd
   * reports for the task (made by another handle or client), so a task deleted through any handle
   * leaves nothing in the FIFO root.
   */
  private async releaseIo(info: { stdin: string; stdout: string; stderr: string } | undefined): Promise<void> {
    if (this.cleanup !== undefined) return this.cleanup()
    if (info !== undefined) await removeFifoDir([info.stdin, info.stdout, info.stderr])
  }

  /**
   * Deletes the task, killing its processes first (SIGKILL) if it runs: `delete({ force: true })`, for
   * `await using task = await container.newTask()`. The container stays. Idempotent: a task already
   * deleted (through any handle) is fine, and calls made meanwhile wait for the first.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    // A failed attempt (daemon unreachable) is not remembered: the next call tries again.
    this.disposed ??= this.dispose().catch((err: unknown) => {
      this.disposed = undefined
      throw err
    })
    return this.disposed
  }

  private async dispose(): Promise<void> {
    try {
      await this.delete({ force: true })
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
      await this.cleanup?.()
    }
  }
}

/** containerd's task status enum as a {@link TaskStatus} name. */
export function statusName(status: Status): TaskStatus {
  switch (status) {
    case Status.CREATED: return 'created'
    case Status.RUNNING: return 'running'
    case Status.STOPPED: return 'stopped'
    case Status.PAUSED: return 'paused'
    case Status.PAUSING: return 'pausing'
    default: return 'unknown'
  }
}
