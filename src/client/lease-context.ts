import { AsyncLocalStorage } from 'node:async_hooks'

// The lease that calls made inside `client.withLease(...)` carry. AsyncLocalStorage follows the async
// call graph, so every RPC started inside the callback, however deep, gets the `containerd-lease` header
// without the callback passing anything around.
const activeLease = new AsyncLocalStorage<string>()

/** The lease id active in the current async context, if any. */
export function currentLease(): string | undefined {
  return activeLease.getStore()
}

/** Runs `fn` with `leaseId` as the active lease. */
export function runWithLease<T>(leaseId: string, fn: () => T): T {
  return activeLease.run(leaseId, fn)
}
