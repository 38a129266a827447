import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NotFoundError, NotImplementedError } from '../../src/index.js'
import type { RegistryEndpoint } from '../../src/registry/registry-client.js'
import { RegistryError } from '../../src/registry/registry-error.js'
import type { PullProgressEvent } from '../../src/images/progress.js'
import { busyboxImage, multiLayerImage, multiPlatformIndex } from '../fixtures/index.js'
import { pushFixture, startRegistry, startTamperProxy, type Registry } from '../env/registry/index.js'
import { connectTestClient, ctr } from '../env/test-client.js'
import { storeLeftovers } from '../env/store-leftovers.js'

const client = await connectTestClient('pull')
let plain: Registry
let secure: Registry
let token: Registry

beforeAll(async () => {
  ;[plain, secure, token] = await Promise.all([
    startRegistry({ mode: 'plain' }),
    startRegistry({ mode: 'tls-htpasswd' }),
    startRegistry({ mode: 'token' }),
  ])
  const busybox = await busyboxImage()
  await Promise.all([
    pushFixture(plain, busybox, 'library/busybox', 'latest'),
    pushFixture(plain, await multiPlatformIndex(), 'library/multi', 'v1'),
    pushFixture(plain, await multiLayerImage({ layers: 4, layerSize: 512 * 1024 }), 'app/layers', 'v1'),
    pushFixture(secure, busybox, 'private/busybox', 'v1'),
    pushFixture(token, busybox, 'team/busybox', 'v1'),
  ])
})
afterAll(async () => {
  await Promise.all([plain?.stop(), secure?.stop(), token?.stop()])
})


function tlsEndpoints(registry: Registry): (domain: string) => RegistryEndpoint[] {
  return () => [{
    url: new URL(`${registry.url}/v2`),
    capabilities: new Set(['pull', 'resolve']),
    tls: { ca: [Buffer.from(registry.caPem ?? '')] },
  }]
}

describe('pull', () => {
  it('pulls and unpacks an image that ctr can run, with containerd labels', async () => {
    const events: PullProgressEvent[] = []
    const image = await client.pull(`${plain.host}/library/busybox:latest`, { onProgress: (e) => events.push(e) })
    expect(image.name).toBe(`${plain.host}/library/busybox:latest`)
    expect(image.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(await image.isUnpacked()).toBe(true)
    const config = await image.config()
    expect(config.config?.Cmd).toEqual(['sh'])
    const size = await image.size()
    expect(size.content).toBeGreaterThan(1_000_000)
    expect(size.unpacked).toBeGreaterThan(0)

    expect(events[0]?.status).toBe('resolving')
    // The layer downloads, or is 'exists' when an earlier test file stored the same busybox bytes (the
    // content store is shared by all namespaces; vitest orders files by their last durations).
    const layerEvents = events.filter((e) => (e.mediaType ?? '').includes('layer'))
    expect(layerEvents.some((e) => e.status === 'downloading' || e.status === 'exists' || e.status === 'unpacked'), JSON.stringify(events)).toBe(true)
    expect(events.filter((e) => e.status === 'unpacked')).toHaveLength(1)
    expect(events[events.length - 1]?.status).toBe('done')

    // containerd's labels, so its GC and tools understand what we stored.
    const { manifest } = await image.manifest()
    const manifestInfo = await client.content.info(image.digest)
    expect(manifestInfo.labels['containerd.io/gc.ref.content.config']).toBe(manifest.config.digest)
    expect(manifestInfo.labels['containerd.io/gc.ref.content.l.0']).toBe(manifest.layers[0]?.digest)
    expect(manifestInfo.labels[`containerd.io/distribution.source.${plain.host}`]).toBe('library/busybox')
    const layerInfo = await client.content.info(manifest.layers[0]?.digest ?? '')
    expect(layerInfo.labels['containerd.io/uncompressed']).toBe(config.rootfs.diff_ids[0])
    const configInfo = await client.content.info(manifest.config.digest)
    expect(configInfo.labels['containerd.io/gc.ref.snapshot.overlayfs']).toBe(config.rootfs.diff_ids[0])
    expect(await client.leases.list()).toEqual([])

    const out = await ctr(client.namespace, 'run', '--rm', image.name, `pulled-${Date.now()}`, 'echo', 'hello from a pulled image')
    expect(out).toContain('hello from a pulled image')
    expect((await client.images.get(image.name)).digest).toBe(image.digest)
  })

  it('picks the host platform from an index, or the ones asked for', async () => {
    const ref = `${plain.host}/library/multi:v1`
    const image = await client.pull(ref)
    expect((await image.manifest()).descriptor.platform?.architecture).toBe('amd64')
    expect(await image.isUnpacked()).toBe(true)
    await expect(image.manifest({ platform: 'linux/arm64' })).rejects.toBeInstanceOf(NotFoundError)

    await client.pull(ref, { allPlatforms: true })
    const arm = await image.manifest({ platform: 'linux/arm64' })
    expect(arm.descriptor.platform?.architecture).toBe('arm64')
    expect(await image.isUnpacked({ platform: 'linux/arm64' })).toBe(true) // same layer blob as amd64

    await expect(client.pull(ref, { platform: 'linux/s390x' })).rejects.toThrow(/no image for linux\/s390x.*offers linux\/amd64/)
  })

  it('pulls a multi-layer image, stacking the snapshots by chain id', async () => {
    const image = await client.pull(`${plain.host}/app/layers:v1`, { maxConcurrentDownloads: 2 })
    const config = await image.config()
    expect(config.rootfs.diff_ids).toHaveLength(5)
    const committed: string[] = []
    for await (const s of client.snapshots().list({ filters: ['kind==committed'] })) committed.push(s.name)
    expect(committed.length).toBeGreaterThanOrEqual(5)
    const out = await ctr(client.namespace, 'run', '--rm', image.name, `layers-${Date.now()}`, 'sh', '-c', 'ls /data | wc -l')
    expect(out.trim()).toBe('4')
  })

  it('shares one pull between concurrent callers', async () => {
    await client.images.remove(`${plain.host}/library/busybox:latest`, { sync: true })
    const [a, b] = await Promise.all([
      client.pull(`${plain.host}/library/busybox:latest`),
      client.pull(`${plain.host}/library/busybox:latest`),
    ])
    expect(a.digest).toBe(b.digest)
  })

  it('pulls over TLS with Basic auth from a registry with a private CA', async () => {
    const creds = secure.credentials
    if (creds === undefined) throw new Error('the tls-htpasswd registry has no user')
    const image = await client.pull(`${secure.host}/private/busybox:v1`, { auth: creds, endpoints: tlsEndpoints(secure) })
    expect(await image.isUnpacked()).toBe(true)
  })

  it('finds the CA in certs.d and the credentials in docker config.json, like nerdctl', async () => {
    const { mkdtemp, mkdir, copyFile, writeFile, rm } = await import('node:fs/promises')
    const { join } = await import('node:path')
    const { tmpdir } = await import('node:os')
    const dir = await mkdtemp(join(tmpdir(), 'csdk-pull-config-'))
    const saved = process.env['DOCKER_CONFIG']
    try {
      await mkdir(join(dir, 'certs.d', secure.host), { recursive: true })
      await copyFile(secure.caFile ?? '', join(dir, 'certs.d', secure.host, 'ca.crt'))
      const creds = secure.credentials
      if (creds === undefined) throw new Error('the tls-htpasswd registry has no user')
      await mkdir(join(dir, 'docker'))
      const auth = Buffer.from(`${creds.username}:${creds.password}`).toString('base64')
      await writeFile(join(dir, 'docker', 'config.json'), JSON.stringify({ auths: { [secure.host]: { auth } } }), { mode: 0o600 })
      process.env['DOCKER_CONFIG'] = join(dir, 'docker')
      const image = await client.pull(`${secure.host}/private/busybox:v1`, { registry: { configDirs: [join(dir, 'certs.d')] } })
      expect(await image.isUnpacked()).toBe(true)
      // Without the config.json entry the registry refuses us.
      await writeFile(join(dir, 'docker', 'config.json'), '{}')
      await client.images.remove(image.name, { sync: true })
      const anonymous = await client.pull(`${secure.host}/private/busybox:v1`, { registry: { configDirs: [join(dir, 'certs.d')] } }).catch((e: unknown) => e)
      expect((anonymous as RegistryError).code).toBe('Unauthorized')
    } finally {
      if (saved === undefined) delete process.env['DOCKER_CONFIG']
      else process.env['DOCKER_CONFIG'] = saved
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('pulls with Bearer tokens from a token server', async () => {
    const creds = token.credentials
    if (creds === undefined) throw new Error('the token registry has no user')
    token.tokenServer?.resetCounts()
    const image = await client.pull(`${token.host}/team/busybox:v1`, { auth: creds })
    expect(await image.isUnpacked()).toBe(true)
    // One token for the whole pull: it is cached for the scope.
    expect(token.tokenServer?.tokensIssued).toBe(1)
  })

  it('fails with a typed error and leaves nothing behind', async () => {
    const probe = client.withNamespace(`${client.namespace}-fail`)
    const before = await storeLeftovers(probe)

    const missing = await probe.pull(`${plain.host}/library/nope:latest`).catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(RegistryError)
    expect((missing as RegistryError).code).toBe('NotFound')

    const password = 'definitely-wrong-password'
    const denied = await probe.pull(`${secure.host}/private/busybox:v1`, {
      auth: { username: secure.credentials?.username ?? 'x', password },
      endpoints: tlsEndpoints(secure),
    }).catch((e: unknown) => e)
    expect(denied).toBeInstanceOf(RegistryError)
    expect((denied as RegistryError).code).toBe('Unauthorized')
    expect(String((denied as Error).message)).not.toContain(password)

    const unreachable = await probe.pull('127.0.0.1:1/library/busybox:latest').catch((e: unknown) => e)
    expect(unreachable).toBeInstanceOf(RegistryError)
    expect((unreachable as RegistryError).code).toBe('Unavailable')

    await expect(probe.pull('Not A Valid Reference')).rejects.toThrow(/invalid image reference/)
    expect(await storeLeftovers(probe)).toEqual(before)
    // Not even the namespace the failed pulls would have created stays.
    expect((await client.namespaces.list()).map((n) => n.name)).not.toContain(probe.namespace)
    await client.namespaces.delete(probe.namespace).catch(() => undefined)
  })

  it('rejects a blob whose bytes do not match its digest, and keeps nothing', async () => {
    await using proxy = await startTamperProxy(plain.url)
    const probe = client.withNamespace(`${client.namespace}-tamper`)
    // A data layer no other test has stored: containerd shares blobs between namespaces, and a blob it
    // already holds is never downloaded again.
    const image = await multiLayerImage({ layers: 1, layerSize: 600_000, seed: `tamper-${Date.now()}` })
    await pushFixture(plain, image, 'app/tamper', 'v1')
    const layer = image.layers[1]?.descriptor.digest ?? ''
    proxy.rules.corruptBlobs.add(layer)
    const before = await storeLeftovers(probe)
    const err = await probe.pull(`${proxy.host}/app/tamper:v1`).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('DigestMismatch')
    expect(await storeLeftovers(probe)).toEqual(before)

    // A manifest over the size cap is refused before it is buffered.
    proxy.rules.corruptBlobs.clear()
    proxy.rules.oversizeManifests = 5 * 1024 * 1024
    const big = await probe.pull(`${proxy.host}/app/tamper:v1`).catch((e: unknown) => e)
    expect((big as RegistryError).code).toBe('TooLarge')
    expect(await storeLeftovers(probe)).toEqual(before)
    await client.namespaces.delete(probe.namespace).catch(() => undefined)
  })

  it('resumes a blob download after the connection drops', async () => {
    await using proxy = await startTamperProxy(plain.url)
    const probe = client.withNamespace(`${client.namespace}-resume`)
    const image = await multiLayerImage({ layers: 1, layerSize: 600_000, seed: `resume-${Date.now()}` })
    await pushFixture(plain, image, 'app/resume', 'v1')
    const layer = image.layers[1]?.descriptor.digest ?? ''
    proxy.rules.dropBlobsAfter.set(layer, 300_000)
    const pulled = await probe.pull(`${proxy.host}/app/resume:v1`)
    expect(await pulled.isUnpacked()).toBe(true)
    // The second request for the layer asked only for the rest (from wherever the first one broke off).
    const resumed = proxy.log.filter((l) => l.includes(layer)).map((l) => /bytes=(\d+)-/.exec(l)?.[1]).filter((n) => n !== undefined)
    expect(resumed.length, proxy.log.join('\n')).toBe(1)
    expect(Number(resumed[0])).toBeGreaterThan(0)
    expect(Number(resumed[0])).toBeLessThanOrEqual(300_000)
    await probe.images.remove(pulled.name, { sync: true })
    await client.namespaces.delete(probe.namespace).catch(() => undefined)
  })

  it('follows blob redirects to storage on another host, which never sees our credentials, and resumes there', async () => {
    const creds = token.credentials
    if (creds === undefined) throw new Error('the token registry has no user')
    await using proxy = await startTamperProxy(token.url)
    proxy.rules.redirectBlobs = 'cdn'
    const probe = client.withNamespace(`${client.namespace}-redirect`)
    const image = await multiLayerImage({ layers: 2, layerSize: 400_000, seed: `redirect-${Date.now()}` })
    await pushFixture(token, image, 'team/redirect', 'v1')
    const dropped = image.layers[2]?.descriptor.digest ?? ''
    proxy.rules.dropBlobsAfter.set(dropped, 150_000)

    const pulled = await probe.pull(`${proxy.host}/team/redirect:v1`, { auth: creds })
    expect(await pulled.isUnpacked()).toBe(true)
    // Every blob the registry was asked for came from the CDN (the busybox base may be in the store already).
    const asked = proxy.log.filter((l) => /^GET \/v2\/team\/redirect\/blobs\//.test(l)).map((l) => l.split(' ')[1]?.split('/').pop())
    const served = proxy.cdn.requests.map((r) => r.path.split('/').pop())
    for (const layer of image.layers.slice(1)) expect(asked).toContain(layer.descriptor.digest)
    expect(new Set(served)).toEqual(new Set(asked))
    // The registry needed the token; the CDN never got it, nor any other credential.
    expect(proxy.cdn.requests.length).toBeGreaterThan(0)
    expect(proxy.cdn.requests.filter((r) => r.headers.authorization !== undefined)).toEqual([])
    // The dropped layer was resumed with a Range request that went through the redirect to the CDN.
    const resumed = proxy.log.filter((l) => l.startsWith(`GET cdn:`) && l.includes(dropped) && /bytes=\d+-/.test(l))
    expect(resumed.length, proxy.log.join('\n')).toBe(1)
    await probe.images.remove(pulled.name, { sync: true })
    await client.namespaces.delete(probe.namespace).catch(() => undefined)
  })

  it('fails a redirect loop with a typed error and leaves nothing behind', async () => {
    await using proxy = await startTamperProxy(plain.url)
    proxy.rules.redirectBlobs = 'loop'
    const probe = client.withNamespace(`${client.namespace}-loop`)
    const image = await multiLayerImage({ layers: 1, layerSize: 100_000, seed: `loop-${Date.now()}` })
    await pushFixture(plain, image, 'app/loop', 'v1')
    const before = await storeLeftovers(probe)
    const err = await probe.pull(`${proxy.host}/app/loop:v1`).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Protocol')
    expect((err as Error).message).toMatch(/more than 10 redirects/)
    expect(await storeLeftovers(probe)).toEqual(before)
    await client.namespaces.delete(probe.namespace).catch(() => undefined)
  })

  it('refuses unknown media types, expired tokens and a registry that goes away mid-pull, leaving nothing', async () => {
    const probe = client.withNamespace(`${client.namespace}-bad`)
    const before = await storeLeftovers(probe)

    await using proxy = await startTamperProxy(plain.url)
    proxy.rules.manifestMediaType = 'application/vnd.example.unknown+json'
    await expect(probe.pull(`${proxy.host}/library/busybox:latest`)).rejects.toBeInstanceOf(NotImplementedError)
    expect(await storeLeftovers(probe)).toEqual(before)

    // Tokens that are already expired when issued: the registry refuses them, and so do we.
    const server = token.tokenServer
    if (server === undefined || token.credentials === undefined) throw new Error('token registry without a token server')
    const lifetime = server.settings.lifetimeSeconds
    server.settings.lifetimeSeconds = -120
    try {
      const expired = await probe.pull(`${token.host}/team/busybox:v1`, { auth: token.credentials }).catch((e: unknown) => e)
      expect((expired as RegistryError).code).toBe('Unauthorized')
    } finally {
      server.settings.lifetimeSeconds = lifetime
    }
    expect(await storeLeftovers(probe)).toEqual(before)

    // The registry disappears while a layer downloads.
    const image = await multiLayerImage({ layers: 2, layerSize: 2_000_000, seed: `down-${Date.now()}` })
    await pushFixture(plain, image, 'app/down', 'v1')
    await using flaky = await startTamperProxy(plain.url)
    let closed = false
    const err = await probe.pull(`${flaky.host}/app/down:v1`, {
      maxConcurrentDownloads: 1,
      onProgress: (e) => {
        if (!closed && e.status === 'downloading' && (e.current ?? 0) > 0) {
          closed = true
          void flaky.close()
        }
      },
    }).catch((e: unknown) => e)
    expect(closed).toBe(true)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Unavailable')
    expect(await storeLeftovers(probe)).toEqual(before)
    await client.namespaces.delete(probe.namespace).catch(() => undefined)
  })
})
