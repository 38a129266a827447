import type { NetworkSettings } from './network-provider.js'

/** Options for `Client.connect`. */
export interface ConnectOptions {
  /**
   * The containerd socket: a path or a `unix://` URL. Default: `$CONTAINERD_ADDRESS`, else
   * `/run/containerd/containerd.sock`.
   */
  address?: string
  /**
   * The namespace every call runs in. Default: `$CONTAINERD_NAMESPACE`, else `default` (containerd's own
   * default; nerdctl uses it too, Kubernetes uses `k8s.io`). The namespace need not exist: containerd
   * creates it on first write.
   */
  namespace?: string
  /**
   * How long connecting and the first `Version` call may take, in milliseconds. Default 10 000. The
   * connection is checked at once so a wrong address fails here, with the socket named, not on first use.
   */
  timeoutMs?: number
  /** Cancels connecting. */
  signal?: AbortSignal
  /**
   * nerdctl's data root (`nerdctl --data-root`): names, state dirs and json logs of containers made by
   * `run()` (or given the json-file logger) go in its data store for this socket, where nerdctl finds
   * them too. Absolute. Default `/var/lib/nerdctl`.
   */
  dataRoot?: string
  /**
   * How long the leases of this client's operations (pull, import, container create, `withLease`)
   * outlive a crash of this process: each is renewed while its operation runs, so this bounds how long a
   * killed process pins what it was writing (freed at containerd's next garbage collection), not how long
   * an operation may run. Default 5 minutes; at least 1 500.
   */
  leaseExpiresInMs?: number
  /**
   * Container networking: the provider that attaches containers to networks (default: CNI plugins, as
   * nerdctl runs them) and where CNI configurations, plugins, cached results and network namespaces
   * are. Defaults are nerdctl's, so networks made here and by nerdctl are the same networks; like
   * nerdctl, `$NETCONFPATH` and `$CNI_PATH` (colon-separated) set the conf and plugin dirs when these
   * options do not.
   */
  network?: NetworkSettings
}

/** @internal What a client and its namespace views share besides the connection. */
export interface ClientSettings {
  readonly dataRoot?: string
  readonly leaseExpiresInMs?: number
  readonly network?: NetworkSettings
}
