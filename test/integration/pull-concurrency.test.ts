// Concurrent pulls and runs (issue 10): callers sharing a pull keep their own credentials, signal and
// progress; pulls of shared layers from several processes wait for each other's locked ingests; the
// operation lease is short and renewed, so a killed pull frees its content within the expiry.
import { spawn } from 'node:child_process'
import { getEventListeners } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { busyboxImage, multiLayerImage } from '../fixtures/index.js'
import { pushFixture, startRegistry, type Registry } from '../env/registry/index.js'
import { connectTestClient, daemonAddress } from '../env/test-client.js'
import { storeLeftovers } from '../env/store-leftovers.js'
import { CanceledError, Client } from '../../src/index.js'
import type { PullProgressEvent } from '../../src/images/progress.js'
import { RegistryError } from '../../src/registry/registry-error.js'
import { LEASE_CHAIN_LABEL, LEASE_EXPIRE_LABEL } from '../../src/client/leases/lease-manager.js'

let plain: Registry
let token: Registry
const clients: Client[] = []

async function freshClient(label: string): Promise<Client> {
  const c = await connectTestClient(label)
  clients.push(c)
  return c
}

/**
 * An HTTP proxy in front of the plain registry that holds blob bodies after their first 64 KiB until
 * `release()`: a pull through it stays mid-download as long as a test needs.
 */
interface StallProxy {
  host: string
  /** Blob GETs seen. */
  blobGets: number
  release(): void
  stall(): void
  close(): Promise<void>
}

async function startStallProxy(target: string): Promise<StallProxy> {
  let gate: { promise: Promise<void>; open: () => void } | undefined
  const stall = (): void => {
    let open = (): void => undefined
    const promise = new Promise<void>((resolve) => { open = resolve })
    gate = { promise, open }
  }
  stall()
  const proxy: StallProxy = {
    host: '',
    blobGets: 0,
    release: () => gate?.open(),
    stall,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
  const server: Server = createServer((req, res) => {
    const [host, port] = target.split(':')
    const up = request({ host, port: Number(port), path: req.url, method: req.method, headers: { ...req.headers, host: target } }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers)
      const isBlob = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '')
      if (!isBlob) return void upRes.pipe(res)
      proxy.blobGets++
      let sent = 0
      const held = gate?.promise
      upRes.on('data', (chunk: Buffer) => {
        if (sent >= 64 * 1024 && held !== undefined) {
          upRes.pause()
          void held.then(() => { res.write(chunk); upRes.resume() })
        } else {
          res.write(chunk)
        }
        sent += chunk.byteLength
      })
      upRes.on('end', () => void (held ?? Promise.resolve()).then(() => res.end()))
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  proxy.host = `127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  return proxy
}

let stalled: StallProxy
let slowImages = 0

/**
 * Pushes an image with a 4 MiB layer no other test has, so its download really goes through the stall
 * proxy (containerd's content store is shared across namespaces: a blob stored once is not fetched again).
 */
async function slowImage(): Promise<string> {
  const tag = `v${++slowImages}`
  await pushFixture(plain, await multiLayerImage({ layers: 1, layerSize: 4 * 1024 * 1024, seed: `slow-${process.pid}-${Date.now()}-${tag}` }), 'slow/layers', tag)
  return `${stalled.host}/slow/layers:${tag}`
}

beforeAll(async () => {
  ;[plain, token] = await Promise.all([startRegistry({ mode: 'plain' }), startRegistry({ mode: 'token' })])
  const base = await busyboxImage()
  stalled = await startStallProxy(plain.host)
  // Images sharing their base layer: busybox with other configs, and multi-layer images of other seeds.
  const pushes: Promise<unknown>[] = [
    pushFixture(token, base, 'team/busybox', 'v1'),
  ]
  for (let i = 0; i < 3; i++) {
    pushes.push(pushFixture(plain, await busyboxImage({ config: { Env: [`PATH=/bin`, `VARIANT=${i}`] } }), 'shared/busybox', `v${i}`))
    pushes.push(pushFixture(plain, await multiLayerImage({ layers: 2, layerSize: 256 * 1024, seed: `shared-${i}` }), 'shared/layers', `v${i}`))
  }
  await Promise.all(pushes)
}, 120_000)
afterAll(async () => {
  stalled?.release()
  for (const c of clients) c.close()
  await Promise.all([plain?.stop(), token?.stop(), stalled?.close()])
})

interface ChildResult { ref: string; ok: boolean; code?: string; message?: string }

/** Runs test/env/pull-child.ts in its own Node process and resolves with its per-reference results. */
function pullInChild(namespace: string, refs: string[]): Promise<ChildResult[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'test/env/pull-child.ts', daemonAddress(), namespace, '-', ...refs], { stdio: 'pipe' })
    proc.stdin.end()
    let out = ''
    let err = ''
    proc.stdout.on('data', (d: Buffer) => { out += d.toString() })
    proc.stderr.on('data', (d: Buffer) => { err += d.toString() })
    proc.on('error', reject)
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`pull-child exited ${code}: ${err}`))
      resolve(out.trim().split('\n').map((l) => JSON.parse(l) as ChildResult))
    })
  })
}

describe('concurrent pulls sharing layers', () => {
  it('10 pulls of images sharing layers from 3 processes all succeed and leave no lease or ingest', async () => {
    const c = await freshClient('pull-conc-procs')
    const refs = [0, 1, 2].flatMap((i) => [`${plain.host}/shared/busybox:v${i}`, `${plain.host}/shared/layers:v${i}`])
    // 4 + 3 + 3 pulls, each process with an overlapping set.
    const sets = [[refs[0], refs[1], refs[2], refs[3]], [refs[2], refs[3], refs[4]], [refs[4], refs[5], refs[0]]] as string[][]
    const results = (await Promise.all(sets.map((s) => pullInChild(c.namespace, s)))).flat()
    expect(results).toHaveLength(10)
    expect(results.filter((r) => !r.ok)).toEqual([])
    const left = await storeLeftovers(c)
    expect({ leases: left.leases, ingests: left.ingests }).toEqual({ leases: 0, ingests: 0 })
    expect(left.images).toBe(6)
  }, 180_000)

  it('10 pulls of images sharing layers in one process all succeed', async () => {
    const c = await freshClient('pull-conc-one')
    const refs = [0, 1, 2].flatMap((i) => [`${plain.host}/shared/busybox:v${i}`, `${plain.host}/shared/layers:v${i}`])
    const all = Array.from({ length: 10 }, (_, i) => refs[i % refs.length] as string)
    const results = await Promise.allSettled(all.map((r) => c.pull(r)))
    expect(results.filter((r) => r.status === 'rejected')).toEqual([])
    const left = await storeLeftovers(c)
    expect({ leases: left.leases, ingests: left.ingests }).toEqual({ leases: 0, ingests: 0 })
  }, 180_000)
})

/** Collects a pull's progress events. */
function recorder(): { events: PullProgressEvent[]; onProgress: (e: PullProgressEvent) => void } {
  const events: PullProgressEvent[] = []
  return { events, onProgress: (e) => events.push(e) }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

// Makes containerd collect garbage now: a synchronous lease deletion runs its GC, which drops expired leases.
async function collectGarbage(c: Client): Promise<void> {
  const lease = await c.leases.create()
  await lease.delete({ sync: true })
}

describe('concurrent pulls of one image: shared work, not shared authority', () => {
  it.each(['bad first', 'good first'])('each caller gets the verdict of its own credentials (%s)', async (order) => {
    const c = await freshClient('pull-conc-auth')
    const good = token.credentials
    if (good === undefined) throw new Error('the token registry has no user')
    const bad = { username: good.username, password: `${good.password}-wrong` }
    const ref = `${token.host}/team/busybox:v1`
    const calls = order === 'bad first' ? [bad, good] : [good, bad]
    const [first, second] = await Promise.allSettled(calls.map((auth) => c.pull(ref, { auth })))
    const [badResult, goodResult] = order === 'bad first' ? [first, second] : [second, first]
    expect(goodResult?.status).toBe('fulfilled')
    expect(badResult?.status).toBe('rejected')
    const err = (badResult as PromiseRejectedResult).reason as RegistryError
    expect(err).toBeInstanceOf(RegistryError)
    expect(err.code).toBe('Unauthorized')
    expect((await c.images.get(ref)).name).toBe(ref)
    expect(await c.leases.list()).toEqual([])
  }, 60_000)

  it("one caller's abort ends only its own wait; both callers get progress", async () => {
    const c = await freshClient('pull-conc-abort')
    const ref = await slowImage()
    stalled.stall()
    const a = recorder()
    const b = recorder()
    const controller = new AbortController()
    const gets = stalled.blobGets
    const pullA = c.pull(ref, { signal: controller.signal, onProgress: a.onProgress })
    const pullB = c.pull(ref, { onProgress: b.onProgress })
    const settledA = pullA.then(() => 'resolved', (err: unknown) => err)
    // Both are waiting while the layers are held mid-download.
    await until('a held blob download', () => stalled.blobGets > gets && a.events.some((e) => e.status === 'downloading' && (e.total ?? 0) > 1024 * 1024))
    const reason = new Error('caller A gave up')
    controller.abort(reason)
    const errA = await settledA
    expect(errA).toBeInstanceOf(CanceledError)
    expect((errA as CanceledError).cause).toBe(reason)
    stalled.release()
    const image = await pullB
    expect(image.name).toBe(ref)
    expect(await image.isUnpacked()).toBe(true)
    // Everyone gets progress: A until it left, B to the end.
    expect(a.events.some((e) => e.status === 'downloading' && (e.total ?? 0) > 1024 * 1024)).toBe(true)
    expect(b.events.map((e) => e.status)).toEqual(expect.arrayContaining(['resolving', 'resolved', 'downloading', 'unpacked', 'done']))
    expect(b.events[b.events.length - 1]?.status).toBe('done')
    expect(await c.leases.list()).toEqual([])
    expect(await c.content.listStatuses()).toEqual([])
  }, 60_000)

  it('the last caller to abort cancels the shared work and nothing of it is left', async () => {
    const c = await freshClient('pull-conc-abort-all')
    const ref = await slowImage()
    stalled.stall()
    const controllers = [new AbortController(), new AbortController()]
    const seen = recorder()
    const gets = stalled.blobGets
    const pulls = controllers.map((ctl, i) => c.pull(ref, { signal: ctl.signal, ...(i === 0 ? { onProgress: seen.onProgress } : {}) }).then(() => 'resolved', (err: unknown) => err))
    await until('a held blob download', () => stalled.blobGets > gets && seen.events.some((e) => e.status === 'downloading' && (e.total ?? 0) > 1024 * 1024))
    for (const ctl of controllers) ctl.abort()
    for (const result of await Promise.all(pulls)) expect(result).toBeInstanceOf(CanceledError)
    stalled.release()
    const left = await storeLeftovers(c)
    expect(left).toMatchObject({ images: 0, leases: 0, ingests: 0 })
  }, 60_000)
})

describe('a signal shared by many pulls', () => {
  it('keeps no abort listener once each pull settled', async () => {
    const c = await freshClient('pull-conc-signal')
    const controller = new AbortController()
    const ref = `${plain.host}/shared/busybox:v0`
    for (let i = 0; i < 12; i++) await c.pull(ref, { signal: controller.signal })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  }, 60_000)
})

describe('operation leases: short and renewed', () => {
  it('a pull that outlives its lease expiry many times over succeeds: the lease is renewed', async () => {
    const c = await freshClient('pull-lease-renew')
    const ref = await slowImage()
    stalled.stall()
    const seen = recorder()
    const gets = stalled.blobGets
    const pulled = c.pull(ref, { leaseExpiresInMs: 1500, onProgress: seen.onProgress })
    await until('a held blob download', () => stalled.blobGets > gets && seen.events.some((e) => e.status === 'downloading' && (e.total ?? 0) > 1024 * 1024))
    const leases = await c.leases.list()
    expect(leases.length).toBeGreaterThan(0)
    const expiry = Date.parse(leases[0]?.labels[LEASE_EXPIRE_LABEL] ?? '')
    expect(expiry - Date.now()).toBeLessThanOrEqual(1500)
    // Four expiries, with garbage collections that drop every expired lease.
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 1000))
      await collectGarbage(c)
    }
    stalled.release()
    const image = await pulled
    expect(await image.isUnpacked()).toBe(true)
    expect(await c.leases.list()).toEqual([])
  }, 60_000)

  it('the lease of a pull whose process was killed expires within the short expiry', async () => {
    const c = await freshClient('pull-lease-crash')
    const ref = await slowImage()
    stalled.stall()
    const expiryMs = 3000
    const proc = spawn(process.execPath, ['--import', 'tsx', 'test/env/pull-child.ts', daemonAddress(), c.namespace, String(expiryMs), 'hold', ref], { stdio: 'pipe' })
    proc.stdin.end()
    let out = ''
    let err = ''
    proc.stdout.on('data', (d: Buffer) => { out += d.toString() })
    proc.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)))
    await until(`the child to start downloading (stderr: ${err})`, () => out.includes('started'), 30_000)
    const held = await c.leases.list()
    expect(held.length).toBeGreaterThan(0)
    expect(held.every((l) => l.labels[LEASE_CHAIN_LABEL] !== undefined)).toBe(true)
    expect((await c.content.listStatuses()).length).toBeGreaterThan(0)
    proc.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')
    const killedAt = Date.now()
    stalled.release()
    // Garbage collection runs when something triggers it (here a deletion, in real life the next
    // operation): then the dead pull's leases, ingests and content are gone.
    await until('the killed pull\'s leases to expire', async () => {
      await collectGarbage(c)
      return (await c.leases.list()).length === 0
    }, expiryMs + 10_000)
    expect(Date.now() - killedAt).toBeLessThan(expiryMs + 10_000)
    const left = await storeLeftovers(c)
    expect(left).toMatchObject({ leases: 0, ingests: 0, content: 0, snapshots: 0 })
  }, 60_000)
})

describe('concurrent runs', () => {
  let dataRoot: string
  let runClient: Client
  beforeAll(async () => {
    dataRoot = await mkdtemp(join(tmpdir(), 'csdk-run-conc-'))
    const base = await freshClient('run-conc')
    runClient = await Client.connect({ address: daemonAddress(), namespace: base.namespace, dataRoot })
    clients.push(runClient)
  })
  afterAll(async () => {
    await rm(dataRoot, { recursive: true, force: true })
  })

  it('20 concurrent run()s of two images sharing a layer all succeed and leave nothing', async () => {
    const refs = [`${plain.host}/shared/busybox:v0`, `${plain.host}/shared/busybox:v1`]
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) =>
      runClient.run(refs[i % 2] as string, { args: ['echo', `run ${i}`], stdio: 'pipe', rm: true })))
    const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))
    expect(failed).toEqual([])
    results.forEach((r, i) => {
      const done = (r as PromiseFulfilledResult<{ exitCode: number; stdout: string }>).value
      expect(done.exitCode).toBe(0)
      expect(done.stdout).toBe(`run ${i}\n`)
    })
    expect(await runClient.containers.list()).toEqual([])
    const left = await storeLeftovers(runClient)
    expect({ leases: left.leases, ingests: left.ingests, images: left.images }).toEqual({ leases: 0, ingests: 0, images: 2 })
  }, 180_000)
})
