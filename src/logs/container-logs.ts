import type { ClientCore } from '../client/client.js'
import { checkOptionKeys, keysOf } from '../client/option-check.js'
import { NotFoundError } from '../grpc/errors.js'
import { validateIdentifier } from '../client/identifiers.js'
import { containerStateDir } from '../nerdctl/data-store.js'
import { Status } from '../gen/containerd/types/task/task_pb.js'
import { checkDataStore, configuredLogPath } from './log-config.js'
import type { LogEntry } from './log-entry.js'
import { readLogs, type ReadLogsOptions } from './log-reader.js'
import { waitForLoggerDrain } from './logger-drain.js'

/** Options for {@link containerLogs}. */
export interface ContainerLogsOptions extends Omit<ReadLogsOptions, 'followUntil'> {
  /** The data store the container's logger writes under (see `dataStorePath`). */
  dataStore: string
  /** How long to wait for the logger to drain once the task has exited. Default 5000 ms. */
  drainTimeoutMs?: number
}

/** The keys of {@link ContainerLogsOptions}, for the run-time check at the start of {@link containerLogs}. */
export const CONTAINER_LOGS_OPTION_KEYS = keysOf<ContainerLogsOptions>()({
  follow: true,
  tail: true,
  since: true,
  until: true,
  timestamps: true,
  stdout: true,
  stderr: true,
  signal: true,
  pollIntervalMs: true,
  dataStore: true,
  drainTimeoutMs: true,
})

/**
 * A container's json-file log, through its data store. With `follow`, reading goes on while the
 * container's task lives and ends once the task has exited and its logger has drained (every line
 * the task wrote has been yielded); a container without a live task is read to the end, like
 * `docker logs -f` on a stopped container.
 * @throws NotFoundError when the container or its log does not exist.
 * @throws InvalidArgumentError for bad options (an unknown key is named with the closest known one), at
 *   the first step of the iteration, before anything is read.
 */
export async function* containerLogs(client: ClientCore, containerId: string, options: ContainerLogsOptions): AsyncGenerator<LogEntry> {
  // `followUntil` is readLogs's, set here: a caller's would be a mistake like any unknown key.
  checkOptionKeys(options, CONTAINER_LOGS_OPTION_KEYS, 'logs()')
  const { dataStore, drainTimeoutMs, signal, ...readOptions } = options
  checkDataStore(dataStore)
  validateIdentifier('container id', containerId)
  await client.services.containers.get({ id: containerId }, { signal })
  const stateDir = containerStateDir(dataStore, client.namespace, containerId)
  const logPath = await configuredLogPath(dataStore, client.namespace, containerId)
  const status = await taskStatus(client, containerId, signal)
  const drain = { signal, timeoutMs: drainTimeoutMs }

  // Aborted when iteration ends, so the Wait call does not outlive the reader.
  const local = new AbortController()
  const onAbort = (): void => local.abort(signal?.reason)
  signal?.addEventListener('abort', onAbort, { once: true })
  let followUntil: Promise<void> | undefined
  if (options.follow === true && status !== undefined && status !== Status.STOPPED) {
    followUntil = (async () => {
      await waitExit(client, containerId, local.signal)
      await waitForLoggerDrain(stateDir, { ...drain, signal: local.signal })
    })()
    // readLogs takes the outcome; this keeps an early failure before it attaches from going unhandled.
    followUntil.catch(() => undefined)
  } else if (status === Status.STOPPED) {
    // Exited, maybe just now: let the logger write out what is still in its pipes first.
    await waitForLoggerDrain(stateDir, drain)
  }
  try {
    yield* readLogs(logPath, { ...readOptions, ...(signal === undefined ? {} : { signal }), follow: followUntil !== undefined, ...(followUntil === undefined ? {} : { followUntil }) })
  } finally {
    signal?.removeEventListener('abort', onAbort)
    local.abort()
  }
}

async function taskStatus(client: ClientCore, containerId: string, signal: AbortSignal | undefined): Promise<Status | undefined> {
  try {
    const { process } = await client.services.tasks.get({ containerId }, { signal })
    return process?.status ?? Status.UNKNOWN
  } catch (err) {
    if (err instanceof NotFoundError) return undefined
    throw err
  }
}

/** Resolves when the task has exited (or is gone: deleted meanwhile). */
async function waitExit(client: ClientCore, containerId: string, signal: AbortSignal): Promise<void> {
  try {
    await client.services.tasks.wait({ containerId }, { signal })
  } catch (err) {
    if (err instanceof NotFoundError) return
    throw err
  }
}
