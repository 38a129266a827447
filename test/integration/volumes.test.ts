// Volumes against the real daemon: nerdctl's store layout, -v specs made into mounts with the image's
// content copied up, a container writing into a volume that outlives it, and removal refused while in use.
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client, FailedPreconditionError, InvalidArgumentError, NotFoundError, type Image } from '../../src/index.js'
import type { ImageConfig } from '../../src/image-spec/image-config.js'
import { prepareVolumeMounts, removeAnonymousVolumes, withVolumeMounts, type PreparedVolumes } from '../../src/volumes/volume-mounts.js'
import { NerdctlVolumeStore } from '../../src/volumes/volume-store.js'
import { volumesInUse } from '../../src/volumes/volumes-in-use.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'
import { connectTestClient, daemonAddress } from '../env/test-client.js'

const base = await connectTestClient('volumes')
const IMAGE = 'docker.io/library/busybox:volumes'
let client: Client
let dataRoot: string
let image: Image
let store: NerdctlVolumeStore

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'csdk-volumes-'))
  client = await Client.connect({ address: daemonAddress(), namespace: base.namespace, dataRoot })
  image = await runnableBusybox(client, IMAGE)
  store = new NerdctlVolumeStore(client.dataStore, client.namespace)
})
afterAll(async () => {
  client?.close()
  await rm(dataRoot, { recursive: true, force: true })
})

const inUse = (): Promise<Map<string, string[]>> => volumesInUse(client)

/** Runs `script` in a new container with the prepared volumes; returns its id and exit code, and deletes it. */
async function runWith(prepared: PreparedVolumes, script: string): Promise<{ id: string; exitCode: number }> {
  const id = uniqueId('vol')
  const container = await client.containers.create(id, { image, args: ['sh', '-c', script], labels: prepared.labels, specOptions: [withVolumeMounts(prepared)] })
  try {
    const task = await container.newTask()
    const exited = task.wait()
    await task.start()
    const { exitCode } = await exited
    await task.delete()
    return { id, exitCode }
  } finally {
    await container.delete({ cleanupSnapshot: true })
  }
}

describe('NerdctlVolumeStore', () => {
  it('creates, lists, inspects and removes in the data store', async () => {
    const volume = await store.create('crud', { labels: { app: 'web' } })
    expect(volume).toMatchObject({ Name: 'crud', Driver: 'local', Scope: 'local', Labels: { app: 'web' } })
    expect(volume.Mountpoint).toBe(join(client.dataStore, 'volumes', client.namespace, 'crud', '_data'))
    expect(JSON.parse(await readFile(join(client.dataStore, 'volumes', client.namespace, 'crud', 'volume.json'), 'utf8'))).toEqual({ labels: { app: 'web' } })
    expect((await store.list()).map((v) => v.Name)).toContain('crud')
    await writeFile(join(volume.Mountpoint, 'f'), 'abc')
    expect((await store.inspect('crud', { size: true })).Size).toBe(3)
    await store.remove('crud', { inUse })
    await expect(store.inspect('crud')).rejects.toThrow(NotFoundError)
  })

  it('refuses a bad name and writes nothing', async () => {
    const before = existsSync(store.dir) ? await readdir(store.dir) : []
    await expect(store.create('a/b')).rejects.toThrow(InvalidArgumentError)
    await expect(prepareVolumeMounts(store, ['ok:/ok', 'a/b:/x'])).rejects.toThrow(InvalidArgumentError)
    expect(existsSync(store.dir) ? await readdir(store.dir) : []).toEqual(before)
  })
})

describe('prepareVolumeMounts', () => {
  it('copies the image content up, keeps what a container wrote, and refuses removal while in use', async () => {
    const id = uniqueId('vol')
    // As run() would: the volumes and the container record are made under one hold of the store's lock.
    const { prepared, container } = await store.withLock(async () => {
      const made = await prepareVolumeMounts(store, ['etc:/etc', '/scratch', 'etcro:/ro:ro'], { client, image })
      const created = await client.containers.create(id, {
        image,
        args: ['sh', '-c', 'echo hi > /etc/written && echo x > /scratch/f && grep -q ^root: /etc/passwd && ! touch /ro/nope 2>/dev/null'],
        labels: made.labels,
        specOptions: [withVolumeMounts(made)],
      })
      return { prepared: made, container: created }
    })
    expect(prepared.createdVolumes).toEqual(expect.arrayContaining(['etc', 'etcro']))
    const etc = store.mountpoint('etc')
    // Copied from the image's /etc: content, and the directory's own mode.
    const imageEtc = await readFile(join(etc, 'passwd'), 'utf8')
    expect(imageEtc).toMatch(/^root:/)
    expect((await stat(etc)).mode & 0o7777).toBe(0o755)
    const [anon = ''] = prepared.anonymousVolumes
    expect(await readdir(store.mountpoint(anon))).toEqual([])
    // The image's view was unmounted and removed.
    const views: string[] = []
    for await (const info of client.snapshots().list()) if (info.name.startsWith('csdk-mount-')) views.push(info.name)
    expect(views).toEqual([])

    try {
      // The container's labels name its volumes: removal and prune keep them.
      await expect(store.remove('etc', { inUse })).rejects.toThrow(FailedPreconditionError)
      await expect(store.remove('etc', { inUse })).rejects.toThrow(id)
      expect(await store.prune({ inUse })).not.toContain(anon)
      const task = await container.newTask()
      const exited = task.wait()
      await task.start()
      expect((await exited).exitCode).toBe(0)
      await task.delete()
    } finally {
      await container.delete({ cleanupSnapshot: true })
    }

    // The data outlives the container.
    expect(await readFile(join(etc, 'written'), 'utf8')).toBe('hi\n')
    expect(await readFile(join(store.mountpoint(anon), 'f'), 'utf8')).toBe('x\n')
    expect(await removeAnonymousVolumes(store, prepared.labels, { inUse })).toEqual([anon])

    // A volume that is not empty is not copied into again.
    const again = await prepareVolumeMounts(store, ['etc:/etc'], { client, image })
    expect(again.createdVolumes).toEqual([])
    expect(await readFile(join(etc, 'written'), 'utf8')).toBe('hi\n')
    await store.remove('etc', { inUse })
    await store.remove('etcro', { inUse })
  })

  it("gives the image's VOLUMEs anonymous volumes (content, owners and modes copied when the path exists) and honours nocopy", async () => {
    const config = await image.config()
    const imageConfig: ImageConfig = { ...config, config: { ...config.config, Volumes: { '/home/app': {}, '/home': {}, '/tmp/': {}, '/var/missing': {}, '/root': {} } } }
    const prepared = await prepareVolumeMounts(store, ['nocopy:/root:nocopy'], { client, image, imageConfig })
    expect(prepared.anonymousVolumes).toHaveLength(4)
    // Parents are mounted before children.
    expect(prepared.mounts.map((m) => m.mount.destination).indexOf('/home')).toBeLessThan(prepared.mounts.map((m) => m.mount.destination).indexOf('/home/app'))
    const byDst = new Map(prepared.mountPoints.map((m) => [m.Destination, m.Name ?? '']))
    expect(byDst.get('/root')).toBe('nocopy')
    const home = store.mountpoint(byDst.get('/home') ?? '')
    expect(await readdir(home)).toEqual(['app'])
    expect(await stat(join(home, 'app'))).toMatchObject({ uid: 1000, gid: 1000 })
    // The volume's own directory takes the owner and mode of the image's directory.
    expect(await stat(store.mountpoint(byDst.get('/home/app') ?? ''))).toMatchObject({ uid: 1000, gid: 1000 })
    expect((await stat(store.mountpoint(byDst.get('/tmp') ?? ''))).mode & 0o7777).toBe(0o1777)
    expect(await readdir(store.mountpoint(byDst.get('/var/missing') ?? ''))).toEqual([])
    expect(await readdir(store.mountpoint('nocopy'))).toEqual([])

    const { exitCode } = await runWith(prepared, 'test -d /home/app && touch /home/app/t && test -f /home/app/t && test -d /var/missing && test -z "$(ls -A /root)" && touch /tmp/t')
    expect(exitCode).toBe(0)
    // The write landed in the child's volume, mounted over the parent's.
    expect(existsSync(join(store.mountpoint(byDst.get('/home/app') ?? ''), 't'))).toBe(true)
    expect(existsSync(join(home, 'app', 't'))).toBe(false)
    // Unused now: prune takes the anonymous volumes only; all takes the named one too.
    expect((await store.prune({ inUse })).sort()).toEqual([...prepared.anonymousVolumes].sort())
    expect(await store.prune({ inUse, all: true })).toEqual(['nocopy'])
  })

  it('undo removes the volumes the call made and keeps the ones that existed', async () => {
    await store.create('kept')
    const prepared = await prepareVolumeMounts(store, ['kept:/kept', 'fresh:/fresh', '/anon'], { client, image })
    expect(prepared.createdVolumes.sort()).toEqual(['fresh', prepared.anonymousVolumes[0]].sort())
    await prepared.undo()
    expect((await store.list()).map((v) => v.Name)).toEqual(['kept'])
    await store.remove('kept')
  })
})
