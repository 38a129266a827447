/**
 * Name resolution between containers, nerdctl's way (`pkg/dnsutil/hostsstore`): no DNS server, but one
 * /etc/hosts file per container, rewritten whenever a container on one of its networks comes or goes.
 *
 * Layout, shared with nerdctl: `<data store>/etchosts/<namespace>/<id>/hosts` (bind-mounted at /etc/hosts)
 * and `<id>/meta.json`, the container's names and addresses while it runs. Every change takes the `flock`
 * nerdctl takes on `etchosts/<namespace>`, then regenerates the hosts file of every container that has a
 * `meta.json`, so nerdctl's containers and ours see each other.
 *
 * A container's hosts file holds, between `# <nerdctl>` and `# </nerdctl>`: the localhost lines, its extra
 * hosts (`--add-host`), then one line per address of every container sharing a network with it (itself
 * included): `<ip> [hostname.domainname] hostname hostname.<net> name name.<net>` (no `.<net>` names on
 * the default network `bridge`). Containers on other networks are not listed. Lines a user added outside the
 * markers are kept.
 *
 * The hosts file is rewritten in place, never replaced by a rename: a running container's bind mount pins
 * the file's inode, and would keep showing the old one.
 */

import { readOptional } from '../util/optional-file.js'
import { chmod, readdir, rm } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { InvalidArgumentError, NotFoundError } from '../grpc/errors.js'
import { ensureStoreDir, withDirLock, writeFileAtomic, type DirLockOptions } from '../nerdctl/dir-lock.js'
import { writeFileInPlace } from './network-files.js'

/** nerdctl's default network: its members get no `name.bridge` entries (`netutil.DefaultNetworkName`). */
export const DEFAULT_NETWORK_NAME = 'bridge'

/** The comment that opens the block the store owns in a hosts file. */
export const HOSTS_MARKER_BEGIN = '<nerdctl>'

/** The comment that closes the block the store owns in a hosts file. */
export const HOSTS_MARKER_END = '</nerdctl>'

/** What the store knows of one running container (its `meta.json`). */
export interface HostsMeta {
  /** The container's id: the store's directory name. */
  id: string
  /** The container's hostname (nerdctl's default: the first 12 characters of the id). */
  hostname: string
  /** Its domain name (`--domainname`): adds `hostname.domainname` in front of the names. */
  domainname?: string | undefined
  /** Its name (`--name`). */
  name?: string | undefined
  /**
   * Its addresses by network name, from the CNI results: `10.4.0.5/24` or a bare `10.4.0.5`.
   * Loopback and unspecified addresses are ignored, as nerdctl does.
   */
  networks: Readonly<Record<string, readonly string[]>>
  /**
   * Extra entries (`--add-host`), `host:ip` as in nerdctl's `nerdctl/extraHosts` label; the ip must be an
   * address (resolve Docker's `host-gateway` first, as nerdctl does at create time).
   */
  extraHosts?: readonly string[] | undefined
}

/** The fields {@link HostsStore.update} can change. */
export type HostsMetaUpdate = Partial<Omit<HostsMeta, 'id'>>

/** The hosts and meta files of the containers of one namespace; see the file comment. */
export class HostsStore {
  /** `<data store>/etchosts/<namespace>`: the locked directory holding one directory per container. */
  readonly root: string

  /**
   * A store over `<dataStore>/etchosts/<namespace>` (nothing is created until a method writes).
   * @throws InvalidArgumentError for an empty data store or namespace.
   */
  constructor(dataStore: string, namespace: string) {
    if (dataStore === '' || namespace === '' || namespace.includes('/')) {
      throw new InvalidArgumentError(`hosts store: invalid data store ${JSON.stringify(dataStore)} or namespace ${JSON.stringify(namespace)}`)
    }
    this.root = join(dataStore, 'etchosts', namespace)
  }

  /** Where container `id`'s hosts file is (it may not exist yet). */
  hostsPath(id: string): string {
    return join(this.root, checkId(id), 'hosts')
  }

  /**
   * Makes sure container `id` has a hosts file (empty, mode 0644) to bind-mount at /etc/hosts when the
   * container is created, and returns its path. An existing file is left as it is: a container being
   * re-created keeps what it has (nerdctl #3907). Its entries come with {@link acquire}.
   */
  async allocate(id: string, options: DirLockOptions = {}): Promise<string> {
    const path = this.hostsPath(id)
    await withDirLock(this.root, () => this.ensureHostsFile(id), options)
    return path
  }

  /**
   * Records a container as running with these names and addresses (its `meta.json`, replacing any), and
   * regenerates the hosts file of every container in the store, so it and the containers sharing a network
   * with it resolve each other by name. Creates the container's hosts file if {@link allocate} did not.
   * @throws InvalidArgumentError for an invalid id, hostname, address or extra host.
   */
  async acquire(meta: HostsMeta, options: DirLockOptions = {}): Promise<void> {
    const json = metaToJson(validateMeta(meta))
    await withDirLock(
      this.root,
      async () => {
        await this.ensureHostsFile(meta.id)
        await writeFileAtomic(join(this.root, meta.id, 'meta.json'), json)
        await this.regenerate()
      },
      options,
    )
  }

  /**
   * Changes a running container's recorded names or addresses (say, after a rename) and regenerates every
   * hosts file. Fields of a `meta.json` written by nerdctl that this store does not model are kept.
   * @throws NotFoundError when the container has no `meta.json` (it was never acquired, or released).
   */
  async update(id: string, changes: HostsMetaUpdate, options: DirLockOptions = {}): Promise<void> {
    checkId(id)
    await withDirLock(
      this.root,
      async () => {
        const raw = await this.readRaw(id)
        if (raw === undefined) throw new NotFoundError(`hosts store: container ${id} has no entry`)
        const merged = validateMeta({ ...metaFromJson(raw, id), ...definedOnly(changes), id })
        const next = JSON.parse(metaToJson(merged)) as Record<string, unknown>
        // Keep nerdctl's full CNI results when the networks did not change.
        if (changes.networks === undefined) next['Networks'] = raw['Networks']
        await writeFileAtomic(join(this.root, id, 'meta.json'), JSON.stringify({ ...raw, ...next }))
        await this.regenerate()
      },
      options,
    )
  }

  /**
   * Forgets a container's names and addresses (its task stopped) and regenerates the other containers'
   * hosts files. Its own hosts file stays, as in nerdctl, for the container to use when it starts again;
   * {@link delete} removes it. Releasing a container that is not recorded does nothing but regenerate.
   */
  async release(id: string, options: DirLockOptions = {}): Promise<void> {
    checkId(id)
    await withDirLock(
      this.root,
      async () => {
        await rm(join(this.root, id, 'meta.json'), { force: true })
        await this.regenerate()
      },
      options,
    )
  }

  /** Removes everything the store has of a container (on container removal); regenerates the others if it was recorded. */
  async delete(id: string, options: DirLockOptions = {}): Promise<void> {
    checkId(id)
    await withDirLock(
      this.root,
      async () => {
        const recorded = (await this.readRaw(id)) !== undefined
        await rm(join(this.root, id), { recursive: true, force: true })
        if (recorded) await this.regenerate()
      },
      options,
    )
  }

  /** The recorded meta of a container, or `undefined` when it has none. Not locked: meta files are replaced by rename. */
  async read(id: string): Promise<HostsMeta | undefined> {
    const raw = await this.readRaw(checkId(id))
    return raw === undefined ? undefined : metaFromJson(raw, id)
  }

  private async ensureHostsFile(id: string): Promise<void> {
    await ensureStoreDir(join(this.root, id))
    const path = join(this.root, id, 'hosts')
    const existing = await readOptional(path)
    if (existing === undefined) await writeFileInPlace(path, '', 0o644)
    // World-readable whatever the umask: the container's processes run as any user.
    await chmod(path, 0o644)
  }

  private async readRaw(id: string): Promise<Record<string, unknown> | undefined> {
    const text = await readOptional(join(this.root, id, 'meta.json'))
    if (text === undefined) return undefined
    try {
      const value: unknown = JSON.parse(text)
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
    } catch {
      return undefined
    }
  }

  /** Rewrites the hosts file of every recorded container. Runs under the store's lock. */
  private async regenerate(): Promise<void> {
    let entries: string[]
    try {
      entries = (await readdir(this.root, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    entries.sort()
    const metas: HostsMeta[] = []
    for (const entry of entries) {
      const raw = await this.readRaw(entry)
      // A meta that cannot be read (half-written by a crash, foreign) is skipped, as nerdctl skips it.
      if (raw !== undefined) metas.push(metaFromJson(raw, entry))
    }
    let failure: unknown
    for (const meta of metas) {
      const path = join(this.root, meta.id, 'hosts')
      try {
        const current = await readOptional(path)
        // No hosts file (removed by hand, or never allocated by nerdctl): nothing is mounted to update.
        if (current === undefined) continue
        await writeFileInPlace(path, renderHostsFile(meta, metas, current), 0o644)
        await chmod(path, 0o644)
      } catch (err) {
        // One container's unwritable file must not keep the others stale: write them all, then report.
        failure ??= err
      }
    }
    if (failure !== undefined) throw failure
  }
}

/**
 * The hosts file of container `self` given every recorded container (`all`, `self` among them) and the
 * file's current content, whose lines outside the store's block are kept. Pure; exported for tests.
 */
export function renderHostsFile(self: HostsMeta, all: readonly HostsMeta[], current = ''): string {
  let out = keptLines(current)
  out += `# ${HOSTS_MARKER_BEGIN}\n`
  out += '127.0.0.1\tlocalhost localhost.localdomain\n'
  out += '::1\t\tlocalhost localhost.localdomain\n'
  for (const [host, ip] of extraHostPairs(self.extraHosts ?? [])) out += `${ip.padEnd(15)} ${host}\n`
  const mine = new Set(Object.keys(self.networks))
  const seen = new Set<string>()
  for (const network of [...mine].sort()) {
    for (const other of all) {
      for (const address of other.networks[network] ?? []) {
        const ip = usableIp(address)
        // One line per address, as nerdctl keys its map by IP.
        if (ip === undefined || seen.has(ip)) continue
        seen.add(ip)
        out += `${ip.padEnd(15)} ${namesOf(other, network).join(' ')}\n`
      }
    }
  }
  out += `# ${HOSTS_MARKER_END}\n`
  return out
}

/** The names of `meta` on `network`, in nerdctl's order (`createLine`). */
function namesOf(meta: HostsMeta, network: string): string[] {
  const names: string[] = []
  if (meta.domainname !== undefined && meta.domainname !== '' && meta.hostname !== '') names.push(`${meta.hostname}.${meta.domainname}`)
  for (const base of [meta.hostname, meta.name ?? '']) {
    if (base === '') continue
    names.push(base)
    if (network !== DEFAULT_NETWORK_NAME) names.push(`${base}.${network}`)
  }
  return names
}

/**
 * The lines of a hosts file outside the store's block, as nerdctl keeps them: trimmed, tabs made spaces,
 * without blank lines, comments, localhost (127.0.0.1, ::1) lines and lines carrying a trailing comment.
 */
function keptLines(content: string): string {
  let out = ''
  let skipping = false
  for (const raw of content.split('\n')) {
    const line = raw.replace(/^[ \t]+|[ \t]+$/g, '').replaceAll('\t', ' ')
    let endsBlock = false
    if (line.startsWith('#')) {
      const comment = line.slice(1).trim()
      if (comment === HOSTS_MARKER_BEGIN) skipping = true
      else if (comment === HOSTS_MARKER_END) endsBlock = true
    }
    if (!skipping && line !== '' && !line.startsWith('#') && !line.startsWith(';')) {
      const space = line.indexOf(' ')
      const address = space === -1 ? line : line.slice(0, space)
      const names = space === -1 ? [] : line.slice(space + 1).split(/\s+/).filter(Boolean)
      if (address !== '127.0.0.1' && address !== '::1' && names.length > 0 && !names.some((n) => n.startsWith('#'))) out += `${line}\n`
    }
    if (endsBlock) skipping = false
  }
  return out
}

/** `host:ip` pairs split at the first colon (the ip may be IPv6), sorted by host for a stable file. */
function extraHostPairs(extraHosts: readonly string[]): [string, string][] {
  const pairs = new Map<string, string>()
  for (const entry of extraHosts) {
    const colon = entry.indexOf(':')
    if (colon > 0) pairs.set(entry.slice(0, colon), entry.slice(colon + 1))
  }
  return [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/** The IP of `10.4.0.5/24` or `10.4.0.5`, or `undefined` for loopback, unspecified or invalid addresses. */
function usableIp(address: string): string | undefined {
  const ip = address.split('/')[0] ?? ''
  const family = isIP(ip)
  if (family === 0) return undefined
  if (family === 4 && (ip.startsWith('127.') || ip === '0.0.0.0')) return undefined
  if (family === 6) {
    // The URL parser gives IPv6 its canonical (compressed, lower-case) form.
    const canonical = new URL(`http://[${ip}]/`).hostname.slice(1, -1)
    return canonical === '::' || canonical === '::1' ? undefined : canonical
  }
  return ip
}

function checkId(id: string): string {
  if (typeof id !== 'string' || id === '' || id === '.' || id === '..' || id.includes('/') || id.startsWith('.')) {
    throw new InvalidArgumentError(`hosts store: invalid container id ${JSON.stringify(id)}`)
  }
  return id
}

function validateMeta(meta: HostsMeta): HostsMeta {
  checkId(meta.id)
  for (const [field, value] of [
    ['hostname', meta.hostname],
    ['domainname', meta.domainname],
    ['name', meta.name],
  ] as const) {
    if (value !== undefined && /\s|#/.test(value)) throw new InvalidArgumentError(`hosts store: ${field} ${JSON.stringify(value)} contains white space or "#"`)
  }
  for (const [network, addresses] of Object.entries(meta.networks)) {
    if (network === '' || /\s/.test(network)) throw new InvalidArgumentError(`hosts store: invalid network name ${JSON.stringify(network)}`)
    for (const address of addresses) {
      const [ip, prefix, ...rest] = address.split('/')
      const family = isIP(ip ?? '')
      const bits = family === 4 ? 32 : 128
      if (family === 0 || rest.length > 0 || (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= bits))) {
        throw new InvalidArgumentError(`hosts store: ${JSON.stringify(address)} on network ${network} is not an IP address`)
      }
    }
  }
  for (const entry of meta.extraHosts ?? []) {
    const colon = entry.indexOf(':')
    const host = entry.slice(0, Math.max(colon, 0))
    if (colon <= 0 || /\s|#/.test(host) || isIP(entry.slice(colon + 1)) === 0) {
      throw new InvalidArgumentError(`hosts store: extra host ${JSON.stringify(entry)} is not host:ip`)
    }
  }
  return meta
}

/**
 * nerdctl's `meta.json`: Go's field names (no JSON tags), `Networks` holding each network's CNI result
 * (types100.Result; nerdctl reads `ips[].address`, a CIDR), `ExtraHosts` a host → ip map.
 */
function metaToJson(meta: HostsMeta): string {
  const networks: Record<string, unknown> = {}
  for (const [network, addresses] of Object.entries(meta.networks)) {
    networks[network] = {
      cniVersion: '1.0.0',
      ips: addresses.map((a) => ({ address: a.includes('/') ? a : `${a}/${isIP(a) === 4 ? 32 : 128}` })),
      dns: {},
    }
  }
  return JSON.stringify({
    ID: meta.id,
    Networks: networks,
    Hostname: meta.hostname,
    ExtraHosts: Object.fromEntries(extraHostPairs(meta.extraHosts ?? [])),
    Name: meta.name ?? '',
    Domainname: meta.domainname ?? '',
  })
}

function metaFromJson(raw: Record<string, unknown>, entry: string): HostsMeta {
  const str = (value: unknown): string => (typeof value === 'string' ? value : '')
  const networks: Record<string, string[]> = {}
  if (typeof raw['Networks'] === 'object' && raw['Networks'] !== null) {
    for (const [network, result] of Object.entries(raw['Networks'] as Record<string, unknown>)) {
      const ips = (result as { ips?: unknown } | null)?.ips
      networks[network] = Array.isArray(ips) ? ips.map((ip) => str((ip as { address?: unknown } | null)?.address)).filter((a) => a !== '') : []
    }
  }
  const extraHosts: string[] = []
  if (typeof raw['ExtraHosts'] === 'object' && raw['ExtraHosts'] !== null) {
    for (const [host, ip] of Object.entries(raw['ExtraHosts'] as Record<string, unknown>)) extraHosts.push(`${host}:${str(ip)}`)
  }
  // The directory names the container; nerdctl writes the same id in `ID`.
  const meta: HostsMeta = { id: entry, hostname: str(raw['Hostname']), networks, extraHosts }
  if (str(raw['Name']) !== '') meta.name = str(raw['Name'])
  if (str(raw['Domainname']) !== '') meta.domainname = str(raw['Domainname'])
  return meta
}

function definedOnly(changes: HostsMetaUpdate): HostsMetaUpdate {
  return Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) as HostsMetaUpdate
}

