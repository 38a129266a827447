import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { login, logout } from '../../src/registry/login.js'
import { RegistryError } from '../../src/registry/registry-error.js'
import { busyboxImage } from '../fixtures/index.js'
import { pushFixture, startRegistry, type Registry } from '../env/registry/index.js'
import { connectTestClient } from '../env/test-client.js'

const client = await connectTestClient('login')
let secure: Registry
let token: Registry
let dir: string
const savedDockerConfig = process.env['DOCKER_CONFIG']

beforeAll(async () => {
  ;[secure, token] = await Promise.all([startRegistry({ mode: 'tls-htpasswd' }), startRegistry({ mode: 'token' })])
  await pushFixture(token, await busyboxImage(), 'team/busybox', 'v1')
  dir = await mkdtemp(join(tmpdir(), 'csdk-login-'))
  process.env['DOCKER_CONFIG'] = dir
})
afterAll(async () => {
  if (savedDockerConfig === undefined) delete process.env['DOCKER_CONFIG']
  else process.env['DOCKER_CONFIG'] = savedDockerConfig
  await Promise.all([secure?.stop(), token?.stop(), rm(dir, { recursive: true, force: true })])
})

describe('login and logout', () => {
  it('refuses wrong credentials and stores nothing', async () => {
    const password = 'not-the-password'
    const err = await login(secure.host, {
      username: secure.credentials?.username ?? 'x',
      password,
      endpoints: [{ url: new URL(`${secure.url}/v2`), capabilities: new Set(['pull', 'resolve']), tls: { ca: [Buffer.from(secure.caPem ?? '')] } }],
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Unauthorized')
    expect((err as Error).message).not.toContain(password)
    await expect(stat(join(dir, 'config.json'))).rejects.toThrow()
  })

  it('checks Basic credentials over TLS and stores them in config.json with mode 0600', async () => {
    const creds = secure.credentials
    if (creds === undefined) throw new Error('no user')
    await login(secure.host, {
      ...creds,
      endpoints: [{ url: new URL(`${secure.url}/v2`), capabilities: new Set(['pull', 'resolve']), tls: { ca: [Buffer.from(secure.caPem ?? '')] } }],
    })
    const file = join(dir, 'config.json')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const config = JSON.parse(await readFile(file, 'utf8')) as { auths: Record<string, { auth: string }> }
    expect(Buffer.from(config.auths[secure.host]?.auth ?? '', 'base64').toString()).toBe(`${creds.username}:${creds.password}`)
    expect(await logout(secure.host)).toBe(true)
    const after = JSON.parse(await readFile(file, 'utf8')) as { auths?: Record<string, unknown> }
    expect(after.auths?.[secure.host]).toBeUndefined()
    expect(await logout(secure.host)).toBe(false)
  })

  it('logs in to a token registry; pull then uses the stored credentials', async () => {
    const creds = token.credentials
    if (creds === undefined) throw new Error('no user')
    await login(token.host, creds)
    const image = await client.pull(`${token.host}/team/busybox:v1`)
    expect(await image.isUnpacked()).toBe(true)
    await logout(token.host)
    await client.images.remove(image.name, { sync: true })
    const anonymous = await client.pull(`${token.host}/team/busybox:v1`).catch((e: unknown) => e)
    expect((anonymous as RegistryError).code).toBe('Unauthorized')
  })
})
