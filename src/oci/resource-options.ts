/**
 * cgroup resource options with Docker's flag semantics: memory, swap, reservation, CPU quota, shares and
 * sets, pids, block I/O weight, and rlimits.
 */

import { InvalidArgumentError } from '../grpc/errors.js'
import { parseByteSize } from './byte-size.js'
import type { Spec } from './runtime-spec.js'
import { ensureCpu, ensureMemory, ensureProcess, ensureResources } from './spec-sections.js'
import type { SpecOption } from './spec-options.js'
import { parseUlimit } from './ulimit.js'

// Docker refuses smaller memory limits: the container would be killed while starting.
const MIN_MEMORY = 6 * 1024 * 1024
// CFS period Docker and nerdctl use for --cpus, in microseconds.
const CPU_PERIOD = 100_000
// The kernel's smallest CFS quota, in microseconds.
const MIN_CPU_QUOTA = 1000

/**
 * Limits memory (`--memory`): bytes, or a Docker size such as `512m` or `1g`.
 *
 * As in Docker, swap is then limited to the same amount again (memory + swap = twice the limit) unless
 * `withMemorySwap` sets it, in either order.
 *
 * @throws InvalidArgumentError for a malformed size, a limit under 6 MiB, or one below an already set
 * reservation or above an already set memory+swap limit.
 */
export function withMemory(value: string | number): SpecOption {
  const limit = parseByteSize(value, '--memory')
  if (limit < MIN_MEMORY) {
    throw new InvalidArgumentError(`--memory: ${value} is below the minimum of 6 MiB; use at least 6m (omit the option for no limit)`)
  }
  return (spec) => {
    const memory = ensureMemory(spec)
    const previous = memory.limit
    // A swap value equal to twice the previous limit is the one this option derived; follow the new limit.
    const derived = memory.swap === undefined || (previous !== undefined && memory.swap === previous * 2)
    memory.limit = limit
    if (derived) memory.swap = limit * 2
    checkMemory(spec)
  }
}

/**
 * Limits memory plus swap (`--memory-swap`): a size at least the memory limit, `-1` for unlimited swap, or
 * `0` for the default (twice the memory limit).
 *
 * @throws InvalidArgumentError for a malformed size or one below the memory limit.
 */
export function withMemorySwap(value: string | number): SpecOption {
  const unlimited = value === -1 || value === '-1'
  const swap = unlimited ? -1 : parseByteSize(value, '--memory-swap')
  return (spec) => {
    const memory = ensureMemory(spec)
    if (swap === 0) {
      // Docker treats 0 as "not set".
      if (memory.limit !== undefined) memory.swap = memory.limit * 2
      else delete memory.swap
      return
    }
    memory.swap = swap
    checkMemory(spec)
  }
}

/**
 * Sets the memory soft limit (`--memory-reservation`).
 *
 * @throws InvalidArgumentError for a malformed size or one above the memory limit.
 */
export function withMemoryReservation(value: string | number): SpecOption {
  const reservation = parseByteSize(value, '--memory-reservation')
  return (spec) => {
    ensureMemory(spec).reservation = reservation
    checkMemory(spec)
  }
}

function checkMemory(spec: Spec): void {
  const memory = spec.linux?.resources?.memory
  if (memory?.limit === undefined) return
  if (memory.swap !== undefined && memory.swap !== -1 && memory.swap < memory.limit) {
    throw new InvalidArgumentError(
      `--memory-swap: ${memory.swap} bytes is less than --memory (${memory.limit} bytes); memory-swap counts memory plus swap, so set it at least as high, or -1 for unlimited swap`,
    )
  }
  if (memory.reservation !== undefined && memory.reservation > memory.limit) {
    throw new InvalidArgumentError(
      `--memory-reservation: ${memory.reservation} bytes is above --memory (${memory.limit} bytes); lower the reservation or raise the limit`,
    )
  }
}

/**
 * Limits CPU time to a number of CPUs (`--cpus 1.5`): CFS quota = cpus × 100000 µs per 100000 µs period.
 *
 * @throws InvalidArgumentError for a non-positive number or one under 0.01.
 */
export function withCpus(cpus: string | number): SpecOption {
  const n = typeof cpus === 'number' ? cpus : /^\s*\d+(?:\.\d+)?\s*$/.test(cpus) ? Number(cpus) : Number.NaN
  const quota = Math.trunc(n * CPU_PERIOD)
  if (!Number.isFinite(n) || quota < MIN_CPU_QUOTA) {
    throw new InvalidArgumentError(`--cpus: "${cpus}" is not a number of CPUs of at least 0.01; write e.g. 0.5 or 2`)
  }
  return (spec) => {
    const cpu = ensureCpu(spec)
    cpu.quota = quota
    cpu.period = CPU_PERIOD
  }
}

/**
 * Sets the relative CPU weight (`--cpu-shares`, 1024 being the default weight).
 *
 * @throws InvalidArgumentError outside 2..262144, the range the kernel accepts.
 */
export function withCpuShares(shares: number): SpecOption {
  if (!Number.isInteger(shares) || shares < 2 || shares > 262_144) {
    throw new InvalidArgumentError(`--cpu-shares: ${shares} is out of range; use an integer from 2 to 262144 (1024 is the default weight)`)
  }
  return (spec) => {
    ensureCpu(spec).shares = shares
  }
}

// A cpu or node list: numbers and ranges, comma-separated (`0-3,7`).
const CPU_LIST = /^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$/

/**
 * Pins the container to CPUs (`--cpuset-cpus 0-3,7`).
 *
 * @throws InvalidArgumentError for a malformed list.
 */
export function withCpusetCpus(cpus: string): SpecOption {
  checkList(cpus, '--cpuset-cpus')
  return (spec) => {
    ensureCpu(spec).cpus = cpus
  }
}

/**
 * Restricts memory to NUMA nodes (`--cpuset-mems 0,1`).
 *
 * @throws InvalidArgumentError for a malformed list.
 */
export function withCpusetMems(mems: string): SpecOption {
  checkList(mems, '--cpuset-mems')
  return (spec) => {
    ensureCpu(spec).mems = mems
  }
}

function checkList(list: string, flag: string): void {
  if (!CPU_LIST.test(list)) {
    throw new InvalidArgumentError(`${flag}: "${list}" is not a list; write numbers and ranges separated by commas, e.g. 0-3,7`)
  }
  for (const range of list.split(',')) {
    const [from, to] = range.split('-').map(Number)
    if (to !== undefined && from !== undefined && to < from) throw new InvalidArgumentError(`${flag}: range "${range}" in "${list}" is reversed`)
  }
}

/**
 * Limits the number of processes and threads (`--pids-limit`); 0 or -1 mean unlimited.
 *
 * @throws InvalidArgumentError for a non-integer or a value below -1.
 */
export function withPidsLimit(limit: number): SpecOption {
  if (!Number.isSafeInteger(limit) || limit < -1) {
    throw new InvalidArgumentError(`--pids-limit: ${limit} is not a valid limit; use a positive integer, or -1 for unlimited`)
  }
  return (spec) => {
    ensureResources(spec).pids = { limit: limit <= 0 ? -1 : limit }
  }
}

/**
 * Sets the block I/O weight (`--blkio-weight`).
 *
 * @throws InvalidArgumentError outside 10..1000.
 */
export function withBlkioWeight(weight: number): SpecOption {
  if (!Number.isInteger(weight) || weight < 10 || weight > 1000) {
    throw new InvalidArgumentError(`--blkio-weight: ${weight} is out of range; use an integer from 10 to 1000`)
  }
  return (spec) => {
    const resources = ensureResources(spec)
    resources.blockIO = { ...resources.blockIO, weight }
  }
}

/**
 * Sets rlimits (`--ulimit nofile=1024:2048`), replacing limits of the same type and keeping the others
 * (containerd's `WithRlimit`; the default spec's RLIMIT_NOFILE 1024 stays unless overridden).
 *
 * @throws InvalidArgumentError for a malformed value, naming it.
 */
export function withUlimits(ulimits: readonly string[]): SpecOption {
  const parsed = ulimits.map(parseUlimit)
  return (spec) => {
    const process = ensureProcess(spec)
    const rlimits = [...(process.rlimits ?? [])]
    for (const limit of parsed) {
      const at = rlimits.findIndex((r) => r.type === limit.type)
      if (at >= 0) rlimits[at] = limit
      else rlimits.push(limit)
    }
    process.rlimits = rlimits
  }
}
