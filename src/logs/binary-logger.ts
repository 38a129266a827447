import { spawn, type ChildProcess } from 'node:child_process'
import type { Socket } from 'node:net'
import type { Writable } from 'node:stream'
import { debuglog } from 'node:util'
import { InvalidArgumentError } from '../grpc/errors.js'
import { canceledError, throwIfAborted } from '../grpc/abort.js'

const debug = debuglog('containerd-sdk:logs')

/** How long a logging program may take to say it is ready (containerd's shim waits without a bound). */
const READY_TIMEOUT_MS = 10_000
/** How long {@link BinaryLogger.close} waits for the program to exit after its input ended, then after SIGTERM. */
const EXIT_TIMEOUT_MS = 5_000
/** The most of the program's stderr kept for an error message. */
const STDERR_KEPT = 4096

/** The command a `binary://` log URI stands for, the way containerd's shim builds it (`NewBinaryCmd`). */
export interface BinaryLoggerCommand {
  /** The program: the URI's path. */
  path: string
  /** Each query pair as two arguments, key then value. */
  args: string[]
}

/**
 * Splits a `binary:///path?k=v` log URI into the program and its arguments, like containerd's shim:
 * the decoded path, then each query key followed by its (first) value.
 * @throws InvalidArgumentError for anything but a `binary://` URI with an absolute path.
 */
export function binaryLoggerCommand(uri: string): BinaryLoggerCommand {
  let parsed: URL
  try {
    parsed = new URL(uri)
  } catch {
    throw new InvalidArgumentError(`log URI ${JSON.stringify(uri)} is not a URI (want binary:///path?key=value)`)
  }
  const path = decodeURIComponent(parsed.pathname)
  if (parsed.protocol !== 'binary:' || parsed.host !== '' || !path.startsWith('/')) {
    throw new InvalidArgumentError(`log URI ${JSON.stringify(uri)}: want binary:///absolute/path (a logging program)`)
  }
  const args: string[] = []
  for (const key of new Set(parsed.searchParams.keys())) args.push(key, parsed.searchParams.get(key) ?? '')
  return { path, args }
}

/** What {@link startBinaryLogger} needs. */
export interface StartBinaryLoggerOptions {
  /** The container's id (`CONTAINER_ID` for the program). */
  id: string
  /** Its namespace (`CONTAINER_NAMESPACE`). */
  namespace: string
  /** Stops waiting for readiness: the program is killed and the call rejects with the reason. */
  signal?: AbortSignal | undefined
}

/** A logging program run by this process, fed what this process copies from a task's output. */
export interface BinaryLogger {
  /** Write the container's stdout here (the program's fd 3). Errors are absorbed: logging never blocks the container. */
  readonly stdout: Writable
  /** Write the container's stderr here (the program's fd 4). */
  readonly stderr: Writable
  /**
   * Ends both inputs and waits until the program exited (it writes out what it holds first); after
   * 5 s it gets SIGTERM, after 5 s more SIGKILL. Idempotent.
   */
  close(): Promise<void>
  /** Kills the program at once (a run that failed). Idempotent. */
  kill(): void
}

/**
 * Starts a `binary://` logging program in this process the way containerd's shim starts it for a
 * task's log URI (fd 3 stdout, fd 4 stderr, fd 5 readiness, `CONTAINER_ID` and `CONTAINER_NAMESPACE`
 * the only environment), and resolves once it wrote its readiness byte. nerdctl does the same for
 * attached runs (its `cioutil.NewContainerIO`): the output is copied both to the user and to the
 * logger, so `nerdctl logs` shows it afterwards. The program runs in a process group of its own, so
 * a Ctrl-C meant for this process does not cut the log short; when this process dies the program
 * reads EOF and finishes.
 * @throws InvalidArgumentError for a URI that is not `binary://`; Error when the program cannot be
 *   started or exits before it is ready (with its stderr).
 */
export async function startBinaryLogger(uri: string, options: StartBinaryLoggerOptions): Promise<BinaryLogger> {
  const { path, args } = binaryLoggerCommand(uri)
  throwIfAborted(options.signal, `starting the logging program ${path}`)
  const child = spawn(path, args, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    env: { CONTAINER_ID: options.id, CONTAINER_NAMESPACE: options.namespace },
    detached: true,
  })
  let stderrText = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderrText.length < STDERR_KEPT) stderrText += chunk.toString('utf8')
    debug('logger %d: %s', child.pid, chunk.toString('utf8').trimEnd())
  })
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const [stdout, stderr, ready] = [3, 4, 5].map((fd) => child.stdio[fd] as Socket) as [Socket, Socket, Socket]
  for (const s of [stdout, stderr, ready]) s.on('error', (err) => debug('logger %d pipe: %s', child.pid, err.message))

  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    for (const s of [stdout, stderr, ready]) s.destroy()
  }
  try {
    await waitReady(child, ready, () => stderrText, path, options.signal)
  } catch (err) {
    kill()
    // Bounded: a program that never got started may not report a close.
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 1_000).unref())])
    throw err
  }
  ready.destroy()
  let closing: Promise<void> | undefined
  return {
    stdout,
    stderr,
    kill,
    close: () => (closing ??= closeLogger(child, stdout, stderr, exited)),
  }
}

/**
 * Resolves on the readiness byte, or when the pipe closes without one and the program still runs a
 * moment later (containerd's shim accepts a closed pipe too; a program that exited is an error).
 */
function waitReady(child: ChildProcess, ready: Socket, stderr: () => string, path: string, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`logging program ${path} did not become ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS)
    const onAbort = (): void => finish(canceledError(signal as AbortSignal, `starting the logging program ${path}`))
    let grace: NodeJS.Timeout | undefined
    const finish = (err?: unknown): void => {
      clearTimeout(timer)
      clearTimeout(grace)
      signal?.removeEventListener('abort', onAbort)
      ready.off('data', onReady).off('end', onEnd)
      child.off('error', onError).off('exit', onExit)
      if (err === undefined) resolve()
      else reject(err instanceof Error ? err : new Error(String(err)))
    }
    const onReady = (): void => finish()
    const onEnd = (): void => {
      grace = setTimeout(onReady, 100)
    }
    const onError = (err: Error): void => finish(new Error(`cannot start logging program ${path}: ${err.message}`, { cause: err }))
    const onExit = (code: number | null, sig: string | null): void => {
      clearTimeout(grace)
      // Let the last of its stderr arrive, so the message says why.
      setTimeout(() => finish(new Error(`logging program ${path} exited (${sig ?? `code ${String(code)}`}) before it was ready${stderr() === '' ? '' : `: ${stderr().trim()}`}`)), 50)
    }
    ready.once('data', onReady).once('end', onEnd)
    child.once('error', onError).once('exit', onExit)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

async function closeLogger(child: ChildProcess, stdout: Socket, stderr: Socket, exited: Promise<void>): Promise<void> {
  stdout.end()
  stderr.end()
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), EXIT_TIMEOUT_MS) })])
    clearTimeout(timer)
    if (!timedOut) return
    debug('logger %d did not exit after its input ended: %s', child.pid, signal)
    child.kill(signal)
  }
  await exited
}
