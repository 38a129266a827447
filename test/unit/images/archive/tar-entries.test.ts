import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { pack, type Header } from 'tar-stream'
import { describe, expect, it } from 'vitest'
import { ArchiveError } from '../../../../src/images/archive/archive-error.js'
import { gunzipIfNeeded } from '../../../../src/images/archive/gunzip-if-needed.js'
import { layoutRecords } from '../../../../src/images/archive/layout-tar-writer.js'
import { tarEntries } from '../../../../src/images/archive/tar-entries.js'
import { MediaTypes } from '../../../../src/image-spec/media-types.js'

type RawEntry = Partial<Header> & { name: string; content?: Buffer | string }

/** A tar with exactly these headers: tar-stream writes names as given, `..` and all. */
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

/** Reads every entry (bodies in full) and reports what was seen, or the error's reason. */
async function scan(bytes: Buffer, chunkSize = 777): Promise<{ seen: string[]; reason?: string }> {
  const chunks: Buffer[] = []
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize))
  const seen: string[] = []
  try {
    for await (const entry of tarEntries(gunzipIfNeeded(Readable.from(chunks)))) {
      if (entry.kind === 'symlink') {
        seen.push(`${entry.path} -> ${entry.target}`)
        continue
      }
      let n = 0
      for await (const chunk of entry.body) n += chunk.byteLength
      seen.push(`${entry.path} (${n})`)
    }
    return { seen }
  } catch (err) {
    return { seen, reason: err instanceof ArchiveError ? err.reason : `other: ${String(err)}` }
  }
}

describe('reading archive tars safely', () => {
  it('yields files and links with normalized paths, skipping directories', async () => {
    const tar = await rawTar([
      { name: './blobs/', type: 'directory' },
      { name: './blobs/sha256/x', content: 'abc' },
      { name: 'abc/layer.tar', type: 'symlink', linkname: '../x.tar' },
      { name: 'index.json', content: '{}' },
    ])
    expect(await scan(tar)).toEqual({ seen: ['blobs/sha256/x (3)', 'abc/layer.tar -> ../x.tar', 'index.json (2)'] })
  })

  it('reads gzipped archives the same, even split into one-byte chunks at the start', async () => {
    const tar = await rawTar([{ name: 'a', content: 'hello' }])
    expect(await scan(gzipSync(tar), 1)).toEqual({ seen: ['a (5)'] })
  })

  it('skips what a consumer leaves unread', async () => {
    const tar = await rawTar([{ name: 'a', content: Buffer.alloc(100_000, 1) }, { name: 'b', content: 'x' }])
    const seen: string[] = []
    for await (const entry of tarEntries(Readable.from([tar]))) {
      seen.push(entry.path)
      if (entry.kind === 'file') {
        for await (const _ of entry.body) break
      }
    }
    expect(seen).toEqual(['a', 'b'])
  })

  it.each([
    ['a parent directory component', [{ name: '../evil', content: 'x' }], 'UnsafePath'],
    ['an absolute path', [{ name: '/etc/passwd', content: 'x' }], 'UnsafePath'],
    ['a hard link', [{ name: 'a', content: 'x' }, { name: 'b', type: 'link', linkname: 'a' }], 'UnsupportedEntry'],
    ['a device', [{ name: 'dev', type: 'character-device', devmajor: 1, devminor: 3 }], 'UnsupportedEntry'],
    ['a FIFO', [{ name: 'fifo', type: 'fifo' }], 'UnsupportedEntry'],
    ['a duplicate file', [{ name: 'a', content: 'x' }, { name: './a', content: 'y' }], 'DuplicateEntry'],
    ['a file shadowing a directory', [{ name: 'a/', type: 'directory' }, { name: 'a', content: 'y' }], 'DuplicateEntry'],
  ] as const)('refuses %s', async (_what, entries, reason) => {
    expect((await scan(await rawTar(entries as readonly RawEntry[]))).reason).toBe(reason)
  })

  it('refuses a tar cut inside an entry, plain or gzipped', async () => {
    const tar = await rawTar([{ name: 'a', content: Buffer.alloc(10_000, 7) }, { name: 'b', content: 'x' }])
    expect((await scan(tar.subarray(0, 5_000))).reason).toBe('Truncated')
    expect((await scan(tar.subarray(0, 512 + 10_240 + 100))).reason).toBe('Truncated')
    const gz = gzipSync(tar)
    expect((await scan(gz.subarray(0, gz.length - 20))).reason).toBe('Truncated')
  })

  it('refuses bytes that are not a tar', async () => {
    expect((await scan(Buffer.alloc(1024, 0x41))).reason).toBe('Malformed')
  })

  it('reads an empty stream as an empty archive', async () => {
    expect(await scan(Buffer.alloc(0))).toEqual({ seen: [] })
  })
})

describe('export tar layout', () => {
  it('sorts entries like containerd and writes manifest.json only when there is an image for it', () => {
    const blob = (hex: string): { mediaType: string; digest: string; size: number } => ({ mediaType: MediaTypes.ociLayerGzip, digest: `sha256:${hex.repeat(64)}`, size: 1 })
    const plan = { blobs: [blob('b'), blob('a')], index: [], docker: [], images: [], notDockerLoadable: [] }
    expect(layoutRecords(plan).map((r) => r.name)).toEqual(['blobs/', 'blobs/sha256/', `blobs/sha256/${'a'.repeat(64)}`, `blobs/sha256/${'b'.repeat(64)}`, 'index.json', 'oci-layout'])
    const withDocker = { ...plan, docker: [{ Config: 'c', RepoTags: [], Layers: [] }] }
    expect(layoutRecords(withDocker).map((r) => r.name)).toContain('manifest.json')
  })
})
