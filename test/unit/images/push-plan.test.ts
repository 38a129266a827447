import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { ClientCore } from '../../../src/client/client.js'
import { NotFoundError } from '../../../src/grpc/errors.js'
import { MediaTypes } from '../../../src/image-spec/media-types.js'
import { planPush } from '../../../src/images/push.js'
import type { OciDescriptor } from '../../../src/image-spec/descriptor.js'

/** A content store in memory: just what planPush reads. */
function store(): { client: ClientCore; put: (value: unknown, mediaType: string, extra?: Partial<OciDescriptor>) => OciDescriptor; drop: (digest: string) => void } {
  const blobs = new Map<string, Buffer>()
  const client = {
    content: {
      readAll: async (digest: string): Promise<Buffer> => {
        const bytes = blobs.get(digest)
        if (bytes === undefined) throw new NotFoundError(`content digest ${digest}: not found`)
        return bytes
      },
    },
  } as unknown as ClientCore
  const put = (value: unknown, mediaType: string, extra: Partial<OciDescriptor> = {}): OciDescriptor => {
    const bytes = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    blobs.set(digest, bytes)
    return { mediaType, digest, size: bytes.byteLength, ...extra }
  }
  return { client, put, drop: (digest) => blobs.delete(digest) }
}

function image(s: ReturnType<typeof store>, arch: string, layers: string[], variant?: string): OciDescriptor {
  const config = s.put({ architecture: arch, os: 'linux', ...(variant !== undefined ? { variant } : {}), rootfs: { type: 'layers', diff_ids: [] } }, MediaTypes.ociConfig)
  const layerDescs = layers.map((l) => s.put(l, MediaTypes.ociLayerGzip))
  return s.put({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers: layerDescs }, MediaTypes.ociManifest)
}

describe('planPush', () => {
  it('plans a single manifest: config and layers, the manifest as root, the platform from its config', async () => {
    const s = store()
    const m = image(s, 'amd64', ['a', 'b'])
    const plan = await planPush(s.client, 'r/x:1', m, undefined)
    expect(plan.blobs.map((b) => b.mediaType)).toEqual([MediaTypes.ociConfig, MediaTypes.ociLayerGzip, MediaTypes.ociLayerGzip])
    expect(plan.children).toEqual([])
    expect(plan.root.desc).toEqual({ mediaType: m.mediaType, digest: m.digest, size: m.size })
    expect(plan.platforms).toEqual([{ os: 'linux', architecture: 'amd64' }])
    await expect(planPush(s.client, 'r/x:1', m, { os: 'linux', architecture: 'arm64' })).rejects.toThrow(/single linux\/amd64 image/)
  })

  it('plans an index: shared blobs once, every manifest before the index', async () => {
    const s = store()
    const amd = image(s, 'amd64', ['shared'])
    const arm = image(s, 'arm64', ['shared'])
    const index = s.put({
      schemaVersion: 2,
      manifests: [{ ...amd, platform: { os: 'linux', architecture: 'amd64' } }, { ...arm, platform: { os: 'linux', architecture: 'arm64' } }],
    }, MediaTypes.ociIndex)
    const plan = await planPush(s.client, 'r/x:1', index, undefined)
    expect(plan.blobs.filter((b) => b.mediaType === MediaTypes.ociLayerGzip)).toHaveLength(1)
    expect(plan.blobs).toHaveLength(3)
    expect(plan.children.map((c) => c.desc.digest)).toEqual([amd.digest, arm.digest])
    // Children are pushed by digest with bare descriptors: platform belongs to the index entry.
    expect(plan.children[0]?.desc).toEqual({ mediaType: amd.mediaType, digest: amd.digest, size: amd.size })
    expect(plan.root.desc.digest).toBe(index.digest)
    expect(plan.platforms.map((p) => p.architecture)).toEqual(['amd64', 'arm64'])
  })

  it('refuses a partial index, naming what is missing, unless one platform is asked for', async () => {
    const s = store()
    const amd = image(s, 'amd64', ['x'])
    const arm = image(s, 'arm', ['y'], 'v7')
    const index = s.put({
      schemaVersion: 2,
      manifests: [{ ...amd, platform: { os: 'linux', architecture: 'amd64' } }, { ...arm, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }],
    }, MediaTypes.ociIndex)
    s.drop(arm.digest)
    const err = await planPush(s.client, 'r/x:1', index, undefined).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotFoundError)
    expect((err as Error).message).toMatch(/lacks the manifests for linux\/arm\/v7/)

    const one = await planPush(s.client, 'r/x:1', index, { os: 'linux', architecture: 'amd64' })
    expect(one.root.desc.digest).toBe(amd.digest)
    expect(one.children).toEqual([])
    expect(one.blobs).toHaveLength(2)
    await expect(planPush(s.client, 'r/x:1', index, { os: 'linux', architecture: 'arm', variant: 'v7' })).rejects.toThrow(/manifest sha256:[0-9a-f]+ is not in the content store/)
    await expect(planPush(s.client, 'r/x:1', index, { os: 'linux', architecture: 's390x' })).rejects.toThrow(/no manifest for linux\/s390x \(it offers linux\/amd64, linux\/arm\/v7\)/)
  })

  it('walks nested indexes children first and leaves non-distributable layers out', async () => {
    const s = store()
    const config = s.put({ architecture: 'amd64', os: 'windows', rootfs: { type: 'layers', diff_ids: [] } }, MediaTypes.ociConfig)
    const foreign = { mediaType: MediaTypes.dockerForeignLayerGzip, digest: `sha256:${'f'.repeat(64)}`, size: 10, urls: ['https://example/base'] }
    const own = s.put('own layer', MediaTypes.dockerLayerGzip)
    const m = s.put({ schemaVersion: 2, mediaType: MediaTypes.dockerManifest, config, layers: [foreign, own] }, MediaTypes.dockerManifest)
    const inner = s.put({ schemaVersion: 2, manifests: [{ ...m, platform: { os: 'windows', architecture: 'amd64' } }] }, MediaTypes.ociIndex)
    const outer = s.put({ schemaVersion: 2, manifests: [inner] }, MediaTypes.ociIndex)
    const plan = await planPush(s.client, 'r/x:1', outer, undefined)
    expect(plan.children.map((c) => c.desc.digest)).toEqual([m.digest, inner.digest])
    expect(plan.blobs.map((b) => b.digest)).toEqual([config.digest, own.digest])
  })

  it('rejects index entries it cannot push', async () => {
    const s = store()
    const odd = s.put('{}', 'application/vnd.example.thing+json')
    const index = s.put({ schemaVersion: 2, manifests: [odd] }, MediaTypes.ociIndex)
    await expect(planPush(s.client, 'r/x:1', index, undefined)).rejects.toThrow(/unsupported media type application\/vnd.example.thing\+json/)
  })
})
