/**
 * A container's networking from `run()` to removal: what its spec and labels say (decided before it is
 * created), attaching it (its own network namespace, the provider's interfaces, its names in the hosts
 * store) and detaching it again on stop, removal or a failed run.
 *
 * The namespace is the container's, not its task's (see netns.ts): the restart monitor re-creates tasks
 * without this process and they find their network as it was. So the network is attached once per
 * start through the SDK and detached by `stop()`, `remove()` and `prune()`; a container whose process
 * exits on its own keeps its address until one of them runs, or until it is started again.
 */

import { exists } from '../util/optional-file.js'
import { saveTable } from './cni/iptables-save.js'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { debuglog } from 'node:util'
import type { ClientCore } from '../client/client.js'
import type { NetworkAttachment, NetworkContext, NetworkProvider, PortMapping } from '../client/network-provider.js'
import { ContainerdContainer } from '../containers/container.js'
import type { CallOptions } from '../grpc/call-options.js'
import { ContainerdError, FailedPreconditionError, InternalError, NotFoundError } from '../grpc/errors.js'
import { resolveContainerId } from '../nerdctl/container-lookup.js'
import { daemonKey, dataStorePath } from '../nerdctl/data-store.js'
import { NerdctlLabel, readPortsLabel } from '../nerdctl/labels.js'
import { readNetworkConfig } from '../nerdctl/state-dir.js'
import { withHostNetwork, withNetworkNamespacePath, withNoNetwork } from '../oci/network-mode.js'
import type { SpecOption } from '../oci/spec-options.js'
import { CniNetworkProvider } from './cni-network-provider.js'
import { allocateHostPorts, checkHostPortsFree } from './host-port.js'
import { HostsStore } from './hosts-store.js'
import { createNetns, DEFAULT_NETNS_DIR, netnsPath, netnsPrefix, removeNetns } from './netns.js'
import { useMountNamespaceOf } from './host-mount-ns.js'
import { withNetworkFiles } from './network-files.js'
import { networkLabelValues, type NetworkChoice } from './network-option.js'
import { parsePortSpecs, type PortMapping as PortSpec } from './port-spec.js'
import { writeResolvConf, type DnsOptions } from './resolv-conf.js'

const debug = debuglog('containerd-sdk:network')

/** The label recording the path of a container's network namespace (one the SDK made and removes). */
export const NETNS_LABEL = 'containerd-sdk/netns'

/** What `run()` asks of a container's network. */
export interface NetworkRequest extends DnsOptions {
  /** The container's id. */
  id: string
  /** Its name (for the hosts store). */
  name: string
  /** Its state dir (resolv.conf, hostname and network-config.json go there). */
  stateDir: string
  /** The nerdctl data store (the hosts store is in it). */
  dataStore: string
  /** The parsed `network` option. */
  choice: NetworkChoice
  /** `-p` specs. */
  ports?: readonly string[] | undefined
  /** `--add-host` entries, `name:ip`. */
  addHosts?: readonly string[] | undefined
  /** `--ip`. */
  ip?: string | undefined
  /** `--mac-address`. */
  mac?: string | undefined
  /** The hostname asked for; undefined for the default. */
  hostname?: string | undefined
  /** Cancels the planning steps. */
  signal?: AbortSignal | undefined
}

/** A container's network as decided before it is created; `prepare`, `attach` and `detach` act on it. */
export interface NetworkPlan {
  /** The hostname to give the container (undefined: the host's, with the host network). */
  hostname: string | undefined
  /** The `nerdctl/networks` label's entries. */
  networks: string[]
  /** Published ports, host ports chosen. */
  ports: PortMapping[]
  /** `host:ip` entries for `nerdctl/extraHosts`. */
  extraHosts: string[]
  /** Labels beyond nerdctl's (the namespace path). */
  labels: Record<string, string>
  /** The spec options making the network so. */
  specOptions: SpecOption[]
  /** Writes the container's resolv.conf and hosts file (the state dir must exist). */
  prepare(): Promise<void>
  /**
   * Makes the namespace and attaches it; on failure undoes itself. Nothing to do for host, none, container: and ns:.
   * @param namesOwned settles when the container's name is its own: its names go into the hosts store
   *   only then (a run refused for a name in use never makes its name resolve to its address), while
   *   the namespace and the plugins need not wait for it. Its rejection fails and undoes the attach.
   */
  attach(signal?: AbortSignal, namesOwned?: Promise<unknown>): NetworkAttaching
  /** Undoes `attach` and `prepare`, best effort. */
  detach(): Promise<void>
}

/**
 * An attach under way, in two steps a run can overlap with its task's creation: runc needs the namespace
 * and the files the spec binds when it creates the task; the interfaces only have to be there before the
 * process starts (it joins the namespace, and sees them appear in it).
 */
export interface NetworkAttaching {
  /** Settles when the namespace and the container's hosts file exist: the task can be created. */
  namespaceReady: Promise<void>
  /** Settles when every network is attached and the names recorded: the task can start. Undone on failure. */
  attached: Promise<NetworkAttachment[]>
}

/** Nothing to attach (host, none, container:, ns:). */
const NOTHING_TO_ATTACH: NetworkAttaching = { namespaceReady: Promise.resolve(), attached: Promise.resolve([]) }

/** The provider a client's settings name: theirs, else CNI in their directories. */
export function networkProvider(client: ClientCore): NetworkProvider {
  const settings = client.networkSettings
  return settings.provider ?? CniNetworkProvider.fromSettings(settings)
}

/**
 * Decides a container's network before anything is made: the target of `container:`, the host ports
 * to publish (chosen and checked free), the spec options and labels.
 * @throws InvalidArgumentError for bad port specs; ConflictError for a host port in use; NotFoundError
 *   for an unknown network or `container:` target; FailedPreconditionError for a target not running.
 */
export async function planContainerNetwork(client: ClientCore, request: NetworkRequest): Promise<NetworkPlan> {
  const { choice, id, stateDir } = request
  await useMountNamespaceOf(client.address)
  const hosts = new HostsStore(request.dataStore, client.namespace)
  const extraHosts = [...(request.addHosts ?? [])]
  const ownFiles = (): SpecOption => withNetworkFiles({ resolvConf: join(stateDir, 'resolv.conf'), hosts: hosts.hostsPath(id), stateDir })
  const writeOwnFiles = async (): Promise<void> => {
    await writeResolvConf(stateDir, request)
    await hosts.allocate(id)
  }
  const base = { ports: [] as PortMapping[], extraHosts, labels: {} as Record<string, string>, attach: () => NOTHING_TO_ATTACH }
  switch (choice.kind) {
    case 'host':
      return { ...base, hostname: request.hostname, networks: ['host'], specOptions: [withHostNetwork()], prepare: async () => undefined, detach: async () => undefined }
    case 'none':
      return { ...base, hostname: request.hostname ?? id.slice(0, 12), networks: ['none'], specOptions: [withNoNetwork()], prepare: async () => undefined, detach: async () => undefined }
    case 'ns':
      return {
        ...base,
        hostname: request.hostname ?? id.slice(0, 12),
        networks: networkLabelValues(choice),
        specOptions: [withNetworkNamespacePath(choice.path), ownFiles()],
        prepare: writeOwnFiles,
        detach: () => hosts.delete(id).catch(() => undefined),
      }
    case 'container':
      return planSharedNetwork(client, request, choice.target, base)
    case 'networks':
      break
  }

  // Checked now, so an unknown network fails before anything is made (the default one is made on attach).
  const provider = networkProvider(client)
  if (provider instanceof CniNetworkProvider) {
    const store = CniNetworkProvider.storeOf(provider, client.namespace)
    for (const name of choice.names) if (name !== 'bridge') await store.get(name)
  }
  const ports = await choosePorts(client, request.ports ?? [])
  const hostname = request.hostname ?? id.slice(0, 12)
  const netns = netnsPath(client.networkSettings.netnsDir ?? DEFAULT_NETNS_DIR, daemonKey(client.address), client.namespace, id)
  const context: NetworkContext = {
    containerId: id,
    namespace: client.namespace,
    netns,
    networks: choice.names,
    ports,
    hostname,
    ...(request.ip !== undefined ? { ip: request.ip } : {}),
    ...(request.mac !== undefined ? { mac: request.mac } : {}),
  }
  return {
    hostname,
    networks: choice.names,
    ports,
    extraHosts,
    labels: { [NETNS_LABEL]: netns },
    specOptions: [withNetworkNamespacePath(netns), ownFiles()],
    // The hosts file comes with the attach (HostsStore.acquire makes it), before the task needs it: one
    // locked store operation less on the way.
    prepare: async () => {
      await writeResolvConf(stateDir, request)
    },
    attach: (signal, namesOwned) => attachNetwork(provider, hosts, { ...context, ...(signal !== undefined ? { signal } : {}) }, { name: request.name, extraHosts, ...(namesOwned !== undefined ? { owned: namesOwned } : {}) }),
    detach: async () => {
      await detachNetwork(provider, hosts, context, true)
    },
  }
}

/** `container:<target>`: the target's namespace and files; nothing of its own to attach. */
async function planSharedNetwork(
  client: ClientCore,
  request: NetworkRequest,
  target: string,
  base: Pick<NetworkPlan, 'ports' | 'extraHosts' | 'labels' | 'attach'>,
): Promise<NetworkPlan> {
  const targetId = await resolveContainerId(client, target, request.signal !== undefined ? { signal: request.signal } : {})
  const container = new ContainerdContainer(client, targetId)
  const { labels } = await container.info()
  let netns = labels[NETNS_LABEL]
  if (netns === undefined || !(await exists(netns))) {
    // Not one of ours with a namespace of its own: its running task's, as nerdctl joins it.
    const task = await container.task().catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined
      throw err
    })
    if (task === undefined || (await task.status()) !== 'running') {
      throw new FailedPreconditionError(`container ${target} is not running: network container:${target} joins a running container's network`)
    }
    netns = `/proc/${task.pid}/ns/net`
  }
  const targetState = labels[NerdctlLabel.stateDir]
  const files: SpecOption[] = []
  if (targetState !== undefined) {
    const hosts = new HostsStore(join(targetState, '..', '..', '..'), client.namespace)
    if (await exists(join(targetState, 'resolv.conf'))) {
      files.push(withNetworkFiles({ resolvConf: join(targetState, 'resolv.conf'), hosts: hosts.hostsPath(targetId), stateDir: targetState }))
    }
  }
  return {
    ...base,
    hostname: labels[NerdctlLabel.hostname] ?? targetId.slice(0, 12),
    networks: [`container:${targetId}`],
    specOptions: [withNetworkNamespacePath(netns), ...files],
    prepare: async () => undefined,
    detach: async () => undefined,
  }
}

/** Parses `-p` specs, chooses host ports for `'8080'`, and checks the asked-for ones are free. */
async function choosePorts(client: ClientCore, specs: readonly string[]): Promise<PortMapping[]> {
  if (specs.length === 0) return []
  const parsed = parsePortSpecs(specs)
  // portmap publishes with DNAT rules, not sockets: other containers' ports are found in their labels
  // and, for containers of other namespaces and tools (nerdctl too), in the host's DNAT rules.
  const [labelled, dnat] = await Promise.all([publishedPorts(client), dnatPorts()])
  const reserved = [...labelled, ...dnat]
  const chosen = await allocateHostPorts(parsed, { reserved })
  await checkHostPortsFree(chosen, { reserved })
  return chosen.map(toLabelPort)
}

/** The ports published by the namespace's containers (from their `nerdctl/ports` labels). */
async function publishedPorts(client: ClientCore): Promise<PortSpec[]> {
  const { containers } = await client.services.containers.list({ filters: [`labels."${NerdctlLabel.ports}"`] })
  const out: PortSpec[] = []
  // readPortsLabel reads nerdctl's label leniently: a label nobody can read reserves nothing.
  for (const c of containers) {
    for (const p of readPortsLabel(c.labels)) out.push({ hostPort: p.HostPort, containerPort: p.ContainerPort, protocol: p.Protocol as PortSpec['protocol'], hostIP: p.HostIP })
  }
  return out
}

/**
 * The host ports CNI's portmap publishes on this host (its `CNI-HOSTPORT-DNAT` rules, IPv4), whoever
 * made them. Empty when iptables-save cannot run (then only sockets and labels are checked).
 */
async function dnatPorts(): Promise<PortSpec[]> {
  const text = await saveTable('iptables-save', 'nat', 10_000)
  const out: PortSpec[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('-A CNI-HOSTPORT-DNAT ')) continue
    const protocol = /-p (tcp|udp|sctp)\b/.exec(line)?.[1] as PortSpec['protocol'] | undefined
    const ports = /--dports? ([\d,:]+)/.exec(line)?.[1]
    if (protocol === undefined || ports === undefined) continue
    for (const part of ports.split(',')) {
      const [from, to] = part.split(':').map(Number)
      if (from === undefined || !Number.isInteger(from)) continue
      for (let p = from; p <= (to ?? from) && p - from < 65536; p++) out.push({ hostPort: p, containerPort: 0, protocol })
    }
  }
  return out
}

function toLabelPort(p: PortSpec): PortMapping {
  return { HostPort: p.hostPort, ContainerPort: p.containerPort, Protocol: p.protocol, HostIP: p.hostIP ?? '0.0.0.0' }
}

/**
 * Makes the namespace (with the hosts file), then attaches it and records its names; undoes all of it on
 * failure. Both steps start at once; see {@link NetworkAttaching}.
 */
function attachNetwork(
  provider: NetworkProvider,
  hosts: HostsStore,
  context: NetworkContext,
  names: { name: string; extraHosts: string[]; owned?: Promise<unknown> },
): NetworkAttaching {
  const what = `attaching container ${context.containerId} to ${context.networks.join(', ')}`
  const namespaceReady = Promise.all([createNetns(context.netns), hosts.allocate(context.containerId)]).then(
    () => undefined,
    (err: unknown) => Promise.reject(typedNetworkError(err, what)),
  )
  const attached = (async (): Promise<NetworkAttachment[]> => {
    try {
      await namespaceReady
      const attachments = await provider.setup(context)
      await names.owned
      await hosts.acquire({
        id: context.containerId,
        hostname: context.hostname ?? context.containerId.slice(0, 12),
        name: names.name,
        networks: Object.fromEntries(attachments.filter((a) => a.ipAddress !== undefined).map((a) => [a.network, [`${a.ipAddress as string}/${String(a.ipPrefixLength ?? 32)}`]])),
        extraHosts: names.extraHosts,
      })
      return attachments
    } catch (err) {
      await detachNetwork(provider, hosts, context, false).catch(() => undefined)
      throw typedNetworkError(err, what)
    }
  })()
  // Both are awaited by the caller, which may stop at the first when it fails.
  namespaceReady.catch(() => undefined)
  attached.catch(() => undefined)
  return { namespaceReady, attached }
}

/**
 * Errors out of networking are typed like every other: a provider's or a file system's own error
 * becomes an InternalError naming the step, with the original as its cause.
 */
function typedNetworkError(err: unknown, what: string): unknown {
  if (err instanceof ContainerdError) return err
  return new InternalError(`${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
}

/**
 * Detaches: the provider's teardown, the namespace, the names. Every step runs even when one fails (the
 * first error is thrown after). `forget` also removes the container's hosts file (on removal).
 */
async function detachNetwork(provider: NetworkProvider, hosts: HostsStore, context: NetworkContext, forget: boolean): Promise<void> {
  let first: unknown
  const step = async (fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn()
    } catch (err) {
      first ??= err
    }
  }
  const { signal: _signal, ...quiet } = context
  await step(() => provider.teardown(quiet))
  await step(() => removeNetns(context.netns))
  await step(() => (forget ? hosts.delete(context.containerId) : hosts.release(context.containerId)))
  if (first !== undefined) throw typedNetworkError(first, `detaching container ${context.containerId} from its networks`)
}

/** The context of an existing container's network, from its labels; undefined when the SDK did not attach it. */
async function contextOf(client: ClientCore, id: string, labels: Readonly<Record<string, string>>): Promise<{ context: NetworkContext; hosts: HostsStore } | undefined> {
  const netns = labels[NETNS_LABEL]
  const stateDir = labels[NerdctlLabel.stateDir]
  if (netns === undefined || stateDir === undefined) return undefined
  const networks = parseList(labels[NerdctlLabel.networks])
  const ports = await readNetworkConfig(stateDir).catch(() => [])
  const hostname = labels[NerdctlLabel.hostname]
  const context: NetworkContext = { containerId: id, namespace: client.namespace, netns, networks, ports, ...(hostname !== undefined ? { hostname } : {}) }
  return { context, hosts: new HostsStore(join(stateDir, '..', '..', '..'), client.namespace) }
}

/**
 * Detaches a container the SDK attached (on stop and removal): nothing for one it did not. With
 * `forget` (removal) its hosts file goes too.
 */
export async function detachContainerNetwork(client: ClientCore, id: string, labels: Readonly<Record<string, string>>, forget: boolean): Promise<void> {
  const found = await contextOf(client, id, labels)
  if (found === undefined) return
  await useMountNamespaceOf(client.address)
  await detachNetwork(networkProvider(client), found.hosts, found.context, forget)
}

/**
 * Attaches a stopped container again before a new task (its namespace was removed by `stop()`); nothing
 * when it is attached or was never networked by the SDK.
 */
export async function reattachContainerNetwork(client: ClientCore, id: string, labels: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<void> {
  const found = await contextOf(client, id, labels)
  if (found === undefined || (await exists(found.context.netns))) return
  await useMountNamespaceOf(client.address)
  const provider = networkProvider(client)
  // Attachments still recorded with no namespace: the host rebooted (the bind mount is gone, host-local's
  // address files are not). Released first, so no address is held twice (nerdctl #3355, #2933).
  if ((await provider.inspect(found.context).catch(() => [])).length > 0) await provider.teardown(found.context).catch(() => undefined)
  const extraHosts = parseList(labels[NerdctlLabel.extraHosts])
  await attachNetwork(provider, found.hosts, { ...found.context, ...(signal !== undefined ? { signal } : {}) }, { name: labels[NerdctlLabel.name] ?? id, extraHosts }).attached
}

/** What a container the SDK attached is attached to now (for inspect); empty for others. */
export async function inspectContainerNetwork(client: ClientCore, id: string, labels: Readonly<Record<string, string>>): Promise<NetworkAttachment[]> {
  const found = await contextOf(client, id, labels)
  if (found === undefined || !(await exists(found.context.netns))) return []
  return networkProvider(client).inspect(found.context)
}

/** A label holding a JSON list of strings (`nerdctl/networks`, `nerdctl/extraHosts`); `[]` when absent or unreadable. */
export function parseList(raw: string | undefined): string[] {
  try {
    const value: unknown = JSON.parse(raw ?? '[]')
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
  } catch {
    return []
  }
}


/**
 * Detaches network namespaces a killed `run()` attached without ever recording its container (the
 * attach runs beside the create): `csdk-<daemon>-<namespace>-<id>` files of this daemon and namespace
 * whose id containerd does not know, older than `staleMs` (a younger one may be a run on its way). Each is torn down from
 * what CNI cached at its ADD (networks, ports, interfaces), unmounted, and its hosts entry dropped.
 * Returns the ids released. Used by `containers.prune()`.
 */
export async function releaseOrphanNetworks(client: ClientCore, staleMs: number, options: CallOptions = {}): Promise<string[]> {
  const dir = client.networkSettings.netnsDir ?? DEFAULT_NETNS_DIR
  const prefix = netnsPrefix(daemonKey(client.address), client.namespace)
  const files = (await readdir(dir).catch(() => [])).filter((f) => f.startsWith(prefix) && /^[0-9a-f]{64}$/.test(f.slice(prefix.length)))
  if (files.length === 0) return []
  await useMountNamespaceOf(client.address)
  const { containers } = await client.services.containers.list({ filters: [] }, options)
  const known = new Set(containers.map((c) => c.id))
  const released: string[] = []
  for (const file of files) {
    const id = file.slice(prefix.length)
    if (known.has(id)) continue
    const path = join(dir, file)
    const age = Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? Date.now())
    if (age < staleMs) continue
    const provider = networkProvider(client)
    const networks = await cachedNetworks(client, id)
    // A run killed inside a plugin chain cached nothing: the networks where host-local holds an address
    // for it, at their interfaces' places.
    if (provider instanceof CniNetworkProvider) {
      for (const held of await provider.heldAddresses(client.namespace, id)) {
        const index = /^eth(\d+)$/.exec(held.ifName)?.[1]
        if (index !== undefined && Number(index) < 64 && (networks[Number(index)] ?? '') === '') networks[Number(index)] = held.network
      }
    }
    const context: NetworkContext = { containerId: id, namespace: client.namespace, netns: path, networks: positional(networks), ports: [] }
    await provider.teardown(context).catch(() => undefined)
    // One namespace that cannot go (still mounted somewhere) does not keep the others: the next prune retries it.
    const removed = await removeNetns(path).then(
      () => true,
      (err: unknown) => {
        debug('cannot remove %s: %s', path, err instanceof Error ? err.message : String(err))
        return false
      },
    )
    // The hosts store of the data store the client uses (a killed run's state dir is in it too).
    await new HostsStore(dataStorePath(client.address, client.dataRoot), client.namespace).delete(id).catch(() => undefined)
    if (removed) released.push(id)
  }
  return released
}

/**
 * The networks a container was attached to, each at its interface's index, from CNI's result cache
 * (`<net>-<ns>-<id>-eth<N>`); `''` where no result says.
 */
async function cachedNetworks(client: ClientCore, id: string): Promise<string[]> {
  const results = join(client.networkSettings.cniCacheDir ?? '/var/lib/cni', 'results')
  const suffix = new RegExp(`^(.+)-${client.namespace.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-${id}-eth(\\d+)$`)
  const found: string[] = []
  for (const file of await readdir(results).catch(() => [])) {
    const match = suffix.exec(file)
    const index = Number(match?.[2])
    if (match !== null && index < 64) found[index] = match[1] as string
  }
  return positional(found)
}

/** A list with `''` in its holes (a network whose interface index is unknown: skipped by teardown). */
function positional(sparse: string[]): string[] {
  return Array.from(sparse, (name) => name ?? '')
}
