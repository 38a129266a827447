import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { constants } from 'node:http2'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { sshIdOf } from '../../../../src/build/session/ssh-service.js'
import { sessionMethods } from '../../../../src/build/session/session-methods.js'
import { BytesMessageSchema, CheckAgentRequestSchema } from '../../../../src/gen/moby/buildkit/session/sshforward/ssh_pb.js'
import { GrpcCode } from '../../../../src/grpc/errors.js'
import { encodeFrame } from '../../../../src/grpc/grpc-frame.js'
import { openCall, startPeer, type OpenCall, type Peer } from './grpc-peer.js'

const CHECK = '/moby.sshforward.v1.SSH/CheckAgent'
const FORWARD = '/moby.sshforward.v1.SSH/ForwardAgent'

// The agent protocol (draft-miller-ssh-agent): uint32 big-endian length, then a type byte and its body.
const REQUEST_IDENTITIES = Buffer.from([0, 0, 0, 1, 11])
// IDENTITIES_ANSWER (12) with nkeys = 0.
const IDENTITIES_ANSWER = Buffer.from([0, 0, 0, 5, 12, 0, 0, 0, 0])
const AGENT_FAILURE = Buffer.from([0, 0, 0, 1, 5])

/** A fake ssh-agent on a unix socket: answers REQUEST_IDENTITIES with no keys, or echoes every byte back. */
interface FakeAgent {
  path: string
  /** Message types received, in order, over all connections. */
  requests: number[]
  /** Connections accepted so far. */
  connections: number
  /** Resolves when the next connection (counting from the call) is closed on the agent's side. */
  nextClose(): Promise<void>
  close(): Promise<void>
}

async function startAgent(path: string, mode: 'agent' | 'echo' | 'answer-and-close' = 'agent'): Promise<FakeAgent> {
  const requests: number[] = []
  const closeWaiters: (() => void)[] = []
  const sockets = new Set<Socket>()
  const state = { connections: 0 }
  const server: Server = createServer((socket) => {
    state.connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => {
      sockets.delete(socket)
      closeWaiters.shift()?.()
    })
    if (mode === 'echo') {
      socket.pipe(socket)
      return
    }
    let buffered = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
        const length = buffered.readUInt32BE(0)
        const type = buffered[4]!
        buffered = buffered.subarray(4 + length)
        requests.push(type)
        socket.write(type === 11 ? IDENTITIES_ANSWER : AGENT_FAILURE)
        if (mode === 'answer-and-close') socket.end()
      }
    })
    // Like ssh-agent: end-of-file from the client closes the connection.
    socket.on('end', () => socket.end())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  return {
    path,
    requests,
    get connections() {
      return state.connections
    },
    nextClose: () => new Promise<void>((resolve) => closeWaiters.push(resolve)),
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

let peer: Peer | undefined
let agent: FakeAgent | undefined
let base: string
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'csdk-ssh-'))
})
afterEach(async () => {
  await peer?.close()
  peer = undefined
  await agent?.close()
  agent = undefined
  await rm(base, { recursive: true, force: true })
})

const bytes = (data: Uint8Array): Uint8Array => toBinary(BytesMessageSchema, create(BytesMessageSchema, { data }))

async function check(p: Peer, id: string): Promise<{ code: number; message: string | undefined }> {
  const call = openCall(p.client, CHECK)
  call.send(toBinary(CheckAgentRequestSchema, create(CheckAgentRequestSchema, { ID: id })))
  call.stream.end()
  for await (const _ of call.messages()) void _
  return call.status
}

/** Reads the call's messages until `count` bytes arrived. */
async function receive(call: OpenCall, count: number): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const m of call.messages()) {
    const { data } = fromBinary(BytesMessageSchema, m)
    chunks.push(data)
    total += data.length
    if (total >= count) break
  }
  return Buffer.concat(chunks)
}

async function drain(call: OpenCall): Promise<{ received: Buffer; code: number; message: string | undefined }> {
  const chunks: Uint8Array[] = []
  for await (const m of call.messages()) chunks.push(fromBinary(BytesMessageSchema, m).data)
  return { received: Buffer.concat(chunks), ...(await call.status) }
}

describe('SSH', () => {
  it('reads the agent id from buildkit.ssh.id, default when missing or empty', () => {
    expect(sshIdOf({})).toBe('default')
    expect(sshIdOf({ 'buildkit.ssh.id': [''] })).toBe('default')
    expect(sshIdOf({ 'buildkit.ssh.id': ['work'] })).toBe('work')
  })

  it('is served only when agents are given', () => {
    expect(sessionMethods({}).has(CHECK)).toBe(false)
    expect([...sessionMethods({ ssh: new Map() }).keys()]).toEqual(expect.arrayContaining([CHECK, FORWARD]))
  })

  it('CheckAgent: OK for a known id (empty = default), NotFound naming an unknown one and nothing else', async () => {
    const path = join(base, 'agent.sock')
    peer = startPeer(sessionMethods({ ssh: new Map([['default', { socket: path }], ['work', { socket: path }]]) }))
    expect(await check(peer, '')).toEqual({ code: GrpcCode.OK, message: undefined })
    expect(await check(peer, 'default')).toEqual({ code: GrpcCode.OK, message: undefined })
    expect(await check(peer, 'work')).toEqual({ code: GrpcCode.OK, message: undefined })
    const unknown = await check(peer, 'other')
    expect(unknown.code).toBe(GrpcCode.NotFound)
    expect(unknown.message).toContain('"other"')
    expect(unknown.message).not.toContain(path)
    expect(peer.errors).toEqual([])
  })

  it('ForwardAgent: the request reaches the agent (in pieces), its answer comes back, half-close ends the call OK', async () => {
    agent = await startAgent(join(base, 'agent.sock'))
    peer = startPeer(sessionMethods({ ssh: new Map([['work', { socket: agent.path }]]) }))
    const call = openCall(peer.client, FORWARD, { 'buildkit.ssh.id': 'work' })
    const closed = agent.nextClose()
    // Chunks need not follow the agent's framing.
    call.send(bytes(REQUEST_IDENTITIES.subarray(0, 3)))
    call.send(bytes(REQUEST_IDENTITIES.subarray(3)))
    expect(await receive(call, IDENTITIES_ANSWER.length)).toEqual(IDENTITIES_ANSWER)
    // A second request on the same connection, then the daemon half-closes: the agent gets EOF and closes.
    call.send(bytes(REQUEST_IDENTITIES))
    call.stream.end()
    const rest = await drain(call)
    expect(rest).toEqual({ received: IDENTITIES_ANSWER, code: GrpcCode.OK, message: undefined })
    await closed
    expect(agent.requests).toEqual([11, 11])
    expect(agent.connections).toBe(1)
    expect(peer.errors).toEqual([])
  })

  it('ForwardAgent: no id means the default agent; one connection per call', async () => {
    agent = await startAgent(join(base, 'agent.sock'))
    peer = startPeer(sessionMethods({ ssh: new Map([['default', { socket: agent.path }]]) }))
    for (let i = 0; i < 2; i++) {
      const call = openCall(peer.client, FORWARD)
      call.send(bytes(REQUEST_IDENTITIES))
      call.stream.end()
      expect(await drain(call)).toEqual({ received: IDENTITIES_ANSWER, code: GrpcCode.OK, message: undefined })
    }
    expect(agent.connections).toBe(2)
  })

  it('ForwardAgent: the call ends OK when the agent closes first', async () => {
    agent = await startAgent(join(base, 'agent.sock'), 'answer-and-close')
    peer = startPeer(sessionMethods({ ssh: new Map([['default', { socket: agent.path }]]) }))
    const call = openCall(peer.client, FORWARD)
    call.send(bytes(REQUEST_IDENTITIES))
    // No half-close from the daemon's side.
    expect(await drain(call)).toEqual({ received: IDENTITIES_ANSWER, code: GrpcCode.OK, message: undefined })
    expect(peer.errors).toEqual([])
  })

  it('ForwardAgent: megabytes both ways arrive whole and in order (back-pressure on both sides)', async () => {
    agent = await startAgent(join(base, 'agent.sock'), 'echo')
    peer = startPeer(sessionMethods({ ssh: new Map([['default', { socket: agent.path }]]) }))
    const call = openCall(peer.client, FORWARD)
    const payload = randomBytes(4 * 1024 * 1024)
    const receiving = receive(call, payload.length)
    for (let offset = 0; offset < payload.length; offset += 100_000) {
      const chunk = bytes(payload.subarray(offset, offset + 100_000))
      // The peer helper writes without waiting; honour its back-pressure here.
      if (!call.stream.write(encodeFrame(chunk))) await new Promise((resolve) => call.stream.once('drain', resolve))
    }
    const received = await receiving
    expect(received.equals(payload)).toBe(true)
    call.stream.end()
    expect((await drain(call)).code).toBe(GrpcCode.OK)
  }, 30_000)

  it('ForwardAgent: an unknown id is NotFound and no connection is made', async () => {
    agent = await startAgent(join(base, 'agent.sock'))
    peer = startPeer(sessionMethods({ ssh: new Map([['default', { socket: agent.path }]]) }))
    const call = openCall(peer.client, FORWARD, { 'buildkit.ssh.id': 'other' })
    call.stream.end()
    const status = await drain(call)
    expect(status.code).toBe(GrpcCode.NotFound)
    expect(status.message).toContain('"other"')
    expect(agent.connections).toBe(0)
  })

  it('ForwardAgent: an agent socket that is not there is Unavailable naming the path', async () => {
    const path = join(base, 'missing.sock')
    peer = startPeer(sessionMethods({ ssh: new Map([['default', { socket: path }]]) }))
    const call = openCall(peer.client, FORWARD)
    call.send(bytes(REQUEST_IDENTITIES))
    call.stream.end()
    const status = await drain(call)
    expect(status.code).toBe(GrpcCode.Unavailable)
    expect(status.message).toContain(path)
    expect(status.message).toContain('ENOENT')
    expect(peer.errors).toEqual([])
  })

  it('ForwardAgent: the daemon canceling the call closes the agent connection', async () => {
    agent = await startAgent(join(base, 'agent.sock'))
    peer = startPeer(sessionMethods({ ssh: new Map([['default', { socket: agent.path }]]) }))
    const call = openCall(peer.client, FORWARD)
    const closed = agent.nextClose()
    call.send(bytes(REQUEST_IDENTITIES))
    expect(await receive(call, IDENTITIES_ANSWER.length)).toEqual(IDENTITIES_ANSWER)
    expect(agent.connections).toBe(1)
    call.stream.close(constants.NGHTTP2_CANCEL)
    await closed
    expect(peer.errors).toEqual([])
  })
})
