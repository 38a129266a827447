/**
 * containerd's `hosts.toml` (the registry host configuration in `certs.d/<host>/`), parsed into plain
 * host specifications without touching the file system.
 *
 * The file lists `[host."<url>"]` tables, tried in file order, then the top-level table that describes the
 * upstream `server` (or, without `server`, the default upstream for the registry name).
 */
import { posix, isAbsolute, join } from 'node:path'
import { parse, TomlError } from 'smol-toml'
import { RegistryError } from './registry-error.js'

/** An operation a host may be used for. */
export type HostCapability = 'pull' | 'resolve' | 'push' | 'referrers'

/** Every capability: what a host gets when its configuration names none. */
export const ALL_CAPABILITIES: readonly HostCapability[] = ['pull', 'resolve', 'push', 'referrers']

/** One host from hosts.toml (or from a Docker-style certificate directory), before files are read. */
export interface HostSpec {
  /** `http` or `https`; absent for the default upstream, which the resolver fills in. */
  scheme?: 'http' | 'https'
  /** `host[:port]` exactly as written (a default port is kept: it matters for the HTTP rules); absent for the default upstream. */
  host?: string
  /** API root path, normally ending in `/v2`. */
  path: string
  /** What the host may be used for. */
  capabilities: Set<HostCapability>
  /** Absolute paths of CA certificate files. */
  caFiles?: string[]
  /** Absolute paths of client certificate and key files; without a key file the key is in the certificate file. */
  clientPairs?: Array<{ cert: string; key?: string }>
  /** Set when the file says `skip_verify`, either way. */
  skipVerify?: boolean
  /** Extra request headers. */
  headers: Record<string, string[]>
  /** The path is the full API root as written, `/v2` is not appended. */
  overridePath: boolean
  /** Connect timeout from `dial_timeout`, in milliseconds. */
  dialTimeoutMs?: number
}

/**
 * Parses hosts.toml text. Relative certificate paths resolve against `baseDir`, the file's directory.
 *
 * @throws RegistryError `InvalidConfig` for TOML syntax errors (with line and column, never the text: a
 *   header may hold a token), unknown capabilities, and values of the wrong type.
 */
export function parseHostsToml(text: string, baseDir: string): HostSpec[] {
  let doc: Record<string, unknown>
  try {
    doc = parse(text)
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0] ?? 'syntax error'
      throw new RegistryError('InvalidConfig', `hosts.toml: ${reason} (line ${err.line}, column ${err.column})`)
    }
    throw new RegistryError('InvalidConfig', 'hosts.toml: cannot parse')
  }

  const specs: HostSpec[] = []
  const hostTables = doc['host']
  if (hostTables !== undefined) {
    if (!isTable(hostTables)) throw invalid('"host" must be a table of [host."<url>"] entries')
    // Object key order is document order (smol-toml inserts as it reads), which is the order to try hosts.
    for (const [server, table] of Object.entries(hostTables)) {
      if (!isTable(table)) throw invalid(`host "${server}" must be a table`)
      specs.push(hostSpec(server, table, baseDir))
    }
  }

  const server = doc['server']
  if (server !== undefined && typeof server !== 'string') throw invalid('"server" must be a string')
  specs.push(hostSpec(server ?? '', doc, baseDir))
  return specs
}

function hostSpec(server: string, table: Record<string, unknown>, baseDir: string): HostSpec {
  const where = server === '' ? 'top level' : `host "${server}"`
  const overridePath = optionalBoolean(table, 'override_path', where) ?? false
  const spec: HostSpec = { path: '/v2', capabilities: capabilities(table['capabilities'], where), headers: {}, overridePath }

  if (server !== '') {
    const { scheme, host, path } = splitServer(server, where)
    spec.scheme = scheme
    spec.host = host
    spec.path = apiPath(path, overridePath)
  }

  const skipVerify = optionalBoolean(table, 'skip_verify', where)
  if (skipVerify !== undefined) spec.skipVerify = skipVerify

  const ca = table['ca']
  if (ca !== undefined) {
    if (typeof ca === 'string') spec.caFiles = [absolute(ca, baseDir)]
    else if (isStringArray(ca)) spec.caFiles = ca.map((p) => absolute(p, baseDir))
    else throw invalid(`${where}: "ca" must be a path or a list of paths`)
  }

  const client = table['client']
  if (client !== undefined) spec.clientPairs = clientPairs(client, baseDir, where)

  const header = table['header']
  if (header !== undefined) {
    if (!isTable(header)) throw invalid(`${where}: "header" must be a table`)
    for (const [name, value] of Object.entries(header)) {
      // The name is safe to report; the value may be a credential (`authorization = "Bearer …"`).
      if (typeof value === 'string') spec.headers[name] = [value]
      else if (isStringArray(value)) spec.headers[name] = [...value]
      else throw invalid(`${where}: header "${name}" must be a string or a list of strings`)
    }
  }

  const dialTimeout = table['dial_timeout']
  if (dialTimeout !== undefined) {
    const ms = typeof dialTimeout === 'string' ? parseGoDuration(dialTimeout) : undefined
    if (ms === undefined) throw invalid(`${where}: "dial_timeout" must be a duration such as "3s" or "500ms"`)
    spec.dialTimeoutMs = ms
  }
  return spec
}

// A server without a scheme is HTTPS, as in containerd.
function splitServer(server: string, where: string): { scheme: 'http' | 'https'; host: string; path: string } {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `https://${server}`
  const schemeEnd = withScheme.indexOf('://')
  const scheme = withScheme.slice(0, schemeEnd).toLowerCase()
  if (scheme !== 'http' && scheme !== 'https') throw invalid(`${where}: the scheme must be http or https`)
  const rest = withScheme.slice(schemeEnd + 3)
  const slash = rest.search(/[/?#]/)
  const host = slash < 0 ? rest : rest.slice(0, slash)
  const path = slash < 0 ? '' : rest.slice(slash).replace(/[?#].*$/, '')
  try {
    // Only to validate the host; the original spelling is kept (URL would drop a default port).
    new URL(`${scheme}://${host}/`)
  } catch {
    throw invalid(`${where}: not a valid server URL`)
  }
  if (host === '') throw invalid(`${where}: the server URL has no host`)
  return { scheme, host, path }
}

// The API root: the cleaned path with `/v2` appended unless it is there already or override_path says the
// path is the complete root (registries that serve the API under a prefix).
function apiPath(path: string, overridePath: boolean): string {
  let clean = path === '' ? '' : posix.normalize(path).replace(/\/+$/, '')
  if (clean === '.') clean = ''
  if (overridePath || clean.endsWith('/v2')) return clean
  return `${clean}/v2`
}

function capabilities(value: unknown, where: string): Set<HostCapability> {
  if (value === undefined) return new Set(ALL_CAPABILITIES)
  if (!isStringArray(value)) throw invalid(`${where}: "capabilities" must be a list of strings`)
  if (value.length === 0) return new Set(ALL_CAPABILITIES)
  const out = new Set<HostCapability>()
  for (const raw of value) {
    const cap = raw.toLowerCase()
    if (!(ALL_CAPABILITIES as readonly string[]).includes(cap)) {
      throw invalid(`${where}: unknown capability "${raw}" (expected pull, resolve, push or referrers)`)
    }
    out.add(cap as HostCapability)
  }
  return out
}

// `client` is a path (certificate and key in one file), a list of such paths, or a list of [cert, key] pairs.
function clientPairs(value: unknown, baseDir: string, where: string): Array<{ cert: string; key?: string }> {
  const pair = (cert: string, key: string): { cert: string; key?: string } =>
    key === '' ? { cert: absolute(cert, baseDir) } : { cert: absolute(cert, baseDir), key: absolute(key, baseDir) }
  if (typeof value === 'string') return [pair(value, '')]
  if (!Array.isArray(value)) throw invalid(`${where}: "client" must be a path, a list of paths or a list of [cert, key] pairs`)
  return value.map((item: unknown) => {
    if (typeof item === 'string') return pair(item, '')
    if (isStringArray(item) && item.length === 2) return pair(item[0] ?? '', item[1] ?? '')
    throw invalid(`${where}: each "client" entry must be a path or a [cert, key] pair`)
  })
}

/** Parses a Go duration (`"3s"`, `"1m30s"`, `"250ms"`) into milliseconds; `undefined` when malformed. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0
  const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y
  let total = 0
  let pos = 0
  while (pos < text.length) {
    part.lastIndex = pos
    const m = part.exec(text)
    if (m === null) return undefined
    total += Number(m[1]) * (unitMs[m[2] ?? ''] ?? Number.NaN)
    pos = part.lastIndex
  }
  return pos === 0 || !Number.isFinite(total) ? undefined : total
}

function optionalBoolean(table: Record<string, unknown>, key: string, where: string): boolean | undefined {
  const value = table[key]
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw invalid(`${where}: "${key}" must be true or false`)
  return value
}

function absolute(path: string, baseDir: string): string {
  return isAbsolute(path) ? path : join(baseDir, path)
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string')
}

function invalid(message: string): RegistryError {
  return new RegistryError('InvalidConfig', `hosts.toml: ${message}`)
}
