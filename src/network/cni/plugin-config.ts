/**
 * What each plugin of a chain is given: its stdin configuration (libcni's `buildOneConfig`) and its
 * `CNI_ARGS`, plus the checks libcni makes on a run's inputs before any plugin runs.
 */

import { CniError, type CniCommand } from './cni-error.js'
import type { CniCapabilityArgs, CniRuntime } from './cni-options.js'
import { isObject, type CniResult } from './cni-result.js'
import { isCniVersion } from './cni-version.js'
import type { CniPluginConfig, NetworkConfigList } from './network-config.js'

/**
 * The `runtimeConfig` for `plugin`: the capability arguments whose key the plugin declares `true` in
 * its `capabilities`, and no others (a plugin may refuse keys it does not know, and must not see a
 * capability it did not ask for). Undefined when nothing applies.
 */
export function runtimeConfigFor(plugin: CniPluginConfig, capabilityArgs: CniCapabilityArgs | undefined): Record<string, unknown> | undefined {
  if (capabilityArgs === undefined || !isObject(plugin.capabilities)) return undefined
  const config: Record<string, unknown> = {}
  for (const [capability, declared] of Object.entries(plugin.capabilities)) {
    if (declared !== true) continue
    const value: unknown = (capabilityArgs as Record<string, unknown>)[capability]
    if (value !== undefined) config[capability] = value
  }
  return Object.keys(config).length === 0 ? undefined : config
}

/**
 * The JSON a plugin reads on stdin: its own object, with the list's `name` and `cniVersion` (every
 * plugin of a chain runs under the list's), the previous result as `prevResult` when there is one, and
 * the capability arguments it declared as `runtimeConfig`. The list is not changed.
 */
export function pluginStdinConfig(list: NetworkConfigList, plugin: CniPluginConfig, prevResult: CniResult | undefined, capabilityArgs: CniCapabilityArgs | undefined): Record<string, unknown> {
  const config: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion }
  if (prevResult !== undefined) config['prevResult'] = prevResult
  const runtimeConfig = runtimeConfigFor(plugin, capabilityArgs)
  // Like libcni, a plugin-written runtimeConfig is replaced only when the runtime has something to give.
  if (runtimeConfig !== undefined) config['runtimeConfig'] = runtimeConfig
  return config
}

/** `CNI_ARGS`: the pairs joined as `K=V;K=V` (empty for none). */
export function formatCniArgs(args: ReadonlyArray<readonly [string, string]> | undefined): string {
  return (args ?? []).map(([k, v]) => `${k}=${v}`).join(';')
}

// libcni's utils.ValidateContainerID and ValidateNetworkName: the id and name become file names (the
// cache file, host-local's reservations) and iptables comments, so they are kept to a safe alphabet.
const SAFE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

// The kernel's IFNAMSIZ is 16 with the terminating NUL.
const MAX_IFNAME_LENGTH = 15

/**
 * Checks a list and a runtime before any plugin runs, as libcni does, so that a bad value fails with
 * its fix named instead of in the middle of a chain.
 * @param command the command about to run: ADD and CHECK need a netns path, DEL does not.
 * @throws CniError (InvalidArgument) naming the value and what is allowed.
 */
export function checkRun(list: NetworkConfigList, runtime: CniRuntime, command: CniCommand, where: string): void {
  const fail = failWith(command, typeof list?.name === 'string' ? list.name : undefined, where)
  checkList(list, fail)
  checkRuntime(runtime, command, fail)
}

/**
 * Checks a network name and a runtime, for calls that need no configuration list (reading the cache).
 * @throws CniError (InvalidArgument) naming the value and what is allowed.
 */
export function checkAttachment(networkName: string, runtime: CniRuntime, where: string): void {
  const fail = failWith('DEL', typeof networkName === 'string' ? networkName : undefined, where)
  if (typeof networkName !== 'string' || !SAFE_NAME.test(networkName)) fail(`network name ${JSON.stringify(networkName)} is not valid: ${SAFE_ALPHABET}`)
  checkRuntime(runtime, 'DEL', fail)
}

const SAFE_ALPHABET = "use letters, digits, '_', '.' and '-', starting with a letter or digit"

function failWith(command: CniCommand, network: string | undefined, where: string): (message: string) => never {
  return (message) => {
    throw new CniError('InvalidArgument', `${where}: ${message}`, { command, network })
  }
}

function checkRuntime(runtime: CniRuntime, command: CniCommand, fail: (message: string) => never): void {
  if (!isObject(runtime)) fail('the runtime must be an object { containerId, netns, ifName }')
  const { containerId, netns, ifName, args } = runtime
  if (typeof containerId !== 'string' || !SAFE_NAME.test(containerId)) {
    fail(`containerId ${JSON.stringify(containerId)} is not valid: ${SAFE_ALPHABET}`)
  }
  if (typeof ifName !== 'string' || ifName === '' || ifName.length > MAX_IFNAME_LENGTH || ifName === '.' || ifName === '..' || /[/:\s]/.test(ifName)) {
    fail(`ifName ${JSON.stringify(ifName)} is not a valid interface name: 1 to ${MAX_IFNAME_LENGTH} characters, no '/', ':' or spaces`)
  }
  if (typeof netns !== 'string' || netns.includes('\0')) fail('netns must be a string without NUL bytes: the network namespace path')
  if (netns === '' && command !== 'DEL') fail(`netns is empty: ${command} needs the container's network namespace path`)
  if (args !== undefined) {
    if (!Array.isArray(args)) fail("args must be an array of [key, value] pairs, e.g. [['IgnoreUnknown', '1']]")
    for (const [i, pair] of args.entries()) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') fail(`args[${i}] must be a [key, value] pair of strings`)
      // CNI_ARGS is split on ';' and then on the first '=': either in a key, or ';' in a value, would cut a pair apart.
      const [key, value] = pair
      if (key === '' || /[;=\0]/.test(key) || /[;\0]/.test(value)) fail(`args[${i}] ${JSON.stringify(pair)} cannot be written into CNI_ARGS: no ';' or NUL anywhere, no '=' in the key`)
    }
  }
}

function checkList(list: NetworkConfigList, fail: (message: string) => never): void {
  if (!isObject(list)) fail('the network configuration list must be an object { cniVersion, name, plugins }')
  if (typeof list.name !== 'string' || !SAFE_NAME.test(list.name)) {
    fail(`network name ${JSON.stringify(list.name)} is not valid: ${SAFE_ALPHABET}`)
  }
  if (typeof list.cniVersion !== 'string' || !isCniVersion(list.cniVersion)) {
    fail(`network ${list.name}: cniVersion ${JSON.stringify(list.cniVersion)} is not a version such as '1.0.0'`)
  }
  if (!Array.isArray(list.plugins) || list.plugins.length === 0) fail(`network ${list.name} has no plugins`)
  for (const [i, plugin] of list.plugins.entries()) {
    // The type is a file name looked up in the plugin directories: a path in it would run any binary.
    if (!isObject(plugin) || typeof plugin.type !== 'string' || !SAFE_NAME.test(plugin.type)) {
      fail(`network ${list.name}: plugins[${i}].type ${JSON.stringify(isObject(plugin) ? plugin.type : plugin)} is not a plugin name such as 'bridge'`)
    }
  }
}
