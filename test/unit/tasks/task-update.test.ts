import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { buildUpdateResources, checkLinuxResources } from '../../../src/tasks/task-update.js'

const MiB = 1024 * 1024

describe('task update resources', () => {
  it('turns Docker-style limits into OCI resources', () => {
    expect(buildUpdateResources({ memory: '128m', pidsLimit: 50, cpus: 0.5, cpuShares: 512, cpusetCpus: '0', blkioWeight: 300 })).toEqual({
      memory: { limit: 128 * MiB },
      cpu: { quota: 50_000, period: 100_000, shares: 512, cpus: '0' },
      pids: { limit: 50 },
      blockIO: { weight: 300 },
    })
  })

  it('does not derive swap from memory (an update changes only what it is given)', () => {
    expect(buildUpdateResources({ memory: '64m' })?.memory).toEqual({ limit: 64 * MiB })
    expect(buildUpdateResources({ memory: '64m', memorySwap: '256m' })?.memory).toEqual({ limit: 64 * MiB, swap: 256 * MiB })
    expect(buildUpdateResources({ memory: '64m', memorySwap: -1 })?.memory).toEqual({ limit: 64 * MiB, swap: -1 })
  })

  it('puts the Docker-style limits over raw ones and keeps the rest of the raw ones', () => {
    const raw = { memory: { limit: 32 * MiB, swappiness: 10 }, pids: { limit: 10 } }
    expect(buildUpdateResources({ pidsLimit: 20 }, raw)).toEqual({ memory: { limit: 32 * MiB, swappiness: 10 }, pids: { limit: 20 } })
    // The caller's object is not changed.
    expect(raw.pids.limit).toBe(10)
  })

  it('takes CPU quota and period directly, -1 removing the quota', () => {
    expect(buildUpdateResources({ cpuQuota: 20_000, cpuPeriod: 50_000 })).toEqual({ cpu: { quota: 20_000, period: 50_000 } })
    expect(buildUpdateResources({ cpuQuota: -1 })).toEqual({ cpu: { quota: -1 } })
    expect(buildUpdateResources({ pidsLimit: -1 })).toEqual({ pids: { limit: -1 } })
  })

  it('is undefined when there is nothing to change', () => {
    expect(buildUpdateResources()).toBeUndefined()
  })

  it.each([
    [{ memory: -1 }, /--memory/],
    [{ memory: 'lots' }, /--memory: invalid size "lots"/],
    [{ memory: '1k' }, /minimum of 6 MiB/],
    [{ memory: '64m', memorySwap: '32m' }, /less than --memory/],
    [{ memorySwap: 'x' }, /--memory-swap/],
    [{ cpus: -2 }, /--cpus/],
    [{ cpus: 'two' }, /--cpus/],
    [{ cpus: 1, cpuQuota: 1000 }, /cannot be combined/],
    [{ cpuQuota: 10 }, /cpuQuota: 10/],
    [{ cpuPeriod: 5_000_000 }, /cpuPeriod/],
    [{ cpuShares: 1 }, /--cpu-shares/],
    [{ cpusetCpus: '3-1' }, /reversed/],
    [{ cpusetMems: 'a,b' }, /--cpuset-mems/],
    [{ pidsLimit: -5 }, /--pids-limit/],
    [{ pidsLimit: 1.5 }, /--pids-limit/],
    [{ blkioWeight: 5 }, /--blkio-weight/],
  ])('rejects %o with InvalidArgumentError', (limits, message) => {
    expect(() => buildUpdateResources(limits)).toThrow(InvalidArgumentError)
    expect(() => buildUpdateResources(limits)).toThrow(message)
  })

  it.each([
    [{ memory: { limit: -2 } }, /memory\.limit/],
    [{ memory: { limit: 1.5 } }, /memory\.limit/],
    [{ memory: { limit: 64 * MiB, swap: 32 * MiB } }, /memory\.swap/],
    [{ memory: { swappiness: 101 } }, /swappiness/],
    [{ cpu: { shares: -1 } }, /cpu\.shares/],
    [{ cpu: { quota: 5 } }, /cpu\.quota/],
    [{ cpu: { cpus: '0-' } }, /cpuset-cpus/],
    [{ pids: { limit: -3 } }, /pids\.limit/],
    [{ blockIO: { weight: 2000 } }, /blkio-weight/],
    // A value of the wrong type from untyped callers.
    [{ memory: { limit: '64m' as unknown as number } }, /memory\.limit: 64m/],
  ])('rejects raw %o with InvalidArgumentError', (raw, message) => {
    expect(() => checkLinuxResources(raw)).toThrow(InvalidArgumentError)
    expect(() => checkLinuxResources(raw)).toThrow(message)
  })

  it('accepts -1 (no limit) and 0 (unchanged) where the runtime does', () => {
    expect(() => checkLinuxResources({ memory: { limit: -1, swap: -1 }, cpu: { quota: -1, period: 0, shares: 0 }, pids: { limit: -1 }, blockIO: { weight: 0 } })).not.toThrow()
  })
})
