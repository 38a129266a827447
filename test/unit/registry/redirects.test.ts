import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, copyFile, readFile, rm } from 'node:fs/promises'
import { createServer as createHttpsServer } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Authorizer } from '../../../src/registry/authorizer.js'
import type { BlobSink } from '../../../src/registry/raw-blob-get.js'
import { MAX_REDIRECTS, isRedirect, redactUrl, resolveRedirect, sameOrigin } from '../../../src/registry/redirects.js'
import { RegistryClient } from '../../../src/registry/registry-client.js'
import { type OciDescriptor } from '../../../src/image-spec/descriptor.js'
import { RegistryError } from '../../../src/registry/registry-error.js'
import { RegistryUploader } from '../../../src/registry/registry-uploader.js'
import { redirectTargetTls } from '../../../src/registry/registry-access.js'
import { makeServerCertificates } from '../../env/registry/certificates.js'

describe('resolveRedirect', () => {
  const from = new URL('https://registry.example.com/v2/library/busybox/blobs/sha256:abc')

  it.each([
    ['https://cdn.example.net/blob?X-Amz-Signature=s3cr3t', 'https://cdn.example.net/blob?X-Amz-Signature=s3cr3t'],
    ['/v2/library/busybox/blobs/uploads/other', 'https://registry.example.com/v2/library/busybox/blobs/uploads/other'],
    ['../other/x', 'https://registry.example.com/v2/library/busybox/other/x'],
    ['//cdn.example.net:8443/b', 'https://cdn.example.net:8443/b'],
    ['  https://u:p@cdn.example.net/b#frag ', 'https://cdn.example.net/b'],
  ])('%s → %s', (location, expected) => {
    expect(resolveRedirect(from, location, 307).href).toBe(expected)
  })

  it('allows http → https and refuses https → http, other schemes and a missing Location', () => {
    expect(resolveRedirect(new URL('http://127.0.0.1:5000/v2/x'), 'https://cdn.example.net/b', 302).protocol).toBe('https:')
    for (const location of ['http://cdn.example.net/b?sig=1', 'ftp://cdn.example.net/b', 'data:,hi', undefined, '', 'http://[bad']) {
      const err = (() => { try { return resolveRedirect(from, location, 307) } catch (e) { return e } })()
      expect(err, String(location)).toBeInstanceOf(RegistryError)
      expect((err as RegistryError).code).toBe('Protocol')
      expect((err as Error).message).not.toContain('sig=1')
    }
  })
})

describe('sameOrigin and redactUrl', () => {
  it('compares scheme, host and port, with default ports normalised', () => {
    expect(sameOrigin(new URL('https://r.example.com/a'), new URL('https://R.example.com:443/b?x'))).toBe(true)
    expect(sameOrigin(new URL('https://r.example.com/a'), new URL('http://r.example.com/a'))).toBe(false)
    expect(sameOrigin(new URL('https://r.example.com/a'), new URL('https://r.example.com:8443/a'))).toBe(false)
    expect(sameOrigin(new URL('https://r.example.com/a'), new URL('https://cdn.r.example.com/a'))).toBe(false)
    expect(sameOrigin(new URL('http://[::1]:5000/a'), new URL('http://[0:0::1]:5000/b'))).toBe(true)
  })

  it('drops the query and user info', () => {
    expect(redactUrl(new URL('https://u:p@cdn.example.net/b/c?X-Amz-Signature=s3cr3t&t=1'))).toBe('https://cdn.example.net/b/c?…')
    expect(redactUrl(new URL('http://127.0.0.1:5000/v2/'))).toBe('http://127.0.0.1:5000/v2/')
  })

  it('follows exactly the redirect statuses', () => {
    expect([300, 301, 302, 303, 304, 305, 307, 308].filter(isRedirect)).toEqual([301, 302, 303, 307, 308])
  })
})

/**
 * RegistryClient against two loopback servers, "registry" and "cdn": the raw and node:http paths follow
 * redirects, keep Range, drop Authorization on the way to the other origin and stop loops.
 */
describe('RegistryClient redirects', () => {
  const blob = randomBytes(300_000)
  const desc: OciDescriptor = { mediaType: 'application/octet-stream', digest: `sha256:${createHash('sha256').update(blob).digest('hex')}`, size: blob.byteLength }
  let registry: Server
  let cdn: Server
  let registryUrl: string
  let cdnUrl: string
  const cdnSaw: IncomingHttpHeaders[] = []
  const registrySaw: IncomingHttpHeaders[] = []

  function serveBlob(req: IncomingMessage, res: ServerResponse): void {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
    const from = range === null ? 0 : Number(range[1])
    res.writeHead(range === null ? 200 : 206, { 'content-length': blob.byteLength - from })
    res.end(req.method === 'HEAD' ? undefined : blob.subarray(from))
  }

  beforeAll(async () => {
    registry = createServer((req, res) => {
      registrySaw.push(req.headers)
      const path = req.url ?? '/'
      if (path.includes('/loop/')) {
        res.writeHead(307, { location: `${path}x` }).end()
      } else if (path.includes('/manifests/')) {
        res.writeHead(308, { location: `${cdnUrl}/m?sig=s3cr3t` }).end()
      } else if (path.includes('/blobs/')) {
        res.writeHead(307, { location: `${cdnUrl}/storage/${desc.digest}?sig=s3cr3t` }).end()
      } else if (path.startsWith('/back')) {
        // Where the CDN sends a request back to: the registry's origin again.
        serveBlob(req, res)
      } else {
        res.writeHead(404).end()
      }
    })
    cdn = createServer((req, res) => {
      cdnSaw.push(req.headers)
      if ((req.url ?? '').startsWith('/m?')) res.writeHead(200, { 'docker-content-digest': desc.digest, 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': 123 }).end()
      else if ((req.url ?? '').startsWith('/bounce')) res.writeHead(302, { location: `${registryUrl}/back` }).end()
      else serveBlob(req, res)
    })
    await Promise.all([registry, cdn].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))))
    registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`
    cdnUrl = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await Promise.all([registry, cdn].map((s) => new Promise((resolve) => { s.closeAllConnections(); s.close(resolve) })))
  })

  const authorizer = { header: () => 'Bearer registry-token', invalidate: () => undefined, authorize: async () => undefined } as unknown as Authorizer
  function client(repository = 'library/app'): RegistryClient {
    return new RegistryClient('registry.test', repository, [{ url: new URL(`${registryUrl}/v2`), capabilities: new Set(['pull', 'resolve']), headers: { 'x-mirror-key': 'k' } }], authorizer)
  }
  function sink(into: Buffer[]): BlobSink {
    return { target: () => Buffer.alloc(64 * 1024), advance: () => undefined, write: async (b) => { into.push(Buffer.from(b)) } }
  }

  it('fetches a blob from the redirect target without the registry credentials, raw and node:http', async () => {
    cdnSaw.length = 0
    const stream = await client().fetchBlob(desc)
    const chunks: Buffer[] = []
    for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c)
    expect(Buffer.concat(chunks).equals(blob)).toBe(true)

    // The raw path with a Range: the target sees the Range, answers 206.
    const read: Buffer[] = []
    const target = Buffer.alloc(300_000)
    let filled = 0
    await client().fetchBlobInto(desc, {
      target: () => target.subarray(filled),
      advance: (n) => { filled += n; return undefined },
      write: async (b) => { read.push(Buffer.from(b)) },
    }, { offset: 1000 })
    expect(Buffer.concat([...read, target.subarray(0, filled)]).equals(blob.subarray(1000))).toBe(true)

    expect(cdnSaw).toHaveLength(2)
    for (const h of cdnSaw) {
      expect(h.authorization).toBeUndefined()
      expect(h['x-mirror-key']).toBeUndefined()
    }
    expect(cdnSaw[1]?.range).toBe('bytes=1000-')
    expect(registrySaw.at(-1)?.authorization).toBe('Bearer registry-token')
  })

  it('follows HEADs too: resolve, and the existence check of a push', async () => {
    cdnSaw.length = 0
    const uploader = new RegistryUploader('registry.test', 'library/app', [{ url: new URL(`${registryUrl}/v2`), capabilities: new Set(['push']) }], authorizer)
    expect(await uploader.blobExists(desc)).toBe(true)
    expect(await client().resolve('v1')).toEqual({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: desc.digest, size: 123 })
    expect(cdnSaw).toHaveLength(2)
    expect(cdnSaw.map((h) => h.authorization)).toEqual([undefined, undefined])
    expect(cdnSaw[1]?.accept).toContain('application/vnd.oci.image.index.v1+json')
  })

  it('sends the credentials again on a hop back to the registry', async () => {
    const c = new RegistryClient('registry.test', 'r', [{ url: new URL(`${cdnUrl}/bounce`), capabilities: new Set(['pull']) }], authorizer)
    // The endpoint is the "cdn" here; it bounces to the registry's /back, another origin: no credentials.
    registrySaw.length = 0
    const out: Buffer[] = []
    await c.fetchBlobInto(desc, sink(out))
    expect(registrySaw[0]?.authorization).toBeUndefined()
    expect(cdnSaw.at(-1)?.authorization).toBe('Bearer registry-token')
  })

  it(`stops after ${MAX_REDIRECTS} redirects with a Protocol error`, async () => {
    registrySaw.length = 0
    const err = await client('loop').fetchBlobInto(desc, sink([]), {}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Protocol')
    expect((err as Error).message).toMatch(/more than 10 redirects/)
    expect(registrySaw).toHaveLength(MAX_REDIRECTS + 1)
  })

  it('names an unreachable redirect target without its query', async () => {
    const dead = createServer((_req, res) => res.writeHead(307, { location: 'http://127.0.0.1:1/blob?sig=s3cr3t' }).end())
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve))
    try {
      const c = new RegistryClient('registry.test', 'r', [{ url: new URL(`http://127.0.0.1:${(dead.address() as AddressInfo).port}/v2`), capabilities: new Set(['pull']) }], authorizer)
      const err = await c.fetchBlobInto(desc, sink([])).catch((e: unknown) => e)
      expect((err as RegistryError).code).toBe('Unavailable')
      expect((err as Error).message).toContain('http://127.0.0.1:1/blob?…')
      expect((err as Error).message).not.toContain('s3cr3t')
    } finally {
      await new Promise((resolve) => { dead.closeAllConnections(); dead.close(resolve) })
    }
  })
})

describe('RegistryClient redirects to https storage', () => {
  it("uses the target's own certs.d CA, and the system's CAs without one", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'csdk-redirect-'))
    const blob = randomBytes(50_000)
    const desc: OciDescriptor = { mediaType: 'application/octet-stream', digest: `sha256:${createHash('sha256').update(blob).digest('hex')}`, size: blob.byteLength }
    const certs = await makeServerCertificates(dir)
    const storage = createHttpsServer({ cert: await readFile(certs.certFile), key: await readFile(certs.keyFile) }, (_req, res) => {
      res.writeHead(200, { 'content-length': blob.byteLength }).end(blob)
    })
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve))
    const storageHost = `127.0.0.1:${(storage.address() as AddressInfo).port}`
    const registry = createServer((_req, res) => res.writeHead(302, { location: `https://${storageHost}/b?sig=s3cr3t` }).end())
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve))
    const endpoints = [{ url: new URL(`http://127.0.0.1:${(registry.address() as AddressInfo).port}/v2`), capabilities: new Set(['pull']) }]
    const authorizer = { header: () => undefined } as unknown as Authorizer
    try {
      const configDir = join(dir, 'certs.d')
      await mkdir(join(configDir, storageHost), { recursive: true })
      await copyFile(certs.caFile, join(configDir, storageHost, 'ca.crt'))
      const lookup = redirectTargetTls({ configDirs: [configDir] })
      expect((await lookup(storageHost))?.ca?.[0]?.toString()).toBe(certs.caPem)

      const out: Buffer[] = []
      let last = Buffer.alloc(0)
      const sink: BlobSink = { target: () => Buffer.alloc(16 * 1024), advance: () => undefined, write: async (b) => { out.push(Buffer.from(b)) } }
      await new RegistryClient('r.test', 'a', endpoints, authorizer, { redirectTls: lookup }).fetchBlobInto(desc, {
        ...sink,
        target: () => { const t = Buffer.alloc(16 * 1024); last = t; return t },
        advance: (n) => { out.push(Buffer.from(last.subarray(0, n))); return undefined },
      })
      expect(Buffer.concat(out).equals(blob)).toBe(true)

      // No configuration for the storage host: the system's CAs, which do not know this one.
      const err = await new RegistryClient('r.test', 'a', endpoints, authorizer).fetchBlobInto(desc, sink).catch((e: unknown) => e)
      expect((err as RegistryError).code).toBe('Unavailable')
      expect((err as Error).message).toContain(`https://${storageHost}/b?…`)
      expect((err as Error).message).not.toContain('s3cr3t')
    } finally {
      await Promise.all([registry, storage].map((s) => new Promise((resolve) => { s.closeAllConnections(); s.close(resolve) })))
      await rm(dir, { recursive: true, force: true })
    }
  })
})
