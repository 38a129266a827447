/**
 * `host[:port]` handling for registry names, where IPv6 literals come bracketed (`[::1]:5000`) and a bare
 * `::1` must not be mistaken for a host with a port.
 */
import { BlockList, isIP } from 'node:net'

/** A registry name split into host and port; `port` is `''` when there is none. */
export interface HostPort {
  /** The host name or IP literal, without brackets. */
  host: string
  /** The port as written, or `''`. */
  port: string
}

/** Splits `host:port`, `[v6]:port`, `[v6]`, a bare IPv6 literal or a plain host. Never throws. */
export function splitHostPort(value: string): HostPort {
  if (value.startsWith('[')) {
    const close = value.indexOf(']')
    if (close > 0) {
      const rest = value.slice(close + 1)
      return { host: value.slice(1, close), port: rest.startsWith(':') ? rest.slice(1) : '' }
    }
  }
  const first = value.indexOf(':')
  // More than one colon without brackets can only be an IPv6 literal, which has no port.
  if (first < 0 || value.indexOf(':', first + 1) >= 0) return { host: value, port: '' }
  return { host: value.slice(0, first), port: value.slice(first + 1) }
}

const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')

/**
 * True for `localhost` and loopback IP literals (127.0.0.0/8, ::1, IPv4-mapped loopback), with or without a
 * port. These registries get containerd's relaxed defaults (HTTP, no certificate verification).
 */
export function isLocalhost(value: string): boolean {
  const { host } = splitHostPort(value)
  if (host.toLowerCase() === 'localhost') return true
  const family = isIP(host)
  if (family === 0) return false
  return loopback.check(host, family === 4 ? 'ipv4' : 'ipv6')
}
