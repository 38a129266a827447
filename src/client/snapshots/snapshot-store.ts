import { Kind, type Info } from '../../gen/containerd/services/snapshots/v1/snapshots_pb.js'
import type { Mount as MountMessage } from '../../gen/containerd/types/mount_pb.js'
import { InvalidArgumentError } from '../../grpc/errors.js'
import { labelPatch } from '../label-patch.js'
import type { NamespaceScope } from '../namespace-scope.js'
import type { Services } from '../services.js'
import type { CallOptions } from '../../grpc/call-options.js'
import { toDate } from '../time.js'

/** A filesystem mount as containerd describes it (what `mount -t type -o options source target` needs). */
export interface Mount {
  /** Filesystem type, e.g. `overlay` or `bind`. */
  type: string
  /** Mount source (a directory for bind mounts, `overlay` for overlayfs). */
  source: string
  /** Sub-path inside the rootfs (containerd ≥ 1.7 may set it; usually empty). */
  target: string
  /** Mount options, e.g. `lowerdir=…`, `ro`, `rbind`. */
  options: string[]
}

/** The state of a snapshot. */
export type SnapshotKind = 'view' | 'active' | 'committed' | 'unknown'

/** A snapshot's metadata. */
export interface SnapshotInfo {
  /** Its key (active or view) or name (committed). */
  name: string
  /** The committed snapshot it is based on, or `''`. */
  parent: string
  /** Active (writable), view (read-only) or committed (a parent). */
  kind: SnapshotKind
  /** When it was created. */
  createdAt: Date | undefined
  /** When it last changed. */
  updatedAt: Date | undefined
  /** Its labels. */
  labels: Record<string, string>
}

/** Disk use of a snapshot. */
export interface SnapshotUsage {
  /** Bytes used by this snapshot alone (not its parents). */
  size: number
  /** Inodes used. */
  inodes: number
}

/** Options for prepare, view and commit. */
export interface SnapshotCreateOptions extends CallOptions {
  /** Labels to set, e.g. `containerd.io/gc.root` or `containerd.io/snapshot.ref`. */
  labels?: Record<string, string>
}

/**
 * One snapshotter's store (`client.snapshots('overlayfs')`): layered filesystems for images and
 * container rootfs. Active snapshots are writable, views are read-only, committed snapshots are parents.
 */
export class SnapshotStore {
  /** @internal */
  constructor(
    private readonly services: Services,
    /** The snapshotter's name, e.g. `overlayfs` or `native`. */
    readonly snapshotter: string,
    private readonly scope: NamespaceScope,
  ) {}

  /**
   * Creates a writable (active) snapshot `key` on top of `parent` (or empty) and returns its mounts.
   * @throws AlreadyExistsError if `key` exists; NotFoundError if `parent` does not.
   */
  async prepare(key: string, parent = '', options: SnapshotCreateOptions = {}): Promise<Mount[]> {
    checkKey(key)
    const { mounts } = await this.scope.guard.run(this.scope.namespace, () =>
      this.services.snapshots.prepare({ snapshotter: this.snapshotter, key, parent, labels: options.labels ?? {} }, options))
    return mounts.map(toMount)
  }

  /** Creates a read-only view `key` of `parent` and returns its mounts. */
  async view(key: string, parent = '', options: SnapshotCreateOptions = {}): Promise<Mount[]> {
    checkKey(key)
    const { mounts } = await this.scope.guard.run(this.scope.namespace, () =>
      this.services.snapshots.view({ snapshotter: this.snapshotter, key, parent, labels: options.labels ?? {} }, options))
    return mounts.map(toMount)
  }

  /** The mounts of an active snapshot or view. */
  async mounts(key: string, options?: CallOptions): Promise<Mount[]> {
    checkKey(key)
    const { mounts } = await this.services.snapshots.mounts({ snapshotter: this.snapshotter, key }, options)
    return mounts.map(toMount)
  }

  /**
   * Commits the active snapshot `key` as the committed snapshot `name` (the active one is gone after).
   * @throws NotFoundError if `key` does not exist; AlreadyExistsError if `name` does.
   */
  async commit(name: string, key: string, options: SnapshotCreateOptions = {}): Promise<void> {
    checkKey(name)
    checkKey(key)
    await this.services.snapshots.commit({ snapshotter: this.snapshotter, name, key, labels: options.labels ?? {} }, options)
  }

  /**
   * Removes a snapshot.
   * @throws NotFoundError if it does not exist; FailedPreconditionError if it has children.
   */
  async remove(key: string, options?: CallOptions): Promise<void> {
    checkKey(key)
    await this.services.snapshots.remove({ snapshotter: this.snapshotter, key }, options)
  }

  /**
   * A snapshot's metadata.
   * @throws NotFoundError if it does not exist.
   */
  async stat(key: string, options?: CallOptions): Promise<SnapshotInfo> {
    checkKey(key)
    const { info } = await this.services.snapshots.stat({ snapshotter: this.snapshotter, key }, options)
    return toInfo(info, key)
  }

  /** Sets labels (merged; `''` removes a key; `replace: true` replaces all). */
  async setLabels(key: string, labels: Record<string, string>, options: CallOptions & { replace?: boolean } = {}): Promise<SnapshotInfo> {
    checkKey(key)
    const patch = labelPatch(labels)
    const paths = options.replace === true ? ['labels'] : patch.paths
    const { info } = await this.services.snapshots.update(
      { snapshotter: this.snapshotter, info: { name: key, labels: patch.labels }, updateMask: { paths } },
      options,
    )
    return toInfo(info, key)
  }

  /** Lists snapshots as they arrive, optionally filtered (`parent==…`, `kind==committed`, `labels."k"==v`). */
  async *list(options: CallOptions & { filters?: string[] } = {}): AsyncIterable<SnapshotInfo> {
    for await (const batch of this.services.snapshots.list({ snapshotter: this.snapshotter, filters: options.filters ?? [] }, options)) {
      for (const info of batch.info) yield toInfo(info, info.name)
    }
  }

  /** Disk usage of one snapshot. */
  async usage(key: string, options?: CallOptions): Promise<SnapshotUsage> {
    checkKey(key)
    const res = await this.services.snapshots.usage({ snapshotter: this.snapshotter, key }, options)
    return { size: Number(res.size), inodes: Number(res.inodes) }
  }
}

// Snapshot keys are free-form (the unpacker uses "extract-<n> <chainID>"), but never empty.
function checkKey(key: string): void {
  if (key === '') throw new InvalidArgumentError('a snapshot key must not be empty')
}

/** Converts a wire Mount into ours. */
export function toMount(m: MountMessage): Mount {
  return { type: m.type, source: m.source, target: m.target, options: [...m.options] }
}

function toInfo(info: Info | undefined, key: string): SnapshotInfo {
  return {
    name: info?.name || key,
    parent: info?.parent ?? '',
    kind: kindName(info?.kind ?? Kind.UNKNOWN),
    createdAt: toDate(info?.createdAt),
    updatedAt: toDate(info?.updatedAt),
    labels: { ...(info?.labels ?? {}) },
  }
}

function kindName(kind: Kind): SnapshotKind {
  switch (kind) {
    case Kind.VIEW: return 'view'
    case Kind.ACTIVE: return 'active'
    case Kind.COMMITTED: return 'committed'
    default: return 'unknown'
  }
}
