import type { ClientCore } from '../client/client.js'
import { detachContainerNetwork } from '../network/container-network.js'
import { InvalidArgumentError, NotFoundError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { CALL_OPTION_KEYS, checkOptionKeys, keysOf } from '../client/option-check.js'
import type { ExitStatus } from '../tasks/process-handle.js'
import { signalNumber, type SignalInput } from '../tasks/signals.js'
import { Task } from '../tasks/task.js'
import { markRestartRunning, markRestartStopped, markRestartStopping } from '../containers/restart-policy.js'
import { STOP_SIGNAL_LABEL } from '../containers/container-labels.js'


/** The label nerdctl keeps `--stop-timeout` (seconds) in. */
export const STOP_TIMEOUT_LABEL = 'nerdctl/stop-timeout'

/** Docker's grace period before SIGKILL. */
export const DEFAULT_STOP_TIMEOUT_SECONDS = 10

/** The longest grace period a timer can wait (2^31 - 1 ms); longer ones would fire at once. */
const MAX_STOP_TIMEOUT_SECONDS = Math.floor(0x7fffffff / 1000)

/** Options of `container.stop()`. */
export interface StopContainerOptions extends CallOptions {
  /**
   * Seconds to wait after the stop signal before SIGKILL (`docker stop -t`); 0 kills at once.
   * Default: the container's `nerdctl/stop-timeout` label, else 10.
   */
  timeout?: number
  /** The first signal. Default: the image's StopSignal (kept in a label at create), else SIGTERM. */
  stopSignal?: SignalInput
}

/** The keys of {@link StopContainerOptions}, for the run-time check. */
const STOP_CONTAINER_OPTION_KEYS = keysOf<StopContainerOptions>()({ ...CALL_OPTION_KEYS, timeout: true, stopSignal: true })

/**
 * Stops a container's task like `docker stop`: records the stop for the restart monitor first (so an
 * `always` container stays down), sends the stop signal to the init process, waits the grace period,
 * then SIGKILLs every process. Returns how the task exited (128 + signal when a signal ended it); the
 * stopped task is kept, so its exit status can still be read, until it is deleted (for a container
 * with a restart policy the monitor deletes it at its next check). A container with no running task is
 * left as it is (its exit status, if any, returned). If the stop fails (aborted, daemon gone) while the
 * task still runs, a restart-managed container is handed back to the monitor.
 * @throws NotFoundError when there is no such container; InvalidArgumentError for a bad timeout.
 */
export async function stopContainer(client: ClientCore, id: string, options: StopContainerOptions = {}): Promise<ExitStatus | undefined> {
  checkOptionKeys(options, STOP_CONTAINER_OPTION_KEYS, 'stop()')
  const { container } = await client.services.containers.get({ id }, options)
  const labels = container?.labels ?? {}
  const timeoutSeconds = options.timeout ?? labelSeconds(labels[STOP_TIMEOUT_LABEL]) ?? DEFAULT_STOP_TIMEOUT_SECONDS
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0 || timeoutSeconds > MAX_STOP_TIMEOUT_SECONDS) {
    throw new InvalidArgumentError(`stop timeout must be a number of seconds from 0 to ${MAX_STOP_TIMEOUT_SECONDS}, got ${String(timeoutSeconds)}`)
  }
  const signal = signalNumber(options.stopSignal ?? labels[STOP_SIGNAL_LABEL] ?? 'SIGTERM')
  // Two steps for the restart monitor: while the task winds down it must neither restart it nor (as it
  // does to a running task under status `stopped`) SIGKILL it before the grace period is over.
  const managed = await markRestartStopping(client, id, options)
  const task = new Task(client, id, 0)
  let exit: ExitStatus | undefined
  try {
    exit = await stopTask(task, signal, timeoutSeconds, options)
  } catch (err) {
    // Not stopped after all: a task still running goes back under the monitor's watch.
    if (managed && (await task.status().catch(() => 'unknown')) === 'running') await markRestartRunning(client, id).catch(() => undefined)
    throw err
  }
  await markRestartStopped(client, id, options)
  // Docker's stop takes the container off its networks (addresses, published ports); a new task attaches
  // it again (Container.newTask).
  await detachContainerNetwork(client, id, labels, false)
  return exit
}

async function stopTask(task: Task, signal: number, timeoutSeconds: number, options: CallOptions): Promise<ExitStatus | undefined> {
  let status: string
  try {
    status = await task.status(options)
  } catch (err) {
    if (err instanceof NotFoundError) return undefined
    throw err
  }
  if (status === 'stopped' || status === 'created') {
    // A created task never ran: kill it so it does not start later by surprise; a stopped one has exited.
    if (status === 'created') await ignoreGone(task.kill('SIGKILL', { ...options, all: true }))
    return task.wait(options)
  }
  const exited = task.wait(options)
  exited.catch(() => undefined) // observed below; a failing kill must not leave it unhandled
  await ignoreGone(task.kill(signal, options))
  // A paused task cannot act on the signal until it is thawed.
  if (status === 'paused' || status === 'pausing') await ignoreGone(task.resume(options))
  const graceful = await withTimeout(exited, timeoutSeconds * 1000)
  if (graceful !== undefined) return graceful
  await ignoreGone(task.kill('SIGKILL', { ...options, all: true }))
  return exited
}

function labelSeconds(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  return Number.isFinite(n) && n >= 0 ? n : undefined
}

async function ignoreGone(call: Promise<void>): Promise<void> {
  try {
    await call
  } catch (err) {
    // The process may exit between the status read and the kill.
    if (!(err instanceof NotFoundError)) throw err
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
