/**
 * The result a CNI plugin prints for ADD (CNI spec §"Success"), as versions 1.0.0, 0.4.0 and 0.3.x
 * write it, and the container's addresses read from it.
 */

import { isIP } from 'node:net'

/** An interface a plugin created or configured. */
export interface CniInterface {
  /** The interface name (`eth0` in the container, `veth…` or the bridge on the host). */
  name: string
  /** Its MAC address. */
  mac?: string
  /** The network namespace path it lives in; absent or empty for host interfaces. */
  sandbox?: string
  /** Other keys (`mtu`, `socketPath`, `pciID` in 1.1.0). */
  [key: string]: unknown
}

/** An address assigned to an interface. */
export interface CniIpConfig {
  /** The address with its prefix length, e.g. `10.4.0.2/24`. */
  address: string
  /** The gateway, when there is one. */
  gateway?: string
  /** The index in `interfaces` of the interface the address is on. */
  interface?: number
  /** `4` or `6`: only in 0.3.x and 0.4.0 results (1.0.0 dropped it). */
  version?: string
}

/** A route the plugin set up (or wants set up) in the container. */
export interface CniRoute {
  /** The destination, e.g. `0.0.0.0/0`. */
  dst: string
  /** The next hop; the gateway of the address when absent. */
  gw?: string
  /** Other keys (`mtu`, `advmss`, `priority`, … in 1.1.0). */
  [key: string]: unknown
}

/** DNS settings a plugin suggests for the container. */
export interface CniDns {
  /** Name servers, in order of preference. */
  nameservers?: string[]
  /** The local domain. */
  domain?: string
  /** Search domains. */
  search?: string[]
  /** Resolver options. */
  options?: string[]
}

/** A plugin's (or a chain's) ADD result, version 1.0.0, 0.4.0 or 0.3.x. Unknown keys are kept. */
export interface CniResult {
  /** The spec version the result is written in. */
  cniVersion: string
  /** Interfaces created or configured. */
  interfaces?: CniInterface[]
  /** Addresses assigned. */
  ips?: CniIpConfig[]
  /** Routes. */
  routes?: CniRoute[]
  /** DNS settings. */
  dns?: CniDns
  /** Other keys, passed on untouched as the next plugin's `prevResult`. */
  [key: string]: unknown
}

/**
 * Checks that `value` (a plugin's parsed stdout) has the shape of a {@link CniResult}, and returns it
 * unchanged: the next plugin must see every key the previous one printed.
 * @returns the result, or a description of what is wrong with it.
 */
export function parseCniResult(value: unknown): { result: CniResult } | { problem: string } {
  if (!isObject(value)) return { problem: 'the result is not a JSON object' }
  if (typeof value['cniVersion'] !== 'string') return { problem: 'the result has no cniVersion' }
  const interfaces = value['interfaces']
  if (interfaces !== undefined) {
    if (!Array.isArray(interfaces)) return { problem: 'interfaces is not an array' }
    const bad = interfaces.findIndex((i) => !isObject(i) || typeof i['name'] !== 'string')
    if (bad >= 0) return { problem: `interfaces[${bad}] has no name` }
  }
  const ips = value['ips']
  if (ips !== undefined) {
    if (!Array.isArray(ips)) return { problem: 'ips is not an array' }
    const bad = ips.findIndex((ip) => !isObject(ip) || typeof ip['address'] !== 'string' || (ip['interface'] !== undefined && typeof ip['interface'] !== 'number'))
    if (bad >= 0) return { problem: `ips[${bad}] has no address, or a non-numeric interface` }
  }
  const routes = value['routes']
  if (routes !== undefined) {
    if (!Array.isArray(routes)) return { problem: 'routes is not an array' }
    const bad = routes.findIndex((r) => !isObject(r) || typeof r['dst'] !== 'string')
    if (bad >= 0) return { problem: `routes[${bad}] has no dst` }
  }
  if (value['dns'] !== undefined && !isObject(value['dns'])) return { problem: 'dns is not an object' }
  return { result: value as CniResult }
}

/** One address of the container. */
export interface CniAddress {
  /** The address without its prefix, e.g. `10.4.0.2`. */
  ip: string
  /** The prefix length, e.g. 24. */
  prefixLength: number
  /** The gateway, when the result names one. */
  gateway?: string
}

/** The container's addresses on one interface. */
export interface ContainerAddresses {
  /** The interface's MAC address, when the result has it. */
  mac: string | undefined
  /** IPv4 addresses, in the result's order. */
  ipv4: CniAddress[]
  /** IPv6 addresses, in the result's order. */
  ipv6: CniAddress[]
}

/**
 * The container's addresses and MAC on `ifName`: the result's interface of that name whose `sandbox`
 * is set (the host side of a veth pair, or a bridge, may have any name but no sandbox), and the `ips`
 * pointing at it. When no address names an interface (allowed by the spec; some IPAM-only results do
 * that), every address is taken as the container's.
 * @returns empty lists and no MAC when the result has nothing for `ifName`.
 */
export function containerAddresses(result: CniResult, ifName: string): ContainerAddresses {
  const interfaces = result.interfaces ?? []
  const index = interfaces.findIndex((i) => i.name === ifName && typeof i.sandbox === 'string' && i.sandbox !== '')
  const ips = result.ips ?? []
  const indexed = ips.some((ip) => ip.interface !== undefined)
  const mine = indexed ? (index < 0 ? [] : ips.filter((ip) => ip.interface === index)) : ips
  const out: ContainerAddresses = { mac: index < 0 ? undefined : interfaces[index]?.mac, ipv4: [], ipv6: [] }
  for (const ip of mine) {
    const slash = ip.address.indexOf('/')
    const address = slash < 0 ? ip.address : ip.address.slice(0, slash)
    const family = isIP(address)
    if (family === 0) continue
    const prefixLength = slash < 0 ? (family === 4 ? 32 : 128) : Number(ip.address.slice(slash + 1))
    const entry: CniAddress = { ip: address, prefixLength }
    if (ip.gateway !== undefined) entry.gateway = ip.gateway
    ;(family === 4 ? out.ipv4 : out.ipv6).push(entry)
  }
  return out
}

/** Whether `value` is a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
