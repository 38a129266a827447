/**
 * Docker's and nerdctl's `-p` / `--publish` syntax: `[hostIP:][hostPort:]containerPort[/protocol]`, each
 * port a number or a `start-end` range, an IPv6 host address in brackets (`[::1]:8080:80`). Parsing is pure:
 * a missing host port comes back as `hostPort: 0`, for {@link allocateHostPorts} (host-port.ts) to fill in.
 */

import { isIP } from 'node:net'
import { InvalidArgumentError } from '../grpc/errors.js'

/** A transport protocol a port can be published for (the ones the CNI `portmap` plugin knows). */
export type PortProtocol = 'tcp' | 'udp' | 'sctp'

/** One published port: traffic to `hostIP:hostPort` reaches the container's `containerPort`. */
export interface PortMapping {
  /** Port on the host; `0` until a free one is chosen (see `allocateHostPorts`). */
  hostPort: number
  /** Port in the container. */
  containerPort: number
  /** Transport protocol. */
  protocol: PortProtocol
  /** Host address the port is published on; absent or `0.0.0.0` means every IPv4 address. */
  hostIP?: string
}

/**
 * The host address of a spec that names none: nerdctl's `ParseFlagP` writes `0.0.0.0` into the mapping
 * (Docker does the same), so `inspect` and `ps` show `0.0.0.0:8080->80/tcp`.
 */
export const DEFAULT_HOST_IP = '0.0.0.0'

const PROTOCOLS: readonly PortProtocol[] = ['tcp', 'udp', 'sctp']

/**
 * Parses one `-p` value into the mappings it stands for, one per port of a range:
 * - `8080`: container port 8080, host port chosen later (`hostPort: 0`), on 0.0.0.0;
 * - `18080:8080`, `127.0.0.1:18080:8080`, `127.0.0.1::8080` (host port chosen), `[::1]:8080:80`;
 * - `8000-8005:9000-9005`: six mappings, pairwise; `9000-9005` alone: six with host ports to choose;
 * - `/udp`, `/sctp` or `/tcp` (the default) after the ports; the protocol is case-insensitive, as in nerdctl.
 *
 * A host port of `0` means "choose", as in Docker. The host IP is kept as written (brackets removed).
 * @throws InvalidArgumentError for an empty spec, more than one `/`, an unknown protocol, an invalid host
 *   address, a port that is not a number in 1–65535, a range whose end is below its start, or host and
 *   container ranges of different lengths (nerdctl's "pool" form `3000-3001:8080` is not supported: give
 *   one host port, or none to have one chosen).
 */
export function parsePortSpec(spec: string): PortMapping[] {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`invalid port spec ${JSON.stringify(spec)}: ${why} (expected [hostIP:][hostPort:]containerPort[/protocol])`)
  }
  if (typeof spec !== 'string' || spec.trim() === '') fail('it is empty')
  const slashParts = spec.trim().split('/')
  if (slashParts.length > 2) fail('more than one "/"')
  let protocol: PortProtocol = 'tcp'
  if (slashParts.length === 2) {
    const raw = (slashParts[1] ?? '').toLowerCase()
    const known = PROTOCOLS.find((p) => p === raw)
    if (known === undefined) fail(`unknown protocol ${JSON.stringify(slashParts[1])}; use tcp, udp or sctp`)
    else protocol = known
  }
  const { hostIP, hostPort, containerPort } = splitParts(slashParts[0] ?? '', fail)
  if (containerPort === '') fail('no container port')
  if (hostIP !== undefined && isIP(hostIP) === 0) fail(`${JSON.stringify(hostIP)} is not an IP address`)

  const container = parseRange(containerPort, 'container port', 1, fail)
  const count = container.end - container.start + 1
  // Docker treats an empty host port and `0` alike: the daemon chooses one.
  const host = hostPort === '' || hostPort === '0' ? undefined : parseRange(hostPort, 'host port', 1, fail)
  if (host !== undefined && host.end - host.start + 1 !== count) {
    fail(`host ports ${hostPort} and container ports ${containerPort} are ranges of different lengths`)
  }

  const mappings: PortMapping[] = []
  for (let i = 0; i < count; i++) {
    mappings.push({
      hostPort: host === undefined ? 0 : host.start + i,
      containerPort: container.start + i,
      protocol,
      hostIP: hostIP ?? DEFAULT_HOST_IP,
    })
  }
  return mappings
}

/** Parses several `-p` values (see {@link parsePortSpec}) into one list, in order. */
export function parsePortSpecs(specs: readonly string[]): PortMapping[] {
  return specs.flatMap((spec) => parsePortSpec(spec))
}

/** Formats a mapping as `hostIP:hostPort/protocol`, as error messages and `docker port` name the host side. */
export function formatHostPort(mapping: PortMapping): string {
  const ip = mapping.hostIP ?? DEFAULT_HOST_IP
  return `${isIP(ip) === 6 ? `[${ip}]` : ip}:${mapping.hostPort}/${mapping.protocol}`
}

/**
 * Splits `ip:hostPort:containerPort` at the last colon, then the left part as a `host:port` pair the way
 * Go's `net.SplitHostPort` does (brackets required around an IPv6 address), as nerdctl's `splitParts`.
 * A left part that is not `host:port` is the host port alone (`18080:8080`).
 */
function splitParts(
  raw: string,
  fail: (why: string) => never,
): { hostIP: string | undefined; hostPort: string; containerPort: string } {
  const last = raw.lastIndexOf(':')
  if (last === -1) return { hostIP: undefined, hostPort: '', containerPort: raw }
  const containerPort = raw.slice(last + 1)
  const left = raw.slice(0, last)
  if (left.startsWith('[')) {
    const close = left.indexOf(']')
    if (close === -1) fail('unclosed "[" around the host address')
    const rest = left.slice(close + 1)
    if (rest !== '' && !rest.startsWith(':')) fail('expected ":" after "]"')
    return { hostIP: left.slice(1, close), hostPort: rest.slice(1), containerPort }
  }
  const colon = left.lastIndexOf(':')
  if (colon === -1) return { hostIP: undefined, hostPort: left, containerPort }
  const ip = left.slice(0, colon)
  // An unbracketed IPv6 address (`::1:8080:80`) is ambiguous; Go's SplitHostPort rejects it too.
  if (ip.includes(':')) fail('an IPv6 host address must be in brackets, e.g. [::1]:8080:80')
  return { hostIP: ip === '' ? undefined : ip, hostPort: left.slice(colon + 1), containerPort }
}

function parseRange(text: string, what: string, min: number, fail: (why: string) => never): { start: number; end: number } {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text)
  if (match === null) return fail(`${what} ${JSON.stringify(text)} is not a port or a start-end range`)
  const start = Number(match[1])
  const end = match[2] === undefined ? start : Number(match[2])
  for (const port of [start, end]) {
    if (port < min || port > 65535) fail(`${what} ${port} is out of range ${min}-65535`)
  }
  if (end < start) fail(`${what} range ${text} ends before it starts`)
  return { start, end }
}
