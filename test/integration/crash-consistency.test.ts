import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client } from '../../src/index.js'
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
