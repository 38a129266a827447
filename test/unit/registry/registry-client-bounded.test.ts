import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Authorizer } from '../../../src/registry/authorizer.js'
import { readBody, sendRequest } from '../../../src/registry/http-request.js'
import type { BlobSink } from '../../../src/registry/raw-blob-get.js'
import { RegistryClient, type RegistryEndpoint } from '../../../src/registry/registry-client.js'
import { RegistryError } from '../../../src/registry/registry-error.js'
import { isStall } from '../../../src/registry/stall-watch.js'

// A registry whose answers are chosen per path: trickles, silence, an oversized challenge.
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }))
const manifestDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`
const blob = Buffer.alloc(64 * 1024, 7)
const blobDigest = `sha256:${createHash('sha256').update(blob).digest('hex')}`
const hits = new Map<string, number>()
let server: Server
let base: string
const timers = new Set<NodeJS.Timeout>()

/** Sends `bytes` one at a time, every `everyMs`. */
function trickle(res: ServerResponse, bytes: Buffer, everyMs: number): void {
  let i = 0
  const t = setInterval(() => {
    if (res.destroyed || i >= bytes.length) {
      clearInterval(t)
      timers.delete(t)
      if (!res.destroyed) res.end()
      return
    }
    res.write(bytes.subarray(i, i + 1))
    i++
  }, everyMs)
  timers.add(t)
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? ''
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const repo = path.split('/')[2] ?? ''
    if (repo === 'silent') return // accepts and says nothing
    if (repo === 'bigauth') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:1/token",scope="${'x'.repeat(40 * 1024)}"`, 'content-length': '0' })
      res.end()
      return
    }
    const isManifest = path.includes('/manifests/')
    const body = isManifest ? manifest : blob
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(body.length), 'docker-content-digest': isManifest ? manifestDigest : blobDigest })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    // 'slow': one byte a second, as the fault probe did; 'drip': one byte every 20 ms, a trickle that is
    // never idle for long but far below the minimum progress.
    if (repo === 'slow') trickle(res, body, 1000)
    else if (repo === 'drip') trickle(res, body, 20)
    else res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})
afterAll(async () => {
  for (const t of timers) clearInterval(t)
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

function client(repo: string, timeouts: Pick<RegistryEndpoint, 'headersTimeoutMs' | 'idleTimeoutMs'>): RegistryClient {
  const endpoint: RegistryEndpoint = { url: new URL(`${base}/v2`), capabilities: new Set(['pull', 'resolve']), ...timeouts }
  return new RegistryClient('127.0.0.1', repo, [endpoint], new Authorizer(undefined))
}

async function failure(p: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const started = Date.now()
  const err = await p.then(() => undefined, (e: unknown) => e)
  return { err, ms: Date.now() - started }
}

describe('stalled bodies (node:http path)', () => {
  it('a manifest trickling at 1 byte/s fails with RegistryError Unavailable saying it stalled, after three tries (was: never)', async () => {
    const { err, ms } = await failure(client('slow', { idleTimeoutMs: 300 }).fetchManifest({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length }))
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Unavailable')
    expect((err as RegistryError).message).toMatch(/reading manifest sha256:[0-9a-f]{64}: the response body from 127\.0\.0\.1:\d+ stalled/)
    expect(hits.get(`/v2/slow/manifests/${manifestDigest}`)).toBe(3)
    // Three tries of (first byte with the headers after 1 s, then 300 ms without one).
    expect(ms).toBeLessThan(8000)
  })

  it('a trickle faster than the idle timeout still stalls: too few bytes per window', async () => {
    const { err, ms } = await failure(client('drip', { idleTimeoutMs: 300 }).fetchManifest({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length }))
    expect((err as RegistryError).code).toBe('Unavailable')
    // Usually a few bytes per window; none at all on a loaded machine.
    expect((err as RegistryError).message).toMatch(/stalled: (\d+ bytes in 300 ms, fewer than the 16384 required|no bytes for 300 ms)/)
    expect(ms).toBeLessThan(5000)
  })

  it('a blob stream trickling fails with a stall the pull resumes from', async () => {
    const stream = await client('drip', { idleTimeoutMs: 300 }).fetchBlob({ mediaType: 'application/octet-stream', digest: blobDigest, size: blob.length }, { verify: false })
    const err = await (async () => { for await (const _ of stream as AsyncIterable<Buffer>) { /* drain */ } })().then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Unavailable')
    expect(isStall(err)).toBe(true)
  })

  it('a token-sized body read with readBody fails the same way (the authorizer reads tokens so)', async () => {
    const res = await sendRequest({ method: 'GET', url: new URL(`${base}/v2/drip/manifests/x`), idleTimeoutMs: 300 })
    await expect(readBody(res.body, 1024 * 1024)).rejects.toMatchObject({ name: 'RegistryError', code: 'Unavailable', message: expect.stringMatching(/stalled/) })
  })

  it('a reader slower than the idle timeout is no stall', async () => {
    const res = await sendRequest({ method: 'GET', url: new URL(`${base}/v2/fast/blobs/${blobDigest}`), idleTimeoutMs: 100 })
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect((await readBody(res.body, 1024 * 1024)).equals(blob)).toBe(true)
  })
})

describe('stalled bodies (raw blob path)', () => {
  it('a blob trickling into a sink fails with RegistryError Unavailable marked as a stall (was: ETIMEDOUT only for silence)', async () => {
    const target = new Uint8Array(blob.length)
    let at = 0
    const sink: BlobSink = {
      target: () => target.subarray(at),
      advance: (n) => { at += n; return undefined },
      write: async (bytes) => { target.set(bytes, at); at += bytes.byteLength },
    }
    const { err, ms } = await failure(client('drip', { idleTimeoutMs: 300 }).fetchBlobInto({ mediaType: 'application/octet-stream', digest: blobDigest, size: blob.length }, sink))
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Unavailable')
    expect((err as RegistryError).message).toMatch(/stalled/)
    expect(isStall(err)).toBe(true)
    expect(ms).toBeLessThan(3000)
  })
})

describe('headers that never come', () => {
  it('a registry that accepts and says nothing is RegistryError Unavailable after headersTimeoutMs', async () => {
    const { err, ms } = await failure(client('silent', { headersTimeoutMs: 300 }).resolve('latest'))
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Unavailable')
    expect((err as RegistryError).message).toMatch(/^127\.0\.0\.1:\d+ sent no response to HEAD \/v2\/silent\/manifests\/latest within 300 ms/)
    expect(ms).toBeLessThan(3000)
  })
})

describe('oversized WWW-Authenticate', () => {
  it('a 40 KiB challenge on a blob GET (raw path, 64 KiB heads) is RegistryError TooLarge naming the header (was: parsed, then a token request)', async () => {
    const sink: BlobSink = { target: () => new Uint8Array(1), advance: () => undefined, write: async () => undefined }
    const { err } = await failure(client('bigauth', {}).fetchBlobInto({ mediaType: 'application/octet-stream', digest: blobDigest, size: blob.length }, sink))
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('TooLarge')
    expect((err as RegistryError).message).toMatch(/^the WWW-Authenticate header from 127\.0\.0\.1 is \d+ bytes, more than the 16384 accepted/)
  })
})
