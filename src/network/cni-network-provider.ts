/**
 * The default {@link NetworkProvider}: CNI plugins run the way nerdctl runs them, on the networks of
 * nerdctl's config store. Each network of a container is one ADD of its conflist with the container id
 * `<namespace>-<id>` (nerdctl's `fullID`, so nerdctl's own cleanup finds our attachments), interface
 * `eth<N>` in network order, `IgnoreUnknown=1`, and the published ports as the `portMappings`
 * capability (only plugins declaring it, i.e. `portmap`, see them).
 */

import type { NetworkAttachment, NetworkContext, NetworkProvider, NetworkSettings } from '../client/network-provider.js'
import { cachedResult, cniAdd, cniDel } from './cni/cni-runner.js'
import { DEFAULT_CACHE_DIR, type CniOptions, type CniRuntime, type PortMapping as CniPortMapping } from './cni/cni-options.js'
import { heldAddresses, removeOwnerRules, type HeldAddress } from './cni/owner-leftovers.js'
import { containerAddresses, type CniResult } from './cni/cni-result.js'
import { NetworkConfigStore } from './network-store.js'
import { DEFAULT_NETWORK } from './network-option.js'
import type { NetworkRecord } from './network-record.js'

/** Where the CNI provider finds configurations, plugins and its cache. */
export interface CniNetworkProviderOptions {
  /** nerdctl's CNI config dir. Default `/etc/cni/net.d`. */
  cniConfDir?: string
  /** Plugin directories, in order. Default `/opt/cni/bin`, then `/usr/lib/cni`. */
  cniPluginDirs?: readonly string[]
  /** libcni's cache dir. Default `/var/lib/cni`. */
  cniCacheDir?: string
}

/** Attaches containers to networks with CNI plugins, on nerdctl's network config store. */
export class CniNetworkProvider implements NetworkProvider {
  private readonly options: CniNetworkProviderOptions

  constructor(options: CniNetworkProviderOptions = {}) {
    this.options = { ...options }
  }

  /** @internal The provider `Client.connect({ network })` settings describe (their CNI dirs). */
  static fromSettings(settings: NetworkSettings): CniNetworkProvider {
    return new CniNetworkProvider({
      ...(settings.cniConfDir !== undefined ? { cniConfDir: settings.cniConfDir } : {}),
      ...(settings.cniPluginDirs !== undefined ? { cniPluginDirs: settings.cniPluginDirs } : {}),
      ...(settings.cniCacheDir !== undefined ? { cniCacheDir: settings.cniCacheDir } : {}),
    })
  }

  /** @internal The network store of a containerd namespace, in this provider's config dir. */
  static storeOf(provider: CniNetworkProvider, namespace: string): NetworkConfigStore {
    return provider.store(namespace)
  }

  private store(namespace: string): NetworkConfigStore {
    return new NetworkConfigStore({ namespace, ...(this.options.cniConfDir !== undefined ? { confDir: this.options.cniConfDir } : {}) })
  }

  /**
   * ADDs the container to each network in order; when one fails, the ones before it are DELeted again
   * and the error is thrown (the runner already rolled back the failing chain).
   */
  async setup(context: NetworkContext): Promise<NetworkAttachment[]> {
    const records = await this.records(context, true)
    const attachments: NetworkAttachment[] = []
    const done: Array<{ record: NetworkRecord; runtime: CniRuntime }> = []
    try {
      for (const [index, record] of records.entries()) {
        const runtime = this.runtime(context, index)
        const result = await cniAdd(record.config, runtime, this.cniOptions(context.signal))
        done.push({ record, runtime })
        attachments.push(attachmentOf(record.name, runtime.ifName, result))
      }
    } catch (err) {
      for (const { record, runtime } of done.reverse()) await cniDel(record.config, runtime, this.cniOptions()).catch(() => undefined)
      throw err
    }
    return attachments
  }

  /**
   * DELs the container from each network, last first, every one even when one fails (then the first
   * error is thrown). A network whose conflist is gone is DELeted with the config cached at ADD.
   */
  async teardown(context: NetworkContext): Promise<void> {
    const records = await this.records(context, false)
    const uncached = await this.uncachedAddresses(context)
    const owner = `${context.namespace}-${context.containerId}`
    // The firewall's rules name only the address: removed while the address is still held, so they
    // cannot be another container's that got it next.
    if (uncached !== undefined) await removeOwnerRules('filter', owner, uncached, performance.now() + 30_000)
    let first: unknown
    for (let index = context.networks.length - 1; index >= 0; index--) {
      // No arguments of ours: the runner gives each plugin those cached at ADD (portmap needs the very
      // port mappings it published to remove its rules), and ours when nothing was cached.
      const { args: _args, capabilityArgs: _capabilities, ...runtime } = this.runtime(context, index)
      const name = context.networks[index] ?? ''
      // A hole: no network is known at this interface (an orphan's partial cache).
      if (name === '') continue
      const config = records.find((r) => r.name === name)?.config ?? (await cachedResult(name, runtime, this.cniOptions()))?.config
      if (config === undefined) continue
      await cniDel(config, runtime, this.cniOptions()).catch((err: unknown) => {
        first ??= err
      })
    }
    // portmap's rules (and bridge's masquerade when the namespace is gone) name the container: after the
    // DELs, whatever they left.
    if (uncached !== undefined) await removeOwnerRules('nat', owner, [], performance.now() + 30_000)
    if (first !== undefined) throw first
  }

  /**
   * @internal The addresses host-local holds for a container, whatever network (a run killed inside a
   * plugin chain left them with no cached result naming the network).
   */
  async heldAddresses(namespace: string, containerId: string): Promise<HeldAddress[]> {
    return heldAddresses(this.options.cniCacheDir ?? DEFAULT_CACHE_DIR, `${namespace}-${containerId}`)
  }

  /**
   * When a network of the context has no cached ADD result (its run was killed inside the chain, before
   * the cache write), the addresses host-local holds for the container; else undefined. A DEL without
   * the cached result cannot remove every rule: portmap is given no mappings, firewall no addresses.
   */
  private async uncachedAddresses(context: NetworkContext): Promise<string[] | undefined> {
    let uncached = false
    for (const [index, name] of context.networks.entries()) {
      if (name === '') continue
      if ((await cachedResult(name, this.runtime(context, index), this.cniOptions()).catch(() => undefined)) === undefined) uncached = true
    }
    if (!uncached) return undefined
    return (await this.heldAddresses(context.namespace, context.containerId)).map((h) => h.address)
  }

  /** The addresses each network's cached ADD result gives (empty for a network never attached). */
  async inspect(context: NetworkContext): Promise<NetworkAttachment[]> {
    const attachments: NetworkAttachment[] = []
    for (const [index, name] of context.networks.entries()) {
      const runtime = this.runtime(context, index)
      const cached = await cachedResult(name, runtime, this.cniOptions()).catch(() => undefined)
      if (cached !== undefined) attachments.push(attachmentOf(name, runtime.ifName, cached.result))
    }
    return attachments
  }

  /** The records of the context's networks; on setup the default network is made on first use. */
  private async records(context: NetworkContext, forSetup: boolean): Promise<NetworkRecord[]> {
    const store = this.store(context.namespace)
    const records: NetworkRecord[] = []
    for (const name of context.networks) {
      if (name === '') continue
      if (name === DEFAULT_NETWORK && forSetup) {
        records.push(await store.ensureDefault())
        continue
      }
      try {
        records.push(await store.get(name))
      } catch (err) {
        if (forSetup) throw err
      }
    }
    return records
  }

  private runtime(context: NetworkContext, index: number): CniRuntime {
    const first = index === 0
    const ports: CniPortMapping[] = context.ports.map((p) => ({
      hostPort: p.HostPort,
      containerPort: p.ContainerPort,
      protocol: p.Protocol as CniPortMapping['protocol'],
      ...(p.HostIP !== '' ? { hostIP: p.HostIP } : {}),
    }))
    return {
      containerId: `${context.namespace}-${context.containerId}`,
      netns: context.netns,
      ifName: `eth${index}`,
      // A static IPv4 address and MAC go as CNI_ARGS (host-local reads `IP`, tuning and bridge `MAC`), as
      // nerdctl passes them; an IPv6 one as the `ips` capability.
      args: [
        ['IgnoreUnknown', '1'],
        ...(first && context.ip !== undefined && !context.ip.includes(':') ? [['IP', context.ip] as [string, string]] : []),
        ...(first && context.mac !== undefined ? [['MAC', context.mac] as [string, string]] : []),
      ],
      capabilityArgs: {
        // Ports are published on the first network, as Docker does: one DNAT target per host port.
        ...(first && ports.length > 0 ? { portMappings: ports } : {}),
        ...(first && context.ip?.includes(':') === true ? { ips: [context.ip] } : {}),
      },
    }
  }

  private cniOptions(signal?: AbortSignal): CniOptions {
    return {
      ...(this.options.cniPluginDirs !== undefined ? { pluginDirs: [...this.options.cniPluginDirs] } : {}),
      ...(this.options.cniCacheDir !== undefined ? { cacheDir: this.options.cniCacheDir } : {}),
      ...(signal !== undefined ? { signal } : {}),
    }
  }
}

/** A network attachment from a CNI result, for the interface the container has on it. */
function attachmentOf(network: string, ifName: string, result: CniResult): NetworkAttachment {
  const addresses = containerAddresses(result, ifName)
  const v4 = addresses.ipv4[0]
  const v6 = addresses.ipv6[0]
  return {
    network,
    interface: ifName,
    ...(v4 !== undefined ? { ipAddress: v4.ip, ipPrefixLength: v4.prefixLength, ...(v4.gateway !== undefined ? { gateway: v4.gateway } : {}) } : {}),
    ...(v6 !== undefined ? { globalIPv6Address: v6.ip, globalIPv6PrefixLength: v6.prefixLength, ...(v6.gateway !== undefined ? { ipv6Gateway: v6.gateway } : {}) } : {}),
    ...(addresses.mac !== undefined ? { macAddress: addresses.mac } : {}),
  }
}
