import { rm } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { ConflictError, NotFoundError } from '../grpc/errors.js'
import { NameStore, nameStoreDir } from './name-store.js'
import { removeEmptyParents, removeEmptyStoreDir } from './dir-lock.js'
import { NerdctlLabel } from './labels.js'

/**
 * Releases what nerdctl-style metadata a container had outside containerd (its name in the name store
 * and its state dir with the json log), after the container record is gone; used by `delete()` for our
 * containers and nerdctl's alike. The data store is derived from the `nerdctl/state-dir` label, and
 * only a path of the expected shape (`<store>/containers/<namespace>/<id>`) is ever removed, with the
`containers/<namespace>`, `names/<namespace>`, `containers/` and `names/` directories it leaves empty.
 */
export async function releaseNerdctlMetadata(id: string, labels: Record<string, string>): Promise<void> {
  const stateDir = labels[NerdctlLabel.stateDir]
  const namespace = labels[NerdctlLabel.namespace]
  if (stateDir === undefined || namespace === undefined) return
  const dir = resolve(stateDir)
  if (basename(dir) !== id || basename(dirname(dir)) !== namespace || basename(dirname(dirname(dir))) !== 'containers') return
  const dataStore = dirname(dirname(dirname(dir)))
  const name = labels[NerdctlLabel.name]
  if (name !== undefined && name !== '') {
    try {
      await new NameStore(dataStore, namespace).release(name, id)
    } catch (err) {
      // Someone else holds the name now (or never did): theirs to keep.
      if (!(err instanceof NotFoundError) && !(err instanceof ConflictError)) throw err
    }
  }
  await rm(dir, { recursive: true, force: true })
  // The per-namespace directories (and `containers/`, `names/`) go when this was their last entry: the
  // data store keeps no empty directory per namespace. Never the store itself or anything else in it.
  await removeEmptyParents(dir, 2)
  await removeEmptyStoreDir(nameStoreDir(dataStore, namespace), 1)
}
