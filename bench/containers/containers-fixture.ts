/**
 * Creates and removes the containers the `Containers.List` measurement lists. They are metadata records only
 * (no snapshot, no task): containerd 1.6 requires an id, a runtime name and a spec, nothing else.
 */
import type { Client } from '../../src/index.js'

const RUNTIME = 'io.containerd.runc.v2'
const SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec'
// A minimal spec: List returns it verbatim, and a small one keeps the figure about per-record overhead.
const SPEC_JSON = new TextEncoder().encode(JSON.stringify({ ociVersion: '1.0.2' }))
/** Label put on every bench container, so a sweep finds leftovers of an interrupted run too. */
export const BENCH_LABEL = 'io.containerd-sdk.bench'
// Concurrent creates: containerd serialises writes to its bolt database, a few in flight hide the round trips.
const CONCURRENCY = 16

export function benchContainerId(index: number): string {
  return `bench-list-${String(index).padStart(5, '0')}`
}

/** Runs `fn` over `items` with at most `limit` calls in flight; rejects with the first failure. */
async function forEachConcurrent<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T
      await fn(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/** Creates `count` containers in the client's namespace; returns their ids. */
export async function createBenchContainers(client: Client, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => benchContainerId(i))
  await forEachConcurrent(ids, CONCURRENCY, async (id) => {
    await client.services.containers.create({
      container: {
        id,
        runtime: { name: RUNTIME },
        spec: { typeUrl: SPEC_TYPE_URL, value: SPEC_JSON },
        labels: { [BENCH_LABEL]: 'list', 'io.containerd-sdk.bench.index': id.slice(-5) },
      },
    })
  })
  return ids
}

/** Deletes every container carrying the bench label (also those of an earlier, interrupted run). */
export async function deleteBenchContainers(client: Client): Promise<number> {
  const { containers } = await client.services.containers.list({ filters: [`labels."${BENCH_LABEL}"`] })
  await forEachConcurrent(containers, CONCURRENCY, async (c) => {
    await client.services.containers.delete({ id: c.id })
  })
  return containers.length
}
