import { mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { gunzipSync, gzipSync } from 'node:zlib'
import { extract, pack, type Header } from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CanceledError, DataLossError, NotFoundError, type Client } from '../../src/index.js'
import { ArchiveError } from '../../src/images/archive/archive-error.js'
import { exportImages } from '../../src/images/archive/export-images.js'
import { importImages } from '../../src/images/archive/import-images.js'
import {
  busyboxImage,
  canonicalJson,
  dataLayerPath,
  digestHex,
  hostArchitecture,
  linuxPlatform,
  makeConfig,
  makeIndex,
  makeManifest,
  multiLayerImage,
  multiPlatformIndex,
  ociLayoutFiles,
  ociLayoutTar,
  sha256Digest,
  writeOciLayout,
  type OciArtifact,
  type OciImage,
  type OciImageIndex,
} from '../fixtures/index.js'
import { runTool } from '../env/registry/index.js'
import { connectTestClient, ctr, sweepNamespace, uniqueNamespace } from '../env/test-client.js'
import { NOTHING_LEFT, storeLeftovers } from '../env/store-leftovers.js'

const client = await connectTestClient('archive')
const BUSY = 'docker.io/library/busybox:arch-bb'
const MULTI = 'docker.io/library/multi:arch-mp'
const LAYERS = 'docker.io/library/layers:arch-ml'

let dir: string
let busybox: OciImage
let multi: OciImageIndex
let layers: OciImage
let fixtureTar: Buffer
const others: Client[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csdk-archive-'))
  ;[busybox, multi, layers] = await Promise.all([busyboxImage(), multiPlatformIndex(), multiLayerImage({ layers: 3, layerSize: 256 * 1024 })])
  fixtureTar = await ociLayoutTar([{ ...busybox, name: BUSY }, { ...multi, name: MULTI }, { ...layers, name: LAYERS }])
})
afterAll(async () => {
  for (const c of others) await sweepNamespace(c).catch(() => undefined)
  await rm(dir, { recursive: true, force: true })
})

/** A view of the client on a new namespace, swept after the file. */
function fresh(label: string): Client {
  const c = client.withNamespace(uniqueNamespace(label))
  others.push(c)
  return c
}


type RawEntry = Partial<Header> & { name: string; content?: Buffer | string }

/** A tar with exactly these headers (names as given, `..` and links included), for hostile archives. */
async function rawTar(entries: readonly RawEntry[]): Promise<Buffer> {
  const tar = pack()
  const chunks: Buffer[] = []
  const done = (async () => {
    for await (const chunk of tar) chunks.push(chunk as Buffer)
  })()
  for (const { content, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve())
      if (content === undefined) tar.entry({ mtime: new Date(0), ...header }, cb)
      else tar.entry({ mtime: new Date(0), ...header }, content, cb)
    })
  }
  tar.finalize()
  await done
  return Buffer.concat(chunks)
}

/** The entries of a fixture layout, blobs first, as `{name, content}` to tamper with. */
function layoutEntries(artifacts: OciArtifact | readonly OciArtifact[]): RawEntry[] {
  const files = ociLayoutFiles(artifacts)
  return [
    ...[...files.blobs].map(([digest, bytes]) => ({ name: `blobs/sha256/${digestHex(digest)}`, content: bytes })),
    { name: 'index.json', content: files.indexJson },
    { name: 'oci-layout', content: files.ociLayout },
  ]
}

/** The entries of an archive (`name type mode`), and its small JSON files parsed. */
async function listArchive(bytes: Buffer): Promise<{ names: string[]; headers: string[]; json: Map<string, unknown> }> {
  const names: string[] = []
  const headers: string[] = []
  const json = new Map<string, unknown>()
  const tar = extract()
  Readable.from([bytes]).pipe(tar as unknown as NodeJS.WritableStream)
  for await (const entry of tar) {
    const { name, type, mode, uid, gid, mtime } = entry.header
    names.push(name)
    headers.push(`${name} ${type} ${mode.toString(8)} ${uid}:${gid} ${mtime.getTime()}`)
    const chunks: Buffer[] = []
    for await (const chunk of entry) chunks.push(chunk as Buffer)
    if (name.endsWith('.json') || name === 'oci-layout') json.set(name, JSON.parse(Buffer.concat(chunks).toString('utf8')))
  }
  return { names, headers, json }
}

function collect(): { sink: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = []
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { chunks.push(chunk); cb() } })
  return { sink, bytes: () => Buffer.concat(chunks) }
}

const skopeo = (...args: string[]): Promise<{ stdout: Buffer }> => runTool('skopeo', ['--insecure-policy', ...args], { timeoutMs: 60_000, env: { HOME: dir } })

describe('importImages', () => {
  it('imports an OCI layout tar: records, gc labels, unpacked snapshots, and ctr runs it', async () => {
    const imported = await importImages(client, Readable.from([fixtureTar]))
    expect(imported.map((i) => [i.name, i.target.digest])).toEqual([
      [BUSY, busybox.manifest.digest],
      [MULTI, multi.index.digest],
      [LAYERS, layers.manifest.digest],
    ])
    for (const name of [BUSY, MULTI, LAYERS]) expect(await (await client.images.get(name)).isUnpacked()).toBe(true)

    // containerd's GC labels: the index keeps only the host's manifest, the manifest its blobs.
    const hostIndex = multi.images.findIndex((i) => i.platform.architecture === hostArchitecture() && i.platform.variant === undefined)
    const indexLabels = (await client.content.info(multi.index.digest)).labels
    expect(Object.entries(indexLabels).filter(([k]) => k.startsWith('containerd.io/gc.ref.content.m.'))).toEqual([[`containerd.io/gc.ref.content.m.${hostIndex}`, multi.images[hostIndex]?.manifest.digest]])
    const manifestLabels = (await client.content.info(busybox.manifest.digest)).labels
    expect(manifestLabels['containerd.io/gc.ref.content.config']).toBe(busybox.config.digest)
    expect(manifestLabels['containerd.io/gc.ref.content.l.0']).toBe(busybox.layers[0]?.descriptor.digest)
    expect(await storeLeftovers(client)).toMatchObject({ leases: 0, ingests: 0 })

    const out = await ctr(client.namespace, 'run', '--rm', BUSY, `arch-run-${Date.now()}`, 'sh', '-c', 'echo imported ok')
    expect(out).toContain('imported ok')
    const files = await ctr(client.namespace, 'run', '--rm', LAYERS, `arch-layers-${Date.now()}`, 'sh', '-c', `wc -c < ${dataLayerPath(3)}`)
    expect(files.trim()).toBe(String(256 * 1024))
  })

  it('imports a gzipped archive from a file, again without harm', async () => {
    const file = join(dir, 'busybox.tar.gz')
    await writeFile(file, gzipSync(await ociLayoutTar({ ...busybox, name: BUSY })))
    const imported = await importImages(client, file)
    expect(imported).toEqual([{ name: BUSY, target: expect.objectContaining({ digest: busybox.manifest.digest }) }])
    expect((await client.images.list()).filter((i) => i.name === BUSY)).toHaveLength(1)
  })

  it('names entries with only a tag or nothing through namePrefix, and skips them without it', async () => {
    const c = fresh('archive-prefix')
    const untagged = await ociLayoutTar([busybox])
    expect(await importImages(c, Readable.from([untagged]))).toEqual([])
    expect(await storeLeftovers(c)).toEqual(NOTHING_LEFT)
    const imported = await importImages(c, Readable.from([untagged]), { namePrefix: 'example.com/app', unpack: false })
    expect(imported.map((i) => i.name)).toEqual([`example.com/app@${busybox.manifest.digest}`])
  })

  it('imports skopeo-written docker-archive and oci-archive tars like ctr does', async () => {
    const layout = join(dir, 'skopeo-src')
    await writeOciLayout(layout, { ...busybox, name: BUSY })
    const dockerArchive = join(dir, 'skopeo-docker.tar')
    const ociArchive = join(dir, 'skopeo-oci.tar')
    await skopeo('copy', `oci:${layout}:arch-bb`, `docker-archive:${dockerArchive}:busybox:skopeo-da`)
    await skopeo('copy', `oci:${layout}:arch-bb`, `oci-archive:${ociArchive}:docker.io/library/busybox:skopeo-oa`)

    const c = fresh('archive-skopeo')
    const fromDocker = await importImages(c, dockerArchive)
    expect(fromDocker.map((i) => i.name)).toEqual(['docker.io/library/busybox:skopeo-da'])
    expect(fromDocker[0]?.target.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json')
    const fromOci = await importImages(c, ociArchive)
    expect(fromOci.map((i) => i.name)).toEqual(['docker.io/library/busybox:skopeo-oa'])
    for (const name of ['docker.io/library/busybox:skopeo-da', 'docker.io/library/busybox:skopeo-oa']) {
      const image = await c.images.get(name)
      expect(await image.isUnpacked()).toBe(true)
      expect((await image.config()).rootfs.diff_ids).toEqual([busybox.layers[0]?.diffID])
    }
    expect(await ctr(c.namespace, 'run', '--rm', 'docker.io/library/busybox:skopeo-da', `arch-da-${Date.now()}`, 'echo', 'from docker-archive')).toContain('from docker-archive')

    // ctr synthesizes the same Docker manifest for the docker-archive, byte for byte.
    const viaCtr = fresh('archive-skopeo-ctr')
    await ctr(viaCtr.namespace, 'images', 'import', '--no-unpack', dockerArchive)
    expect((await viaCtr.images.get('docker.io/library/busybox:skopeo-da')).digest).toBe(fromDocker[0]?.target.digest)
  })
})

describe('importImages of docker save archives', () => {
  it('follows layer links and reads manifest.json wherever it comes in the tar', async () => {
    // The classic layout: `<config hex>.json`, `<id>/layer.tar` (a plain tar), a repeated layer as a
    // link to its first copy; manifest.json first here, to show order does not matter.
    const layer = busybox.layers[0]
    if (layer === undefined) throw new Error('fixture has no layer')
    const tar = gunzipSync(layer.blob)
    const config = makeConfig({ platform: linuxPlatform(hostArchitecture()), diffIDs: [layer.diffID, layer.diffID] })
    const configName = `${digestHex(config.descriptor.digest)}.json`
    const archive = await rawTar([
      { name: 'manifest.json', content: JSON.stringify([{ Config: configName, RepoTags: ['busybox:legacy', 'example.com/team/bb:v1'], Layers: ['aaa/layer.tar', 'bbb/layer.tar'] }]) },
      { name: 'aaa/', type: 'directory' },
      { name: 'aaa/layer.tar', content: tar },
      { name: 'aaa/VERSION', content: '1.0' },
      { name: 'bbb/', type: 'directory' },
      { name: 'bbb/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' },
      { name: configName, content: config.bytes },
      { name: 'repositories', content: '{}' },
    ])
    const file = join(dir, 'legacy.tar')
    await writeFile(file, archive)
    const c = fresh('archive-legacy')
    const imported = await importImages(c, file)
    expect(imported.map((i) => i.name)).toEqual(['docker.io/library/busybox:legacy', 'example.com/team/bb:v1'])
    const image = await c.images.get('busybox:legacy')
    const { manifest } = await image.manifest()
    expect(manifest.layers.map((l) => [l.mediaType, l.digest])).toEqual([
      ['application/vnd.docker.image.rootfs.diff.tar', layer.diffID],
      ['application/vnd.docker.image.rootfs.diff.tar', layer.diffID],
    ])
    expect(await image.isUnpacked()).toBe(true)
    // The same manifest digest as containerd's own importer.
    const viaCtr = fresh('archive-legacy-ctr')
    await ctr(viaCtr.namespace, 'images', 'import', '--no-unpack', file)
    expect((await viaCtr.images.get('busybox:legacy')).digest).toBe(image.digest)

    // And it exports and re-imports as it is, plain-tar layers and Docker media types included.
    const out = collect()
    await exportImages(c, ['busybox:legacy', 'example.com/team/bb:v1'], out.sink)
    const again = fresh('archive-legacy-again')
    expect((await importImages(again, Readable.from([out.bytes()]))).map((i) => [i.name, i.target.digest])).toEqual([
      ['docker.io/library/busybox:legacy', image.digest],
      ['example.com/team/bb:v1', image.digest],
    ])
    expect(await (await again.images.get('example.com/team/bb:v1')).isUnpacked()).toBe(true)
  })
})

describe('exportImages', () => {
  let exported: string
  let bytes: Buffer

  beforeAll(async () => {
    exported = join(dir, 'export.tar')
    await exportImages(client, [BUSY, MULTI, LAYERS], exported)
    bytes = await readFile(exported)
  })

  it('writes an OCI layout with containerd annotations and a docker manifest.json', async () => {
    const { names, headers, json } = await listArchive(bytes)
    // containerd's exporter: directories first, then everything sorted by name, fixed modes and times.
    expect(headers.slice(0, 3)).toEqual(['blobs/ directory 755 0:0 0', 'blobs/sha256/ directory 755 0:0 0', expect.stringMatching(/^blobs\/sha256\/[0-9a-f]{64} file 444 0:0 0$/)])
    expect(names.slice(-3)).toEqual(['index.json', 'manifest.json', 'oci-layout'])
    expect([...names]).toEqual([...names].sort())
    expect(new Set(names).size).toBe(names.length)
    // Every blob of the host platform, once; the other platforms' manifests are not in the store.
    const host = multi.images.find((i) => i.platform.architecture === hostArchitecture() && i.platform.variant === undefined) as OciImage
    const expected = new Set([...busybox.blobs.keys(), ...layers.blobs.keys(), ...host.blobs.keys(), multi.index.digest].map((d) => `blobs/sha256/${digestHex(d)}`))
    expect(new Set(names.filter((n) => /^blobs\/sha256\/./.test(n)))).toEqual(expected)

    const index = json.get('index.json') as { manifests: { digest: string; annotations: Record<string, string> }[] }
    expect(index.manifests.map((m) => [m.digest, m.annotations['io.containerd.image.name'], m.annotations['org.opencontainers.image.ref.name']])).toEqual([
      [busybox.manifest.digest, BUSY, 'arch-bb'],
      [multi.index.digest, MULTI, 'arch-mp'],
      [layers.manifest.digest, LAYERS, 'arch-ml'],
    ])
    const manifestJson = json.get('manifest.json') as { Config: string; RepoTags: string[]; Layers: string[] }[]
    // The index's host manifest is the busybox fixture's own manifest: one manifest.json entry, two tags.
    expect(manifestJson.map((m) => m.RepoTags)).toEqual([['busybox:arch-bb', 'multi:arch-mp'], ['layers:arch-ml']])
    expect(manifestJson[1]).toEqual({ Config: `blobs/sha256/${digestHex(layers.config.digest)}`, RepoTags: ['layers:arch-ml'], Layers: layers.layers.map((l) => `blobs/sha256/${digestHex(l.descriptor.digest)}`) })
  })

  it('is read by skopeo as oci-archive and as docker-archive', async () => {
    const raw = await skopeo('inspect', '--raw', `oci-archive:${exported}:arch-bb`)
    expect(sha256Digest(raw.stdout)).toBe(busybox.manifest.digest)
    const inspected = JSON.parse((await skopeo('inspect', `oci-archive:${exported}:arch-mp`)).stdout.toString()) as { Architecture: string }
    expect(inspected.Architecture).toBe(hostArchitecture())
    const out = join(dir, 'from-docker-archive')
    await skopeo('copy', `docker-archive:${exported}:layers:arch-ml`, `oci:${out}:copied`)
    const copied = JSON.parse((await skopeo('inspect', '--raw', `oci:${out}:copied`)).stdout.toString()) as { config: { digest: string }; layers: unknown[] }
    expect(copied.config.digest).toBe(layers.config.digest)
    expect(copied.layers).toHaveLength(layers.layers.length)
  })

  it('is imported by ctr into a fresh namespace, and ctr runs it', async () => {
    const c = fresh('archive-ctr-import')
    await ctr(c.namespace, 'images', 'import', exported)
    const listing = await ctr(c.namespace, 'images', 'ls', '-q')
    expect(listing.split('\n')).toEqual(expect.arrayContaining([BUSY, MULTI, LAYERS]))
    expect(await ctr(c.namespace, 'run', '--rm', BUSY, `arch-ctr-${Date.now()}`, 'echo', 'ctr imported')).toContain('ctr imported')
    expect(await ctr(c.namespace, 'run', '--rm', MULTI, `arch-ctr-mp-${Date.now()}`, 'echo', 'multi ok')).toContain('multi ok')
  })

  it('round-trips through importImages with the same digests', async () => {
    const c = fresh('archive-roundtrip')
    const imported = await importImages(c, exported)
    expect(imported.map((i) => [i.name, i.target.digest])).toEqual([
      [BUSY, busybox.manifest.digest],
      [MULTI, multi.index.digest],
      [LAYERS, layers.manifest.digest],
    ])
    const image = await c.images.get(LAYERS)
    expect(await image.isUnpacked()).toBe(true)
    expect((await image.manifest()).manifest.layers.map((l) => l.digest)).toEqual(layers.layers.map((l) => l.descriptor.digest))
  })

  it('writes the same bytes to a stream, in either format', async () => {
    const a = collect()
    const b = collect()
    await exportImages(client, ['busybox:arch-bb'], a.sink)
    await exportImages(client, [BUSY], b.sink, { format: 'docker' })
    expect(a.bytes().equals(b.bytes())).toBe(true)
    expect(a.bytes().length).toBeGreaterThan(busybox.layers[0]?.descriptor.size ?? 0)
  })

  it('fails before writing when content or platforms are missing, leaving no file', async () => {
    const target = join(dir, 'never.tar')
    await expect(exportImages(client, ['docker.io/library/nope:1'], target)).rejects.toBeInstanceOf(NotFoundError)
    await expect(exportImages(client, [MULTI], target, { allPlatforms: true })).rejects.toBeInstanceOf(NotFoundError)
    await expect(exportImages(client, [MULTI], target, { platforms: ['linux/s390x'] })).rejects.toThrow(/no manifest for linux\/s390x/)
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' })
    expect((await readdir(dir)).filter((f) => f.includes('.partial'))).toEqual([])
  })
})

describe('a refused archive leaves nothing behind', () => {
  const hostPlatform = linuxPlatform(hostArchitecture())

  // Each case builds a hostile archive from a valid busybox layout; blobs come first, so the import has
  // already stored some content when it meets the problem.
  const cases: [string, () => Promise<Buffer>, string][] = [
    ['a ".." path', async () => rawTar([...layoutEntries({ ...busybox, name: BUSY }), { name: 'blobs/../../evil', content: 'x' }]), 'UnsafePath'],
    ['an absolute path', async () => rawTar([...layoutEntries({ ...busybox, name: BUSY }), { name: '/etc/evil', content: 'x' }]), 'UnsafePath'],
    ['a symbolic link as a blob', async () => {
      const entries = layoutEntries({ ...busybox, name: BUSY })
      const config = `blobs/sha256/${digestHex(busybox.config.digest)}`
      return rawTar([...entries.filter((e) => e.name !== config), { name: config, type: 'symlink', linkname: '/etc/passwd' }])
    }, 'UnsupportedEntry'],
    ['a symbolic link out of the archive', async () => rawTar([...layoutEntries({ ...busybox, name: BUSY }), { name: 'abc/layer.tar', type: 'symlink', linkname: '../../etc/passwd' }]), 'UnsafePath'],
    ['a hard link', async () => rawTar([...layoutEntries({ ...busybox, name: BUSY }), { name: 'hard', type: 'link', linkname: 'index.json' }]), 'UnsupportedEntry'],
    ['a duplicate entry', async () => {
      const entries = layoutEntries({ ...busybox, name: BUSY })
      return rawTar([...entries, entries[0] as RawEntry])
    }, 'DuplicateEntry'],
    ['a truncated tar', async () => {
      const tar = await ociLayoutTar({ ...layers, name: LAYERS })
      return tar.subarray(0, Math.floor(tar.length * 0.7))
    }, 'Truncated'],
    ['a blob that does not match its digest', async () => {
      const entries = layoutEntries({ ...busybox, name: BUSY })
      const digest = busybox.config.digest
      const layer = `blobs/sha256/${digestHex(digest)}`
      const tampered = Buffer.from(busybox.blobs.get(digest) as Buffer)
      tampered.writeUInt8(tampered.readUInt8(10) ^ 0xff, 10)
      return rawTar([...entries.filter((e) => e.name !== layer), { name: layer, content: tampered }])
    }, 'DigestMismatch'],
    ['an oversize index.json', async () => {
      const entries = layoutEntries({ ...busybox, name: BUSY })
      const index = JSON.stringify({ schemaVersion: 2, manifests: [], pad: ' '.repeat(5 * 1024 * 1024) })
      return rawTar([...entries.filter((e) => e.name !== 'index.json'), { name: 'index.json', content: index }])
    }, 'TooLarge'],
    ['an oversize manifest', async () => {
      const big = canonicalJson({ schemaVersion: 2, config: busybox.config, layers: [], pad: 'x'.repeat(5 * 1024 * 1024) })
      const index = makeIndex({ manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Digest(big), size: big.length, annotations: { 'io.containerd.image.name': BUSY } }] })
      return rawTar([{ name: `blobs/sha256/${digestHex(sha256Digest(big))}`, content: big }, { name: 'index.json', content: index.bytes }, { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' }])
    }, 'TooLarge'],
    ['a missing blob', async () => {
      const config = `blobs/sha256/${digestHex(busybox.config.digest)}`
      return rawTar(layoutEntries({ ...busybox, name: BUSY }).filter((e) => e.name !== config))
    }, 'MissingBlob'],
    ['an unknown format', async () => rawTar([{ name: 'hello.txt', content: 'hi' }]), 'UnrecognizedFormat'],
    ['bytes that are not a tar', async () => Buffer.alloc(4096, 0x41), 'Malformed'],
  ]

  it.each(cases)('%s', async (_what, build, reason) => {
    const c = fresh('archive-bad')
    const err = await importImages(c, Readable.from([await build()])).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ArchiveError)
    expect((err as ArchiveError).reason).toBe(reason)
    expect(await storeLeftovers(c)).toEqual(NOTHING_LEFT)
  })

  it('a tampered copy of a blob the store already has, leaving the image that has it intact', async () => {
    const entries = layoutEntries({ ...busybox, name: 'docker.io/library/busybox:tampered' })
    const digest = busybox.layers[0]?.descriptor.digest as `sha256:${string}`
    const layer = `blobs/sha256/${digestHex(digest)}`
    const tampered = Buffer.from(busybox.blobs.get(digest) as Buffer)
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 50) ^ 0xff, tampered.length - 50)
    const tar = await rawTar([...entries.filter((e) => e.name !== layer), { name: layer, content: tampered }])
    const err = await importImages(client, Readable.from([tar])).then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ reason: 'DigestMismatch', path: layer })
    await expect(client.images.get('docker.io/library/busybox:tampered')).rejects.toBeInstanceOf(NotFoundError)
    expect(await (await client.images.get(BUSY)).isUnpacked()).toBe(true)
    expect(sha256Digest(await client.content.readAll(digest))).toBe(digest)
    expect(await storeLeftovers(client)).toMatchObject({ leases: 0, ingests: 0 })
  })

  it('a layer that does not unpack to its diff ID (after another did)', async () => {
    // Two layers: the first unpacks, the second's diff ID is wrong, so a committed snapshot exists when
    // the import fails.
    const [good, bad] = layers.layers
    if (good === undefined || bad === undefined) throw new Error('fixture has too few layers')
    const config = makeConfig({ platform: hostPlatform, diffIDs: [good.diffID, sha256Digest(Buffer.from('wrong'))] })
    const manifest = makeManifest({ config: config.descriptor, layers: [good.descriptor, bad.descriptor] })
    const index = makeIndex({ manifests: [{ ...manifest.descriptor, annotations: { 'io.containerd.image.name': BUSY } }] })
    const tar = await rawTar([
      ...[[good.descriptor.digest, good.blob], [bad.descriptor.digest, bad.blob], [config.descriptor.digest, config.bytes], [manifest.descriptor.digest, manifest.bytes]].map(([d, b]) => ({ name: `blobs/sha256/${digestHex(d as `sha256:${string}`)}`, content: b as Buffer })),
      { name: 'index.json', content: index.bytes },
      { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
    ])
    const c = fresh('archive-bad-unpack')
    await expect(importImages(c, Readable.from([tar]))).rejects.toBeInstanceOf(DataLossError)
    expect(await storeLeftovers(c)).toEqual(NOTHING_LEFT)
  })

  it('an abort while the import sets up (before it reads the source) rejects, and crashes nothing', async () => {
    const tar = await ociLayoutTar({ ...layers, name: LAYERS })
    const controller = new AbortController()
    const c = fresh('archive-abort-setup')
    // Synchronously after the call: it is creating its lease, nothing reads the archive yet.
    const importing = importImages(c, Readable.from([tar]), { signal: controller.signal })
    controller.abort(new Error('early'))
    await expect(importing).rejects.toBeInstanceOf(CanceledError)
    expect(await storeLeftovers(c)).toEqual(NOTHING_LEFT)
  })

  it('an abort in the middle of the stream', async () => {
    const tar = await ociLayoutTar({ ...layers, name: LAYERS })
    const controller = new AbortController()
    async function* slow(): AsyncGenerator<Buffer> {
      yield tar.subarray(0, tar.length / 2)
      controller.abort()
      await new Promise((resolve) => setTimeout(resolve, 50))
      yield tar.subarray(tar.length / 2)
    }
    const c = fresh('archive-abort')
    await expect(importImages(c, Readable.from(slow()), { signal: controller.signal })).rejects.toBeInstanceOf(CanceledError)
    expect(await storeLeftovers(c)).toEqual(NOTHING_LEFT)
  })
})
