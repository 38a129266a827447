/**
 * Runs a network configuration list's chain of CNI plugins, as libcni does (ADD in order with each
 * result passed on as `prevResult`, DEL in reverse with the cached ADD result, CHECK in order), with
 * two differences that keep a host clean: an ADD that fails part-way is rolled back with a DEL of the
 * whole list, and a DEL runs every plugin even when one fails; and one that saves time: portmap and
 * firewall, which pass their `prevResult` on unchanged, run side by side when they follow each other
 * (see sideBySideGroups).
 */

import { debuglog } from 'node:util'
import { throwIfAborted } from '../../grpc/abort.js'
import { expiredDeadline } from '../../grpc/deadline.js'
import { CanceledError, DeadlineExceededError } from '../../grpc/errors.js'
import { CniError, type CniCommand } from './cni-error.js'
import { DEFAULT_CNI_TIMEOUT_MS, resolveCniOptions, type CniCapabilityArgs, type CniOptions, type CniRuntime, type ResolvedCniOptions } from './cni-options.js'
import { parseCniResult, type CniResult } from './cni-result.js'
import { compareCniVersions, parseVersionInfo, type CniVersionInfo } from './cni-version.js'
import { leavesMasquerade, removeMasquerade } from './masquerade-cleanup.js'
import { flushNeighbours, sharesLinkWithHost } from './neighbour-flush.js'
import { netnsForDel } from './netns-path.js'
import type { CniPluginConfig, NetworkConfigList } from './network-config.js'
import { checkAttachment, checkRun, formatCniArgs, pluginStdinConfig, runtimeConfigFor } from './plugin-config.js'
import { execPlugin } from './plugin-exec.js'
import { findPlugin } from './plugin-lookup.js'
import { cacheEntry, readCacheEntry, readCachedResult, removeCacheEntry, writeCacheEntry, type CachedAttachment } from './result-cache.js'

const debug = debuglog('containerd-sdk:cni')

/**
 * The spec version from which DEL and CHECK get the cached ADD result as `prevResult`, and CHECK exists.
 */
const PREV_RESULT_VERSION = '0.4.0'

/** The stdin `cniVersion` of a VERSION request: every plugin built since 2021 speaks 1.0.0. */
const VERSION_REQUEST_VERSION = '1.0.0'

/**
 * Adds the container to the network: runs each plugin of `list` with ADD, in order, each after the
 * first given the previous one's result as `prevResult` (portmap and firewall following each other
 * run side by side: see {@link sideBySideGroups}), then caches the final result (libcni's layout) for
 * DEL and CHECK.
 *
 * Every plugin is looked up before any runs, so a missing one changes nothing. When a plugin fails
 * (or the deadline passes, or `signal` aborts), the whole list is deleted before the error is thrown,
 * so no IP reservation, interface or iptables rule is left behind; that rollback is bounded by its own
 * 60-second deadline, not by the caller's deadline or signal, which have already ended.
 *
 * @returns the last plugin's result (`containerAddresses()` reads the container's IPs from it).
 * @throws CniError for a plugin that is missing (FailedPrecondition), fails, or answers something
 *   that is not a result; InvalidArgument for a bad list or runtime. DeadlineExceededError when
 *   `timeoutMs` (default 60 s) passes; CanceledError (cause: `signal.reason`) when `signal` aborts.
 */
export async function cniAdd(list: NetworkConfigList, runtime: CniRuntime, options?: CniOptions): Promise<CniResult> {
  const where = 'cniAdd()'
  const opts = resolveCniOptions(options, where)
  checkRun(list, runtime, 'ADD', where)
  throwIfAborted(opts.signal, `${where} network ${list.name}`)
  throwIfExpired(opts.timeoutMs, where)
  const deadline = performance.now() + opts.timeoutMs
  const paths = await findPlugins(list, opts, 'ADD')

  let result: CniResult | undefined
  try {
    for (const group of sideBySideGroups(list.plugins)) {
      const given = result
      const outputs = await Promise.allSettled(group.map((i) => runPlugin('ADD', list, list.plugins[i] as CniPluginConfig, paths[i] as string, runtime, runtime.netns, given, opts, deadline)))
      const failed = outputs.find((o) => o.status === 'rejected')
      if (failed !== undefined) throw failed.reason
      for (const [k, i] of group.entries()) {
        const parsed = parseCniResult((outputs[k] as PromiseFulfilledResult<unknown>).value)
        if ('problem' in parsed) {
          const plugin = list.plugins[i] as CniPluginConfig
          throw new CniError('Unknown', `CNI plugin ${plugin.type} ADD on network ${list.name} answered something that is not a CNI result: ${parsed.problem}`, {
            plugin: plugin.type,
            command: 'ADD',
            network: list.name,
          })
        }
        // In a group every plugin hands back what it was given: the last one's is the chain's.
        result = parsed.result
      }
    }
    if (result === undefined) throw new CniError('Internal', `${where}: network ${list.name} gave no result`, { command: 'ADD', network: list.name })
    await writeCacheEntry(opts.cacheDir, cacheEntry(list, runtime, result)).catch((err: unknown) => {
      throw cacheError(err, 'ADD', list.name, `cannot cache the ADD result in ${opts.cacheDir}`)
    })
    return result
  } catch (err) {
    await rollback(list, runtime, opts, result, err)
    throw err
  }
}

/**
 * Removes the container from the network: runs each plugin of `list` with DEL, in reverse order,
 * given the cached ADD result as `prevResult` (spec 0.4.0 and later), then removes the cache file.
 *
 * A failing plugin does not stop the others: each plugin releases what it holds, and the first error is
 * thrown after all ran (the cache file is then kept, so a retry has the same `prevResult`). DEL of an
 * attachment that was never added, or was already deleted, succeeds: plugins treat DEL as idempotent.
 * A `netns` that no longer exists is passed to plugins as empty, as the spec allows, so that they
 * still release host-side state; `bridge` and `ptp` then cannot find the addresses they masqueraded
 * (they read them from the container's interface), so the runner removes those iptables rules itself,
 * from the cached ADD result. When `runtime` has no `capabilityArgs` (or no `args`), those of the
 * cached ADD are used: `portmap` removes its rules only when given the port mappings again.
 *
 * @throws CniError for the first plugin that is missing or fails; DeadlineExceededError or
 *   CanceledError (which stop the remaining plugins) as for {@link cniAdd}.
 */
export async function cniDel(list: NetworkConfigList, runtime: CniRuntime, options?: CniOptions): Promise<void> {
  const where = 'cniDel()'
  const opts = resolveCniOptions(options, where)
  checkRun(list, runtime, 'DEL', where)
  throwIfAborted(opts.signal, `${where} network ${list.name}`)
  throwIfExpired(opts.timeoutMs, where)
  await deleteChain(list, runtime, opts, performance.now() + opts.timeoutMs, { cached: true })
}

/**
 * Checks that the container's attachment is still as ADD left it: runs each plugin of `list` with
 * CHECK, in order, given the cached ADD result as `prevResult`. Does nothing for a list with
 * `disableCheck`.
 *
 * @throws CniError: FailedPrecondition for a list older than spec 0.4.0 (CHECK did not exist) or when
 *   there is no cached ADD result; the first plugin's failure otherwise. DeadlineExceededError or
 *   CanceledError as for {@link cniAdd}.
 */
export async function cniCheck(list: NetworkConfigList, runtime: CniRuntime, options?: CniOptions): Promise<void> {
  const where = 'cniCheck()'
  const opts = resolveCniOptions(options, where)
  checkRun(list, runtime, 'CHECK', where)
  if ((compareCniVersions(list.cniVersion, PREV_RESULT_VERSION) as number) < 0) {
    throw new CniError('FailedPrecondition', `${where}: network ${list.name} is cniVersion ${list.cniVersion}, and CHECK needs ${PREV_RESULT_VERSION} or later`, {
      command: 'CHECK',
      network: list.name,
    })
  }
  if (list.disableCheck === true) return
  throwIfAborted(opts.signal, `${where} network ${list.name}`)
  throwIfExpired(opts.timeoutMs, where)
  const deadline = performance.now() + opts.timeoutMs
  const cached = await readCachedResult(opts.cacheDir, list.name, list.cniVersion, runtime)
  if (cached === undefined) {
    throw new CniError(
      'FailedPrecondition',
      `${where}: no cached ADD result for container ${runtime.containerId} on network ${list.name} (${runtime.ifName}) in ${opts.cacheDir}: was it added, with this cacheDir?`,
      { command: 'CHECK', network: list.name },
    )
  }
  const paths = await findPlugins(list, opts, 'CHECK')
  for (const [i, plugin] of list.plugins.entries()) {
    await runPlugin('CHECK', list, plugin, paths[i] as string, runtime, runtime.netns, cached, opts, deadline)
  }
}

/**
 * Asks a plugin which spec versions it speaks (the VERSION command).
 * @param pluginType the plugin's binary name, e.g. `bridge`.
 * @throws CniError when the plugin is missing (FailedPrecondition), fails, or answers something else.
 */
export async function cniVersion(pluginType: string, options?: CniOptions): Promise<CniVersionInfo> {
  const where = 'cniVersion()'
  const opts = resolveCniOptions(options, where)
  if (typeof pluginType !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(pluginType)) {
    throw new CniError('InvalidArgument', `${where}: ${JSON.stringify(pluginType)} is not a plugin name such as 'bridge'`, { command: 'VERSION' })
  }
  throwIfAborted(opts.signal, `${where} ${pluginType}`)
  throwIfExpired(opts.timeoutMs, where)
  const path = await findPlugin(pluginType, opts.pluginDirs, { command: 'VERSION' })
  const output = await execPlugin({
    plugin: pluginType,
    command: 'VERSION',
    path,
    containerId: '',
    netns: '',
    ifName: '',
    cniArgs: '',
    cniPath: opts.pluginDirs.join(':'),
    stdin: JSON.stringify({ cniVersion: VERSION_REQUEST_VERSION }),
    deadline: performance.now() + opts.timeoutMs,
    signal: opts.signal,
  })
  const parsed = parseVersionInfo(output)
  if ('problem' in parsed) {
    throw new CniError('Unknown', `CNI plugin ${pluginType} answered VERSION with something else: ${parsed.problem}`, { plugin: pluginType, command: 'VERSION' })
  }
  return parsed.info
}

/**
 * What the cache holds about the container's attachment to a network: the ADD result, the list the
 * ADD ran (so a network whose conflist was removed can still be deleted), its netns and arguments.
 * Undefined when there is none (never added, already deleted, or added with another `cacheDir`).
 * Only `cacheDir` of the options is used.
 * @param network the list (the result is then converted to its cniVersion), or the network's name.
 * @throws CniError (InvalidArgument) for a bad list, name or runtime.
 */
export async function cachedResult(network: NetworkConfigList | string, runtime: CniRuntime, options?: CniOptions): Promise<CachedAttachment | undefined> {
  const where = 'cachedResult()'
  const opts = resolveCniOptions(options, where)
  if (typeof network === 'string') {
    checkAttachment(network, runtime, where)
    return readCacheEntry(opts.cacheDir, network, runtime)
  }
  checkRun(network, runtime, 'DEL', where)
  return readCacheEntry(opts.cacheDir, network.name, runtime, network.cniVersion)
}

/** A `timeoutMs` of zero or less: the deadline passed before the call, so nothing runs (and nothing needs rolling back). */
function throwIfExpired(timeoutMs: number, where: string): void {
  const expired = expiredDeadline(timeoutMs, where)
  if (expired !== undefined) throw expired
}

/** The binary of every plugin of the list, found before any runs. */
async function findPlugins(list: NetworkConfigList, opts: ResolvedCniOptions, command: CniCommand): Promise<string[]> {
  const paths: string[] = []
  for (const plugin of list.plugins) paths.push(await findPlugin(plugin.type, opts.pluginDirs, { command, network: list.name }))
  return paths
}

/** Runs one plugin of the list with its stdin configuration built for this run. */
function runPlugin(
  command: CniCommand,
  list: NetworkConfigList,
  plugin: CniPluginConfig,
  path: string,
  runtime: CniRuntime,
  netns: string,
  prevResult: CniResult | undefined,
  opts: { pluginDirs: readonly string[]; signal: AbortSignal | undefined },
  deadline: number,
): Promise<unknown> {
  // A plugin that would only hand `prevResult` back is not started: a Go plugin's start costs tens of
  // milliseconds on every ADD and DEL (see isPassThrough). ADD passes the previous result on unchanged.
  if (prevResult !== undefined && isPassThrough(plugin, runtime)) return Promise.resolve(command === 'ADD' ? prevResult : undefined)
  return execPlugin({
    plugin: plugin.type,
    command,
    network: list.name,
    path,
    containerId: runtime.containerId,
    netns,
    ifName: runtime.ifName,
    cniArgs: formatCniArgs(runtime.args),
    cniPath: opts.pluginDirs.join(':'),
    stdin: JSON.stringify(pluginStdinConfig(list, plugin, prevResult, runtime.capabilityArgs)),
    deadline,
    signal: opts.signal,
  })
}

/**
 * Whether a plugin of the reference plugins (containernetworking/plugins) would do nothing for this
 * run but print its `prevResult`, so running it can be skipped on ADD, DEL and CHECK alike:
 * - `portmap` without port mappings: its ADD returns at once when `runtimeConfig.portMappings` is empty,
 *   and with none ever given it made no chain for DEL or CHECK to look at;
 * - `tuning` with no setting of its own (nerdctl puts a bare `{"type":"tuning"}` in every network) and
 *   no `mac` or `sysctl` runtime argument: nothing to set, nothing to restore.
 * Only when there is a `prevResult` to pass on (never the first plugin of a chain).
 */
export function isPassThrough(plugin: CniPluginConfig, runtime: Pick<CniRuntime, 'capabilityArgs'>): boolean {
  const runtimeConfig = runtimeConfigFor(plugin, runtime.capabilityArgs)
  if (plugin.type === 'portmap') {
    const mappings = runtimeConfig?.['portMappings']
    return !Array.isArray(mappings) || mappings.length === 0
  }
  if (plugin.type === 'tuning') {
    const own = Object.keys(plugin).filter((k) => k !== 'type' && k !== 'capabilities')
    return own.length === 0 && runtimeConfig === undefined
  }
  return false
}

// Reference plugins (containernetworking/plugins) whose ADD hands `prevResult` back unchanged and whose
// state is theirs alone (portmap: its CNI-HOSTPORT-* and CNI-DN-* chains; firewall: CNI-FORWARD and
// CNI-ADMIN rules for the container's addresses), so neither can see whether the other ran first.
const RESULT_PRESERVING = new Set(['portmap', 'firewall'])

/**
 * The chain's plugins in the groups they run in: one plugin per group, except that plugins of
 * {@link RESULT_PRESERVING} following each other (after the first plugin, which makes the result) share
 * one group and run side by side, given the same `prevResult`. Their ADD gives what a run in order
 * gives, and each start costs a Go binary and several iptables calls: on the default network
 * (bridge, portmap, firewall) this takes the slower one's time off every ADD and DEL.
 * @returns the plugins' indexes, in groups, in chain order.
 */
export function sideBySideGroups(plugins: readonly Pick<CniPluginConfig, 'type'>[]): number[][] {
  const groups: number[][] = []
  for (const [i, plugin] of plugins.entries()) {
    const last = groups.at(-1)
    const joins = i > 1 && last !== undefined && RESULT_PRESERVING.has(plugin.type) && RESULT_PRESERVING.has((plugins[last.at(-1) as number] as Pick<CniPluginConfig, 'type'>).type)
    if (joins) last.push(i)
    else groups.push([i])
  }
  return groups
}

/**
 * DEL of every plugin, in reverse: a failure is remembered and the next plugin runs anyway; only the
 * end of the call (deadline, abort) stops the loop, since every later plugin would fail the same way.
 * @param prev `cached: true` to read the cached result; else the `prevResult` to give (a rollback's
 *   partial ADD result).
 */
async function deleteChain(
  list: NetworkConfigList,
  runtime: CniRuntime,
  opts: { pluginDirs: readonly string[]; cacheDir: string; signal: AbortSignal | undefined },
  deadline: number,
  prev: { cached: true } | { result: CniResult | undefined },
): Promise<void> {
  const netns = await netnsForDel(runtime.netns)
  let prevResult = 'cached' in prev ? undefined : prev.result
  if ('cached' in prev) {
    const entry = await readCacheEntry(opts.cacheDir, list.name, runtime, list.cniVersion)
    prevResult = entry?.result
    // A DEL must undo what the ADD did: portmap removes its rules only when given the port mappings
    // again. A caller that no longer has them (a restarted process, a GC pass) gets the ADD's, as
    // CRI runtimes do with libcni's GetNetworkListCachedConfig.
    if (entry !== undefined && (runtime.capabilityArgs === undefined || runtime.args === undefined)) {
      runtime = { ...runtime }
      if (runtime.capabilityArgs === undefined && entry.capabilityArgs !== undefined) runtime.capabilityArgs = entry.capabilityArgs as CniCapabilityArgs
      if (runtime.args === undefined && entry.cniArgs !== undefined) runtime.args = entry.cniArgs
    }
  }
  // What ADD did, for the masquerade cleanup below, whatever the spec version.
  const added = prevResult
  // Spec 0.3.x plugins were never given a prevResult on DEL: libcni gives none, and neither do we.
  if ((compareCniVersions(list.cniVersion, PREV_RESULT_VERSION) as number) < 0) prevResult = undefined
  let first: unknown
  const deleteOne = async (plugin: CniPluginConfig): Promise<void> => {
    const path = await findPlugin(plugin.type, opts.pluginDirs, { command: 'DEL', network: list.name })
    await runPlugin('DEL', list, plugin, path, runtime, netns, prevResult, opts, deadline)
    // Without the namespace, bridge cannot see which addresses it masqueraded: see masquerade-cleanup.ts.
    if (netns === '' && added !== undefined && leavesMasquerade(plugin)) await removeMasquerade(list.name, runtime.containerId, runtime.ifName, added, deadline)
    // The address's next owner has another MAC: see neighbour-flush.ts.
    if (added !== undefined && sharesLinkWithHost(plugin)) await flushNeighbours(added, runtime.ifName, deadline)
  }
  for (const group of sideBySideGroups(list.plugins).reverse()) {
    const outcomes = await Promise.allSettled([...group].reverse().map((i) => deleteOne(list.plugins[i] as CniPluginConfig)))
    const errors = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown)
    first ??= errors[0]
    if (errors.some((err) => err instanceof CanceledError || err instanceof DeadlineExceededError)) break
  }
  if (first !== undefined) throw first
  await removeCacheEntry(opts.cacheDir, list.name, runtime).catch((err: unknown) => {
    throw cacheError(err, 'DEL', list.name, `cannot remove the cached ADD result from ${opts.cacheDir}`)
  })
}

/** A cache file that cannot be written or removed, as a CniError: the file system's error is the cause. */
function cacheError(err: unknown, command: CniCommand, network: string, what: string): CniError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  const message = err instanceof Error ? err.message : String(err)
  return new CniError(code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'PermissionDenied' : 'Unknown', `${what}: ${message}`, { command, network, cause: err })
}

// The rollback's own deadline: the caller's has passed or its signal aborted, and leaving an IP
// reservation or iptables rules behind is worse than a late rejection.
const ROLLBACK_TIMEOUT_MS = DEFAULT_CNI_TIMEOUT_MS

/** DEL of the whole list after a failed ADD, with the partial result as `prevResult`; its failure is logged, not thrown. */
async function rollback(list: NetworkConfigList, runtime: CniRuntime, opts: ResolvedCniOptions, partial: CniResult | undefined, cause: unknown): Promise<void> {
  try {
    await deleteChain(list, runtime, { pluginDirs: opts.pluginDirs, cacheDir: opts.cacheDir, signal: undefined }, performance.now() + ROLLBACK_TIMEOUT_MS, { result: partial })
  } catch (err) {
    // The ADD error is what the caller must see; the rollback's goes to NODE_DEBUG=containerd-sdk:cni.
    debug('rollback of network %s for container %s after %s failed: %s', list.name, runtime.containerId, String(cause), String(err))
  }
}
