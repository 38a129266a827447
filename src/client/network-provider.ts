/**
 * The pluggable part of container networking. The SDK makes each networked container a network
 * namespace of its own that outlives its tasks (so containerd's restart monitor, which re-creates a task
 * without this process, brings it back on the same network); a provider puts interfaces into that
 * namespace and takes them out again. The default provider runs CNI plugins (`CniNetworkProvider` in
 * `containerd-sdk/network`); a platform with its own networking implements this interface and passes
 * it as `Client.connect({ network: { provider } })`.
 *
 * Plain data only: the interface sits in the client layer so a connection can carry it, and every
 * higher layer (run(), removal, inspect) reaches it through the client.
 */

/** A port published on the host (Docker's `-p`), nerdctl's `network-config.json` shape. */
export interface PortMapping {
  /** Port on the host. */
  HostPort: number
  /** Port in the container. */
  ContainerPort: number
  /** `tcp`, `udp` or `sctp`. */
  Protocol: string
  /** Host address bound, e.g. `0.0.0.0` or `127.0.0.1`. */
  HostIP: string
}

/** What a provider is told about the container it attaches or detaches. */
export interface NetworkContext {
  /** The container's id. */
  containerId: string
  /** The containerd namespace the container is in. */
  namespace: string
  /** The path of the container's network namespace (a bind mount the SDK made and removes). */
  netns: string
  /** The networks to join, in order (the first gets `eth0`), by name. */
  networks: readonly string[]
  /** Ports to publish on the host. */
  ports: readonly PortMapping[]
  /** A static IPv4 address asked for on the first network. */
  ip?: string
  /** A static MAC address asked for on the first network. */
  mac?: string
  /** The container's hostname (for providers that register it, e.g. with DHCP). */
  hostname?: string
  /** Cancels the setup; the provider must leave nothing behind. */
  signal?: AbortSignal
}

/** One interface the container has on one network. */
export interface NetworkAttachment {
  /** The network's name. */
  network: string
  /** The interface name inside the container (`eth0`, `eth1`, …). */
  interface: string
  /** Its IPv4 address (no prefix length), if it has one. */
  ipAddress?: string
  /** The IPv4 prefix length. */
  ipPrefixLength?: number
  /** The IPv4 gateway. */
  gateway?: string
  /** Its IPv6 address, if it has one. */
  globalIPv6Address?: string
  /** The IPv6 prefix length. */
  globalIPv6PrefixLength?: number
  /** The IPv6 gateway. */
  ipv6Gateway?: string
  /** Its MAC address. */
  macAddress?: string
}

/**
 * Attaches containers to networks. Each method is called with the same context for one container:
 * `setup` when it starts, `teardown` when it stops or is removed (and to undo a failed setup), `inspect`
 * for `container.inspect()`. `teardown` must be idempotent and must not fail when the namespace is gone.
 */
export interface NetworkProvider {
  /** Attaches the container's network namespace to its networks; on failure leaves nothing behind. */
  setup(context: NetworkContext): Promise<NetworkAttachment[]>
  /** Detaches it from every network it was attached to (addresses, routes, host rules). */
  teardown(context: NetworkContext): Promise<void>
  /** What it is attached to now; empty when it is not attached. */
  inspect(context: NetworkContext): Promise<NetworkAttachment[]>
}

/** Where the SDK's networking keeps and finds things (`Client.connect({ network })`). */
export interface NetworkSettings {
  /** The provider that attaches containers to networks. Default: CNI plugins, as nerdctl runs them. */
  provider?: NetworkProvider
  /** Where network configurations live (nerdctl's `--cni-netconfpath`). Default `/etc/cni/net.d`. */
  cniConfDir?: string
  /** Where CNI plugins are looked for, in order. Default `/opt/cni/bin`, then `/usr/lib/cni` (Debian's). */
  cniPluginDirs?: readonly string[]
  /** Where CNI results are cached (libcni's `results/`). Default `/var/lib/cni`. */
  cniCacheDir?: string
  /** Where containers' network namespaces are bind-mounted. Default `/run/netns` (so `ip netns` lists them). */
  netnsDir?: string
}
