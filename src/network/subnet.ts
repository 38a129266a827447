/**
 * IPv4 and IPv6 address and CIDR arithmetic for the network config store: parsing, formatting the way Go's
 * `net` package prints (so the conflists we write read like nerdctl's), containment, overlap and the search
 * for a free subnet (nerdctl's `pkg/netutil/subnet`). Addresses are bigints, so one code path serves both
 * families.
 */

import { InvalidArgumentError } from '../grpc/errors.js'

/** An address family: 4 or 6. */
export type IpFamily = 4 | 6

/** A parsed IP address. */
export interface IpAddress {
  family: IpFamily
  /** The address as an unsigned integer (32 or 128 bits). */
  value: bigint
}

/** A parsed CIDR block (its host bits are zero). */
export interface Cidr {
  family: IpFamily
  /** The network address. */
  network: bigint
  /** The prefix length (0–32 or 0–128). */
  prefix: number
}

/** Number of bits of an address of the family. */
export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128
}

const IPV4_PART = /^(?:0|[1-9][0-9]{0,2})$/

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let value = 0n
  for (const part of parts) {
    if (!IPV4_PART.test(part)) return undefined
    const n = Number(part)
    if (n > 255) return undefined
    value = (value << 8n) | BigInt(n)
  }
  return value
}

function parseIpv6(text: string): bigint | undefined {
  if (text.includes('%')) return undefined // zones have no place in a CNI config
  let head = text
  let tail = ''
  const gap = text.indexOf('::')
  if (gap >= 0) {
    if (text.indexOf('::', gap + 1) >= 0) return undefined
    head = text.slice(0, gap)
    tail = text.slice(gap + 2)
  }
  const groups = (part: string): bigint[] | undefined => {
    if (part === '') return []
    const out: bigint[] = []
    const pieces = part.split(':')
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? ''
      // An embedded IPv4 address may end the text (`::ffff:10.0.0.1`).
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIpv4(piece)
        if (v4 === undefined) return undefined
        out.push(v4 >> 16n, v4 & 0xffffn)
        continue
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined
      out.push(BigInt(`0x${piece}`))
    }
    return out
  }
  const first = groups(head)
  const last = groups(tail)
  if (first === undefined || last === undefined) return undefined
  if (text.endsWith('.') || (gap < 0 && first.length !== 8) || first.length + last.length > (gap >= 0 ? 7 : 8)) return undefined
  const all = [...first, ...Array<bigint>(8 - first.length - last.length).fill(0n), ...last]
  return all.reduce((acc, g) => (acc << 16n) | g, 0n)
}

/** Parses an IPv4 or IPv6 address; undefined when it is neither. */
export function parseIp(text: string): IpAddress | undefined {
  if (typeof text !== 'string') return undefined
  if (text.includes(':')) {
    const value = parseIpv6(text)
    return value === undefined ? undefined : { family: 6, value }
  }
  const value = parseIpv4(text)
  return value === undefined ? undefined : { family: 4, value }
}

/** Formats an address as Go's `net.IP.String()` does (RFC 5952 for IPv6: lower case, longest zero run as `::`). */
export function formatIp(address: IpAddress): string {
  if (address.family === 4) {
    const v = address.value
    return [24n, 16n, 8n, 0n].map((shift) => String((v >> shift) & 0xffn)).join('.')
  }
  const groups: number[] = []
  for (let i = 7; i >= 0; i--) groups.push(Number((address.value >> BigInt(i * 16)) & 0xffffn))
  // The longest run of two or more zero groups (the first one on a tie) becomes `::`.
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':')
  if (bestStart < 0) return hex(groups)
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`
}

/** Parses `a.b.c.d/n` or `x::/n` into its block (host bits cleared) and the address as written; undefined when malformed. */
export function parseCidr(text: string): { cidr: Cidr; address: IpAddress } | undefined {
  if (typeof text !== 'string') return undefined
  const slash = text.indexOf('/')
  if (slash < 0) return undefined
  const address = parseIp(text.slice(0, slash))
  const prefixText = text.slice(slash + 1)
  if (address === undefined || !/^(?:0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined
  const prefix = Number(prefixText)
  if (prefix > familyBits(address.family)) return undefined
  return { cidr: { family: address.family, network: address.value & mask(address.family, prefix), prefix }, address }
}

/**
 * Parses a subnet as nerdctl's `--subnet` does: a CIDR whose host bits are zero.
 * @throws InvalidArgumentError for malformed text, or host bits set (naming the subnet probably meant).
 */
export function parseSubnet(text: string, what = 'subnet'): Cidr {
  const parsed = parseCidr(text)
  if (parsed === undefined) throw new InvalidArgumentError(`${what} ${JSON.stringify(text)} is not a CIDR such as 10.5.0.0/16 or fd00:1::/64`)
  if (parsed.address.value !== parsed.cidr.network) {
    throw new InvalidArgumentError(`unexpected ${what} ${JSON.stringify(text)}, maybe you meant ${JSON.stringify(formatCidr(parsed.cidr))}?`)
  }
  return parsed.cidr
}

/** The CIDR's text, in Go's `net.IPNet.String()` form. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp({ family: cidr.family, value: cidr.network })}/${cidr.prefix}`
}

/** The netmask of a prefix length, as an integer. */
function mask(family: IpFamily, prefix: number): bigint {
  const bits = BigInt(familyBits(family))
  const all = (1n << bits) - 1n
  return all ^ ((1n << (bits - BigInt(prefix))) - 1n)
}

/** Number of addresses in the block. */
export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(familyBits(cidr.family) - cidr.prefix)
}

/** The last address of the block (the IPv4 broadcast address). */
export function lastAddress(cidr: Cidr): IpAddress {
  return { family: cidr.family, value: cidr.network + cidrSize(cidr) - 1n }
}

/** The first address after the network address: nerdctl's default gateway (`FirstIPInSubnet`). */
export function firstHost(cidr: Cidr): IpAddress {
  return { family: cidr.family, value: cidr.prefix === familyBits(cidr.family) ? cidr.network : cidr.network + 1n }
}

/** Whether the block holds the address (never across families). */
export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  return cidr.family === address.family && address.value >= cidr.network && address.value < cidr.network + cidrSize(cidr)
}

/** Whether the block holds all of `inner`. */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix && cidrContains(outer, { family: inner.family, value: inner.network })
}

/** Whether two blocks share any address (one contains the other, as CIDR blocks never partly overlap). */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && (cidrContains(a, { family: b.family, value: b.network }) || cidrContains(b, { family: a.family, value: a.network }))
}

/** The block of the same size right after this one; undefined past the end of the address space. */
export function nextSubnet(cidr: Cidr): Cidr | undefined {
  const next = cidr.network + cidrSize(cidr)
  if (next >= 1n << BigInt(familyBits(cidr.family))) return undefined
  return { ...cidr, network: next }
}

/**
 * The first block of `start`'s size, at or after `start`, that overlaps none of `used`: nerdctl's
 * `GetFreeSubnet` (from `10.4.1.0/24` it tries 10.4.1.0/24, 10.4.2.0/24, … and on past 10.4.255.0/24 into
 * 10.5.0.0/24). A used block larger than the candidate is skipped in one step.
 * @returns undefined when the address space runs out.
 */
export function findFreeSubnet(start: Cidr, used: readonly Cidr[]): Cidr | undefined {
  let candidate: Cidr | undefined = start
  while (candidate !== undefined) {
    const current: Cidr = candidate
    const clash = used.find((u) => cidrsOverlap(current, u))
    if (clash === undefined) return current
    // Skip to the end of whichever of the two blocks is larger, aligned to the candidate's size.
    const end = clash.prefix < current.prefix ? clash.network + cidrSize(clash) : current.network + cidrSize(current)
    const size = cidrSize(current)
    const network = ((end + size - 1n) / size) * size
    candidate = network >= 1n << BigInt(familyBits(current.family)) ? undefined : { ...current, network }
  }
  return undefined
}
