import { describe, expect, it } from 'vitest'
import { busyboxImage, dataLayerPath, multiLayerImage, multiPlatformIndex } from '../fixtures/index.js'
import { importFixture } from '../env/import-fixture.js'
import { connectTestClient, ctr } from '../env/test-client.js'

const client = await connectTestClient('fixtures')

describe('fixture images stored through the content and images services', () => {
  it('imports the busybox image so that ctr can check and run it', async () => {
    const image = await busyboxImage()
    const name = 'docker.io/library/busybox:fixture'
    const target = await importFixture(client, image, name)
    const { image: record } = await client.services.images.get({ name })
    expect(record?.target?.digest).toBe(target.digest)

    const listing = await ctr(client.namespace, 'images', 'ls')
    expect(listing).toContain(name)
    expect(await ctr(client.namespace, 'images', 'check')).toMatch(/complete/)

    // ctr unpacks the layers itself and runs busybox from our image.
    const out = await ctr(client.namespace, 'run', '--rm', name, `fixture-run-${Date.now()}`, 'sh', '-c', 'echo hello from $(id -u) && ls /etc/passwd')
    expect(out).toContain('hello from 0')
    expect(out).toContain('/etc/passwd')
  })

  it('imports a multi-platform index with every platform present', async () => {
    const index = await multiPlatformIndex()
    const name = 'docker.io/library/busybox:multi'
    await importFixture(client, index, name)
    const listing = await ctr(client.namespace, 'images', 'ls')
    const row = listing.split('\n').find((l) => l.startsWith(name)) ?? ''
    expect(row).toContain('linux/amd64')
    expect(row).toContain('linux/arm64')
  })

  it('imports a multi-layer image whose layers ctr stacks in order', async () => {
    const image = await multiLayerImage({ layers: 3, layerSize: 256 * 1024 })
    const name = 'docker.io/library/layers:3'
    await importFixture(client, image, name)
    const out = await ctr(client.namespace, 'run', '--rm', name, `layers-run-${Date.now()}`, 'sh', '-c', `ls ${dataLayerPath(1)} ${dataLayerPath(3)} && wc -c < ${dataLayerPath(2)}`)
    expect(out).toContain(dataLayerPath(3))
    expect(out.trim().split('\n').pop()?.trim()).toBe(String(256 * 1024))
  })

  it('builds the same digests twice', async () => {
    const a = await busyboxImage()
    const b = await busyboxImage()
    expect(a.manifest.digest).toBe(b.manifest.digest)
  })
})
