import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NotImplementedError } from '../../src/index.js'
import type { PullProgressEvent } from '../../src/images/progress.js'
import { busyboxImage } from '../fixtures/index.js'
import { pushFixture, startRegistry, type Registry } from '../env/registry/index.js'
import { connectTestClient, ctr, daemonLine } from '../env/test-client.js'

const client = await connectTestClient('transfer-pull')
let plain: Registry
let token: Registry

beforeAll(async () => {
  ;[plain, token] = await Promise.all([startRegistry({ mode: 'plain' }), startRegistry({ mode: 'token' })])
  const busybox = await busyboxImage()
  await Promise.all([pushFixture(plain, busybox, 'library/busybox', 'latest'), pushFixture(token, busybox, 'team/busybox', 'v1')])
})
afterAll(async () => {
  await Promise.all([plain?.stop(), token?.stop()])
})

describe('pull through the Transfer service', () => {
  it.runIf(daemonLine() === '1.6')('is refused clearly on containerd 1.6', async () => {
    await expect(client.pull(`${plain.host}/library/busybox:latest`, { strategy: 'transfer' })).rejects.toBeInstanceOf(NotImplementedError)
  })

  // containerd 1.7's Transfer service ignores the client's hosts dir and default scheme, so it cannot
  // reach these private plain-HTTP / private-CA registries: 2.x only (see docs/guide-images.md).
  it.runIf(daemonLine() === '2.x')('pulls and unpacks, reporting progress as the same events', async () => {
    const events: PullProgressEvent[] = []
    const image = await client.pull(`${plain.host}/library/busybox:latest`, { strategy: 'transfer', onProgress: (e) => events.push(e) })
    expect(image.name).toBe(`${plain.host}/library/busybox:latest`)
    expect(await image.isUnpacked()).toBe(true)
    expect(events.length).toBeGreaterThan(0)
    expect(events.some((e) => e.digest === image.digest || e.status === 'done' || e.status === 'resolved')).toBe(true)
    const out = await ctr(client.namespace, 'run', '--rm', image.name, `transfer-${Date.now()}`, 'echo', 'transferred')
    expect(out).toContain('transferred')
  })

  it.runIf(daemonLine() === '2.x')('answers the daemon\'s credential requests over the Streaming service', async () => {
    const creds = token.credentials
    if (creds === undefined) throw new Error('no user')
    token.tokenServer?.resetCounts()
    const image = await client.pull(`${token.host}/team/busybox:v1`, { strategy: 'transfer', auth: creds })
    expect(await image.isUnpacked()).toBe(true)
    expect(token.tokenServer?.tokensIssued).toBeGreaterThan(0)
    await expect(client.pull(`${token.host}/team/busybox:v1`, { strategy: 'transfer', auth: { username: creds.username, password: 'wrong' } }))
      .rejects.toThrow()
  })
})
