/**
 * HTTP redirects of registry GETs and HEADs. Registries answer blob GETs with a redirect to storage or a
 * CDN (Docker Hub, GCR/Artifact Registry, ECR, Quay, GHCR); containerd follows them with Go's http.Client.
 * The rules here are Go's, with one difference: an https → http hop is refused (see {@link resolveRedirect}).
 */
import type { HttpRequest, HttpResponse, TlsSettings } from './http-request.js'
import { RegistryError } from './registry-error.js'
import { firstHeader } from './response-helpers.js'

/** The statuses that are followed: 301, 302, 303, 307 and 308 (the method stays GET or HEAD for all). */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

/** At most this many redirects per request, like Go's http.Client (and so containerd). */
export const MAX_REDIRECTS = 10

/** True for a status that is followed. */
export function isRedirect(status: number): boolean {
  return REDIRECT_STATUSES.has(status)
}

/**
 * A URL as it may appear in a message: scheme, host, port and path, without user info and with the query
 * replaced by `?…`. Signed storage URLs (S3, GCS, Cloudflare) carry their credential in the query.
 */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search !== '' ? '?…' : ''}`
}

/**
 * True when `a` and `b` are the same origin: scheme, host and port (default ports normalised). Only a hop
 * to the same origin keeps the Authorization header and the hosts.toml headers.
 */
export function sameOrigin(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && a.host === b.host
}

/**
 * Resolves a Location header (absolute or relative) against the URL it answered. http → https is
 * allowed; https → http is refused: Go would follow it, but manifests resolved by tag are not verified by
 * any digest, so a plain-HTTP hop would let the network choose the image, and a signed URL would travel
 * in the clear.
 *
 * @throws RegistryError `Protocol` for a missing or unparsable Location, a scheme other than http(s), or
 *   a downgrade to http.
 */
export function resolveRedirect(from: URL, location: string | undefined, status: number): URL {
  if (location === undefined || location.trim() === '') {
    throw new RegistryError('Protocol', `${redactUrl(from)} answered ${status} without a Location`, { status })
  }
  let to: URL
  try {
    to = new URL(location.trim(), from)
  } catch {
    throw new RegistryError('Protocol', `${redactUrl(from)} answered ${status} with a Location that is not a URL`, { status })
  }
  if (to.protocol !== 'http:' && to.protocol !== 'https:') {
    throw new RegistryError('Protocol', `${redactUrl(from)} redirected to a ${to.protocol} URL; only http and https are followed`, { status })
  }
  if (from.protocol === 'https:' && to.protocol === 'http:') {
    throw new RegistryError('Protocol', `${redactUrl(from)} redirected to plain HTTP (${redactUrl(to)}); a downgrade from https is refused`, { status })
  }
  // Credentials in a Location would be sent as Basic auth by some clients; we never send them.
  to.username = ''
  to.password = ''
  to.hash = ''
  return to
}

/** What {@link sendFollowingRedirects} needs of a response (node:http's or raw-blob-get.ts'). */
export interface RedirectableResponse {
  status: number
  headers: HttpResponse['headers']
  /** Throws the body away. */
  body: { resume(): void }
}

/**
 * Sends `req` and, for a GET or HEAD, follows redirects (at most {@link MAX_REDIRECTS}), each hop with the
 * same `send` (so the raw fast path stays on for the storage the bytes come from). A hop to another
 * origin than `req`'s gets only `ownHeaders` (Accept, Range): no Authorization, no hosts.toml headers,
 * and `tlsFor(target)` rather than the registry's TLS settings; a hop back to `req`'s origin sends
 * everything again. Resolves with the first response that is not a redirect and the URL that answered.
 *
 * @throws RegistryError `Protocol` for a loop, too many hops or a Location that cannot be followed;
 *   `Unavailable` when a redirect target cannot be reached. Messages never show a Location's query.
 *   Errors of the first request, and RegistryErrors of any hop other than `Unavailable` (`TooLarge`
 *   headers), are thrown as they are.
 */
export async function sendFollowingRedirects<R extends RedirectableResponse>(
  send: (req: HttpRequest) => Promise<R>,
  req: HttpRequest,
  ownHeaders: Record<string, string>,
  tlsFor: (url: URL) => Promise<TlsSettings | undefined>,
): Promise<{ res: R; at: URL }> {
  let current = req
  for (let hop = 0; ; hop++) {
    let res: R
    try {
      res = await send(current)
    } catch (err) {
      // A typed answer other than "unreachable" (a target's headers too large: TooLarge) stays as it is,
      // for a hop as for the first request: as Unavailable it would be retried on the next endpoint.
      if (hop === 0 || req.signal?.aborted === true || (err instanceof RegistryError && err.code !== 'Unavailable')) throw err
      throw new RegistryError('Unavailable', `${redactUrl(current.url)}, where ${req.url.host} redirected ${req.method} ${req.url.pathname}, is not reachable: ${(err as Error).message}`, { cause: err })
    }
    if (!isRedirect(res.status) || (req.method !== 'GET' && req.method !== 'HEAD')) return { res, at: current.url }
    res.body.resume()
    if (hop >= MAX_REDIRECTS) {
      throw new RegistryError('Protocol', `${req.method} ${redactUrl(req.url)}: more than ${MAX_REDIRECTS} redirects (the last to ${redactUrl(current.url)})`, { status: res.status })
    }
    const next = resolveRedirect(current.url, firstHeader(res, 'location'), res.status)
    if (sameOrigin(next, req.url)) {
      current = { ...req, url: next }
      continue
    }
    const tls = await tlsFor(next)
    current = { method: req.method, url: next, headers: { ...ownHeaders }, ...(tls !== undefined ? { tls } : {}), signal: req.signal }
  }
}

/**
 * TLS settings per redirect target, from `lookup(host)` (e.g. the target's certs.d), asked once per host;
 * none for http targets or without a lookup (the system's CAs).
 */
export function redirectTlsLookup(lookup: ((host: string) => Promise<TlsSettings | undefined>) | undefined): (url: URL) => Promise<TlsSettings | undefined> {
  const cache = new Map<string, Promise<TlsSettings | undefined>>()
  return (url) => {
    if (url.protocol !== 'https:' || lookup === undefined) return Promise.resolve(undefined)
    let tls = cache.get(url.host)
    if (tls === undefined) {
      tls = lookup(url.host)
      cache.set(url.host, tls)
    }
    return tls
  }
}
