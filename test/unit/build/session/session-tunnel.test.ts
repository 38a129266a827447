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
function fakeControl(): { transport: Transport; daemonSide: ReturnType<typeof duplexPair>[0]; seen: { method?: string; metadata?: Metadata } } {
  const [daemonSide, bridge] = duplexPair()
  const seen: { method?: string; metadata?: Metadata } = {}
  const transport: Transport = {
    unary: () => Promise.reject(new Error('not used')),
    stream(method, requests, metadata) {
      seen.method = method
      seen.metadata = metadata
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
})
