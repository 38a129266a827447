import { randomBytes } from 'node:crypto'
import type { ClientCore } from '../client/client.js'
import { debuglog } from 'node:util'
import { ContainerdError, FailedPreconditionError, InvalidArgumentError, NotFoundError, type ResourceExhaustedError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { Status } from '../gen/containerd/types/task/task_pb.js'
import { taskIo, type ProcessStreams, type TaskStdio } from './task-io.js'
import { closeProcessStdin, ProcessHandle, type ExitStatus } from './process-handle.js'
import { checkMaxBuffer, OutputCollector } from './bounded-output.js'
import { CallDeadline } from './call-deadline.js'
import { decodeRecordSpec } from '../oci/spec-json.js'
import { mergeEnv, normalizeEnv, type EnvInput } from '../oci/environment.js'
import { CALL_OPTION_KEYS, checkOptionKeys, checkStringArray, keysOf } from '../client/option-check.js'
import type { Process } from '../oci/runtime-spec.js'
import { resolveUser, type UserDatabase } from '../oci/user-database.js'

/** Options of `task.exec()`. */
export interface ExecOptions extends CallOptions {
  /** The command and its arguments. */
  args: string[]
  /** Variables replacing or adding to the container's environment: `{ KEY: 'value' }` or `['KEY=value']`. */
  env?: EnvInput
  /** Working directory. Default: the container's. */
  cwd?: string
  /**
   * Run as this user: `name`, `uid`, `name:group` or `uid:gid`, names resolved from the container image's
   * /etc/passwd and /etc/group (like `docker exec -u`). Default: the container's user.
   */
  user?: string
  /**
   * Run on a pseudo-terminal (like `docker exec -t`): stdout and stderr arrive joined on `stdout`, `resize()`
   * sets its size. Implies `stdio: { terminal: true }` unless stdio says otherwise. Default false.
   */
  tty?: boolean
  /**
   * Where stdio goes. Default: stdout and stderr piped (Readables on the process, which `output()`
   * collects) and stdin empty (the process reads EOF), like `docker exec` without `-i`; with `tty`,
   * `{ terminal: true }`. Read both outputs of a process you `start()` yourself, as with
   * `child_process.spawn`: a process whose pipe is full waits. `'pipe'` adds a writable stdin (end it, or
   * let `output()` close it); `'null'` drops the output.
   */
  stdio?: TaskStdio
  /** The exec id. Default: a random one. */
  execId?: string
}

/** Options of {@link ExecProcess.output}. */
export interface ExecOutputOptions extends CallOptions {
  /**
   * The most bytes kept of stdout, and of stderr (each), like `child_process.execFile`'s option, with its
   * default: 1 MiB (`1024 * 1024`). One byte more and the process is killed (SIGKILL) and deleted, and
   * `output()` rejects with `ResourceExhaustedError` ("stdout exceeded maxBuffer (1048576 bytes)"); memory
   * stays bounded however much it writes. `Infinity` for no limit.
   */
  maxBuffer?: number
}

/** What `output()` collected. */
export interface ExecOutput {
  /** The exit code (128 + n when killed by signal n). */
  exitCode: number
  /** Everything written to stdout (with a terminal: stdout and stderr, as the terminal showed them). */
  stdout: string
  /** Everything written to stderr (`''` with a terminal). */
  stderr: string
}

/** How long cleaning up after a failed `output()` waits for the killed process to exit. */
const KILL_WAIT_MS = 10_000

const debug = debuglog('containerd-sdk:exec')

/**
 * A process exec'd into a running container: `start()` it, or let `output()` start it, collect its
 * output, wait for it and delete it. `await using` kills and deletes it at the end of the scope.
 */
export class ExecProcess extends ProcessHandle implements AsyncDisposable {
  private pidValue = 0
  private startCalled = false
  private disposed: Promise<void> | undefined

  /** @internal */
  constructor(
    client: ClientCore,
    containerId: string,
    execId: string,
    streams: ProcessStreams,
    private readonly cleanup: () => Promise<void>,
    /** The program (`args[0]`), for messages. */
    private readonly program = '',
  ) {
    super(client, containerId, execId, streams)
  }

  /** The process's pid on the host, once started. */
  get pid(): number {
    return this.pidValue
  }

  /**
   * Starts the process.
   * @throws NotFoundError when the program (or the working directory) does not exist in the container.
   */
  async start(options?: CallOptions): Promise<void> {
    this.startCalled = true
    try {
      const { pid } = await this.client.services.tasks.start({ containerId: this.containerId, execId: this.execId }, options)
      this.pidValue = pid
    } catch (err) {
      throw this.missingProgram(err) ?? err
    }
  }

  /**
   * Removes the exited (or never started) process from the task and releases its FIFOs. Output nobody
   * reads is dropped: it is drained first, since the shim waits (10 s) for its copy into a full FIFO.
   */
  async delete(options?: CallOptions): Promise<void> {
    // Only a started process has a shim copy to finish (and an end to the stream to wait for).
    if (this.pidValue !== 0) {
      for (const stream of [this.stdout, this.stderr]) {
        if (stream !== undefined && stream.readableFlowing === null && !stream.destroyed) stream.resume()
      }
    }
    try {
      await this.client.services.tasks.deleteProcess({ containerId: this.containerId, execId: this.execId }, options)
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
    } finally {
      await this.cleanup()
    }
  }

  /**
   * Starts the process, collects stdout and stderr (each up to `maxBuffer`, default 1 MiB), waits for it
   * and deletes it: `{ exitCode, stdout, stderr }` in one call, like `child_process.execFile`. An exec
   * created without `stdio` pipes its output for this (its stdin is empty); with `stdio: 'pipe'` its
   * stdin is closed once it started, so a program reading stdin reads EOF. Like execFile, it resolves
   * once the output streams closed, which a child the process left running can delay.
   *
   * When it fails (abort, timeout, maxBuffer) the process is killed (SIGKILL) and deleted before the
   * promise rejects; processes it started itself are not killed (as with `child_process`), though the
   * shim closes their output pipes when the process is deleted. An abort while the process is being started lets the start finish first (an
   * aborted Start call may still start it in the shim), so the process is never left behind.
   * @throws InvalidArgumentError when the exec's stdio sends its output elsewhere; FailedPreconditionError
   *   when it was started already; NotFoundError when the program does not exist in the container;
   *   ResourceExhaustedError past `maxBuffer`; CanceledError (cause: the signal's reason) on abort;
   *   DeadlineExceededError after `timeoutMs`.
   */
  async output(options: ExecOutputOptions = {}): Promise<ExecOutput> {
    const maxBuffer = checkMaxBuffer(options.maxBuffer)
    if (this.stdout === undefined) {
      throw new InvalidArgumentError(`output() collects stdout and stderr, but exec ${this.execId} sends them elsewhere (its stdio option): create it without stdio, or with stdio 'pipe'`)
    }
    if (this.startCalled) {
      throw new FailedPreconditionError(`output() starts exec ${this.execId}, which was started already: read its stdout and stderr and wait() instead`)
    }
    this.startCalled = true
    const deadline = new CallDeadline(options, `exec ${this.execId} output()`)
    let onOverflow: (err: ResourceExhaustedError) => void = () => undefined
    const overflow = new Promise<never>((_resolve, reject) => { onOverflow = reject })
    overflow.catch(() => undefined)
    const collectors = [
      new OutputCollector(this.stdout, 'stdout', maxBuffer, (err) => onOverflow(err)),
      new OutputCollector(this.stderr, 'stderr', maxBuffer, (err) => onOverflow(err)),
    ] as const
    // Whichever fails the call first: the caller's signal or deadline, or too much output.
    const stop = Promise.race([deadline.fired, overflow])
    stop.catch(() => undefined)
    let exited: Promise<ExitStatus> | undefined
    let started = false
    try {
      if (deadline.error !== undefined) throw deadline.error
      // Waiting from before the start, so a fast exit is not missed. Neither call gets the signal: the
      // deadline is handled here, after which the process is killed and deleted (see above).
      exited = this.wait()
      exited.catch(() => undefined)
      await this.start()
      started = true
      if (deadline.error !== undefined) throw deadline.error
      if (this.stdin !== undefined) await Promise.race([this.closeStdin(), stop])
      const { exitCode } = await Promise.race([exited, stop])
      const [stdout, stderr] = await Promise.race([Promise.all([collectors[0].done, collectors[1].done]), stop])
      const overflowed = collectors.find((c) => c.overflow !== undefined)?.overflow
      if (overflowed !== undefined) throw overflowed
      await this.delete()
      return { exitCode, stdout, stderr }
    } catch (err) {
      await this.abandon(started, exited, collectors)
      throw err
    } finally {
      deadline.dispose()
    }
  }

  /**
   * Kills the process (SIGKILL) if it is running, waits for it to exit, and deletes it:
   * `await using proc = await task.exec({ args })`. Idempotent: a process already deleted is
   * fine, and calls made meanwhile wait for the first.
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
    let status: Status | undefined
    try {
      const { process } = await this.client.services.tasks.get({ containerId: this.containerId, execId: this.execId })
      status = process?.status
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
    }
    if (status === Status.RUNNING || status === Status.PAUSED || status === Status.PAUSING) {
      await this.killAndWait(this.wait())
    }
    await this.delete()
  }

  /** Sends SIGKILL and waits (bounded) for the exit; a process already gone is fine. */
  private async killAndWait(exited: Promise<ExitStatus>): Promise<void> {
    exited.catch(() => undefined)
    try {
      await this.kill('SIGKILL')
    } catch (err) {
      // Already exited (NotFound), or never started (FailedPrecondition): nothing to wait for.
      if (err instanceof NotFoundError || err instanceof FailedPreconditionError) return
      throw err
    }
    let timer: NodeJS.Timeout | undefined
    await Promise.race([exited.catch(() => undefined), new Promise((resolve) => { timer = setTimeout(resolve, KILL_WAIT_MS) })])
    clearTimeout(timer)
  }

  /**
   * After a failed `output()`: kills the process if it started, deletes it, and closes our ends of its
   * output at once (the collectors kept reading until the process was deleted, so the shim's copy could
   * finish). Best effort: the caller throws the error that got us here.
   */
  private async abandon(started: boolean, exited: Promise<ExitStatus> | undefined, collectors: readonly OutputCollector[]): Promise<void> {
    try {
      if (started && exited !== undefined) await this.killAndWait(exited)
      await this.client.services.tasks.deleteProcess({ containerId: this.containerId, execId: this.execId }).catch((err: unknown) => {
        if (!(err instanceof NotFoundError)) throw err
      })
    } catch (err) {
      debug('exec %s: cleaning up after a failed output(): %s', this.execId, String(err))
    } finally {
      for (const c of collectors) c.destroy()
      await this.cleanup()
    }
  }

  /** A Start failure because the program is not there, as a NotFoundError; undefined for anything else. */
  private missingProgram(err: unknown): NotFoundError | undefined {
    if (!(err instanceof ContainerdError) || err.code !== 'Unknown') return undefined
    if (!/no such file or directory|executable file .*not found/i.test(err.message)) return undefined
    const program = this.program !== '' ? `${JSON.stringify(this.program)} ` : ''
    return new NotFoundError(`exec ${this.execId} in container ${this.containerId}: ${program}not found: ${err.message}`, { cause: err })
  }
}

/** The keys of {@link ExecOptions}, for the run-time check. */
const EXEC_OPTION_KEYS = keysOf<ExecOptions>()({ ...CALL_OPTION_KEYS, args: true, env: true, cwd: true, user: true, tty: true, stdio: true, execId: true })

/** Creates an exec process (not started) in a container's running task. */
export async function createExec(
  client: ClientCore,
  containerId: string,
  options: ExecOptions,
  userDatabase: () => Promise<UserDatabase> = async () => ({}),
): Promise<ExecProcess> {
  checkOptionKeys(options, EXEC_OPTION_KEYS, 'exec()')
  checkStringArray(options.args, 'exec() args', "['sh', '-c', 'echo hi']")
  if (!Array.isArray(options.args) || options.args.length === 0) throw new InvalidArgumentError('exec needs a command: args must not be empty')
  const stdio: TaskStdio = options.stdio ?? (options.tty === true ? { terminal: true } : { stdout: 'pipe', stderr: 'pipe' })
  const terminal = typeof stdio === 'object' && 'terminal' in stdio
  if (options.tty === true && !terminal) throw new InvalidArgumentError('exec with tty: true needs stdio { terminal: true } (or no stdio)')
  const execId = options.execId ?? `exec-${randomBytes(6).toString('hex')}`
  const { container } = await client.services.containers.get({ id: containerId }, options)
  const base: Process = decodeRecordSpec(container?.spec?.value).process ?? { cwd: '/', user: { uid: 0, gid: 0 } }
  const env = mergeEnv(base.env ?? [], options.env === undefined ? [] : normalizeEnv(options.env, 'exec() env'))
  const processSpec: Process = { ...base, args: options.args, env, cwd: options.cwd ?? base.cwd, terminal }
  if (options.user !== undefined) {
    const user = resolveUser(options.user, await userDatabase(), 'exec user')
    processSpec.user = { ...base.user, uid: user.uid, gid: user.gid, additionalGids: [...user.additionalGids] }
  }
  const io = await taskIo(stdio, execId)
  let created = false
  try {
    await client.services.tasks.exec({
      containerId,
      execId,
      stdin: io.stdin,
      stdout: io.stdout,
      stderr: io.stderr,
      terminal: io.terminal,
      spec: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify(processSpec)) },
    }, options)
    created = true
    const closeStdin = (): Promise<void> => closeProcessStdin(client, containerId, execId)
    return new ExecProcess(client, containerId, execId, await io.attach(closeStdin), io.close, options.args[0])
  } catch (err) {
    if (created) await client.services.tasks.deleteProcess({ containerId, execId }).catch(() => undefined)
    await io.close()
    throw err
  }
}
