import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { NotImplementedError, RegistryError } from '../../src/index.js'
import type { PullProgressEvent } from '../../src/images/progress.js'
import { busyboxImage } from '../fixtures/index.js'
import { pushFixture, startRegistry, type Registry } from '../env/registry/index.js'
import { connectTestClient, ctr, daemonLine } from '../env/test-client.js'
import { storeLeftovers } from '../env/store-leftovers.js'

const client = await connectTestClient('transfer-pull')
const line = daemonLine()
// containerd 1.7's Transfer service reads no hosts.toml and ignores the client's host_dir and
// default_scheme (pkg/transfer/registry/registry.go builds its resolver from
// docker.ConfigureDefaultRegistries alone): it speaks HTTPS and trusts the daemon's system roots. The
// suite's daemon trusts a CA made before it started (SSL_CERT_FILE, test/env/global-setup.ts), so these
// registries serve certificates from that CA; 2.x would also reach them through its localhost rule.
const ca = inject('daemonTrustedCa')
const skipReason =
  line === '1.6' ? 'containerd 1.6 has no Transfer service'
    : line === 'external' || ca === undefined ? 'an external daemon does not trust the suite\'s CA, and its 1.7 Transfer service could reach only registries its system roots trust'
      : undefined

let plain: Registry
let secure: Registry
let token: Registry
let basic: Registry

beforeAll(async () => {
  const tlsCa = ca === undefined ? {} : { ca }
  ;[plain, secure, token, basic] = await Promise.all([
    startRegistry({ mode: 'plain' }),
    startRegistry({ mode: 'plain', tls: true, ...tlsCa }),
    startRegistry({ mode: 'token', tls: true, ...tlsCa }),
    startRegistry({ mode: 'tls-htpasswd', ...tlsCa }),
  ])
  const busybox = await busyboxImage()
  await Promise.all([
    pushFixture(plain, busybox, 'library/busybox', 'latest'),
    pushFixture(secure, busybox, 'library/busybox', 'latest'),
    pushFixture(token, busybox, 'team/busybox', 'v1'),
    pushFixture(basic, busybox, 'private/busybox', 'v1'),
  ])
})
afterAll(async () => {
  await Promise.all([plain?.stop(), secure?.stop(), token?.stop(), basic?.stop()])
})


describe('pull through the Transfer service', () => {
  it.runIf(line === '1.6')('is refused clearly on containerd 1.6', async () => {
    await expect(client.pull(`${plain.host}/library/busybox:latest`, { strategy: 'transfer' })).rejects.toBeInstanceOf(NotImplementedError)
  })

  it('pulls and unpacks over HTTPS, reporting progress as the same events', async (ctx) => {
    ctx.skip(skipReason !== undefined, skipReason)
    const events: PullProgressEvent[] = []
    const image = await client.pull(`${secure.host}/library/busybox:latest`, { strategy: 'transfer', onProgress: (e) => events.push(e) })
    expect(image.name).toBe(`${secure.host}/library/busybox:latest`)
    expect(await image.isUnpacked()).toBe(true)
    const { descriptor, manifest } = await image.manifest()
    expect(events[0]?.status).toBe('resolving')
    expect(events.at(-1)?.status).toBe('done')
    expect(events.every((e) => e.ref === image.name)).toBe(true)
    // Each blob is named by its digest (2.x sends descriptors; 1.7 only ingest keys like `layer-sha256:…`).
    for (const blob of [descriptor, manifest.config, ...manifest.layers]) {
      expect(events).toContainEqual(expect.objectContaining({ status: 'waiting', digest: blob.digest, total: blob.size }))
      expect(events.filter((e) => e.digest === blob.digest).map((e) => e.status)).toEqual(expect.arrayContaining([expect.stringMatching(/^(downloaded|exists)$/)]))
    }
    const out = await ctr(client.namespace, 'run', '--rm', image.name, `transfer-${Date.now()}`, 'echo', 'transferred')
    expect(out).toContain('transferred')
  })

  it('answers the daemon\'s credential requests over the Streaming service', async (ctx) => {
    ctx.skip(skipReason !== undefined, skipReason)
    const creds = token.credentials
    if (creds === undefined) throw new Error('no user')
    token.tokenServer?.resetCounts()
    const image = await client.pull(`${token.host}/team/busybox:v1`, { strategy: 'transfer', auth: creds })
    expect(await image.isUnpacked()).toBe(true)
    // The token server only issues tokens for the right password, which the daemon got from us.
    expect(token.tokenServer?.tokensIssued).toBeGreaterThan(0)

    // Basic auth: the daemon sends the user and password it got from us to the registry itself.
    const user = basic.credentials
    if (user === undefined) throw new Error('no user')
    const private_ = await client.pull(`${basic.host}/private/busybox:v1`, { strategy: 'transfer', auth: user })
    expect(await private_.isUnpacked()).toBe(true)
    const anonymous = await client.pull(`${basic.host}/private/busybox:v1`, { strategy: 'transfer', auth: () => undefined }).catch((e: unknown) => e)
    expect((anonymous as RegistryError).code).toBe('Unauthorized')
  })

  it('fails a wrong password with a typed error and leaves nothing behind', async (ctx) => {
    ctx.skip(skipReason !== undefined, skipReason)
    const probe = client.withNamespace(`${client.namespace}-fail`)
    const before = await storeLeftovers(probe)
    const password = 'definitely-wrong-password'
    const denied = await probe.pull(`${token.host}/team/busybox:v1`, {
      strategy: 'transfer',
      auth: { username: token.credentials?.username ?? 'x', password },
    }).catch((e: unknown) => e)
    expect(denied).toBeInstanceOf(RegistryError)
    expect((denied as RegistryError).code).toBe('Unauthorized')
    expect(String((denied as Error).message)).not.toContain(password)

    const missing = await probe.pull(`${secure.host}/library/nope:latest`, { strategy: 'transfer' }).catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(RegistryError)
    expect((missing as RegistryError).code).toBe('NotFound')

    expect(await storeLeftovers(probe)).toEqual(before)
    expect((await client.namespaces.list()).map((n) => n.name)).not.toContain(probe.namespace)
    await client.namespaces.delete(probe.namespace).catch(() => undefined)
  })

  it.runIf(line === '2.x')('reaches a plain-HTTP loopback registry through containerd 2.x\'s localhost rule', async () => {
    const image = await client.pull(`${plain.host}/library/busybox:latest`, { strategy: 'transfer' })
    expect(await image.isUnpacked()).toBe(true)
  })

  it.runIf(line === '1.7')('names containerd 1.7\'s limits: plain HTTP, or a CA only hosts.toml names', async () => {
    const err = await client.pull(`${plain.host}/library/busybox:latest`, { strategy: 'transfer' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Unavailable')
    expect((err as Error).message).toMatch(/1\.7.*HTTPS/)

    // A registry with its own CA, named in a hosts.toml the daemon is given: 1.7 reads none of it.
    await using other = await startRegistry({ mode: 'plain', tls: true })
    await pushFixture(other, await busyboxImage(), 'library/busybox', 'latest')
    const hosts = await mkdtemp(join(tmpdir(), 'csdk-transfer-hosts-'))
    try {
      await mkdir(join(hosts, other.host))
      await writeFile(join(hosts, other.host, 'hosts.toml'), `server = "${other.url}"\n\n[host."${other.url}"]\n  capabilities = ["pull", "resolve"]\n  ca = ${JSON.stringify(other.caFile)}\n`)
      const untrusted = await client.pull(`${other.host}/library/busybox:latest`, { strategy: 'transfer', registry: { configDirs: [hosts] } }).catch((e: unknown) => e)
      expect((untrusted as RegistryError).code).toBe('Unavailable')
      expect((untrusted as Error).message).toMatch(/does not trust/)
    } finally {
      await rm(hosts, { recursive: true, force: true })
    }
  })
})
