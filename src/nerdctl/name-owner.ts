/**
 * Keeps the name store and containerd in agreement when a name is taken. A run that dies half-way (the
 * client killed, or containerd killed so that the run's undo could not delete the record) can leave a
 * container record labelled with a name whose reservation and state dir are gone; a plain name-store
 * check would then let a second container take the same name, and lookups by name would fail as
 * ambiguous. So the owner of a name is checked against containerd under the name store's lock.
 */

import { exists } from '../util/optional-file.js'
import { rm, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { ClientCore } from '../client/client.js'
import type { CallOptions } from '../grpc/call-options.js'
import { NotFoundError } from '../grpc/errors.js'
import { ContainerdContainer } from '../containers/container.js'
import { markRestartStopping } from '../containers/restart-policy.js'
import { Task } from '../tasks/task.js'
import { containersNamed, type NamedContainer } from './container-lookup.js'
import { containerStateDir } from './data-store.js'
import { NerdctlLabel } from './labels.js'
import { NameStore } from './name-store.js'

/**
 * How old a reservation without a container record must be before it counts as left by a crash: a run
 * reserves the name before it creates the record, and one still in that window must keep its name.
 */
export const STALE_RESERVATION_MS = 60_000

/** Options of {@link acquireContainerName}. */
export interface AcquireContainerNameOptions extends CallOptions {
  /** Overrides {@link STALE_RESERVATION_MS} (tests). */
  staleReservationMs?: number
}

/**
 * Reserves `name` for the container `id` in the client's namespace of the data store, after checking it
 * against containerd, under the name store's lock:
 * - a container record labelled with the name that the store does not give it (or whose state dir is
 *   gone) is an unfinished run: it is removed with its task and snapshot;
 * - a reservation whose container has no record and which is older than {@link STALE_RESERVATION_MS}
 *   is one a killed run left: it is taken over (its state dir removed);
 * - a record the store gives the name to, with its state dir, is the owner: ConflictError.
 * Records whose state dir is in another data store are not this store's to judge and are left alone.
 * @throws ConflictError when a live container holds the name; InvalidArgumentError for a bad name.
 */
export async function acquireContainerName(client: ClientCore, dataStore: string, name: string, id: string, options: AcquireContainerNameOptions = {}): Promise<void> {
  const { staleReservationMs = STALE_RESERVATION_MS, ...call } = options
  const store = new NameStore(dataStore, client.namespace)
  await store.acquire(name, id, {
    ...(call.signal !== undefined ? { signal: call.signal } : {}),
    reconcile: async (holder) => {
      const records = (await containersNamed(client, name, call)).filter((r) => r.id !== id && isInStore(r, dataStore, client.namespace))
      let owner = holder
      if (owner !== undefined && owner !== id && !records.some((r) => r.id === owner) && (await isAbandoned(client, store, name, owner, staleReservationMs, call))) {
        await rm(containerStateDir(dataStore, client.namespace, owner), { recursive: true, force: true })
        owner = undefined
      }
      for (const record of records) {
        if (record.id === owner && (await exists(containerStateDir(dataStore, client.namespace, record.id)))) continue
        if (record.id === owner) owner = undefined
        await removeOrphan(client, dataStore, record, call)
      }
      return owner
    },
  })
}

/** Whether the record's state dir label puts it in this data store and namespace (ours or nerdctl's). */
function isInStore(record: NamedContainer, dataStore: string, namespace: string): boolean {
  const stateDir = record.labels[NerdctlLabel.stateDir]
  return stateDir !== undefined && resolve(stateDir) === resolve(containerStateDir(dataStore, namespace, record.id))
}

async function hasRecord(client: ClientCore, id: string, options: CallOptions): Promise<boolean> {
  try {
    await client.services.containers.get({ id }, options)
    return true
  } catch (err) {
    if (err instanceof NotFoundError) return false
    throw err
  }
}

/**
 * Whether `holder`'s reservation of `name` is one a killed run left: containerd has no record of the
 * container and the reservation is at least `staleMs` old (a younger one may be a run on its way).
 */
async function isAbandoned(client: ClientCore, store: NameStore, name: string, holder: string, staleMs: number, options: CallOptions): Promise<boolean> {
  return !(await hasRecord(client, holder, options)) && (await reservationAge(store, name)) >= staleMs
}

async function reservationAge(store: NameStore, name: string): Promise<number> {
  try {
    return Date.now() - (await stat(resolve(store.dir, name))).mtimeMs
  } catch {
    return 0
  }
}


/** Removes an unfinished run's container: its task (killed), record, rootfs snapshot and state dir. */
async function removeOrphan(client: ClientCore, dataStore: string, record: NamedContainer, options: CallOptions): Promise<void> {
  // Out of the restart monitor's hands first, or it could start a task between the deletes.
  await markRestartStopping(client, record.id, options).catch(() => undefined)
  try {
    await new Task(client, record.id, 0).delete({ ...options, force: true })
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
  }
  try {
    await new ContainerdContainer(client, record.id).delete(options)
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
  }
  await rm(containerStateDir(dataStore, client.namespace, record.id), { recursive: true, force: true })
}

/**
 * Frees the names of the client's namespace whose reservation a killed run left: the id holding the
 * name has no container record and the reservation is older than {@link STALE_RESERVATION_MS} (a run
 * reserves its name only after its pull, and creates the record right after). Their state dirs go too.
 * Returns the names freed. A reservation whose container appeared meanwhile is kept (checked under
 * the lock by `release`, which refuses once another id holds the name).
 */
export async function releaseStaleReservations(client: ClientCore, dataStore: string, options: AcquireContainerNameOptions = {}): Promise<string[]> {
  const { staleReservationMs = STALE_RESERVATION_MS, ...call } = options
  const store = new NameStore(dataStore, client.namespace)
  if (!(await exists(store.dir))) return []
  const freed: string[] = []
  for (const [name, id] of await store.list(call.signal !== undefined ? { signal: call.signal } : {})) {
    if (!(await isAbandoned(client, store, name, id, staleReservationMs, call))) continue
    try {
      if (await store.release(name, id)) freed.push(name)
    } catch {
      // Taken over by another container meanwhile: not stale any more.
      continue
    }
    await rm(containerStateDir(dataStore, client.namespace, id), { recursive: true, force: true })
  }
  return freed
}
