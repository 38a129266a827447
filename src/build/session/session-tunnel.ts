/**
 * The byte stream a BuildKit session runs on: `Control.Session`, a bidirectional stream of
 * `BytesMessage` chunks (BuildKit's grpchijack). The chunks are pieces of a raw byte stream, not aligned
 * to anything, so the tunnel is a plain `Duplex`: the HTTP/2 server of the session runs on it as on a
 * socket. The session headers travel as the call's gRPC metadata.
 */

import { Duplex } from 'node:stream'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import type { Metadata } from '../../grpc/call-options.js'
import { CanceledError } from '../../grpc/errors.js'
import type { Transport } from '../../grpc/transport.js'
import { BytesMessageSchema } from '../../gen/moby/buildkit/session/filesync/filesync_pb.js'
import { Control } from '../../gen/moby/buildkit/api/services/control/control_pb.js'
import { AsyncQueue } from '../../util/async-queue.js'
import { methodPath } from './proto-handler.js'

/** What identifies a session to the daemon. */
export interface SessionHeaders {
  /** The session ID (the `Session` field of a Solve); must not contain `:`. */
  id: string
  /** Cache key for uploaded locals: a stable key lets a rebuild send only what changed. */
  sharedKey: string
  /** The method paths served (`/moby.filesync.v1.FileSync/DiffCopy`, …): the daemon only calls those. */
  methods: readonly string[]
}

/**
 * The headers as gRPC metadata (`session/session.go`'s names, lower-cased as gRPC metadata is); the
 * methods as a list, so each goes out as its own header field.
 */
export function sessionMetadata(headers: SessionHeaders): Metadata {
  return {
    'x-docker-expose-session-uuid': headers.id,
    'x-docker-expose-session-sharedkey': headers.sharedKey,
    'x-docker-expose-session-grpc-method': [...headers.methods],
  }
}

// Chunks queued toward the daemon before `write` waits (each is at most what the HTTP/2 server wrote at once).
const OUTBOX_HIGH_WATER = 16

/**
 * Opens `Control.Session` on `transport` and returns it as a duplex. Writing sends `BytesMessage`s;
 * ending the writable side half-closes the call (the daemon then ends its side, which ends the readable
 * side: "end the write side, then drain"). Destroying the duplex cancels the call while the daemon's side
 * is still open (so `GrpcServer.close()` on top cancels it; call `end()` first for an orderly close). A
 * failure of the call destroys the duplex with the transport's error (a `ContainerdError`).
 */
export function openSessionTunnel(transport: Transport, headers: SessionHeaders): Duplex {
  if (headers.id.includes(':')) throw new TypeError(`a session ID must not contain ":" (got ${JSON.stringify(headers.id)})`)
  const outbox = new AsyncQueue<Uint8Array>(OUTBOX_HIGH_WATER)
  const abort = new AbortController()
  let wantMore: (() => void) | undefined
  let responsesEnded = false

  async function* requests(): AsyncIterable<Uint8Array> {
    for await (const data of outbox) yield toBinary(BytesMessageSchema, create(BytesMessageSchema, { data }))
  }

  const pump = async (): Promise<void> => {
    const responses = transport.stream(methodPath(Control.method.session), requests(), sessionMetadata(headers), { signal: abort.signal })
    for await (const response of responses) {
      const { data } = fromBinary(BytesMessageSchema, response)
      if (data.byteLength === 0) continue
      if (!tunnel.push(data)) {
        // Node's read() is called again once the consumer wants more: only then take the next chunk.
        await new Promise<void>((resolve) => { wantMore = resolve })
      }
    }
    responsesEnded = true
    tunnel.push(null)
  }

  const tunnel = new Duplex({
    read() {
      const resume = wantMore
      wantMore = undefined
      resume?.()
    },
    write(chunk: Buffer, _encoding, callback) {
      outbox.push(chunk)
      outbox.space().then(() => callback(), callback)
    },
    final(callback) {
      outbox.close()
      callback()
    },
    destroy(err, callback) {
      // Destroyed without an error (the HTTP/2 session on top closed): half-close what was not closed yet
      // instead of failing it, so the daemon sees an orderly end rather than a broken request stream.
      if (err === null) outbox.close()
      else outbox.fail(err)
      // The call itself is canceled only while the daemon still has its side open.
      if (!responsesEnded) abort.abort(err ?? new CanceledError('the session tunnel was closed'))
      wantMore?.()
      callback(err)
    },
  })
  // Opened now, not at the first read: the daemon looks the session up by ID within seconds of a Solve.
  pump().catch((err: unknown) => tunnel.destroy(err instanceof Error ? err : new Error(String(err))))
  return tunnel
}
