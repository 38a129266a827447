/**
 * A task's cgroup statistics, decoded into one shape for cgroup v1 and v2.
 *
 * containerd's Tasks.Metrics returns each task's statistics as an `Any` whose type depends on the host:
 * `io.containerd.cgroups.v1.Metrics` on a v1 (or hybrid) host, `io.containerd.cgroups.v2.Metrics` on a
 * unified one. The two differ in units (v1 CPU time is in nanoseconds, v2 in microseconds), in names
 * (`total_rss` vs `anon`) and in how "no limit" is written (v1 reports a page-rounded 2^63, or 0 for pids;
 * v2 reports 2^64 - 1), so callers get one normalised view plus the decoded message for anything else.
 */

import { fromBinary } from '@bufbuild/protobuf'
import type { ClientCore } from '../client/client.js'
import { NotFoundError, NotImplementedError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { toDate } from '../client/time.js'
import { MetricsSchema as V1MetricsSchema, type BlkIOEntry, type Metrics as V1Metrics } from '../gen/containerd/cgroups/v1/metrics_pb.js'
import { MetricsSchema as V2MetricsSchema, type Metrics as V2Metrics } from '../gen/containerd/cgroups/v2/metrics_pb.js'
import type { Metric } from '../gen/containerd/types/metrics_pb.js'

/** Type name of cgroup v1 statistics in a metric's `Any` (containerd sends it without a URL prefix). */
export const CGROUP_V1_METRICS_TYPE = 'io.containerd.cgroups.v1.Metrics'
/** Type name of cgroup v2 statistics in a metric's `Any`. */
export const CGROUP_V2_METRICS_TYPE = 'io.containerd.cgroups.v2.Metrics'

// Limits at or above 2^62 bytes (4 EiB) or tasks are "no limit": v1 writes 2^63 rounded down to a page,
// v2 writes 2^64 - 1. No real limit comes near either.
const UNLIMITED = 2n ** 62n

/** CPU time used by the task's cgroup. */
export interface CpuMetrics {
  /** Total CPU time, in nanoseconds. */
  usageNs: number
  /** CPU time in user mode, in nanoseconds. */
  userNs: number
  /** CPU time in kernel mode, in nanoseconds. */
  kernelNs: number
  /** CFS enforcement periods that elapsed (only counted while a CPU quota is set). */
  periods: number
  /** Periods in which the cgroup was throttled. */
  throttledPeriods: number
  /** Total time throttled, in nanoseconds. */
  throttledNs: number
}

/** Memory use of the task's cgroup, in bytes. */
export interface MemoryMetrics {
  /** Current usage as the cgroup counts it (includes page cache). */
  usage: number
  /** Usage minus inactive file pages: what `docker stats` and the kubelet show, and what the OOM killer weighs. */
  workingSet: number
  /** The hard limit; `undefined` when there is none. */
  limit: number | undefined
  /** Peak usage; `undefined` when the kernel does not report it (cgroup v2 before Linux 5.19). */
  maxUsage: number | undefined
  /** Page cache (v1 `total_cache`, v2 `file`). */
  cache: number
  /** Anonymous memory (v1 `total_rss`, v2 `anon`). */
  rss: number
  /** Swap in use; `undefined` when swap accounting is off. */
  swapUsage: number | undefined
  /** Times the OOM killer killed a process in the cgroup (0 when the kernel does not say). */
  oomKills: number
}

/** Process count of the task's cgroup. */
export interface PidsMetrics {
  /** Processes and threads in the cgroup (0 when the pids controller reported nothing). */
  current: number
  /** The limit; `undefined` when there is none. */
  limit: number | undefined
}

/** Block I/O of one device. */
export interface BlkioDeviceMetrics {
  /** Device major number. */
  major: number
  /** Device minor number. */
  minor: number
  /** Bytes read. */
  readBytes: number
  /** Bytes written. */
  writeBytes: number
  /** Read operations. */
  readOps: number
  /** Write operations. */
  writeOps: number
}

/** Block I/O of the task's cgroup: totals over all devices, and per device. */
export interface BlkioMetrics {
  /** Bytes read, all devices. */
  readBytes: number
  /** Bytes written, all devices. */
  writeBytes: number
  /** Read operations, all devices. */
  readOps: number
  /** Write operations, all devices. */
  writeOps: number
  /** Per-device counters, ordered by major then minor number. */
  devices: BlkioDeviceMetrics[]
}

/**
 * The decoded statistics message, for fields the normalised view leaves out (hugetlb, rdma, PSI, the
 * full memory.stat, …). These are the generated protobuf messages of `proto/containerd/cgroups`, part
 * of the lower, less stable layer: counters are `bigint`.
 */
export type RawTaskMetrics = RawCgroupV1Metrics | RawCgroupV2Metrics

/** cgroup v1 statistics as decoded. */
export interface RawCgroupV1Metrics {
  /** The cgroup version. */
  readonly cgroup: 'v1'
  /** The `io.containerd.cgroups.v1.Metrics` message. */
  readonly message: V1Metrics
}

/** cgroup v2 statistics as decoded. */
export interface RawCgroupV2Metrics {
  /** The cgroup version. */
  readonly cgroup: 'v2'
  /** The `io.containerd.cgroups.v2.Metrics` message. */
  readonly message: V2Metrics
}

/** A task's statistics at one point in time. Counters are `number`s (exact up to 2^53). */
export interface TaskMetrics {
  /** The task's (container's) id. */
  id: string
  /** When the statistics were taken. */
  timestamp: Date | undefined
  /** The cgroup version the statistics come from. */
  cgroup: 'v1' | 'v2'
  /** CPU time. */
  cpu: CpuMetrics
  /** Memory use. */
  memory: MemoryMetrics
  /** Process count. */
  pids: PidsMetrics
  /** Block I/O. */
  blkio: BlkioMetrics
  /** The decoded message itself. */
  raw: RawTaskMetrics
}

/**
 * Reads a task's statistics from containerd (Tasks.Metrics filtered by id) and decodes them.
 * @throws NotFoundError when the task does not exist (e.g. it was deleted) or the runtime reported no
 * statistics for it (its cgroup is gone once it stopped).
 * @throws NotImplementedError for statistics of a type this SDK does not decode (not a Linux cgroup).
 */
export async function readTaskMetrics(client: ClientCore, id: string, options?: CallOptions): Promise<TaskMetrics> {
  // Quoted, so any valid container id (dots, dashes) is taken as one value by containerd's filter parser.
  const { metrics } = await client.services.tasks.metrics({ filters: [`id=="${id}"`] }, options)
  const metric = metrics.find((m) => m.id === id)
  if (metric !== undefined) return decodeTaskMetric(metric)
  // containerd skips tasks it cannot read instead of failing: tell "no such task" from "no statistics".
  await client.services.tasks.get({ containerId: id }, options)
  throw new NotFoundError(`task ${id}: the runtime reported no metrics for it (its cgroup is gone, e.g. after it stopped)`)
}

/**
 * Decodes one `containerd.types.Metric` (as Tasks.Metrics returns it) into {@link TaskMetrics}.
 * @throws NotImplementedError for a data type other than cgroup v1 or v2 statistics.
 */
export function decodeTaskMetric(metric: Metric): TaskMetrics {
  const typeUrl = metric.data?.typeUrl ?? ''
  const value = metric.data?.value ?? new Uint8Array()
  // containerd writes bare full names; accept a `type.googleapis.com/`-style prefix too.
  const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1)
  const base = { id: metric.id, timestamp: toDate(metric.timestamp) }
  if (typeName === CGROUP_V1_METRICS_TYPE) return { ...base, ...fromV1(fromBinary(V1MetricsSchema, value)) }
  if (typeName === CGROUP_V2_METRICS_TYPE) return { ...base, ...fromV2(fromBinary(V2MetricsSchema, value)) }
  throw new NotImplementedError(
    `task ${metric.id}: metrics of type "${typeUrl}" are not decoded (only cgroup v1 and v2); read them raw through client.services.tasks.metrics`,
  )
}

type Normalised = Omit<TaskMetrics, 'id' | 'timestamp'>

/** Normalises cgroup v1 statistics. */
export function fromV1(m: V1Metrics): Normalised {
  const usage = m.cpu?.usage
  const throttling = m.cpu?.throttling
  const mem = m.memory
  const used = num(mem?.usage?.usage)
  // v1's "swap" entry is memsw: memory plus swap. It is all zero when swap accounting is off.
  const memsw = mem?.swap
  const swapUsage = memsw === undefined || memsw.limit === 0n ? undefined : Math.max(0, num(memsw.usage) - used)
  return {
    cgroup: 'v1',
    cpu: {
      usageNs: num(usage?.total),
      userNs: num(usage?.user),
      kernelNs: num(usage?.kernel),
      periods: num(throttling?.periods),
      throttledPeriods: num(throttling?.throttledPeriods),
      throttledNs: num(throttling?.throttledTime),
    },
    memory: {
      usage: used,
      workingSet: Math.max(0, used - num(mem?.totalInactiveFile)),
      limit: limit(mem?.usage?.limit),
      maxUsage: mem?.usage === undefined ? undefined : num(mem.usage.max),
      cache: num(mem?.totalCache),
      rss: num(mem?.totalRss),
      swapUsage,
      oomKills: num(m.memoryOomControl?.oomKill),
    },
    pids: { current: num(m.pids?.current), limit: limit(m.pids?.limit) },
    blkio: blkioV1(m.blkio?.ioServiceBytesRecursive ?? [], m.blkio?.ioServicedRecursive ?? []),
    raw: { cgroup: 'v1', message: m },
  }
}

/** Normalises cgroup v2 statistics. */
export function fromV2(m: V2Metrics): Normalised {
  const cpu = m.cpu
  const mem = m.memory
  const used = num(mem?.usage)
  const devices = (m.io?.usage ?? []).map((e) => ({
    major: num(e.major),
    minor: num(e.minor),
    readBytes: num(e.rbytes),
    writeBytes: num(e.wbytes),
    readOps: num(e.rios),
    writeOps: num(e.wios),
  }))
  return {
    cgroup: 'v2',
    cpu: {
      // cgroup v2 counts CPU time in microseconds.
      usageNs: num(cpu?.usageUsec) * 1000,
      userNs: num(cpu?.userUsec) * 1000,
      kernelNs: num(cpu?.systemUsec) * 1000,
      periods: num(cpu?.nrPeriods),
      throttledPeriods: num(cpu?.nrThrottled),
      throttledNs: num(cpu?.throttledUsec) * 1000,
    },
    memory: {
      usage: used,
      workingSet: Math.max(0, used - num(mem?.inactiveFile)),
      limit: limit(mem?.usageLimit),
      // memory.peak is missing before Linux 5.19; containerd then reports 0, which no live cgroup has.
      maxUsage: mem === undefined || mem.maxUsage === 0n ? undefined : num(mem.maxUsage),
      cache: num(mem?.file),
      rss: num(mem?.anon),
      // memory.swap.max is 0 when swap is off (or not accounted): then there is no usage to report.
      swapUsage: mem === undefined || mem.swapLimit === 0n ? undefined : num(mem.swapUsage),
      oomKills: num(m.memoryEvents?.oomKill),
    },
    pids: { current: num(m.pids?.current), limit: limit(m.pids?.limit) },
    blkio: totals(sortDevices(devices)),
    raw: { cgroup: 'v2', message: m },
  }
}

/** Folds v1's per-operation rows (`Read`, `Write`, `Sync`, `Async`, `Total`, …) into per-device counters. */
function blkioV1(bytes: BlkIOEntry[], ops: BlkIOEntry[]): BlkioMetrics {
  const byDevice = new Map<string, BlkioDeviceMetrics>()
  const device = (e: BlkIOEntry): BlkioDeviceMetrics => {
    const key = `${e.major}:${e.minor}`
    let d = byDevice.get(key)
    if (d === undefined) {
      d = { major: num(e.major), minor: num(e.minor), readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 }
      byDevice.set(key, d)
    }
    return d
  }
  // Only Read and Write: Sync/Async/Total count the same I/O again.
  for (const e of bytes) {
    const op = e.op.toLowerCase()
    if (op === 'read') device(e).readBytes += num(e.value)
    else if (op === 'write') device(e).writeBytes += num(e.value)
  }
  for (const e of ops) {
    const op = e.op.toLowerCase()
    if (op === 'read') device(e).readOps += num(e.value)
    else if (op === 'write') device(e).writeOps += num(e.value)
  }
  return totals(sortDevices([...byDevice.values()]))
}

function sortDevices(devices: BlkioDeviceMetrics[]): BlkioDeviceMetrics[] {
  return devices.sort((a, b) => a.major - b.major || a.minor - b.minor)
}

function totals(devices: BlkioDeviceMetrics[]): BlkioMetrics {
  const sum = (pick: (d: BlkioDeviceMetrics) => number): number => devices.reduce((n, d) => n + pick(d), 0)
  return {
    readBytes: sum((d) => d.readBytes),
    writeBytes: sum((d) => d.writeBytes),
    readOps: sum((d) => d.readOps),
    writeOps: sum((d) => d.writeOps),
    devices,
  }
}

function num(value: bigint | undefined): number {
  return value === undefined ? 0 : Number(value)
}

/** A limit as reported, or undefined for "none": 0 (v1 pids "max") or anything at or above 2^62. */
function limit(value: bigint | undefined): number | undefined {
  if (value === undefined || value === 0n || value >= UNLIMITED) return undefined
  return Number(value)
}
