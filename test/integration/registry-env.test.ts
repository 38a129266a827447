import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { busyboxImage, MediaType, multiPlatformIndex, type OciImage, type OciImageIndex } from '../fixtures/index.js'
import {
  basicAuthorization,
  decodeJwt,
  httpRequest,
  parseChallenge,
  pushFixture,
  skopeoInspect,
  startRegistry,
  type HttpResponse,
  type Registry,
  type TokenResponse,
  type TokenServer,
} from '../env/registry/index.js'

// The registry environment itself: no containerd involved, so it runs the same in every project.

const ACCEPT = [MediaType.manifest, MediaType.index, 'application/vnd.docker.distribution.manifest.v2+json'].join(', ')

let busybox: OciImage
let index: OciImageIndex
beforeAll(async () => {
  busybox = await busyboxImage()
  index = await multiPlatformIndex()
})

function get(registry: Registry, path: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return httpRequest(`${registry.url}${path}`, { headers, ...(registry.caPem === undefined ? {} : { ca: registry.caPem }) })
}

/** Pushes both fixtures and checks that skopeo reads back exactly their bytes. */
async function pushAndInspect(registry: Registry): Promise<void> {
  const single = await pushFixture(registry, busybox, 'library/busybox', 'latest')
  const multi = await pushFixture(registry, index, 'library/busybox', 'multi')
  expect(single).toEqual({ reference: `${registry.host}/library/busybox:latest`, digest: busybox.manifest.digest, mediaType: MediaType.manifest })
  expect(multi.digest).toBe(index.index.digest)

  const a = await skopeoInspect(registry, 'library/busybox:latest')
  expect(a.digest).toBe(busybox.manifest.digest)
  expect(a.manifest).toMatchObject({ mediaType: MediaType.manifest, config: { digest: busybox.config.digest } })
  const b = await skopeoInspect(registry, `library/busybox@${index.index.digest}`)
  expect(b.digest).toBe(index.index.digest)
  expect(b.manifest).toMatchObject({ mediaType: MediaType.index, manifests: index.images.map((i) => ({ digest: i.manifest.digest })) })
  // --all pushed every platform's manifest, not just the host's.
  const arm = index.images[1]
  expect(arm?.platform.architecture).toBe('arm64')
  expect((await skopeoInspect(registry, `library/busybox@${arm?.manifest.digest ?? ''}`)).digest).toBe(arm?.manifest.digest)
}

describe('plain registry', () => {
  let registry: Registry
  beforeAll(async () => { registry = await startRegistry({ mode: 'plain' }) })
  afterAll(async () => { await registry.stop() })

  it('answers /v2/ over HTTP without credentials', async () => {
    expect(registry.url).toBe(`http://${registry.host}`)
    expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/)
    expect((await get(registry, '/v2/')).status).toBe(200)
    expect(registry.credentials).toBeUndefined()
  })

  it('serves fixtures pushed with skopeo byte for byte', async () => {
    await pushAndInspect(registry)
    const res = await get(registry, '/v2/library/busybox/manifests/latest', { accept: ACCEPT })
    expect(res.status).toBe(200)
    expect(res.headers['docker-content-digest']).toBe(busybox.manifest.digest)
  })
})

describe('tls-htpasswd registry', () => {
  let registry: Registry
  beforeAll(async () => { registry = await startRegistry({ mode: 'tls-htpasswd', users: { alice: 'wonderland', bob: 'builder' } }) })
  afterAll(async () => { await registry.stop() })

  it('serves HTTPS with a certificate for 127.0.0.1 and localhost from its own CA', async () => {
    expect(registry.url).toBe(`https://${registry.host}`)
    expect(registry.caPem).toContain('BEGIN CERTIFICATE')
    const port = registry.host.split(':')[1] ?? ''
    expect((await httpRequest(`https://localhost:${port}/v2/`, { ca: registry.caPem ?? '' })).status).toBe(401)
    // Without the throwaway CA the certificate must not verify.
    await expect(httpRequest(`${registry.url}/v2/`)).rejects.toThrow(/certificate/i)
  })

  it('challenges with Basic and rejects wrong credentials', async () => {
    const anonymous = await get(registry, '/v2/')
    expect(anonymous.status).toBe(401)
    expect(parseChallenge(anonymous.headers['www-authenticate'])).toEqual({ scheme: 'basic', params: { realm: 'csdk-registry' } })
    expect((await get(registry, '/v2/', { authorization: basicAuthorization('alice', 'wrong') })).status).toBe(401)
    expect((await get(registry, '/v2/', { authorization: basicAuthorization('mallory', 'wonderland') })).status).toBe(401)
    expect((await get(registry, '/v2/', { authorization: basicAuthorization('bob', 'builder') })).status).toBe(200)
    await expect(pushFixture(registry, busybox, 'library/busybox', 'denied', { credentials: { username: 'alice', password: 'wrong' } })).rejects.toThrow(/unauthorized|authentication required/i)
  })

  it('serves fixtures pushed with skopeo byte for byte', async () => {
    expect(registry.credentials).toEqual({ username: 'alice', password: 'wonderland' })
    await pushAndInspect(registry)
  })
})

describe('token registry', () => {
  let registry: Registry
  let tokens: TokenServer
  beforeAll(async () => {
    registry = await startRegistry({ mode: 'token', users: { alice: 'wonderland' } })
    if (registry.tokenServer === undefined) throw new Error('token mode without a token server')
    tokens = registry.tokenServer
  })
  afterAll(async () => { await registry.stop() })

  const alice = basicAuthorization('alice', 'wonderland')
  const scope = 'repository:library/busybox:pull'

  async function fetchToken(query: Record<string, string>, authorization?: string): Promise<HttpResponse> {
    const params = new URLSearchParams({ service: tokens.service, ...query })
    return httpRequest(`${tokens.realm}?${params.toString()}`, { headers: authorization === undefined ? {} : { authorization } })
  }

  async function postToken(form: Record<string, string>): Promise<HttpResponse> {
    return httpRequest(tokens.realm, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ service: tokens.service, client_id: 'containerd-sdk-test', ...form }).toString(),
    })
  }

  function getManifest(token: string, ref = 'latest'): Promise<HttpResponse> {
    return get(registry, `/v2/library/busybox/manifests/${ref}`, { accept: ACCEPT, authorization: `Bearer ${token}` })
  }

  it('challenges with Bearer naming the token server and the service', async () => {
    const res = await get(registry, '/v2/')
    expect(res.status).toBe(401)
    expect(parseChallenge(res.headers['www-authenticate'])).toEqual({ scheme: 'bearer', params: { realm: tokens.realm, service: 'csdk-registry' } })
    const repo = await get(registry, '/v2/library/busybox/manifests/latest')
    expect(parseChallenge(repo.headers['www-authenticate'])?.params['scope']).toBe(scope)
  })

  it('serves fixtures pushed with skopeo byte for byte, every token request counted', async () => {
    tokens.resetCounts()
    await pushAndInspect(registry)
    expect(tokens.requestCount).toBeGreaterThan(0)
    expect(tokens.requests.every((r) => r.status === 200 && r.username === 'alice' && r.grant === 'basic')).toBe(true)
    expect(tokens.requests.some((r) => r.scopes.includes('repository:library/busybox:pull,push'))).toBe(true)
  })

  it('issues tokens over GET that the registry accepts', async () => {
    tokens.resetCounts()
    const res = await fetchToken({ scope }, alice)
    expect(res.status).toBe(200)
    const body = res.json() as TokenResponse
    expect(body.access_token).toBe(body.token)
    expect(body.expires_in).toBe(300)
    expect(body.refresh_token).toBeUndefined()
    const { header, claims } = decodeJwt(body.token)
    expect(header).toMatchObject({ typ: 'JWT', alg: 'RS256', kid: tokens.keyId })
    expect(header.kid).toMatch(/^(?:[A-Z2-7]{4}:){11}[A-Z2-7]{4}$/)
    expect(claims).toMatchObject({ iss: 'csdk-token-server', sub: 'alice', aud: 'csdk-registry', access: [{ type: 'repository', name: 'library/busybox', actions: ['pull'] }] })
    expect(claims.exp - claims.iat).toBe(300)

    const manifest = await getManifest(body.token)
    expect(manifest.status).toBe(200)
    expect(manifest.headers['docker-content-digest']).toBe(busybox.manifest.digest)
    // A pull token does not allow pushing.
    const upload = await httpRequest(`${registry.url}/v2/library/busybox/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${body.token}` } })
    expect(upload.status).toBe(401)
    expect(parseChallenge(upload.headers['www-authenticate'])?.params['error']).toBe('insufficient_scope')
    expect(tokens.requestCount).toBe(1)
    expect(tokens.tokensIssued).toBe(1)

    // offline_token=true adds a refresh token, which the POST endpoint then accepts.
    const offline = (await fetchToken({ scope, offline_token: 'true', client_id: 'containerd-sdk-test' }, alice)).json() as TokenResponse
    expect(offline.refresh_token).toEqual(expect.any(String))
    const refreshed = await postToken({ grant_type: 'refresh_token', refresh_token: offline.refresh_token ?? '', scope })
    expect((await getManifest((refreshed.json() as TokenResponse).token)).status).toBe(200)
    expect(tokens.requests.slice(1).map((r) => [r.method, r.grant, r.offline, r.clientId])).toEqual([
      ['GET', 'basic', true, 'containerd-sdk-test'],
      ['POST', 'refresh_token', false, 'containerd-sdk-test'],
    ])
  })

  it('rejects wrong credentials at the token server and tokens it did not sign', async () => {
    tokens.resetCounts()
    const wrong = await fetchToken({ scope }, basicAuthorization('alice', 'wrong'))
    expect(wrong.status).toBe(401)
    expect(parseChallenge(wrong.headers['www-authenticate'])?.scheme).toBe('basic')
    expect((await fetchToken({ scope })).status).toBe(401)
    expect((await fetchToken({ scope, service: 'elsewhere' }, alice)).status).toBe(400)
    expect(tokens.requests.map((r) => r.status)).toEqual([401, 401, 400])
    expect(tokens.tokensIssued).toBe(0)

    const good = (await fetchToken({ scope }, alice)).json() as TokenResponse
    const [h, c] = good.token.split('.')
    const forged = `${h ?? ''}.${c ?? ''}.${Buffer.alloc(256, 1).toString('base64url')}`
    expect((await getManifest(forged)).status).toBe(401)
  })

  it('issues tokens and refresh tokens over POST (OAuth2 password and refresh_token grants)', async () => {
    tokens.resetCounts()
    const first = await postToken({ grant_type: 'password', username: 'alice', password: 'wonderland', scope, access_type: 'offline' })
    expect(first.status).toBe(200)
    const issued = first.json() as TokenResponse
    expect(issued.refresh_token).toEqual(expect.any(String))
    expect((await getManifest(issued.access_token)).status).toBe(200)

    const refreshed = await postToken({ grant_type: 'refresh_token', refresh_token: issued.refresh_token ?? '', scope: `${scope} repository:library/other:pull` })
    expect(refreshed.status).toBe(200)
    const again = refreshed.json() as TokenResponse
    expect(decodeJwt(again.access_token).claims.access.map((a) => a.name)).toEqual(['library/busybox', 'library/other'])
    expect((await getManifest(again.access_token, 'multi')).status).toBe(200)

    expect((await postToken({ grant_type: 'password', username: 'alice', password: 'nope', scope })).status).toBe(401)
    expect((await postToken({ grant_type: 'refresh_token', refresh_token: 'made-up', scope })).status).toBe(400)
    expect((await postToken({ grant_type: 'password', username: 'alice', password: 'wonderland', scope, client_id: '' })).status).toBe(400)
    expect(tokens.requests.map((r) => [r.grant, r.status, r.clientId])).toEqual([
      ['password', 200, 'containerd-sdk-test'],
      ['refresh_token', 200, 'containerd-sdk-test'],
      ['password', 401, 'containerd-sdk-test'],
      ['refresh_token', 400, 'containerd-sdk-test'],
      ['password', 400, ''],
    ])
  })

  it('accepts tokens that name their key by libtrust kid only', async () => {
    tokens.settings.header = 'kid'
    try {
      const body = (await fetchToken({ scope }, alice)).json() as TokenResponse
      expect(decodeJwt(body.token).header).toEqual({ typ: 'JWT', alg: 'RS256', kid: tokens.keyId })
      expect((await getManifest(body.token)).status).toBe(200)
    } finally {
      tokens.settings.header = 'x5c'
    }
  })

  it('rejects expired tokens (beyond the registry’s 60 s leeway)', async () => {
    const access = [{ type: 'repository', name: 'library/busybox', actions: ['pull'] }]
    expect((await getManifest(tokens.issueToken('alice', access, -30))).status).toBe(200)
    expect((await getManifest(tokens.issueToken('alice', access, -61))).status).toBe(401)
    tokens.settings.lifetimeSeconds = -120
    try {
      const body = (await fetchToken({ scope }, alice)).json() as TokenResponse
      // Still reported as cacheable, so a client only learns from the registry's 401.
      expect(body.expires_in).toBe(60)
      expect((await getManifest(body.token)).status).toBe(401)
    } finally {
      tokens.settings.lifetimeSeconds = 300
    }
  })

  it('grants anonymous pulls only when allowed', async () => {
    expect((await fetchToken({ scope })).status).toBe(401)
    tokens.settings.allowAnonymousPull = true
    try {
      const res = await fetchToken({ scope: 'repository:library/busybox:pull,push' })
      expect(res.status).toBe(200)
      const body = res.json() as TokenResponse
      expect(decodeJwt(body.token).claims).toMatchObject({ sub: '', access: [{ name: 'library/busybox', actions: ['pull'] }] })
      expect((await getManifest(body.token)).status).toBe(200)
      expect(tokens.requests.at(-1)?.grant).toBe('anonymous')
    } finally {
      tokens.settings.allowAnonymousPull = false
    }
  })
})

describe('registry lifecycle', () => {
  it('stop() kills the registry, closes the token server and removes the temp dir', async () => {
    const registry = await startRegistry({ mode: 'token' })
    const { pid, dir } = registry
    const realm = registry.tokenServer?.realm ?? ''
    expect(existsSync(registry.logFile)).toBe(true)
    await registry.stop()
    await registry.stop()
    expect(registry.pid).toBe(-1)
    expect(() => process.kill(pid, 0)).toThrow()
    expect(existsSync(dir)).toBe(false)
    await expect(httpRequest(realm, { timeoutMs: 2_000 })).rejects.toThrow()
  })
})
