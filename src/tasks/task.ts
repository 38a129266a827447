import type { ClientCore } from '../client/client.js'
import { FailedPreconditionError, NotFoundError } from '../client/errors.js'
import type { CallOptions } from '../client/transport/call-options.js'
import { toDate } from '../client/time.js'
import { Status } from '../gen/containerd/types/task/task_pb.js'
import type { Readable, Writable } from 'node:stream'
import { signalNumber, type SignalInput } from './signals.js'
import type { ProcessStreams } from './task-io.js'
import { createExec, type ExecOptions, type ExecProcess } from './exec-process.js'

/** How a process ended. */
export interface ExitStatus {
  /** The exit code; 128 + n when killed by signal n (as containerd reports it). 255 when unknown. */
  exitCode: number
  /** When it exited. */
  exitedAt: Date | undefined
}

/** A task's state, as containerd reports it. */
export type TaskStatus = 'unknown' | 'created' | 'running' | 'stopped' | 'paused' | 'pausing'

/** Options of {@link Task.kill}. */
export interface KillOptions extends CallOptions {
  /** Signal every process in the container, not only the init process. Default false. */
  all?: boolean
}

/** Options of {@link Task.delete}. */
export interface DeleteTaskOptions extends CallOptions {
  /** Kill the task first (SIGKILL, all processes) if it is still running. Default false. */
  force?: boolean
}

/**
 * The running (or created) process of a container. Call `wait()` before `start()` so a fast exit is not
 * missed; `delete()` after it stopped releases it.
 */
export class Task implements AsyncDisposable {
  /** The container's id. */
  readonly id: string
  /** The init process's pid on the host. */
  readonly pid: number

  /** The process's stdin, when created with `stdio: 'pipe'`. End it (or call `closeStdin`) to send EOF. */
  readonly stdin: Writable | undefined
  /** The process's stdout, when created with `stdio: 'pipe'`. */
  readonly stdout: Readable | undefined
  /** The process's stderr, when created with `stdio: 'pipe'`. */
  readonly stderr: Readable | undefined

  /** @internal */
  constructor(
    private readonly client: ClientCore,
    id: string,
    pid: number,
    streams: ProcessStreams = {},
    private readonly cleanup: () => Promise<void> = async () => undefined,
  ) {
    this.id = id
    this.pid = pid
    this.stdin = streams.stdin
    this.stdout = streams.stdout
    this.stderr = streams.stderr
  }

  /** Closes the process's stdin (our end and the shim's), so it reads EOF. */
  async closeStdin(options?: CallOptions): Promise<void> {
    this.stdin?.end()
    await this.client.services.tasks.closeIO({ containerId: this.id, stdin: true }, options)
  }

  /**
   * Creates another process in the running container (like `docker exec`), inheriting the container's
   * process spec (env, user, cwd) with the options on top. Start it with `start()`, or use `output()`.
   */
  async exec(options: ExecOptions): Promise<ExecProcess> {
    return createExec(this.client, this.id, options)
  }

  /** Starts the process. */
  async start(options?: CallOptions): Promise<void> {
    await this.client.services.tasks.start({ containerId: this.id }, options)
  }

  /**
   * Resolves when the process exits. Safe to call before {@link Task.start}; the call stays open until then.
   */
  async wait(options?: CallOptions): Promise<ExitStatus> {
    const res = await this.client.services.tasks.wait({ containerId: this.id }, options)
    return { exitCode: res.exitStatus, exitedAt: toDate(res.exitedAt) }
  }

  /** Sends a signal (default SIGTERM) to the process, or to every process in the container with `all`. */
  async kill(signal: SignalInput = 'SIGTERM', options: KillOptions = {}): Promise<void> {
    await this.client.services.tasks.kill({ containerId: this.id, signal: signalNumber(signal), all: options.all ?? false }, options)
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
    const state = await this.status(options)
    if (options.force !== true && state !== 'stopped' && state !== 'created' && state !== 'unknown') {
      // Like the Go client: refuse before asking, since containerd reports this as an unclassified error.
      throw new FailedPreconditionError(`task ${this.id} is ${state}: stop it first, or delete with { force: true }`)
    }
    if (options.force === true) {
      if (state !== 'stopped') {
        const exited = this.wait()
        await this.kill('SIGKILL', { ...options, all: true }).catch((err: unknown) => {
          if (!(err instanceof NotFoundError)) throw err
        })
        await exited
      }
    }
    const res = await this.client.services.tasks.delete({ containerId: this.id }, options)
    await this.cleanup()
    return { exitCode: res.exitStatus, exitedAt: toDate(res.exitedAt) }
  }

  /** Force-deletes the task if it still exists: `await using task = await container.newTask()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.delete({ force: true })
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
      await this.cleanup()
    }
  }
}

function statusName(status: Status): TaskStatus {
  switch (status) {
    case Status.CREATED: return 'created'
    case Status.RUNNING: return 'running'
    case Status.STOPPED: return 'stopped'
    case Status.PAUSED: return 'paused'
    case Status.PAUSING: return 'pausing'
    default: return 'unknown'
  }
}
