import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseBuildKitAddress } from '../../../src/build/buildkit-address.js'
import { dialBuildKit } from '../../../src/build/buildkit-dial.js'
import { NotImplementedError, UnavailableError } from '../../../src/grpc/errors.js'
import { BuildKit } from '../../../src/build/buildkit.js'

// A stand-in for dockerd's API socket that answers the first request with fixed bytes: enough to check
// what the dial does with the upgrade answer, without a daemon.
let cleanup: (() => Promise<void>) | undefined
afterEach(async () => { await cleanup?.(); cleanup = undefined })

async function fakeDockerd(answer: string | undefined): Promise<{ address: string; requests: string[]; closed: Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'csdk-fake-dockerd-'))
  const path = join(dir, 'docker.sock')
  const requests: string[] = []
  let markClosed!: () => void
  const closed = new Promise<void>((resolve) => { markClosed = resolve })
  const server: Server = createServer((socket) => {
    socket.once('close', () => markClosed())
    let head = ''
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      requests.push(head)
      // One write: the 101 and whatever follows it arrive in the same read on the client. No answer: a hung daemon.
      if (answer !== undefined) socket.end(answer)
    })
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  cleanup = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await rm(dir, { recursive: true, force: true })
  }
  return { address: `docker://unix://${path}`, requests, closed }
}

describe('dialBuildKit over docker://', () => {
  it('sends POST /grpc with the h2c upgrade and keeps bytes that came with the 101', async () => {
    const fake = await fakeDockerd('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nEARLY-HTTP2-BYTES')
    const stream = await dialBuildKit(parseBuildKitAddress(fake.address))
    const chunks: Buffer[] = []
    for await (const chunk of stream) chunks.push(chunk as Buffer)
    expect(Buffer.concat(chunks).toString()).toBe('EARLY-HTTP2-BYTES')
    expect(fake.requests[0]).toMatch(/^POST \/grpc HTTP\/1\.1\r\n/)
    expect(fake.requests[0]).toMatch(/\r\nUpgrade: h2c\r\n/i)
    expect(fake.requests[0]).toMatch(/\r\nConnection: Upgrade\r\n/i)
  })

  it('reports a dockerd without /grpc as not implemented, naming the address', async () => {
    const fake = await fakeDockerd('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found')
    const err = await dialBuildKit(parseBuildKitAddress(fake.address)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotImplementedError)
    expect((err as Error).message).toContain(fake.address)
  })

  it('reports any other answer as unavailable, with the body', async () => {
    const fake = await fakeDockerd('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 16\r\n\r\nbuildkit is down')
    const err = await dialBuildKit(parseBuildKitAddress(fake.address)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toContain('buildkit is down')
  })

  it('gives up on a dockerd that never answers the upgrade, naming it, and closes the socket', async () => {
    const fake = await fakeDockerd(undefined)
    const err = await BuildKit.connect({ address: fake.address, connectTimeoutMs: 300 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toContain(`BuildKit is not reachable at ${fake.address}: no answer within 300 ms`)
    await fake.closed
  })
})
