import { AsyncLocalStorage } from 'node:async_hooks'

/** Where the active lease id is read from: a renewing lease swaps its id while calls run inside it. */
export interface LeaseHolder {
  /** The lease id new calls carry now. */
  readonly id: string
}

// The lease that calls made inside `client.withLease(...)` carry. AsyncLocalStorage follows the async
// call graph, so every RPC started inside the callback, however deep, gets the `containerd-lease` header
// without the callback passing anything around. A holder rather than an id: a renewing lease hands its
// work over to a new lease every few minutes, and calls started after that must carry the new one.
// Only for users' scopes (`withLease`, `RenewingLease.run`): on Node 22 the first `run` turns promise
// hooks on for the whole process (every promise then pays for them), so the SDK's own operations carry
// their lease on a lease view of the client (`ClientCore.leased`) and never enter it.
const activeLease = new AsyncLocalStorage<LeaseHolder>()

/** The lease id active in the current async context, if any (read at each call). */
export function currentLease(): string | undefined {
  return activeLease.getStore()?.id
}

/** Runs `fn` with `lease` (an id, or a holder whose id may change) as the active lease. */
export function runWithLease<T>(lease: string | LeaseHolder, fn: () => T): T {
  return activeLease.run(typeof lease === 'string' ? { id: lease } : lease, fn)
}
