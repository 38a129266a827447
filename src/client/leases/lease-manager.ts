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

/** Options for {@link LeaseManager.delete}. */
export interface DeleteLeaseOptions extends CallOptions {
  /** Wait for the garbage collection the deletion triggers to finish. Default false. */
  sync?: boolean
}

/** Options for `withLease`. */
export interface WithLeaseOptions extends CallOptions {
  /** Labels for the lease. */
  labels?: Record<string, string>
  /** Expiry as in {@link CreateLeaseOptions.expiresInMs}. Default 24 h, like the Go client. */
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
    const createOptions: CreateLeaseOptions = { expiresInMs: options.expiresInMs ?? 24 * 60 * 60 * 1000 }
    if (options.labels !== undefined) createOptions.labels = options.labels
    if (options.signal !== undefined) createOptions.signal = options.signal
    if (options.timeoutMs !== undefined) createOptions.timeoutMs = options.timeoutMs
    // The guard spans the whole scope: if `fn` fails in a namespace the lease created, the namespace goes too.
    return this.scope.guard.run(this.scope.namespace, async () => {
      const lease = await this.create(createOptions)
      let result: T
      try {
        result = await runWithLease(lease.id, () => fn(lease.id))
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
