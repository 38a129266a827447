import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConflictError, NotFoundError, type Container, type Image } from '../../src/index.js'
import { generateContainerId } from '../../src/nerdctl/container-id.js'
import { inspectContainer } from '../../src/docker/container-inspect.js'
import { listContainerRows, buildContainerRow } from '../../src/docker/container-rows.js'
import { readContainerSnapshot } from '../../src/docker/container-state.js'
import { containerStateDir, dataStorePath } from '../../src/nerdctl/data-store.js'
import { NameStore } from '../../src/nerdctl/name-store.js'
import { checkUserLabels, defaultContainerName, nerdctlLabels, withNerdctlAnnotations } from '../../src/nerdctl/labels.js'
import { createStateDir, recordStarted, removeStateDir, withHostnameFile } from '../../src/nerdctl/state-dir.js'
import { connectTestClient, ctr, daemonAddress } from '../env/test-client.js'
import { runnableBusybox } from '../env/runnable-image.js'

const client = await connectTestClient('nerdctl-compat')
const ns = client.namespace
let image: Image
let dataRoot: string
let dataStore: string
let names: NameStore

beforeAll(async () => {
  image = await runnableBusybox(client, 'docker.io/library/busybox:fixture')
  dataRoot = await mkdtemp(join(tmpdir(), 'csdk-nerdctl-'))
  dataStore = dataStorePath(daemonAddress(), dataRoot)
  names = new NameStore(dataStore, ns)
})
afterAll(async () => rm(dataRoot, { recursive: true, force: true }))

/**
 * Creates a container the way nerdctl's `create` does, from the building blocks: reserve the name, make
 * the state dir, label and annotate, create; undo all of it if any step fails.
 */
async function createLikeNerdctl(options: { name?: string; args: string[]; labels?: Record<string, string> }): Promise<{ container: Container; id: string; name: string; stateDir: string }> {
  const id = generateContainerId()
  const name = options.name ?? defaultContainerName(image.name, id)
  const stateDir = containerStateDir(dataStore, ns, id)
  checkUserLabels(options.labels ?? {})
  await names.acquire(name, id)
  try {
    const hostname = id.slice(0, 12)
    await createStateDir(stateDir, { hostname })
    const labels = { ...(options.labels ?? {}), ...nerdctlLabels({ namespace: ns, id, name, stateDir, hostname, networks: ['none'] }) }
    const container = await client.containers.create(id, {
      image,
      args: options.args,
      labels,
      hostname,
      specOptions: [withHostnameFile(stateDir), withNerdctlAnnotations(labels)],
    })
    return { container, id, name, stateDir }
  } catch (err) {
    await names.release(name, id)
    await removeStateDir(stateDir)
    throw err
  }
}

/** Deletes like `nerdctl rm`: task, container, then the name and the state dir. */
async function removeLikeNerdctl(container: Container, name: string, stateDir: string): Promise<void> {
  await container.task().then((t) => t.delete({ force: true }), () => undefined)
  await container.delete()
  await names.release(name, container.id)
  await removeStateDir(stateDir)
}

describe('nerdctl-compatible containers', () => {
  it('lays out names and state dirs as nerdctl does, and ctr sees the labels and annotations', async () => {
    const { container, id, name, stateDir } = await createLikeNerdctl({ args: ['true'], labels: { app: 'demo' } })
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(name).toBe(`busybox-${id.slice(0, 5)}`)
    // <data root>/<8 hex of sha256(socket)>/names/<ns>/<name> holding the id; containers/<ns>/<id>.
    expect(dataStore).toMatch(new RegExp(`^${dataRoot}/[0-9a-f]{8}$`))
    expect(await readFile(join(dataStore, 'names', ns, name), 'utf8')).toBe(id)
    expect((await stat(join(dataStore, 'names', ns, name))).mode & 0o777).toBe(0o600)
    for (const dir of [dataStore, join(dataStore, 'names'), join(dataStore, 'names', ns), join(dataStore, 'containers', ns), stateDir]) {
      expect((await stat(dir)).mode & 0o777, dir).toBe(0o700)
    }
    expect(stateDir).toBe(join(dataStore, 'containers', ns, id))
    expect((await readdir(stateDir)).sort()).toEqual(['hostname', 'network-config.json'])
    expect((await stat(join(stateDir, 'hostname'))).mode & 0o777).toBe(0o644)

    const info = JSON.parse(await ctr(ns, 'containers', 'info', id)) as { Labels: Record<string, string>; Spec: { annotations?: Record<string, string> } }
    expect(info.Labels).toMatchObject({
      app: 'demo',
      'nerdctl/namespace': ns,
      'nerdctl/name': name,
      'nerdctl/hostname': id.slice(0, 12),
      'nerdctl/state-dir': stateDir,
      'nerdctl/extraHosts': '[]',
      'nerdctl/networks': '["none"]',
      'nerdctl/auto-remove': 'false',
    })
    expect(info.Labels['nerdctl/platform']).toMatch(/^linux\//)
    const nerdctlKeys = Object.keys(info.Labels).filter((k) => k.startsWith('nerdctl/'))
    for (const key of nerdctlKeys) expect(info.Spec.annotations?.[key], key).toBe(info.Labels[key])
    expect(info.Spec.annotations?.['app']).toBeUndefined()
    expect(await ctr(ns, 'containers', 'ls', '-q')).toContain(id)

    await removeLikeNerdctl(container, name, stateDir)
    await expect(stat(stateDir)).rejects.toThrow()
    expect(await names.get(name)).toBeUndefined()
  })

  it('inspects and lists a container created, running and exited', async () => {
    const { container, id, name, stateDir } = await createLikeNerdctl({ name: 'lifecycle-web', args: ['sh', '-c', 'read line; exit 3'] })
    try {
      const created = await inspectContainer(client, id)
      expect(created).toMatchObject({ Id: id, Name: 'lifecycle-web', Path: 'sh', Args: ['-c', 'read line; exit 3'], Image: image.name, Driver: 'overlayfs', Platform: 'linux' })
      expect(created.State).toMatchObject({ Status: 'created', Running: false, Pid: 0, ExitCode: 0, StartedAt: '0001-01-01T00:00:00Z' })
      expect(created.HostnamePath).toBe(join(stateDir, 'hostname'))
      expect(created.Config.Hostname).toBe(id.slice(0, 12))
      expect(created.HostConfig.NetworkMode).toBe('none')
      expect(Date.parse(created.Created)).toBeGreaterThan(Date.now() - 120_000)
      const createdRow = buildContainerRow(await readContainerSnapshot(client, id))
      expect(createdRow).toMatchObject({ ID: id.slice(0, 12), Status: 'Created', Names: 'lifecycle-web', Command: '"sh -c read line; ex…"', Ports: '' })
      expect((await listContainerRows(client)).map((r) => r.Names)).not.toContain('lifecycle-web')
      expect((await listContainerRows(client, { all: true })).map((r) => r.Names)).toContain('lifecycle-web')

      const task = await container.newTask({ stdio: 'pipe' })
      const exited = task.wait()
      await task.start()
      await recordStarted(stateDir)
      const running = await inspectContainer(client, id)
      expect(running.State).toMatchObject({ Status: 'running', Running: true, Paused: false, Pid: task.pid, ExitCode: 0 })
      expect(Date.parse(running.State.StartedAt)).toBeGreaterThan(Date.now() - 60_000)
      const lifecycle = JSON.parse(await readFile(join(stateDir, 'lifecycle.json'), 'utf8')) as Record<string, unknown>
      expect(Object.keys(lifecycle).sort()).toEqual(['create_error', 'started_at'])
      const upRow = (await listContainerRows(client)).find((r) => r.Names === 'lifecycle-web')
      expect(upRow?.Status).toMatch(/^Up (Less than a second|\d+ seconds?)$/)
      expect(upRow?.State).toBe('running')
      // The hostname file is what the container sees at /etc/hostname.
      expect((await (await task.exec({ args: ['cat', '/etc/hostname'], stdio: 'pipe' })).output()).stdout).toBe(`${id.slice(0, 12)}\n`)

      await task.pause()
      expect((await inspectContainer(client, id)).State).toMatchObject({ Status: 'paused', Paused: true, Running: false })
      await task.resume()

      task.stdin?.end('go\n')
      expect((await exited).exitCode).toBe(3)
      const down = await inspectContainer(client, id)
      expect(down.State).toMatchObject({ Status: 'exited', Running: false, Pid: 0, ExitCode: 3 })
      expect(Date.parse(down.State.FinishedAt)).toBeGreaterThanOrEqual(Date.parse(running.State.StartedAt) - 1000)
      const downRow = (await listContainerRows(client, { all: true })).find((r) => r.Names === 'lifecycle-web')
      expect(downRow?.Status).toMatch(/^Exited \(3\) (Less than a second|\d+ seconds?) ago$/)
      expect((await listContainerRows(client)).map((r) => r.Names)).not.toContain('lifecycle-web')
      expect(await ctr(ns, 'tasks', 'ls')).toMatch(new RegExp(`${id}\\s+\\d+\\s+STOPPED`))
    } finally {
      await removeLikeNerdctl(container, name, stateDir)
    }
    await expect(inspectContainer(client, id)).rejects.toBeInstanceOf(NotFoundError)
  })

  it('refuses a name in use with a ConflictError and leaves nothing behind', async () => {
    const first = await createLikeNerdctl({ name: 'taken', args: ['true'] })
    try {
      const before = new Set((await client.services.containers.list({})).containers.map((c) => c.id))
      const dirsBefore = await readdir(join(dataStore, 'containers', ns))
      const err = await createLikeNerdctl({ name: 'taken', args: ['true'] }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConflictError)
      expect((err as Error).message).toContain(first.id)
      const after = (await client.services.containers.list({})).containers.map((c) => c.id)
      expect(new Set(after)).toEqual(before)
      expect(await readdir(join(dataStore, 'containers', ns))).toEqual(dirsBefore)
      expect(await names.get('taken')).toBe(first.id)
    } finally {
      await removeLikeNerdctl(first.container, first.name, first.stateDir)
    }
    // Released: the name can be taken again.
    const again = await createLikeNerdctl({ name: 'taken', args: ['true'] })
    await removeLikeNerdctl(again.container, again.name, again.stateDir)
  })

  it('gives a name to exactly one of two concurrent creates', async () => {
    const results = await Promise.allSettled([createLikeNerdctl({ name: 'race', args: ['true'] }), createLikeNerdctl({ name: 'race', args: ['true'] })])
    const won = results.filter((r) => r.status === 'fulfilled')
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(won).toHaveLength(1)
    expect(lost).toHaveLength(1)
    expect(lost[0]?.reason).toBeInstanceOf(ConflictError)
    const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof createLikeNerdctl>>>).value
    const named = await client.services.containers.list({ filters: ['labels."nerdctl/name"==race'] })
    expect(named.containers.map((c) => c.id)).toEqual([winner.id])
    expect(await readdir(join(dataStore, 'containers', ns))).toContain(winner.id)
    expect(await names.get('race')).toBe(winner.id)
    await removeLikeNerdctl(winner.container, winner.name, winner.stateDir)
    expect(await readdir(join(dataStore, 'containers', ns))).not.toContain(winner.id)
  })

  it('undoes the name and state dir when the container cannot be created', async () => {
    const before = await readdir(join(dataStore, 'containers', ns)).catch(() => [])
    await expect(
      createLikeNerdctl({ name: 'doomed', args: ['true'], labels: { big: 'x'.repeat(5000) } }),
    ).rejects.toThrow()
    expect(await names.get('doomed')).toBeUndefined()
    expect(await readdir(join(dataStore, 'containers', ns))).toEqual(before)
  })
})
