import type { UsageRecord } from '../gen/moby/buildkit/api/services/control/control_pb.js'
import type { WorkerRecord } from '../gen/moby/buildkit/api/types/worker_pb.js'
import { toDate } from '../client/time.js'

/** What the daemon says about itself. */
export interface BuildKitInfo {
  /** The BuildKit version, e.g. `v0.25.2`; undefined when the daemon does not report one (before v0.11). */
  readonly version: string | undefined
  /** The Go module the daemon was built from, e.g. `github.com/moby/buildkit`, when reported. */
  readonly package: string | undefined
  /** The source revision, when reported. */
  readonly revision: string | undefined
  /**
   * How the version was learned: `info` from the Info RPC (v0.11+), `workers` from the worker records when
   * Info is missing but a worker carries a version, `unknown` when neither says (BuildKit v0.8 in dockerd 20.10).
   */
  readonly source: 'info' | 'workers' | 'unknown'
  /** True when the daemon has the Info RPC (BuildKit v0.11 or later). */
  readonly hasInfoRpc: boolean
}

/** One worker: labels tell its executor (`oci`, `containerd`, dockerd's `moby`), snapshotter and namespace. */
export interface BuildKitWorker {
  /** The worker id. */
  readonly id: string
  /** Labels such as `org.mobyproject.buildkit.worker.executor`. */
  readonly labels: Readonly<Record<string, string>>
  /** Platforms it builds for, as `os/arch[/variant]`. */
  readonly platforms: readonly string[]
  /** The BuildKit version the worker reports (newer daemons only). */
  readonly buildkitVersion: string | undefined
}

/** One cache record from DiskUsage or Prune. */
export interface BuildKitUsageRecord {
  /** The record id. */
  readonly id: string
  /** Whether it is a mutable (writable) snapshot. */
  readonly mutable: boolean
  /** Whether a running build holds it. */
  readonly inUse: boolean
  /** Bytes on disk. */
  readonly size: number
  /** Parent record ids. */
  readonly parents: readonly string[]
  /** When it was created. */
  readonly createdAt: Date | undefined
  /** When a build last used it. */
  readonly lastUsedAt: Date | undefined
  /** How many builds used it. */
  readonly usageCount: number
  /** What made it (e.g. the step's command). */
  readonly description: string
  /** The record type (`regular`, `source.local`, `exec.cachemount`, ...). */
  readonly recordType: string
  /** Whether other records share its data. */
  readonly shared: boolean
}

/** Converts a worker record to the domain shape. */
export function toWorker(record: WorkerRecord): BuildKitWorker {
  return {
    id: record.ID,
    labels: { ...record.Labels },
    platforms: record.platforms.map((p) => [p.OS, p.Architecture, p.Variant].filter((s) => s !== '').join('/')),
    // proto3 strings are '' when unset: an empty version means the worker did not report one.
    buildkitVersion: record.BuildkitVersion?.version || undefined,
  }
}

/** Converts a cache record to the domain shape (sizes fit a number: 2^53 bytes is 8 PiB). */
export function toUsageRecord(record: UsageRecord): BuildKitUsageRecord {
  return {
    id: record.ID,
    mutable: record.Mutable,
    inUse: record.InUse,
    size: Number(record.Size),
    // Daemons before Parents existed send only the single Parent.
    parents: record.Parents.length > 0 ? [...record.Parents] : record.Parent !== '' ? [record.Parent] : [],
    createdAt: toDate(record.CreatedAt),
    lastUsedAt: toDate(record.LastUsedAt),
    usageCount: Number(record.UsageCount),
    description: record.Description,
    recordType: record.RecordType,
    shared: record.Shared,
  }
}
