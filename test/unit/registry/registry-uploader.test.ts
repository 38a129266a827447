import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Authorizer } from '../../../src/registry/authorizer.js'
import type { RegistryEndpoint } from '../../../src/registry/registry-client.js'
import type { OciDescriptor } from '../../../src/image-spec/descriptor.js'
import { RegistryError } from '../../../src/registry/registry-error.js'
import { RegistryUploader } from '../../../src/registry/registry-uploader.js'

/**
 * A small in-memory registry speaking the upload half of the distribution API, with knobs to make it
 * misbehave: Basic auth, 5xx answers, relative Locations, a chunk minimum. Enough to test the uploader's
 * protocol handling without a real registry (the integration tests use distribution itself).
 */
interface Fake {
  blobs: Map<string, Buffer>
  manifests: Map<string, { body: Buffer; type: string }>
  log: { method: string; path: string; range?: string; contentRange?: string; auth?: string }[]
  /** Answer this many of the next requests (any) with 503. */
  failNext: number
  /** Answer the next PUT with a body with 500, after reading it. */
  failUploadPut: number
  password?: string
  relativeLocation: boolean
  chunkMin?: number
  /** Blobs other repositories hold, by repository. */
  others: Map<string, Set<string>>
  lieAboutDigest: boolean
}

const uploads = new Map<string, { repo: string; data: Buffer[] }>()
let fake: Fake
let server: Server
let base: string

function sha(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks)
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', base)
  const method = req.method ?? ''
  fake.log.push({
    method,
    path: url.pathname + url.search,
    ...(req.headers['content-range'] !== undefined ? { contentRange: req.headers['content-range'] } : {}),
    ...(req.headers.authorization !== undefined ? { auth: req.headers.authorization } : {}),
  })
  const data = await body(req)
  if (fake.password !== undefined && req.headers.authorization !== `Basic ${Buffer.from(`user:${fake.password}`).toString('base64')}`) {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"', 'content-type': 'application/json' })
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }))
    return
  }
  if (fake.failNext > 0) {
    fake.failNext--
    res.writeHead(503, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'try later' }] }))
    return
  }
  const m = /^\/v2\/(.+?)\/(blobs\/uploads\/?(.*)|blobs\/(.+)|manifests\/(.+))$/.exec(url.pathname)
  if (m === null) { res.writeHead(404).end(); return }
  const repo = m[1] ?? ''
  const location = (id: string): string => (fake.relativeLocation ? `/v2/${repo}/blobs/uploads/${id}?_state=s%2B${id}` : `${base}/v2/${repo}/blobs/uploads/${id}?_state=s%2B${id}`)
  if (m[2]?.startsWith('blobs/uploads') === true) {
    const id = m[3] ?? ''
    if (method === 'POST') {
      const mount = url.searchParams.get('mount')
      const from = url.searchParams.get('from')
      if (mount !== null && from !== null && fake.others.get(from)?.has(mount) === true) {
        fake.blobs.set(mount, Buffer.alloc(0))
        res.writeHead(201, { 'docker-content-digest': mount, location: `/v2/${repo}/blobs/${mount}` }).end()
        return
      }
      const uuid = randomBytes(6).toString('hex')
      uploads.set(uuid, { repo, data: [] })
      res.writeHead(202, { location: location(uuid), range: '0-0', ...(fake.chunkMin !== undefined ? { 'oci-chunk-min-length': String(fake.chunkMin) } : {}) }).end()
      return
    }
    const upload = uploads.get(id)
    if (upload === undefined || url.searchParams.get('_state') !== `s+${id}`) { res.writeHead(404).end(); return }
    if (method === 'PATCH') {
      const held = upload.data.reduce((n, b) => n + b.byteLength, 0)
      const [start, end] = String(req.headers['content-range']).split('-').map(Number)
      if (start !== held || end !== held + data.byteLength - 1) { res.writeHead(416).end(); return }
      upload.data.push(data)
      uploads.delete(id)
      const next = randomBytes(6).toString('hex')
      uploads.set(next, upload)
      res.writeHead(202, { location: location(next), range: `0-${held + data.byteLength - 1}` }).end()
      return
    }
    if (method === 'PUT') {
      if (data.byteLength > 0 && fake.failUploadPut > 0) {
        fake.failUploadPut--
        res.writeHead(500).end()
        return
      }
      upload.data.push(data)
      const all = Buffer.concat(upload.data)
      const digest = url.searchParams.get('digest') ?? ''
      if (sha(all) !== digest) {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ errors: [{ code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }] }))
        return
      }
      uploads.delete(id)
      fake.blobs.set(digest, all)
      res.writeHead(201, { 'docker-content-digest': fake.lieAboutDigest ? sha(Buffer.from('lie')) : digest, location: `/v2/${repo}/blobs/${digest}` }).end()
      return
    }
    if (method === 'DELETE') { uploads.delete(id); res.writeHead(204).end(); return }
  }
  if (m[4] !== undefined && method === 'HEAD') {
    const blob = fake.blobs.get(m[4])
    res.writeHead(blob === undefined ? 404 : 200, blob === undefined ? {} : { 'content-length': String(blob.byteLength), 'docker-content-digest': m[4] }).end()
    return
  }
  if (m[5] !== undefined) {
    if (method === 'PUT') {
      const digest = sha(data)
      fake.manifests.set(m[5], { body: data, type: String(req.headers['content-type']) })
      fake.manifests.set(digest, { body: data, type: String(req.headers['content-type']) })
      res.writeHead(201, { 'docker-content-digest': fake.lieAboutDigest ? sha(Buffer.from('lie')) : digest }).end()
      return
    }
    if (method === 'HEAD') { res.writeHead(fake.manifests.has(m[5]) ? 200 : 404).end(); return }
  }
  res.writeHead(405).end()
}

beforeAll(async () => {
  server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => { res.writeHead(500).end(String(err)) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})
beforeEach(() => {
  fake = { blobs: new Map(), manifests: new Map(), log: [], failNext: 0, failUploadPut: 0, relativeLocation: false, others: new Map(), lieAboutDigest: false }
})

function uploader(password?: string): RegistryUploader {
  const endpoints: RegistryEndpoint[] = [{ url: new URL(`${base}/v2`), capabilities: new Set(['pull', 'push']) }]
  const host = new URL(base).host
  return new RegistryUploader(host, 'team/app', endpoints, new Authorizer(password === undefined ? undefined : () => ({ username: 'user', password })))
}

function blob(size: number): { data: Buffer; desc: OciDescriptor } {
  const data = randomBytes(size)
  return { data, desc: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(data), size } }
}

/** A stream that hands out `data` in pieces of `piece` bytes. */
function source(data: Buffer, piece = 1000): Readable {
  const parts: Buffer[] = []
  for (let i = 0; i < data.byteLength; i += piece) parts.push(data.subarray(i, i + piece))
  return Readable.from(parts)
}

describe('RegistryUploader', () => {
  it('uploads a blob in one PUT and then finds it with HEAD', async () => {
    const up = uploader()
    const { data, desc } = blob(70_000)
    expect(await up.blobExists(desc)).toBe(false)
    const progress: number[] = []
    await up.uploadBlob(desc, source(data), { onProgress: (n) => progress.push(n) })
    expect(fake.blobs.get(desc.digest)?.equals(data)).toBe(true)
    expect(await up.blobExists(desc)).toBe(true)
    expect(progress[progress.length - 1]).toBe(70_000)
    const put = fake.log.find((l) => l.method === 'PUT')
    expect(put?.path).toMatch(/\?_state=s%2B[0-9a-f]+&digest=sha256%3A[0-9a-f]{64}$/)
  })

  it('follows relative Locations', async () => {
    fake.relativeLocation = true
    const { data, desc } = blob(10_000)
    await uploader().uploadBlob(desc, source(data), { chunkSize: 4096 })
    expect(fake.blobs.get(desc.digest)?.equals(data)).toBe(true)
  })

  it('uploads in chunks with Content-Range, following each new Location, then closes with an empty PUT', async () => {
    const { data, desc } = blob(10_000)
    await uploader().uploadBlob(desc, source(data, 777), { chunkSize: 4096 })
    expect(fake.blobs.get(desc.digest)?.equals(data)).toBe(true)
    const patches = fake.log.filter((l) => l.method === 'PATCH')
    expect(patches.map((p) => p.contentRange)).toEqual(['0-4095', '4096-8191', '8192-9999'])
    // Each request went to the session URL the previous answer named.
    expect(new Set(patches.map((p) => p.path)).size).toBe(3)
    expect(fake.log.filter((l) => l.method === 'PUT')).toHaveLength(1)
  })

  it('raises chunks to the registry’s OCI-Chunk-Min-Length', async () => {
    fake.chunkMin = 6000
    const { data, desc } = blob(10_000)
    await uploader().uploadBlob(desc, source(data), { chunkSize: 1024 })
    expect(fake.log.filter((l) => l.method === 'PATCH').map((p) => p.contentRange)).toEqual(['0-5999', '6000-9999'])
  })

  it('retries idempotent requests on 503', async () => {
    const { desc } = blob(10)
    fake.failNext = 2
    expect(await uploader().blobExists(desc)).toBe(false)
    expect(fake.log.filter((l) => l.method === 'HEAD')).toHaveLength(3)
  })

  it('starts a failed upload over when the source can be reopened, not otherwise', async () => {
    const { data, desc } = blob(20_000)
    fake.failUploadPut = 1
    await uploader().uploadBlob(desc, () => source(data))
    expect(fake.blobs.get(desc.digest)?.equals(data)).toBe(true)
    expect(fake.log.filter((l) => l.method === 'POST')).toHaveLength(2)

    const other = blob(20_000)
    fake.failUploadPut = 1
    const err = await uploader().uploadBlob(other.desc, source(other.data)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Unavailable')
  })

  it('refuses a source that does not match the descriptor, in both modes', async () => {
    const { desc } = blob(5000)
    const wrong = randomBytes(5000)
    for (const chunkSize of [undefined, 2048]) {
      const err = await uploader().uploadBlob(desc, source(wrong), { chunkSize }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(RegistryError)
      expect((err as RegistryError).code).toBe('DigestMismatch')
    }
    const short = await uploader().uploadBlob(desc, source(wrong.subarray(0, 100))).catch((e: unknown) => e)
    expect((short as RegistryError).code).toBe('DigestMismatch')
    expect(fake.blobs.has(desc.digest)).toBe(false)
  })

  it('fails with the source’s own error when it cannot be read, in both modes', async () => {
    const { desc } = blob(5000)
    for (const chunkSize of [undefined, 2048]) {
      const broken = new Readable({ read() { this.destroy(new Error('content store went away')) } })
      await expect(uploader().uploadBlob(desc, broken, { chunkSize })).rejects.toThrow('content store went away')
    }
  })

  it('stops when the signal aborts', async () => {
    const { desc } = blob(5000)
    const controller = new AbortController()
    // A source that never ends: only the abort can finish the upload.
    const endless = new Readable({ read() { /* nothing yet */ } })
    const pending = uploader().uploadBlob(desc, endless, { signal: controller.signal })
    setTimeout(() => controller.abort(new Error('user gave up')), 50)
    await expect(pending).rejects.toThrow('user gave up')
  })

  it('checks the digest the registry reports', async () => {
    fake.lieAboutDigest = true
    const { data, desc } = blob(100)
    await expect(uploader().uploadBlob(desc, source(data))).rejects.toMatchObject({ code: 'DigestMismatch' })
    await expect(uploader().putManifest('v1', Buffer.from('{}'), 'application/vnd.oci.image.manifest.v1+json')).rejects.toMatchObject({ code: 'DigestMismatch' })
  })

  it('mounts a blob another repository has, and otherwise hands back the upload session', async () => {
    const { data, desc } = blob(1000)
    fake.others.set('library/base', new Set([desc.digest]))
    expect(await uploader().mountBlob(desc, 'library/base')).toEqual({ mounted: true })
    expect(fake.log[0]?.path).toBe(`/v2/team/app/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=library%2Fbase`)

    const other = blob(1000)
    const result = await uploader().mountBlob(other.desc, 'library/base')
    expect(result.mounted).toBe(false)
    if (result.mounted) return
    expect(result.session).toBeDefined()
    const posts = fake.log.filter((l) => l.method === 'POST').length
    await uploader().uploadBlob(other.desc, source(other.data), { session: result.session })
    expect(fake.log.filter((l) => l.method === 'POST').length).toBe(posts) // the mount's session was used
    expect(fake.blobs.get(other.desc.digest)?.equals(other.data)).toBe(true)
    void data
  })

  it('puts manifests by tag and by digest and returns the digest', async () => {
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2 }))
    const up = uploader()
    const digest = await up.putManifest('v1', bytes, 'application/vnd.oci.image.manifest.v1+json')
    expect(digest).toBe(sha(bytes))
    expect(fake.manifests.get('v1')?.type).toBe('application/vnd.oci.image.manifest.v1+json')
    expect(await up.manifestExists({ mediaType: '', digest, size: bytes.byteLength })).toBe(true)
    await expect(up.putManifest(sha(Buffer.from('other')), bytes, 'x')).rejects.toMatchObject({ code: 'DigestMismatch' })
  })

  it('authenticates with Basic auth and keeps the password out of errors', async () => {
    fake.password = 'right-password'
    const { data, desc } = blob(3000)
    await uploader('right-password').uploadBlob(desc, source(data), { chunkSize: 1000 })
    expect(fake.blobs.get(desc.digest)?.equals(data)).toBe(true)

    const err = await uploader('wrong-password').uploadBlob(blob(10).desc, source(Buffer.alloc(10))).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Unauthorized')
    expect(`${(err as Error).message} ${String((err as Error).cause ?? '')}`).not.toContain('wrong-password')
    expect(JSON.stringify(err)).not.toContain('wrong-password')
  })

  it('maps registry errors with their code, without the session state', async () => {
    const { desc } = blob(10)
    const err = await uploader().uploadBlob(desc, source(Buffer.alloc(10))).catch((e: unknown) => e)
    expect((err as RegistryError).code).toBe('DigestMismatch')
    fake.password = 'x'
    const denied = await uploader('y').putManifest('v1', Buffer.from('{}'), 'x').catch((e: unknown) => e)
    expect((denied as RegistryError).code).toBe('Unauthorized')
    expect((denied as Error).message).not.toContain('_state')
  })
})
