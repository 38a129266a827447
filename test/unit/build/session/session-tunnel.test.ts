import { connect } from 'node:http2'
import { duplexPair } from 'node:stream'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { describe, expect, it } from 'vitest'
import { serveGrpc } from '../../../../src/build/session/grpc-server.js'
import { sessionMethods } from '../../../../src/build/session/session-methods.js'
import { openSessionTunnel } from '../../../../src/build/session/session-tunnel.js'
import { BytesMessageSchema } from '../../../../src/gen/moby/buildkit/session/filesync/filesync_pb.js'
import { HealthCheckResponseSchema, HealthCheckResponse_ServingStatus } from '../../../../src/gen/grpc/health/v1/health_pb.js'
import type { Metadata } from '../../../../src/grpc/call-options.js'
import type { Transport } from '../../../../src/grpc/transport.js'
import { openCall } from './grpc-peer.js'

/** A Transport whose only stream is Control.Session, bridged to `daemonSide` as raw bytes (what grpchijack does). */
function fakeControl(): { transport: Transport; daemonSide: ReturnType<typeof duplexPair>[0]; seen: { method?: string; metadata?: Metadata; signal?: AbortSignal | undefined } } {
  const [daemonSide, bridge] = duplexPair()
  const seen: { method?: string; metadata?: Metadata; signal?: AbortSignal | undefined } = {}
  const transport: Transport = {
    unary: () => Promise.reject(new Error('not used')),
    stream(method, requests, metadata, options) {
      seen.method = method
      seen.metadata = metadata
      seen.signal = options?.signal
      void (async () => {
        if (requests instanceof Uint8Array) return
        for await (const r of requests) {
          if (r instanceof Uint8Array) bridge.write(fromBinary(BytesMessageSchema, r).data)
        }
        bridge.end()
      })().catch(() => bridge.destroy())
      return (async function* () {
        for await (const chunk of bridge) yield Buffer.from(toBinary(BytesMessageSchema, create(BytesMessageSchema, { data: chunk as Buffer })))
      })()
    },
    close: () => {},
  }
  return { transport, daemonSide, seen }
}

describe('openSessionTunnel', () => {
  it('carries the session headers as metadata (methods as separate values) and the daemon health-checks through it', async () => {
    const { transport, daemonSide, seen } = fakeControl()
    const methods = sessionMethods({ locals: new Map() })
    const tunnel = openSessionTunnel(transport, { id: 'sess1', sharedKey: 'key', methods: [...methods.keys()] })
    const server = serveGrpc(tunnel, methods)
    expect(seen.method).toBe('/moby.buildkit.v1.Control/Session')
    expect(seen.metadata).toEqual({
      'x-docker-expose-session-uuid': 'sess1',
      'x-docker-expose-session-sharedkey': 'key',
      'x-docker-expose-session-grpc-method': [
        '/grpc.health.v1.Health/Check',
        '/moby.filesync.v1.Auth/Credentials',
        '/moby.filesync.v1.Auth/GetTokenAuthority',
        '/moby.filesync.v1.FileSync/DiffCopy',
      ],
    })
    const daemon = connect('http://session', { createConnection: () => daemonSide })
    daemon.on('error', () => {})
    const call = openCall(daemon, '/grpc.health.v1.Health/Check')
    call.send(new Uint8Array())
    call.stream.end()
    let answer: Buffer | undefined
    for await (const m of call.messages()) answer = m
    expect(fromBinary(HealthCheckResponseSchema, answer!).status).toBe(HealthCheckResponse_ServingStatus.SERVING)
    expect((await call.status).code).toBe(0)
    daemon.close()
    await server.closed
    expect(tunnel.destroyed).toBe(true)
  })

  it('refuses a session ID with ":"', () => {
    expect(() => openSessionTunnel(fakeControl().transport, { id: 'a:b', sharedKey: '', methods: [] })).toThrow(TypeError)
  })

  it('carries bytes both ways; end() half-closes and the readable side drains to the daemon\'s end without canceling', async () => {
    const { transport, daemonSide, seen } = fakeControl()
    const tunnel = openSessionTunnel(transport, { id: 's', sharedKey: '', methods: [] })
    const fromTunnel: Buffer[] = []
    daemonSide.on('data', (c: Buffer) => fromTunnel.push(c))
    const daemonSawEnd = new Promise<void>((resolve) => daemonSide.on('end', resolve))
    const toTunnel: Buffer[] = []
    tunnel.on('data', (c: Buffer) => toTunnel.push(c))
    const tunnelClosed = new Promise<void>((resolve) => tunnel.on('close', resolve))
    tunnel.write(Buffer.from('hello '))
    tunnel.write(Buffer.from('daemon'))
    daemonSide.write(Buffer.from('hello client'))
    tunnel.end()
    await daemonSawEnd
    expect(Buffer.concat(fromTunnel).toString()).toBe('hello daemon')
    // The daemon answers a half-close by ending its side; only then is the tunnel done.
    daemonSide.end()
    await tunnelClosed
    expect(Buffer.concat(toTunnel).toString()).toBe('hello client')
    expect(seen.signal?.aborted).toBe(false)
  })
})
