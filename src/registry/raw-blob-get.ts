import type { IncomingHttpHeaders } from 'node:http'
import { connect as netConnect, isIP, type OnReadOpts, type Socket } from 'node:net'
import { rootCertificates, connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import { canceledError } from '../grpc/abort.js'
import { headersTooLarge, type TlsSettings } from './http-request.js'
import { DEFAULT_IDLE_TIMEOUT_MS, markStall, StallWatch, stallMessage } from './stall-watch.js'

/**
 * Where a blob's bytes go, read by the socket straight into the consumer's memory: no buffer is
 * allocated per read and nothing is copied on the way (a content writer's 1 MiB message slots).
 */
export interface BlobSink {
  /** The memory the next read fills: non-empty, and not read by anyone until {@link advance}. */
  target(): Uint8Array
  /**
   * `n` bytes were read into the start of the last {@link target}. A promise means: read nothing more
   * until it settles (the consumer is full); a rejection ends the download with its error.
   */
  advance(n: number): Promise<void> | undefined
  /** Bytes that arrived before the body could go to a target (with the response head): copy them. */
  write(bytes: Uint8Array): Promise<void>
}

/** One GET whose body can be read into a {@link BlobSink}. */
export interface RawGetRequest {
  url: URL
  headers: Record<string, string>
  tls?: TlsSettings
  signal?: AbortSignal | undefined
  /** Time allowed until the response head arrives. Default 60 s. */
  headersTimeoutMs?: number
  /**
   * Time within which the body must make progress while we wait for it (waits for the sink do not count):
   * fewer than 16 KiB in this long, nothing or a trickle, is a stall (see stall-watch.ts). Default 60 s; a
   * stall fails the body with code `ETIMEDOUT`, which the caller resumes like a dropped connection.
   */
  idleTimeoutMs?: number
}

/** The response head; `body` is read into a sink, or thrown away (which closes the connection). */
export interface RawGetResponse {
  status: number
  headers: IncomingHttpHeaders
  body: RawBody
}

// A response head larger than this is refused (registries send a few hundred bytes).
const MAX_HEAD_BYTES = 64 * 1024
const HEAD_END = Buffer.from('\r\n\r\n')
// Where reads go once the body is complete or abandoned: never handed to a sink.
const SCRATCH_BYTES = 4096

/** The body of a {@link RawGetResponse}: on its own connection, which ends with it. */
export class RawBody {
  /** The body's length: known when the registry sent Content-Length and no Transfer-Encoding. */
  readonly length: number | undefined

  constructor(private readonly reader: RawReader, length: number | undefined) {
    this.length = length
  }

  /**
   * Reads the whole body (`length` bytes) into `sink`. Rejects with an error whose code is
   * `ECONNRESET` when the connection ends early, or `ETIMEDOUT` when it stalls, so the caller can resume
   * with a Range request.
   */
  readInto(sink: BlobSink): Promise<void> {
    if (this.length === undefined) return Promise.reject(new Error('a body without Content-Length cannot be read into a sink'))
    return this.reader.readBody(sink, this.length)
  }

  /** Throws the body away; the connection is closed. */
  resume(): void {
    this.reader.close()
  }

  /** Closes the connection. */
  destroy(err?: Error): void {
    this.reader.close(err)
  }
}

/**
 * Sends a GET over a connection of its own (TLS when the URL is https) and resolves with the response
 * head. For blob downloads only: node:http allocates a buffer per socket read, copies every body chunk
 * once more in its parser and moves it through a stream; a pull spent ≈ 0.4 CPU-s per 300 MiB there.
 * Here the socket reads straight into the sink's memory. Bodies with Content-Length only (what
 * registries send for blobs); the caller falls back to node:http otherwise.
 */
export function rawGet(req: RawGetRequest): Promise<RawGetResponse> {
  for (const [name, value] of Object.entries(req.headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) return Promise.reject(new TypeError(`invalid character in header ${name}`))
  }
  return new RawReader(req).head
}

class RawReader {
  readonly head: Promise<RawGetResponse>
  private readonly socket: Socket
  private headBuffer: Buffer | undefined = Buffer.allocUnsafe(MAX_HEAD_BYTES)
  private headBytes = 0
  // Body bytes read before the sink takes reads (with the head, or while the socket pauses): at most the body's length.
  private leftover: Buffer | undefined
  private length: number | undefined
  private sink: BlobSink | undefined
  // Reads go into the sink's memory: `leftover` was handed over.
  private bodyStarted = false
  // The server ended the connection before the body was read: what `leftover` holds is all there is.
  private ended = false
  private remaining = 0
  private scratch: Buffer | undefined
  // The sink's memory handed to the socket last: a read into anything else (the buffer the socket held
  // from before the body was asked for) is copied into the sink instead.
  private handed: Uint8Array | undefined
  private closed = false
  private failure: Error | undefined
  private resolveHead!: (res: RawGetResponse) => void
  private rejectHead!: (err: unknown) => void
  private headDone = false
  private bodyDone: { resolve: () => void; reject: (err: unknown) => void } | undefined
  private readonly timer: NodeJS.Timeout
  private readonly idle: StallWatch
  private readonly onAbort: () => void

  constructor(private readonly req: RawGetRequest) {
    this.head = new Promise<RawGetResponse>((resolve, reject) => {
      this.resolveHead = resolve
      this.rejectHead = reject
    })
    const { url } = req
    const secure = url.protocol === 'https:'
    const port = Number(url.port !== '' ? url.port : secure ? 443 : 80)
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
    const onread: OnReadOpts = { buffer: () => this.nextTarget(), callback: (n: number, buf: Uint8Array) => this.onRead(n, buf) }
    const tls = req.tls
    if (secure) {
      // Node's TLS sockets take `onread` like net's (checked on Node 20), though @types/node lists it only for net.
      const options: ConnectionOptions & { onread: OnReadOpts } = {
        host,
        port,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ALPNProtocols: ['http/1.1'],
        // As the node:http path: extra CAs add to Node's bundled roots.
        ...(tls?.ca !== undefined ? { ca: [...rootCertificates, ...tls.ca.map((c) => c.toString())] } : {}),
        ...(tls?.cert !== undefined ? { cert: tls.cert } : {}),
        ...(tls?.key !== undefined ? { key: tls.key } : {}),
        rejectUnauthorized: tls?.rejectUnauthorized ?? true,
        onread,
      }
      this.socket = tlsConnect(options)
    } else {
      this.socket = netConnect({ host, port, onread })
    }
    this.socket.once(secure ? 'secureConnect' : 'connect', () => this.sendRequest())
    this.socket.once('error', (err) => this.fail(err))
    this.socket.once('close', () => this.onClose())
    // An end of stream: 'close' follows.
    this.socket.once('end', () => this.socket.destroy())
    this.idle = new StallWatch(req.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, (received) => {
      this.fail(markStall(Object.assign(new Error(stallMessage(url.host, this.idle.ms, received)), { code: 'ETIMEDOUT' })))
    })
    const timeoutMs = req.headersTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    this.timer = setTimeout(() => this.fail(new Error(`no response from ${url.host} within ${timeoutMs} ms`)), timeoutMs)
    this.onAbort = () => this.fail(canceledError(req.signal as AbortSignal, `GET ${url.host}${url.pathname}`))
    if (req.signal?.aborted === true) this.onAbort()
    else req.signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  readBody(sink: BlobSink, length: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.failure !== undefined) {
        reject(this.failure)
        return
      }
      if (this.sink !== undefined || this.closed) {
        reject(new Error('the body was already read or closed'))
        return
      }
      this.bodyDone = { resolve, reject }
      this.sink = sink
      this.remaining = length
      this.feed()
    })
  }

  close(err?: Error): void {
    this.fail(err ?? new Error('the body was thrown away'))
  }

  /**
   * Copies what was read before the body was asked for into the sink (more may arrive while the sink
   * takes it: TLS delivers records it already decrypted though the socket is paused), then lets the
   * socket read into the sink's memory.
   */
  private feed(): void {
    const sink = this.sink
    if (this.failure !== undefined || this.closed || sink === undefined) return
    const early = this.leftover
    this.leftover = undefined
    if (early !== undefined && early.byteLength > 0) {
      const take = early.subarray(0, Math.min(early.byteLength, this.remaining))
      this.remaining -= take.byteLength
      let wait: Promise<void>
      try {
        wait = sink.write(take)
      } catch (err) {
        this.fail(err as Error)
        return
      }
      if (this.remaining === 0) this.complete(wait)
      else wait.then(() => this.feed(), (err: unknown) => this.fail(err as Error))
      return
    }
    if (this.remaining === 0) {
      this.complete(undefined)
      return
    }
    if (this.ended) {
      this.fail(connectionClosed(`${this.req.url.host} closed the connection`))
      return
    }
    this.bodyStarted = true
    this.idle.resume()
    this.socket.resume()
  }

  private onClose(): void {
    // Before the body goes to the sink, `leftover` may hold all of it (or a part, which is worth having).
    if (this.headDone && !this.bodyStarted && !this.closed && this.failure === undefined) {
      // readInto copies it, then fails if it falls short (a sink already set is taking a part: it goes on from there).
      this.ended = true
      return
    }
    this.fail(connectionClosed(`${this.req.url.host} closed the connection`))
  }

  private sendRequest(): void {
    const { url, headers } = this.req
    const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close']
    for (const [name, value] of Object.entries(headers)) {
      const lower = name.toLowerCase()
      if (lower === 'host' || lower === 'connection') continue
      lines.push(`${name}: ${value}`)
    }
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1')
  }

  /** The buffer the next socket read fills. */
  private nextTarget(): Uint8Array {
    if (this.headBuffer !== undefined) return this.headBuffer.subarray(this.headBytes)
    if (this.bodyStarted && this.sink !== undefined && this.remaining > 0 && this.failure === undefined) {
      try {
        const target = this.sink.target()
        this.handed = target.byteLength > this.remaining ? target.subarray(0, this.remaining) : target
        return this.handed
      } catch (err) {
        // The sink failed (its writer did): end the download with that error, read into scratch meanwhile.
        queueMicrotask(() => this.fail(err as Error))
      }
    }
    this.scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES)
    return this.scratch
  }

  /** Returns false to pause the socket. */
  private onRead(n: number, buf: Uint8Array): boolean {
    if (this.failure !== undefined) return false
    const head = this.headBuffer
    if (head !== undefined) return this.onHeadBytes(head, n)
    if (!this.bodyStarted) {
      this.keepEarly(buf, n)
      return false
    }
    const sink = this.sink
    if (sink === undefined || this.remaining === 0) return false
    this.idle.progress(n)
    const into = this.handed
    this.handed = undefined
    let wait: Promise<void> | undefined
    try {
      if (buf === into) {
        this.remaining -= n
        wait = sink.advance(n)
      } else {
        const bytes = Buffer.from(buf.subarray(0, Math.min(n, this.remaining)))
        this.remaining -= bytes.byteLength
        wait = sink.write(bytes)
      }
    } catch (err) {
      this.fail(err as Error)
      return false
    }
    if (this.remaining === 0) {
      this.complete(wait)
      return false
    }
    if (wait === undefined) return true
    // Waiting for the sink is no stall of the server's.
    this.idle.pause()
    wait.then(() => {
      if (this.failure !== undefined || this.closed) return
      this.idle.resume()
      this.socket.resume()
    }, (err: unknown) => this.fail(err as Error))
    return false
  }

  /** A read before the sink takes reads (into scratch): kept in `leftover`, up to the body's length. */
  private keepEarly(buf: Uint8Array, n: number): void {
    const have = this.leftover?.byteLength ?? 0
    const room = (this.sink !== undefined ? this.remaining : this.length ?? 0) - have
    if (room <= 0) return
    const bytes = buf.subarray(0, Math.min(n, room))
    this.leftover = have === 0 ? Buffer.from(bytes) : Buffer.concat([this.leftover!, bytes])
  }

  private onHeadBytes(head: Buffer, n: number): boolean {
    let searchFrom = Math.max(0, this.headBytes - 3)
    this.headBytes += n
    let end: number
    let parsed: { status: number; headers: IncomingHttpHeaders }
    for (;;) {
      end = head.subarray(0, this.headBytes).indexOf(HEAD_END, searchFrom)
      if (end === -1) {
        if (this.headBytes >= head.byteLength) this.fail(headersTooLarge({ method: 'GET', url: this.req.url }, MAX_HEAD_BYTES))
        return this.failure === undefined
      }
      try {
        parsed = parseHead(head.toString('latin1', 0, end))
      } catch (err) {
        this.fail(err as Error)
        return false
      }
      // An interim response (103 Early Hints, 100 Continue): the final one follows.
      if (parsed.status < 100 || parsed.status > 199 || parsed.status === 101) break
      const next = end + HEAD_END.byteLength
      head.copy(head, 0, next, this.headBytes)
      this.headBytes -= next
      searchFrom = 0
    }
    // Body bytes that came with the head: copied once, below the sink's first target.
    this.leftover = Buffer.from(head.subarray(end + HEAD_END.byteLength, this.headBytes))
    this.headBuffer = undefined
    this.headDone = true
    clearTimeout(this.timer)
    const te = parsed.headers['transfer-encoding']
    const cl = parsed.headers['content-length']
    const length = te === undefined && typeof cl === 'string' && /^\d+$/.test(cl) ? Number(cl) : undefined
    this.length = length
    if (length !== undefined && this.leftover.byteLength > length) this.leftover = this.leftover.subarray(0, length)
    this.resolveHead({ ...parsed, body: new RawBody(this, length) })
    // Nothing more is read until the caller asks for the body.
    return false
  }

  /**
   * Every byte of the body is in: the connection goes at once (whatever it does next, e.g. the server closing
   * it, is no failure), and the body resolves when the sink has taken the last bytes (`wait`).
   */
  private complete(wait: Promise<void> | undefined): void {
    if (this.closed) return
    this.closed = true
    this.cleanup()
    this.socket.destroy()
    const done = this.bodyDone
    if (wait === undefined) done?.resolve()
    else wait.then(() => done?.resolve(), (err: unknown) => done?.reject(err))
  }

  private fail(err: Error): void {
    if (this.closed || this.failure !== undefined) return
    this.failure = err
    this.closed = true
    this.cleanup()
    this.socket.destroy()
    if (!this.headDone) this.rejectHead(err)
    else this.bodyDone?.reject(err)
  }

  private cleanup(): void {
    clearTimeout(this.timer)
    this.idle.stop()
    this.req.signal?.removeEventListener('abort', this.onAbort)
  }
}

function connectionClosed(message: string): Error {
  return Object.assign(new Error(message), { code: 'ECONNRESET' })
}

/** Parses `HTTP/1.1 200 OK` and the header lines the way node:http presents them (lower-case names). */
export function parseHead(text: string): { status: number; headers: IncomingHttpHeaders } {
  const lines = text.split('\r\n')
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '')
  if (statusLine === null) throw Object.assign(new Error(`not an HTTP/1.1 response: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`), { code: 'EPROTO' })
  const headers: Record<string, string | string[]> = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    const existing = headers[name]
    if (name === 'set-cookie') headers[name] = [...((existing as string[] | undefined) ?? []), value]
    else headers[name] = existing === undefined ? value : `${existing as string}, ${value}`
  }
  return { status: Number(statusLine[1]), headers: headers as IncomingHttpHeaders }
}
