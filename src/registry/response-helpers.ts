import type { HttpResponse } from './http-request.js'

/** The first value of a response header (Node gives arrays for repeated ones). */
export function firstHeader(res: Pick<HttpResponse, 'headers'>, name: string): string | undefined {
  const value = res.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** Retry-After in seconds when the registry gives one (bounded to 10 s), else exponential backoff from 200 ms. */
export function retryDelay(res: Pick<HttpResponse, 'headers'>, attempt: number): number {
  const after = Number(firstHeader(res, 'retry-after'))
  if (Number.isFinite(after) && after > 0) return Math.min(after * 1000, 10_000)
  return 200 * 2 ** attempt
}

/** True for the errors a TLS client gets from a server that speaks plain HTTP (insecure registries). */
export function isPlainHttpAnswer(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  const message = String((err as { message?: unknown }).message ?? '')
  return code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|http request/i.test(message)
}
