import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidArgumentError, NotFoundError, type Client } from '../../src/index.js'
import type { PushProgressEvent } from '../../src/images/push-progress.js'
import type { RegistryEndpoint } from '../../src/registry/registry-client.js'
import { RegistryError } from '../../src/registry/registry-error.js'
import { busyboxImage, multiLayerImage, multiPlatformIndex, type OciImage, type OciImageIndex } from '../fixtures/index.js'
import { runTool, skopeoInspect, skopeoInspectRaw, startRegistry, type Registry } from '../env/registry/index.js'
import { importFixture } from '../env/import-fixture.js'
import { connectTestClient, ctr, sweepNamespace } from '../env/test-client.js'

const client = await connectTestClient('push')
// Namespaces other than the client's that tests create; swept at the end.
const extra: Client[] = []
let plain: Registry
let secure: Registry
let token: Registry
let busybox: OciImage
let multi: OciImageIndex

beforeAll(async () => {
  ;[plain, secure, token, busybox, multi] = await Promise.all([
    startRegistry({ mode: 'plain' }),
    startRegistry({ mode: 'tls-htpasswd' }),
    startRegistry({ mode: 'token' }),
    busyboxImage(),
    multiPlatformIndex(),
  ])
})
afterAll(async () => {
  for (const c of extra) await sweepNamespace(c).catch(() => undefined)
  await Promise.all([plain?.stop(), secure?.stop(), token?.stop()])
})

function namespace(label: string): Client {
  const c = client.withNamespace(`${client.namespace}-${label}`)
  extra.push(c)
  return c
}

/** The registry's access log as `METHOD uri status` lines. */
async function requests(registry: Registry): Promise<string[]> {
  const log = await registry.readLog()
  return [...log.matchAll(/"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3})/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`)
}

/** Endpoints for the TLS registry: its throwaway CA, and the push capability. */
function tlsEndpoints(registry: Registry): (domain: string) => RegistryEndpoint[] {
  return () => [{
    url: new URL(`${registry.url}/v2`),
    capabilities: new Set(['pull', 'resolve', 'push']),
    tls: { ca: [Buffer.from(registry.caPem ?? '')] },
  }]
}

/** `skopeo copy --all` from a plain registry into an OCI layout: skopeo checks every digest on the way. */
async function skopeoCopy(registry: Registry, ref: string): Promise<void> {
  const work = await mkdtemp(join(registry.dir, 'copy-'))
  try {
    await runTool('skopeo', [
      '--insecure-policy', 'copy', '--all', '--retry-times', '0', '--src-tls-verify=false', '--src-no-creds',
      `docker://${registry.host}/${ref}`, `oci:${join(work, 'layout')}:copied`,
    ], { timeoutMs: 60_000, env: { HOME: work, XDG_RUNTIME_DIR: work, REGISTRY_AUTH_FILE: join(work, 'none.json'), DOCKER_CONFIG: join(work, 'docker') } })
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

describe('push', () => {
  it('pushes an image that skopeo reads back and containerd pulls and runs', async () => {
    const name = `${plain.host}/push/busybox:v1`
    await importFixture(client, busybox, name)
    const events: PushProgressEvent[] = []
    const pushed = await client.images.push(name, { onProgress: (e) => events.push(e) })
    expect(pushed).toMatchObject({ name, digest: busybox.manifest.digest, mediaType: busybox.manifest.mediaType })

    // The registry serves exactly our manifest bytes.
    expect((await skopeoInspect(plain, 'push/busybox:v1')).digest).toBe(busybox.manifest.digest)
    await skopeoCopy(plain, 'push/busybox:v1')

    expect(events[0]?.status).toBe('preparing')
    const uploaded = events.filter((e) => e.status === 'uploaded').map((e) => e.digest)
    expect(uploaded).toEqual(expect.arrayContaining([busybox.config.digest, ...busybox.layers.map((l) => l.descriptor.digest), busybox.manifest.digest]))
    expect(events[events.length - 1]).toMatchObject({ status: 'done', digest: busybox.manifest.digest })
    // The blobs now name this repository as a source, as pull's labels do.
    const info = await client.content.info(busybox.config.digest)
    expect(info.labels[`containerd.io/distribution.source.${plain.host}`]).toBe('push/busybox')

    const other = namespace('pulled')
    const image = await other.pull(name)
    expect(image.digest).toBe(busybox.manifest.digest)
    const out = await ctr(other.namespace, 'run', '--rm', name, `pushed-${Date.now()}`, 'echo', 'hello from a pushed image')
    expect(out).toContain('hello from a pushed image')
  })

  it('skips blobs the repository has when the image is pushed again', async () => {
    const name = `${plain.host}/push/busybox:v1`
    const before = (await requests(plain)).length
    const events: PushProgressEvent[] = []
    await client.images.push(name, { onProgress: (e) => events.push(e) })
    const during = (await requests(plain)).slice(before)
    expect(during.filter((r) => r.includes('/blobs/uploads/')), during.join('\n')).toEqual([])
    expect(during.filter((r) => r.startsWith('HEAD /v2/push/busybox/blobs/'))).toHaveLength(1 + busybox.layers.length)
    // Only the tag is written again.
    expect(during.filter((r) => r.startsWith('PUT '))).toEqual(['PUT /v2/push/busybox/manifests/v1 201'])
    expect(events.filter((e) => e.status === 'exists').map((e) => e.digest).sort()).toEqual([busybox.config.digest, ...busybox.layers.map((l) => l.descriptor.digest)].sort())
  })

  it('uploads in chunks with PATCH and Content-Range', async () => {
    const image = await multiLayerImage({ layers: 2, layerSize: 300_000, seed: `chunked-${Date.now()}` })
    const name = `${plain.host}/push/chunked:v1`
    await importFixture(client, image, name)
    const before = (await requests(plain)).length
    const pushed = await client.images.push(name, { chunkSize: 64 * 1024 })
    expect(pushed.digest).toBe(image.manifest.digest)
    const during = (await requests(plain)).slice(before)
    const patches = during.filter((r) => r.startsWith('PATCH /v2/push/chunked/blobs/uploads/'))
    // Two data layers of ~300 kB (stored, not compressed) need at least five 64 KiB chunks each.
    expect(patches.length, during.join('\n')).toBeGreaterThanOrEqual(10)
    expect(patches.every((r) => r.endsWith(' 202'))).toBe(true)
    await skopeoCopy(plain, 'push/chunked:v1')
  })

  it('pushes a multi-platform index with all its manifests, children first', async () => {
    const name = `${plain.host}/push/multi:v1`
    await importFixture(client, multi, name)
    const before = (await requests(plain)).length
    const pushed = await client.images.push(name)
    expect(pushed.digest).toBe(multi.index.digest)
    expect(pushed.platforms.map((p) => `${p.os}/${p.architecture}${p.variant !== undefined ? `/${p.variant}` : ''}`)).toEqual(['linux/amd64', 'linux/arm64', 'linux/arm/v7'])
    const puts = (await requests(plain)).slice(before).filter((r) => r.startsWith('PUT /v2/push/multi/manifests/'))
    expect(puts).toEqual([...multi.images.map((i) => `PUT /v2/push/multi/manifests/${i.manifest.digest} 201`), 'PUT /v2/push/multi/manifests/v1 201'])
    expect((await skopeoInspect(plain, 'push/multi:v1')).digest).toBe(multi.index.digest)
    await skopeoCopy(plain, 'push/multi:v1')
  })

  it('refuses to push a partial index, names the missing platforms, and pushes one platform on request', async () => {
    const partial = namespace('partial')
    // Pulled for this host only: the index is stored, arm64 and arm/v7 manifests are not.
    await partial.pull(`${plain.host}/push/multi:v1`)
    const image = await partial.images.get(`${plain.host}/push/multi:v1`)
    const target = `${plain.host}/push/partial:v1`
    await image.tag(target)
    const err = await partial.images.push(target).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotFoundError)
    expect((err as Error).message).toMatch(/linux\/arm64, linux\/arm\/v7/)

    const amd64 = multi.images[0]?.manifest.digest
    const pushed = await partial.images.push(target, { platform: 'linux/amd64' })
    expect(pushed.digest).toBe(amd64)
    expect((await skopeoInspect(plain, 'push/partial:v1')).digest).toBe(amd64)
    await expect(partial.images.push(target, { platform: 'linux/s390x' })).rejects.toThrow(/no manifest for linux\/s390x/)
    await expect(partial.images.push(target, { platform: 'linux/amd64', allPlatforms: true })).rejects.toBeInstanceOf(InvalidArgumentError)
    // allPlatforms: false means this host's platform only.
    expect((await partial.images.push(target, { allPlatforms: false })).digest).toBe(amd64)
  })

  it('pushes over TLS with Basic auth, and reports a wrong password without revealing it', async () => {
    const creds = secure.credentials
    if (creds === undefined) throw new Error('the tls-htpasswd registry has no user')
    const name = `${secure.host}/private/busybox:v1`
    await importFixture(client, busybox, name)
    const pushed = await client.images.push(name, { auth: creds, endpoints: tlsEndpoints(secure) })
    expect((await skopeoInspect(secure, 'private/busybox:v1')).digest).toBe(pushed.digest)

    const password = 'definitely-wrong-password'
    const err = await client.images.push(name, { auth: { username: creds.username, password }, endpoints: tlsEndpoints(secure) }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Unauthorized')
    expect(`${(err as Error).message} ${String((err as Error).cause ?? '')}`).not.toContain(password)
  })

  it('pushes with Bearer tokens for the push scope, and mounts blobs from another repository', async () => {
    const creds = token.credentials
    if (creds === undefined) throw new Error('the token registry has no user')
    const server = token.tokenServer
    if (server === undefined) throw new Error('the token registry has no token server')
    const name = `${token.host}/team/busybox:v1`
    await importFixture(client, busybox, name)
    server.resetCounts()
    await client.images.push(name, { auth: creds })
    expect(server.requests.length).toBeGreaterThan(0)
    expect(server.requests.every((r) => r.status === 200)).toBe(true)
    expect(server.requests.flatMap((r) => r.scopes.flatMap((s) => s.split(' ')))).toContain('repository:team/busybox:pull,push')
    expect((await skopeoInspectRaw(token, 'team/busybox:v1')).byteLength).toBe(busybox.manifest.size)

    // A pulled image knows its source repository; pushing it to another repository of the same
    // registry mounts the blobs instead of uploading them.
    const mirror = namespace('mount')
    const pulled = await mirror.pull(name, { auth: creds })
    const target = `${token.host}/mirror/busybox:v1`
    await pulled.tag(target)
    const before = (await requests(token)).length
    server.resetCounts()
    const events: PushProgressEvent[] = []
    await mirror.images.push(target, { auth: creds, onProgress: (e) => events.push(e) })
    const mounted = events.filter((e) => e.status === 'mounted')
    expect(mounted.map((e) => e.digest).sort()).toEqual([busybox.config.digest, ...busybox.layers.map((l) => l.descriptor.digest)].sort())
    expect(mounted.every((e) => e.from === 'team/busybox')).toBe(true)
    const during = (await requests(token)).slice(before)
    expect(during.filter((r) => r.startsWith('POST /v2/mirror/busybox/blobs/uploads/?mount=') && r.endsWith(' 201'))).toHaveLength(1 + busybox.layers.length)
    expect(during.filter((r) => r.startsWith('PUT ') && r.includes('/blobs/uploads/'))).toEqual([])
    // The token for the mount also grants pull on the source repository.
    expect(server.requests.flatMap((r) => r.scopes.flatMap((s) => s.split(' ')))).toContain('repository:team/busybox:pull')
    expect((await skopeoInspect(token, 'mirror/busybox:v1')).digest).toBe(busybox.manifest.digest)

    const password = 'definitely-wrong-password'
    const err = await client.images.push(name, { auth: { username: creds.username, password } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Unauthorized')
    expect((err as Error).message).not.toContain(password)
  })

  it('fails clearly for an image that is not there', async () => {
    await expect(client.images.push(`${plain.host}/push/none:v1`)).rejects.toBeInstanceOf(NotFoundError)
  })
})
