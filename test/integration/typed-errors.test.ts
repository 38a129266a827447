// Every error a caller sees is typed: what a new user met untyped (UnknownError for a task in the wrong
// state, ENAMETOOLONG for a long name, a TimeoutOverflow / HTTP 400 for odd timeouts, a RangeError for an
// odd lease expiry, "not reachable" for a registry's oversized headers, a token server's raw errors, raw
// abort reasons), against the real daemons.
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CanceledError,
  Client,
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  type Image,
  type Task,
} from '../../src/index.js'
import type { Digest } from '../../src/client/content/digest.js'
import { RegistryError } from '../../src/registry/registry-error.js'
import { connectTestClient, daemonAddress } from '../env/test-client.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'

const client = await connectTestClient('typed-errors')
const IMAGE = 'docker.io/library/busybox:typed-errors'
let image: Image

beforeAll(async () => {
  image = await runnableBusybox(client, IMAGE)
})

// Tiny HTTP servers on 127.0.0.1 standing in for registries; closed after the file.
const servers: Server[] = []
afterAll(async () => {
  for (const server of servers) server.closeAllConnections()
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
})

/** Starts a server answering every request with `handler`; resolves with its `host:port`. */
async function fakeRegistry(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `127.0.0.1:${(server.address() as { port: number }).port}`
}

/** A registry serving one manifest whose config blob `blob` answers (the manifest's digest is right). */
async function registryWithBlob(blob: (res: ServerResponse) => void): Promise<string> {
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 1000 }
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [] }))
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`
  return fakeRegistry((req, res) => {
    if (req.url?.includes('/manifests/')) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': digest, 'content-length': manifest.byteLength })
      res.end(req.method === 'HEAD' ? undefined : manifest)
    } else if (req.url?.includes('/blobs/')) {
      blob(res)
    } else {
      res.writeHead(200, { 'content-length': 0 }).end()
    }
  })
}

/** The rejection of `work`, which must reject. */
async function rejectionOf(work: Promise<unknown>): Promise<Error> {
  const outcome = await work.then(() => 'resolved', (err: unknown) => err)
  expect(outcome).toBeInstanceOf(Error)
  return outcome as Error
}

/** A task whose process has exited (stopped, not yet deleted). */
async function stoppedTask(label: string): Promise<Task> {
  const container = await client.containers.create(uniqueId(label), { image, args: ['true'] })
  const task = await container.newTask({ stdio: 'null' })
  const exited = task.wait()
  await task.start()
  await exited
  return task
}

describe('a task in the wrong state: FailedPreconditionError (containerd sends Unknown)', () => {
  it('exec in and pause a stopped task', async () => {
    const task = await stoppedTask('stopped')
    try {
      const exec = await rejectionOf(task.exec({ args: ['true'], stdio: 'null' }).then((p) => p.start()))
      expect(exec).toBeInstanceOf(FailedPreconditionError)
      expect(exec.message).toMatch(/cannot exec in a stopped state/)
      const pause = await rejectionOf(task.pause())
      expect(pause).toBeInstanceOf(FailedPreconditionError)
      expect(pause.message).toMatch(/cannot pause a stopped container/)
      expect(await rejectionOf(task.resume())).toBeInstanceOf(FailedPreconditionError)
      expect(await rejectionOf(task.start())).toBeInstanceOf(FailedPreconditionError)
    } finally {
      await task.delete()
      await (await client.containers.get(task.id)).delete()
    }
  })

  it('resume a running task, pause a paused one, exec in it, start a finished exec', async () => {
    const container = await client.containers.create(uniqueId('paused'), { image, args: ['sleep', '60'] })
    const task = await container.newTask({ stdio: 'null' })
    try {
      await task.start()
      const done = await task.exec({ args: ['true'], stdio: 'null' })
      const finished = done.wait()
      await done.start()
      await finished
      expect(await rejectionOf(done.start())).toBeInstanceOf(FailedPreconditionError)
      expect(await rejectionOf(task.resume())).toBeInstanceOf(FailedPreconditionError)
      await task.pause()
      expect(await rejectionOf(task.pause())).toBeInstanceOf(FailedPreconditionError)
      expect(await rejectionOf(task.exec({ args: ['true'], stdio: 'null' }).then((p) => p.start()))).toBeInstanceOf(FailedPreconditionError)
      await task.resume()
    } finally {
      await task.delete({ force: true })
      await container.delete()
    }
  })
})

describe('names and ids too long: InvalidArgumentError saying the limit, before anything is made', () => {
  it('a 240-character run name (was ENAMETOOLONG from the name store)', async () => {
    const before = (await client.containers.list()).length
    const err = await rejectionOf(client.run(IMAGE, { name: 'a'.repeat(240), args: ['true'], stdio: 'null', rm: true }))
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect(err.message).toMatch(/is 240 characters long; at most 238 are allowed/)
    expect(await client.containers.list()).toHaveLength(before)
  })

  it('a 238-character run name works end to end', async () => {
    const name = `n${'x'.repeat(237)}`
    const done = await client.run(IMAGE, { name, args: ['true'], stdio: 'null', rm: true })
    expect(done.exitCode).toBe(0)
    expect(done.name).toBe(name)
  })

  it('a 240-character container id', async () => {
    const err = await rejectionOf(client.containers.create('a'.repeat(240), { image, args: ['true'] }))
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect(err.message).toMatch(/is 240 characters long; containerd allows at most 76/)
  })
})

describe('a bad run name: InvalidArgumentError before the image is pulled', () => {
  it('pull always from a registry that never answers (the run waited on the pull first)', async () => {
    let requests = 0
    const silent = await fakeRegistry(() => { requests++ })
    const before = (await client.containers.list()).length
    const started = Date.now()
    // The signal only bounds the test had the pull started; the name must be refused long before it fires.
    const err = await rejectionOf(client.run(`${silent}/library/not-here:typed-errors`, {
      name: '-bad name', pull: 'always', args: ['true'], stdio: 'null', rm: true, signal: AbortSignal.timeout(5000),
    }))
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect(err.message).toMatch(/container name "-bad name" is invalid/)
    expect(requests).toBe(0)
    expect(Date.now() - started).toBeLessThan(2000)
    expect(await client.containers.list()).toHaveLength(before)
  })
})

describe('timeoutMs', () => {
  it.each([NaN, Infinity, 2 ** 31])('%d is an InvalidArgumentError before the call is sent', async (timeoutMs) => {
    // Before: NaN went out as grpc-timeout "NaNm" (HTTP 400, "not gRPC" Unavailable); a timer above
    // 2^31-1 ms fired at once (DeadlineExceeded).
    const err = await rejectionOf(client.version({ timeoutMs }))
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect(err.message).toMatch(/timeoutMs must be a number of milliseconds up to 2147483647/)
    expect(await rejectionOf(Client.connect({ address: daemonAddress(), timeoutMs }))).toBeInstanceOf(InvalidArgumentError)
  })

  it('a long one that fits a timer works (9 digits of milliseconds were answered with HTTP 400)', async () => {
    expect((await client.version({ timeoutMs: 100_000_000 })).version).not.toBe('')
    expect((await client.version({ timeoutMs: 2 ** 31 - 1 })).version).not.toBe('')
  })

  it('zero or less is a deadline already passed', async () => {
    expect(await rejectionOf(client.version({ timeoutMs: 0 }))).toBeInstanceOf(DeadlineExceededError)
    expect(await rejectionOf(client.version({ timeoutMs: -1 }))).toBeInstanceOf(DeadlineExceededError)
  })
})

describe('lease expiresInMs: InvalidArgumentError naming it, before anything is made', () => {
  it.each([NaN, Infinity, 1e20, 3e14, -1, 0, '60000'])('%s (NaN or past 275760 was a raw RangeError: Invalid time value, past 9999 a label containerd ignores)', async (expiresInMs) => {
    const id = uniqueId('lease-expiry')
    const err = await rejectionOf(client.leases.create({ id, expiresInMs: expiresInMs as number }))
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect(err.message).toMatch(/lease expiresInMs must be a number of milliseconds more than 0 that ends before the year 10000, got /)
    expect(await client.leases.list({ filters: [`id==${id}`] })).toEqual([])
    let called = false
    expect(await rejectionOf(client.withLease(async () => { called = true }, { expiresInMs: expiresInMs as number }))).toBeInstanceOf(InvalidArgumentError)
    expect(called).toBe(false)
  })

  it('a long one that ends before the year 10000 is written as RFC 3339', async () => {
    const hundredYears = 100 * 365 * 24 * 60 * 60 * 1000
    await using lease = await client.leases.create({ id: uniqueId('lease-long'), expiresInMs: hundredYears })
    const [listed] = await client.leases.list({ filters: [`id==${lease.id}`] })
    expect(listed?.labels['containerd.io/gc.expire']).toMatch(/^2\d{3}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })
})

describe('a registry answering with oversized headers: RegistryError TooLarge, not "not reachable"', () => {
  it('on the first request (node:http: HPE_HEADER_OVERFLOW)', async () => {
    const host = await fakeRegistry((_req, res) => {
      res.setHeader('x-filler', 'f'.repeat(100 * 1024))
      res.writeHead(200, { 'content-length': 0 }).end()
    })
    const err = await rejectionOf(client.pull(`${host}/library/busybox:latest`))
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('TooLarge')
    expect(err.message).toMatch(/the response headers .* were too large/)
  })

  it('on a blob download (the raw GET path)', async () => {
    const host = await registryWithBlob((res) => {
      res.setHeader('x-filler', 'f'.repeat(100 * 1024))
      res.writeHead(200, { 'content-length': 1000 }).end(Buffer.alloc(1000))
    })
    const err = await rejectionOf(client.pull(`${host}/library/busybox:latest`))
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('TooLarge')
    expect(err.message).toMatch(/the response headers .*\/blobs\/sha256:c+ were too large: over 65536 bytes/)
  })
})

describe('a token server\'s bad answers: typed RegistryErrors (a raw RangeError or Error, or Unavailable, before)', () => {
  /** A registry answering every request with a Bearer challenge whose realm is a server run by `token`. */
  async function registryWithTokenServer(token: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    const tokenHost = await fakeRegistry(token)
    return fakeRegistry((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${tokenHost}/token",service="typed-errors"`, 'content-length': 0 }).end()
    })
  }

  it('a 2 MiB token response is TooLarge, anonymous (GET) and with credentials (POST)', async () => {
    const methods: string[] = []
    const host = await registryWithTokenServer((req, res) => {
      methods.push(req.method ?? '')
      const body = Buffer.alloc(2 * 1024 * 1024, ' ')
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.byteLength }).end(body)
    })
    for (const auth of [undefined, { username: 'alice', password: 'secret' }]) {
      const err = await rejectionOf(client.pull(`${host}/library/busybox:latest`, auth === undefined ? {} : { auth }))
      expect(err).toBeInstanceOf(RegistryError)
      expect((err as RegistryError).code).toBe('TooLarge')
      expect(err.message).toMatch(/token server 127\.0\.0\.1:\d+ sent a token response over 1 MiB/)
    }
    expect(methods).toEqual(['GET', 'POST'])
  })

  it('a token response cut off mid-body is Unavailable', async () => {
    const host = await registryWithTokenServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 })
      res.write('{"token":', () => res.socket?.destroy())
    })
    const err = await rejectionOf(client.pull(`${host}/library/busybox:latest`))
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('Unavailable')
    expect(err.message).toMatch(/token server 127\.0\.0\.1:\d+ is not reachable/)
  })

  it('a token response with oversized headers is TooLarge (it was Unavailable)', async () => {
    const host = await registryWithTokenServer((_req, res) => {
      res.setHeader('x-filler', 'f'.repeat(100 * 1024))
      res.writeHead(200, { 'content-length': 0 }).end()
    })
    const err = await rejectionOf(client.pull(`${host}/library/busybox:latest`))
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('TooLarge')
    expect(err.message).toMatch(/the response headers 127\.0\.0\.1:\d+ sent for GET \/token were too large/)
  })
})

describe('a redirect target answering with oversized headers: TooLarge (it was Unavailable)', () => {
  /** A server answering every request with headers larger than any client accepts. */
  function hugeHeaders(_req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('x-filler', 'f'.repeat(100 * 1024))
    res.writeHead(200, { 'content-length': 0 }).end()
  }

  it('for a manifest (node:http)', async () => {
    const storage = await fakeRegistry(hugeHeaders)
    const host = await fakeRegistry((req, res) => {
      if (req.url?.includes('/manifests/')) res.writeHead(307, { location: `http://${storage}/manifest`, 'content-length': 0 }).end()
      else res.writeHead(200, { 'content-length': 0 }).end()
    })
    const err = await rejectionOf(client.pull(`${host}/library/busybox:latest`))
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('TooLarge')
    expect(err.message).toContain(`the response headers ${storage} sent for`)
  })

  it('for a blob (the raw GET path)', async () => {
    const storage = await fakeRegistry(hugeHeaders)
    const host = await registryWithBlob((res) => {
      res.writeHead(307, { location: `http://${storage}/blob`, 'content-length': 0 }).end()
    })
    const err = await rejectionOf(client.pull(`${host}/library/busybox:latest`))
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('TooLarge')
    expect(err.message).toMatch(new RegExp(`the response headers ${storage} sent for GET /blob were too large`))
  })
})

describe('an abort rejects with CanceledError whose cause is the signal reason', () => {
  /** Runs `work` with a signal aborted before it starts, or `afterMs` into it; checks the rejection. */
  async function expectCanceled(work: (signal: AbortSignal) => Promise<unknown>, afterMs?: number): Promise<void> {
    const controller = new AbortController()
    const reason = new Error(`stop ${afterMs ?? 'before'}`)
    if (afterMs === undefined) controller.abort(reason)
    const timer = afterMs === undefined ? undefined : setTimeout(() => controller.abort(reason), afterMs)
    try {
      const err = await rejectionOf(work(controller.signal))
      expect(err).toBeInstanceOf(CanceledError)
      expect(err.cause).toBe(reason)
    } finally {
      clearTimeout(timer)
    }
  }

  it('a unary call', async () => {
    await expectCanceled((signal) => client.version({ signal }))
    const container = await client.containers.create(uniqueId('waiter'), { image, args: ['sleep', '60'] })
    const task = await container.newTask({ stdio: 'null' })
    try {
      await task.start()
      await expectCanceled((signal) => task.wait({ signal }), 200)
    } finally {
      await task.delete({ force: true })
      await container.delete()
    }
  })

  it('pull: before, while the registry does not answer, and during a blob download (was the raw reason)', async () => {
    const silent = await fakeRegistry(() => undefined)
    await expectCanceled((signal) => client.pull(`${silent}/library/busybox:latest`, { signal }))
    await expectCanceled((signal) => client.pull(`${silent}/library/busybox:latest`, { signal }), 200)
    const stalling = await registryWithBlob((res) => {
      res.writeHead(200, { 'content-length': 1000 })
      res.write('{"architecture":')
    })
    await expectCanceled((signal) => client.pull(`${stalling}/library/busybox:latest`, { signal }), 500)
  })

  it('a content read', async () => {
    // Large enough that the read is still streaming when the abort lands: content.read's Readable
    // buffers 4 MiB ahead, and what it already holds is delivered.
    const blob = randomBytes(32 * 1024 * 1024)
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}` as Digest
    await client.withLease(async () => {
      await client.content.writeBlob(blob, { expected: digest })
      const readAll = async (signal: AbortSignal): Promise<void> => {
        // Slowly, so the abort lands mid-stream.
        for await (const chunk of client.content.read(digest, { signal })) {
          expect(chunk.byteLength).toBeGreaterThan(0)
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      }
      await expectCanceled(readAll)
      await expectCanceled(readAll, 120)
      await expectCanceled((signal) => client.content.readAll(digest, { signal }))
    })
  })

  it('a content read piped to a slow destination (the read stream holds the whole blob already)', async () => {
    // 3 MiB: the read stream has all of it long before the destination takes it; before, an abort let
    // it hand everything out and the pipeline resolved.
    const blob = randomBytes(3 * 1024 * 1024)
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}` as Digest
    await client.withLease(async () => {
      await client.content.writeBlob(blob, { expected: digest })
      const slow = (): Writable => new Writable({ highWaterMark: 1, write(_chunk, _encoding, callback) { setTimeout(callback, 100) } })
      await expectCanceled((signal) => pipeline(client.content.read(digest, { signal }), slow()), 150)
    })
  })

  it('a followed log', async () => {
    const web = await client.run(IMAGE, { detach: true, args: ['sh', '-c', 'while true; do echo tick; sleep 0.2; done'] })
    try {
      const follow = async (signal: AbortSignal): Promise<void> => {
        for await (const entry of client.logs(web.name, { follow: true, signal })) expect(entry.line).toBe('tick')
      }
      await expectCanceled(follow)
      await expectCanceled(follow, 800)
    } finally {
      await web.remove({ force: true })
    }
  })

  it('an import (mid-import it never ended while the source stalled, and the cause was the broken stream)', async () => {
    const chunks: Buffer[] = []
    await client.images.export(IMAGE, new Writable({ write(chunk: Buffer, _encoding, callback) { chunks.push(chunk); callback() } }))
    const tar = Buffer.concat(chunks)
    await expectCanceled((signal) => client.images.import(Readable.from([tar]), { signal }))
    // Part of the archive, then nothing: only the abort ends the import.
    const stalled = (): Readable => {
      let sent = false
      return new Readable({ read() { if (!sent) { sent = true; this.push(tar.subarray(0, 600 * 1024)) } } })
    }
    await expectCanceled((signal) => client.images.import(stalled(), { signal }), 300)
  })
})
