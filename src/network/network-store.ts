/**
 * The network config store, compatible with nerdctl's (`pkg/netutil`): one `nerdctl-<name>.conflist` per
 * network in the CNI conf dir, written under nerdctl's lock, so networks made here show in
 * `nerdctl network ls` and the other way round.
 *
 * Layout (nerdctl `getConfigPathForNetworkName`, `fsRead`): the default network `bridge` is always at the top
 * of the conf dir; every other network goes to `<confDir>/<namespace>/` (nerdctl always has a namespace,
 * `default` unless told otherwise, so that folder is used for the `default` namespace too). A namespace sees
 * the configs at the top (shared by all namespaces, including hand-written ones like `10-mynet.conflist`)
 * and those in its own folder.
 */

import { exists } from '../util/optional-file.js'
import { execFile } from 'node:child_process'
import { saveTable, splitSavedRule } from './cni/iptables-save.js'
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { debuglog, promisify } from 'node:util'
import type { CallOptions } from '../grpc/call-options.js'
import {
  AlreadyExistsError,
  ConflictError,
  ContainerdError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
} from '../grpc/errors.js'
import { validateIdentifier } from '../client/identifiers.js'
import { CALL_OPTION_KEYS, checkOptionKeys, describe, keysOf } from '../client/option-check.js'
import { writeFileAtomic } from '../nerdctl/dir-lock.js'
import { withFileLock } from './conf-file-lock.js'
import {
  buildNetworkConfig,
  DEFAULT_NETWORK_SUBNET,
  FIRST_AUTOMATIC_SUBNET,
  resolveIpamRange,
  serializeNetworkConfig,
  validateCreateOptions,
  validateNetworkName,
  type NetworkCreateOptions,
} from './network-config-builder.js'
import { DEFAULT_NETWORK_LABEL, DEFAULT_NETWORK_NAME, parseNetworkConfigFile, toNetworkRecord, type NetworkRecord } from './network-record.js'
import { cidrsOverlap, findFreeSubnet, formatCidr, parseCidr, parseSubnet, type Cidr } from './subnet.js'

const debug = debuglog('containerd-sdk:network')

/** The CNI conf dir nerdctl uses when run as root (`--cni-netconfpath`, `$NETCONFPATH`). */
export const DEFAULT_CNI_CONF_DIR = '/etc/cni/net.d'

/** The namespace nerdctl uses when none is given. */
const DEFAULT_NAMESPACE = 'default'

/** The lock file nerdctl flocks around conf dir writes (`<confDir>/.nerdctl.lock`). */
export const CONF_DIR_LOCK_FILE = '.nerdctl.lock'

/** Extensions libcni reads as network configs (`libcni.ConfFiles(dir, [".conf", ".conflist", ".json"])`). */
const CONFIG_EXTENSIONS = ['.conf', '.conflist', '.json']

/** Permissions nerdctl gives the conf dir folders (`os.MkdirAll(path, 0755)`) and the conflists (0644). */
const DIR_MODE = 0o755
const FILE_MODE = 0o644

/** Options of {@link NetworkConfigStore}. */
export interface NetworkConfigStoreOptions {
  /** The CNI conf dir. Default {@link DEFAULT_CNI_CONF_DIR}. */
  confDir?: string | undefined
  /**
   * The containerd namespace whose networks this store sees (its folder `<confDir>/<namespace>/` plus the
   * top of the conf dir). Default `default`, as nerdctl. `''` means no namespace: networks are written at
   * the top, visible to every namespace (nerdctl's `CNIEnv` without `WithNamespace`).
   */
  namespace?: string | undefined
  /**
   * The host's own subnets, which new bridge networks must not overlap (a container there could not reach
   * the host's neighbours). Default: the address blocks of the host's interfaces, as nerdctl
   * (`GetLiveNetworkSubnets`). Mostly for tests.
   */
  hostSubnets?: (() => Promise<readonly string[]> | readonly string[]) | undefined
}

/** The keys {@link NetworkConfigStoreOptions} knows. */
const STORE_OPTION_KEYS = keysOf<NetworkConfigStoreOptions>()({ confDir: true, namespace: true, hostSubnets: true })

/**
 * Tells which containers use a network: their ids or names, none when it is unused. The store cannot see
 * containers (it lives below them); whoever builds it passes one that reads their `nerdctl/networks` labels.
 */
export type NetworkInUse = (network: NetworkRecord) => Promise<readonly string[]>

/** Options of {@link NetworkConfigStore.remove}. */
export interface NetworkRemoveOptions extends CallOptions {
  /** Who uses the network; a network in use is not removed. Required: pass `async () => []` to skip the check knowingly. */
  inUse: NetworkInUse
}

/** Options of {@link NetworkConfigStore.prune}. */
export interface NetworkPruneOptions extends CallOptions {
  /** Who uses each network; only networks nobody uses are removed. */
  inUse: NetworkInUse
}

const REMOVE_OPTION_KEYS = keysOf<NetworkRemoveOptions>()({ ...CALL_OPTION_KEYS, inUse: true })

/**
 * The networks nerdctl's `network prune` would remove, before asking who uses them: those it manages
 * (they have a `nerdctlID`), except the default network.
 */
export function selectPrunable(records: readonly NetworkRecord[]): NetworkRecord[] {
  return records.filter((r) => r.managed && !r.isDefault)
}

/**
 * The host interfaces' address blocks (`192.0.2.0/24`, `fe80::/64`, `127.0.0.0/8`, …), what nerdctl's
 * `GetLiveNetworkSubnets` reads. Routes are not consulted (nerdctl does not either: a VPN's `10.0.0.0/8`
 * route would push every automatic subnet out of private space); pass `hostSubnets` to add some.
 */
export function hostInterfaceSubnets(): string[] {
  const out: string[] = []
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      const parsed = a.cidr === null ? undefined : parseCidr(a.cidr.replace(/%[^/]*/, ''))
      if (parsed !== undefined) out.push(formatCidr(parsed.cidr))
    }
  }
  return out
}

/** A subnet in use, and what uses it (for the error message). */
interface UsedSubnet {
  cidr: Cidr
  owner: string
}

/**
 * nerdctl-compatible CNI network configs of one namespace: create, list, get, remove, prune, and the
 * default network `bridge`. Writes take `<confDir>/.nerdctl.lock`, as nerdctl does; reads take no lock,
 * because every write is a rename or an unlink, so a reader sees whole files. Within the lock, a create
 * reads the other networks, picks its subnet and writes its file, so concurrent creates (here or in
 * nerdctl) never pick the same subnet.
 */
export class NetworkConfigStore {
  /** The CNI conf dir. */
  readonly confDir: string
  /** The namespace (`''`: none). */
  readonly namespace: string
  readonly #hostSubnets: () => Promise<readonly string[]> | readonly string[]

  constructor(options: NetworkConfigStoreOptions = {}) {
    checkOptionKeys(options, STORE_OPTION_KEYS, 'network store options')
    this.confDir = options.confDir ?? DEFAULT_CNI_CONF_DIR
    this.namespace = options.namespace ?? DEFAULT_NAMESPACE
    if (this.namespace !== '') validateIdentifier('namespace', this.namespace)
    this.#hostSubnets = options.hostSubnets ?? hostInterfaceSubnets
  }

  /** The lock file's path. */
  get lockFile(): string {
    return join(this.confDir, CONF_DIR_LOCK_FILE)
  }

  /** The conflist path of a network: `nerdctl-<name>.conflist`, at the top for `bridge` or without a namespace, else in the namespace's folder. */
  configPath(name: string): string {
    if (name === DEFAULT_NETWORK_NAME || this.namespace === '') return join(this.confDir, `nerdctl-${name}.conflist`)
    return join(this.confDir, this.namespace, `nerdctl-${name}.conflist`)
  }

  /**
   * Creates a network and writes its conflist. Without a subnet it gets the first free `/24` from
   * `10.4.1.0/24` up.
   * @throws InvalidArgumentError for a bad name (reserved: `host`, `none`, `bridge`) or option;
   *   AlreadyExistsError when this namespace already sees a network of that name; ConflictError when the
   *   subnet overlaps another network or a host address; ResourceExhaustedError when no subnet is free.
   *   Nothing is written when it throws.
   */
  async create(name: string, options: NetworkCreateOptions = {}): Promise<NetworkRecord> {
    validateNetworkName(name)
    validateCreateOptions(options)
    return await this.#locked(async () => await this.#createLocked(name, options, false), options)
  }

  /**
   * The default network `bridge` (subnet 10.4.0.0/24, gateway 10.4.0.1, device `nerdctl0`), created at the
   * top of the conf dir if this namespace sees no default network yet. A network labelled
   * `nerdctl/default-network`, else one named `bridge`, counts as the default, as in nerdctl.
   * @throws ConflictError when 10.4.0.0/24 is taken by another network or a host address.
   */
  async ensureDefault(options: CallOptions = {}): Promise<NetworkRecord> {
    const existing = findDefault(await this.list())
    if (existing !== undefined) return existing
    return await this.#locked(
      async () => {
        const again = findDefault(await this.list())
        if (again !== undefined) return again
        return await this.#createLocked(DEFAULT_NETWORK_NAME, { subnet: DEFAULT_NETWORK_SUBNET, labels: {} }, true)
      },
      options,
    )
  }

  /**
   * The networks this namespace sees, in nerdctl's order (by file path): the configs at the top of the conf
   * dir and in the namespace's folder. Configs nerdctl did not write (no `nerdctlID`) are listed too, with
   * `managed: false`, because containers can join them by name as with nerdctl; they are never removed.
   * A file that cannot be parsed is skipped (see `NODE_DEBUG=containerd-sdk:network`).
   */
  async list(): Promise<NetworkRecord[]> {
    try {
      const top = await readConfigDir(this.confDir, undefined)
      const own = this.namespace === '' ? [] : await readConfigDir(join(this.confDir, this.namespace), this.namespace)
      return [...top, ...own].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    } catch (err) {
      throw fsError(err, `reading the CNI conf dir ${this.confDir}`)
    }
  }

  /** Runs `fn` under the conf dir lock; file system errors come out typed. */
  async #locked<T>(fn: () => Promise<T>, options: CallOptions): Promise<T> {
    try {
      return await withFileLock(this.lockFile, fn, options)
    } catch (err) {
      throw fsError(err, `writing to the CNI conf dir ${this.confDir}`)
    }
  }

  /**
   * A network by name, full id or unique id prefix (names win, as in nerdctl).
   * @throws NotFoundError naming the network; InvalidArgumentError for an ambiguous id prefix.
   */
  async get(nameOrId: string): Promise<NetworkRecord> {
    if (typeof nameOrId !== 'string' || nameOrId === '') throw new InvalidArgumentError(`network name or id must be a non-empty string, got ${describe(nameOrId)}`)
    const records = await this.list()
    const named = records.find((r) => r.name === nameOrId)
    if (named !== undefined) return named
    if (/^[0-9a-f]+$/.test(nameOrId)) {
      const matches = records.filter((r) => r.id?.startsWith(nameOrId) === true)
      const exact = matches.find((r) => r.id === nameOrId)
      if (exact !== undefined) return exact
      if (matches.length === 1 && matches[0] !== undefined) return matches[0]
      if (matches.length > 1) {
        throw new InvalidArgumentError(`id prefix ${nameOrId} matches ${matches.length} networks (${matches.map((r) => r.name).join(', ')}): give more of the id`)
      }
    }
    throw new NotFoundError(`no such network: ${JSON.stringify(nameOrId)}${this.namespace === '' ? '' : ` in namespace ${this.namespace}`}`)
  }

  /**
   * Removes a network's conflist (and its bridge device on the host, if there is one, as nerdctl does).
   * @throws NotFoundError when there is no such network; FailedPreconditionError when it is the default
   *   network, was not created by nerdctl or this SDK, or is in use ("network X is in use by container Y").
   */
  async remove(nameOrId: string, options: NetworkRemoveOptions): Promise<void> {
    checkOptionKeys(options, REMOVE_OPTION_KEYS, 'network remove options')
    if (typeof options.inUse !== 'function') throw new InvalidArgumentError('network remove needs an inUse function telling which containers use the network')
    const record = await this.get(nameOrId)
    if (record.isDefault) throw new FailedPreconditionError(`cannot remove pre-defined network ${record.name}`)
    if (!record.managed) throw new FailedPreconditionError(`network ${record.name} is managed outside nerdctl and cannot be removed (${record.file})`)
    const users = await options.inUse(record)
    if (users.length > 0) {
      throw new FailedPreconditionError(`network ${JSON.stringify(record.name)} is in use by container${users.length > 1 ? 's' : ''} ${users.map((u) => JSON.stringify(u)).join(', ')}`)
    }
    await this.#removeLocked(record, options)
  }

  /**
   * Removes every network this namespace sees that nerdctl or this SDK manages, is not the default one, and
   * that `inUse` reports unused.
   * @returns the names removed.
   */
  async prune(options: NetworkPruneOptions): Promise<string[]> {
    checkOptionKeys(options, REMOVE_OPTION_KEYS, 'network prune options')
    if (typeof options.inUse !== 'function') throw new InvalidArgumentError('network prune needs an inUse function telling which containers use each network')
    const removed: string[] = []
    for (const record of selectPrunable(await this.list())) {
      if ((await options.inUse(record)).length > 0) continue
      try {
        await this.#removeLocked(record, options)
        removed.push(record.name)
      } catch (err) {
        // Removed meanwhile by someone else: not ours to report.
        if (!(err instanceof NotFoundError)) throw err
      }
    }
    return removed
  }

  async #removeLocked(record: NetworkRecord, options: CallOptions): Promise<void> {
    const device = await this.#locked(
      async () => {
        try {
          await stat(record.file)
        } catch {
          throw new NotFoundError(`no such network: ${JSON.stringify(record.name)} (its file ${record.file} is gone)`)
        }
        await rm(record.file, { force: true })
        // The device name comes from the network's name alone (nerdctl's rule), so a network of the same
        // name in another namespace has the same bridge: leave it while any config still names it.
        if (record.bridge === undefined) return undefined
        const others = await this.#allRecords()
        return others.some((r) => r.bridge === record.bridge) ? undefined : record.bridge
      },
      options,
    )
    if (device !== undefined) await removeBridgeDevice(device)
  }

  /** Every config in the conf dir: at the top and in every namespace's folder. */
  async #allRecords(): Promise<NetworkRecord[]> {
    const folders = await readdir(this.confDir, { withFileTypes: true }).catch(() => [])
    return [
      ...(await readConfigDir(this.confDir, undefined)),
      ...(await Promise.all(folders.filter((d) => d.isDirectory()).map(async (d) => await readConfigDir(join(this.confDir, d.name), d.name)))).flat(),
    ]
  }

  /** The create itself; the caller holds the lock. */
  async #createLocked(name: string, options: NetworkCreateOptions, isDefault: boolean): Promise<NetworkRecord> {
    const visible = await this.list()
    const file = this.configPath(name)
    if (visible.some((r) => r.name === name) || (await exists(file))) {
      throw new AlreadyExistsError(`network with name ${name} already exists`)
    }
    const driver = options.driver ?? 'bridge'
    // The default network's own bridge (`nerdctl0`) carries its subnet once any tool attached a container
    // to it (nerdctl, or this SDK with another conf dir): that address block is this network, not a clash.
    const used = await this.#usedSubnets(driver === 'bridge' && !isDefault)
    let subnet: Cidr
    if (options.subnet !== undefined) {
      subnet = parseSubnet(options.subnet)
      const clash = used.find((u) => cidrsOverlap(u.cidr, subnet))
      if (clash !== undefined) {
        throw new ConflictError(`subnet ${formatCidr(subnet)} overlaps with ${clash.owner} (${formatCidr(clash.cidr)}): choose another subnet`)
      }
    } else {
      const free = findFreeSubnet(parseSubnet(FIRST_AUTOMATIC_SUBNET), used.map((u) => u.cidr))
      if (free === undefined) throw new ResourceExhaustedError(`no free subnet left from ${FIRST_AUTOMATIC_SUBNET} up: give a subnet`)
      subnet = free
    }
    const config = buildNetworkConfig({
      name,
      driver,
      range: resolveIpamRange(subnet, options.gateway, options.ipRange),
      family: subnet.family,
      internal: options.internal ?? false,
      labels: isDefault ? { [DEFAULT_NETWORK_LABEL]: 'true' } : { ...options.labels },
      parent: options.parent,
      mtu: options.mtu,
    })
    const namespace = name === DEFAULT_NETWORK_NAME || this.namespace === '' ? undefined : this.namespace
    await mkdirConf(namespace === undefined ? this.confDir : join(this.confDir, namespace))
    await writeFileAtomic(file, serializeNetworkConfig(config), FILE_MODE)
    return toNetworkRecord(config, file, namespace)
  }

  /**
   * Subnets a new network must not overlap: every network's in the conf dir, all namespaces' folders
   * included (nerdctl looks only at the ones its namespace sees, which lets two namespaces pick the same
   * subnet before either bridge exists), and, for a bridge, the host's own address blocks. nerdctl checks
   * host addresses for macvlan/ipvlan too; we do not, as such a network usually is the parent's own LAN.
   */
  async #usedSubnets(includeHost: boolean): Promise<UsedSubnet[]> {
    const used: UsedSubnet[] = []
    for (const r of await this.#allRecords()) {
      for (const s of r.subnets) {
        const parsed = parseCidr(s.subnet)
        if (parsed === undefined) continue
        const elsewhere = r.namespace !== undefined && r.namespace !== this.namespace ? ` of namespace ${r.namespace}` : ''
        used.push({ cidr: parsed.cidr, owner: `network ${r.name}${elsewhere}` })
      }
    }
    if (includeHost) {
      for (const s of await this.#hostSubnets()) {
        const parsed = parseCidr(s)
        if (parsed !== undefined) used.push({ cidr: parsed.cidr, owner: `the host address block ${s}` })
      }
    }
    return used
  }
}

/** A file system error as a typed one (a ContainerdError passes through): no permission, read-only, or not a directory. */
function fsError(err: unknown, what: string): unknown {
  if (err instanceof ContainerdError) return err
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new PermissionDeniedError(`${what}: ${code} (${(err as Error).message}); run as root or give the store a confDir it may write`, { cause: err })
  }
  if (code === 'ENOTDIR' || code === 'EISDIR') return new FailedPreconditionError(`${what}: ${(err as Error).message}`, { cause: err })
  return err
}

function findDefault(records: readonly NetworkRecord[]): NetworkRecord | undefined {
  return records.find((r) => DEFAULT_NETWORK_LABEL in r.labels) ?? records.find((r) => r.name === DEFAULT_NETWORK_NAME)
}


async function mkdirConf(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE })
}

/** The configs in one folder (not below it), parsed; a missing folder has none. */
async function readConfigDir(dir: string, namespace: string | undefined): Promise<NetworkRecord[]> {
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return []
    throw err
  }
  const files = entries.filter((e) => !e.isDirectory() && CONFIG_EXTENSIONS.some((ext) => e.name.endsWith(ext))).map((e) => join(dir, e.name))
  const records: NetworkRecord[] = []
  for (const file of files.sort()) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      // Removed between readdir and read: it is simply gone.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw err
    }
    try {
      records.push(toNetworkRecord(parseNetworkConfigFile(text, file), file, namespace))
    } catch (err) {
      debug('skipping %s: %s', file, (err as Error).message)
    }
  }
  return records
}

const execFileAsync = promisify(execFile)

/**
 * Deletes a network's bridge device from the host, as nerdctl's `RemoveNetwork` does, so that its address
 * no longer blocks the subnet. Best effort: a device that is not there is fine; a failure (no `ip`, no
 * privilege) is only logged, as the network itself is already gone. (`ip` is asked directly rather than
 * `/sys/class/net`, which shows the network namespace sysfs was mounted in, not necessarily ours.)
 */
async function removeBridgeDevice(device: string): Promise<void> {
  // A bridge that still has ports is used by a network of the same name this conf dir does not see (another
  // containerd's, or a tool's with its own conf dir): kept, with its rules.
  if ((await readdir(`/sys/class/net/${device}/brif`).catch(() => [])).length > 0) return
  try {
    await execFileAsync('ip', ['link', 'delete', device, 'type', 'bridge'], { timeout: 10_000 })
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '')
    if (!/Cannot find device|does not exist/.test(stderr)) debug('could not delete bridge device %s: %s %s', device, (err as Error).message, stderr)
  }
  await removeIsolationRules(device)
}

/**
 * The `firewall` plugin adds two rules per bridge to its isolation chains (`CNI-ISOLATION-STAGE-1`/`-2`,
 * `-i <bridge>` / `-o <bridge>`) on the first ADD and never removes them: with the bridge gone they are
 * dead rules that pile up one pair per network ever made (nerdctl PR #4835). Deleted with the bridge.
 * Best effort: iptables missing or failing leaves them, as before.
 */
async function removeIsolationRules(device: string): Promise<void> {
  const rules = await saveTable('iptables-save', 'filter', 10_000)
  const mine = new RegExp(`^-A (CNI-ISOLATION-STAGE-[12]) .*-[io] ${device.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `)
  for (const line of rules.split('\n')) {
    const match = mine.exec(line)
    if (match === null) continue
    // iptables-save prints each rule as its -A arguments; -D with the same arguments deletes it.
    const args = splitSavedRule(line).slice(1)
    await execFileAsync('iptables', ['-w', '-t', 'filter', '-D', ...args], { timeout: 10_000 }).catch((err: unknown) => {
      debug('could not delete isolation rule %s: %s', line, (err as Error).message)
    })
  }
}
