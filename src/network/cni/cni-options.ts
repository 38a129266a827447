/**
 * The inputs of a CNI run: where plugins and the result cache live (options), and which container,
 * network namespace and interface a run is for (runtime).
 */

import { checkOptionKeys, checkStringArray, describe, keysOf } from '../../client/option-check.js'
import type { CallOptions } from '../../grpc/call-options.js'
import { checkTimeoutMs } from '../../grpc/deadline.js'
import { InvalidArgumentError } from '../../grpc/errors.js'

/** A port published from the host to the container (the `portMappings` capability, CNI conventions). */
export interface PortMapping {
  /** The port on the host. */
  hostPort: number
  /** The port in the container. */
  containerPort: number
  /** The transport protocol. */
  protocol: 'tcp' | 'udp' | 'sctp'
  /** The host address to listen on; all addresses when absent. */
  hostIP?: string
}

/**
 * Capability arguments (CNI conventions §"Dynamic plugin specific fields"): each goes into a plugin's
 * `runtimeConfig` only when the plugin declares that capability `true` in its `capabilities`.
 */
export interface CniCapabilityArgs {
  /** Published ports, for `portmap`. */
  portMappings?: PortMapping[]
  /** Requested IPs (CIDR or plain addresses), for `host-local` and `static`. */
  ips?: string[]
  /** A requested MAC address, for `tuning` and others. */
  mac?: string
}

/** The container side of a CNI run (libcni's `RuntimeConf`). */
export interface CniRuntime {
  /** The container's id (`CNI_CONTAINERID`): letters, digits, `_`, `.`, `-`, starting with a letter or digit. */
  containerId: string
  /** The network namespace path (`CNI_NETNS`), e.g. `/proc/<pid>/ns/net` or a bind-mounted netns file. */
  netns: string
  /** The interface to create in the namespace (`CNI_IFNAME`), e.g. `eth0`: at most 15 characters. */
  ifName: string
  /** Extra arguments (`CNI_ARGS`, joined as `K=V;K=V`), e.g. `[['IgnoreUnknown', '1']]`. */
  args?: Array<[string, string]>
  /** Capability arguments, filtered per plugin by its declared capabilities. */
  capabilityArgs?: CniCapabilityArgs
}

/** Options of every CNI call. */
export interface CniOptions extends CallOptions {
  /**
   * Directories searched, in order, for plugin binaries; also passed to plugins as `CNI_PATH` (for
   * delegated IPAM plugins). Default `['/opt/cni/bin', '/usr/lib/cni']`: the upstream location first,
   * then Debian's `containernetworking-plugins`.
   */
  pluginDirs?: string[]
  /**
   * Where ADD results are cached (`<cacheDir>/results/…`). Default `/var/lib/cni`, libcni's, so that
   * other tools (nerdctl, cnitool) see our attachments and we see theirs.
   */
  cacheDir?: string
  /**
   * Deadline of the whole call (every plugin of the chain) in milliseconds. Default 60 000: a plugin
   * waits on the xtables lock, and a busy host can hold it for seconds.
   */
  timeoutMs?: number
}

/** The default plugin directories: upstream's, then Debian's. */
export const DEFAULT_PLUGIN_DIRS: readonly string[] = Object.freeze(['/opt/cni/bin', '/usr/lib/cni'])

/** libcni's default cache directory. */
export const DEFAULT_CACHE_DIR = '/var/lib/cni'

/** The default deadline of a CNI call. */
export const DEFAULT_CNI_TIMEOUT_MS = 60_000

/** {@link CniOptions} with the defaults filled in. */
export interface ResolvedCniOptions {
  /** The plugin directories. */
  pluginDirs: readonly string[]
  /** The cache directory. */
  cacheDir: string
  /** The deadline in milliseconds. */
  timeoutMs: number
  /** The caller's signal. */
  signal: AbortSignal | undefined
}

const CNI_OPTION_KEYS = keysOf<CniOptions>()({ pluginDirs: true, cacheDir: true, timeoutMs: true, signal: true })

/**
 * Checks `options` (for JavaScript callers) and fills in the defaults.
 * @param where the call, for messages (`cniAdd()`).
 * @throws InvalidArgumentError for an unknown key or a value of the wrong type.
 */
export function resolveCniOptions(options: CniOptions | undefined, where: string): ResolvedCniOptions {
  checkOptionKeys(options, CNI_OPTION_KEYS, where)
  const { pluginDirs, cacheDir, timeoutMs, signal } = options ?? {}
  if (timeoutMs !== undefined) checkTimeoutMs(timeoutMs, where)
  checkStringArray(pluginDirs, `${where} pluginDirs`, "['/usr/lib/cni']")
  if (pluginDirs?.length === 0) throw new InvalidArgumentError(`${where} pluginDirs is empty: name at least one directory, e.g. ['/usr/lib/cni'], or leave it out`)
  if (cacheDir !== undefined && (typeof cacheDir !== 'string' || cacheDir === '')) {
    throw new InvalidArgumentError(`${where} cacheDir must be a directory path, got ${describe(cacheDir)}`)
  }
  return {
    pluginDirs: pluginDirs ?? DEFAULT_PLUGIN_DIRS,
    cacheDir: cacheDir ?? DEFAULT_CACHE_DIR,
    timeoutMs: timeoutMs ?? DEFAULT_CNI_TIMEOUT_MS,
    signal,
  }
}
