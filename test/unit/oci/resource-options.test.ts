import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { defaultLinuxSpec } from '../../../src/oci/default-spec.js'
import {
  withBlkioWeight,
  withCpus,
  withCpuShares,
  withCpusetCpus,
  withCpusetMems,
  withMemory,
  withMemoryReservation,
  withMemorySwap,
  withPidsLimit,
  withUlimits,
} from '../../../src/oci/resource-options.js'
import { RLIMIT_INFINITY, type Spec } from '../../../src/oci/runtime-spec.js'
import { applySpecOptions, type SpecOption } from '../../../src/oci/spec-options.js'

const apply = (...options: SpecOption[]): Spec => applySpecOptions(defaultLinuxSpec({ namespace: 'default', id: 'c1' }), options)
const MiB = 1024 * 1024

describe('memory options', () => {
  it('sets the limit from a Docker size, with swap defaulting to the same again', () => {
    expect(apply(withMemory('512m')).linux?.resources?.memory).toEqual({ limit: 512 * MiB, swap: 1024 * MiB })
    expect(apply(withMemory(64 * MiB)).linux?.resources?.memory?.limit).toBe(64 * MiB)
  })

  it('keeps the device rules next to the memory limit', () => {
    expect(apply(withMemory('1g')).linux?.resources?.devices).toEqual([{ allow: false, access: 'rwm' }])
  })

  it('sets memory-swap in either order, -1 for unlimited, 0 for the default', () => {
    expect(apply(withMemory('512m'), withMemorySwap('1g')).linux?.resources?.memory).toEqual({ limit: 512 * MiB, swap: 1024 * MiB })
    expect(apply(withMemorySwap('2g'), withMemory('512m')).linux?.resources?.memory).toEqual({ limit: 512 * MiB, swap: 2048 * MiB })
    expect(apply(withMemory('512m'), withMemorySwap(-1)).linux?.resources?.memory?.swap).toBe(-1)
    expect(apply(withMemory('512m'), withMemorySwap('-1')).linux?.resources?.memory?.swap).toBe(-1)
    expect(apply(withMemory('512m'), withMemorySwap('0')).linux?.resources?.memory?.swap).toBe(1024 * MiB)
    expect(apply(withMemorySwap(0)).linux?.resources?.memory?.swap).toBeUndefined()
  })

  it('follows a changed limit with the derived swap', () => {
    expect(apply(withMemory('512m'), withMemory('1g')).linux?.resources?.memory).toEqual({ limit: 1024 * MiB, swap: 2048 * MiB })
  })

  it('rejects swap below the limit, in either order', () => {
    expect(() => apply(withMemory('1g'), withMemorySwap('512m'))).toThrow(/--memory-swap: .* is less than --memory/)
    expect(() => apply(withMemorySwap('512m'), withMemory('1g'))).toThrow(InvalidArgumentError)
  })

  it('sets the reservation, which may not exceed the limit', () => {
    expect(apply(withMemory('1g'), withMemoryReservation('256m')).linux?.resources?.memory?.reservation).toBe(256 * MiB)
    expect(() => apply(withMemory('256m'), withMemoryReservation('1g'))).toThrow(/--memory-reservation: .* above --memory/)
    expect(() => apply(withMemoryReservation('1g'), withMemory('256m'))).toThrow(/--memory-reservation/)
  })

  it('rejects malformed sizes and limits under 6 MiB', () => {
    expect(() => withMemory('lots')).toThrow(/--memory: invalid size "lots"/)
    expect(() => withMemory('4m')).toThrow(/--memory: 4m is below the minimum of 6 MiB/)
    expect(() => withMemory(0)).toThrow(InvalidArgumentError)
    expect(() => withMemorySwap('x')).toThrow(/--memory-swap/)
    expect(() => withMemoryReservation('-5')).toThrow(/--memory-reservation/)
  })
})

describe('cpu options', () => {
  it('turns --cpus into a CFS quota over a 100000 µs period', () => {
    expect(apply(withCpus(1.5)).linux?.resources?.cpu).toEqual({ quota: 150_000, period: 100_000 })
    expect(apply(withCpus('0.5')).linux?.resources?.cpu).toEqual({ quota: 50_000, period: 100_000 })
    expect(apply(withCpus('2')).linux?.resources?.cpu).toEqual({ quota: 200_000, period: 100_000 })
  })

  it('rejects zero, negative, tiny and non-numeric cpus', () => {
    for (const bad of [0, -1, 0.001, Number.NaN, Number.POSITIVE_INFINITY, 'two', '', '1,5']) {
      expect(() => withCpus(bad), String(bad)).toThrow(/--cpus: .* at least 0.01/)
    }
  })

  it('sets shares and cpusets', () => {
    const cpu = apply(withCpuShares(512), withCpusetCpus('0-3,7'), withCpusetMems('0'), withCpus(1)).linux?.resources?.cpu
    expect(cpu).toEqual({ shares: 512, cpus: '0-3,7', mems: '0', quota: 100_000, period: 100_000 })
  })

  it('rejects bad shares and lists', () => {
    expect(() => withCpuShares(1)).toThrow(/--cpu-shares: 1 is out of range/)
    expect(() => withCpuShares(1.5)).toThrow(InvalidArgumentError)
    expect(() => withCpusetCpus('0-')).toThrow(/--cpuset-cpus: "0-" is not a list/)
    expect(() => withCpusetCpus('3-1')).toThrow(/reversed/)
    expect(() => withCpusetMems('a')).toThrow(/--cpuset-mems/)
  })
})

describe('pids, blkio and ulimits', () => {
  it('sets the pids limit; 0 and -1 mean unlimited', () => {
    expect(apply(withPidsLimit(100)).linux?.resources?.pids).toEqual({ limit: 100 })
    expect(apply(withPidsLimit(0)).linux?.resources?.pids).toEqual({ limit: -1 })
    expect(apply(withPidsLimit(-1)).linux?.resources?.pids).toEqual({ limit: -1 })
    expect(() => withPidsLimit(-2)).toThrow(/--pids-limit/)
    expect(() => withPidsLimit(1.5)).toThrow(InvalidArgumentError)
  })

  it('sets the blkio weight in 10..1000', () => {
    expect(apply(withBlkioWeight(500)).linux?.resources?.blockIO).toEqual({ weight: 500 })
    expect(() => withBlkioWeight(5)).toThrow(/--blkio-weight: 5 is out of range/)
    expect(() => withBlkioWeight(1001)).toThrow(InvalidArgumentError)
  })

  it('replaces rlimits of the same type and appends others', () => {
    const rlimits = apply(withUlimits(['nofile=2048:4096', 'core=-1'])).process?.rlimits
    expect(rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 2048, hard: 4096 },
      { type: 'RLIMIT_CORE', soft: RLIMIT_INFINITY, hard: RLIMIT_INFINITY },
    ])
    expect(apply(withUlimits(['nproc=10'])).process?.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 },
      { type: 'RLIMIT_NPROC', soft: 10, hard: 10 },
    ])
  })

  it('rejects a bad ulimit when the option is created', () => {
    expect(() => withUlimits(['nofile=1024', 'bogus=1'])).toThrow(/--ulimit: unknown limit "bogus"/)
  })
})

describe('options on a bare spec', () => {
  it('create the sections they need', () => {
    const s = applySpecOptions({ ociVersion: '1.3.0' }, [withMemory('64m'), withCpus(1), withPidsLimit(5), withUlimits(['nofile=1'])])
    expect(s.linux?.resources).toEqual({ memory: { limit: 64 * MiB, swap: 128 * MiB }, cpu: { quota: 100_000, period: 100_000 }, pids: { limit: 5 } })
    expect(s.process).toEqual({ user: { uid: 0, gid: 0 }, cwd: '/', rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }] })
  })
})
