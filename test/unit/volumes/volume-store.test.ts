import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../../../src/grpc/errors.js'
import { readMountLabels } from '../../../src/nerdctl/labels.js'
import { prepareVolumeMounts, removeAnonymousVolumes, withVolumeMounts } from '../../../src/volumes/volume-mounts.js'
import { lookupInRoot } from '../../../src/util/root-path.js'
import { parseLabels, volumeJson, NerdctlVolumeStore, volumeStoreDir } from '../../../src/volumes/volume-store.js'
import { volumesOfContainer } from '../../../src/volumes/volumes-in-use.js'
import type { Spec } from '../../../src/oci/runtime-spec.js'

let root: string
let n = 0

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'csdk-volumes-'))
})
afterAll(async () => rm(root, { recursive: true, force: true }))

function newStore(): NerdctlVolumeStore {
  return new NerdctlVolumeStore(join(root, `store-${n++}`), 'ns')
}

const none = async (): Promise<Map<string, string[]>> => new Map()

describe('NerdctlVolumeStore', () => {
  it('writes nerdctl\'s layout: volume.json with labels, and _data', async () => {
    const store = newStore()
    const volume = await store.create('data', { labels: { b: '2', a: '1' } })
    expect(store.dir).toBe(volumeStoreDir(join(store.dir, '..', '..'), 'ns'))
    expect(volume).toMatchObject({ Name: 'data', Driver: 'local', Scope: 'local', Labels: { a: '1', b: '2' }, Mountpoint: join(store.dir, 'data', '_data') })
    expect(volume.CreatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    expect(await readFile(join(store.dir, 'data', 'volume.json'), 'utf8')).toBe('{\n    "labels": {\n        "a": "1",\n        "b": "2"\n    }\n}')
    expect((await stat(join(store.dir, 'data'))).mode & 0o777).toBe(0o700)
    expect((await stat(volume.Mountpoint)).isDirectory()).toBe(true)
    // Creating it again returns it unchanged, labels included.
    expect((await store.create('data', { labels: { c: '3' } })).Labels).toEqual({ a: '1', b: '2' })
    expect(await store.ensure('data')).toMatchObject({ created: false })
  })

  it('writes "labels": null without labels, as Go marshals a nil map', async () => {
    expect(volumeJson(undefined)).toBe('{\n    "labels": null\n}')
    expect(parseLabels('{"labels": null}')).toEqual({})
    expect(parseLabels('not json')).toEqual({})
    const store = newStore()
    await store.create('plain')
    expect((await store.inspect('plain')).Labels).toEqual({})
  })

  it('makes an anonymous volume without a name', async () => {
    const store = newStore()
    const volume = await store.create()
    expect(volume.Name).toMatch(/^[0-9a-f]{64}$/)
    expect(volume.Labels).toEqual({ 'nerdctl/anonymous-volumes': '' })
  })

  it('refuses a bad name and writes nothing', async () => {
    const store = newStore()
    for (const name of ['a/b', 'a', '', '.hidden', '../x', 'x'.repeat(256)]) {
      await expect(store.create(name)).rejects.toThrow(InvalidArgumentError)
      await expect(store.inspect(name)).rejects.toThrow(InvalidArgumentError)
      await expect(store.remove(name)).rejects.toThrow(InvalidArgumentError)
    }
    expect(existsSync(join(store.dir, 'a'))).toBe(false)
    expect(existsSync(store.dir) ? await readdir(store.dir) : []).toEqual([])
  })

  it('lists, inspects with size, and removes', async () => {
    const store = newStore()
    const b = await store.create('bbb')
    await store.create('aaa')
    await writeFile(join(b.Mountpoint, 'f'), 'hello')
    await mkdir(join(b.Mountpoint, 'd'))
    await writeFile(join(b.Mountpoint, 'd', 'g'), '12')
    // Not a volume: no volume.json (skipped, as nerdctl does), and a temp file.
    await mkdir(join(store.dir, 'stray'))
    await writeFile(join(store.dir, '.tmp-x'), '')
    expect((await store.list()).map((v) => v.Name)).toEqual(['aaa', 'bbb'])
    expect((await store.inspect('bbb', { size: true })).Size).toBe(7)
    expect((await store.list({ size: true })).find((v) => v.Name === 'bbb')?.Size).toBe(7)
    await expect(store.inspect('nope')).rejects.toThrow(NotFoundError)
    await store.remove('bbb')
    expect(existsSync(join(store.dir, 'bbb'))).toBe(false)
    await expect(store.remove('bbb')).rejects.toThrow(NotFoundError)
  })

  it('refuses to remove a volume in use, naming the container', async () => {
    const store = newStore()
    await store.create('busy')
    const inUse = async (): Promise<Map<string, string[]>> => new Map([['busy', ['c1']]])
    await expect(store.remove('busy', { inUse })).rejects.toThrow(FailedPreconditionError)
    await expect(store.remove('busy', { inUse })).rejects.toThrow(/in use by container c1/)
    expect(existsSync(join(store.dir, 'busy', 'volume.json'))).toBe(true)
    await store.remove('busy', { inUse: none })
  })

  it('prunes unused anonymous volumes, and named ones with all', async () => {
    const store = newStore()
    const anon = await store.create()
    const used = await store.create()
    await store.create('named')
    const inUse = async (): Promise<Map<string, string[]>> => new Map([[used.Name, ['c']]])
    expect(await store.prune({ inUse })).toEqual([anon.Name])
    expect(await store.prune({ inUse, all: true })).toEqual(['named'])
    expect((await store.list()).map((v) => v.Name)).toEqual([used.Name])
  })
})

describe('NerdctlVolumeStore.list filters and option checks', () => {
  it('filters by label, name and dangling', async () => {
    const store = newStore()
    await store.create('web-data', { labels: { app: 'web', tier: 'front' } })
    await store.create('web-logs', { labels: { app: 'web' } })
    await store.create('db', { labels: { app: 'db' } })
    const names = async (filters: string[]): Promise<string[]> => (await store.list({ filters, inUse: async () => new Map([['db', ['c']]]) })).map((v) => v.Name)
    expect(await names(['label=app=web'])).toEqual(['web-data', 'web-logs'])
    expect(await names(['label=app=web', 'label=tier'])).toEqual(['web-data'])
    expect(await names(['name=^web-', 'name=^db$'])).toEqual(['db', 'web-data', 'web-logs'])
    expect(await names(['name=logs'])).toEqual(['web-logs'])
    expect(await names(['dangling=true'])).toEqual(['web-data', 'web-logs'])
    expect(await names(['dangling=false', 'label=app'])).toEqual(['db'])
    await expect(store.list({ filters: ['dangling=true'] })).rejects.toThrow(/needs inUse/)
    await expect(store.list({ filters: ['driver=local'] })).rejects.toThrow(/unknown filter "driver=local"/)
    await expect(store.list({ filters: ['name=('] })).rejects.toThrow(InvalidArgumentError)
  })

  it('names unknown options', async () => {
    const store = newStore()
    await expect(store.create('x1', { lables: {} } as never)).rejects.toThrow(/unknown option 'lables' of volumes.create\(\): did you mean 'labels'/)
    await expect(store.prune({ inUse: none, al: true } as never)).rejects.toThrow(/did you mean 'all'/)
    await expect(store.prune({} as never)).rejects.toThrow(/needs inUse/)
    await expect(store.create('x1', { labels: { a: 1 } } as never)).rejects.toThrow(/must be a string/)
  })
})

describe('NerdctlVolumeStore.withLock', () => {
  it('lets calls inside it run under the lock it holds, and keeps others out until it settles', async () => {
    const store = newStore()
    const order: string[] = []
    let entered!: () => void
    const inside = new Promise<void>((resolve) => (entered = resolve))
    const locked = store.withLock(async () => {
      entered()
      await store.create('inner')
      await prepareVolumeMounts(store, ['inner2:/x', '/anon'])
      await new Promise((resolve) => setTimeout(resolve, 200))
      order.push('locked done')
    })
    await inside
    // Started from outside the locked section: waits for it.
    await store.list().then(() => order.push('outside done'))
    await locked
    expect(order).toEqual(['locked done', 'outside done'])
    expect((await store.list()).map((v) => v.Name)).toContain('inner2')
  })
})

describe('prepareVolumeMounts (no image)', () => {
  it('makes named and anonymous volumes, binds host paths, and records nerdctl labels', async () => {
    const store = newStore()
    await store.create('existing')
    const host = join(root, `host-${n++}`)
    const prepared = await prepareVolumeMounts(store, ['data:/data', `${host}/sub:/mnt/deep/x:ro,rshared`, '/anon', 'existing:/x:ro', 'data:/data'])
    expect(prepared.createdVolumes).toHaveLength(2)
    expect(prepared.createdVolumes[0]).toBe('data')
    const anon = prepared.anonymousVolumes
    expect(anon).toHaveLength(1)
    expect(anon[0]).toMatch(/^[0-9a-f]{64}$/)
    expect((await store.inspect(anon[0] ?? '')).Labels).toEqual({ 'nerdctl/anonymous-volumes': '' })
    // nerdctl's -v makes a missing host directory.
    expect((await stat(join(host, 'sub'))).isDirectory()).toBe(true)
    // An existing file is bound as it is.
    await writeFile(join(host, 'file'), 'x')
    const file = await prepareVolumeMounts(store, [`${host}/file:/etc/file:ro`])
    expect(file.mounts[0]?.mount).toEqual({ type: 'bind', source: join(host, 'file'), destination: '/etc/file', options: ['ro', 'rprivate', 'rbind'] })
    expect(await readFile(join(host, 'file'), 'utf8')).toBe('x')

    expect(prepared.mounts.map((m) => m.mount.destination)).toEqual(['/data', '/anon', '/x', '/mnt/deep/x'])
    const byDst = new Map(prepared.mounts.map((m) => [m.mount.destination, m.mount]))
    expect(byDst.get('/data')).toEqual({ type: 'bind', source: store.mountpoint('data'), destination: '/data', options: ['rprivate', 'rbind'] })
    expect(byDst.get('/x')?.options).toEqual(['ro', 'rprivate', 'rbind'])
    expect(byDst.get('/mnt/deep/x')).toEqual({ type: 'bind', source: join(host, 'sub'), destination: '/mnt/deep/x', options: ['ro', 'rshared', 'rbind'] })

    expect(prepared.mountPoints).toEqual([
      { Type: 'volume', Name: 'data', Source: store.mountpoint('data'), Destination: '/data', Driver: 'local', Mode: '', RW: true, Propagation: '' },
      { Type: 'bind', Source: join(host, 'sub'), Destination: '/mnt/deep/x', Mode: 'ro,rshared', RW: false, Propagation: 'rshared' },
      { Type: 'volume', Name: anon[0], Source: store.mountpoint(anon[0] ?? ''), Destination: '/anon', Driver: 'local', Mode: '', RW: true, Propagation: '' },
      { Type: 'volume', Name: 'existing', Source: store.mountpoint('existing'), Destination: '/x', Driver: 'local', Mode: 'ro', RW: false, Propagation: '' },
    ])
    expect(prepared.labels['nerdctl/mounts.0']).toBe(
      JSON.stringify({ Type: 'volume', Name: 'data', Source: store.mountpoint('data'), Destination: '/data', Driver: 'local', Mode: '', RW: true, Propagation: '' }),
    )
    expect(readMountLabels(prepared.labels)).toEqual(prepared.mountPoints)
    expect(prepared.labels['nerdctl/anonymous-volumes']).toBe(JSON.stringify(anon))
    expect(volumesOfContainer(prepared.labels).sort()).toEqual(['data', 'existing', anon[0]].sort())

    // As a spec option: the mounts, replacing a default mount at the same path, and the root propagation.
    const spec: Spec = { ociVersion: '1.1.0', mounts: [{ destination: '/data', type: 'tmpfs', source: 'tmpfs' }] }
    withVolumeMounts(prepared)(spec)
    expect(spec.mounts?.map((m) => m.destination)).toEqual(['/data', '/anon', '/x', '/mnt/deep/x'])
    expect(spec.mounts?.[0]?.type).toBe('bind')
    expect(spec.linux?.rootfsPropagation).toBe('shared')

    await prepared.undo()
    expect((await store.list()).map((v) => v.Name)).toEqual(['existing'])
    await prepared.undo()
  })

  it('checks every spec before writing anything', async () => {
    const store = newStore()
    await expect(prepareVolumeMounts(store, ['data:/data', 'bad:/x:bogus'])).rejects.toThrow(InvalidArgumentError)
    await expect(prepareVolumeMounts(store, ['data:/data', 'data:/data', 'other:/data/'])).rejects.toThrow('"data:/data" and "other:/data/" both mount /data')
    expect(existsSync(store.dir) ? await readdir(store.dir) : []).toEqual([])
  })

  it('gives the image VOLUMEs no spec covers anonymous volumes, and refuses forbidden ones', async () => {
    const store = newStore()
    const imageConfig = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Volumes: { '/data': {}, '/cache/': {} } } }
    const prepared = await prepareVolumeMounts(store, ['named:/data'], { imageConfig })
    expect(prepared.mountPoints.map((m) => [m.Destination, m.Name === 'named'])).toEqual([['/data', true], ['/cache', false]])
    expect(prepared.anonymousVolumes).toHaveLength(1)
    // Paths other mounts take: no image volume there, and a spec there is refused.
    const other = await prepareVolumeMounts(store, [], { imageConfig, otherMountPaths: ['/cache/'] })
    expect(other.mountPoints.map((m) => m.Destination)).toEqual(['/data'])
    await expect(prepareVolumeMounts(store, ['vv:/run'], { otherMountPaths: ['/run'] })).rejects.toThrow('a mount at /run and "vv:/run" both mount /run')
    const bad = { ...imageConfig, config: { Volumes: { '/proc': {} } } }
    await expect(prepareVolumeMounts(store, [], { imageConfig: bad })).rejects.toThrow(/VOLUME "\/proc"/)
  })

  it('undoes the volumes it made when a later step fails', async () => {
    const store = newStore()
    const file = join(root, `file-${n++}`)
    await writeFile(file, '')
    // The bind source's parent is a file: mkdir fails after the volume was made.
    await expect(prepareVolumeMounts(store, ['data:/data', `${file}/sub:/mnt`])).rejects.toThrow()
    expect(await store.list()).toEqual([])
  })
})

describe('removeAnonymousVolumes', () => {
  it('removes the volumes the label names, skipping gone ones and those still in use', async () => {
    const store = newStore()
    const a = await store.create()
    const b = await store.create()
    await store.create('named')
    const labels = { 'nerdctl/anonymous-volumes': JSON.stringify([a.Name, b.Name, 'f'.repeat(64), '../x']) }
    const inUse = async (): Promise<Map<string, string[]>> => new Map([[b.Name, ['other']]])
    expect(await removeAnonymousVolumes(store, labels, { inUse })).toEqual([a.Name])
    expect(await removeAnonymousVolumes(store, labels)).toEqual([b.Name])
    expect(await removeAnonymousVolumes(store, {})).toEqual([])
    expect(await removeAnonymousVolumes(store, { 'nerdctl/anonymous-volumes': 'nope' })).toEqual([])
    expect((await store.list()).map((v) => v.Name)).toEqual(['named'])
  })
})

describe('lookupInRoot', () => {
  it('follows symlinks inside the root only', async () => {
    const r = join(root, `root-${n++}`)
    await mkdir(join(r, 'real', 'dir'), { recursive: true })
    await writeFile(join(r, 'real', 'file'), '')
    const { symlink } = await import('node:fs/promises')
    await symlink('/real', join(r, 'abs'))
    await symlink('../../../../real', join(r, 'up'))
    await symlink('up/file', join(r, 'tofile'))
    expect((await lookupInRoot(r, '/abs/dir'))?.path).toBe(join(r, 'real', 'dir'))
    expect((await lookupInRoot(r, '/up'))?.path).toBe(join(r, 'real'))
    expect((await lookupInRoot(r, '/up'))?.stats.isDirectory()).toBe(true)
    expect((await lookupInRoot(r, '/tofile'))?.path).toBe(join(r, 'real', 'file'))
    expect((await lookupInRoot(r, '/tofile'))?.stats.isFile()).toBe(true)
    expect(await lookupInRoot(r, '/real/file/below')).toBeUndefined()
    expect(await lookupInRoot(r, '/missing')).toBeUndefined()
    expect((await lookupInRoot(r, '/../..'))?.path).toBe(r)
  })
})
