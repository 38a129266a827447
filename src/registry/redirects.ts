/**
 * HTTP redirects of registry GETs and HEADs. Registries answer blob GETs with a redirect to storage or a
 * CDN (Docker Hub, GCR/Artifact Registry, ECR, Quay, GHCR); containerd follows them with Go's http.Client.
 * The rules here are Go's, with one difference: an https → http hop is refused (see {@link resolveRedirect}).
 */
import { RegistryError } from './registry-error.js'

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
