// Mirrors containerd's client tests Metrics, DeletedContainerMetrics (integration/client container_test.go),
// TaskUpdate (container_linux_test.go) and ContainerUpdate, plus bad resource values: task.metrics(),
// task.update({ resources }) observed inside the container and in the metrics, and container.update().
import { existsSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, type Container, type Image, type Task } from '../../src/index.js'
import { withEnv } from '../../src/oci/process-options.js'
import { withMemory, withMemoryReservation, withPidsLimit } from '../../src/oci/resource-options.js'
import { withCgroupfsMount } from '../../src/oci/mount-options.js'
import { connectTestClient, ctr } from '../env/test-client.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'

const client = await connectTestClient('task-metrics-update')
const IMAGE = 'docker.io/library/busybox:metrics'
const MiB = 1024 * 1024
// What the host mounts decides what containerd reports; a hybrid host (v1 controllers, empty v2) is v1.
const HOST_CGROUP = existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'v2' : 'v1'
let image: Image

beforeAll(async () => {
  image = await runnableBusybox(client, IMAGE)
})


/** Starts a long-running container with the cgroup filesystem mounted, so it can read its own limits. */
async function startLimited(label: string, args: string[], specOptions = [withMemory('32m'), withPidsLimit(42)]): Promise<{ container: Container; task: Task; exited: Promise<unknown> }> {
  const container = await client.containers.create(uniqueId(label), { image, args, specOptions: [...specOptions, withCgroupfsMount()] })
  const task = await container.newTask()
  const exited = task.wait()
  await task.start()
  return { container, task, exited }
}

async function stop(container: Container, task: Task): Promise<void> {
  await task.delete({ force: true })
  await container.delete()
}

/** Reads a cgroup file from inside the container (the v1 controller path, or the v2 file). */
async function readInside(task: Task, v1: string, v2: string): Promise<string> {
  const path = HOST_CGROUP === 'v1' ? `/sys/fs/cgroup/${v1}` : `/sys/fs/cgroup/${v2}`
  const { exitCode, stdout, stderr } = await (await task.exec({ args: ['cat', path], stdio: 'pipe' })).output()
  expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: '' })
  return stdout.trim()
}

const memoryLimitInside = (task: Task): Promise<string> => readInside(task, 'memory/memory.limit_in_bytes', 'memory.max')
const pidsLimitInside = (task: Task): Promise<string> => readInside(task, 'pids/pids.max', 'pids.max')

describe('task.metrics()', () => {
  it('reports a running task: its id, memory limit, pids and growing CPU time (Metrics)', async () => {
    // A busy loop, so CPU time grows between two readings.
    const { container, task } = await startLimited('metrics', ['sh', '-c', 'while :; do :; done'], [withMemory('64m'), withPidsLimit(42)])
    try {
      const first = await task.metrics()
      expect(first.id).toBe(container.id)
      expect(first.cgroup).toBe(HOST_CGROUP)
      expect(first.timestamp).toBeInstanceOf(Date)
      expect(first.memory.limit).toBe(64 * MiB)
      expect(first.memory.usage).toBeGreaterThan(0)
      expect(first.memory.workingSet).toBeLessThanOrEqual(first.memory.usage)
      expect(first.pids.current).toBeGreaterThan(0)
      expect(first.pids.limit).toBe(42)
      expect(first.raw.cgroup).toBe(HOST_CGROUP)

      let later = first
      for (let i = 0; i < 50 && later.cpu.usageNs <= first.cpu.usageNs; i++) {
        await new Promise((r) => setTimeout(r, 100))
        later = await task.metrics()
      }
      expect(later.cpu.usageNs).toBeGreaterThan(first.cpu.usageNs)
      expect(later.cpu.userNs + later.cpu.kernelNs).toBeGreaterThan(0)
    } finally {
      await stop(container, task)
    }
  })

  it('reports no limit as undefined', async () => {
    const { container, task } = await startLimited('unlimited', ['sleep', '60'], [])
    try {
      const m = await task.metrics()
      expect(m.memory.limit).toBeUndefined()
      expect(m.pids.limit).toBeUndefined()
    } finally {
      await stop(container, task)
    }
  })

  it('fails with NotFoundError once the task is deleted (DeletedContainerMetrics)', async () => {
    const container = await client.containers.create(uniqueId('deleted'), { image, args: ['true'] })
    const task = await container.newTask()
    const exited = task.wait()
    await task.start()
    expect((await exited).exitCode).toBe(0)
    await task.delete()
    await expect(task.metrics()).rejects.toBeInstanceOf(NotFoundError)
    await container.delete()
  })
})

describe('task.update()', () => {
  it('changes memory, pids and CPU limits of a running task, seen inside it and in the metrics (TaskUpdate)', async () => {
    const { container, task } = await startLimited('update', ['sleep', '60'])
    try {
      expect(Number(await memoryLimitInside(task))).toBe(32 * MiB)
      expect((await task.metrics()).memory.limit).toBe(32 * MiB)

      // Raised past the memory+swap limit the container was created with (64m): it follows, as docker run set it.
      await task.update({ resources: { memory: '128m', pidsLimit: 10, cpus: 0.5 } })
      expect(Number(await memoryLimitInside(task))).toBe(128 * MiB)
      expect(await pidsLimitInside(task)).toBe('10')
      if (HOST_CGROUP === 'v1') {
        expect(await readInside(task, 'cpu/cpu.cfs_quota_us', '')).toBe('50000')
        expect(Number(await readInside(task, 'memory/memory.memsw.limit_in_bytes', ''))).toBe(256 * MiB)
      } else {
        expect(await readInside(task, '', 'cpu.max')).toBe('50000 100000')
      }
      const m = await task.metrics()
      expect(m.memory.limit).toBe(128 * MiB)
      expect(m.pids.limit).toBe(10)

      // Raw OCI resources for the rest; -1 removes the pids limit.
      await task.update({ linuxResources: { pids: { limit: -1 } }, resources: { memory: 48 * MiB } })
      expect(await pidsLimitInside(task)).toBe('max')
      expect((await task.metrics()).pids.limit).toBeUndefined()
      expect(Number(await memoryLimitInside(task))).toBe(48 * MiB)

      // The stored spec is not changed by a task update.
      const spec = await container.spec() as { linux?: { resources?: { memory?: { limit?: number } } } }
      expect(spec.linux?.resources?.memory?.limit).toBe(32 * MiB)
    } finally {
      await stop(container, task)
    }
  })

  it('refuses invalid values before any call, changing nothing', async () => {
    const { container, task } = await startLimited('badupdate', ['sleep', '60'])
    try {
      const bad = [
        { resources: { memory: -5 } },
        { resources: { memory: 'lots' } },
        { resources: { memory: '1k' } },
        { resources: { cpus: 'fast' } },
        { resources: { cpus: -1 } },
        { resources: { pidsLimit: -7 } },
        { resources: { cpuShares: 0 } },
        { resources: { cpusetCpus: 'all' } },
        { resources: { blkioWeight: 1 } },
        { resources: { memory: '64m', memorySwap: '32m' } },
        { linuxResources: { memory: { limit: -9 } } },
        { linuxResources: { pids: { limit: 2.5 } } },
        {},
      ]
      for (const options of bad) {
        await expect(task.update(options), JSON.stringify(options)).rejects.toBeInstanceOf(InvalidArgumentError)
      }
      expect(Number(await memoryLimitInside(task))).toBe(32 * MiB)
      expect(await pidsLimitInside(task)).toBe('42')
    } finally {
      await stop(container, task)
    }
  })

  it('names the fix when memory would pass an explicit memory+swap limit, and when the kernel refuses a limit', async () => {
    const { container, task } = await startLimited('swap', ['sleep', '60'])
    try {
      await task.update({ resources: { memory: '32m', memorySwap: '40m' } })
      if (HOST_CGROUP === 'v1') {
        await expect(task.update({ resources: { memory: '64m' } })).rejects.toThrow(/memorySwap/)
        // Both together are fine.
        await task.update({ resources: { memory: '64m', memorySwap: '100m' } })
        expect(Number(await memoryLimitInside(task))).toBe(64 * MiB)
      }
      // Below what the container already uses: the kernel refuses, reported as a typed error.
      const err = await task.update({ linuxResources: { memory: { limit: 4096 } } }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InvalidArgumentError)
      expect(Number(await memoryLimitInside(task))).toBe((HOST_CGROUP === 'v1' ? 64 : 32) * MiB)
    } finally {
      await stop(container, task)
    }
  })

  it('refuses to update a stopped task, and a deleted one', async () => {
    const container = await client.containers.create(uniqueId('stopped'), { image, args: ['true'] })
    const task = await container.newTask()
    const exited = task.wait()
    await task.start()
    await exited
    await expect(task.update({ resources: { pidsLimit: 5 } })).rejects.toBeInstanceOf(FailedPreconditionError)
    await task.delete()
    await expect(task.update({ resources: { pidsLimit: 5 } })).rejects.toBeInstanceOf(NotFoundError)
    await container.delete()
  })
})

describe('container.update()', () => {
  interface CtrInfo {
    Image: string
    Labels: Record<string, string> | null
    SnapshotKey: string
    Spec: { process?: { env?: string[] }; hostname?: string; linux?: { resources?: { memory?: { limit?: number; reservation?: number } } } }
  }
  const info = async (id: string): Promise<CtrInfo> => JSON.parse(await ctr(client.namespace, 'containers', 'info', id)) as CtrInfo

  it('updates labels, spec and image, visible to ctr (ContainerUpdate)', async () => {
    const container = await client.containers.create(uniqueId('record'), { image, args: ['sh', '-c', 'echo $UPDATED'], labels: { keep: 'me', drop: 'me' } })
    try {
      const updated = await container.update({ labels: { added: 'yes', drop: '' } })
      expect(updated.labels).toEqual({ keep: 'me', added: 'yes' })
      expect((await info(container.id)).Labels).toEqual({ keep: 'me', added: 'yes' })

      await container.update({ labels: { only: 'this' }, replaceLabels: true })
      expect((await info(container.id)).Labels).toEqual({ only: 'this' })

      // Spec options applied to the stored spec; the next task runs with it.
      await container.update({ spec: [withEnv(['UPDATED=from-update']), withMemory('96m')] })
      const spec = (await info(container.id)).Spec
      expect(spec.process?.env).toContain('UPDATED=from-update')
      expect(spec.linux?.resources?.memory?.limit).toBe(96 * MiB)
      const task = await container.newTask({ stdio: 'pipe' })
      const out: Buffer[] = []
      task.stdout?.on('data', (c: Buffer) => out.push(c))
      const exited = task.wait()
      await task.start()
      expect((await exited).exitCode).toBe(0)
      await task.delete()
      expect(Buffer.concat(out).toString()).toBe('from-update\n')

      // A whole spec replaces the stored one.
      const whole = await container.spec()
      await container.update({ spec: { ...whole, ociVersion: String(whole['ociVersion']), hostname: 'renamed' } })
      expect((await info(container.id)).Spec.hostname).toBe('renamed')

      const other = 'docker.io/library/busybox:other'
      const after = await container.update({ image: other })
      expect(after.image).toBe(other)
      expect((await info(container.id)).Image).toBe(other)
      await container.update({ image })
      expect((await info(container.id)).Image).toBe(IMAGE)
    } finally {
      await container.delete()
    }
  })

  it('refuses bad input, changing nothing', async () => {
    const container = await client.containers.create(uniqueId('badrecord'), { image, args: ['true'], labels: { a: '1' }, specOptions: [withMemory('64m')] })
    try {
      const before = await info(container.id)
      await expect(container.update({})).rejects.toBeInstanceOf(InvalidArgumentError)
      await expect(container.update({ image: '' })).rejects.toBeInstanceOf(InvalidArgumentError)
      await expect(container.update({ image: 'has space' })).rejects.toBeInstanceOf(InvalidArgumentError)
      await expect(container.update({ snapshotKey: '' })).rejects.toBeInstanceOf(InvalidArgumentError)
      await expect(container.update({ replaceLabels: true })).rejects.toBeInstanceOf(InvalidArgumentError)
      // A spec option that rejects the stored spec (reservation above the 64m limit): nothing is sent.
      await expect(container.update({ labels: { b: '2' }, spec: [withMemoryReservation('1g')] })).rejects.toBeInstanceOf(InvalidArgumentError)
      // containerd's own label rule (key and value at most 4096 bytes).
      await expect(container.update({ labels: { big: 'x'.repeat(5000) } })).rejects.toBeInstanceOf(InvalidArgumentError)
      expect(await info(container.id)).toEqual(before)
      const missing = await client.containers.create(uniqueId('gone'), { image, args: ['true'] })
      await missing.delete()
      await expect(missing.update({ labels: { a: 'b' } })).rejects.toBeInstanceOf(NotFoundError)
    } finally {
      await container.delete()
    }
  })
})
