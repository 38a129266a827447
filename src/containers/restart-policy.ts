import type { ClientCore } from '../client/client.js'
import { InvalidArgumentError, NotFoundError, NotImplementedError } from '../grpc/errors.js'
import { patchContainerLabels } from './container-labels.js'
import type { CallOptions } from '../grpc/call-options.js'
import { Status } from '../gen/containerd/types/task/task_pb.js'

// containerd's restart monitor (a daemon plugin, `runtime/restart` in 1.x, `plugins/restart` in 2.x) polls
// every container carrying RESTART_LABELS.status in every namespace, every `interval` (10 s by default),
// and makes the task match it: `running` → create and start a new task (NullIO, or the log URI label),
// `stopped` → SIGKILL and delete the task. 1.7 added the policy, count and explicitly-stopped labels.

/** The labels containerd's restart monitor reads and writes (same keys in 1.6, 1.7 and 2.x). */
export const RESTART_LABELS = {
  /** `running` or `stopped`: the state the monitor keeps the task in. Containers without it are not watched. */
  status: 'containerd.io/restart.status',
  /** The policy (`always`, `on-failure:3`, …); read by containerd ≥ 1.7 only, 1.6 treats everything as `always`. */
  policy: 'containerd.io/restart.policy',
  /** How many times the monitor restarted the task; the monitor raises it before each restart (≥ 1.7). */
  count: 'containerd.io/restart.count',
  /** `true` after an explicit stop; keeps an `unless-stopped` container down (≥ 1.7). */
  explicitlyStopped: 'containerd.io/restart.explicitly-stopped',
  /** Where a restarted task's stdout/stderr go (`binary://…`, `file://…`); without it they are discarded. */
  logUri: 'containerd.io/restart.loguri',
} as const

/** The names of the restart policies. */
export type RestartPolicyName = 'no' | 'always' | 'on-failure' | 'unless-stopped'

/**
 * A restart policy as Docker and nerdctl spell it: `'no'`, `'always'`, `'unless-stopped'`, `'on-failure'`
 * (retry without limit) or `'on-failure:N'` (at most N restarts).
 */
export type RestartPolicy = 'no' | 'always' | 'unless-stopped' | 'on-failure' | `on-failure:${number}`

/** A parsed {@link RestartPolicy}. */
export interface ParsedRestartPolicy {
  /** The policy's name. */
  name: RestartPolicyName
  /** For `on-failure`: the most restarts, 0 for no limit. Always 0 for the other policies. */
  maxRetries: number
}

const NAMES: readonly RestartPolicyName[] = ['no', 'always', 'on-failure', 'unless-stopped']
// containerd parses the count with Go's Atoi; staying within int32 keeps every daemon build happy.
const MAX_RETRIES = 2 ** 31 - 1

/**
 * Parses and validates a restart policy.
 * @throws InvalidArgumentError for an unknown name, a count on a policy other than `on-failure`, or a
 *   count that is not a whole number from 0 to 2147483647.
 */
export function parseRestartPolicy(policy: string): ParsedRestartPolicy {
  const colon = policy.indexOf(':')
  const name = colon < 0 ? policy : policy.slice(0, colon)
  if (!(NAMES as readonly string[]).includes(name)) {
    throw new InvalidArgumentError(`restart policy "${policy}" is not one of: no, always, on-failure[:max-retries], unless-stopped`)
  }
  if (colon < 0) return { name: name as RestartPolicyName, maxRetries: 0 }
  const count = policy.slice(colon + 1)
  if (name !== 'on-failure') {
    throw new InvalidArgumentError(`restart policy "${policy}": only on-failure takes a maximum retry count (on-failure:3)`)
  }
  if (!/^\d+$/.test(count) || Number(count) > MAX_RETRIES) {
    throw new InvalidArgumentError(`restart policy "${policy}": the maximum retry count must be a whole number from 0 to ${MAX_RETRIES}`)
  }
  return { name: 'on-failure', maxRetries: Number(count) }
}

/** Formats a parsed policy the way containerd writes its policy label (`on-failure:3`; `on-failure` for no limit). */
export function formatRestartPolicy(policy: ParsedRestartPolicy): RestartPolicy {
  return policy.name === 'on-failure' && policy.maxRetries > 0 ? `on-failure:${policy.maxRetries}` : policy.name
}

/** What the daemon's restart monitor can do. */
export interface RestartSupport {
  /** The monitor plugin as `type.id` (`io.containerd.internal.v1.restart` in 1.x, `io.containerd.monitor.container.v1.restart` in 2.x); undefined when the daemon has none loaded. */
  plugin: string | undefined
  /** The policies the monitor honours, `no` included; only `no` without a monitor, `no` and `always` on containerd 1.6. */
  policies: RestartPolicyName[]
}

/**
 * Asks the daemon which restart policies its restart monitor supports (the plugin with id `restart`
 * and its capabilities, as nerdctl does). containerd < 1.7 reports no capabilities: it only knows `always`.
 */
export async function restartSupport(client: ClientCore, options?: CallOptions): Promise<RestartSupport> {
  const plugins = await client.introspection.plugins({ ...options, filters: ['id==restart'] })
  const monitor = plugins.find((p) => p.initError === undefined && (p.type === 'io.containerd.internal.v1' || p.type.startsWith('io.containerd.monitor.')))
  if (monitor === undefined) return { plugin: undefined, policies: ['no'] }
  const offered = monitor.capabilities.length === 0 ? ['always'] : monitor.capabilities
  const policies = NAMES.filter((n) => n === 'no' || offered.includes(n))
  return { plugin: `${monitor.type}.${monitor.id}`, policies }
}

/**
 * Parses a policy and checks that the daemon's restart monitor supports it (`no` always is).
 * @throws InvalidArgumentError for a malformed policy.
 * @throws NotImplementedError when the daemon has no restart monitor, or (containerd 1.6) one that only
 *   knows `always`; the message names the daemon's version and the policies it supports.
 */
export async function checkRestartPolicy(client: ClientCore, policy: string, options?: CallOptions): Promise<ParsedRestartPolicy> {
  const parsed = parseRestartPolicy(policy)
  if (parsed.name === 'no') return parsed
  const support = await restartSupport(client, options)
  if (support.policies.includes(parsed.name)) return parsed
  const { version } = await client.version(options)
  if (support.plugin === undefined) {
    throw new NotImplementedError(
      `restart policy "${policy}" needs containerd's restart monitor, but containerd ${version} has none loaded ` +
        '(plugin id "restart" is disabled or failed to start): enable it in the daemon config, or use restart "no"',
    )
  }
  throw new NotImplementedError(
    `restart policy "${policy}" is not supported by containerd ${version}: its restart monitor (${support.plugin}) ` +
      `supports ${support.policies.map((p) => `"${p}"`).join(', ')}; containerd 1.7 or newer also supports on-failure and unless-stopped`,
  )
}

/** Options of {@link restartLabels}. */
export interface RestartLabelsOptions {
  /**
   * Where the stdout/stderr of a task the monitor restarts go (`binary://…` or `file://…`). Without it a
   * restarted task's output is discarded: pass the log URI the first task got, so logs keep flowing.
   */
  logUri?: string
}

/**
 * The labels to put on a new container for a restart policy: the policy and the log URI, not the status.
 * The status label is what the monitor acts on, so it is only set once the task is started
 * ({@link markRestartRunning}); set earlier, the monitor could start a task of its own before ours.
 * `no` gives no labels. Check support first with {@link checkRestartPolicy}.
 * @throws InvalidArgumentError for a malformed policy.
 */
export function restartLabels(policy: RestartPolicy | ParsedRestartPolicy, options: RestartLabelsOptions = {}): Record<string, string> {
  const parsed = typeof policy === 'string' ? parseRestartPolicy(policy) : policy
  if (parsed.name === 'no') return {}
  const labels: Record<string, string> = { [RESTART_LABELS.policy]: formatRestartPolicy(parsed) }
  if (options.logUri !== undefined && options.logUri !== '') labels[RESTART_LABELS.logUri] = options.logUri
  return labels
}

/** The restart state of a container, read from its labels. */
export interface RestartState {
  /** The policy; `always` for a watched container without a policy label (what containerd assumes). */
  policy: ParsedRestartPolicy
  /** The status the monitor keeps the task in; undefined while it does not watch the container. */
  status: 'running' | 'stopped' | undefined
  /** How many times the monitor restarted the task since the last manual start. */
  count: number
  /** Whether the container was explicitly stopped. */
  explicitlyStopped: boolean
  /** The log URI restarted tasks get, if any. */
  logUri: string | undefined
}

/** Reads a container's restart state from its labels; undefined when it has no restart labels (policy `no`). */
export function readRestartState(labels: Record<string, string>): RestartState | undefined {
  const policyLabel = labels[RESTART_LABELS.policy]
  const statusLabel = labels[RESTART_LABELS.status]
  if (policyLabel === undefined && statusLabel === undefined) return undefined
  let policy: ParsedRestartPolicy
  try {
    // containerd reads an empty policy label as `always`.
    policy = policyLabel === undefined || policyLabel === '' ? { name: 'always', maxRetries: 0 } : parseRestartPolicy(policyLabel)
  } catch {
    return undefined
  }
  const count = Number(labels[RESTART_LABELS.count] ?? '0')
  return {
    policy,
    status: statusLabel === 'running' || statusLabel === 'stopped' ? statusLabel : undefined,
    count: Number.isInteger(count) && count >= 0 ? count : 0,
    explicitlyStopped: labels[RESTART_LABELS.explicitlyStopped] === 'true',
    logUri: labels[RESTART_LABELS.logUri],
  }
}

/**
 * Takes a restart-managed container out of the monitor's view (removes its status label) before a new
 * task is created for it: between create and start the task is `created`, which the monitor would
 * "correct" by killing it (status `stopped`) or replacing it (status `running`). Follow with
 * {@link markRestartRunning} once the task started. Returns false (and changes nothing) for a container
 * without restart labels.
 * @throws NotFoundError when there is no such container.
 */
export async function markRestartStarting(client: ClientCore, id: string, options?: CallOptions): Promise<boolean> {
  const labels = await containerLabels(client, id, options)
  if (labels[RESTART_LABELS.status] === undefined) return readRestartState(labels) !== undefined
  await patchContainerLabels(client, id, { [RESTART_LABELS.status]: '' }, options)
  return true
}

/**
 * Hands a container whose task was just started to the monitor: status `running`, the explicit stop
 * forgotten and the restart count reset (a manual start begins a new series of retries, as in Docker).
 * Returns false (and changes nothing) for a container without a restart policy.
 * @throws NotFoundError when there is no such container.
 */
export async function markRestartRunning(client: ClientCore, id: string, options?: CallOptions): Promise<boolean> {
  const state = readRestartState(await containerLabels(client, id, options))
  if (state === undefined || state.policy.name === 'no') return false
  await patchContainerLabels(
    client,
    id,
    { [RESTART_LABELS.status]: 'running', [RESTART_LABELS.explicitlyStopped]: '', [RESTART_LABELS.count]: '' },
    options,
  )
  return true
}

/**
 * First half of an explicit stop, before the task is signalled: takes the container out of the monitor's
 * view (removes the status label) and sets `explicitly-stopped=true`. While the process winds down in its
 * grace period the monitor neither restarts it nor SIGKILLs it early (with status `stopped` it would kill
 * it at its next tick, cutting a `docker stop -t 30` short). Follow with {@link markRestartStopped} once
 * the task has exited. A container watched through the status label alone (the Go client's
 * `restart.WithStatus`) gets the policy label `always`, which is how containerd reads it, so that it
 * stays recognisable. Returns false (and changes nothing) for a container without restart labels.
 * @throws NotFoundError when there is no such container.
 */
export async function markRestartStopping(client: ClientCore, id: string, options?: CallOptions): Promise<boolean> {
  const labels = await containerLabels(client, id, options)
  if (readRestartState(labels) === undefined) return false
  const patch: Record<string, string> = { [RESTART_LABELS.status]: '', [RESTART_LABELS.explicitlyStopped]: 'true' }
  if (labels[RESTART_LABELS.policy] === undefined || labels[RESTART_LABELS.policy] === '') patch[RESTART_LABELS.policy] = 'always'
  await patchContainerLabels(client, id, patch, options)
  return true
}

/**
 * Records an explicit stop: status `stopped` (the monitor then keeps the task down, on every containerd
 * line, and kills one that is still running) and `explicitly-stopped=true` (which is what keeps
 * `unless-stopped` down on 1.7+, and what nerdctl shows). Without this an `always` container comes back
 * after the stop (nerdctl issues #2991, #5153). Call it after the task exited, having called
 * {@link markRestartStopping} before signalling it; called while the task still runs, the monitor
 * SIGKILLs (and deletes) the task at its next tick. Returns false (and changes nothing) for a container
 * without restart labels.
 * @throws NotFoundError when there is no such container.
 */
export async function markRestartStopped(client: ClientCore, id: string, options?: CallOptions): Promise<boolean> {
  if (readRestartState(await containerLabels(client, id, options)) === undefined) return false
  await patchContainerLabels(client, id, { [RESTART_LABELS.status]: 'stopped', [RESTART_LABELS.explicitlyStopped]: 'true' }, options)
  return true
}

/**
 * Changes a container's restart policy (like `docker update --restart`). `no` removes the status,
 * policy, count and explicit-stop labels, so the monitor stops watching (the log URI stays: it is inert
 * alone). Another policy replaces the policy label; a container whose task is running (or paused) and that
 * the monitor did not watch yet is handed to it (status `running`); a stopped one is watched from its next
 * start ({@link markRestartRunning}).
 * @throws InvalidArgumentError for a malformed policy; NotImplementedError when the daemon does not
 *   support it (see {@link checkRestartPolicy}); NotFoundError when there is no such container.
 */
export async function updateRestartPolicy(client: ClientCore, id: string, policy: RestartPolicy, options?: CallOptions): Promise<void> {
  const parsed = await checkRestartPolicy(client, policy, options)
  const labels = await containerLabels(client, id, options)
  if (parsed.name === 'no') {
    await patchContainerLabels(
      client,
      id,
      { [RESTART_LABELS.status]: '', [RESTART_LABELS.policy]: '', [RESTART_LABELS.count]: '', [RESTART_LABELS.explicitlyStopped]: '' },
      options,
    )
    return
  }
  const patch: Record<string, string> = { [RESTART_LABELS.policy]: formatRestartPolicy(parsed) }
  if (labels[RESTART_LABELS.status] === undefined && (await taskIsUp(client, id, options))) patch[RESTART_LABELS.status] = 'running'
  await patchContainerLabels(client, id, patch, options)
}

async function taskIsUp(client: ClientCore, id: string, options?: CallOptions): Promise<boolean> {
  try {
    const { process } = await client.services.tasks.get({ containerId: id }, options)
    return process !== undefined && [Status.RUNNING, Status.PAUSED, Status.PAUSING].includes(process.status)
  } catch (err) {
    if (err instanceof NotFoundError) return false
    throw err
  }
}

// Labels change by field-masked updates (patchContainerLabels): only the given keys. The monitor itself
// rewrites the whole record when it raises the count, so a change made in the same instant can be lost;
// it re-reads every interval.
async function containerLabels(client: ClientCore, id: string, options?: CallOptions): Promise<Record<string, string>> {
  const { container } = await client.services.containers.get({ id }, options)
  if (container === undefined) throw new NotFoundError(`container ${id}: not found`)
  return container.labels
}

