import { stat } from 'node:fs/promises'
import { connect as netConnect } from 'node:net'
import type { Duplex } from 'node:stream'
import { join } from 'node:path'
import {
  connect as http2Connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2'
import {
  ContainerdError,
  DeadlineExceededError,
  errorFromStatus,
  InternalError,
  InvalidArgumentError,
  ResourceExhaustedError,
  UnavailableError,
} from './errors.js'
import type { CallOptions, Metadata } from './call-options.js'
import type { Transport } from './transport.js'
import { abortError, checkResponseHeaders, errorFromRstCode, statusFromHeaders } from './call-status.js'
import { checkTimeoutMs, expiredDeadline, grpcTimeoutHeader } from './deadline.js'
import { encodeFrame, FrameDecoder, FrameError, frameHeader, MAX_MESSAGE_BYTES } from './grpc-frame.js'
import { PreEncoded } from './pre-encoded.js'

/** Options for {@link Http2Channel}. */
export interface Http2ChannelOptions {
  /** How long to wait for the socket to accept a connection, up to 2^31 - 1 ms. Default 10 s. */
  connectTimeoutMs?: number
  /** Largest message accepted or sent. Default 16 MiB, containerd's own limit. */
  maxMessageBytes?: number
  /**
   * Opens the connection the HTTP/2 session runs on, instead of connecting to the unix socket at
   * `socketPath` (which then only names the peer in errors). BuildKit is reached over TCP or over dockerd's
   * `/grpc` HTTP upgrade, where the stream is already connected when HTTP/2 starts. Called again after the
   * connection is lost; should reject with a `ContainerdError` that names the address. `signal` aborts
   * when `connectTimeoutMs` passes, so a dial that hangs does not keep its socket open.
   */
  dial?: (signal: AbortSignal) => Promise<Duplex>
  /** Names the daemon in error messages. Default `containerd`. */
  peerName?: string
}

// A large HTTP/2 flow-control window lets a 1 MiB content chunk arrive without waiting for WINDOW_UPDATEs
// (the protocol default of 64 KiB makes streaming reads several times slower over the unix socket).
const WINDOW_BYTES = 32 * 1024 * 1024
// Messages a server stream may queue before we pause reading it: the consumer's pace sets the rate.
const STREAM_HIGH_WATER = 16
// Above this size a message is written after its frame header instead of being copied into one buffer
// with it: content writes send 1 MiB messages, and the copy showed up in profiles.
const COPY_FRAME_BELOW = 64 * 1024
// Every call's stream options, shared rather than built per call: the request body follows the headers.
const REQUEST_OPTIONS = { endStream: false } as const

/**
 * A gRPC client channel over HTTP/2 on a unix socket, written on `node:http2` directly: one session,
 * opened lazily and opened again after the daemon restarts, with the gRPC framing done here. This is the
 * thinnest path from a protobuf message to the socket (see docs/decisions.md for the measurements).
 */
export class Http2Channel implements Transport {
  private session: ClientHttp2Session | undefined
  private connecting: Promise<ClientHttp2Session> | undefined
  private active = 0
  private closed = false
  private readonly connectTimeoutMs: number
  private readonly maxMessageBytes: number
  private readonly dial: ((signal: AbortSignal) => Promise<Duplex>) | undefined
  private readonly peerName: string

  /** @throws InvalidArgumentError for a `connectTimeoutMs` that is not a number of milliseconds a timer can hold. */
  constructor(
    /** Filesystem path of the unix socket. */
    readonly socketPath: string,
    options: Http2ChannelOptions = {},
  ) {
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
    checkTimeoutMs(connectTimeoutMs, `connecting to ${socketPath}`)
    this.connectTimeoutMs = connectTimeoutMs
    this.maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES
    this.dial = options.dial
    this.peerName = options.peerName ?? 'containerd'
  }

  /** Sends one request message and resolves with the one response message. */
  unary(method: string, request: Uint8Array, metadata: Metadata, options: CallOptions = {}): Promise<Buffer> {
    // Not an async function: on an open session the stream is opened in this tick and the caller's promise
    // is settled straight from the call's end, without the promise hops of awaiting `open` (measured in
    // bench section 1). Every error still arrives as a rejection, never as a synchronous throw.
    let stream: ClientHttp2Stream | undefined
    try {
      this.checkSize(request, method)
      stream = this.openOnCurrentSession(method, metadata, options)
    } catch (err) {
      return Promise.reject(err)
    }
    if (stream !== undefined) return this.unaryOn(stream, method, request, options)
    return this.open(method, metadata, options).then((opened) => this.unaryOn(opened, method, request, options))
  }

  private unaryOn(stream: ClientHttp2Stream, method: string, request: Uint8Array, options: CallOptions): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      let response: Buffer | undefined
      const call = new CallState(stream, method, options, this.maxMessageBytes, this.peerName, (messages) => {
        if (response !== undefined || messages.length > 1) {
          call.fail(new InternalError(`${method}: the server sent more than one response to a unary call`, { method }))
          return
        }
        response = messages[0]
      }, (err) => {
        if (err !== undefined) reject(err)
        else if (response === undefined) reject(new InternalError(`${method}: the server closed the call without a response`, { method }))
        else resolve(response)
      })
      stream.end(encodeFrame(request))
    })
  }

  /**
   * Opens a streaming call. `requests` is one message (server streaming) or an async iterable of them
   * (client and bidirectional streaming). The returned iterable yields response messages; leaving the
   * loop early cancels the call.
   */
  stream(
    method: string,
    requests: Uint8Array | AsyncIterable<Uint8Array | PreEncoded>,
    metadata: Metadata,
    options: CallOptions = {},
  ): AsyncGenerator<Buffer, void, undefined> {
    return this.streamCall(method, requests, metadata, options)
  }

  private async *streamCall(
    method: string,
    requests: Uint8Array | AsyncIterable<Uint8Array | PreEncoded>,
    metadata: Metadata,
    options: CallOptions,
  ): AsyncGenerator<Buffer, void, undefined> {
    const stream = await this.open(method, metadata, options)
    const queue: Buffer[] = []
    let wake: (() => void) | undefined
    let settleDone!: (err?: ContainerdError) => void
    // Settled once, when the call ends: with the call's error, or without one.
    const done = new Promise<void>((resolve, reject) => {
      settleDone = (err) => { if (err === undefined) resolve(); else reject(err) }
    })
    const call = new CallState(stream, method, options, this.maxMessageBytes, this.peerName, (messages) => {
      queue.push(...messages)
      if (queue.length >= STREAM_HIGH_WATER) stream.pause()
      wake?.()
    }, settleDone)
    let finished = false
    done.then(() => { finished = true; wake?.() }, () => { finished = true; wake?.() })
    // A rejected `done` is observed below; this keeps Node from reporting it as unhandled meanwhile.
    done.catch(() => undefined)

    if (requests instanceof Uint8Array) {
      this.checkSize(requests, method)
      stream.end(encodeFrame(requests))
    } else {
      void this.pump(stream, requests, method, call)
    }

    try {
      for (;;) {
        // Once the caller aborts, nothing more is handed out, though the server may have sent it all
        // already (the call then ended well before the consumer read the queue).
        if (options.signal?.aborted === true) throw abortError(options.signal, method)
        const next = queue.shift()
        if (next !== undefined) {
          if (queue.length < STREAM_HIGH_WATER / 2 && stream.isPaused()) stream.resume()
          yield next
          continue
        }
        if (finished) break
        await new Promise<void>((resolve) => { wake = resolve })
        wake = undefined
      }
      await done
    } finally {
      // The consumer left early (break, throw, return): cancel the call so the server stops sending.
      if (!finished) call.cancel()
    }
  }

  /** Writes the request iterable into the stream, honouring HTTP/2 flow control. */
  private async pump(stream: ClientHttp2Stream, requests: AsyncIterable<Uint8Array | PreEncoded>, method: string, call: CallState): Promise<void> {
    try {
      for await (const message of requests) {
        if (call.isDone) return
        this.checkSize(message, method)
        let flushed: boolean
        if (message instanceof PreEncoded) {
          // Corked, the header and every part reach the socket in one writev instead of one write each
          // (a content write's payload can be a dozen socket chunks).
          stream.cork()
          stream.write(frameHeader(message.byteLength))
          flushed = true
          for (const part of message.parts) flushed = stream.write(part)
          stream.uncork()
        } else if (message.byteLength < COPY_FRAME_BELOW) {
          flushed = stream.write(encodeFrame(message))
        } else {
          stream.write(frameHeader(message.byteLength))
          flushed = stream.write(message)
        }
        if (!flushed) {
          await new Promise<void>((resolve) => {
            const settle = (): void => { stream.off('drain', settle); stream.off('close', settle); resolve() }
            stream.once('drain', settle)
            stream.once('close', settle)
          })
        }
      }
      if (!call.isDone) stream.end()
    } catch (err) {
      call.fail(err instanceof ContainerdError ? err : new InternalError(`${method}: reading the request stream failed: ${String(err)}`, { method, cause: err }))
    }
  }

  private checkSize(message: { byteLength: number }, method: string): void {
    if (message.byteLength > this.maxMessageBytes) {
      throw new ResourceExhaustedError(
        `${method}: the request is ${message.byteLength} bytes, above the ${this.maxMessageBytes}-byte message limit`,
        { method },
      )
    }
  }

  private async open(method: string, metadata: Metadata, options: CallOptions): Promise<ClientHttp2Stream> {
    // Skip the await (two promise hops) when the session is already open: the common case.
    const opened = this.openOnCurrentSession(method, metadata, options)
    if (opened !== undefined) return opened
    return this.request(await this.getSession(method, options), method, metadata, options)
  }

  /**
   * Checks the call's options, then opens its stream on the current session if one is open; undefined when
   * the session must be (re)connected first. Throws the options' errors synchronously.
   */
  private openOnCurrentSession(method: string, metadata: Metadata, options: CallOptions): ClientHttp2Stream | undefined {
    // A bad timeoutMs is the caller's mistake: refused before anything is sent (a NaN or an overlong one
    // would otherwise reach the timer and the grpc-timeout header as garbage).
    if (options.timeoutMs !== undefined) checkTimeoutMs(options.timeoutMs, method)
    if (options.signal?.aborted) throw abortError(options.signal, method)
    const expired = expiredDeadline(options.timeoutMs, method)
    if (expired !== undefined) throw expired
    const current = this.session
    if (current === undefined || current.closed || current.destroyed || this.closed) return undefined
    return this.request(current, method, metadata, options)
  }

  private request(session: ClientHttp2Session, method: string, metadata: Metadata, options: CallOptions): ClientHttp2Stream {
    // A literal first, metadata copied in after: V8 builds this much faster than an object spread with
    // computed keys (measured ~3 µs per call).
    const headers: OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': method,
      'content-type': 'application/grpc+proto',
      te: 'trailers',
    }
    for (const key in metadata) headers[key] = metadata[key]
    if (options.timeoutMs !== undefined) headers['grpc-timeout'] = grpcTimeoutHeader(options.timeoutMs)
    let stream: ClientHttp2Stream
    try {
      stream = session.request(headers, REQUEST_OPTIONS)
    } catch (err) {
      this.forget(session)
      throw new UnavailableError(`${method}: cannot open a stream to ${this.peerName} at ${this.socketPath}: ${String(err)}`, { method, cause: err })
    }
    // Keep the process alive while a call is open, and only then: an idle client must not hold Node up.
    this.active++
    session.ref()
    stream.once('close', () => {
      this.active--
      if (this.active === 0 && this.session === session && !session.destroyed) session.unref()
    })
    return stream
  }

  private async getSession(method: string, options: CallOptions): Promise<ClientHttp2Session> {
    if (this.closed) throw new UnavailableError(`${method}: the client is closed`, { method })
    const current = this.session
    if (current !== undefined && !current.closed && !current.destroyed) return current
    this.connecting ??= this.connect().finally(() => { this.connecting = undefined })
    const pending = this.connecting
    if (options.signal === undefined) return pending
    const signal = options.signal
    return new Promise<ClientHttp2Session>((resolve, reject) => {
      const onAbort = (): void => reject(abortError(signal, method))
      signal.addEventListener('abort', onAbort, { once: true })
      pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  private async connect(): Promise<ClientHttp2Session> {
    const socket = await this.connectSocket()
    const session = http2Connect('http://localhost', {
      createConnection: () => socket,
      settings: { initialWindowSize: WINDOW_BYTES, enablePush: false },
      maxSessionMemory: 64,
    })
    session.setLocalWindowSize(WINDOW_BYTES)
    const forget = (): void => this.forget(session)
    session.on('close', forget)
    session.on('goaway', forget)
    // Errors reach each open stream as well; the session itself is simply dropped and reopened on demand.
    session.on('error', forget)
    session.unref()
    this.session = session
    return session
  }

  private connectSocket(): Promise<Duplex> {
    if (this.dial !== undefined) return this.dialWithTimeout(this.dial)
    return new Promise<Duplex>((resolve, reject) => {
      const socket = netConnect(this.socketPath)
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new UnavailableError(`${this.peerName} is not reachable at ${this.socketPath}: no answer within ${this.connectTimeoutMs} ms`))
      }, this.connectTimeoutMs)
      socket.once('connect', () => { clearTimeout(timer); socket.removeAllListeners('error'); resolve(socket) })
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        void connectError(this.socketPath, err).then(reject)
      })
    })
  }

  /** Runs the caller's dial under the connect timeout; a connection that arrives too late is closed. */
  private dialWithTimeout(dial: (signal: AbortSignal) => Promise<Duplex>): Promise<Duplex> {
    return new Promise<Duplex>((resolve, reject) => {
      let timedOut = false
      const controller = new AbortController()
      const timer = setTimeout(() => {
        timedOut = true
        controller.abort()
        reject(new UnavailableError(`${this.peerName} is not reachable at ${this.socketPath}: no answer within ${this.connectTimeoutMs} ms`))
      }, this.connectTimeoutMs)
      dial(controller.signal).then((stream) => {
        clearTimeout(timer)
        if (timedOut) stream.destroy()
        else resolve(stream)
      }, (err: unknown) => {
        clearTimeout(timer)
        // After the timeout the promise is settled already; the dial's own abort error goes nowhere.
        reject(err instanceof ContainerdError ? err : new UnavailableError(`${this.peerName} is not reachable at ${this.socketPath}: ${String(err)}`, { cause: err }))
      })
    })
  }

  private forget(session: ClientHttp2Session): void {
    if (this.session === session) this.session = undefined
    if (!session.destroyed) session.close()
  }

  /** Closes the connection; calls in flight end with an error, later calls fail with `UnavailableError`. */
  close(): void {
    this.closed = true
    const session = this.session
    this.session = undefined
    session?.destroy()
  }

  /** True once {@link close} was called. */
  get isClosed(): boolean {
    return this.closed
  }
}

/**
 * The error for a failed connect. A path that exists but is no socket (the directory `/run/containerd`,
 * a regular file) is the caller's mistake, not a daemon that is down: connect(2) reports it as
 * ECONNREFUSED like a socket nobody listens on, so the path is looked at to tell the two apart.
 */
async function connectError(path: string, err: NodeJS.ErrnoException): Promise<ContainerdError> {
  if (err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK') {
    const kind = await fileKind(path)
    if (kind !== undefined && kind !== 'socket') {
      const example = kind === 'a directory' ? join(path, 'containerd.sock') : '/run/containerd/containerd.sock'
      return new InvalidArgumentError(`${path} is ${kind}, not a socket: pass the socket path, e.g. ${example}`, { cause: err })
    }
  }
  return new UnavailableError(`containerd is not reachable at ${path}: ${describeSocketError(err)}`, { cause: err })
}

/** What is at `path` (symbolic links followed), or undefined when it cannot be looked at. */
async function fileKind(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path)
    if (s.isSocket()) return 'socket'
    if (s.isDirectory()) return 'a directory'
    if (s.isFile()) return 'a regular file'
    if (s.isFIFO()) return 'a FIFO'
    return s.isCharacterDevice() || s.isBlockDevice() ? 'a device' : 'a special file'
  } catch {
    return undefined
  }
}

function describeSocketError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT': return 'no socket exists at that path (is containerd running? set CONTAINERD_ADDRESS or pass address)'
    case 'ECONNREFUSED': return 'nothing is listening on that socket (containerd is not running)'
    case 'EACCES': return 'permission denied (containerd\'s socket usually needs root)'
    default: return err.message
  }
}

/**
 * Tracks one call's stream: collects response frames, the status from trailers, abort and deadline, and
 * settles `done` exactly once with the mapped error or success.
 */
class CallState {
  private settled = false
  private status: { code: number; message: string } | undefined
  private headerError: ContainerdError | undefined
  private streamError: unknown
  private readonly decoder: FrameDecoder
  private timer: NodeJS.Timeout | undefined
  private readonly onAbort: (() => void) | undefined

  constructor(
    private readonly stream: ClientHttp2Stream,
    private readonly method: string,
    private readonly options: CallOptions,
    maxMessageBytes: number,
    /** Names the daemon when the connection is lost mid-call. */
    private readonly peerName: string,
    onMessages: (messages: Buffer[]) => void,
    /** Called exactly once, when the call ends: with its error, or with none. */
    private readonly onSettled: (err?: ContainerdError) => void,
  ) {
    this.decoder = new FrameDecoder(maxMessageBytes)
    stream.on('response', (headers: IncomingHttpHeaders) => {
      this.headerError = checkResponseHeaders(headers, method)
      // A trailers-only response carries the status in the headers.
      this.status = statusFromHeaders(headers)
    })
    stream.on('trailers', (trailers: IncomingHttpHeaders) => {
      this.status = statusFromHeaders(trailers) ?? this.status
    })
    stream.on('data', (chunk: Buffer) => {
      if (this.settled) return
      try {
        const messages = this.decoder.push(chunk)
        if (messages.length > 0) onMessages(messages)
      } catch (err) {
        const e = err as FrameError
        this.fail(e.tooLarge ? new ResourceExhaustedError(`${method}: ${e.message}`, { method }) : new InternalError(`${method}: ${e.message}`, { method }))
      }
    })
    stream.on('error', (err: unknown) => { this.streamError = err })
    stream.on('close', () => this.finish())
    if (options.signal !== undefined) {
      const signal = options.signal
      this.onAbort = () => this.fail(abortError(signal, method))
      signal.addEventListener('abort', this.onAbort, { once: true })
    }
    if (options.timeoutMs !== undefined) {
      this.timer = setTimeout(() => {
        this.fail(new DeadlineExceededError(`${method}: no answer within ${options.timeoutMs} ms`, { method }))
      }, options.timeoutMs)
    }
  }

  get isDone(): boolean {
    return this.settled
  }

  private settle(err?: ContainerdError): void {
    if (this.settled) return
    this.settled = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.onAbort !== undefined) this.options.signal?.removeEventListener('abort', this.onAbort)
    this.onSettled(err)
  }

  /** Ends the call with `err` and resets the stream so the server stops working on it. */
  fail(err: ContainerdError): void {
    if (this.settled) return
    this.settle(err)
    if (!this.stream.closed) this.stream.close(constants.NGHTTP2_CANCEL)
  }

  /** Cancels the call without reporting an error (the consumer went away). */
  cancel(): void {
    if (this.settled) return
    this.settle()
    if (!this.stream.closed) this.stream.close(constants.NGHTTP2_CANCEL)
  }

  private finish(): void {
    if (this.settled) return
    const method = this.method
    if (this.headerError !== undefined) return this.settle(this.headerError)
    if (this.status !== undefined) {
      if (this.status.code !== 0) return this.settle(errorFromStatus(this.status.code, this.status.message, method))
      if (this.decoder.pending) return this.settle(new InternalError(`${method}: the response ended inside a message`, { method }))
      return this.settle()
    }
    if (this.options.signal?.aborted) return this.settle(abortError(this.options.signal, method))
    const session = this.stream.session
    if (session === undefined || session.destroyed || session.closed) {
      // The daemon went away mid-call (restart, crash): the next call reconnects.
      return this.settle(new UnavailableError(`${method}: the connection to ${this.peerName} was lost`, { method, cause: this.streamError }))
    }
    if (this.streamError !== undefined || this.stream.rstCode !== undefined) {
      return this.settle(errorFromRstCode(this.stream.rstCode ?? constants.NGHTTP2_INTERNAL_ERROR, method, this.streamError))
    }
    this.settle(new UnavailableError(`${method}: the connection closed before the call finished`, { method }))
  }
}
