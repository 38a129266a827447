import { Agent as HttpAgent, maxHeaderSize, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { rootCertificates } from 'node:tls'
import { canceledError } from '../grpc/abort.js'
import { RegistryError } from './registry-error.js'
import { DEFAULT_IDLE_TIMEOUT_MS, markStall, MIN_PROGRESS_BYTES, stallMessage } from './stall-watch.js'

/** TLS settings for one registry host (from certs.d / hosts.toml, or the caller). */
export interface TlsSettings {
  /** Extra CA certificates (PEM), added to the system's. */
  ca?: Buffer[]
  /** Client certificate (PEM) for mutual TLS. */
  cert?: Buffer
  /** Client key (PEM). */
  key?: Buffer
  /** false skips server certificate verification (insecure registries only). Default true. */
  rejectUnauthorized?: boolean
}

/** One HTTP request to a registry. */
export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  url: URL
  headers?: Record<string, string>
  /** Request body; a Buffer is sent with its length. */
  body?: Buffer | NodeJS.ReadableStream
  tls?: TlsSettings
  signal?: AbortSignal | undefined
  /**
   * Time allowed until the response headers arrive (a server that accepts the connection and says
   * nothing fails the request with a `RegistryError` `Unavailable`). Default 60 s.
   */
  headersTimeoutMs?: number
  /**
   * Time within which the response body must make progress while it is read: fewer than 16 KiB in this
   * long (nothing, or a trickle) destroys the body with a `RegistryError` `Unavailable` that says it
   * stalled (see stall-watch.ts). Time the body's bytes wait for its reader does not count. Default 60 s.
   */
  idleTimeoutMs?: number
}

/** The response: status, headers and the body as a stream (consume or destroy it). */
export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  body: IncomingMessage
}

// Keep-alive agents, one per TLS setting, so that a pull's many blob requests reuse connections.
const agents = new Map<string, HttpAgent | HttpsAgent>()
/**
 * An idle keep-alive connection is closed after this long, as Go's transport closes idle ones (after
 * 90 s there): a process that pulled once holds no registry connection for good. The agent's `timeout`
 * only destroys free sockets; on a request in flight it emits a `timeout` nobody listens to (our own
 * headers and stall timers bound those).
 */
export const IDLE_CONNECTION_MS = 30_000

function agentFor(url: URL, tls: TlsSettings | undefined): HttpAgent | HttpsAgent {
  const secure = url.protocol === 'https:'
  const key = secure
    ? `https|${tls?.rejectUnauthorized === false ? 'insecure' : 'verify'}|${tls?.ca?.map((c) => c.byteLength).join(',') ?? ''}|${tls?.cert?.byteLength ?? 0}|${url.host}`
    : 'http'
  let agent = agents.get(key)
  if (agent === undefined) {
    agent = secure
      ? new HttpsAgent({
          keepAlive: true,
          maxSockets: 16,
          timeout: IDLE_CONNECTION_MS,
          // Passing `ca` replaces Node's bundled roots: keep them, so extra CAs add to the defaults.
          ...(tls?.ca !== undefined ? { ca: [...rootCertificates, ...tls.ca.map((c) => c.toString())] } : {}),
          ...(tls?.cert !== undefined ? { cert: tls.cert } : {}),
          ...(tls?.key !== undefined ? { key: tls.key } : {}),
          rejectUnauthorized: tls?.rejectUnauthorized ?? true,
        })
      : new HttpAgent({ keepAlive: true, maxSockets: 16, timeout: IDLE_CONNECTION_MS })
    agents.set(key, agent)
  }
  return agent
}


/**
 * Sends one HTTP(S) request and resolves when the response headers arrive. The caller owns the body
 * stream. Abort destroys the request and the body, with a `CanceledError` whose cause is the signal's
 * reason (the request rejects with it, or the body fails with it).
 * @throws RegistryError `TooLarge` when the response headers are larger than Node accepts; the socket
 *   errors of node:http otherwise (the caller maps them).
 */
export function sendRequest(req: HttpRequest): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    const what = `${req.method} ${req.url.host}${req.url.pathname}`
    if (req.signal?.aborted === true) {
      reject(canceledError(req.signal, what))
      return
    }
    const send = req.url.protocol === 'https:' ? httpsRequest : httpRequest
    const headers: Record<string, string> = { ...(req.headers ?? {}) }
    if (Buffer.isBuffer(req.body)) headers['content-length'] = String(req.body.byteLength)
    const r = send(req.url, { method: req.method, headers, agent: agentFor(req.url, req.tls) })
    const headersMs = req.headersTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    const timer = setTimeout(() => {
      r.destroy(new RegistryError('Unavailable', `${req.url.host} sent no response to ${req.method} ${req.url.pathname} within ${headersMs} ms`))
    }, headersMs)
    const onAbort = (): void => { r.destroy(canceledError(req.signal as AbortSignal, what)) }
    req.signal?.addEventListener('abort', onAbort, { once: true })
    r.once('response', (res) => {
      clearTimeout(timer)
      res.once('close', () => req.signal?.removeEventListener('abort', onAbort))
      watchBody(res, req.url.host, req.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS)
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res })
    })
    r.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      req.signal?.removeEventListener('abort', onAbort)
      reject(err.code === 'HPE_HEADER_OVERFLOW' ? headersTooLarge(req, maxHeaderSize, err) : err)
    })
    if (req.body === undefined) r.end()
    else if (Buffer.isBuffer(req.body)) r.end(req.body)
    else req.body.pipe(r)
  })
}

/**
 * Destroys `res` when its body stalls: a window of `ms` ends with fewer than {@link MIN_PROGRESS_BYTES}
 * read from the socket while nothing waits in the body's buffer (bytes waiting there mean our reader, not
 * the server, is behind; the socket reads on until that buffer is full). Polled once per window from the
 * socket's byte count, so the body's stream mode is left alone. A body nobody listens to for errors (one
 * being thrown away) is closed without one, so a stall never becomes an uncaught 'error'.
 */
function watchBody(res: IncomingMessage, host: string, ms: number): void {
  const socket = res.socket
  if (res.complete) return
  let seen = socket.bytesRead
  const timer = setTimeout(() => {
    if (res.complete || res.destroyed) return
    const received = socket.bytesRead - seen
    seen = socket.bytesRead
    if (received >= MIN_PROGRESS_BYTES || res.readableLength > 0) {
      timer.refresh()
      return
    }
    const err = markStall(new RegistryError('Unavailable', stallMessage(host, ms, received)))
    if (res.listenerCount('error') > 0) res.destroy(err)
    else res.destroy()
  }, ms)
  // Timers alone must not keep a process alive.
  timer.unref()
  const stop = (): void => clearTimeout(timer)
  res.once('end', stop)
  res.once('close', stop)
}

/**
 * The error for a response whose headers are larger than we accept (node:http's parser limit, 16 KiB
 * unless `--max-http-header-size` says otherwise): not a registry that cannot be reached, so not retried
 * on another endpoint as one.
 */
export function headersTooLarge(req: Pick<HttpRequest, 'method' | 'url'>, limit: number, cause?: unknown): RegistryError {
  return new RegistryError(
    'TooLarge',
    `the response headers ${req.url.host} sent for ${req.method} ${req.url.pathname} were too large: over ${limit} bytes, the most accepted (Node's --max-http-header-size)`,
    cause === undefined ? {} : { cause },
  )
}

/** Reads a whole response body, refusing more than `maxBytes`. */
export async function readBody(body: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.byteLength
    if (total > maxBytes) {
      body.destroy()
      throw new RangeError(`response body larger than ${maxBytes} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, total)
}

/** Consumes and discards a body so its connection can be reused. */
export function discardBody(body: IncomingMessage): void {
  body.resume()
}
