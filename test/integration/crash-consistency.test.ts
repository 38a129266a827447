import { spawn } from 'node:child_process'
import { chmod, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client, ConflictError } from '../../src/index.js'
import { containerStateDir } from '../../src/nerdctl/data-store.js'
import { NameStore } from '../../src/nerdctl/name-store.js'
import { STALE_RESERVATION_MS } from '../../src/nerdctl/name-owner.js'
import { createStateDir } from '../../src/nerdctl/state-dir.js'
import { startContainerd, type ContainerdDaemon } from '../../src/testing/containerd-daemon.js'
import type { ContainerdLine } from '../../src/testing/containerd-binaries.js'
import { dataStorePath } from '../../src/nerdctl/data-store.js'
import { NerdctlLabel } from '../../src/nerdctl/labels.js'
import { busyboxImage } from '../fixtures/index.js'
import { importFixture } from '../env/import-fixture.js'
import { daemonLine } from '../env/test-client.js'

// These tests SIGKILL and restart a daemon: a private one of the line under test, never the shared one.
const line = daemonLine()
const IMAGE = 'docker.io/library/busybox:fixture'
let daemon: ContainerdDaemon
let client: Client
let dataRoot: string

beforeAll(async () => {
  if (line === 'external') return
  daemon = await startContainerd({ version: line as ContainerdLine })
  dataRoot = await mkdtemp(join(tmpdir(), 'csdk-crash-data-'))
  client = await Client.connect({ address: daemon.address, namespace: 'crash', dataRoot })
  await importFixture(client, await busyboxImage(), IMAGE)
  const { unpackImage } = await import('../env/unpack-image.js')
  await unpackImage(client, await client.images.get(IMAGE))
})
afterAll(async () => {
  client?.close()
  await daemon?.stop()
  if (dataRoot !== undefined) await rm(dataRoot, { recursive: true, force: true })
})

/** The rootfs snapshots of containers (active ones): the image's layers are committed. */
async function activeSnapshots(c: Client): Promise<string[]> {
  const keys: string[] = []
  for await (const info of c.snapshots().list()) if (info.kind === 'active') keys.push(info.name)
  return keys
}

describe.skipIf(line === 'external')('crash consistency', () => {
  it('containerd SIGKILLed during run(): a retry with the same name works, makes one container, and removal leaves nothing', async () => {
    const name = 'crash-run'
    // A logger that never reports ready holds the shim's task create, so the daemon is killed with the
    // container record made and the task not: the run's undo then cannot reach containerd.
    const logger = join(dataRoot, 'hanging-logger.sh')
    await writeFile(logger, '#!/bin/sh\nexec sleep 120\n')
    await chmod(logger, 0o755)
    const first = client.run(IMAGE, { name, args: ['true'], stdio: { logUri: `binary://${logger}` } }).then(
      () => undefined,
      (err: unknown) => err,
    )
    const deadline = Date.now() + 20_000
    while ((await client.containers.list({ filters: [`labels."${NerdctlLabel.name}"==${name}`] })).length === 0) {
      if (Date.now() > deadline) throw new Error('the first run never created its container')
      await sleep(20)
    }
    await sleep(300)
    process.kill(daemon.pid, 'SIGKILL')
    expect(await first).toBeInstanceOf(Error)
    await daemon.restart()

    // What the crash left: the record under the name, while the name store and state dir are gone.
    const dataStore = dataStorePath(daemon.address, dataRoot)
    expect(await client.containers.list({ filters: [`labels."${NerdctlLabel.name}"==${name}`] })).toHaveLength(1)
    expect(await readdir(join(dataStore, 'names', 'crash')).catch(() => [])).not.toContain(name)

    const second = await client.run(IMAGE, { name, detach: true, args: ['sleep', '600'], stopTimeout: 1 })
    const named = await client.containers.list({ filters: [`labels."${NerdctlLabel.name}"==${name}`] })
    expect(named.map((c) => c.id)).toEqual([second.id])
    expect((await client.containers.get(name)).id).toBe(second.id)
    expect(await activeSnapshots(client)).toEqual([second.id])

    await second.remove({ force: true })
    expect(await client.containers.list()).toEqual([])
    expect(await activeSnapshots(client)).toEqual([])
    expect(await readdir(join(dataStore, 'names', 'crash')).catch(() => [])).toEqual([])
    expect(await readdir(join(dataStore, 'containers', 'crash')).catch(() => [])).toEqual([])
  })
})

/** Every process's parent pid and command line. */
async function processes(): Promise<Map<number, { ppid: number; cmdline: string }>> {
  const table = new Map<number, { ppid: number; cmdline: string }>()
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue
      table.set(Number(entry), { ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), cmdline: (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ') })
    } catch {
      // Exited while we looked.
    }
  }
  return table
}

describe.skipIf(line === 'external')('stale name reservations', () => {
  it('a reservation without a container takes a minute to go stale: before, the name is refused; after, it is taken over', async () => {
    const dataStore = dataStorePath(daemon.address, dataRoot)
    const ghost = 'f'.repeat(64)
    // What a client killed between reserving the name and creating the container leaves.
    await new NameStore(dataStore, 'crash').acquire('ghost-name', ghost)
    await createStateDir(containerStateDir(dataStore, 'crash', ghost))
    // Fresh: it may be a run still on its way to creating the container.
    await expect(client.run(IMAGE, { name: 'ghost-name', args: ['true'], rm: true })).rejects.toBeInstanceOf(ConflictError)
    const old = new Date(Date.now() - 2 * STALE_RESERVATION_MS)
    await utimes(join(dataStore, 'names', 'crash', 'ghost-name'), old, old)
    const run = await client.run(IMAGE, { name: 'ghost-name', args: ['true'] })
    expect(await new NameStore(dataStore, 'crash').get('ghost-name')).toBe(run.id)
    expect(await readdir(join(dataStore, 'containers', 'crash'))).toEqual([run.id])
    await run.container?.remove()
    expect(await readdir(join(dataStore, 'names', 'crash')).catch(() => [])).toEqual([])
  })
})

describe.skipIf(line === 'external')('containers.prune() and reservations a killed run left', () => {
  it('frees a name held over a minute by an id containerd does not know, with its state dir, and keeps a fresh one', async () => {
    const c = await Client.connect({ address: daemon.address, namespace: 'prune-names', dataRoot })
    try {
      const dataStore = dataStorePath(daemon.address, dataRoot)
      const names = new NameStore(dataStore, 'prune-names')
      const [stale, fresh] = ['a'.repeat(64), 'b'.repeat(64)]
      await names.acquire('stale-name', stale)
      await createStateDir(containerStateDir(dataStore, 'prune-names', stale))
      await names.acquire('fresh-name', fresh)
      await createStateDir(containerStateDir(dataStore, 'prune-names', fresh))
      const old = new Date(Date.now() - 2 * STALE_RESERVATION_MS)
      await utimes(join(dataStore, 'names', 'prune-names', 'stale-name'), old, old)
      expect(await c.containers.prune()).toEqual([])
      expect(await names.get('stale-name')).toBeUndefined()
      expect(await names.get('fresh-name')).toBe(fresh)
      expect(await readdir(join(dataStore, 'containers', 'prune-names'))).toEqual([fresh])
      await names.release('fresh-name', fresh)
      await rm(containerStateDir(dataStore, 'prune-names', fresh), { recursive: true, force: true })
    } finally {
      c.close()
    }
  })
})

describe.skipIf(line === 'external')('test kit', () => {
  it('startContainerd().stop() kills what ran in the daemon: shims, container processes, loggers', async () => {
    const own = await startContainerd({ version: line as ContainerdLine })
    const ownData = await mkdtemp(join(tmpdir(), 'csdk-stop-data-'))
    try {
      const c = await Client.connect({ address: own.address, namespace: 'stop-kit', dataRoot: ownData })
      try {
        await importFixture(c, await busyboxImage(), IMAGE)
        const { unpackImage } = await import('../env/unpack-image.js')
        await unpackImage(c, await c.images.get(IMAGE))
        await c.run(IMAGE, { name: 'left-running', detach: true, args: ['sleep', '600'] })
      } finally {
        c.close()
      }
      const before = await processes()
      const shims = [...before].filter(([, p]) => p.cmdline.includes('containerd-shim') && p.cmdline.includes(own.address)).map(([pid]) => pid)
      expect(shims.length).toBeGreaterThan(0)
      const below = [...before].filter(([, p]) => shims.includes(p.ppid)).map(([pid]) => pid)
      // The container's init (sleep) and its json-file logger at least.
      expect(below.length).toBeGreaterThanOrEqual(2)

      await own.stop()
      const after = await processes()
      expect([...shims, ...below].filter((pid) => after.has(pid))).toEqual([])
      expect([...after.values()].filter((p) => p.cmdline.includes(own.address) || p.cmdline.includes(own.dir))).toEqual([])
    } finally {
      await own.stop()
      await rm(ownData, { recursive: true, force: true })
    }
  })
})

describe.skipIf(line === 'external')('dead owners', () => {
  it('containers.prune() removes stopped containers and the rm run of a killed client, and keeps running ones', async () => {
    const c = await Client.connect({ address: daemon.address, namespace: 'prune', dataRoot })
    try {
      await importFixture(c, await busyboxImage(), IMAGE)
      const { unpackImage } = await import('../env/unpack-image.js')
      await unpackImage(c, await c.images.get(IMAGE))
      // A client running `run({ rm: true })` attached, SIGKILLed while its container runs.
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/env/run-child.ts', daemon.address, 'prune', dataRoot, IMAGE, 'notty', 'sleep', '600'], {
        stdio: ['pipe', 'ignore', 'inherit'],
      })
      const exited = new Promise((resolve) => child.once('exit', resolve))
      const deadline = Date.now() + 30_000
      let leftover: string | undefined
      while (leftover === undefined) {
        if (Date.now() > deadline) throw new Error('the child never started its container')
        for (const container of await c.containers.list()) if ((await container.status()) === 'running') leftover = container.id
        await sleep(50)
      }
      child.kill('SIGKILL')
      await exited
      const left = await c.containers.get(leftover)
      expect((await left.info()).labels['containerd-sdk/owner']).toMatch(new RegExp(`/${child.pid}/\\d+$`))

      const stopped = await c.run(IMAGE, { name: 'prune-stopped', args: ['true'] })
      const running = await c.run(IMAGE, { name: 'prune-running', detach: true, args: ['sleep', '600'], stopTimeout: 1 })

      expect((await c.containers.prune()).sort()).toEqual([leftover, stopped.id].sort())
      expect((await c.containers.list()).map((x) => x.id)).toEqual([running.id])
      expect(await activeSnapshots(c)).toEqual([running.id])
      const dataStore = dataStorePath(daemon.address, dataRoot)
      expect(await readdir(join(dataStore, 'names', 'prune'))).toEqual(['prune-running'])
      expect(await readdir(join(dataStore, 'containers', 'prune'))).toEqual([running.id])

      await running.remove({ force: true })
      expect(await c.containers.prune()).toEqual([])
    } finally {
      c.close()
    }
  })
})
