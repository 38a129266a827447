/**
 * The typed view of one CNI network configuration: what `nerdctl network inspect` reads out of a conflist
 * (id, labels, driver, subnets), beside the raw configuration the CNI runner executes.
 */

import { InvalidArgumentError } from '../grpc/errors.js'
import type { CniPluginConfig, NetworkConfigList } from './cni/network-config.js'

/** The default network's name (nerdctl's `DefaultNetworkName`). */
export const DEFAULT_NETWORK_NAME = 'bridge'

/** The label nerdctl puts on the default network (`labels.NerdctlDefaultNetwork`). */
export const DEFAULT_NETWORK_LABEL = 'nerdctl/default-network'

/** The drivers the store creates networks with. */
export type NetworkDriver = 'bridge' | 'macvlan' | 'ipvlan'

/** One address range of a network (host-local's range set, first range). */
export interface NetworkSubnet {
  /** The subnet, e.g. `10.4.1.0/24`. */
  subnet: string
  /** The gateway address, when the config names one. */
  gateway?: string | undefined
  /** The sub-range containers get addresses from (nerdctl's `ipRange`), when set. */
  ipRange?: string | undefined
}

/** A network as the store reads it from its conflist. */
export interface NetworkRecord {
  /** The network's name. */
  name: string
  /**
   * nerdctl's network id (`nerdctlID`: the hex sha256 of the name); undefined for a config nerdctl did not
   * write (then {@link NetworkRecord.managed} is false).
   */
  id: string | undefined
  /** The first plugin's type: `bridge`, `macvlan`, `ipvlan`, or whatever a foreign config chains first. */
  driver: string
  /** Address ranges from the IPAM config (host-local `ranges`, or its older `subnet` form). */
  subnets: NetworkSubnet[]
  /** True when containers get no route out (no default route and no masquerading). */
  internal: boolean
  /** nerdctl's `nerdctlLabels`: the user's labels (and `nerdctl/default-network` on the default network). */
  labels: Record<string, string>
  /** The host bridge device of a bridge network (`nerdctl0`, `br-<id[:12]>`). */
  bridge?: string | undefined
  /** The parent interface of a macvlan/ipvlan network; undefined when left to the plugin (the default route's interface). */
  parent?: string | undefined
  /** The MTU set in the config, if any. */
  mtu?: number | undefined
  /** The conflist's path. */
  file: string
  /** The configuration itself, as the CNI runner takes it. */
  config: NetworkConfigList
  /** Whether this is the default network (the `nerdctl/default-network` label, else the name `bridge`, as nerdctl decides). */
  isDefault: boolean
  /** Whether nerdctl (or this SDK) manages it: it has a `nerdctlID`. Others are listed but never removed. */
  managed: boolean
  /** The namespace folder it was read from; undefined for a config at the top of the conf dir (shared by all namespaces). */
  namespace: string | undefined
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Parses a `.conflist` file, or a single-plugin `.conf`/`.json` file (wrapped into a one-plugin list, as
 * libcni does).
 * @throws InvalidArgumentError naming the file when it is not JSON or lacks a name or plugins.
 */
export function parseNetworkConfigFile(text: string, file: string): NetworkConfigList {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new InvalidArgumentError(`network config ${file} is not JSON: ${(err as Error).message}`, { cause: err })
  }
  if (!isObject(parsed) || typeof parsed['name'] !== 'string' || parsed['name'] === '') {
    throw new InvalidArgumentError(`network config ${file} has no "name"`)
  }
  if (Array.isArray(parsed['plugins'])) {
    if (!parsed['plugins'].every((p) => isObject(p) && typeof p['type'] === 'string')) {
      throw new InvalidArgumentError(`network config ${file}: every plugin needs a "type"`)
    }
    return { ...parsed, cniVersion: typeof parsed['cniVersion'] === 'string' ? parsed['cniVersion'] : '', name: parsed['name'], plugins: parsed['plugins'] as CniPluginConfig[] }
  }
  if (typeof parsed['type'] !== 'string') throw new InvalidArgumentError(`network config ${file} has neither "plugins" nor a "type"`)
  // A single network config (a `.conf`): it is its own only plugin.
  const cniVersion = typeof parsed['cniVersion'] === 'string' ? parsed['cniVersion'] : ''
  return { cniVersion, name: parsed['name'], plugins: [{ ...parsed, type: parsed['type'] }] }
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** The subnets of an IPAM config: host-local's `ranges` (first range of each set, as nerdctl reads them) or its `subnet`. */
function subnetsOf(ipam: Record<string, unknown>): NetworkSubnet[] {
  const out: NetworkSubnet[] = []
  if (Array.isArray(ipam['ranges'])) {
    for (const set of ipam['ranges']) {
      const first: unknown = Array.isArray(set) ? set[0] : undefined
      if (!isObject(first)) continue
      const subnet = stringOf(first['subnet'])
      if (subnet === undefined) continue
      out.push({ subnet, gateway: stringOf(first['gateway']), ipRange: stringOf(first['ipRange']) })
    }
  } else {
    const subnet = stringOf(ipam['subnet'])
    if (subnet !== undefined) out.push({ subnet, gateway: stringOf(ipam['gateway']) })
  }
  return out
}

/** Reads the typed view out of a configuration found at `file` (in the namespace folder `namespace`, if any). */
export function toNetworkRecord(config: NetworkConfigList, file: string, namespace: string | undefined): NetworkRecord {
  const first = config.plugins[0]
  const ipam = first !== undefined && isObject(first['ipam']) ? first['ipam'] : {}
  const routes = Array.isArray(ipam['routes']) ? ipam['routes'] : []
  const defaultRoute = routes.some((r) => isObject(r) && (r['dst'] === '0.0.0.0/0' || r['dst'] === '::/0'))
  const rawLabels = config['nerdctlLabels']
  const labels: Record<string, string> = {}
  if (isObject(rawLabels)) {
    for (const [k, v] of Object.entries(rawLabels)) if (typeof v === 'string') labels[k] = v
  }
  const id = stringOf(config['nerdctlID'])
  const driver = first?.type ?? ''
  const mtu = first !== undefined && typeof first['mtu'] === 'number' && first['mtu'] > 0 ? first['mtu'] : undefined
  const record: NetworkRecord = {
    name: config.name,
    id,
    driver,
    subnets: subnetsOf(ipam),
    internal: first !== undefined && !defaultRoute && first['ipMasq'] !== true && ipam['type'] === 'host-local',
    labels,
    file,
    config,
    isDefault: DEFAULT_NETWORK_LABEL in labels || config.name === DEFAULT_NETWORK_NAME,
    managed: id !== undefined,
    namespace,
  }
  if (driver === 'bridge') record.bridge = stringOf(first?.['bridge']) ?? 'cni0' // the bridge plugin's default device
  if (driver === 'macvlan' || driver === 'ipvlan') record.parent = stringOf(first?.['master'])
  if (mtu !== undefined) record.mtu = mtu
  return record
}
