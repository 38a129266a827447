/**
 * A small HTTP(S) client for assertions against the registry and the token server. node:http rather
 * than fetch: fetch cannot be given a private CA per request, and a fresh connection per request
 * (no agent) leaves nothing open that could keep a test worker alive.
 */

import { request as httpRequestRaw, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { request as httpsRequestRaw } from 'node:https'

/** Options of {@link httpRequest}. */
export interface HttpRequestOptions {
  /** Default GET. */
  readonly method?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string | Buffer
  /** CA to trust for https URLs (the registry's throwaway CA). */
  readonly ca?: string
  /** Abort after this long. Default 10 s. */
  readonly timeoutMs?: number
}

/** A complete response. */
export interface HttpResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  /** The body as UTF-8. */
  text(): string
  /** The body parsed as JSON. */
  json(): unknown
}

/** Sends one request and reads the whole response; rejects on network errors and on timeout only. */
export function httpRequest(url: string | URL, options: HttpRequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url)
  const timeoutMs = options.timeoutMs ?? 10_000
  const headers: Record<string, string> = { ...options.headers }
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body))
  const common = { method: options.method ?? 'GET', headers, agent: false as const, signal: AbortSignal.timeout(timeoutMs) }
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.once('error', reject)
      res.once('end', () => {
        const body = Buffer.concat(chunks)
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text: () => body.toString('utf8'),
          json: () => JSON.parse(body.toString('utf8')) as unknown,
        })
      })
    }
    const req =
      target.protocol === 'https:'
        ? httpsRequestRaw(target, { ...common, ...(options.ca === undefined ? {} : { ca: options.ca }) }, onResponse)
        : httpRequestRaw(target, common, onResponse)
    req.once('error', reject)
    req.end(options.body)
  })
}

/** A parsed `WWW-Authenticate` challenge. */
export interface AuthChallenge {
  /** Lower-case scheme: `basic` or `bearer`. */
  readonly scheme: string
  /** Parameters, keys lower-case (`realm`, `service`, `scope`, `error`). */
  readonly params: Readonly<Record<string, string>>
}

/** Parses a single challenge such as `Bearer realm="…",service="…",scope="…"` (quoted or token values). */
export function parseChallenge(header: string | undefined): AuthChallenge | undefined {
  if (header === undefined) return undefined
  const match = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header)
  if (match === null || match[1] === undefined) return undefined
  const params: Record<string, string> = {}
  const param = /([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/g
  for (const m of (match[2] ?? '').matchAll(param)) {
    if (m[1] !== undefined) params[m[1].toLowerCase()] = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1')
  }
  return { scheme: match[1].toLowerCase(), params }
}

/** `Authorization: Basic …` for a user and password. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`
}
