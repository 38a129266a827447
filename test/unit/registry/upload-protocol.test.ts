import { describe, expect, it } from 'vitest'
import { appendSource, isNonDistributable, mountSource } from '../../../src/images/push.js'
import {
  contentRange,
  effectiveChunkSize,
  planChunks,
  rechunk,
  resolveUploadLocation,
  uploadedBytes,
  withDigestParam,
} from '../../../src/registry/upload-protocol.js'

const DIGEST = `sha256:${'a'.repeat(64)}`

describe('resolveUploadLocation', () => {
  const request = new URL('https://registry.example:5000/v2/team/app/blobs/uploads/')

  it.each([
    ['an absolute URL', 'https://registry.example:5000/v2/team/app/blobs/uploads/u1?_state=abc', 'https://registry.example:5000/v2/team/app/blobs/uploads/u1?_state=abc'],
    ['an absolute path', '/v2/team/app/blobs/uploads/u1?_state=x%2By', 'https://registry.example:5000/v2/team/app/blobs/uploads/u1?_state=x%2By'],
    ['a relative path', 'u2', 'https://registry.example:5000/v2/team/app/blobs/uploads/u2'],
    ['another host', 'https://storage.example/upload/u3?sig=1', 'https://storage.example/upload/u3?sig=1'],
    ['surrounding blanks', '  /v2/x/blobs/uploads/u4  ', 'https://registry.example:5000/v2/x/blobs/uploads/u4'],
  ])('resolves %s', (_what, location, expected) => {
    expect(resolveUploadLocation(request, location).href).toBe(expected)
  })

  it('takes the first of repeated headers', () => {
    expect(resolveUploadLocation(request, ['/a', '/b']).pathname).toBe('/a')
  })

  it('refuses a missing Location', () => {
    expect(() => resolveUploadLocation(request, undefined)).toThrow(/no Location header/)
    expect(() => resolveUploadLocation(request, ' ')).toThrow(/no Location header/)
  })
})

describe('withDigestParam', () => {
  it('adds ?digest= to a URL without a query', () => {
    expect(withDigestParam(new URL('http://r/v2/a/blobs/uploads/u'), DIGEST).href).toBe(`http://r/v2/a/blobs/uploads/u?digest=sha256%3A${'a'.repeat(64)}`)
  })

  it('appends &digest= and keeps the existing query byte for byte', () => {
    const state = '_state=Ab%2Bc%3D%3D&x=a+b'
    const url = withDigestParam(new URL(`http://r/v2/a/blobs/uploads/u?${state}`), DIGEST)
    expect(url.search).toBe(`?${state}&digest=sha256%3A${'a'.repeat(64)}`)
  })

  it('does not change the URL it is given', () => {
    const original = new URL('http://r/u?x=1')
    withDigestParam(original, DIGEST)
    expect(original.href).toBe('http://r/u?x=1')
  })
})

describe('chunk math', () => {
  it('plans chunks that cover the blob exactly, inclusive ends', () => {
    expect(planChunks(10, 4)).toEqual([{ start: 0, end: 3 }, { start: 4, end: 7 }, { start: 8, end: 9 }])
    expect(planChunks(8, 4)).toEqual([{ start: 0, end: 3 }, { start: 4, end: 7 }])
    expect(planChunks(3, 4)).toEqual([{ start: 0, end: 2 }])
    expect(planChunks(0, 4)).toEqual([])
  })

  it('formats Content-Range as start-end without a unit', () => {
    expect(contentRange(0, 1)).toBe('0-0')
    expect(contentRange(0, 5_242_880)).toBe('0-5242879')
    expect(contentRange(5_242_880, 100)).toBe('5242880-5242979')
    expect(() => contentRange(0, 0)).toThrow(RangeError)
    expect(() => contentRange(-1, 1)).toThrow(RangeError)
  })

  it('raises the chunk size to the registry minimum', () => {
    expect(effectiveChunkSize(1024)).toBe(1024)
    expect(effectiveChunkSize(1024, 4096)).toBe(4096)
    expect(effectiveChunkSize(8192, 4096)).toBe(8192)
    expect(() => effectiveChunkSize(0)).toThrow(RangeError)
    expect(() => effectiveChunkSize(1.5)).toThrow(RangeError)
  })

  it('reads the Range header of an upload session', () => {
    expect(uploadedBytes('0-1023')).toBe(1024)
    expect(uploadedBytes('bytes=0-9')).toBe(10)
    expect(uploadedBytes(undefined)).toBeUndefined()
    expect(uploadedBytes('nonsense')).toBeUndefined()
  })

  it('regroups a stream into exact chunks whatever the piece sizes', async () => {
    const data = Buffer.from(Array.from({ length: 23 }, (_, i) => i))
    async function* pieces(sizes: number[]): AsyncGenerator<Buffer> {
      let at = 0
      for (const n of sizes) {
        yield data.subarray(at, at + n)
        at += n
      }
    }
    for (const sizes of [[23], [1, 1, 1, 20], [5, 5, 5, 5, 3], [7, 16], [0, 23, 0]]) {
      const chunks: Buffer[] = []
      for await (const c of rechunk(pieces(sizes), 5)) chunks.push(c)
      expect(chunks.map((c) => c.byteLength)).toEqual([5, 5, 5, 5, 3])
      expect(Buffer.concat(chunks)).toEqual(data)
    }
    const none: Buffer[] = []
    for await (const c of rechunk(pieces([]), 5)) none.push(c)
    expect(none).toEqual([])
  })
})

describe('mount decision', () => {
  const key = 'containerd.io/distribution.source.registry.example:5000'

  it('mounts from the first source repository that is not the target', () => {
    expect(mountSource({ [key]: 'library/busybox' }, 'registry.example:5000', 'team/app')).toBe('library/busybox')
    expect(mountSource({ [key]: 'team/app,library/busybox' }, 'registry.example:5000', 'team/app')).toBe('library/busybox')
  })

  it('does not mount from the target itself, another registry, or without a label', () => {
    expect(mountSource({ [key]: 'team/app' }, 'registry.example:5000', 'team/app')).toBeUndefined()
    expect(mountSource({ 'containerd.io/distribution.source.other.example': 'library/busybox' }, 'registry.example:5000', 'team/app')).toBeUndefined()
    expect(mountSource({}, 'docker.io', 'library/busybox')).toBeUndefined()
    expect(mountSource({ [key]: '' }, 'registry.example:5000', 'team/app')).toBeUndefined()
  })

  it('reads containerd’s port-less label key too, the exact key first', () => {
    const bare = 'containerd.io/distribution.source.registry.example'
    expect(mountSource({ [bare]: 'from/ctr' }, 'registry.example:5000', 'team/app')).toBe('from/ctr')
    expect(mountSource({ [bare]: 'from/ctr', [key]: 'from/sdk' }, 'registry.example:5000', 'team/app')).toBe('from/sdk')
    expect(mountSource({ 'containerd.io/distribution.source.::1': 'v6/repo' }, '[::1]:5000', 'team/app')).toBe('v6/repo')
  })

  it('records the target as a new source once, within the label size limit', () => {
    expect(appendSource(undefined, key, 'team/app')).toBe('team/app')
    expect(appendSource('library/busybox', key, 'team/app')).toBe('library/busybox,team/app')
    expect(appendSource('library/busybox,team/app', key, 'team/app')).toBeUndefined()
    expect(appendSource('x'.repeat(4090), key, 'team/app')).toBeUndefined()
  })

  it('skips non-distributable layers', () => {
    expect(isNonDistributable('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip')).toBe(true)
    expect(isNonDistributable('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip')).toBe(true)
    expect(isNonDistributable('application/vnd.oci.image.layer.v1.tar+gzip')).toBe(false)
  })
})
