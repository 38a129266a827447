import { randomBytes } from 'node:crypto'
import type { CallOptions } from '../../grpc/call-options.js'
import { InvalidArgumentError } from '../../grpc/errors.js'
import { validateIdentifier } from '../identifiers.js'
import { runWithLease } from '../lease-context.js'
import type { NamespaceScope } from '../namespace-scope.js'
import type { Services } from '../services.js'
import { toDate } from '../time.js'

/** containerd's GC honours this label: an expired lease is collected even if nobody deletes it. */
export const LEASE_EXPIRE_LABEL = 'containerd.io/gc.expire'

/**
 * The latest expiry the label can carry: containerd parses it as RFC 3339, whose years have four digits
 * (a later date is written `+010000-…`, which containerd ignores with a log line: the lease never expires).
 */
const MAX_EXPIRY = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/**
 * Default expiry of the leases operations hold (pull, import, container create, `withLease`): short, so
 * what a crashed process was writing is collectable within minutes; the live operation keeps renewing.
 */
export const DEFAULT_OPERATION_LEASE_EXPIRY_MS = 5 * 60 * 1000
/** Label linking the leases of one renewing lease (the first lease's id), so tools can tell they belong together. */
export const LEASE_CHAIN_LABEL = 'containerd-sdk/lease-chain'
/** The shortest expiry a renewing lease accepts: it renews every third of it, and each renewal is a few RPCs. */
export const MIN_RENEWING_EXPIRY_MS = 1500

/**
 * Checks an expiry for renewing leases: a finite number of at least {@link MIN_RENEWING_EXPIRY_MS}.
 * @throws InvalidArgumentError naming `what`.
 */
export function checkRenewingExpiry(value: unknown, what: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < MIN_RENEWING_EXPIRY_MS) {
    throw new InvalidArgumentError(`${what} must be a number of at least ${MIN_RENEWING_EXPIRY_MS}, got ${String(value)}`)
  }
}

/** A lease as listed by containerd. */
export interface LeaseInfo {
  /** The lease id. */
  id: string
  /** When it was created. */
  createdAt: Date | undefined
  /** Its labels (`containerd.io/gc.expire`, `containerd.io/gc.flat`, …). */
  labels: Record<string, string>
}

/** A resource a lease protects from garbage collection. */
export interface LeaseResource {
  /** The resource id: a digest for content, a key for snapshots, an ingest ref. */
  id: string
  /** `content`, `snapshots/<snapshotter>` or `ingests`. */
  type: string
}

/** Options for {@link LeaseManager.create}. */
export interface CreateLeaseOptions extends CallOptions {
  /** The lease id. Default: a unique generated one. */
  id?: string
  /** Labels to set. */
  labels?: Record<string, string>
  /**
   * Milliseconds after which containerd's GC may drop the lease even if it is never deleted (sets the
   * `containerd.io/gc.expire` label), so a crashed process cannot pin content forever. Default: no expiry.
   * Must be more than 0 and end before the year 10000 (`InvalidArgumentError` otherwise).
   */
  expiresInMs?: number
}

/** Options for {@link LeaseManager.createRenewing}. */
export interface CreateRenewingLeaseOptions extends CallOptions {
  /** Labels to set on every lease of the chain. */
  labels?: Record<string, string>
  /**
   * How long the lease outlives the last renewal: a crashed process's lease is collectable this long
   * after it died. Renewed every third of it. Default the client's `leaseExpiresInMs` (5 minutes unless set at connect); at least 1.5 s.
   */
  expiresInMs?: number
}

/**
 * A lease a live operation keeps alive with a short expiry (see {@link LeaseManager.createRenewing}).
 * `await using` deletes it.
 */
export interface RenewingLease extends AsyncDisposable {
  /** The id of the lease new calls carry now; it changes at each renewal. */
  readonly id: string
  /**
   * Runs `fn` with this lease active: every call inside it, through any client, carries the current lease
   * id (the async context carries it, as in `withLease`).
   */
  run<T>(fn: () => Promise<T>): Promise<T>
  /** Stops renewing and deletes every lease of the chain (idempotent). */
  delete(options?: DeleteLeaseOptions): Promise<void>
}

/** Options for {@link LeaseManager.delete}. */
export interface DeleteLeaseOptions extends CallOptions {
  /** Wait for the garbage collection the deletion triggers to finish. Default false. */
  sync?: boolean
}

/** Options for `withLease`. */
export interface WithLeaseOptions extends CallOptions {
  /** Labels for the lease. */
  labels?: Record<string, string>
  /**
   * How long the lease outlives its last renewal: the lease is renewed while `fn` runs (see
   * {@link LeaseManager.createRenewing}), so this bounds how long a crashed process pins what it wrote,
   * not how long `fn` may run. Default the client's `leaseExpiresInMs`, 5 minutes unless set at connect (the Go client's 24 h
   * would pin a crashed pull's layers for a day).
   */
  expiresInMs?: number
  /** Wait for garbage collection when the lease is released. Default false. */
  sync?: boolean
}

/** A lease created by {@link LeaseManager.create}. `await using` deletes it. */
export interface Lease extends AsyncDisposable {
  /** The lease id, for the `containerd-lease` header or `runWithLease`. */
  readonly id: string
  /** When the daemon created it. */
  readonly createdAt: Date | undefined
  /** Its labels. */
  readonly labels: Record<string, string>
  /** Deletes the lease (idempotent: a lease already gone is not an error). */
  delete(options?: DeleteLeaseOptions): Promise<void>
}

/**
 * Leases keep content and snapshots alive while work is in progress: containerd's garbage collector
 * removes unreferenced objects unless a lease (or an image or container) holds them.
 */
export class LeaseManager {
  /** @internal */
  constructor(
    private readonly services: Services,
    private readonly scope: NamespaceScope,
    // The client's default for operation leases (`ConnectOptions.leaseExpiresInMs`).
    private readonly operationExpiryMs: number = DEFAULT_OPERATION_LEASE_EXPIRY_MS,
  ) {}

  /**
   * Creates a lease in the client's namespace.
   * @throws InvalidArgumentError for an id containerd refuses or an `expiresInMs` that is not a time to come.
   */
  async create(options: CreateLeaseOptions = {}): Promise<Lease> {
    const id = options.id ?? generateLeaseId()
    validateIdentifier('lease id', id)
    const labels = { ...(options.labels ?? {}) }
    if (options.expiresInMs !== undefined) labels[LEASE_EXPIRE_LABEL] = expiryLabel(options.expiresInMs)
    const { lease } = await this.scope.guard.run(this.scope.namespace, () => this.services.leases.create({ id, labels }, options))
    let deleted: Promise<void> | undefined
    const remove = (deleteOptions?: DeleteLeaseOptions): Promise<void> => {
      deleted ??= this.delete(id, deleteOptions).catch((err: unknown) => {
        deleted = undefined
        if ((err as { code?: string }).code !== 'NotFound') throw err
      })
      return deleted
    }
    return {
      id,
      createdAt: toDate(lease?.createdAt),
      labels: { ...(lease?.labels ?? labels) },
      delete: remove,
      [Symbol.asyncDispose]: () => remove(),
    }
  }

  /**
   * Creates a lease with a short expiry that renews itself until deleted, so a process that crashes
   * mid-operation frees what it held within `expiresInMs` (at containerd's next garbage collection), while
   * a live operation keeps it however long it runs.
   *
   * containerd has no RPC to update a lease's labels (1.6, 1.7 and 2.x alike), so a renewal hands over
   * instead: every third of the expiry it creates a new lease with a fresh `containerd.io/gc.expire`, adds
   * to it every resource of the chain's leases not yet expired (content, ingests, snapshots), and makes it
   * the id that new calls inside {@link RenewingLease.run} carry. Earlier leases are left to expire; the
   * next renewals still copy what calls started under them add. A call that began under a lease and is
   * still running when that lease expires (a single RPC longer than two thirds of the expiry) can fail
   * with `NotFoundError` (lease does not exist).
   * @throws InvalidArgumentError for an expiry below 1.5 s or not a finite number.
   */
  async createRenewing(options: CreateRenewingLeaseOptions = {}): Promise<RenewingLease> {
    const expiresInMs = options.expiresInMs ?? this.operationExpiryMs
    checkRenewingExpiry(expiresInMs, "a renewing lease's expiresInMs")
    const baseLabels = { ...(options.labels ?? {}) }
    const chain = { [LEASE_CHAIN_LABEL]: generateLeaseId() }
    const first = await this.create({ ...options, id: chain[LEASE_CHAIN_LABEL], labels: { ...baseLabels, ...chain }, expiresInMs })
    // Leases of the chain whose expiry has not passed: resources may still be added to them.
    const members: { id: string; expiresAt: number }[] = [{ id: first.id, expiresAt: Date.now() + expiresInMs }]
    const holder = { id: first.id }
    let stopped = false
    let renewed = false
    let renewing: Promise<void> = Promise.resolve()
    const renew = async (): Promise<void> => {
      renewed = true
      const next = await this.create({ labels: { ...baseLabels, ...chain }, expiresInMs })
      const expiresAt = Date.now() + expiresInMs
      try {
        const now = Date.now()
        for (const m of members.filter((x) => x.expiresAt > now)) {
          for (const resource of await this.listResources(m.id)) await this.addResource(next.id, resource)
        }
      } catch (err) {
        await next.delete().catch(() => undefined)
        throw err
      }
      if (stopped) {
        await next.delete().catch(() => undefined)
        return
      }
      members.push({ id: next.id, expiresAt })
      holder.id = next.id
      const now = Date.now()
      // Expired ones are containerd's GC's to remove; forget them.
      for (let i = members.length - 1; i >= 0; i--) if ((members[i]?.expiresAt ?? 0) <= now) members.splice(i, 1)
    }
    const timer = setInterval(() => {
      // One renewal at a time; a failed one (daemon briefly away) is retried at the next tick, while the
      // current lease still has two thirds of its expiry left.
      renewing = renewing.then(renew).catch(() => undefined)
      // setInterval takes at most 2^31 - 1 ms (longer is taken as 1 ms): a very long expiry renews at that pace.
    }, Math.min(Math.floor(expiresInMs / 3), 2 ** 31 - 1))
    // A renewal never keeps the process alive on its own.
    timer.unref()
    let deleted: Promise<void> | undefined
    const remove = (deleteOptions: DeleteLeaseOptions = {}): Promise<void> => {
      deleted ??= (async () => {
        stopped = true
        clearInterval(timer)
        await renewing
        // Expired leases of the chain stay listed until containerd's next collection: delete them too
        // (found by the chain label), then the live ones, newest last, so with `sync` that deletion's
        // collection runs once all are gone.
        const live = members.map((m) => m.id)
        // Only a chain that renewed has such leases: a short operation deletes its one lease, one call.
        const listed = renewed ? await this.list({ filters: [`labels."${LEASE_CHAIN_LABEL}"==${first.id}`] }).catch(() => []) : []
        const ids = [...listed.map((l) => l.id).filter((id) => !live.includes(id)), ...live]
        for (const [i, id] of ids.entries()) {
          try {
            await this.delete(id, i === ids.length - 1 ? deleteOptions : {})
          } catch (err) {
            if ((err as { code?: string }).code !== 'NotFound') throw err
          }
        }
      })()
      deleted.catch(() => { deleted = undefined })
      return deleted
    }
    return {
      get id() {
        return holder.id
      },
      run: (fn) => runWithLease(holder, fn),
      delete: remove,
      [Symbol.asyncDispose]: () => remove(),
    }
  }

  /** Lists leases, optionally filtered (`id==…`, `labels."key"==value`). */
  async list(options: CallOptions & { filters?: string[] } = {}): Promise<LeaseInfo[]> {
    const { leases } = await this.services.leases.list({ filters: options.filters ?? [] }, options)
    return leases.map((l) => ({ id: l.id, createdAt: toDate(l.createdAt), labels: { ...l.labels } }))
  }

  /**
   * Deletes a lease; what only it protected becomes collectable.
   * @throws NotFoundError if there is no such lease.
   */
  async delete(id: string, options: DeleteLeaseOptions = {}): Promise<void> {
    await this.services.leases.delete({ id, sync: options.sync ?? false }, options)
  }

  /** Adds a resource to a lease so GC keeps it. */
  async addResource(leaseId: string, resource: LeaseResource, options?: CallOptions): Promise<void> {
    await this.services.leases.addResource({ id: leaseId, resource }, options)
  }

  /** Removes a resource from a lease. */
  async deleteResource(leaseId: string, resource: LeaseResource, options?: CallOptions): Promise<void> {
    await this.services.leases.deleteResource({ id: leaseId, resource }, options)
  }

  /** Lists the resources a lease holds. */
  async listResources(leaseId: string, options?: CallOptions): Promise<LeaseResource[]> {
    const { resources } = await this.services.leases.listResources({ id: leaseId }, options)
    return resources.map((r) => ({ id: r.id, type: r.type }))
  }

  /**
   * Runs `fn` inside a new lease: every call made inside it (through any client sharing the async
   * context) carries the `containerd-lease` header. The lease is always deleted afterwards, also when
   * `fn` throws; a failure to delete it is reported only if `fn` succeeded.
   */
  async withLease<T>(fn: (leaseId: string) => Promise<T>, options: WithLeaseOptions = {}): Promise<T> {
    // The async context carries the lease (AsyncLocalStorage): only a caller of withLease pays for it.
    return this.withRenewingLease((lease) => lease.run(() => fn(lease.id)), options)
  }

  /**
   * @internal The scope of `withLease` without the async context: runs `fn` with a new renewing lease,
   * deleted afterwards whether `fn` succeeds or throws (a failure to delete it is reported only if `fn`
   * succeeded). `fn` makes its calls carry the lease itself (through `client.leased(lease)`), so the
   * SDK's own operations never enter AsyncLocalStorage, whose promise hooks would then slow every
   * promise of the process on Node 22.
   */
  async withRenewingLease<T>(fn: (lease: RenewingLease) => Promise<T>, options: WithLeaseOptions = {}): Promise<T> {
    const createOptions: CreateRenewingLeaseOptions = { expiresInMs: options.expiresInMs ?? this.operationExpiryMs }
    if (options.labels !== undefined) createOptions.labels = options.labels
    if (options.signal !== undefined) createOptions.signal = options.signal
    if (options.timeoutMs !== undefined) createOptions.timeoutMs = options.timeoutMs
    // The guard spans the whole scope: if `fn` fails in a namespace the lease created, the namespace goes too.
    return this.scope.guard.run(this.scope.namespace, async () => {
      const lease = await this.createRenewing(createOptions)
      let result: T
      try {
        result = await fn(lease)
      } catch (err) {
        // Release without the caller's signal: an aborted operation must still clean up.
        await lease.delete({ sync: options.sync ?? false }).catch(() => undefined)
        throw err
      }
      await lease.delete({ sync: options.sync ?? false })
      return result
    })
  }
}

/**
 * The `containerd.io/gc.expire` value for a lease expiring `expiresInMs` from now. Checked first: NaN, a
 * string or a date past the year 9999 made `toISOString()` throw a raw RangeError, and 0 or less a lease
 * the next garbage collection may drop while it is in use.
 */
function expiryLabel(expiresInMs: unknown): string {
  const expiry = typeof expiresInMs === 'number' ? Date.now() + expiresInMs : NaN
  if (typeof expiresInMs !== 'number' || !(expiresInMs > 0) || !(expiry <= MAX_EXPIRY)) {
    const shown = typeof expiresInMs === 'string' ? JSON.stringify(expiresInMs) : String(expiresInMs)
    throw new InvalidArgumentError(
      `lease expiresInMs must be a number of milliseconds more than 0 that ends before the year 10000, got ${shown}; leave it out for no expiry`,
    )
  }
  return new Date(expiry).toISOString()
}

/** A lease id unique enough across processes: time plus random bits. */
export function generateLeaseId(): string {
  return `csdk-${Date.now()}-${randomBytes(6).toString('hex')}`
}
