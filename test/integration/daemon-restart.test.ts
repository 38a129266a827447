import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client, UnavailableError, type Image } from '../../src/index.js'
import { markRestartRunning, restartLabels } from '../../src/containers/restart-policy.js'
import { Status } from '../../src/gen/containerd/types/task/task_pb.js'
import { startContainerd, type ContainerdDaemon } from '../../src/testing/containerd-daemon.js'
import type { ContainerdLine } from '../../src/testing/containerd-binaries.js'
import { busyboxImage } from '../fixtures/index.js'
import { importFixture } from '../env/import-fixture.js'
import { daemonLine } from '../env/test-client.js'
import { removeManaged, taskState } from '../env/restart-helpers.js'
import { uniqueId } from '../env/runnable-image.js'

// Restarting the daemon every other test file talks to would break them: this file starts a private
// containerd of the same release line, with the same short restart-monitor interval.
const line = daemonLine()
const INTERVAL_MS = 1_000
let daemon: ContainerdDaemon
let client: Client
let image: Image

beforeAll(async () => {
  if (line === 'external') return
  daemon = await startContainerd({ version: line as ContainerdLine, restartMonitorIntervalMs: INTERVAL_MS })
  client = await Client.connect({ address: daemon.address, namespace: 'daemon-restart' })
  await importFixture(client, await busyboxImage(), 'docker.io/library/busybox:fixture')
  image = await client.images.get('docker.io/library/busybox:fixture')
  const { unpackImage } = await import('../env/unpack-image.js')
  await unpackImage(client, image)
})
afterAll(async () => {
  client?.close()
  // Kills the daemon and its shims, unmounts and removes its root and state.
  await daemon?.stop()
})



describe.skipIf(line === 'external')('daemon restart', () => {
  it('a running task survives a daemon restart and can be waited on, exec\'d into and killed (DaemonRestart)', async () => {
    const container = await client.containers.create(uniqueId('survivor'), { image, args: ['sleep', '600'] })
    try {
      const task = await container.newTask()
      // Settled into a value at once: it rejects while the daemon restarts, before anyone awaits it.
      const before = task.wait().then((status) => status, (err: unknown) => err)
      await task.start()
      const serverBefore = await client.introspection.server()

      await daemon.restart()
      // The wait that was open when the daemon went away fails; it does not invent an exit status.
      expect(await before).toBeInstanceOf(UnavailableError)

      // The same client reconnects by itself; the daemon found its shim again.
      expect((await client.introspection.server()).uuid).toBe(serverBefore.uuid)
      expect(await task.status()).toBe('running')
      expect((await container.task()).pid).toBe(task.pid)
      expect(await task.pids()).toContain(task.pid)
      const exec = await task.exec({ args: ['sh', '-c', 'echo alive'], stdio: 'pipe' })
      expect(await exec.output()).toEqual({ exitCode: 0, stdout: 'alive\n', stderr: '' })

      const after = task.wait()
      await task.kill('SIGKILL')
      expect((await after).exitCode).toBe(137)
      expect((await task.delete()).exitCode).toBe(137)
    } finally {
      await removeManaged(container)
    }
  })

  it('calls fail with UnavailableError while the daemon is down, and a new client sees the task after', async () => {
    const container = await client.containers.create(uniqueId('down'), { image, args: ['sleep', '600'] })
    try {
      const task = await container.newTask()
      await task.start()
      await daemon.kill()
      try {
        await expect(client.version()).rejects.toBeInstanceOf(UnavailableError)
      } finally {
        await daemon.restart()
      }
      await using fresh = await Client.connect({ address: daemon.address, namespace: 'daemon-restart' })
      const loaded = await (await fresh.containers.get(container.id)).task()
      expect(loaded.pid).toBe(task.pid)
      expect(await loaded.status()).toBe('running')
      await loaded.delete({ force: true })
    } finally {
      await removeManaged(container)
    }
  })

  it('an always container whose task died while the daemon was down is restarted once it is back', async () => {
    const container = await client.containers.create(uniqueId('revived'), { image, args: ['sleep', '600'], labels: restartLabels('always') })
    try {
      const task = await container.newTask()
      await task.start()
      await markRestartRunning(client, container.id)

      await daemon.kill()
      try {
        process.kill(task.pid, 'SIGKILL')
      } finally {
        await daemon.restart()
      }
      const deadline = Date.now() + 15 * INTERVAL_MS
      let state = await taskState(client, container.id)
      for (let i = 0; i < 200 && Date.now() < deadline; i++) {
        if (state?.status === Status.RUNNING && state.pid !== task.pid) break
        await sleep(200)
        state = await taskState(client, container.id)
      }
      expect(state?.status).toBe(Status.RUNNING)
      expect(state?.pid).not.toBe(task.pid)
    } finally {
      await removeManaged(container)
    }
  })
})
