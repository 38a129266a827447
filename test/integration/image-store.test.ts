import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NotFoundError } from '../../src/index.js'
import { busyboxImage, multiPlatformIndex } from '../fixtures/index.js'
import { pushFixture, startRegistry, type Registry } from '../env/registry/index.js'
import { connectTestClient, ctr } from '../env/test-client.js'

const client = await connectTestClient('image-store')
let registry: Registry

beforeAll(async () => {
  registry = await startRegistry({ mode: 'plain' })
  await pushFixture(registry, await busyboxImage(), 'library/busybox', 'latest')
  await pushFixture(registry, await multiPlatformIndex(), 'library/multi', 'v1')
})
afterAll(async () => registry?.stop())

describe('image store', () => {
  it('gets, lists, tags and removes images', async () => {
    const pulled = await client.pull(`${registry.host}/library/busybox:latest`)
    const got = await client.images.get(`${registry.host}/library/busybox`) // default tag
    expect(got.digest).toBe(pulled.digest)
    expect(got.createdAt).toBeInstanceOf(Date)

    const tagged = await pulled.tag('example.com/team/tool:1.0')
    expect(tagged.name).toBe('example.com/team/tool:1.0')
    expect(tagged.digest).toBe(pulled.digest)
    const names = (await client.images.list()).map((i) => i.name).sort()
    expect(names).toEqual([`${registry.host}/library/busybox:latest`, 'example.com/team/tool:1.0'].sort())
    expect((await client.images.list({ filters: ['name~="example.com"'] })).map((i) => i.name)).toEqual(['example.com/team/tool:1.0'])
    expect(await ctr(client.namespace, 'images', 'ls', '-q')).toContain('example.com/team/tool:1.0')

    await client.images.remove('example.com/team/tool:1.0')
    await expect(client.images.get('example.com/team/tool:1.0')).rejects.toBeInstanceOf(NotFoundError)
    await expect(client.images.remove('example.com/team/tool:1.0')).rejects.toBeInstanceOf(NotFoundError)
  })

  it('reports usage across platforms and Docker inspect JSON', async () => {
    const image = await client.pull(`${registry.host}/library/multi:v1`, { allPlatforms: true })
    const one = await image.size()
    const all = await image.usage()
    // Three manifests and configs share one layer: usage counts it once.
    expect(all).toBeGreaterThan(one.content)
    expect(all).toBeLessThan(one.content * 2)
    expect(await image.usage({ snapshots: true })).toBe(all + one.unpacked)

    const inspect = await image.inspect()
    const { manifest } = await image.manifest()
    expect(inspect.Id).toBe(manifest.config.digest)
    expect(inspect.RepoTags).toEqual([`${registry.host}/library/multi:v1`])
    expect(inspect.RepoDigests).toEqual([`${registry.host}/library/multi@${image.digest}`])
    expect(inspect.Architecture).toBe('amd64')
    expect(inspect.Os).toBe('linux')
    expect(inspect.Config['Cmd']).toEqual(['sh'])
    expect(inspect.RootFS.Layers).toHaveLength(1)
    expect(inspect.Size).toBe(one.unpacked)
  })

  it('mounts an image read-only and unmounts it', async () => {
    const image = await client.images.get(`${registry.host}/library/busybox:latest`)
    const dir = await mkdtemp(join(tmpdir(), 'csdk-mount-'))
    try {
      await image.mount(dir)
      expect(await readdir(join(dir, 'bin'))).toContain('busybox')
      expect(await readFile(join(dir, 'etc', 'passwd'), 'utf8')).toContain('root:x:0:0')
      await expect(rm(join(dir, 'etc', 'passwd'))).rejects.toThrow(/EROFS|read-only/)
      await image.unmount(dir)
      expect(await readdir(dir)).toEqual([])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('prunes untagged images, then unused ones', async () => {
    const image = await client.images.get(`${registry.host}/library/busybox:latest`)
    const byDigest = await image.tag(`${registry.host}/library/busybox@${image.digest}`)
    expect(await client.images.prune()).toEqual([byDigest.name])
    const removed = await client.images.prune({ dangling: false })
    expect(removed.sort()).toEqual([`${registry.host}/library/busybox:latest`, `${registry.host}/library/multi:v1`].sort())
    expect(await client.images.list()).toEqual([])
    // The synchronous GC freed the blobs as well.
    await expect(client.content.info(image.digest)).rejects.toBeInstanceOf(NotFoundError)
  })
})
