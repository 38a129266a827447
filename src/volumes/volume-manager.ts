/**
 * `client.volumes`: nerdctl's `volume create / ls / inspect / rm / prune` on the client's namespace, over
 * nerdctl's volume store in the client's data store (so both tools see the same volumes), with "in use"
 * answered from the containers' labels.
 */

import type { ClientCore } from '../client/client.js'
import { checkOptionKeys, keysOf, CALL_OPTION_KEYS } from '../client/option-check.js'
import type { CallOptions } from '../grpc/call-options.js'
import { dataStorePath } from '../nerdctl/data-store.js'
import {
  CREATE_VOLUME_OPTION_KEYS,
  INSPECT_VOLUME_OPTION_KEYS,
  NerdctlVolumeStore,
  type VolumeInfo,
} from './volume-store.js'
import { volumesInUse } from './volumes-in-use.js'

/** Options of {@link VolumeStore.create}. */
export interface CreateVolumeOptions extends CallOptions {
  /** Labels written to the volume's `volume.json`. Ignored when the volume exists already (as in Docker). */
  labels?: Readonly<Record<string, string>>
}

/** Options of {@link VolumeStore.inspect}. */
export interface InspectVolumeOptions extends CallOptions {
  /** Also compute `Size` (walks the whole volume). Default false. */
  size?: boolean
}

/** Options of {@link VolumeStore.list}. */
export interface ListVolumesOptions extends InspectVolumeOptions {
  /** `docker volume ls --filter` values: `label=<key>[=<value>]` (all must match), `name=<regexp>`, `dangling=true|false`. */
  filters?: readonly string[]
}

/** Options of {@link VolumeStore.prune}. */
export interface PruneVolumesOptions extends CallOptions {
  /** Named volumes too, not only anonymous ones (`docker volume prune --all`). Default false. */
  all?: boolean
}

const LIST_KEYS = keysOf<ListVolumesOptions>()({ ...CALL_OPTION_KEYS, size: true, filters: true })
const PRUNE_KEYS = keysOf<PruneVolumesOptions>()({ ...CALL_OPTION_KEYS, all: true })
const REMOVE_KEYS = keysOf<CallOptions>()({ ...CALL_OPTION_KEYS })

/** `client.volumes`: named and anonymous volumes containers of this namespace mount with `run({ volumes })`. */
export class VolumeStore {
  /** @internal */
  constructor(private readonly client: ClientCore) {}

  /**
   * Creates a named volume (nerdctl's `volume create`), or returns it when it exists.
   * @throws InvalidArgumentError for a bad name (`a/b`, …); nothing is written then.
   */
  async create(name: string, options: CreateVolumeOptions = {}): Promise<VolumeInfo> {
    checkOptionKeys(options, CREATE_VOLUME_OPTION_KEYS, 'volumes.create()')
    return this.store().create(name, options)
  }

  /** A volume as `docker volume inspect` shows it. @throws NotFoundError when there is no such volume. */
  async inspect(name: string, options: InspectVolumeOptions = {}): Promise<VolumeInfo> {
    checkOptionKeys(options, INSPECT_VOLUME_OPTION_KEYS, 'volumes.inspect()')
    return this.store().inspect(name, options)
  }

  /** The namespace's volumes, optionally filtered. */
  async list(options: ListVolumesOptions = {}): Promise<VolumeInfo[]> {
    checkOptionKeys(options, LIST_KEYS, 'volumes.list()')
    return this.store().list({ ...options, inUse: () => volumesInUse(this.client, options) })
  }

  /**
   * Removes a volume and its data.
   * @throws FailedPreconditionError naming the containers when one uses it; NotFoundError when there is none.
   */
  async remove(name: string, options: CallOptions = {}): Promise<void> {
    checkOptionKeys(options, REMOVE_KEYS, 'volumes.remove()')
    await this.store().remove(name, { ...options, inUse: () => volumesInUse(this.client, options) })
  }

  /** Removes the volumes no container uses: anonymous ones, or all with `all`. Returns their names. */
  async prune(options: PruneVolumesOptions = {}): Promise<string[]> {
    checkOptionKeys(options, PRUNE_KEYS, 'volumes.prune()')
    return this.store().prune({ ...options, inUse: () => volumesInUse(this.client, options) })
  }

  private store(): NerdctlVolumeStore {
    return new NerdctlVolumeStore(dataStorePath(this.client.address, this.client.dataRoot), this.client.namespace)
  }
}

