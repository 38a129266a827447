import { execFileSync } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client, type Image } from '../../src/index.js'
import { findContainerd, type ContainerdLine } from '../../src/testing/containerd-binaries.js'
import { startContainerd, type ContainerdDaemon } from '../../src/testing/containerd-daemon.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'
import { daemonLine } from '../env/test-client.js'

// task.metrics() from a daemon on cgroup v2. This host is cgroup v1 (with a v2 hierarchy beside it, holding
// only hugetlb), so a private containerd of the same line is started in a mount namespace of its own where
// /sys/fs/cgroup is that v2 hierarchy: containerd, its shims and runc then run in cgroup v2 mode, and the
// statistics come as io.containerd.cgroups.v2.Metrics. Only hugetlb has a controller there, so the CPU,
// memory and pids figures are zeros; what this checks is the v2 message and its decoding end to end.
// On a host that is cgroup v2 already, task-metrics-update.test.ts covers v2 with every controller.

const line = daemonLine()
const hostCgroupFs = execFileSync('stat', ['-f', '-c', '%T', '/sys/fs/cgroup']).toString().trim()
const skip = line === 'external' || hostCgroupFs === 'cgroup2fs'
let dir: string
let daemon: ContainerdDaemon | undefined
let client: Client
let image: Image

beforeAll(async () => {
  if (skip) return
  const binary = await findContainerd(line as ContainerdLine)
  dir = await mkdtemp(join(tmpdir(), 'csdk-cgv2-'))
  const wrapper = join(dir, 'containerd')
  await writeFile(wrapper, `#!/bin/sh\nexec unshare --mount --propagation private sh -c 'mount -t cgroup2 none /sys/fs/cgroup && exec ${binary.path} "$@"' containerd "$@"\n`)
  await chmod(wrapper, 0o755)
  daemon = await startContainerd({ binary: { ...binary, path: wrapper } })
  client = await Client.connect({ address: daemon.address, namespace: 'cgroup-v2' })
  image = await runnableBusybox(client)
})
afterAll(async () => {
  client?.close()
  await daemon?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe.skipIf(skip)('task.metrics() on cgroup v2', () => {
  it('decodes io.containerd.cgroups.v2.Metrics from a running task', async () => {
    const container = await client.containers.create(uniqueId('cgv2'), { image, args: ['sleep', '60'] })
    const task = await container.newTask()
    try {
      await task.start()
      const m = await task.metrics()
      expect(m.cgroup).toBe('v2')
      expect(m.id).toBe(container.id)
      expect(m.timestamp).toBeInstanceOf(Date)
      expect(m.raw.cgroup).toBe('v2')
      const raw = m.raw.message as { $typeName: string; hugetlb: { pagesize: string }[] }
      expect(raw.$typeName).toBe('io.containerd.cgroups.v2.Metrics')
      // hugetlb is the one controller of this v2 hierarchy: one entry per huge page size.
      expect(raw.hugetlb.map((h) => h.pagesize)).toContain('2MB')
      for (const value of [m.cpu.usageNs, m.memory.usage, m.pids.current, m.blkio.readBytes]) expect(Number.isFinite(value)).toBe(true)
    } finally {
      await task.delete({ force: true })
      await container.delete()
    }
  })
})
