import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { connect } from 'node:http2'
import { duplexPair } from 'node:stream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus } from '../../../../src/gen/grpc/health/v1/health_pb.js'
import type { MethodHandler } from '../../../../src/build/session/grpc-handler.js'
import { encodeGrpcMessage, serveGrpc } from '../../../../src/build/session/grpc-server.js'
import { sessionMethods } from '../../../../src/build/session/session-methods.js'
import { GrpcCode, InvalidArgumentError } from '../../../../src/grpc/errors.js'
import { openCall, startPeer, type Peer } from './grpc-peer.js'

let peer: Peer | undefined
afterEach(async () => {
  await peer?.close()
  peer = undefined
})

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = []
  for await (const m of it) out.push(m)
  return out
}

describe('serveGrpc', () => {
  it('answers the health check SERVING', async () => {
    peer = startPeer(sessionMethods({}))
    const call = openCall(peer.client, '/grpc.health.v1.Health/Check')
    call.send(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, {})))
    call.stream.end()
    const [answer] = await collect(call.messages())
    expect(fromBinary(HealthCheckResponseSchema, answer!).status).toBe(HealthCheckResponse_ServingStatus.SERVING)
    expect(await call.status).toEqual({ code: GrpcCode.OK, message: undefined })
  })

  it('answers Unimplemented for a method it does not serve, and keeps serving', async () => {
    peer = startPeer(sessionMethods({}))
    const call = openCall(peer.client, '/moby.sshforward.v1.SSH/CheckAgent')
    call.send(new Uint8Array())
    call.stream.end()
    expect(await collect(call.messages())).toEqual([])
    expect(await call.status).toEqual({ code: GrpcCode.Unimplemented, message: 'unknown method /moby.sshforward.v1.SSH/CheckAgent' })
    const health = openCall(peer.client, '/grpc.health.v1.Health/Check')
    health.send(new Uint8Array())
    health.stream.end()
    await collect(health.messages())
    expect((await health.status).code).toBe(GrpcCode.OK)
  })

  it('sends a handler error as its gRPC code, percent-encoding the message', async () => {
    const failing: MethodHandler = { kind: 'unary', handle: () => Promise.reject(new InvalidArgumentError('bad 100% ünïcode')) }
    const plain: MethodHandler = { kind: 'unary', handle: () => Promise.reject(new Error('boom')) }
    peer = startPeer(new Map([['/t.T/Fail', failing], ['/t.T/Plain', plain]]))
    const call = openCall(peer.client, '/t.T/Fail')
    call.send(new Uint8Array([1]))
    call.stream.end()
    await collect(call.messages())
    expect(await call.status).toEqual({ code: GrpcCode.InvalidArgument, message: 'bad 100% ünïcode' })
    const other = openCall(peer.client, '/t.T/Plain')
    other.send(new Uint8Array([1]))
    other.stream.end()
    await collect(other.messages())
    expect(await other.status).toEqual({ code: GrpcCode.Unknown, message: 'boom' })
    expect(encodeGrpcMessage('a%b\n')).toBe('a%25b%0A')
  })

  it('streams both ways on a bidi method and hands the handler repeated metadata as separate values', async () => {
    let seen: readonly string[] | undefined
    const echo: MethodHandler = {
      kind: 'bidi',
      async handle(requests, send, call) {
        seen = call.metadata['x-repeat']
        for await (const r of requests) await send(Buffer.concat([Buffer.from('echo:'), r]))
      },
    }
    peer = startPeer(new Map([['/t.T/Echo', echo]]))
    const call = openCall(peer.client, '/t.T/Echo', { 'x-repeat': ['a, b', 'c'] })
    for (let i = 0; i < 100; i++) call.send(Buffer.from(String(i)))
    call.stream.end()
    const answers = await collect(call.messages())
    expect(answers.map(String)).toEqual(Array.from({ length: 100 }, (_, i) => `echo:${i}`))
    expect(await call.status).toEqual({ code: GrpcCode.OK, message: undefined })
    expect(seen).toEqual(['a, b', 'c'])
  })

  it('aborts the handler signal when the peer cancels the call', async () => {
    let aborted: Promise<unknown> | undefined
    const waits: MethodHandler = {
      kind: 'bidi',
      async handle(requests, _send, call) {
        aborted = new Promise((resolve) => call.signal.addEventListener('abort', () => resolve(call.signal.reason)))
        for await (const _ of requests) void _
      },
    }
    peer = startPeer(new Map([['/t.T/Wait', waits]]))
    const call = openCall(peer.client, '/t.T/Wait')
    call.send(Buffer.from('x'))
    await new Promise((r) => setTimeout(r, 20))
    // Not close(): Node's close() sends END_STREAM before the RST, which is a half-close, then a reset.
    // grpc-go cancels with a bare RST_STREAM(CANCEL), which is what destroy() sends.
    call.stream.destroy()
    await expect(aborted).resolves.toMatchObject({ code: 'Canceled' })
    expect(peer.errors).toEqual([])
  })

  it('lets many senders wait for one drain without piling up listeners (no MaxListenersExceededWarning)', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error): void => { warnings.push(w) }
    process.on('warning', onWarning)
    const chunk = new Uint8Array(256 * 1024)
    const senders = 40
    const handler: MethodHandler = {
      kind: 'bidi',
      // 40 tasks sending at once into a peer that reads slowly: most of them wait for the same drain.
      handle: async (_requests, send) => { await Promise.all(Array.from({ length: senders }, () => send(chunk))) },
    }
    peer = startPeer(new Map([['/test.Stream/Many', handler]]))
    const call = openCall(peer.client, '/test.Stream/Many')
    call.stream.end()
    const received = await collect(call.messages())
    expect(received).toHaveLength(senders)
    expect((await call.status).code).toBe(GrpcCode.OK)
    await new Promise((resolve) => setImmediate(resolve))
    process.off('warning', onWarning)
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
  })

  it('refuses a compressed message with Internal', async () => {
    peer = startPeer(sessionMethods({}))
    const call = openCall(peer.client, '/grpc.health.v1.Health/Check')
    call.stream.write(Buffer.from([1, 0, 0, 0, 0]))
    call.stream.end()
    await collect(call.messages())
    expect((await call.status).code).toBe(GrpcCode.Internal)
  })

  it('survives the connection breaking mid-call: the handler is canceled, the error goes to onError, closed resolves', async () => {
    let reason: unknown
    const waits: MethodHandler = {
      kind: 'bidi',
      async handle(requests, _send, call) {
        try {
          for await (const _ of requests) void _
        } finally {
          reason = call.signal.reason
        }
      },
    }
    const [serverSide, clientSide] = duplexPair()
    const errors: unknown[] = []
    const server = serveGrpc(serverSide, new Map([['/t.T/Wait', waits]]), { onError: (e) => errors.push(e) })
    const client = connect('http://session', { createConnection: () => clientSide })
    client.on('error', () => {})
    const call = openCall(client, '/t.T/Wait')
    call.send(Buffer.from('x'))
    await new Promise((r) => setTimeout(r, 20))
    serverSide.destroy(new Error('link down'))
    await server.closed
    await vi.waitFor(() => expect(reason).toMatchObject({ code: 'Canceled' }))
    expect(errors.map(String)).toContain('Error: link down')
    client.destroy()
  })
})
