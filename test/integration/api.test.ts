// The 1.0 vocabulary as a new user meets it: stores on the client (`client.images`, `client.containers`),
// handles that carry the verbs on one thing (a container reached by name can exec, kill, pause, …),
// containerd's delete beside Docker's remove, disposable handles, and events scoped to the namespace.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client, ConflictError, Container, ContainerdContainer, DetachedRun, Image, InvalidArgumentError, NotFoundError, type ContainerdEvent } from '../../src/index.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'
import { connectTestClient, daemonAddress } from '../env/test-client.js'

const base = await connectTestClient('api')
const IMAGE = 'docker.io/library/busybox:api'
let client: Client
let dataRoot: string

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'csdk-api-'))
  client = await Client.connect({ address: daemonAddress(), namespace: base.namespace, dataRoot })
  await runnableBusybox(client, IMAGE)
})
afterAll(async () => {
  client?.close()
  await rm(dataRoot, { recursive: true, force: true })
})

/** Polls `check` every 50 ms until it holds, for at most `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return check()
}

describe('client.containers', () => {
  it('gets a handle by name and acts on its running process: exec, pids, pause, resume, metrics, kill', async () => {
    await using web = await client.run(IMAGE, { name: 'api-verbs', detach: true, args: ['sleep', '600'], stopTimeout: 1 })
    expect(web).toBeInstanceOf(DetachedRun)
    expect(web).toBeInstanceOf(Container)
    expect(web.name).toBe('api-verbs')

    const byName = await client.containers.get('api-verbs')
    expect(byName).toBeInstanceOf(Container)
    expect(byName.id).toBe(web.id)
    expect((await client.containers.get(web.id.slice(0, 12))).id).toBe(web.id)

    const { exitCode, stdout } = await (await byName.exec({ args: ['sh', '-c', 'echo hi from exec'] })).output()
    expect(exitCode).toBe(0)
    expect(stdout).toBe('hi from exec\n')

    expect((await byName.pids()).length).toBeGreaterThanOrEqual(1)
    await byName.pause()
    expect(await byName.status()).toBe('paused')
    await byName.resume()
    expect(await byName.status()).toBe('running')
    expect(typeof (await byName.metrics()).memory?.usage).toBe('number')
    await byName.kill('SIGKILL')
    expect(await eventually(async () => (await byName.status()) === 'stopped')).toBe(true)
  })

  it('lists handles, not records, and ps rows beside them', async () => {
    await using run = await client.run(IMAGE, { name: 'api-list', detach: true, args: ['sleep', '600'], labels: { app: 'api-list' }, stopTimeout: 1 })
    const listed = await client.containers.list({ filters: ['labels."app"==api-list'] })
    expect(listed.map((c) => c.id)).toEqual([run.id])
    expect(listed[0]).toBeInstanceOf(Container)
    expect((await listed[0]?.info())?.labels['nerdctl/name']).toBe('api-list')
    expect((await client.containers.ps()).map((r) => r.Names)).toContain('api-list')
  })

  it('keeps containerd delete and docker remove apart: delete leaves the name, remove takes everything', async () => {
    const kept = await client.run(IMAGE, { name: 'api-delete', args: ['true'] })
    const stateDir = (await kept.container?.info())?.labels['nerdctl/state-dir'] ?? ''
    expect(existsSync(stateDir)).toBe(true)
    await (await kept.container?.task())?.delete()
    await kept.container?.delete()
    // containerd's delete: the record is gone, nerdctl's name reservation and state dir stay.
    await expect(client.containers.get('api-delete')).rejects.toBeInstanceOf(NotFoundError)
    expect(existsSync(stateDir)).toBe(true)
    await rm(stateDir, { recursive: true, force: true })

    const removed = await client.run(IMAGE, { name: 'api-remove', args: ['true'] })
    const removedDir = (await removed.container?.info())?.labels['nerdctl/state-dir'] ?? ''
    await (await client.containers.get('api-remove')).remove()
    expect(existsSync(removedDir)).toBe(false)
    // The name is free again: a new run may take it.
    const again = await client.run(IMAGE, { name: 'api-remove', args: ['true'], rm: true })
    expect(again.exitCode).toBe(0)
  })

  it('removes a container, its task and its name when its handle is disposed', async () => {
    let id = ''
    {
      await using run = await client.run(IMAGE, { name: 'api-dispose', detach: true, args: ['sleep', '600'] })
      id = run.id
      expect(await run.status()).toBe('running')
    }
    await expect(client.containers.get(id)).rejects.toBeInstanceOf(NotFoundError)
    await expect(client.containers.get('api-dispose')).rejects.toBeInstanceOf(NotFoundError)
    // Disposing twice, or after removal, is a no-op.
    const created = await client.containers.create(uniqueId('api-dispose-twice'), { image: IMAGE, args: ['true'] })
    expect(created).toBeInstanceOf(ContainerdContainer)
    await created[Symbol.asyncDispose]()
    await created[Symbol.asyncDispose]()
    await expect(created.info()).rejects.toBeInstanceOf(NotFoundError)
  })
})

describe('options checked at run time on every handle and store', () => {
  it("refuses unknown keys with the closest known one named, and takes exec's env as an object", async () => {
    await using web = await client.run(IMAGE, { name: 'api-options', detach: true, args: ['sleep', '600'], stopTimeout: 1 })
    const { stdout } = await (await web.exec({ args: ['sh', '-c', 'echo $GREETING'], env: { GREETING: 'hello' } })).output()
    expect(stdout).toBe('hello\n')
    // Plain JavaScript callers: the values below are what a typo or a wrong shape looks like at run time.
    const loose = (value: object): never => value as never
    await expect(web.exec(loose({ args: 'sleep 30' }))).rejects.toThrow(/args must be an array/)
    await expect(web.exec(loose({ args: ['true'], evn: ['A=1'] }))).rejects.toThrow(/did you mean 'env'/)
    await expect(web.stop(loose({ timout: 1 }))).rejects.toThrow(/unknown option 'timout' of stop\(\): did you mean 'timeout'/)
    await expect(web.remove(loose({ froce: true }))).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(client.images.list(loose({ filter: [] }))).rejects.toThrow(/did you mean 'filters'/)
    await expect(client.containers.list(loose({ filter: [] }))).rejects.toThrow(/did you mean 'filters'/)
    // run()'s own options are not create's: a name there would be silently dropped.
    await expect(client.containers.create(uniqueId('api-name'), loose({ image: IMAGE, name: 'web' }))).rejects.toThrow(/unknown option 'name'/)
    expect(await web.status()).toBe('running')
  })
})

describe('client.images', () => {
  it('gets, lists, refuses to remove an image in use without force', async () => {
    const image = await client.images.get('busybox:api')
    expect(image).toBeInstanceOf(Image)
    expect((await client.images.list()).map((i) => i.name)).toContain(IMAGE)
    const copy = await image.tag('example.com/api/in-use:1')
    const id = uniqueId('api-in-use')
    const container = await client.containers.create(id, { image: copy.name, args: ['true'] })
    try {
      const err = await client.images.remove(copy.name).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConflictError)
      expect((err as Error).message).toContain(id)
      expect((await client.images.get(copy.name)).name).toBe(copy.name)
      await client.images.remove(copy.name, { force: true })
      await expect(client.images.get(copy.name)).rejects.toBeInstanceOf(NotFoundError)
    } finally {
      await container.remove()
    }
  })
})

describe('client.events', () => {
  it("yields only the client's namespace unless allNamespaces", async () => {
    const other = client.withNamespace(`${client.namespace}-other`)
    const controller = new AbortController()
    const scoped: ContainerdEvent[] = []
    const everywhere: ContainerdEvent[] = []
    const collect = async (source: AsyncIterable<ContainerdEvent>, into: ContainerdEvent[]): Promise<void> => {
      for await (const ev of source) into.push(ev)
    }
    const done = Promise.all([
      collect(client.events({ signal: controller.signal }), scoped),
      collect(client.events({ signal: controller.signal, allNamespaces: true }), everywhere),
    ])
    // Let both subscriptions reach the daemon before anything happens.
    await new Promise((r) => setTimeout(r, 300))
    await other.namespaces.create(other.namespace, { labels: { scope: 'other' } })
    await other.namespaces.delete(other.namespace)
    await client.namespaces.setLabels(client.namespace, { scope: 'mine' })
    const seen = await eventually(async () => everywhere.some((e) => e.namespace === other.namespace) && scoped.some((e) => e.namespace === client.namespace))
    controller.abort()
    await done
    expect(seen).toBe(true)
    expect(scoped.every((e) => e.namespace === client.namespace)).toBe(true)
    expect(everywhere.some((e) => e.namespace === other.namespace)).toBe(true)
  })
})
