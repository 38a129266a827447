import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, type Image } from '../../src/index.js'
import { withCapabilities } from '../../src/oci/security-options.js'
import { withMemory, withPidsLimit } from '../../src/oci/resource-options.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'
import { writeBusyboxImageArchive } from '../../src/testing/busybox-archive.js'
import { connectTestClient, ctr } from '../env/test-client.js'

const client = await connectTestClient('containers')
let image: Image
let logDir: string

beforeAll(async () => {
  image = await runnableBusybox(client)
  logDir = await mkdtemp(join(tmpdir(), 'csdk-task-logs-'))
})
afterAll(async () => rm(logDir, { recursive: true, force: true }))

describe('containers and tasks', () => {
  it('runs a process and reports its exit code (Start with exit 7)', async () => {
    const container = await client.containers.create(uniqueId('exit7'), { image, args: ['sh', '-c', 'exit 7'] })
    const task = await container.newTask()
    expect(task.pid).toBeGreaterThan(0)
    const exited = task.wait() // before start, so a fast exit is not missed
    await task.start()
    const status = await exited
    expect(status.exitCode).toBe(7)
    expect(status.exitedAt).toBeInstanceOf(Date)
    expect(await task.status()).toBe('stopped')
    expect((await task.delete()).exitCode).toBe(7)
    await container.delete()
    await expect(container.info()).rejects.toBeInstanceOf(NotFoundError)
  })

  it('writes stdout and stderr to files, with the image config applied', async () => {
    const log = join(logDir, 'output.log')
    const container = await client.containers.create(uniqueId('output'), {
      image,
      args: ['sh', '-c', 'echo out-$(id -u) && echo err >&2 && echo $PATH'],
      labels: { purpose: 'test' },
    })
    expect((await container.info()).labels).toEqual({ purpose: 'test' })
    const task = await container.newTask({ stdio: { logFile: log } })
    const exited = task.wait()
    await task.start()
    expect((await exited).exitCode).toBe(0)
    // The shim copies output to the file on its own schedule: it is complete once the task is deleted.
    await task.delete()
    const text = await readFile(log, 'utf8')
    expect(text.split('\n').sort()).toEqual(['', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'err', 'out-0'])
    await container.delete()
  })

  it('kills, refuses to delete a running task, and force-deletes (Kill, DeleteRunningContainer, ForceDelete)', async () => {
    const container = await client.containers.create(uniqueId('sleeper'), { image, args: ['sleep', '600'] })
    const task = await container.newTask()
    const exited = task.wait()
    await task.start()
    expect(await task.status()).toBe('running')
    expect(await task.pids()).toContain(task.pid)
    expect(await ctr(client.namespace, 'tasks', 'ls')).toContain(container.id)

    await expect(task.delete()).rejects.toBeInstanceOf(FailedPreconditionError)
    await expect(container.delete()).rejects.toBeInstanceOf(FailedPreconditionError)

    await task.pause()
    expect(await task.status()).toBe('paused')
    await task.resume()

    await task.kill('SIGKILL')
    expect((await exited).exitCode).toBe(137)
    await task.delete()

    const second = await container.newTask()
    await second.start()
    await second.delete({ force: true })
    await container.delete()
  })

  it('refuses bad input and leaves nothing behind', async () => {
    const id = uniqueId('dup')
    const container = await client.containers.create(id, { image, args: ['true'] })
    await expect(client.containers.create(id, { image, args: ['true'] })).rejects.toBeInstanceOf(AlreadyExistsError)
    await container.delete()

    await expect(client.containers.create('bad id!', { image })).rejects.toBeInstanceOf(InvalidArgumentError)
    const missing = uniqueId('missing')
    await expect(client.containers.create(missing, { image: 'docker.io/library/nope:latest' })).rejects.toBeInstanceOf(NotFoundError)
    await expect(client.services.containers.get({ id: missing })).rejects.toBeInstanceOf(NotFoundError)
    await expect(client.snapshots().stat(missing)).rejects.toBeInstanceOf(NotFoundError)
    await expect(client.snapshots().stat(id)).rejects.toBeInstanceOf(NotFoundError)
  })

  it('refuses an image that is not unpacked, naming it, and leaves no container, snapshot or lease', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'csdk-not-unpacked-'))
    try {
      const name = `docker.io/library/busybox:${uniqueId('packed')}`
      await writeBusyboxImageArchive(join(dir, 'bb.tar'), { name })
      // Another snapshotter than the one the image was unpacked in (native, never used by the suite).
      const [imported] = await client.images.import(join(dir, 'bb.tar'), { unpack: false })
      const id = uniqueId('not-unpacked')
      const err = await client.containers.create(id, { image: imported!.name, snapshotter: 'native', args: ['true'] }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NotFoundError)
      expect((err as Error).message).toMatch(/is not unpacked in native: pull it/)
      await expect(client.services.containers.get({ id })).rejects.toBeInstanceOf(NotFoundError)
      await expect(client.snapshots('native').stat(id)).rejects.toBeInstanceOf(NotFoundError)
      expect(await client.leases.list()).toEqual([])
      await client.images.remove(imported!.name)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('pipes stdio through FIFOs and execs into a running task (Output, Exec, CloseIO)', async () => {
    const container = await client.containers.create(uniqueId('pipes'), { image, args: ['cat'] })
    const task = await container.newTask({ stdio: 'pipe' })
    const exited = task.wait()
    const chunks: Buffer[] = []
    task.stdout?.on('data', (c: Buffer) => chunks.push(c))
    await task.start()

    const exec = await task.exec({ args: ['sh', '-c', 'echo from-exec; echo oops >&2; exit 3'], env: ['EXTRA=1'], stdio: 'pipe' })
    expect(await exec.output()).toEqual({ exitCode: 3, stdout: 'from-exec\n', stderr: 'oops\n' })
    const env = await task.exec({ args: ['sh', '-c', 'echo $EXTRA:$PATH'], env: ['EXTRA=yes'], stdio: 'pipe' })
    expect((await env.output()).stdout).toBe('yes:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n')
    await expect(task.exec({ args: ['/no/such/binary'], stdio: 'pipe' }).then((p) => p.output())).rejects.toThrow()

    task.stdin?.write('hello through cat\n')
    await task.closeStdin()
    expect((await exited).exitCode).toBe(0)
    await new Promise((r) => setTimeout(r, 50))
    expect(Buffer.concat(chunks).toString()).toBe('hello through cat\n')
    await task.delete()
    await container.delete()
  })

  it('runs as a user resolved from the image (Username, UserID) and applies spec options', async () => {
    const asApp = await client.containers.create(uniqueId('user'), { image, user: 'app', args: ['id'] })
    const task = await asApp.newTask({ stdio: 'pipe' })
    const out: Buffer[] = []
    task.stdout?.on('data', (c: Buffer) => out.push(c))
    const exited = task.wait()
    await task.start()
    expect((await exited).exitCode).toBe(0)
    await task.delete()
    expect(Buffer.concat(out).toString()).toMatch(/^uid=1000\(app\) gid=1000\(app\) groups=1000\(app\),2000\(extra\)/)
    await asApp.delete()
    await expect(client.containers.create(uniqueId('nouser'), { image, user: 'nobody-here', args: ['id'] })).rejects.toBeInstanceOf(InvalidArgumentError)

    // Resource limits land in the container's cgroup (read from the host; cgroup v1 or v2).
    const limited = await client.containers.create(uniqueId('limits'), {
      image,
      args: ['sleep', '60'],
      specOptions: [withMemory('64m'), withPidsLimit(42), withCapabilities({ drop: ['NET_RAW'] })],
    })
    const spec = await limited.spec() as { linux?: { resources?: { memory?: { limit?: number }; pids?: { limit?: number } } }; process?: { capabilities?: { bounding?: string[] } } }
    expect(spec.linux?.resources?.memory?.limit).toBe(64 * 1024 * 1024)
    expect(spec.linux?.resources?.pids?.limit).toBe(42)
    expect(spec.process?.capabilities?.bounding).not.toContain('CAP_NET_RAW')
    const running = await limited.newTask()
    await running.start()
    const { readFile: read } = await import('node:fs/promises')
    const cgroup = `/${client.namespace}/${limited.id}`
    const v1 = await read(`/sys/fs/cgroup/memory${cgroup}/memory.limit_in_bytes`, 'utf8').catch(() => undefined)
    const memory = v1 ?? await read(`/sys/fs/cgroup${cgroup}/memory.max`, 'utf8')
    expect(Number(memory.trim())).toBe(64 * 1024 * 1024)
    await running.delete({ force: true })
    await limited.delete()
  })
})
