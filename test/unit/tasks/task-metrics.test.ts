import { create, toBinary } from '@bufbuild/protobuf'
import { describe, expect, it } from 'vitest'
import { NotImplementedError } from '../../../src/grpc/errors.js'
import { MetricsSchema as V1Schema } from '../../../src/gen/containerd/cgroups/v1/metrics_pb.js'
import { MetricsSchema as V2Schema } from '../../../src/gen/containerd/cgroups/v2/metrics_pb.js'
import { MetricSchema, type Metric } from '../../../src/gen/containerd/types/metrics_pb.js'
import { CGROUP_V1_METRICS_TYPE, CGROUP_V2_METRICS_TYPE, decodeTaskMetric } from '../../../src/tasks/task-metrics.js'

const MiB = 1024 * 1024

// What containerd sends: a Metric whose data Any carries the stats message under its bare full name.
function metric(typeUrl: string, value: Uint8Array): Metric {
  return create(MetricSchema, { id: 'c1', timestamp: { seconds: 1_700_000_000n, nanos: 5_000_000 }, data: { typeUrl, value } })
}

describe('cgroup v1 metrics', () => {
  const v1 = create(V1Schema, {
    cpu: { usage: { total: 123_456_789n, user: 100_000_000n, kernel: 20_000_000n, perCpu: [1n, 2n] }, throttling: { periods: 10n, throttledPeriods: 3n, throttledTime: 5_000n } },
    memory: {
      usage: { usage: BigInt(10 * MiB), limit: BigInt(64 * MiB), max: BigInt(12 * MiB), failcnt: 0n },
      // memsw: memory plus swap.
      swap: { usage: BigInt(11 * MiB), limit: BigInt(128 * MiB) },
      totalCache: BigInt(4 * MiB),
      totalRss: BigInt(5 * MiB),
      totalInactiveFile: BigInt(3 * MiB),
    },
    memoryOomControl: { oomKill: 2n },
    pids: { current: 3n, limit: 42n },
    blkio: {
      ioServiceBytesRecursive: [
        { op: 'Read', major: 8n, minor: 0n, value: 4096n },
        { op: 'Write', major: 8n, minor: 0n, value: 8192n },
        { op: 'Sync', major: 8n, minor: 0n, value: 12288n },
        { op: 'Total', major: 8n, minor: 0n, value: 12288n },
        { op: 'Read', major: 7n, minor: 1n, value: 100n },
      ],
      ioServicedRecursive: [
        { op: 'Read', major: 8n, minor: 0n, value: 1n },
        { op: 'Write', major: 8n, minor: 0n, value: 2n },
        { op: 'Total', major: 8n, minor: 0n, value: 3n },
      ],
    },
  })

  it('normalises CPU, memory, pids and block I/O', () => {
    const m = decodeTaskMetric(metric(CGROUP_V1_METRICS_TYPE, toBinary(V1Schema, v1)))
    expect(m.id).toBe('c1')
    expect(m.timestamp).toEqual(new Date(1_700_000_000_005))
    expect(m.cgroup).toBe('v1')
    expect(m.cpu).toEqual({ usageNs: 123_456_789, userNs: 100_000_000, kernelNs: 20_000_000, periods: 10, throttledPeriods: 3, throttledNs: 5_000 })
    expect(m.memory).toEqual({
      usage: 10 * MiB,
      workingSet: 7 * MiB,
      limit: 64 * MiB,
      maxUsage: 12 * MiB,
      cache: 4 * MiB,
      rss: 5 * MiB,
      swapUsage: 1 * MiB,
      oomKills: 2,
    })
    expect(m.pids).toEqual({ current: 3, limit: 42 })
    // Sync/Total rows count the same I/O again and are left out; devices come sorted.
    expect(m.blkio).toEqual({
      readBytes: 4196,
      writeBytes: 8192,
      readOps: 1,
      writeOps: 2,
      devices: [
        { major: 7, minor: 1, readBytes: 100, writeBytes: 0, readOps: 0, writeOps: 0 },
        { major: 8, minor: 0, readBytes: 4096, writeBytes: 8192, readOps: 1, writeOps: 2 },
      ],
    })
    expect(m.raw.cgroup).toBe('v1')
    if (m.raw.cgroup === 'v1') expect(m.raw.message.cpu?.usage?.perCpu).toEqual([1n, 2n])
  })

  it('reports "no limit" as undefined: page-rounded 2^63 for memory, 0 for pids, and no swap accounting', () => {
    const unlimited = create(V1Schema, {
      memory: { usage: { usage: 1000n, limit: 9_223_372_036_854_771_712n }, swap: { usage: 0n, limit: 0n } },
      pids: { current: 1n, limit: 0n },
    })
    const m = decodeTaskMetric(metric(CGROUP_V1_METRICS_TYPE, toBinary(V1Schema, unlimited)))
    expect(m.memory.limit).toBeUndefined()
    expect(m.memory.swapUsage).toBeUndefined()
    expect(m.pids).toEqual({ current: 1, limit: undefined })
  })

  it('gives zeros for controllers that reported nothing', () => {
    const m = decodeTaskMetric(metric(CGROUP_V1_METRICS_TYPE, new Uint8Array()))
    expect(m.cpu.usageNs).toBe(0)
    expect(m.memory).toEqual({ usage: 0, workingSet: 0, limit: undefined, maxUsage: undefined, cache: 0, rss: 0, swapUsage: undefined, oomKills: 0 })
    expect(m.blkio).toEqual({ readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0, devices: [] })
  })
})

describe('cgroup v2 metrics', () => {
  const v2 = create(V2Schema, {
    cpu: { usageUsec: 1500n, userUsec: 1000n, systemUsec: 500n, nrPeriods: 7n, nrThrottled: 2n, throttledUsec: 30n },
    memory: {
      usage: BigInt(20 * MiB),
      usageLimit: BigInt(64 * MiB),
      maxUsage: BigInt(25 * MiB),
      swapUsage: BigInt(MiB),
      swapLimit: BigInt(64 * MiB),
      file: BigInt(6 * MiB),
      anon: BigInt(12 * MiB),
      inactiveFile: BigInt(2 * MiB),
    },
    memoryEvents: { oomKill: 1n },
    pids: { current: 4n, limit: 100n },
    io: {
      usage: [
        { major: 254n, minor: 0n, rbytes: 10n, wbytes: 20n, rios: 1n, wios: 2n },
        { major: 8n, minor: 16n, rbytes: 30n, wbytes: 40n, rios: 3n, wios: 4n },
      ],
    },
  })

  it('normalises to the same shape as v1, with microseconds turned into nanoseconds', () => {
    const m = decodeTaskMetric(metric(CGROUP_V2_METRICS_TYPE, toBinary(V2Schema, v2)))
    expect(m.cgroup).toBe('v2')
    expect(m.cpu).toEqual({ usageNs: 1_500_000, userNs: 1_000_000, kernelNs: 500_000, periods: 7, throttledPeriods: 2, throttledNs: 30_000 })
    expect(m.memory).toEqual({
      usage: 20 * MiB,
      workingSet: 18 * MiB,
      limit: 64 * MiB,
      maxUsage: 25 * MiB,
      cache: 6 * MiB,
      rss: 12 * MiB,
      swapUsage: MiB,
      oomKills: 1,
    })
    expect(m.pids).toEqual({ current: 4, limit: 100 })
    expect(m.blkio).toEqual({
      readBytes: 40,
      writeBytes: 60,
      readOps: 4,
      writeOps: 6,
      devices: [
        { major: 8, minor: 16, readBytes: 30, writeBytes: 40, readOps: 3, writeOps: 4 },
        { major: 254, minor: 0, readBytes: 10, writeBytes: 20, readOps: 1, writeOps: 2 },
      ],
    })
    if (m.raw.cgroup === 'v2') expect(m.raw.message.memory?.inactiveFile).toBe(BigInt(2 * MiB))
    else expect.unreachable('expected the v2 message')
  })

  it('reports "max" (2^64 - 1) as no limit, and a missing memory.peak or swap as undefined', () => {
    const max = 2n ** 64n - 1n
    const unlimited = create(V2Schema, {
      memory: { usage: 5000n, usageLimit: max, maxUsage: 0n, swapLimit: 0n },
      pids: { current: 2n, limit: max },
    })
    const m = decodeTaskMetric(metric(CGROUP_V2_METRICS_TYPE, toBinary(V2Schema, unlimited)))
    expect(m.memory.limit).toBeUndefined()
    expect(m.memory.maxUsage).toBeUndefined()
    expect(m.memory.swapUsage).toBeUndefined()
    expect(m.pids).toEqual({ current: 2, limit: undefined })
  })

  it('accepts a type URL with a prefix', () => {
    const m = decodeTaskMetric(metric(`type.googleapis.com/${CGROUP_V2_METRICS_TYPE}`, toBinary(V2Schema, v2)))
    expect(m.pids.current).toBe(4)
  })
})

describe('other metric types', () => {
  it('refuses a type it does not decode, naming it', () => {
    expect(() => decodeTaskMetric(metric('io.microsoft.hcsshim.stats.Statistics', new Uint8Array()))).toThrow(NotImplementedError)
    expect(() => decodeTaskMetric(metric('io.microsoft.hcsshim.stats.Statistics', new Uint8Array()))).toThrow(/io\.microsoft\.hcsshim/)
  })
})
