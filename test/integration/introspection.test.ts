import { describe, expect, it } from 'vitest'
import { connectTestClient, daemonLine } from '../env/test-client.js'

const client = await connectTestClient('introspection')

describe('introspection', () => {
  it('lists plugins, filtered by type and id', async () => {
    const all = await client.introspection.plugins()
    expect(all.length).toBeGreaterThan(10)
    const snapshotters = await client.introspection.plugins({ filters: ['type==io.containerd.snapshotter.v1'] })
    expect(snapshotters.every((p) => p.type === 'io.containerd.snapshotter.v1')).toBe(true)
    expect(snapshotters.map((p) => p.id)).toEqual(expect.arrayContaining(['overlayfs', 'native']))
    const overlay = snapshotters.find((p) => p.id === 'overlayfs')
    expect(overlay?.initError).toBeUndefined()
    expect(overlay?.platforms[0]?.os).toBe('linux')
    // The CRI plugin is disabled in the test daemons' config: it is not loaded.
    expect(all.some((p) => p.type === 'io.containerd.grpc.v1' && p.id === 'cri' && p.initError === undefined)).toBe(false)
    expect(await client.introspection.hasPlugin('io.containerd.snapshotter.v1', 'overlayfs')).toBe(true)
    expect(await client.introspection.hasPlugin('io.containerd.snapshotter.v1', 'no-such')).toBe(false)
  })

  it('reports the server UUID (and pid on 1.7+)', async () => {
    const server = await client.introspection.server()
    expect(server.uuid).toMatch(/^[0-9a-f-]{36}$/)
    if (daemonLine() !== '1.6' && daemonLine() !== 'external') expect(server.pid).toBeGreaterThan(0)
    expect(Array.isArray(server.deprecations)).toBe(true)
  })
})
