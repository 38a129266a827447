/**
 * Which URLs to contact for a registry name, with what TLS settings, the way containerd (and nerdctl on
 * top of it) decides: a per-registry directory under `certs.d` holding `hosts.toml` or Docker-style
 * certificate files, then built-in defaults (Docker Hub's real host, plain HTTP for localhost).
 */
import { createPrivateKey } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import { BlockList, isIP } from 'node:net'
import { join } from 'node:path'
import { isLocalhost, splitHostPort } from './host-port.js'
import { ALL_CAPABILITIES, parseHostsToml, type HostCapability, type HostSpec } from './hosts-toml.js'
import { RegistryError } from './registry-error.js'

/** The directories searched by default, in order: containerd's, then Docker's. */
export const DEFAULT_CONFIG_DIRS: readonly string[] = ['/etc/containerd/certs.d', '/etc/docker/certs.d']

/** TLS settings for one host, shaped for `tls.connect` / `https.Agent` options. */
export interface RegistryTls {
  /**
   * Extra CA certificates (PEM) from the configuration, to be trusted in addition to the default roots
   * (as containerd adds them to the system pool). Only the extra ones: `sendRequest` in http-request.ts
   * appends Node's roots itself, since `ca` alone would replace them. Absent = default trust.
   */
  ca?: Buffer[]
  /** Client certificate (PEM) for mutual TLS. */
  cert?: Buffer
  /** Private key (PEM) of `cert`. */
  key?: Buffer
  /** False when certificate verification is off (`skip_verify`, insecure registry, localhost default). */
  rejectUnauthorized: boolean
}

/** One endpoint to try for a registry, in the order returned. */
export interface RegistryHost {
  /** Scheme, host and API root path (normally ending in `/v2`); requests append `/<repo>/manifests/…`. */
  url: URL
  /** What this host may be used for; mirrors are typically pull+resolve only. */
  capabilities: ReadonlySet<HostCapability>
  /** TLS settings. */
  tls: RegistryTls
  /** Extra request headers from hosts.toml. */
  headers: Record<string, string[]>
  /** The path in `url` came verbatim from hosts.toml (`override_path`). */
  overridePath: boolean
  /**
   * Try `url` first, and when the TLS handshake fails because the server speaks plain HTTP, retry the same
   * request over `http:`. Set for insecure registries and for HTTP hosts that also carry TLS settings.
   */
  plainHttpFallback: boolean
  /** Connect timeout from hosts.toml, in milliseconds. */
  dialTimeoutMs?: number
}

/** Options of {@link resolveRegistryHosts}. */
export interface ResolveRegistryHostsOptions {
  /** Directories holding one sub-directory per registry; searched in order. Default {@link DEFAULT_CONFIG_DIRS}. */
  configDirs?: readonly string[]
  /**
   * Registries to treat as insecure, like `--insecure-registry`: `host`, `host:port` or an IP range in CIDR
   * form. Their hosts skip certificate verification and may fall back to plain HTTP.
   */
  insecure?: readonly string[]
  /**
   * Told about configuration that was ignored rather than fatal: a hosts.toml that does not parse (containerd
   * then falls back to the certificate files in the directory), or extra client certificates.
   */
  onWarning?: (warning: RegistryError) => void
}

/**
 * Resolves the hosts to contact for registry `name` (`docker.io`, `ghcr.io`, `localhost:5000`, …), mirrors
 * first and the upstream last.
 *
 * @throws RegistryError `InvalidReference` for a malformed name; `InvalidConfig` when a configured
 *   certificate or key cannot be read or is not PEM.
 */
export async function resolveRegistryHosts(name: string, options: ResolveRegistryHostsOptions = {}): Promise<RegistryHost[]> {
  if (name === '' || /[\s/\\]/.test(name)) {
    throw new RegistryError('InvalidReference', `invalid registry name "${name}"`)
  }
  const dir = await findHostDirectory(name, options.configDirs ?? DEFAULT_CONFIG_DIRS)
  const specs = dir === undefined ? [defaultSpec()] : await loadHostDirectory(dir, options.onWarning)
  const last = specs[specs.length - 1]
  if (last !== undefined && last.host === undefined) fillDefaultUpstream(last, name)
  const insecure = isInsecure(name, options.insecure ?? [])
  return Promise.all(specs.map((spec) => toRegistryHost(spec, insecure, options.onWarning)))
}

/**
 * The directory configuring `name`: in each config directory in turn, `<host>_<port>_` (containerd's
 * spelling of a port), then `<name>`, then `_default`. The first config directory with any match wins,
 * as in nerdctl.
 *
 * @returns the directory, or `undefined` when none exists.
 */
export async function findHostDirectory(name: string, configDirs: readonly string[]): Promise<string | undefined> {
  for (const root of configDirs) {
    for (const candidate of hostDirectoryNames(name)) {
      const path = join(root, candidate)
      try {
        if ((await stat(path)).isDirectory()) return path
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code !== 'ENOENT' && code !== 'ENOTDIR') {
          throw new RegistryError('InvalidConfig', `cannot inspect ${path}`, { cause: err })
        }
      }
    }
  }
  return undefined
}

/** Directory names tried for `name`, most specific first: `host_port_` (only with a port), `name`, `_default`. */
export function hostDirectoryNames(name: string): string[] {
  const colon = name.lastIndexOf(':')
  const names: string[] = []
  // Colons are awkward in paths, so containerd spells `host:5000` as `host_5000_`.
  if (colon > 0) names.push(`${name.slice(0, colon)}_${name.slice(colon + 1)}_`)
  names.push(name, '_default')
  return names
}

/**
 * Reads one host directory: hosts.toml when present and non-empty, else the Docker layout (`*.crt` CAs,
 * `*.cert` client certificates with a matching `*.key`).
 */
export async function loadHostDirectory(dir: string, onWarning?: (warning: RegistryError) => void): Promise<HostSpec[]> {
  let text = ''
  try {
    text = await readFile(join(dir, 'hosts.toml'), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new RegistryError('InvalidConfig', `cannot read ${join(dir, 'hosts.toml')}`, { cause: err })
    }
  }
  if (text.trim() === '') return loadCertFiles(dir)
  try {
    return parseHostsToml(text, dir)
  } catch (err) {
    // containerd logs and falls back to the certificate files rather than failing every pull; we do the
    // same and let the caller log.
    if (!(err instanceof RegistryError)) throw err
    onWarning?.(new RegistryError('InvalidConfig', `${join(dir, 'hosts.toml')} ignored: ${err.message}`))
    return loadCertFiles(dir)
  }
}

async function loadCertFiles(dir: string): Promise<HostSpec[]> {
  let names: string[]
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.isDirectory()).map((e) => e.name)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') names = []
    else throw new RegistryError('InvalidConfig', `cannot list ${dir}`, { cause: err })
  }
  // readdir order is file-system dependent; sorted keeps the choice of "first client certificate" stable.
  names.sort()
  const spec = defaultSpec()
  const cas = names.filter((n) => n.endsWith('.crt')).map((n) => join(dir, n))
  if (cas.length > 0) spec.caFiles = cas
  const pairs = names
    .filter((n) => n.endsWith('.cert'))
    .map((n) => {
      const keyName = `${n.slice(0, -'.cert'.length)}.key`
      // Without a matching .key file the key is expected inside the .cert file.
      return names.includes(keyName) ? { cert: join(dir, n), key: join(dir, keyName) } : { cert: join(dir, n) }
    })
  if (pairs.length > 0) spec.clientPairs = pairs
  return [spec]
}

function defaultSpec(): HostSpec {
  return { path: '/v2', capabilities: new Set(ALL_CAPABILITIES), headers: {}, overridePath: false }
}

// The upstream for a registry name when the configuration does not name a server.
function fillDefaultUpstream(spec: HostSpec, name: string): void {
  spec.path = '/v2'
  spec.capabilities = new Set(ALL_CAPABILITIES)
  if (name === 'docker.io') {
    // Docker Hub's API is not served at the name images use.
    spec.scheme = 'https'
    spec.host = 'registry-1.docker.io'
    return
  }
  spec.host = name
  if (!isLocalhost(name)) {
    spec.scheme = 'https'
    return
  }
  // Local registries rarely have certificates. On the HTTPS port or without a port only HTTPS makes sense;
  // on port 80 only HTTP; on any other port start with HTTP — with verification off it is then tried as
  // HTTPS first and falls back to HTTP (see toRegistryHost), which serves both kinds of local registry.
  const { port } = splitHostPort(name)
  spec.scheme = port === '' || port === '443' ? 'https' : 'http'
  if (port !== '80') spec.skipVerify = true
}

async function toRegistryHost(
  spec: HostSpec,
  insecure: boolean,
  onWarning: ((warning: RegistryError) => void) | undefined,
): Promise<RegistryHost> {
  let scheme = spec.scheme ?? 'https'
  const host = spec.host ?? ''
  const skipVerify = insecure ? true : spec.skipVerify
  const explicitTls = spec.caFiles !== undefined || spec.clientPairs !== undefined || skipVerify !== undefined
  let plainHttpFallback = insecure

  // An HTTP host that also has TLS settings is ambiguous; like containerd, prefer HTTPS and fall back to
  // HTTP when the handshake shows a plain-HTTP server. Port 80 is unambiguous.
  if (scheme === 'http' && explicitTls && splitHostPort(host).port !== '80') {
    scheme = 'https'
    plainHttpFallback = true
  }

  const tls: RegistryTls = { rejectUnauthorized: skipVerify !== true }
  if (spec.caFiles !== undefined) {
    tls.ca = await Promise.all(spec.caFiles.map((file) => readPem(file, 'CA certificate', /-----BEGIN CERTIFICATE-----/)))
  }
  const pair = spec.clientPairs?.[0]
  if (pair !== undefined) {
    if ((spec.clientPairs?.length ?? 0) > 1) {
      // Node presents one client certificate per connection; containerd lets Go pick among several.
      onWarning?.(new RegistryError('InvalidConfig', `${host}: only the first client certificate (${pair.cert}) is used`))
    }
    const cert = await readPem(pair.cert, 'client certificate', /-----BEGIN CERTIFICATE-----/)
    const key = pair.key === undefined ? cert : await readPem(pair.key, 'client key', /PRIVATE KEY-----/)
    try {
      createPrivateKey(key)
    } catch {
      // No cause: the key's content must not travel in errors.
      throw new RegistryError('InvalidConfig', `${pair.key ?? pair.cert} does not hold a usable private key`)
    }
    tls.cert = cert
    tls.key = key
  }

  let url: URL
  try {
    // A bare IPv6 literal (`::1`) needs brackets to be a URL authority.
    const authority = isIP(host) === 6 ? `[${host}]` : host
    url = new URL(`${scheme}://${authority}${spec.path}`)
  } catch {
    throw new RegistryError('InvalidConfig', `invalid registry host "${host}"`)
  }
  const out: RegistryHost = {
    url,
    capabilities: spec.capabilities,
    tls,
    headers: spec.headers,
    overridePath: spec.overridePath,
    plainHttpFallback,
  }
  if (spec.dialTimeoutMs !== undefined) out.dialTimeoutMs = spec.dialTimeoutMs
  return out
}

async function readPem(file: string, what: string, marker: RegExp): Promise<Buffer> {
  let data: Buffer
  try {
    data = await readFile(file)
  } catch (err) {
    throw new RegistryError('InvalidConfig', `cannot read ${what} ${file}`, { cause: err })
  }
  if (!marker.test(data.toString('latin1'))) throw new RegistryError('InvalidConfig', `${what} ${file} is not PEM`)
  return data
}

/**
 * Whether `name` is in an insecure list: an entry equal to `name`, an entry without port naming its host,
 * or a CIDR range containing its IP literal. Scheme prefixes in entries are ignored.
 */
export function isInsecure(name: string, list: readonly string[]): boolean {
  const wanted = name.toLowerCase()
  const { host } = splitHostPort(wanted)
  const family = isIP(host)
  for (const raw of list) {
    const entry = raw.trim().toLowerCase().replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '')
    if (entry === '') continue
    const slash = entry.indexOf('/')
    if (slash > 0) {
      if (family === 0) continue
      const network = entry.slice(0, slash)
      const prefix = Number(entry.slice(slash + 1))
      const netFamily = isIP(network)
      if (netFamily === 0 || !Number.isInteger(prefix)) continue
      const range = new BlockList()
      try {
        range.addSubnet(network, prefix, netFamily === 4 ? 'ipv4' : 'ipv6')
      } catch {
        continue
      }
      if (range.check(host, family === 4 ? 'ipv4' : 'ipv6')) return true
      continue
    }
    if (entry === wanted) return true
    const parsed = splitHostPort(entry)
    if (parsed.port === '' && parsed.host === host) return true
  }
  return false
}
