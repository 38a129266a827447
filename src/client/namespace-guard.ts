import type { Services } from './services.js'

/**
 * Keeps a failed call from leaving a namespace behind.
 *
 * containerd creates a namespace implicitly on the first write into it, and keeps it when that write
 * fails: a rejected blob or a lease that was released still leaves an empty namespace that was not
 * there before. Operations that may create one run through `run()`: the first time a namespace is used
 * by this connection we check whether it exists; if the operation then fails and the namespace is new,
 * it is deleted again. containerd refuses to delete a namespace that holds anything, so a concurrent
 * writer's objects are never at risk; at worst an empty namespace another client created at the same
 * instant disappears, and containerd recreates it on its next write.
 */
export class NamespaceGuard {
  private readonly known = new Set<string>()
  // Guarded calls in flight per namespace.
  private readonly active = new Map<string, number>()

  /** @internal */
  constructor(private readonly services: () => Services) {}

  /** Runs `fn`; if it fails and `namespace` did not exist before, removes the namespace again. */
  async run<T>(namespace: string, fn: () => Promise<T>): Promise<T> {
    if (this.known.has(namespace)) return fn()
    // Counted before the existence check: a call that fails must not delete the namespace while
    // another call of this connection is working in it (containerd deletes a namespace that holds only
    // leases, and with it the other call's lease).
    this.active.set(namespace, (this.active.get(namespace) ?? 0) + 1)
    try {
      const existed = await this.exists(namespace)
      try {
        const result = await fn()
        this.known.add(namespace)
        return result
      } catch (err) {
        if (existed) {
          this.known.add(namespace)
        } else if (this.active.get(namespace) === 1) {
          // A nested run inside `fn` may have marked the namespace as known; it is gone now.
          this.known.delete(namespace)
          await this.services().namespaces.delete({ name: namespace }).catch(() => undefined)
        }
        throw err
      }
    } finally {
      const left = (this.active.get(namespace) ?? 1) - 1
      if (left === 0) this.active.delete(namespace)
      else this.active.set(namespace, left)
    }
  }

  /** Forgets what is known about a namespace (after it was deleted through this client). */
  forget(namespace: string): void {
    this.known.delete(namespace)
  }

  private async exists(namespace: string): Promise<boolean> {
    const { namespaces } = await this.services().namespaces.list({})
    return namespaces.some((ns) => ns.name === namespace)
  }
}
