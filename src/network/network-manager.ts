/**
 * `client.networks`: nerdctl's `network create / ls / inspect / rm / prune` on the client's namespace,
 * over nerdctl's config store (so both tools see the same networks), with "in use" answered from the
 * containers' `nerdctl/networks` labels.
 */

import type { ClientCore } from '../client/client.js'
import { CALL_OPTION_KEYS, checkOptionKeys, keysOf } from '../client/option-check.js'
import type { CallOptions } from '../grpc/call-options.js'
import { NerdctlLabel } from '../nerdctl/labels.js'
import { CniNetworkProvider } from './cni-network-provider.js'
import { inspectContainerNetwork, parseList } from './container-network.js'
import type { NetworkCreateOptions } from './network-config-builder.js'
import type { NetworkRecord, NetworkSubnet } from './network-record.js'
import type { NetworkConfigStore } from './network-store.js'

/** A network as `client.networks` lists it. */
export interface NetworkInfo {
  /** Its name. */
  name: string
  /** nerdctl's network id (hex); undefined for a config nerdctl did not write. */
  id: string | undefined
  /** `bridge`, `macvlan`, `ipvlan`, or a foreign config's first plugin type. */
  driver: string
  /** Its address ranges. */
  subnets: NetworkSubnet[]
  /** No route out. */
  internal: boolean
  /** Its labels. */
  labels: Record<string, string>
  /** Whether it is the default network (`bridge`). */
  isDefault: boolean
  /** The host bridge device of a bridge network. */
  bridge: string | undefined
  /** The conflist it is read from. */
  file: string
}

/** A container on a network, as `inspect` shows it. */
export interface NetworkContainer {
  /** The container's name. */
  Name: string
  /** Its address with prefix, `''` when not attached now. */
  IPv4Address: string
  /** Its MAC address, `''` when unknown. */
  MacAddress: string
}

/** One address range in `inspect`'s `IPAM.Config`. */
export interface NetworkIpamConfig {
  /** The subnet, e.g. `10.4.1.0/24`. */
  Subnet: string
  /** The gateway, when set. */
  Gateway?: string
  /** The range containers get addresses from, when narrower than the subnet. */
  IPRange?: string
}

/** `inspect`'s address management section. */
export interface NetworkIpam {
  /** Always `default` (host-local). */
  Driver: 'default'
  /** The address ranges. */
  Config: NetworkIpamConfig[]
}

/** `client.networks.inspect()`: Docker's network JSON (the fields nerdctl fills). */
export interface NetworkInspect {
  /** The name. */
  Name: string
  /** The id (`''` for a config nerdctl did not write). */
  Id: string
  /** Always `local`. */
  Scope: 'local'
  /** The driver. */
  Driver: string
  /** Address management. */
  IPAM: NetworkIpam

  /** No route out. */
  Internal: boolean
  /** The containers whose labels name it, by id. */
  Containers: Record<string, NetworkContainer>
  /** The labels. */
  Labels: Record<string, string>
}

const PRUNE_OPTION_KEYS = keysOf<CallOptions>()({ ...CALL_OPTION_KEYS })

/** `client.networks`: the networks containers of this namespace can join. */
export class NetworkStore {
  /** @internal */
  constructor(private readonly client: ClientCore) {}

  /**
   * Creates a network (nerdctl's `network create`): a conflist `nerdctl-<name>.conflist` in the CNI conf
   * dir, with a free `/24` from 10.4.1.0 up unless `subnet` is given.
   * @throws InvalidArgumentError for a bad or reserved name or option; AlreadyExistsError for a name in use;
   *   ConflictError for a subnet overlapping another network or a host address.
   */
  async create(name: string, options: NetworkCreateOptions = {}): Promise<NetworkInfo> {
    return infoOf(await this.store().create(name, options))
  }

  /** Every network this namespace sees (nerdctl's and other CNI configs in the conf dir), by name. */
  async list(): Promise<NetworkInfo[]> {
    return (await this.store().list()).map(infoOf)
  }

  /**
   * A network by name, id or unique id prefix, as Docker's `network inspect` shows it, with the
   * containers of this namespace on it.
   * @throws NotFoundError naming the network.
   */
  async inspect(nameOrId: string, options?: CallOptions): Promise<NetworkInspect> {
    const record = await this.store().get(nameOrId)
    const containers: Record<string, NetworkContainer> = {}
    for (const c of await this.containersOn(record, options)) {
      const attachment = (await inspectContainerNetwork(this.client, c.id, c.labels).catch(() => [])).find((a) => a.network === record.name)
      containers[c.id] = {
        Name: c.labels[NerdctlLabel.name] ?? '',
        IPv4Address: attachment?.ipAddress !== undefined ? `${attachment.ipAddress}/${String(attachment.ipPrefixLength ?? 32)}` : '',
        MacAddress: attachment?.macAddress ?? '',
      }
    }
    return {
      Name: record.name,
      Id: record.id ?? '',
      Scope: 'local',
      Driver: record.driver,
      IPAM: {
        Driver: 'default',
        Config: record.subnets.map((s) => ({ Subnet: s.subnet, ...(s.gateway !== undefined ? { Gateway: s.gateway } : {}), ...(s.ipRange !== undefined ? { IPRange: s.ipRange } : {}) })),
      },
      Internal: record.internal,
      Containers: containers,
      Labels: { ...record.labels },
    }
  }

  /**
   * Removes a network (nerdctl's `network rm`).
   * @throws FailedPreconditionError when a container of this namespace is on it ("is in use"), or for the
   *   default network; NotFoundError when there is no such network.
   */
  async remove(nameOrId: string, options: CallOptions = {}): Promise<void> {
    await this.store().remove(nameOrId, { ...options, inUse: (record) => this.usersOf(record, options) })
  }

  /** Removes every network nerdctl manages that no container uses, except the default one; returns their names. */
  async prune(options: CallOptions = {}): Promise<string[]> {
    checkOptionKeys(options, PRUNE_OPTION_KEYS, 'networks.prune()')
    return this.store().prune({ ...options, inUse: (record) => this.usersOf(record, options) })
  }

  private store(): NetworkConfigStore {
    const settings = this.client.networkSettings
    return CniNetworkProvider.storeOf(CniNetworkProvider.fromSettings(settings), this.client.namespace)
  }

  private async usersOf(record: NetworkRecord, options?: CallOptions): Promise<string[]> {
    return (await this.containersOn(record, options)).map((c) => c.labels[NerdctlLabel.name] || c.id)
  }

  /** The namespace's containers whose `nerdctl/networks` label names the network. */
  private async containersOn(record: NetworkRecord, options?: CallOptions): Promise<Array<{ id: string; labels: Record<string, string> }>> {
    const { containers } = await this.client.services.containers.list({ filters: [`labels."${NerdctlLabel.networks}"`] }, options)
    return containers.filter((c) => parseList(c.labels[NerdctlLabel.networks]).includes(record.name))
  }
}

function infoOf(record: NetworkRecord): NetworkInfo {
  return {
    name: record.name,
    id: record.id,
    driver: record.driver,
    subnets: record.subnets.map((s) => ({ ...s })),
    internal: record.internal,
    labels: { ...record.labels },
    isDefault: record.isDefault,
    bridge: record.bridge,
    file: record.file,
  }
}
