import { randomBytes } from 'node:crypto'
import type { ClientCore } from '../client/client.js'
import { InvalidArgumentError, NotFoundError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { taskIo, type ProcessStreams, type TaskStdio } from './task-io.js'
import { closeProcessStdin, ProcessHandle } from './process-handle.js'
import { readText } from './read-text.js'
import { decodeRecordSpec } from '../oci/spec-json.js'
import { mergeEnv } from '../oci/environment.js'
import type { Process } from '../oci/runtime-spec.js'
import { resolveUser, type UserDatabase } from '../oci/user-database.js'

/** Options of `task.exec()`. */
export interface ExecOptions extends CallOptions {
  /** The command and its arguments. */
  args: string[]
  /** `KEY=value` entries replacing or adding to the container's environment. */
  env?: string[]
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
  /** Where stdio goes. Default `'null'` (`{ terminal: true }` with `tty`); `output()` pipes it. */
  stdio?: TaskStdio
  /** The exec id. Default: a random one. */
  execId?: string
}

/** What `output()` collected. */
export interface ExecOutput {
  /** The exit code (128 + n when killed by signal n). */
  exitCode: number
  /** Everything written to stdout. */
  stdout: string
  /** Everything written to stderr. */
  stderr: string
}

/** A process exec'd into a running container. */
export class ExecProcess extends ProcessHandle {
  private pidValue = 0

  /** @internal */
  constructor(
    client: ClientCore,
    containerId: string,
    execId: string,
    streams: ProcessStreams,
    private readonly cleanup: () => Promise<void>,
  ) {
    super(client, containerId, execId, streams)
  }

  /** The process's pid on the host, once started. */
  get pid(): number {
    return this.pidValue
  }

  /** Starts the process. */
  async start(options?: CallOptions): Promise<void> {
    const { pid } = await this.client.services.tasks.start({ containerId: this.containerId, execId: this.execId }, options)
    this.pidValue = pid
  }

  /** Removes the exited process from the task and releases its FIFOs. */
  async delete(options?: CallOptions): Promise<void> {
    try {
      await this.client.services.tasks.deleteProcess({ containerId: this.containerId, execId: this.execId }, options)
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
    } finally {
      await this.cleanup()
    }
  }

  /**
   * Starts the process, collects stdout and stderr, waits for it and deletes it: `{ exitCode, stdout,
   * stderr }` in one call. The exec must have been created with `stdio: 'pipe'`.
   */
  async output(options?: CallOptions): Promise<ExecOutput> {
    if (this.stdout === undefined || this.stderr === undefined) {
      throw new InvalidArgumentError('output() needs an exec created with stdio: \'pipe\'')
    }
    const exited = this.wait(options)
    const out = readText(this.stdout)
    const err = readText(this.stderr)
    try {
      await this.start(options)
      // An exec with no stdin to give must see EOF, or a process reading stdin would wait forever.
      if (this.stdin !== undefined) await this.closeStdin(options)
      const { exitCode } = await exited
      return { exitCode, stdout: await out, stderr: await err }
    } finally {
      await this.delete()
    }
  }
}

/** Creates an exec process (not started) in a container's running task. */
export async function createExec(
  client: ClientCore,
  containerId: string,
  options: ExecOptions,
  userDatabase: () => Promise<UserDatabase> = async () => ({}),
): Promise<ExecProcess> {
  if (!Array.isArray(options.args) || options.args.length === 0) throw new InvalidArgumentError('exec needs a command: args must not be empty')
  const stdio = options.stdio ?? (options.tty === true ? { terminal: true as const } : 'null')
  const terminal = typeof stdio === 'object' && 'terminal' in stdio
  if (options.tty === true && !terminal) throw new InvalidArgumentError('exec with tty: true needs stdio { terminal: true } (or no stdio)')
  const execId = options.execId ?? `exec-${randomBytes(6).toString('hex')}`
  const { container } = await client.services.containers.get({ id: containerId }, options)
  const base: Process = decodeRecordSpec(container?.spec?.value).process ?? { cwd: '/', user: { uid: 0, gid: 0 } }
  const env = mergeEnv(base.env ?? [], options.env ?? [])
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
    return new ExecProcess(client, containerId, execId, await io.attach(closeStdin), io.close)
  } catch (err) {
    if (created) await client.services.tasks.deleteProcess({ containerId, execId }).catch(() => undefined)
    await io.close()
    throw err
  }
}
