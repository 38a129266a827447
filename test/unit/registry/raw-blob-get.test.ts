import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createServer as createTlsServer } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeServerCertificates } from '../../env/registry/certificates.js'
import { CanceledError } from '../../../src/grpc/errors.js'
import { parseHead, rawGet, type BlobSink } from '../../../src/registry/raw-blob-get.js'

/**
 * The raw blob GET against a node:http server: bodies with Content-Length read into a sink's memory,
 * what arrives with the head copied in, chunked bodies left to the caller, early ends reported as
 * connection resets (so the pull resumes), aborts.
 */
const blob = randomBytes(3 * 1024 * 1024 + 12345)
let server: Server
let base: string
const seen: IncomingMessage['headers'][] = []

function handle(req: IncomingMessage, res: ServerResponse): void {
  seen.push(req.headers)
  const url = new URL(req.url ?? '/', 'http://x')
  if (url.pathname === '/blob') {
    res.writeHead(200, { 'content-length': blob.byteLength, 'x-twice': ['a', 'b'] })
    res.end(blob)
  } else if (url.pathname === '/exact') {
    res.writeHead(200, { 'content-length': 128 * 1024 })
    res.end(blob.subarray(0, 128 * 1024))
  } else if (url.pathname === '/small') {
    res.writeHead(200, { 'content-length': 5 })
    res.end('hello')
  } else if (url.pathname === '/chunked') {
    res.writeHead(200, { 'transfer-encoding': 'chunked' })
    res.end('abc')
  } else if (url.pathname === '/short') {
    res.writeHead(200, { 'content-length': 1024 * 1024 })
    res.write(blob.subarray(0, 100_000), () => res.socket?.destroy())
  } else if (url.pathname === '/slow') {
    res.writeHead(200, { 'content-length': 1024 * 1024 })
    res.write(blob.subarray(0, 1000))
  } else {
    res.writeHead(404, { 'content-length': 0 })
    res.end()
  }
}

/** A sink like a content writer's: 64 KiB slots; every full slot is a promise to wait for. */
function collectingSink(waitMs = 1): BlobSink & { bytes(): Buffer; waits: number } {
  const parts: Buffer[] = []
  let slot = Buffer.alloc(64 * 1024)
  let filled = 0
  let waits = 0
  return {
    target: () => slot.subarray(filled),
    advance: (n) => {
      filled += n
      if (filled < slot.byteLength) return undefined
      parts.push(slot)
      slot = Buffer.alloc(64 * 1024)
      filled = 0
      waits++
      return new Promise((resolve) => setTimeout(resolve, waitMs))
    },
    write: async (bytes) => {
      for (const b of bytes) {
        slot[filled++] = b
        if (filled === slot.byteLength) {
          parts.push(slot)
          slot = Buffer.alloc(64 * 1024)
          filled = 0
        }
      }
    },
    bytes: () => Buffer.concat([...parts, slot.subarray(0, filled)]),
    get waits() { return waits },
  }
}

beforeAll(async () => {
  server = createServer(handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

describe('rawGet', () => {
  it('reads a body with Content-Length into the sink, pausing while the sink is full', async () => {
    const res = await rawGet({ url: new URL(`${base}/blob?x=1`), headers: { authorization: 'Bearer t' } })
    expect(res.status).toBe(200)
    expect(res.headers['x-twice']).toBe('a, b')
    expect(res.body.length).toBe(blob.byteLength)
    const sink = collectingSink()
    await res.body.readInto(sink)
    expect(sink.bytes().equals(blob)).toBe(true)
    expect(sink.waits).toBeGreaterThan(10)
    const request = seen[seen.length - 1]!
    expect(request['authorization']).toBe('Bearer t')
    expect(request['connection']).toBe('close')
  })

  it('resolves when the sink takes the last bytes, though the server closed the connection meanwhile', async () => {
    const res = await rawGet({ url: new URL(`${base}/exact`), headers: {} })
    const sink = collectingSink(50)
    await res.body.readInto(sink)
    expect(sink.bytes().equals(blob.subarray(0, 128 * 1024))).toBe(true)
  })

  it('copies a body that came with the head', async () => {
    const res = await rawGet({ url: new URL(`${base}/small`), headers: {} })
    const sink = collectingSink()
    await res.body.readInto(sink)
    expect(sink.bytes().toString()).toBe('hello')
  })

  it('gives no length for a chunked body, and a status for errors', async () => {
    const chunked = await rawGet({ url: new URL(`${base}/chunked`), headers: {} })
    expect(chunked.body.length).toBeUndefined()
    await expect(chunked.body.readInto(collectingSink())).rejects.toThrow(/Content-Length/)
    chunked.body.destroy()
    const missing = await rawGet({ url: new URL(`${base}/nothing`), headers: {} })
    expect(missing.status).toBe(404)
    missing.body.resume()
  })

  it('reports a connection that ends early as ECONNRESET', async () => {
    const res = await rawGet({ url: new URL(`${base}/short`), headers: {} })
    const sink = collectingSink()
    await expect(res.body.readInto(sink)).rejects.toMatchObject({ code: 'ECONNRESET' })
    expect(sink.bytes().equals(blob.subarray(0, 100_000))).toBe(true)
  })

  it('stops on abort, with the signal reason', async () => {
    const controller = new AbortController()
    const res = await rawGet({ url: new URL(`${base}/slow`), headers: {}, signal: controller.signal })
    const reading = res.body.readInto(collectingSink())
    const reason = new Error('stop')
    setTimeout(() => controller.abort(reason), 20)
    // The rule for every call: an abort rejects with CanceledError whose cause is the signal's reason.
    const err: unknown = await reading.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(CanceledError)
    expect((err as CanceledError).cause).toBe(reason)
  })

  it('refuses headers with line breaks and fails on a refused connection', async () => {
    await expect(rawGet({ url: new URL(`${base}/blob`), headers: { x: 'a\r\nb' } })).rejects.toThrow(/invalid character/)
    await expect(rawGet({ url: new URL('http://127.0.0.1:1/blob'), headers: {} })).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })
})

/** A server that answers the first bytes of every connection with `answer(socket)`. */
const craftedSockets = new Set<Socket>()

async function crafted(server: NetServer, answer: (socket: Socket) => void): Promise<number> {
  server.on('connection', (socket: Socket) => {
    craftedSockets.add(socket)
    socket.on('error', () => undefined)
    socket.once('data', () => answer(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

function closeServer(server: NetServer): Promise<unknown> {
  for (const socket of craftedSockets) socket.destroy()
  craftedSockets.clear()
  return new Promise((resolve) => server.close(resolve))
}

describe('rawGet against crafted responses', () => {
  it('keeps what TLS delivers between the head and readInto, and a body the server closed after', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'csdk-raw-'))
    const big = randomBytes(8 * 1024 * 1024)
    try {
      const certs = await makeServerCertificates(dir)
      const server = createTlsServer({ cert: await readFile(certs.certFile), key: await readFile(certs.keyFile) })
      server.on('secureConnection', (socket) => {
        socket.on('error', () => undefined)
        socket.once('data', (request: Buffer) => {
          const body = request.toString('latin1').startsWith('GET /big ') ? big : Buffer.from('hello')
          socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.byteLength}\r\n\r\n`), body]))
        })
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const port = (server.address() as AddressInfo).port
      const tls = { ca: [await readFile(certs.caFile)] }
      try {
        for (const [path, expected] of [['/big', big], ['/small', Buffer.from('hello')]] as const) {
          const res = await rawGet({ url: new URL(`https://localhost:${port}${path}`), headers: {}, tls })
          expect(res.status).toBe(200)
          // Something awaited between the head and the body (the server's records arrive meanwhile).
          await sleep(50)
          const sink = collectingSink()
          await res.body.readInto(sink)
          expect(sink.bytes().equals(expected)).toBe(true)
        }
      } finally {
        await closeServer(server)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('skips interim 1xx responses', async () => {
    const server = createNetServer()
    const port = await crafted(server, (s) => s.end('HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'))
    try {
      const res = await rawGet({ url: new URL(`http://127.0.0.1:${port}/b`), headers: {} })
      expect(res.status).toBe(200)
      expect(res.headers['link']).toBeUndefined()
      expect(res.body.length).toBe(2)
      const sink = collectingSink()
      await res.body.readInto(sink)
      expect(sink.bytes().toString()).toBe('hi')
    } finally {
      await closeServer(server)
    }
  })

  it('closes the connection when the sink throws on write', async () => {
    const server = createNetServer()
    const closed = new Promise<void>((resolve) => server.on('connection', (s: Socket) => s.once('close', () => resolve())))
    const port = await crafted(server, (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nsome bytes'))
    try {
      const res = await rawGet({ url: new URL(`http://127.0.0.1:${port}/b`), headers: {} })
      const broken = new Error('writer gone')
      const sink: BlobSink = { target: () => new Uint8Array(1024), advance: () => undefined, write: () => { throw broken } }
      await expect(res.body.readInto(sink)).rejects.toBe(broken)
      await expect(Promise.race([closed.then(() => 'closed'), sleep(2000, 'open')])).resolves.toBe('closed')
    } finally {
      await closeServer(server)
    }
  })

  it('fails a body that stalls with ETIMEDOUT, not counting waits for the sink', async () => {
    const server = createNetServer()
    const port = await crafted(server, (s) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${1024 * 1024}\r\n\r\n`)
      s.write(blob.subarray(0, 200_000))
    })
    try {
      const res = await rawGet({ url: new URL(`http://127.0.0.1:${port}/b`), headers: {}, idleTimeoutMs: 200 })
      // Slow slots (300 ms each) are no stall.
      const sink = collectingSink(300)
      const started = Date.now()
      await expect(res.body.readInto(sink)).rejects.toMatchObject({ code: 'ETIMEDOUT' })
      expect(Date.now() - started).toBeLessThan(5000)
      expect(sink.waits).toBeGreaterThan(0)
      expect(sink.bytes().equals(blob.subarray(0, 200_000))).toBe(true)
    } finally {
      await closeServer(server)
    }
  })
})

describe('parseHead', () => {
  it('reads the status and lower-cases the header names', () => {
    const head = parseHead('HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nSet-Cookie: a\r\nSet-Cookie: b\r\nX-A: 1\r\nx-a: 2')
    expect(head.status).toBe(206)
    expect(head.headers['content-length']).toBe('10')
    expect(head.headers['set-cookie']).toEqual(['a', 'b'])
    expect(head.headers['x-a']).toBe('1, 2')
  })

  it('refuses what is not HTTP/1.x', () => {
    expect(() => parseHead('SSH-2.0-OpenSSH')).toThrow(/not an HTTP\/1.1 response/)
  })
})
