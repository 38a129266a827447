import { connect, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2'
import { duplexPair } from 'node:stream'
import { FrameDecoder, encodeFrame } from '../../../../src/grpc/grpc-frame.js'
import { AsyncQueue } from '../../../../src/util/async-queue.js'
import type { MethodTable } from '../../../../src/build/session/grpc-handler.js'
import { serveGrpc, type GrpcServer } from '../../../../src/build/session/grpc-server.js'

/** A server on one end of an in-memory duplex pair and a node:http2 client (the daemon's role) on the other. */
export interface Peer {
  server: GrpcServer
  client: ClientHttp2Session
  /** Errors the server reported through `onError`. */
  errors: unknown[]
  close(): Promise<void>
}

export function startPeer(methods: MethodTable): Peer {
  const [serverSide, clientSide] = duplexPair()
  const errors: unknown[] = []
  const server = serveGrpc(serverSide, methods, { onError: (e) => errors.push(e) })
  const client = connect('http://session', { createConnection: () => clientSide })
  client.on('error', () => {})
  return {
    server,
    client,
    errors,
    async close() {
      client.close()
      server.close()
      await server.closed
    },
  }
}

/** One open call: raw response messages as they come, the status once the trailers are there. */
export interface OpenCall {
  stream: ClientHttp2Stream
  send(message: Uint8Array): void
  messages(): AsyncIterable<Buffer>
  status: Promise<{ code: number; message: string | undefined }>
}

export function openCall(client: ClientHttp2Session, path: string, metadata: OutgoingHttpHeaders = {}): OpenCall {
  const stream = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc+proto', te: 'trailers', ...metadata })
  stream.on('error', () => {})
  const status = new Promise<{ code: number; message: string | undefined }>((resolve) => {
    const pick = (h: Record<string, unknown>): boolean => {
      if (h['grpc-status'] === undefined) return false
      const m = h['grpc-message']
      resolve({ code: Number(h['grpc-status']), message: typeof m === 'string' ? decodeURIComponent(m) : undefined })
      return true
    }
    stream.on('response', (h) => void pick(h))
    stream.on('trailers', (h) => void pick(h))
    stream.on('close', () => resolve({ code: -1, message: `closed with RST ${stream.rstCode}` }))
  })
  // Fed from events, not by iterating the stream: leaving a for-await over a Node stream destroys it
  // (a reset), and a peer that stops reading after the last message must still see the trailers.
  const inbox = new AsyncQueue<Buffer>()
  const decoder = new FrameDecoder()
  stream.on('data', (chunk: Buffer) => {
    for (const m of decoder.push(chunk)) inbox.push(m)
  })
  stream.on('end', () => inbox.close())
  stream.on('close', () => inbox.close())
  return {
    stream,
    send: (m) => void stream.write(encodeFrame(m)),
    messages: () => inbox,
    status,
  }
}
