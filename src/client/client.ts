import { resolveAddress, resolveNamespace } from './address.js'
import type { ClientSettings, ConnectOptions } from './client-options.js'
import type { NetworkSettings } from './network-provider.js'
import { ContentStore } from './content/content-store.js'
import { InvalidArgumentError, UnavailableError } from '../grpc/errors.js'
import { namespaceFilters, subscribeEvents, type EventsOptions, type ContainerdEvent } from './events/events.js'
import { validateIdentifier } from './identifiers.js'
import { Introspection } from './introspection.js'
import { currentLease, type LeaseHolder } from './lease-context.js'
import { checkRenewingExpiry, LeaseManager, type WithLeaseOptions } from './leases/lease-manager.js'
import { NamespaceGuard } from './namespace-guard.js'
import { NamespaceStore } from './namespaces.js'
import { createServices, type Services } from './services.js'
import { SnapshotStore } from './snapshots/snapshot-store.js'
import type { CallOptions, Metadata } from '../grpc/call-options.js'
import { Http2Channel } from '../grpc/http2-channel.js'

/** What `client.version()` returns. */
export interface ServerVersion {
  /** The daemon's version, e.g. `1.7.24~ds1` or `v2.1.9`. */
  version: string
  /** The git revision it was built from (may be empty for distribution builds). */
  revision: string
}

/** containerd's default snapshotter on Linux. */
export const DEFAULT_SNAPSHOTTER = 'overlayfs'

/**
 * The core of a connection to containerd, bound to one namespace: the services, stores and events of
 * the client layer. Users get the full `Client` (which adds images, containers and more on top) from
 * `Client.connect`; the higher layers of the SDK take a `ClientCore`, so they depend only on this layer.
 */
export class ClientCore implements AsyncDisposable {
  /** The socket path this client talks to. */
  readonly address: string
  /** The namespace attached to every call made through this client. */
  readonly namespace: string
  /** Typed raw clients for every containerd service (the lower, less stable layer). */
  readonly services: Services
  /** Namespaces: create, list, labels, delete. */
  readonly namespaces: NamespaceStore
  /** Leases: create, list, delete, and {@link ClientCore.withLease}. */
  readonly leases: LeaseManager
  /** The content store: blobs by digest, with streaming reads and resumable, verified writes. */
  readonly content: ContentStore
  /** Plugins, server UUID and other facts about the daemon. */
  readonly introspection: Introspection
  /**
   * nerdctl's data root for the metadata kept outside containerd (names, state dirs, json logs), as given
   * to `connect`; undefined means nerdctl's default, `/var/lib/nerdctl`.
   */
  readonly dataRoot: string | undefined
  /** @internal The networking settings given to `connect` (the network layer applies the defaults). */
  readonly networkSettings: NetworkSettings

  private readonly channel: Http2Channel
  private readonly root: boolean
  private readonly guard: NamespaceGuard
  private readonly settings: ClientSettings

  /** @internal Use `Client.connect`. */
  protected constructor(channel: Http2Channel, namespace: string, root: boolean, guard?: NamespaceGuard, settings: ClientSettings = {}, lease?: LeaseHolder) {
    this.channel = channel
    this.settings = settings
    this.dataRoot = settings.dataRoot
    this.networkSettings = settings.network ?? {}
    this.address = channel.socketPath
    this.namespace = namespace
    this.root = root
    // A lease view's own lease, read at each call (a renewing lease swaps its id); otherwise the one of an
    // enclosing `withLease`, if any. The SDK's own operations use lease views (see `leased`), so they never
    // enter the AsyncLocalStorage of `withLease`: on Node 22 that turns promise hooks on for the whole process.
    const leaseNow = lease === undefined ? currentLease : (): string => lease.id
    const metadata = (): Metadata => {
      const id = leaseNow()
      return id === undefined
        ? { 'containerd-namespace': namespace }
        : { 'containerd-namespace': namespace, 'containerd-lease': id }
    }
    this.services = createServices(channel, metadata)
    // One guard per connection, shared by its namespace views.
    const services = this.services
    this.guard = guard ?? new NamespaceGuard(() => services)
    const scope = { namespace, guard: this.guard }
    this.namespaces = new NamespaceStore(this.services, this.guard)
    this.leases = new LeaseManager(this.services, scope, settings.leaseExpiresInMs)
    this.content = new ContentStore(this.services, scope, leaseNow)
    this.introspection = new Introspection(this.services)
  }

  /**
   * Connects to containerd and checks the connection with a `Version` call.
   * @throws UnavailableError naming the socket when nothing answers there.
   * @throws InvalidArgumentError for a malformed address or namespace.
   */
  static async connect(options: ConnectOptions = {}): Promise<ClientCore> {
    return ClientCore.open(options, (channel, namespace, settings) => new ClientCore(channel, namespace, true, undefined, settings))
  }

  /** @internal Opens and checks a connection, then builds the client with `make`. */
  protected static async open<C extends ClientCore>(options: ConnectOptions, make: (channel: Http2Channel, namespace: string, settings: ClientSettings) => C): Promise<C> {
    if (options.dataRoot !== undefined && !options.dataRoot.startsWith('/')) {
      throw new InvalidArgumentError(`dataRoot must be an absolute path, got ${JSON.stringify(options.dataRoot)}`)
    }
    const lease = options.leaseExpiresInMs
    if (lease !== undefined) checkRenewingExpiry(lease, 'leaseExpiresInMs')
    const settings: ClientSettings = {
      ...(options.dataRoot !== undefined ? { dataRoot: options.dataRoot } : {}),
      ...(lease !== undefined ? { leaseExpiresInMs: lease } : {}),
      network: checkNetworkSettings(withNetworkEnvironment(options.network ?? {})),
    }
    const socket = resolveAddress(options.address)
    const namespace = resolveNamespace(options.namespace)
    validateIdentifier('namespace', namespace)
    const timeoutMs = options.timeoutMs ?? 10_000
    const channel = new Http2Channel(socket, { connectTimeoutMs: timeoutMs })
    const client = make(channel, namespace, settings)
    try {
      await client.version({ timeoutMs, signal: options.signal })
    } catch (err) {
      channel.close()
      if (err instanceof UnavailableError && !err.message.includes(socket)) {
        throw new UnavailableError(`containerd is not reachable at ${socket}: ${err.message}`, { cause: err })
      }
      throw err
    }
    return client
  }

  /**
   * A view of this client bound to another namespace, sharing the connection. Closing a view does
   * nothing; close the client it came from.
   * @throws InvalidArgumentError for an invalid namespace name.
   */
  withNamespace(namespace: string): this {
    validateIdentifier('namespace', namespace)
    // Views are of the same class as the client they come from (a `Client` view has images too).
    const Ctor = this.constructor as unknown as new (channel: Http2Channel, namespace: string, root: boolean, guard: NamespaceGuard, settings: ClientSettings) => this
    return new Ctor(this.channel, namespace, false, this.guard, this.settings)
  }

  /**
   * @internal A view of this client (a `ClientCore`: same connection, namespace and settings) whose every
   * call carries `lease`, its id read at each call so a renewing lease's handover applies, whatever the
   * async context. The SDK's operations that run under a lease (pull, import, container create) make
   * their calls through one instead of entering `withLease`. Never handed to users: a handle made on it
   * would go on carrying a lease deleted when the operation ended.
   */
  leased(lease: LeaseHolder): ClientCore {
    return new ClientCore(this.channel, this.namespace, false, this.guard, this.settings, lease)
  }

  /**
   * @internal `withLease` for the SDK's own operations: runs `fn` with a lease view (see
   * {@link ClientCore.leased}) on a new renewing lease, deleted afterwards whether `fn` succeeds or throws.
   */
  async underLease<T>(fn: (leased: ClientCore) => Promise<T>, options?: WithLeaseOptions): Promise<T> {
    return this.leases.withRenewingLease((lease) => fn(this.leased(lease)), options)
  }

  /**
   * @internal Runs a multi-step operation so that, if it fails, a namespace it implicitly created is
   * removed again (see NamespaceGuard). Used by the higher layers (pull, import, container create).
   */
  async guardNamespace<T>(fn: () => Promise<T>): Promise<T> {
    return this.guard.run(this.namespace, fn)
  }

  /** The daemon's version and revision. */
  async version(options?: CallOptions): Promise<ServerVersion> {
    const { version, revision } = await this.services.version.version({}, options)
    return { version, revision }
  }

  /** The snapshot store of a snapshotter (default `overlayfs`). */
  snapshots(snapshotter: string = DEFAULT_SNAPSHOTTER): SnapshotStore {
    return new SnapshotStore(this.services, snapshotter, { namespace: this.namespace, guard: this.guard })
  }

  /**
   * Runs `fn` inside a new lease: every call made inside it, however deep, carries the lease, so the
   * content and snapshots it creates are safe from garbage collection until it returns. The lease is
   * deleted afterwards, whether `fn` succeeds or throws. Returns what `fn` returns.
   */
  async withLease<T>(fn: (leaseId: string) => Promise<T>, options?: WithLeaseOptions): Promise<T> {
    return this.leases.withLease(fn, options)
  }

  /**
   * Subscribes to the daemon's events in this client's namespace (every namespace with
   * `allNamespaces: true`), yielding typed, decoded payloads. The iterable ends when `signal` aborts or
   * the loop breaks; if the connection is lost it throws `UnavailableError` (subscribe again to resume:
   * events in between are not replayed).
   */
  events(options: EventsOptions = {}): AsyncIterable<ContainerdEvent> {
    const { allNamespaces, filters, ...rest } = options
    return subscribeEvents(this.services, { ...rest, filters: allNamespaces === true ? (filters ?? []) : namespaceFilters(this.namespace, filters) })
  }

  /** Closes the connection. Idempotent. Calls made afterwards fail with `UnavailableError`. */
  close(): void {
    if (this.root) this.channel.close()
  }

  /** Same as {@link ClientCore.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
  }
}

/**
 * nerdctl's environment variables as defaults for what the caller left out: `NETCONFPATH` for the CNI
 * conf dir and `CNI_PATH` (colon-separated) for the plugin dirs, so a shell set up for nerdctl (or a test
 * run pointing both tools at private dirs) configures the SDK the same way.
 */
function withNetworkEnvironment(settings: NetworkSettings): NetworkSettings {
  const confDir = process.env['NETCONFPATH']
  const pluginPath = process.env['CNI_PATH']
  return {
    ...(confDir !== undefined && confDir !== '' ? { cniConfDir: confDir } : {}),
    ...(pluginPath !== undefined && pluginPath !== '' ? { cniPluginDirs: pluginPath.split(':').filter((d) => d !== '') } : {}),
    ...settings,
  }
}

/** Checks the paths of `ConnectOptions.network` (absolute) and copies it, so later changes by the caller do not leak in. */
function checkNetworkSettings(settings: NetworkSettings): NetworkSettings {
  for (const key of ['cniConfDir', 'cniCacheDir', 'netnsDir'] as const) {
    const value = settings[key]
    if (value !== undefined && !value.startsWith('/')) throw new InvalidArgumentError(`network.${key} must be an absolute path, got ${JSON.stringify(value)}`)
  }
  for (const dir of settings.cniPluginDirs ?? []) {
    if (!dir.startsWith('/')) throw new InvalidArgumentError(`network.cniPluginDirs must hold absolute paths, got ${JSON.stringify(dir)}`)
  }
  return { ...settings, ...(settings.cniPluginDirs !== undefined ? { cniPluginDirs: [...settings.cniPluginDirs] } : {}) }
}
