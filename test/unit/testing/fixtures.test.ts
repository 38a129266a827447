import { createHash } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { extract } from 'tar-stream'
import type { Header } from 'tar-stream'
import { describe, it, expect } from 'vitest'
import {
  ANNOTATION_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  BUSYBOX_APPLETS,
  DEFAULT_BUSYBOX_PATH,
  DEFAULT_PATH_ENV,
  ETC_GROUP,
  ETC_PASSWD,
  MediaType,
  buildTar,
  busyboxImage,
  busyboxLayer,
  dataLayerPath,
  gzip,
  hostArchitecture,
  multiLayerImage,
  multiPlatformIndex,
  ociLayoutFiles,
  ociLayoutTar,
  ociLayoutTarStream,
  parseImageName,
  pseudoRandomBytes,
  sha256Digest,
  tarStream,
  writeOciLayout,
} from '../../fixtures/index.js'
import type { BlobStore, Descriptor, Digest, OciImage, TarEntry } from '../../fixtures/index.js'

interface TarMember {
  readonly header: Header
  readonly data: Buffer
}

/** Reads a tar back with tar-stream's extractor (an independent parser from the packer's point of view). */
async function untar(tar: Uint8Array): Promise<TarMember[]> {
  const ex = extract()
  ex.end(tar)
  const members: TarMember[] = []
  for await (const entry of ex) {
    const chunks: Uint8Array[] = []
    for await (const chunk of entry) chunks.push(chunk as Uint8Array)
    members.push({ header: entry.header, data: Buffer.concat(chunks) })
  }
  return members
}

async function readStream(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream) chunks.push(chunk as Uint8Array)
  return Buffer.concat(chunks)
}

function hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

function blob(blobs: BlobStore, digest: Digest): Buffer {
  const bytes = blobs.get(digest)
  if (bytes === undefined) throw new Error(`blob ${digest} missing`)
  return bytes
}

function json<T>(bytes: Buffer): T {
  return JSON.parse(bytes.toString('utf8')) as T
}

interface ManifestJson {
  schemaVersion: number
  mediaType: string
  config: Descriptor
  layers: Descriptor[]
}
interface IndexJson {
  schemaVersion: number
  mediaType: string
  manifests: Descriptor[]
}
interface ConfigJson {
  created: string
  architecture: string
  os: string
  variant?: string
  config: { Env: string[]; Cmd: string[]; User?: string }
  rootfs: { type: string; diff_ids: string[] }
}

/**
 * Walks everything reachable from `root` and checks each blob against the descriptor that names it
 * (digest, size, and the digest being the blob's real sha256); for manifests, also that the config's
 * diff_ids are the sha256 of the decompressed layers. Returns the digests visited.
 */
function verifyGraph(blobs: BlobStore, root: Descriptor, visited = new Set<Digest>()): Set<Digest> {
  const bytes = blob(blobs, root.digest)
  expect(sha256Digest(bytes)).toBe(root.digest)
  expect(bytes.length).toBe(root.size)
  visited.add(root.digest)
  if (root.mediaType === MediaType.index) {
    const index = json<IndexJson>(bytes)
    expect(index.schemaVersion).toBe(2)
    expect(index.mediaType).toBe(MediaType.index)
    for (const m of index.manifests) verifyGraph(blobs, m, visited)
  } else if (root.mediaType === MediaType.manifest) {
    const manifest = json<ManifestJson>(bytes)
    expect(manifest.schemaVersion).toBe(2)
    expect(manifest.mediaType).toBe(MediaType.manifest)
    expect(manifest.config.mediaType).toBe(MediaType.config)
    verifyGraph(blobs, manifest.config, visited)
    const config = json<ConfigJson>(blob(blobs, manifest.config.digest))
    expect(config.rootfs.type).toBe('layers')
    expect(config.rootfs.diff_ids).toHaveLength(manifest.layers.length)
    manifest.layers.forEach((layer, i) => {
      expect(layer.mediaType).toBe(MediaType.layerTarGzip)
      verifyGraph(blobs, layer, visited)
      const tar = gunzipSync(blob(blobs, layer.digest))
      expect(config.rootfs.diff_ids[i]).toBe(sha256Digest(tar))
    })
    if (root.platform !== undefined) {
      expect(config.architecture).toBe(root.platform.architecture)
      expect(config.os).toBe(root.platform.os)
      expect(config.variant).toBe(root.platform.variant)
    }
  }
  return visited
}

/** Every blob in the store is reachable and correct, and nothing reachable is missing. */
function verifyImage(image: OciImage): void {
  const visited = verifyGraph(image.blobs, image.manifest)
  expect([...visited].sort()).toEqual([...image.blobs.keys()].sort())
}

function digestsOf(image: OciImage): string[] {
  return [image.manifest.digest, image.config.digest, ...image.layers.flatMap((l) => [l.descriptor.digest, l.diffID])]
}

describe('deterministic tar', () => {
  const entries: TarEntry[] = [
    { path: '/etc', type: 'dir', mode: 0o755 },
    { path: './etc/motd', type: 'file', mode: 0o600, content: 'hello\n' },
    { path: 'etc/empty', type: 'file', mode: 0o644 },
    { path: 'etc/motd-link', type: 'symlink', mode: 0o777, linkname: 'motd' },
    { path: 'etc/motd-hard', type: 'hardlink', mode: 0o600, linkname: '/etc/motd' },
    { path: 'tmp', type: 'dir', mode: 0o1777, uid: 5, gid: 6 },
  ]

  it('pins time and ownership, keeps order, and normalises paths', async () => {
    const members = await untar(await buildTar(entries))
    expect(members.map((m) => [m.header.name, m.header.type, m.header.mode])).toEqual([
      ['etc/', 'directory', 0o755],
      ['etc/motd', 'file', 0o600],
      ['etc/empty', 'file', 0o644],
      ['etc/motd-link', 'symlink', 0o777],
      ['etc/motd-hard', 'link', 0o600],
      ['tmp/', 'directory', 0o1777],
    ])
    for (const { header } of members) {
      expect(header.mtime.getTime()).toBe(0)
      expect(header.uname).toBe('')
      expect(header.gname).toBe('')
    }
    expect(members.map((m) => [m.header.uid, m.header.gid])).toEqual([[0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [5, 6]])
    expect(members[1]?.data.toString()).toBe('hello\n')
    expect(members[2]?.data.length).toBe(0)
    expect(members[3]?.header.linkname).toBe('motd')
    expect(members[4]?.header.linkname).toBe('etc/motd')
  })

  it('produces identical bytes for identical entries, buffered or streamed', async () => {
    const a = await buildTar(entries)
    const b = await buildTar(entries)
    expect(a.equals(b)).toBe(true)
    expect((await readStream(tarStream(entries))).equals(a)).toBe(true)
  })

  it('rejects entries it cannot represent faithfully', async () => {
    await expect(buildTar([{ path: 'x', type: 'file', mode: 0 }])).rejects.toThrow(/mode/)
    await expect(buildTar([{ path: '../x', type: 'file', mode: 0o644 }])).rejects.toThrow(/\.\./)
    await expect(buildTar([{ path: 'x', type: 'symlink', mode: 0o777 }])).rejects.toThrow(/linkname/)
    await expect(buildTar([{ path: 'x', type: 'dir', mode: 0o755, content: 'no' }])).rejects.toThrow(/content/)
    expect(() => tarStream([{ path: '', type: 'file', mode: 0o644 }])).toThrow(/empty/)
  })
})

describe('deterministic gzip', () => {
  it('writes a header without time or name and round-trips', async () => {
    const data = Buffer.from('fixture '.repeat(1000))
    const gz = await gzip(data)
    expect([...gz.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])
    expect(gunzipSync(gz).equals(data)).toBe(true)
    expect((await gzip(data)).equals(gz)).toBe(true)
  })
})

describe('pseudoRandomBytes', () => {
  it('is seeded, prefix-stable and incompressible', async () => {
    const a = pseudoRandomBytes('s', 1 << 16)
    expect(pseudoRandomBytes('s', 1 << 16).equals(a)).toBe(true)
    expect(pseudoRandomBytes('s', 100).equals(a.subarray(0, 100))).toBe(true)
    expect(pseudoRandomBytes('t', 100).equals(a.subarray(0, 100))).toBe(false)
    expect((await gzip(a)).length).toBeGreaterThanOrEqual(a.length)
  })
})

describe('image names', () => {
  it('accepts normalised names and returns the tag as the OCI ref name', () => {
    expect(parseImageName('docker.io/library/busybox:latest').object).toBe('latest')
    expect(parseImageName('localhost:5000/a/b:v1.2').object).toBe('v1.2')
    expect(parseImageName(`registry.example.com/x@sha256:${'a'.repeat(64)}`).object).toBe(`@sha256:${'a'.repeat(64)}`)
  })

  it('rejects names containerd would drop on import', () => {
    for (const name of ['busybox', 'busybox:latest', 'library/busybox:latest', 'docker.io/busybox:latest', 'localhost/x']) {
      expect(() => parseImageName(name), name).toThrow()
    }
  })
})

describe('busyboxImage', () => {
  it('has the same digests on every build', async () => {
    const [a, b] = await Promise.all([busyboxImage(), busyboxImage()])
    expect(digestsOf(a)).toEqual(digestsOf(b))
  })

  it('is self-consistent: blobs match descriptors and diff_ids match the layers', async () => {
    const image = await busyboxImage()
    verifyImage(image)
    expect(image.layers).toHaveLength(1)
    expect(image.manifest.platform).toEqual({ architecture: hostArchitecture(), os: 'linux' })
    const config = json<ConfigJson>(blob(image.blobs, image.config.digest))
    expect(config).toMatchObject({
      created: '1970-01-01T00:00:00Z',
      architecture: hostArchitecture(),
      os: 'linux',
      config: { Env: [DEFAULT_PATH_ENV], Cmd: ['sh'] },
    })
  })

  it('contains busybox, its applets, users, groups and the base directories', async () => {
    const image = await busyboxImage()
    const [layer] = image.layers
    if (layer === undefined) throw new Error('no layer')
    const tar = gunzipSync(layer.blob)
    expect(tar.length).toBe(layer.uncompressedSize)
    const members = new Map((await untar(tar)).map((m) => [m.header.name, m]))

    const busybox = members.get('bin/busybox')
    expect(busybox?.header.mode).toBe(0o755)
    expect(busybox?.data.equals(await readFile(DEFAULT_BUSYBOX_PATH))).toBe(true)
    for (const applet of BUSYBOX_APPLETS) {
      expect(members.get(`bin/${applet}`)?.header, applet).toMatchObject({ type: 'symlink', linkname: 'busybox' })
    }
    expect(members.get('etc/passwd')?.data.toString()).toBe(ETC_PASSWD)
    expect(ETC_PASSWD).toContain('app:x:1000:1000:app:/home/app:/bin/sh\n')
    expect(ETC_PASSWD).toContain('nobody:x:65534:65534:nobody:/home:/bin/false\n')
    expect(members.get('etc/group')?.data.toString()).toBe(ETC_GROUP)
    expect(ETC_GROUP).toContain('extra:x:2000:app\n')
    expect(members.get('tmp/')?.header.mode).toBe(0o1777)
    expect(members.get('home/app/')?.header).toMatchObject({ type: 'directory', uid: 1000, gid: 1000 })
    for (const dir of ['root/', 'proc/', 'sys/', 'dev/', 'etc/', 'var/']) {
      expect(members.get(dir)?.header.type, dir).toBe('directory')
    }
    const names = [...members.keys()]
    expect(names).toEqual([...names].sort())
  })

  it('declares the requested architecture and runtime config, and checks its name', async () => {
    const layer = await busyboxLayer()
    const image = await busyboxImage({ layer, arch: 'arm64', config: { User: 'app' } })
    verifyImage(image)
    const config = json<ConfigJson>(blob(image.blobs, image.config.digest))
    expect(config.architecture).toBe('arm64')
    expect(config.config).toEqual({ Env: [DEFAULT_PATH_ENV], Cmd: ['sh'], User: 'app' })
    await expect(busyboxImage({ layer, name: 'busybox' })).rejects.toThrow(/normalised/)
  })
})

describe('multiPlatformIndex', () => {
  it('lists one manifest per platform over a shared layer', async () => {
    const index = await multiPlatformIndex({ name: 'localhost/fixtures/multi-arch:v1' })
    const visited = verifyGraph(index.blobs, index.index)
    expect([...visited].sort()).toEqual([...index.blobs.keys()].sort())

    const body = json<IndexJson>(blob(index.blobs, index.index.digest))
    expect(body.manifests.map((m) => m.platform)).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux' },
      { architecture: 'arm', os: 'linux', variant: 'v7' },
    ])
    expect(new Set(index.images.map((i) => i.layers[0]?.descriptor.digest)).size).toBe(1)
    expect(new Set(index.images.map((i) => i.config.digest)).size).toBe(3)

    const again = await multiPlatformIndex({ name: 'localhost/fixtures/multi-arch:v1' })
    expect(again.index.digest).toBe(index.index.digest)
  })
})

describe('multiLayerImage', () => {
  it('builds the requested number of data layers of the requested size', async () => {
    const image = await multiLayerImage({ layers: 3, layerSize: 100_000, seed: 'unit' })
    verifyImage(image)
    expect(image.layers).toHaveLength(4)
    for (let i = 1; i <= 3; i++) {
      const layer = image.layers[i]
      if (layer === undefined) throw new Error(`layer ${i} missing`)
      // Incompressible: gzip adds a little instead of saving anything.
      expect(layer.descriptor.size).toBeGreaterThanOrEqual(100_000)
      const members = await untar(gunzipSync(layer.blob))
      expect(members.map((m) => m.header.name)).toEqual(['data/', dataLayerPath(i).slice(1)])
      expect(members[1]?.data.length).toBe(100_000)
      expect(hex(members[1]?.data ?? Buffer.alloc(0))).toBe(hex(pseudoRandomBytes(`unit/layer-${i}`, 100_000)))
    }
    expect(new Set(image.layers.map((l) => l.diffID)).size).toBe(4)
  })

  it('is deterministic per seed and shares only the base layer across seeds', async () => {
    const [a, b, c] = await Promise.all([
      multiLayerImage({ layers: 2, layerSize: 4096, seed: 'x' }),
      multiLayerImage({ layers: 2, layerSize: 4096, seed: 'x', concurrency: 1 }),
      multiLayerImage({ layers: 2, layerSize: 4096, seed: 'y' }),
    ])
    expect(digestsOf(a)).toEqual(digestsOf(b))
    expect(c.layers[0]?.diffID).toBe(a.layers[0]?.diffID)
    expect(c.layers[1]?.diffID).not.toBe(a.layers[1]?.diffID)
    // The base is the busybox image's own layer, so both images share one blob in a content store.
    expect(a.layers[0]?.descriptor.digest).toBe((await busyboxLayer()).descriptor.digest)
  })

  it('allows zero data layers and empty files', async () => {
    expect((await multiLayerImage({ layers: 0, layerSize: 10 })).layers).toHaveLength(1)
    const empty = await multiLayerImage({ layers: 1, layerSize: 0 })
    verifyImage(empty)
    await expect(multiLayerImage({ layers: -1, layerSize: 1 })).rejects.toThrow(/layers/)
  })
})

describe('OCI layout', () => {
  async function artifacts() {
    const layer = await busyboxLayer()
    const named = await busyboxImage({ layer, name: 'docker.io/library/busybox:latest' })
    const unnamed = await busyboxImage({ layer, arch: 'arm64' })
    const index = await multiPlatformIndex({ name: 'localhost/fixtures/multi-arch:v1' })
    return [named, unnamed, index] as const
  }

  it('writes oci-layout, index.json with name annotations, and every blob as a tar', async () => {
    const list = await artifacts()
    const tar = await ociLayoutTar(list)
    const members = await untar(tar)
    const byName = new Map(members.map((m) => [m.header.name, m.data]))

    expect(JSON.parse(byName.get('oci-layout')?.toString() ?? '')).toEqual({ imageLayoutVersion: '1.0.0' })
    const index = JSON.parse(byName.get('index.json')?.toString() ?? '') as IndexJson
    expect(index.mediaType).toBe(MediaType.index)
    expect(index.manifests.map((m) => [m.mediaType, m.annotations])).toEqual([
      [MediaType.manifest, { [ANNOTATION_IMAGE_NAME]: 'docker.io/library/busybox:latest', [ANNOTATION_REF_NAME]: 'latest' }],
      [MediaType.manifest, undefined],
      [MediaType.index, { [ANNOTATION_IMAGE_NAME]: 'localhost/fixtures/multi-arch:v1', [ANNOTATION_REF_NAME]: 'v1' }],
    ])

    // The blobs in the tar alone are enough to walk every entry of index.json.
    const blobs = new Map<Digest, Buffer>()
    for (const [name, data] of byName) {
      if (name.startsWith('blobs/sha256/') && name.length > 'blobs/sha256/'.length) blobs.set(`sha256:${name.slice(13)}`, data)
    }
    const visited = new Set<Digest>()
    for (const m of index.manifests) verifyGraph(blobs, m, visited)
    expect([...visited].sort()).toEqual([...blobs.keys()].sort())

    expect(members.map((m) => m.header.name)).toEqual([...members.map((m) => m.header.name)].sort())
    expect((await ociLayoutTar(await artifacts())).equals(tar)).toBe(true)
    expect((await readStream(ociLayoutTarStream(list))).equals(tar)).toBe(true)
  })

  it('writes the same layout to a directory', async () => {
    const list = await artifacts()
    const dir = await mkdtemp(join(tmpdir(), 'oci-layout-'))
    try {
      const files = await writeOciLayout(dir, list)
      expect((await readdir(dir)).sort()).toEqual(['blobs', 'index.json', 'oci-layout'])
      expect((await readFile(join(dir, 'index.json'))).equals(files.indexJson)).toBe(true)
      expect((await readFile(join(dir, 'oci-layout'))).toString()).toBe('{"imageLayoutVersion":"1.0.0"}')
      const names = (await readdir(join(dir, 'blobs', 'sha256'))).sort()
      expect(names.map((n) => `sha256:${n}`)).toEqual([...files.blobs.keys()])
      for (const name of names) {
        expect(hex(await readFile(join(dir, 'blobs', 'sha256', name)))).toBe(name)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses to list one name twice', async () => {
    const image = await busyboxImage({ name: 'docker.io/library/busybox:latest' })
    expect(() => ociLayoutFiles([image, image])).toThrow(/twice/)
  })
})
