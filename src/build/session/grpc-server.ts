/**
 * A minimal gRPC server on one already-connected byte stream: what a BuildKit session needs, since inside
 * the session tunnel the daemon is the HTTP/2 client and we answer its calls. Unary and bidirectional
 * methods only (the session services use nothing else), no compression (a compressed message is refused).
 *
 * The HTTP/2 side is `http2.performServerHandshake(duplex)` (Node ≥ 20.12 / 21.7; the package needs 22):
 * a documented call that makes a server session straight on the duplex. The alternative, a throwaway
 * `http2.createServer()` fed with `server.emit('connection', duplex)`, goes through an undocumented event
 * path and leaves a server object to close. Chosen for that, not measured: the two were not benchmarked
 * against each other (a session carries few calls; the DiffCopy bytes dominate).
 */

import { constants, performServerHandshake, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2'
import type { Duplex } from 'node:stream'
import { CanceledError, GrpcCode, isContainerdError } from '../../grpc/errors.js'
import { encodeFrame, FrameDecoder, FrameError, MAX_MESSAGE_BYTES } from '../../grpc/grpc-frame.js'
import { AsyncQueue } from '../../util/async-queue.js'
import type { MethodHandler, MethodTable, ServerCall, ServerMetadata } from './grpc-handler.js'

/** Options of {@link serveGrpc}. */
export interface GrpcServerOptions {
  /** Largest request message accepted (default 16 MiB, what buildkitd itself accepts). */
  maxMessageBytes?: number
  /**
   * Told about failures no call can report: the connection breaking, a protocol error of the peer.
   * The server never lets an 'error' event go unheard; without this they are dropped.
   */
  onError?: (error: unknown) => void
}

/** A running server on one connection. */
export interface GrpcServer {
  /** Resolves once the HTTP/2 session is closed (by either side). Never rejects. */
  readonly closed: Promise<void>
  /** Closes the session: open calls are canceled, the duplex is destroyed. Idempotent. */
  close(): void
}

// Request messages buffered per call before the stream is paused (HTTP/2 flow control then holds the peer).
const INBOX_HIGH_WATER = 16
// Headers that are the transport's business, not the call's metadata.
const TRANSPORT_HEADERS = new Set(['content-type', 'te', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'user-agent'])

/**
 * Serves `methods` on `socket` until either side closes it. Unknown methods get Unimplemented; a
 * handler's `ContainerdError` travels as its gRPC code and message, any other throw as Unknown.
 */
export function serveGrpc(socket: Duplex, methods: MethodTable, options: GrpcServerOptions = {}): GrpcServer {
  const report = (error: unknown): void => options.onError?.(error)
  const maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES
  // Listened to before the handshake: a duplex failing early must not become an unhandled 'error'.
  socket.on('error', report)
  const session: ServerHttp2Session = performServerHandshake(socket)
  let resolveClosed!: () => void
  const closed = new Promise<void>((resolve) => { resolveClosed = resolve })
  session.on('error', report)
  session.on('close', () => {
    resolveClosed()
    socket.destroy()
  })
  // Answered at the session level by Node; listened to so that a peer's GOAWAY with an error code is seen.
  session.on('goaway', (code: number) => {
    if (code !== constants.NGHTTP2_NO_ERROR) report(new Error(`the peer closed the session with HTTP/2 error ${code}`))
  })
  session.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    handleStream(stream, headers, rawHeaders, methods, maxMessageBytes, report)
  })
  return {
    closed,
    close() {
      if (session.closed || session.destroyed) return
      session.destroy()
    },
  }
}

/** Metadata from the raw header list: Node's `headers` object joins repeated values with ", ". */
function metadataOf(rawHeaders: readonly string[]): ServerMetadata {
  const metadata: Record<string, string[]> = {}
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = rawHeaders[i]!.toLowerCase()
    if (key.startsWith(':') || TRANSPORT_HEADERS.has(key)) continue
    ;(metadata[key] ??= []).push(rawHeaders[i + 1]!)
  }
  return metadata
}

/** The gRPC spec's percent-encoding of `grpc-message`: everything outside printable ASCII, and `%`. */
export function encodeGrpcMessage(message: string): string {
  let out = ''
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** The status a handler's throw travels as. */
function statusOf(error: unknown): { code: number; message: string } {
  if (isContainerdError(error)) return { code: error.grpcCode, message: error.message }
  if (error instanceof FrameError) return { code: error.tooLarge ? GrpcCode.ResourceExhausted : GrpcCode.Internal, message: error.message }
  return { code: GrpcCode.Unknown, message: error instanceof Error ? error.message : String(error) }
}

function handleStream(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
  methods: MethodTable,
  maxMessageBytes: number,
  report: (error: unknown) => void,
): void {
  // A reset or broken stream ends the call through 'close'; the error itself has nobody to go to.
  stream.on('error', () => {})
  const method = String(headers[':path'] ?? '')
  let done = false

  /** Ends the call with a status: trailers-only when nothing was sent yet, else after the messages. */
  const finish = (code: number, message: string): void => {
    if (done) return
    done = true
    if (stream.destroyed || stream.closed) return
    const status: Record<string, string> = { 'grpc-status': String(code) }
    if (message !== '') status['grpc-message'] = encodeGrpcMessage(message)
    // The peer may still be sending (a bidi call the handler ended early): keep reading so HTTP/2 flow
    // control never stalls the connection, and drop what comes.
    stream.resume()
    if (!stream.headersSent) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto', ...status }, { endStream: true })
      return
    }
    stream.once('wantTrailers', () => stream.sendTrailers(status))
    stream.end()
  }

  const handler: MethodHandler | undefined = methods.get(method)
  if (handler === undefined) {
    stream.resume()
    finish(GrpcCode.Unimplemented, `unknown method ${method}`)
    return
  }

  const abort = new AbortController()
  const call: ServerCall = { method, metadata: metadataOf(rawHeaders), signal: abort.signal }
  const inbox = new AsyncQueue<Uint8Array>(INBOX_HIGH_WATER)
  const decoder = new FrameDecoder(maxMessageBytes)
  let waitingForSpace = false
  stream.on('close', () => {
    // Whatever the handler still waits for, the call is over.
    inbox.fail(new CanceledError(`${method}: the call was closed`))
    if (!done) abort.abort(new CanceledError(`${method}: the peer canceled the call`))
    done = true
  })
  stream.on('data', (chunk: Buffer) => {
    if (done) return
    let messages: Buffer[]
    try {
      messages = decoder.push(chunk)
    } catch (err) {
      report(err)
      const { code, message } = statusOf(err)
      inbox.fail(err)
      abort.abort(err)
      finish(code, message)
      return
    }
    for (const m of messages) inbox.push(m)
    if (messages.length > 0 && !waitingForSpace) {
      waitingForSpace = true
      stream.pause()
      void inbox.space().then(() => {
        waitingForSpace = false
        if (!done) stream.resume()
      })
    }
  })
  stream.on('end', () => {
    if (decoder.pending) {
      const err = new FrameError(`${method}: the request stream ended inside a message`)
      inbox.fail(err)
      finish(GrpcCode.Internal, err.message)
      return
    }
    // A bare RST_STREAM (grpc-go's cancel) comes as 'close' without 'end'. A peer that half-closes and
    // then resets (Node's close()) is seen as a half-close: the handler may finish with OK, harmlessly.
    inbox.close()
  })

  // Headers now, trailers at the end: messages can follow the headers as the handler produces them.
  stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto' }, { waitForTrailers: true })

  // One wait for 'drain' shared by every sender blocked on it: a handler sends from many tasks at once
  // (DiffCopy's file readers), and a listener pair each went past Node's limit of 10 and printed
  // MaxListenersExceededWarning on the caller's stderr.
  let drained: Promise<void> | undefined
  const whenDrained = (): Promise<void> => {
    drained ??= new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        stream.off('close', onClose)
        drained = undefined
        resolve()
      }
      const onClose = (): void => {
        stream.off('drain', onDrain)
        reject(new CanceledError(`${method}: the call was closed`))
      }
      stream.once('drain', onDrain)
      stream.once('close', onClose)
    })
    return drained
  }
  const send = async (message: Uint8Array): Promise<void> => {
    if (done || stream.destroyed) throw new CanceledError(`${method}: the call is over`)
    if (stream.write(encodeFrame(message))) return
    await whenDrained()
  }

  const run = async (): Promise<void> => {
    if (handler.kind === 'unary') {
      let request: Uint8Array | undefined
      for await (const message of inbox) {
        if (request !== undefined) throw new FrameError(`${method}: a unary call got more than one request message`)
        request = message
      }
      if (request === undefined) throw new FrameError(`${method}: a unary call got no request message`)
      await send(await handler.handle(request, call))
    } else {
      await handler.handle(inbox, send, call)
    }
  }
  run().then(
    () => finish(GrpcCode.OK, ''),
    (err: unknown) => {
      const { code, message } = statusOf(err)
      finish(code, message)
    },
  )
}
