/**
 * A container's /etc/resolv.conf, made the way nerdctl's CNI network manager makes it
 * (`pkg/containerutil/container_network_manager_linux.go` `buildResolvConf`, `pkg/resolvconf`, from moby):
 *
 * - nameservers, search domains and options each come from the caller (`--dns`, `--dns-search`,
 *   `--dns-option`) when given, else from the host's resolv.conf;
 * - the host's nameservers lose the loopback ones (127.0.0.0/8, ::1): inside the container's own network
 *   namespace they would be the container itself. nerdctl then keeps only the IPv4 ones (its bridge networks
 *   are IPv4), and when none is left uses Google's 8.8.8.8 and 8.8.4.4;
 * - written as `search …`, then `nameserver …` lines, then `options …`; a search list of just `.` means
 *   "no search line".
 *
 * When the host's /etc/resolv.conf names only systemd-resolved's stub (127.0.0.53), the file
 * systemd-resolved keeps with the real upstream servers is read instead, as Docker and nerdctl do.
 */

import { readOptional } from '../util/optional-file.js'
import { chmod } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { InvalidArgumentError } from '../grpc/errors.js'
import { writeFileInPlace } from './network-files.js'

/** The host's resolver configuration. */
export const HOST_RESOLV_CONF = '/etc/resolv.conf'

/** What systemd-resolved writes with the real upstream servers, used when the host file names only its stub. */
export const SYSTEMD_RESOLVED_RESOLV_CONF = '/run/systemd/resolve/resolv.conf'

/** The nameservers used when the host leaves none that a container can reach (moby's and nerdctl's default). */
export const DEFAULT_NAMESERVERS: readonly string[] = ['8.8.8.8', '8.8.4.4']

/** The caller's DNS settings; each given (non-empty) list replaces that part of the host's configuration. */
export interface DnsOptions {
  /** Nameserver addresses (`--dns`). */
  dns?: readonly string[] | undefined
  /** Search domains (`--dns-search`); `['.']` writes no search line. */
  dnsSearch?: readonly string[] | undefined
  /** Resolver options (`--dns-option`), e.g. `ndots:2`. */
  dnsOptions?: readonly string[] | undefined
}

/** Options of {@link writeResolvConf}. */
export interface WriteResolvConfOptions extends DnsOptions {
  /**
   * The host resolv.conf to start from. Default {@link HOST_RESOLV_CONF}, or
   * {@link SYSTEMD_RESOLVED_RESOLV_CONF} when the former names only 127.0.0.53. A missing file counts as empty.
   */
  hostResolvConf?: string | undefined
}

/** The parts of a resolv.conf that a container's file is made of. */
export interface ResolvConfParts {
  /** `nameserver` addresses, in order. */
  nameservers: string[]
  /** The last `search` line's domains. */
  search: string[]
  /** The last `options` line's options. */
  options: string[]
}

/**
 * Reads the parts of a resolv.conf: every `nameserver` line's address, and the last `search` and `options`
 * lines (the resolver's own rule: a later line replaces an earlier one). `#` and `;` start comments.
 */
export function parseResolvConf(content: string): ResolvConfParts {
  const parts: ResolvConfParts = { nameservers: [], search: [], options: [] }
  for (const raw of content.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim()
    const [keyword, ...values] = line.split(/\s+/)
    if (keyword === 'nameserver' && values[0] !== undefined && isIP(stripZone(values[0])) !== 0) {
      parts.nameservers.push(values[0])
    } else if (keyword === 'search') {
      // Like moby's GetSearchDomains, the older `domain` line is not read: containers get `search` only.
      parts.search = values
    } else if (keyword === 'options') {
      parts.options = values
    }
  }
  return parts
}

/**
 * The content of a container's resolv.conf from the host's (`undefined`: there is none) and the caller's
 * settings; see the file comment for the rules. Pure.
 * @throws InvalidArgumentError for a `dns` entry that is not an IP address, or a value with white space or a
 *   line break in it.
 */
export function buildResolvConf(hostContent: string | undefined, options: DnsOptions = {}): string {
  validate(options)
  const host = parseResolvConf(hostContent ?? '')
  const nameservers = nonEmpty(options.dns) ?? containerNameservers(host.nameservers)
  const search = nonEmpty(options.dnsSearch) ?? host.search
  const resolverOptions = nonEmpty(options.dnsOptions) ?? host.options
  let out = ''
  if (search.length > 0 && search.join(' ').trim() !== '.') out += `search ${search.join(' ')}\n`
  for (const ns of nameservers) out += `nameserver ${ns}\n`
  if (resolverOptions.length > 0) out += `options ${resolverOptions.join(' ')}\n`
  return out
}

/**
 * Reads the host's resolv.conf: `path` when given, else /etc/resolv.conf, or systemd-resolved's upstream
 * file when /etc/resolv.conf names only its stub 127.0.0.53 (and that file exists). `undefined` when the
 * file is missing.
 */
export async function readHostResolvConf(path?: string): Promise<string | undefined> {
  if (path !== undefined) return readOptional(path)
  const content = await readOptional(HOST_RESOLV_CONF)
  if (content === undefined) return undefined
  const { nameservers } = parseResolvConf(content)
  if (nameservers.length === 1 && nameservers[0] === '127.0.0.53') {
    return (await readOptional(SYSTEMD_RESOLVED_RESOLV_CONF)) ?? content
  }
  return content
}

/**
 * Writes `<stateDir>/resolv.conf` (mode 0644 whatever the umask, so any user in the container can read
 * it) from the host's file and the caller's settings, and returns its path. The state dir must exist.
 * The file is rewritten in place, so a container that already has it bind-mounted sees the new content.
 * @throws InvalidArgumentError as {@link buildResolvConf}.
 */
export async function writeResolvConf(stateDir: string, options: WriteResolvConfOptions = {}): Promise<string> {
  const content = buildResolvConf(await readHostResolvConf(options.hostResolvConf), options)
  const path = join(stateDir, 'resolv.conf')
  await writeFileInPlace(path, content, 0o644)
  await chmod(path, 0o644)
  return path
}

/** The host's nameservers a container on a bridge can use: IPv4, not loopback; else the defaults. */
function containerNameservers(hostServers: readonly string[]): string[] {
  const usable = hostServers.filter((ns) => isIP(ns) === 4 && !ns.startsWith('127.'))
  return usable.length > 0 ? usable : [...DEFAULT_NAMESERVERS]
}

function nonEmpty(list: readonly string[] | undefined): string[] | undefined {
  const values = (list ?? []).filter((v) => v.trim() !== '')
  return values.length > 0 ? values : undefined
}

function validate(options: DnsOptions): void {
  for (const ns of options.dns ?? []) {
    if (ns.trim() !== '' && isIP(stripZone(ns)) === 0) throw new InvalidArgumentError(`dns: ${JSON.stringify(ns)} is not an IP address`)
  }
  for (const [name, list] of [
    ['dnsSearch', options.dnsSearch],
    ['dnsOptions', options.dnsOptions],
  ] as const) {
    for (const value of list ?? []) {
      if (/\s/.test(value.trim())) throw new InvalidArgumentError(`${name}: ${JSON.stringify(value)} contains white space`)
    }
  }
}

/** `fe80::1%eth0` → `fe80::1`: a zone is allowed on a nameserver line but not by `isIP`. */
function stripZone(address: string): string {
  const percent = address.indexOf('%')
  return percent === -1 ? address : address.slice(0, percent)
}

