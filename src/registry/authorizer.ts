import type { IncomingMessage } from 'node:http'
import { parseWwwAuthenticate, type AuthChallenge } from './www-authenticate.js'
import type { CredentialsProvider, RegistryCredentials } from './credentials.js'
import { discardBody, readBody, sendRequest, type TlsSettings } from './http-request.js'
import { RegistryError } from './registry-error.js'
import { asCanceled } from '../grpc/abort.js'

// containerd's client id for token requests; registries log it.
const CLIENT_ID = 'containerd-sdk'
// Token servers may omit expires_in; the token spec says to assume 60 s.
const DEFAULT_TOKEN_SECONDS = 60
// A token response is a small JSON object; more than this is a broken or hostile token server.
const MAX_TOKEN_RESPONSE = 1024 * 1024

interface CachedAuth {
  header: string
  expiresAt: number
}

/**
 * Answers registry auth challenges and caches the result per host and scope, like containerd's
 * docker authorizer: Bearer tokens are fetched from the challenge's realm (POST with the credentials,
 * falling back to GET with Basic auth for token servers that only know the older flow), Basic auth is
 * sent as is. Credentials are asked for lazily and never appear in errors.
 */
export class Authorizer {
  private readonly cache = new Map<string, CachedAuth>()
  private readonly pending = new Map<string, Promise<CachedAuth>>()

  constructor(
    private readonly credentials: CredentialsProvider | undefined,
    private readonly tls: (host: string) => TlsSettings | undefined = () => undefined,
  ) {}

  /**
   * The Authorization header to send for `host` and `scope` (one or more space-separated scopes), if one
   * is known and still valid.
   */
  header(host: string, scope: string): string | undefined {
    const cached = this.cache.get(`${host}|${scope}`)
    if (cached === undefined) return undefined
    // Renew a little early so a token does not expire between our check and the registry's.
    if (cached.expiresAt - 5_000 < Date.now()) {
      this.cache.delete(`${host}|${scope}`)
      return undefined
    }
    return cached.header
  }

  /**
   * Handles a 401: works out credentials for the challenge and caches the resulting header. Concurrent
   * 401s for the same host and scope share one token request.
   * @throws RegistryError `Unauthorized` when no usable challenge or credentials exist.
   */
  async authorize(host: string, scope: string, wwwAuthenticate: string | string[] | undefined, signal?: AbortSignal): Promise<string> {
    const key = `${host}|${scope}`
    let pending = this.pending.get(key)
    if (pending === undefined) {
      pending = this.fetchAuth(host, scope, parseWwwAuthenticate(wwwAuthenticate), signal).finally(() => this.pending.delete(key))
      this.pending.set(key, pending)
    }
    const auth = await pending
    this.cache.set(key, auth)
    return auth.header
  }

  /** Forgets what is cached for a host and scope (after the registry rejected it). */
  invalidate(host: string, scope: string): void {
    this.cache.delete(`${host}|${scope}`)
  }

  private async fetchAuth(host: string, scope: string, challenges: AuthChallenge[], signal: AbortSignal | undefined): Promise<CachedAuth> {
    const bearer = challenges.find((c) => c.scheme === 'bearer')
    const basic = challenges.find((c) => c.scheme === 'basic')
    const creds = await this.credentials?.(host)
    if (bearer !== undefined) {
      const realm = bearer.params['realm']
      if (realm === undefined) throw new RegistryError('Protocol', `${host} sent a Bearer challenge without a realm`, { status: 401 })
      // The challenge's own scope wins when it names one: it is what the registry will check.
      const wanted = [...new Set([...scope.split(' '), ...(bearer.params['scope']?.split(' ') ?? [])].filter((s) => s !== ''))]
      const token = await this.fetchToken(host, new URL(realm), bearer.params['service'] ?? '', wanted, creds, signal)
      return { header: `Bearer ${token.token}`, expiresAt: token.expiresAt }
    }
    if (basic !== undefined) {
      if (creds === undefined || !('username' in creds)) {
        throw new RegistryError('Unauthorized', `${host} requires a username and password (Basic auth); none are configured for it`, { status: 401 })
      }
      const encoded = Buffer.from(`${creds.username}:${creds.password}`).toString('base64')
      // Basic auth does not expire; keep it for the life of the client.
      return { header: `Basic ${encoded}`, expiresAt: Number.MAX_SAFE_INTEGER }
    }
    throw new RegistryError('Unauthorized', `${host} asked for authentication with no Bearer or Basic challenge`, { status: 401 })
  }

  private async fetchToken(
    host: string,
    realm: URL,
    service: string,
    scopes: string[],
    creds: RegistryCredentials | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ token: string; expiresAt: number }> {
    const tls = this.tls(realm.host)
    if (creds !== undefined) {
      // OAuth2 flow first (password or refresh-token grant); older token servers answer it with
      // 400/401/404/405 and get the GET flow instead.
      const form = new URLSearchParams({ client_id: CLIENT_ID, service })
      for (const s of scopes) form.append('scope', s)
      if ('identityToken' in creds) {
        form.set('grant_type', 'refresh_token')
        form.set('refresh_token', creds.identityToken)
      } else {
        form.set('grant_type', 'password')
        form.set('username', creds.username)
        form.set('password', creds.password)
      }
      const res = await sendRequest({
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
        ...(tls !== undefined ? { tls } : {}),
        signal,
      }).catch((err: unknown) => { throw signal?.aborted === true ? asCanceled(err, signal, `token request to ${realm.host}`) : unreachable(realm, err) })
      if (res.status === 200) return parseToken(await readTokenBody(res.body, realm, signal), realm)
      discardBody(res.body)
      if (![400, 401, 404, 405].includes(res.status)) {
        throw new RegistryError(res.status === 403 ? 'Denied' : 'Unauthorized', `token server ${realm.host} refused the credentials for ${host} (HTTP ${res.status})`, { status: res.status })
      }
    }
    const url = new URL(realm)
    if (service !== '') url.searchParams.set('service', service)
    for (const s of scopes) url.searchParams.append('scope', s)
    const headers: Record<string, string> = {}
    if (creds !== undefined) {
      const [user, secret] = 'identityToken' in creds ? ['<token>', creds.identityToken] : [creds.username, creds.password]
      headers['authorization'] = `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`
    }
    const res = await sendRequest({ method: 'GET', url, headers, ...(tls !== undefined ? { tls } : {}), signal })
      .catch((err: unknown) => { throw signal?.aborted === true ? asCanceled(err, signal, `token request to ${realm.host}`) : unreachable(realm, err) })
    if (res.status !== 200) {
      discardBody(res.body)
      const what = creds === undefined ? 'anonymous access' : 'the credentials'
      throw new RegistryError(res.status === 403 ? 'Denied' : 'Unauthorized', `token server ${realm.host} refused ${what} for ${host} (HTTP ${res.status})`, { status: res.status })
    }
    return parseToken(await readTokenBody(res.body, realm, signal), realm)
  }
}

/**
 * Reads a token response's body, its errors typed like the request's: an abort is `CanceledError`, a body
 * over {@link MAX_TOKEN_RESPONSE} `TooLarge` (readBody's RangeError reached the caller raw), and a
 * connection lost mid-body `Unavailable` (its raw Error did).
 */
async function readTokenBody(body: IncomingMessage, realm: URL, signal: AbortSignal | undefined): Promise<Buffer> {
  try {
    return await readBody(body, MAX_TOKEN_RESPONSE)
  } catch (err) {
    if (signal?.aborted === true) throw asCanceled(err, signal, `token request to ${realm.host}`)
    if (err instanceof RangeError) {
      throw new RegistryError('TooLarge', `token server ${realm.host} sent a token response over 1 MiB, the most accepted`, { cause: err })
    }
    throw unreachable(realm, err)
  }
}

function parseToken(body: Buffer, realm: URL): { token: string; expiresAt: number } {
  let json: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown }
  try {
    json = JSON.parse(body.toString('utf8')) as typeof json
  } catch {
    throw new RegistryError('Protocol', `token server ${realm.host} answered with something that is not JSON`)
  }
  const token = typeof json.access_token === 'string' && json.access_token !== '' ? json.access_token : json.token
  if (typeof token !== 'string' || token === '') throw new RegistryError('Protocol', `token server ${realm.host} answered without a token`)
  const seconds = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : DEFAULT_TOKEN_SECONDS
  const issued = typeof json.issued_at === 'string' ? Date.parse(json.issued_at) : NaN
  return { token, expiresAt: (Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now())) + seconds * 1000 }
}

/**
 * The error for a token request that failed on the way. A RegistryError that says something else than
 * "unreachable" (headers too large: `TooLarge`) is kept as it is: turning it into `Unavailable` would
 * hide the cause and let callers retry what cannot succeed.
 */
function unreachable(realm: URL, err: unknown): RegistryError {
  if (err instanceof RegistryError && err.code !== 'Unavailable') return err
  return new RegistryError('Unavailable', `token server ${realm.host} is not reachable: ${(err as Error).message ?? String(err)}`, { cause: err })
}
