/**
 * Host-port bookkeeping before a container is made: choosing free ports for `-p 8080` (host port 0) and
 * refusing a host port that is already taken, with a clear error instead of a container that silently
 * does not receive its traffic.
 *
 * Why read `/proc/net/{tcp,tcp6,udp,udp6}` rather than bind a socket to port 0 and close it:
 * - CNI's `portmap` publishes with DNAT rules, not sockets, so nothing we bind would hold the port anyway;
 *   what matters is what the host has bound, and /proc says so without side effects;
 * - it works for ports below 1024 (a test bind needs root there), for UDP, and for a specific host address;
 * - port 0 binds draw from the kernel's ephemeral range (32768–60999), which outgoing connections also use;
 *   nerdctl and Docker choose from 49153–60999 instead, moving a cursor forward so a port just given up is
 *   not handed out again at once. We do the same (`pkg/portutil/port_allocate_linux.go`).
 * /proc shows the sockets of this process's network namespace: run where the ports are published (the host).
 *
 * What /proc cannot show: ports published by other containers through DNAT. nerdctl reads the portmap
 * plugin's iptables chains for those; we leave it to the caller, who knows them from the other containers'
 * `network-config.json`, and takes them as `reserved`.
 */

import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { endianness } from 'node:os'
import { join } from 'node:path'
import { ConflictError, ResourceExhaustedError } from '../grpc/errors.js'
import { DEFAULT_HOST_IP, formatHostPort, type PortMapping, type PortProtocol } from './port-spec.js'

/** First port chosen for a mapping without a host port (Docker's `portallocator` range, which nerdctl copies). */
export const ALLOCATE_START = 49153

/** Last port chosen for a mapping without a host port. */
export const ALLOCATE_END = 60999

/** One socket of the host, as `/proc/net/<proto>` lists it. */
export interface HostSocket {
  /** `tcp` or `udp` (IPv6 sockets included, from the `6` files). */
  protocol: 'tcp' | 'udp'
  /** Local address, IPv4-mapped IPv6 addresses written as IPv4. */
  address: string
  /** Local port. */
  port: number
  /** The kernel's socket state number (TCP: 1 established, 6 TIME_WAIT, 8 CLOSE_WAIT, 10 LISTEN). */
  state: number
}

/** Options of {@link allocateHostPorts} and {@link checkHostPortsFree}. */
export interface HostPortOptions {
  /** Where the socket tables are read. Default `/proc/net`; tests point it at a directory of fixtures. */
  procNetDir?: string
  /**
   * Host ports already taken without a socket (other containers' published ports, which `portmap`
   * implements with DNAT): never chosen, and a conflict when asked for.
   */
  reserved?: readonly PortMapping[]
}

const TCP_LISTEN = 0x0a
const TCP_TIME_WAIT = 0x06
const TCP_CLOSE_WAIT = 0x08

// Where the next search for a free port starts, kept for the life of the process like nerdctl's
// `allocateStart`, so a port a removed container just gave up is not the next one handed out; a random
// start, so that processes allocating at the same moment (their DNAT rules are not sockets the other
// can see until they exist) rarely pick the same port.
let cursor = ALLOCATE_START + Math.floor(Math.random() * (ALLOCATE_END - ALLOCATE_START))

/**
 * Fills in `hostPort: 0` mappings with free host ports from {@link ALLOCATE_START}–{@link ALLOCATE_END}:
 * ports no socket of the same protocol uses on any address (connections in TIME_WAIT or CLOSE_WAIT do not
 * count, as in nerdctl), not in `reserved`, and not given to another mapping of the same call. Mappings
 * with a host port are returned unchanged (check them with {@link checkHostPortsFree}). Returns new objects;
 * the input is not changed. SCTP has no /proc table: only `reserved` and the call's own choices count.
 *
 * The choice is a snapshot: another process may take the port before the container publishes it, as with
 * nerdctl and Docker.
 * @throws ResourceExhaustedError when the range has no free port left.
 */
export async function allocateHostPorts(mappings: readonly PortMapping[], options: HostPortOptions = {}): Promise<PortMapping[]> {
  if (!mappings.some((m) => m.hostPort === 0)) return mappings.map((m) => ({ ...m }))
  const used = new Map<PortProtocol, Set<number>>()
  const usedFor = async (protocol: PortProtocol): Promise<Set<number>> => {
    let set = used.get(protocol)
    if (set === undefined) {
      set = new Set<number>()
      if (protocol !== 'sctp') {
        for (const socket of await readHostSockets(protocol, options.procNetDir)) {
          if (protocol === 'tcp' && (socket.state === TCP_TIME_WAIT || socket.state === TCP_CLOSE_WAIT)) continue
          set.add(socket.port)
        }
      }
      for (const r of options.reserved ?? []) if (r.protocol === protocol) set.add(r.hostPort)
      // Explicit host ports of this same call are taken too.
      for (const m of mappings) if (m.protocol === protocol && m.hostPort !== 0) set.add(m.hostPort)
      used.set(protocol, set)
    }
    return set
  }
  const result: PortMapping[] = []
  for (const mapping of mappings) {
    if (mapping.hostPort !== 0) {
      result.push({ ...mapping })
      continue
    }
    const taken = await usedFor(mapping.protocol)
    const port = nextFreePort(taken)
    if (port === undefined) {
      throw new ResourceExhaustedError(
        `no free host port for ${mapping.containerPort}/${mapping.protocol} in ${ALLOCATE_START}-${ALLOCATE_END}`,
      )
    }
    taken.add(port)
    result.push({ ...mapping, hostPort: port })
  }
  return result
}

/**
 * Checks that no host port asked for is in use on its address: a TCP socket listening (or any UDP socket
 * bound) on the same address, on the wildcard address of its family (0.0.0.0, ::), or on any address of
 * the family when the mapping asks for the wildcard; `::` also covers IPv4, as a dual-stack socket does.
 * `reserved` mappings count alike. Two mappings of the call that claim the same port conflict too.
 * Mappings with `hostPort: 0` are skipped (allocate them first).
 * @throws ConflictError naming the first taken port: "port 127.0.0.1:18080/tcp is already in use".
 */
export async function checkHostPortsFree(mappings: readonly PortMapping[], options: HostPortOptions = {}): Promise<void> {
  const sockets = new Map<'tcp' | 'udp', HostSocket[]>()
  const claimed: PortMapping[] = [...(options.reserved ?? [])]
  for (const mapping of mappings) {
    if (mapping.hostPort === 0) continue
    const ip = mapping.hostIP ?? DEFAULT_HOST_IP
    if (mapping.protocol !== 'sctp') {
      let list = sockets.get(mapping.protocol)
      if (list === undefined) {
        list = (await readHostSockets(mapping.protocol, options.procNetDir)).filter(
          // A TCP port is taken by a listener; an outgoing connection's local port does not stop a DNAT
          // publish. Any bound UDP socket receives datagrams, so it counts.
          (s) => s.protocol === 'udp' || s.state === TCP_LISTEN,
        )
        sockets.set(mapping.protocol, list)
      }
      if (list.some((s) => s.port === mapping.hostPort && addressesOverlap(ip, s.address))) {
        throw new ConflictError(`port ${formatHostPort({ ...mapping, hostIP: ip })} is already in use`)
      }
    }
    const other = claimed.find(
      (c) => c.protocol === mapping.protocol && c.hostPort === mapping.hostPort && addressesOverlap(ip, c.hostIP ?? DEFAULT_HOST_IP),
    )
    if (other !== undefined) {
      throw new ConflictError(`port ${formatHostPort({ ...mapping, hostIP: ip })} is already in use (published as ${formatHostPort(other)})`)
    }
    claimed.push(mapping)
  }
}

/**
 * Reads the host's sockets of one protocol, IPv4 and IPv6 (`/proc/net/tcp` and `tcp6`, or `udp` and
 * `udp6`). A missing `6` file (IPv6 disabled) reads as empty.
 */
export async function readHostSockets(protocol: 'tcp' | 'udp', procNetDir = '/proc/net'): Promise<HostSocket[]> {
  const result: HostSocket[] = []
  for (const file of [protocol, `${protocol}6`]) {
    let text: string
    try {
      text = await readFile(join(procNetDir, file), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && file.endsWith('6')) continue
      throw err
    }
    result.push(...parseProcNet(text, protocol))
  }
  return result
}

/**
 * Parses one `/proc/net/{tcp,udp}{,6}` table (first line a header; then `sl local_address rem_address st …`,
 * addresses as hex `ADDR:PORT`, each 4-byte group of the address in the host's byte order).
 * Lines that do not parse are skipped.
 */
export function parseProcNet(text: string, protocol: 'tcp' | 'udp', littleEndian = endianness() === 'LE'): HostSocket[] {
  const sockets: HostSocket[] = []
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    const local = fields[1]
    const state = fields[3]
    if (local === undefined || state === undefined) continue
    const [hex, portHex] = local.split(':')
    if (hex === undefined || portHex === undefined || !/^[0-9A-Fa-f]+$/.test(hex + portHex)) continue
    if (hex.length !== 8 && hex.length !== 32) continue
    const bytes = Buffer.alloc(hex.length / 2)
    for (let i = 0; i < hex.length / 8; i++) {
      const word = Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16)
      // The kernel prints each 32-bit word of the address as a native-endian integer.
      const value = littleEndian ? ((word & 0xff) << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24) : word
      bytes.writeUInt32BE(value >>> 0, i * 4)
    }
    sockets.push({ protocol, address: formatAddress(bytes), port: Number.parseInt(portHex, 16), state: Number.parseInt(state, 16) })
  }
  return sockets
}

/** Whether a publish on `wanted` and a socket (or publish) on `bound` would compete for the same traffic. */
function addressesOverlap(wanted: string, bound: string): boolean {
  const a = normalize(wanted)
  const b = normalize(bound)
  if (a === b) return true
  // A dual-stack `::` socket receives IPv4 too (unless IPV6_V6ONLY, which /proc does not show: assume not).
  if (a === '::' || b === '::') return true
  const familyA = isIP(a)
  const familyB = isIP(b)
  if (familyA !== familyB) return false
  return isWildcard(a) || isWildcard(b)
}

function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::'
}

/** Lower-cases, strips an IPv4-mapped prefix and compresses IPv6 so equal addresses compare equal. */
function normalize(ip: string): string {
  const lower = ip.toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  if (mapped?.[1] !== undefined) return mapped[1]
  if (isIP(lower) !== 6) return lower
  try {
    return new URL(`http://[${lower}]/`).hostname.slice(1, -1)
  } catch {
    return lower
  }
}

function formatAddress(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.')
  // IPv4-mapped IPv6 (::ffff:a.b.c.d): a dual-stack socket bound to an IPv4 address.
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return [...bytes.subarray(12)].join('.')
  }
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16))
  return normalize(groups.join(':'))
}

function nextFreePort(taken: ReadonlySet<number>): number | undefined {
  const size = ALLOCATE_END - ALLOCATE_START + 1
  for (let i = 0; i < size; i++) {
    const port = ALLOCATE_START + ((cursor - ALLOCATE_START + i) % size)
    if (!taken.has(port)) {
      cursor = port + 1 > ALLOCATE_END ? ALLOCATE_START : port + 1
      return port
    }
  }
  return undefined
}
