import type { Readable, Writable } from 'node:stream'
import type { ClientCore } from '../client/client.js'
import { InvalidArgumentError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { toDate } from '../client/time.js'
import { signalNumber, type SignalInput } from './signals.js'
import type { ProcessStreams } from './task-io.js'

/** How long `closeStdin` waits for written input to reach the FIFO before closing it regardless. */
const STDIN_FLUSH_MS = 5_000

/** Closes a process's stdin on the shim's side (CloseIO), so it reads EOF. */
export async function closeProcessStdin(client: ClientCore, containerId: string, execId: string, options?: CallOptions): Promise<void> {
  await client.services.tasks.closeIO({ containerId, execId, stdin: true }, options)
}

/** How a process ended. */
export interface ExitStatus {
  /** The exit code; 128 + n when killed by signal n (as containerd reports it). 255 when unknown. */
  exitCode: number
  /** When it exited. */
  exitedAt: Date | undefined
}

/** Options of `kill()`. */
export interface KillOptions extends CallOptions {
  /** Signal every process in the container, not only this one (a task's init process only). Default false. */
  all?: boolean
}

/**
 * What a task's init process and an exec'd process have in common: containerd addresses both by
 * container id plus exec id (`''` for the init process).
 */
export abstract class ProcessHandle {
  /** The process's stdin, with `stdio: 'pipe'` or a terminal (or attached). Call `closeStdin` to send EOF. */
  readonly stdin: Writable | undefined
  /** The process's stdout, with `stdio: 'pipe'` or a terminal (where it carries stderr too), or attached. */
  readonly stdout: Readable | undefined
  /** The process's stderr, with `stdio: 'pipe'` (or attached). */
  readonly stderr: Readable | undefined

  /** @internal */
  protected constructor(
    /** @internal The connection the process's calls go through. */
    protected readonly client: ClientCore,
    /** The container's id. */
    readonly containerId: string,
    /** The exec id; `''` for a task's init process. */
    readonly execId: string,
    streams: ProcessStreams,
  ) {
    this.stdin = streams.stdin
    this.stdout = streams.stdout
    this.stderr = streams.stderr
  }

  /** @internal True once a `wait()` of this handle saw the process exit (an exited process stays stopped). */
  protected exitSeen = false

  /** Resolves when the process exits. Safe to call before `start()`: the call stays open until then. */
  async wait(options?: CallOptions): Promise<ExitStatus> {
    const res = await this.client.services.tasks.wait({ containerId: this.containerId, execId: this.execId }, options)
    this.exitSeen = true
    return { exitCode: res.exitStatus, exitedAt: toDate(res.exitedAt) }
  }

  /** Sends a signal (default SIGTERM); `all` signals every process in the container. */
  async kill(signal: SignalInput = 'SIGTERM', options: KillOptions = {}): Promise<void> {
    await this.client.services.tasks.kill(
      { containerId: this.containerId, execId: this.execId, signal: signalNumber(signal), all: options.all ?? false },
      options,
    )
  }

  /**
   * Sets the size of the process's terminal (created with `stdio: { terminal: true }`), like a terminal
   * window resize: the process gets SIGWINCH.
   * @throws InvalidArgumentError for sizes that are not positive integers up to 65535.
   */
  async resize(columns: number, rows: number, options?: CallOptions): Promise<void> {
    for (const [name, value] of [['columns', columns], ['rows', rows]] as const) {
      if (!Number.isInteger(value) || value < 1 || value > 0xffff) {
        throw new InvalidArgumentError(`terminal ${name} must be an integer from 1 to 65535, got ${String(value)}`)
      }
    }
    await this.client.services.tasks.resizePty({ containerId: this.containerId, execId: this.execId, width: columns, height: rows }, options)
  }

  /** Closes the process's stdin (our end and the shim's), so it reads EOF. */
  async closeStdin(options?: CallOptions): Promise<void> {
    // Flush what was written into the FIFO first: closing the process's stdin drops anything not yet
    // there. Bounded: a process that stopped reading would keep the flush waiting forever.
    const stdin = this.stdin
    if (stdin !== undefined && !stdin.writableFinished && !stdin.destroyed) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        new Promise<void>((resolve) => stdin.end(() => resolve())),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, STDIN_FLUSH_MS) }),
      ])
      clearTimeout(timer)
    }
    await closeProcessStdin(this.client, this.containerId, this.execId, options)
  }
}
