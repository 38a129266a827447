import { Agent as HttpAgent, maxHeaderSize, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { rootCertificates } from 'node:tls'
import { canceledError } from '../grpc/abort.js'
import { RegistryError } from './registry-error.js'

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
  /** Time allowed until the response headers arrive. Default 60 s. */
  headersTimeoutMs?: number
}

/** The response: status, headers and the body as a stream (consume or destroy it). */
export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  body: IncomingMessage
}

// Keep-alive agents, one per TLS setting, so that a pull's many blob requests reuse connections.
const agents = new Map<string, HttpAgent | HttpsAgent>()

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
          // Passing `ca` replaces Node's bundled roots: keep them, so extra CAs add to the defaults.
          ...(tls?.ca !== undefined ? { ca: [...rootCertificates, ...tls.ca.map((c) => c.toString())] } : {}),
          ...(tls?.cert !== undefined ? { cert: tls.cert } : {}),
          ...(tls?.key !== undefined ? { key: tls.key } : {}),
          rejectUnauthorized: tls?.rejectUnauthorized ?? true,
        })
      : new HttpAgent({ keepAlive: true, maxSockets: 16 })
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
    const timer = setTimeout(() => r.destroy(new Error(`no response from ${req.url.host} within ${req.headersTimeoutMs ?? 60_000} ms`)), req.headersTimeoutMs ?? 60_000)
    const onAbort = (): void => { r.destroy(canceledError(req.signal as AbortSignal, what)) }
    req.signal?.addEventListener('abort', onAbort, { once: true })
    r.once('response', (res) => {
      clearTimeout(timer)
      res.once('close', () => req.signal?.removeEventListener('abort', onAbort))
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
