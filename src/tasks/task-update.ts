/**
 * Changing a running task's cgroup limits (Tasks.Update), like `docker update` / `nerdctl update`.
 *
 * containerd passes the resources to the shim as an `Any` holding the OCI `LinuxResources` as JSON; runc
 * then rewrites the cgroup files. runc treats an absent (or 0) value as "leave as it is", so an update
 * carries only what changes. Every value is checked here first: a bad one fails with
 * `InvalidArgumentError` before anything is sent, and nothing changes.
 */

import type { ClientCore } from '../client/client.js'
import { FailedPreconditionError, InvalidArgumentError, UnknownError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { Status } from '../gen/containerd/types/task/task_pb.js'
import {
  withBlkioWeight,
  withCpus,
  withCpusetCpus,
  withCpusetMems,
  withCpuShares,
  withMemory,
  withMemoryReservation,
  withMemorySwap,
  withPidsLimit,
} from '../oci/resource-options.js'
import type { LinuxResources, Spec } from '../oci/runtime-spec.js'
import { applySpecOptions, type SpecOption } from '../oci/spec-options.js'
import { readTaskMetrics } from './task-metrics.js'

/** Type URL containerd and the runc shim expect for the resources of Tasks.Update. */
export const LINUX_RESOURCES_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources'

/** Limits written the way `docker update` takes them. Each one absent stays as it is. */
export interface ResourceLimits {
  /** Memory limit (`--memory`): bytes, or a size such as `'256m'`. At least 6 MiB. */
  memory?: string | number
  /**
   * Memory plus swap (`--memory-swap`): a size at least `memory`, or -1 for unlimited swap. When absent,
   * a new `memory` keeps the task's swap relation: a memory+swap limit of twice the old memory limit (the
   * `docker run` default) follows the new one; any other stays, and on cgroup v1 `memory` may not exceed it.
   */
  memorySwap?: string | number
  /** Memory soft limit (`--memory-reservation`). */
  memoryReservation?: string | number
  /** Number of CPUs (`--cpus 1.5`): sets the CFS quota over a 100 ms period. Not with `cpuQuota`/`cpuPeriod`. */
  cpus?: string | number
  /** Relative CPU weight (`--cpu-shares`), 2 to 262144. */
  cpuShares?: number
  /** CFS quota in microseconds per period (`--cpu-quota`); -1 removes the quota. */
  cpuQuota?: number
  /** CFS period in microseconds (`--cpu-period`), 1000 to 1000000. */
  cpuPeriod?: number
  /** CPUs the task may run on (`--cpuset-cpus 0-3,7`). */
  cpusetCpus?: string
  /** NUMA nodes the task may allocate from (`--cpuset-mems 0,1`). */
  cpusetMems?: string
  /** Process and thread limit (`--pids-limit`); 0 or -1 remove it. */
  pidsLimit?: number
  /** Block I/O weight (`--blkio-weight`), 10 to 1000. */
  blkioWeight?: number
}

/** Options of `task.update()`. At least one of `resources`, `linuxResources` or `annotations` is needed. */
export interface UpdateTaskOptions extends CallOptions {
  /** Docker-style limits, applied on top of `linuxResources`. */
  resources?: ResourceLimits
  /** OCI `LinuxResources` to send as they are (checked first), for what `resources` does not cover. */
  linuxResources?: LinuxResources
  /** Annotations passed to the runtime with the update. */
  annotations?: Record<string, string>
}

/**
 * Builds the OCI resources of an update from Docker-style limits over raw ones, checking every value.
 * Returns `undefined` when neither is given.
 * @throws InvalidArgumentError naming the first bad value and how to write it.
 */
export function buildUpdateResources(limits?: ResourceLimits, linux?: LinuxResources): LinuxResources | undefined {
  if (limits === undefined && linux === undefined) return undefined
  if (linux !== undefined) checkLinuxResources(linux)
  const spec: Spec = { ociVersion: '', linux: { resources: structuredClone(linux ?? {}) } }
  const swapGiven = limits?.memorySwap !== undefined || linux?.memory?.swap !== undefined
  applySpecOptions(spec, limitOptions(limits ?? {}))
  const resources = spec.linux?.resources ?? {}
  // withMemory derives swap (= 2 × memory) as `docker run` does; an update changes only what it is given,
  // so a container created with unlimited swap keeps it.
  if (!swapGiven && resources.memory !== undefined) delete resources.memory.swap
  return resources
}

/** The spec options matching the given limits, each checked as its factory is called. */
function limitOptions(l: ResourceLimits): SpecOption[] {
  const options: SpecOption[] = []
  // Swap before memory, so withMemory compares against the new swap and does not derive one.
  if (l.memorySwap !== undefined) options.push(withMemorySwap(l.memorySwap))
  if (l.memory !== undefined) options.push(withMemory(l.memory))
  if (l.memoryReservation !== undefined) options.push(withMemoryReservation(l.memoryReservation))
  if (l.cpus !== undefined) {
    if (l.cpuQuota !== undefined || l.cpuPeriod !== undefined) {
      throw new InvalidArgumentError('resources: cpus cannot be combined with cpuQuota or cpuPeriod; use either cpus or quota and period')
    }
    options.push(withCpus(l.cpus))
  }
  if (l.cpuQuota !== undefined) {
    const quota = checkQuota(l.cpuQuota, 'resources.cpuQuota')
    options.push((spec) => void Object.assign(cpuOf(spec), { quota }))
  }
  if (l.cpuPeriod !== undefined) {
    const period = checkPeriod(l.cpuPeriod, 'resources.cpuPeriod')
    options.push((spec) => void Object.assign(cpuOf(spec), { period }))
  }
  if (l.cpuShares !== undefined) options.push(withCpuShares(l.cpuShares))
  if (l.cpusetCpus !== undefined) options.push(withCpusetCpus(l.cpusetCpus))
  if (l.cpusetMems !== undefined) options.push(withCpusetMems(l.cpusetMems))
  if (l.pidsLimit !== undefined) options.push(withPidsLimit(l.pidsLimit))
  if (l.blkioWeight !== undefined) options.push(withBlkioWeight(l.blkioWeight))
  return options
}

function cpuOf(spec: Spec): NonNullable<LinuxResources['cpu']> {
  const resources = spec.linux?.resources ?? {}
  resources.cpu ??= {}
  return resources.cpu
}

/**
 * Checks the fields of raw OCI resources that runc writes to cgroup files: integers, and within the
 * kernel's ranges (-1 meaning "no limit" where the OCI spec allows it).
 * @throws InvalidArgumentError naming the field.
 */
export function checkLinuxResources(r: LinuxResources): void {
  const m = r.memory
  if (m !== undefined) {
    for (const key of ['limit', 'swap', 'reservation', 'kernel', 'kernelTCP'] as const) atLeast(m[key], -1, `linuxResources.memory.${key}`)
    if (m.limit !== undefined && m.limit > 0 && m.swap !== undefined && m.swap > 0 && m.swap < m.limit) {
      throw new InvalidArgumentError(`linuxResources.memory.swap (${m.swap}) is below memory.limit (${m.limit}); swap counts memory plus swap, so set it at least as high, or -1`)
    }
    if (m.swappiness !== undefined) {
      atLeast(m.swappiness, 0, 'linuxResources.memory.swappiness')
      if (m.swappiness > 100) throw new InvalidArgumentError(`linuxResources.memory.swappiness: ${m.swappiness} is out of range; use 0 to 100`)
    }
  }
  const c = r.cpu
  if (c !== undefined) {
    atLeast(c.shares, 0, 'linuxResources.cpu.shares')
    if (c.quota !== undefined) checkQuota(c.quota, 'linuxResources.cpu.quota')
    if (c.period !== undefined) checkPeriod(c.period, 'linuxResources.cpu.period')
    atLeast(c.burst, 0, 'linuxResources.cpu.burst')
    atLeast(c.realtimeRuntime, -1, 'linuxResources.cpu.realtimeRuntime')
    atLeast(c.realtimePeriod, 0, 'linuxResources.cpu.realtimePeriod')
    // The cpuset factories check the list syntax.
    if (c.cpus !== undefined && c.cpus !== '') withCpusetCpus(c.cpus)
    if (c.mems !== undefined && c.mems !== '') withCpusetMems(c.mems)
  }
  if (r.pids !== undefined) atLeast(r.pids.limit, -1, 'linuxResources.pids.limit')
  const weight = r.blockIO?.weight
  if (weight !== undefined && weight !== 0) withBlkioWeight(weight)
}

function atLeast(value: number | undefined, min: number, name: string): void {
  if (value === undefined) return
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`${name}: ${String(value)} is not valid; use an integer of at least ${min}${min === -1 ? ' (-1 for no limit)' : ''}`)
  }
}

// The kernel's CFS bounds, in microseconds.
const MIN_CFS = 1000
const MAX_CFS_PERIOD = 1_000_000

function checkQuota(quota: number, name: string): number {
  if (!Number.isSafeInteger(quota) || (quota !== -1 && quota !== 0 && quota < MIN_CFS)) {
    throw new InvalidArgumentError(`${name}: ${quota} is not valid; use microseconds of at least ${MIN_CFS}, or -1 for no quota`)
  }
  return quota
}

function checkPeriod(period: number, name: string): number {
  if (!Number.isSafeInteger(period) || (period !== 0 && (period < MIN_CFS || period > MAX_CFS_PERIOD))) {
    throw new InvalidArgumentError(`${name}: ${period} is not valid; use microseconds from ${MIN_CFS} to ${MAX_CFS_PERIOD}`)
  }
  return period
}

/**
 * Sends Tasks.Update for a task after checking every value.
 *
 * A memory limit given without `memorySwap` keeps the swap relation the container was created with: on
 * cgroup v1 the kernel refuses a memory limit above the memory+swap limit, so when that limit is the
 * default `docker run` derives (twice the memory limit) it follows the new memory limit, and otherwise a
 * memory limit above it is refused here with the fix named (as `docker update` does).
 * @throws InvalidArgumentError for a bad value, a value the kernel refused, or nothing to update.
 * @throws FailedPreconditionError when the task is not running.
 * @throws NotFoundError when the task does not exist.
 */
export async function updateTask(client: ClientCore, id: string, options: UpdateTaskOptions): Promise<void> {
  const resources = buildUpdateResources(options.resources, options.linuxResources)
  if (resources === undefined && options.annotations === undefined) {
    throw new InvalidArgumentError(`task ${id}: update needs resources, linuxResources or annotations`)
  }
  if (resources !== undefined) await followSwap(client, id, resources, options)
  try {
    await client.services.tasks.update(
      {
        containerId: id,
        ...(resources !== undefined
          ? { resources: { typeUrl: LINUX_RESOURCES_TYPE_URL, value: Buffer.from(JSON.stringify(resources)) } }
          : {}),
        annotations: options.annotations ?? {},
      },
      options,
    )
  } catch (err) {
    throw await explainUpdateFailure(client, id, err, options)
  }
}

// The kernel's page size granularity: v1 rounds limits down to pages, so "twice the limit" is compared loosely.
const PAGE_SLACK = 2n * 4096n

/** Derives or checks swap for a memory-only update on cgroup v1 (see {@link updateTask}). */
async function followSwap(client: ClientCore, id: string, resources: LinuxResources, options: CallOptions): Promise<void> {
  const memory = resources.memory
  if (memory?.limit === undefined || memory.limit <= 0 || memory.swap !== undefined) return
  const { raw } = await readTaskMetrics(client, id, options)
  // cgroup v2 keeps memory.max and memory.swap.max apart: a memory update never conflicts with swap.
  if (raw.cgroup !== 'v1') return
  const current = raw.message.memory?.usage?.limit ?? 0n
  const memsw = raw.message.memory?.swap?.limit ?? 0n
  // 0: swap accounting is off; 2^62 and up: no memory+swap limit.
  if (memsw === 0n || memsw >= 2n ** 62n) return
  const twice = 2n * current
  if ((memsw > twice ? memsw - twice : twice - memsw) <= PAGE_SLACK) {
    memory.swap = memory.limit * 2
    return
  }
  if (BigInt(memory.limit) > memsw) {
    throw new InvalidArgumentError(
      `task ${id}: memory ${memory.limit} bytes is above its memory+swap limit (${memsw} bytes); set memorySwap in the same update (at least as high, or -1 for unlimited swap)`,
    )
  }
}

/**
 * The runc shim reports a refused update as an unclassified error with runc's message: say what went wrong
 * in typed terms when that is clear (a stopped task, a value the kernel refused), else keep the error.
 */
async function explainUpdateFailure(client: ClientCore, id: string, err: unknown, options: CallOptions): Promise<unknown> {
  if (!(err instanceof UnknownError)) return err
  const { process } = await client.services.tasks.get({ containerId: id }, options).catch(() => ({ process: undefined }))
  if (process !== undefined && process.status !== Status.RUNNING && process.status !== Status.PAUSED) {
    return new FailedPreconditionError(
      `task ${id} is not running: only a running task's limits can change; use container.update({ spec }) for its next task`,
      { cause: err },
    )
  }
  // runc's messages for a value the cgroup file refused (EINVAL) or a memory limit below current usage.
  if (/: invalid argument|unable to set memory limit/.test(err.message)) {
    return new InvalidArgumentError(`task ${id}: the kernel refused the new limits: ${err.message}`, { cause: err })
  }
  return err
}
