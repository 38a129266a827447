import { describe, expect, it } from 'vitest'
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../../src/index.js'
import { connectTestClient, ctr } from '../env/test-client.js'

const client = await connectTestClient('snapshots')
const GC_ROOT = { 'containerd.io/gc.root': 'test' }

describe('snapshots (overlayfs)', () => {
  const snapshots = client.snapshots()

  it('prepares, commits, views, stats, lists, measures and removes snapshots', async () => {
    const mounts = await snapshots.prepare('layer-1-active', '', { labels: GC_ROOT })
    expect(mounts.length).toBeGreaterThan(0)
    expect(['bind', 'overlay']).toContain(mounts[0]?.type)
    expect(await snapshots.mounts('layer-1-active')).toEqual(mounts)

    const active = await snapshots.stat('layer-1-active')
    expect(active).toMatchObject({ name: 'layer-1-active', parent: '', kind: 'active', labels: GC_ROOT })

    await snapshots.commit('layer-1', 'layer-1-active', { labels: GC_ROOT })
    await expect(snapshots.stat('layer-1-active')).rejects.toBeInstanceOf(NotFoundError)
    expect(await snapshots.stat('layer-1')).toMatchObject({ name: 'layer-1', kind: 'committed' })

    const childMounts = await snapshots.prepare('child', 'layer-1', { labels: GC_ROOT })
    expect(childMounts[0]?.type).toBe('overlay')
    expect(childMounts[0]?.options.some((o) => o.startsWith('lowerdir='))).toBe(true)
    const view = await snapshots.view('a-view', 'layer-1', { labels: GC_ROOT })
    expect(view.length).toBeGreaterThan(0)
    expect((await snapshots.stat('a-view')).kind).toBe('view')

    const names: string[] = []
    for await (const info of snapshots.list()) names.push(info.name)
    expect(names.sort()).toEqual(['a-view', 'child', 'layer-1'])
    const children: string[] = []
    for await (const info of snapshots.list({ filters: ['parent==layer-1'] })) children.push(info.name)
    expect(children.sort()).toEqual(['a-view', 'child'])

    const usage = await snapshots.usage('layer-1')
    expect(usage.size).toBeGreaterThanOrEqual(0)
    expect(usage.inodes).toBeGreaterThanOrEqual(1)

    const relabelled = await snapshots.setLabels('layer-1', { extra: 'x' })
    expect(relabelled.labels).toEqual({ ...GC_ROOT, extra: 'x' })

    // What we made is what containerd's own tool sees.
    expect(await ctr(client.namespace, 'snapshots', 'ls')).toContain('layer-1')

    // A parent with children cannot go first.
    await expect(snapshots.remove('layer-1')).rejects.toBeInstanceOf(FailedPreconditionError)
    await snapshots.remove('child')
    await snapshots.remove('a-view')
    await snapshots.remove('layer-1')
    const left: string[] = []
    for await (const info of snapshots.list()) left.push(info.name)
    expect(left).toEqual([])
  })

  it('reports duplicates, missing parents and empty keys with typed errors', async () => {
    await snapshots.prepare('dup', '', { labels: GC_ROOT })
    await expect(snapshots.prepare('dup')).rejects.toBeInstanceOf(AlreadyExistsError)
    await expect(snapshots.prepare('orphan', 'no-such-parent')).rejects.toBeInstanceOf(NotFoundError)
    await expect(snapshots.prepare('')).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(snapshots.remove('no-such-key')).rejects.toBeInstanceOf(NotFoundError)
    await snapshots.remove('dup')
    await expect(snapshots.stat('orphan')).rejects.toBeInstanceOf(NotFoundError)
  })

  it('uses another snapshotter by name (native)', async () => {
    const native = client.snapshots('native')
    expect(native.snapshotter).toBe('native')
    const mounts = await native.prepare('native-1', '', { labels: GC_ROOT })
    expect(mounts[0]?.type).toBe('bind')
    await native.remove('native-1')
  })
})
