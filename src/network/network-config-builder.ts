/**
 * Builds the conflist of a network the way `nerdctl network create` writes it (nerdctl `pkg/netutil`:
 * `generateNetworkConfig`, `generateCNIPlugins`, `generateIPAM`, `parseIPAMRange`), key for key and in the
 * same order, so `nerdctl network ls/inspect` and our store read each other's files. Pure: the store
 * decides the subnet (it needs the other networks to) and passes it in.
 */

import { createHash } from 'node:crypto'
import type { CallOptions } from '../grpc/call-options.js'
import { InvalidArgumentError } from '../grpc/errors.js'
import { CALL_OPTION_KEYS, checkOptionKeys, describe, keysOf } from '../client/option-check.js'
import type { CniPluginConfig, NetworkConfigList } from './cni/network-config.js'
import { DEFAULT_NETWORK_LABEL, DEFAULT_NETWORK_NAME, type NetworkDriver } from './network-record.js'
import { cidrContains, cidrContainsCidr, familyBits, firstHost, formatCidr, formatIp, lastAddress, parseIp, parseSubnet, type Cidr } from './subnet.js'

/** The CNI spec version nerdctl writes. */
export const NETWORK_CNI_VERSION = '1.0.0'

/** The default network's subnet (nerdctl's `DefaultCIDR`). */
export const DEFAULT_NETWORK_SUBNET = '10.4.0.0/24'

/** Where the search for a free subnet starts for other networks (nerdctl's `StartingCIDR`). */
export const FIRST_AUTOMATIC_SUBNET = '10.4.1.0/24'

/** The default network's bridge device. */
export const DEFAULT_BRIDGE_DEVICE = 'nerdctl0'

/** Names no network may take: Docker's and nerdctl's pseudo networks (`bridge` only as the default network). */
export const RESERVED_NETWORK_NAMES: readonly string[] = ['host', 'none', DEFAULT_NETWORK_NAME]

/** Options of a new network. */
export interface NetworkCreateOptions extends CallOptions {
  /** `bridge` (default), `macvlan` or `ipvlan`. */
  driver?: NetworkDriver | undefined
  /**
   * The network's subnet, IPv4 (`10.5.0.0/16`) or IPv6 (`fd00:1::/64`, then the network is IPv6-only, like
   * nerdctl's `--ipv4=false --ipv6`). Default: the first free `/24` from `10.4.1.0/24` up that overlaps no
   * other network and no address on the host.
   */
  subnet?: string | undefined
  /** The gateway; inside the subnet. Default: the subnet's first address. Needs `subnet`. */
  gateway?: string | undefined
  /** A CIDR inside the subnet that containers get their addresses from. Default: the whole subnet. Needs `subnet`. */
  ipRange?: string | undefined
  /** No route out: no default route, no masquerading, no port publishing (nerdctl's `--internal`). Default false. */
  internal?: boolean | undefined
  /** Labels, kept in the conflist's `nerdctlLabels`. They replace nothing: a network's labels are set once. */
  labels?: Record<string, string> | undefined
  /**
   * The host interface a macvlan/ipvlan network hangs off (`-o parent=`). Default: none written, and the
   * plugin takes the interface of the host's default route when a container joins, as with nerdctl.
   */
  parent?: string | undefined
  /** The MTU of the network's interfaces. Default: the plugin's (the parent's, or 1500). */
  mtu?: number | undefined
}

/** The keys {@link NetworkCreateOptions} knows, for the run-time check of JavaScript callers' options. */
export const NETWORK_CREATE_OPTION_KEYS = keysOf<NetworkCreateOptions>()({
  ...CALL_OPTION_KEYS,
  driver: true,
  subnet: true,
  gateway: true,
  ipRange: true,
  internal: true,
  labels: true,
  parent: true,
  mtu: true,
})

/** nerdctl's network id: the hex sha256 of the name (`networkID` in `pkg/netutil`), so the same name gives the same id everywhere. */
export function networkId(name: string): string {
  return createHash('sha256').update(name).digest('hex')
}

/** The host bridge device of a bridge network: `nerdctl0` for the default one, else `br-` and the id's first 12 hex digits. */
export function bridgeDeviceName(name: string): string {
  return name === DEFAULT_NETWORK_NAME ? DEFAULT_BRIDGE_DEVICE : `br-${networkId(name).slice(0, 12)}`
}

// Docker's and nerdctl's identifier rule (`identifiers.ValidateDockerCompat`).
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
// The file is `nerdctl-<name>.conflist`, and a file name has at most 255 bytes.
const MAX_NAME_LENGTH = 255 - 'nerdctl-.conflist'.length

/**
 * Checks a network name: nerdctl's rule (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`), short enough for its file name, and
 * not one of {@link RESERVED_NETWORK_NAMES} (`bridge` is allowed with `allowDefault`, for the default network).
 * @throws InvalidArgumentError naming the rule broken.
 */
export function validateNetworkName(name: string, options: { allowDefault?: boolean } = {}): void {
  if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('a network name must not be empty')
  if (!NETWORK_NAME.test(name)) {
    throw new InvalidArgumentError(`invalid network name ${JSON.stringify(name)}: it must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`)
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(`invalid network name ${JSON.stringify(name.slice(0, 20))}…: at most ${MAX_NAME_LENGTH} characters`)
  }
  if (RESERVED_NETWORK_NAMES.includes(name) && !(name === DEFAULT_NETWORK_NAME && options.allowDefault === true)) {
    throw new InvalidArgumentError(`network name ${JSON.stringify(name)} is reserved for the pre-defined ${name} network`)
  }
}

/** One host-local range, as nerdctl's `IPAMRange`. */
export interface IpamRange {
  /** The subnet, in Go's form (`10.4.1.0/24`). */
  subnet: string
  /** The gateway address. */
  gateway: string
  /** The user's ipRange, kept for inspect (host-local ignores it). */
  ipRange?: string | undefined
  /** The first address host-local hands out (from ipRange). */
  rangeStart?: string | undefined
  /** The last address host-local hands out (from ipRange). */
  rangeEnd?: string | undefined
}

/**
 * Checks the options that need no knowledge of other networks: known keys, driver, labels, MTU, parent,
 * and gateway/ipRange against the subnet when one is given.
 * @throws InvalidArgumentError naming the option and the fix.
 */
export function validateCreateOptions(options: NetworkCreateOptions): void {
  checkOptionKeys(options, NETWORK_CREATE_OPTION_KEYS, 'network create options')
  const driver = options.driver ?? 'bridge'
  if (driver !== 'bridge' && driver !== 'macvlan' && driver !== 'ipvlan') {
    throw new InvalidArgumentError(`unsupported network driver ${describe(driver)}: use "bridge", "macvlan" or "ipvlan"`)
  }
  for (const key of ['subnet', 'gateway', 'ipRange', 'parent'] as const) {
    const value = options[key]
    if (value !== undefined && (typeof value !== 'string' || value === '')) throw new InvalidArgumentError(`network option ${key} must be a non-empty string, got ${describe(value)}`)
  }
  if (options.internal !== undefined && typeof options.internal !== 'boolean') throw new InvalidArgumentError(`network option internal must be a boolean, got ${describe(options.internal)}`)
  if (options.mtu !== undefined && (!Number.isInteger(options.mtu) || options.mtu < 68 || options.mtu > 65535)) {
    throw new InvalidArgumentError(`network option mtu must be an integer from 68 to 65535, got ${describe(options.mtu)}`)
  }
  if (options.parent !== undefined && driver === 'bridge') {
    throw new InvalidArgumentError('network option parent is for the macvlan and ipvlan drivers: a bridge network has no parent interface')
  }
  if (options.labels !== undefined) {
    if (typeof options.labels !== 'object' || options.labels === null || Array.isArray(options.labels)) {
      throw new InvalidArgumentError(`network option labels must be an object of strings, got ${describe(options.labels)}`)
    }
    for (const [k, v] of Object.entries(options.labels)) {
      if (typeof v !== 'string') throw new InvalidArgumentError(`network label ${JSON.stringify(k)} must be a string, got ${describe(v)}`)
      if (k === DEFAULT_NETWORK_LABEL) throw new InvalidArgumentError(`the label ${DEFAULT_NETWORK_LABEL} marks the default network; it cannot be set on another`)
    }
  }
  if (options.subnet === undefined) {
    if (options.gateway !== undefined || options.ipRange !== undefined) {
      throw new InvalidArgumentError('cannot set gateway or ipRange without subnet: give the subnet too')
    }
    return
  }
  resolveIpamRange(parseSubnet(options.subnet), options.gateway, options.ipRange)
}

/**
 * The host-local range of a subnet (nerdctl's `parseIPAMRange`): the gateway (default the first address),
 * and for an `ipRange` its first and last address as `rangeStart`/`rangeEnd`.
 * @throws InvalidArgumentError when the gateway or range is malformed or outside the subnet.
 */
export function resolveIpamRange(subnet: Cidr, gateway?: string, ipRange?: string): IpamRange {
  const subnetText = formatCidr(subnet)
  let gatewayText = formatIp(firstHost(subnet))
  if (gateway !== undefined) {
    const address = parseIp(gateway)
    if (address === undefined) throw new InvalidArgumentError(`failed to parse gateway ${JSON.stringify(gateway)}: not an IP address`)
    if (!cidrContains(subnet, address)) throw new InvalidArgumentError(`gateway ${gateway} is not in subnet ${subnetText}`)
    if (address.value === subnet.network) throw new InvalidArgumentError(`gateway ${gateway} is the network address of ${subnetText}`)
    gatewayText = formatIp(address)
  }
  const range: IpamRange = { subnet: subnetText, gateway: gatewayText }
  if (ipRange !== undefined) {
    const block = parseSubnet(ipRange, 'ipRange')
    if (!cidrContainsCidr(subnet, block)) throw new InvalidArgumentError(`ipRange ${ipRange} is not in subnet ${subnetText}`)
    let end = lastAddress(block)
    // nerdctl writes the range's last address as is; when that is the subnet's IPv4 broadcast address,
    // host-local would hand it out, so stop one short (host-local's own default end does the same).
    if (block.family === 4 && end.value === lastAddress(subnet).value && subnet.prefix < familyBits(4) - 1) end = { ...end, value: end.value - 1n }
    range.rangeStart = formatIp(firstHost(block))
    range.rangeEnd = formatIp(end)
    range.ipRange = ipRange
  }
  return range
}

/** What {@link buildNetworkConfig} needs: the validated options plus the subnet the store chose. */
export interface NetworkConfigInput {
  /** The network's name (the default network's is `bridge`). */
  name: string
  /** The first plugin. */
  driver: NetworkDriver
  /** The host-local range (see {@link resolveIpamRange}). */
  range: IpamRange
  /** The family of `range.subnet`: an IPv6 network gets the `ips` capability and a `::/0` route. */
  family: 4 | 6
  /** No default route, no masquerading, no portmap. */
  internal: boolean
  /** The `nerdctlLabels` (empty: the key is left out). */
  labels: Record<string, string>
  /** macvlan/ipvlan `master`. */
  parent?: string | undefined
  /** The plugin's `mtu`. */
  mtu?: number | undefined
}

/**
 * The conflist nerdctl writes for these settings. Keys come in nerdctl's order (its structs' field order;
 * the IPAM section sorted, because nerdctl turns it into a Go map); empty ones are left out as Go's
 * `omitempty` does.
 */
export function buildNetworkConfig(input: NetworkConfigInput): NetworkConfigList {
  const ipv6 = input.family === 6
  // Sorted keys, as Go marshals a map.
  const rangeEntry: Record<string, string> = {}
  for (const key of ['gateway', 'ipRange', 'rangeEnd', 'rangeStart', 'subnet'] as const) {
    const value = input.range[key]
    if (value !== undefined) rangeEntry[key] = value
  }
  const ipam: Record<string, unknown> = { ranges: [[rangeEntry]] }
  if (!input.internal) ipam['routes'] = [{ dst: ipv6 ? '::/0' : '0.0.0.0/0' }]
  ipam['type'] = 'host-local'

  const plugins: CniPluginConfig[] = []
  if (input.driver === 'bridge') {
    const bridge: CniPluginConfig = { type: 'bridge', bridge: bridgeDeviceName(input.name) }
    if (!input.internal) {
      bridge['isGateway'] = true
      bridge['ipMasq'] = true
    }
    if (input.mtu !== undefined) bridge['mtu'] = input.mtu
    bridge['hairpinMode'] = true
    bridge['ipam'] = ipam
    if (ipv6) bridge.capabilities = { ips: true }
    plugins.push(bridge)
    // An internal network publishes no ports, so it has no portmap.
    if (!input.internal) plugins.push({ type: 'portmap', capabilities: { portMappings: true } })
    plugins.push({ type: 'firewall', ingressPolicy: 'same-bridge' }, { type: 'tuning' })
  } else {
    // nerdctl writes `master` even when empty: the plugin then uses the default route's interface.
    const vlan: CniPluginConfig = { type: input.driver, master: input.parent ?? '' }
    if (input.mtu !== undefined) vlan['mtu'] = input.mtu
    vlan['ipam'] = ipam
    if (ipv6) vlan.capabilities = { ips: true }
    plugins.push(vlan)
  }

  // nerdctlID and nerdctlLabels sit between name and plugins, as in nerdctl's files; no labels, no key.
  return {
    cniVersion: NETWORK_CNI_VERSION,
    name: input.name,
    nerdctlID: networkId(input.name),
    ...(Object.keys(input.labels).length > 0 ? { nerdctlLabels: sortedLabels(input.labels) } : {}),
    plugins,
  }
}

/** Labels with sorted keys, as Go marshals a map. */
function sortedLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key of Object.keys(labels).sort()) out[key] = labels[key] ?? ''
  return out
}

/** The file text of a conflist: two-space indented JSON, as nerdctl's `json.MarshalIndent(conf, "", "  ")`. */
export function serializeNetworkConfig(config: NetworkConfigList): string {
  return JSON.stringify(config, null, 2)
}
