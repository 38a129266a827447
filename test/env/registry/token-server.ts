/**
 * A Docker registry token server (distribution's docs/spec/auth/token.md and oauth.md) for tests: the
 * `realm` a token-auth registry sends clients to. Runs inside the test process on 127.0.0.1, keeps
 * users in memory, signs RS256 JWTs that distribution 2.8 accepts, and records every request so tests
 * can assert how often a client asked (token caching, refresh).
 */

import { createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeSigningCertificate } from './certificates.js'
import { libtrustKeyId, signJwt, type ResourceActions, type TokenHeader } from './jwt.js'
import { parseScopes, type RequestedScope } from './scope.js'

/** Decides which of a scope's requested actions a subject gets; `undefined` subject means anonymous. */
export type Authorizer = (subject: string | undefined, scope: RequestedScope, settings: TokenServerSettings) => readonly string[]

/** Options of {@link startTokenServer}. */
export interface TokenServerOptions {
  /** Where the signing key and certificate go. A temp dir of its own (removed on close) otherwise. */
  readonly dir?: string
  /** The registry's `auth.token.service`, checked against the `service` parameter. Default `csdk-registry`. */
  readonly service?: string
  /** The `iss` claim and the registry's `auth.token.issuer`. Default `csdk-token-server`. */
  readonly issuer?: string
  /** User name to password. Default none. */
  readonly users?: Readonly<Record<string, string>>
  /** Give `pull` to requests without credentials. Default false (they get a 401). */
  readonly allowAnonymousPull?: boolean
  /** Seconds from issue to the `exp` claim. Default 300. See {@link TokenServerSettings.lifetimeSeconds}. */
  readonly lifetimeSeconds?: number
  /** `expires_in` to report; derived from the lifetime unless given. */
  readonly expiresIn?: number
  /** How the JWT names its key. Default `x5c`. See {@link TokenServerSettings.header}. */
  readonly header?: 'x5c' | 'kid'
  /** Grants actions per scope. Default: users get what they ask for, anonymous only `pull` (if allowed). */
  readonly authorize?: Authorizer
}

/** The knobs a test may change while the server runs; they apply from the next request on. */
export interface TokenServerSettings {
  /**
   * Seconds from issue to `exp`. distribution accepts tokens up to 60 s past `exp` (clock-skew leeway,
   * token.go), so a token the registry rejects as expired needs a lifetime of -61 or less.
   */
  lifetimeSeconds: number
  /**
   * `expires_in` in responses, which clients use to cache tokens. Undefined: the lifetime if positive,
   * else 60 (the spec's default) — so "expired" tokens still look cacheable to the client.
   */
  expiresIn: number | undefined
  /**
   * `x5c`: the header carries the signing certificate (and `kid`); distribution verifies the chain
   * against `rootcertbundle`. `kid`: only the libtrust key ID, which distribution looks up among the
   * bundle's public keys. Both must work; x5c is what distribution checks first.
   */
  header: 'x5c' | 'kid'
  /** See {@link TokenServerOptions.allowAnonymousPull}. */
  allowAnonymousPull: boolean
  /** User name to password. */
  users: Record<string, string>
}

/** One request the server answered (passwords and tokens are never recorded). */
export interface TokenRequestRecord {
  /** `GET` or `POST` (anything else got 405). */
  readonly method: string
  /** Request path, normally `/token`. */
  readonly path: string
  /** `basic` or `anonymous` (GET), `password` or `refresh_token` (POST), or what the client sent. */
  readonly grant: string
  /** The user the request authenticated as or claimed to be. */
  readonly username?: string
  /** `client_id` parameter, if sent. */
  readonly clientId?: string
  /** `service` parameter, if sent. */
  readonly service?: string
  /** Requested scopes, as sent. */
  readonly scopes: readonly string[]
  /** Whether a refresh token was asked for (`offline_token=true` / `access_type=offline`). */
  readonly offline: boolean
  /** Response status. */
  readonly status: number
}

/** A successful token response; GET and POST answer the same shape. */
export interface TokenResponse {
  readonly token: string
  readonly access_token: string
  readonly expires_in: number
  readonly issued_at: string
  readonly refresh_token?: string
}

/** A running token server. `await using` closes it. */
export interface TokenServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  /** `<url>/token`, the registry's `auth.token.realm`. */
  readonly realm: string
  readonly service: string
  readonly issuer: string
  /** PEM file of the signing certificate, the registry's `auth.token.rootcertbundle`. */
  readonly certFile: string
  /** libtrust key ID of the signing key (the `kid` header). */
  readonly keyId: string
  /** Mutable settings; see {@link TokenServerSettings}. */
  readonly settings: TokenServerSettings
  /** Every request so far, oldest first. */
  readonly requests: readonly TokenRequestRecord[]
  /** Number of requests so far (any path, any outcome). */
  readonly requestCount: number
  /** Number of tokens issued so far (over HTTP or {@link issueToken}). */
  readonly tokensIssued: number
  /** Forgets recorded requests and the issued-token count. */
  resetCounts(): void
  /** Mints a token directly, e.g. an expired one or one with hand-picked access. */
  issueToken(subject: string, access: readonly ResourceActions[], lifetimeSeconds?: number): string
  /** Stops listening, drops open connections and removes its own temp dir. Idempotent. */
  close(): Promise<void>
}

const MAX_BODY = 64 * 1024

/** Starts a token server on a free port of 127.0.0.1. */
export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const ownDir = options.dir === undefined ? await mkdtemp(join(tmpdir(), 'csdk-token-')) : undefined
  const dir = options.dir ?? ownDir ?? ''
  try {
    const signer = await makeSigningCertificate(dir)
    return await listen(options, signer.certFile, createPrivateKey(signer.keyPem), new X509Certificate(signer.certPem), ownDir)
  } catch (err) {
    if (ownDir !== undefined) await rm(ownDir, { recursive: true, force: true })
    throw err
  }
}

async function listen(
  options: TokenServerOptions,
  certFile: string,
  privateKey: KeyObject,
  cert: X509Certificate,
  ownDir: string | undefined,
): Promise<TokenServer> {
  const service = options.service ?? 'csdk-registry'
  const issuer = options.issuer ?? 'csdk-token-server'
  const keyId = libtrustKeyId(cert.publicKey)
  const x5c = [cert.raw.toString('base64')]
  const authorize = options.authorize ?? defaultAuthorize
  const settings: TokenServerSettings = {
    lifetimeSeconds: options.lifetimeSeconds ?? 300,
    expiresIn: options.expiresIn,
    header: options.header ?? 'x5c',
    allowAnonymousPull: options.allowAnonymousPull ?? false,
    users: { ...options.users },
  }
  let requests: TokenRequestRecord[] = []
  let tokensIssued = 0
  // Refresh tokens are opaque and live as long as the server.
  const refreshTokens = new Map<string, string>()

  const issueToken = (subject: string, access: readonly ResourceActions[], lifetimeSeconds = settings.lifetimeSeconds): string => {
    const now = Math.floor(Date.now() / 1000)
    const header: TokenHeader = settings.header === 'x5c' ? { typ: 'JWT', alg: 'RS256', kid: keyId, x5c } : { typ: 'JWT', alg: 'RS256', kid: keyId }
    tokensIssued++
    return signJwt(
      header,
      { iss: issuer, sub: subject, aud: service, exp: now + lifetimeSeconds, nbf: now, iat: now, jti: randomBytes(12).toString('hex'), access },
      privateKey,
    )
  }

  const grantAccess = (subject: string | undefined, scopes: readonly string[]): ResourceActions[] => {
    const access: ResourceActions[] = []
    for (const scope of parseScopes(scopes)) {
      const granted = authorize(subject, scope, settings).filter((a) => scope.actions.includes(a))
      // The spec leaves denied resources out rather than failing: the registry then answers 401
      // insufficient_scope, which is what clients must handle.
      if (granted.length > 0) access.push({ type: scope.type, ...(scope.class === undefined ? {} : { class: scope.class }), name: scope.name, actions: granted })
    }
    return access
  }

  const respondToken = (res: ServerResponse, subject: string | undefined, scopes: readonly string[], refreshToken: string | undefined): number => {
    const token = issueToken(subject ?? '', grantAccess(subject, scopes))
    const expiresIn = settings.expiresIn ?? (settings.lifetimeSeconds > 0 ? settings.lifetimeSeconds : 60)
    const body: TokenResponse = {
      token,
      access_token: token,
      expires_in: expiresIn,
      issued_at: new Date().toISOString(),
      ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
    }
    return sendJson(res, 200, body)
  }

  const newRefreshToken = (subject: string): string => {
    const refresh = randomBytes(24).toString('base64url')
    refreshTokens.set(refresh, subject)
    return refresh
  }

  const checkPassword = (username: string | undefined, password: string | undefined): boolean =>
    username !== undefined && password !== undefined && Object.hasOwn(settings.users, username) && settings.users[username] === password

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<TokenRequestRecord> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const method = req.method ?? 'GET'
    const base = { method, path: url.pathname }
    if (url.pathname !== '/token') return { ...base, grant: '', scopes: [], offline: false, status: sendError(res, 404, 'not_found', 'only /token is served') }

    if (method === 'GET') {
      const params = url.searchParams
      const scopes = params.getAll('scope')
      const common = { ...base, scopes, offline: params.get('offline_token') === 'true', ...optional('service', params.get('service')), ...optional('clientId', params.get('client_id')) }
      if (params.get('service') !== service) return { ...common, grant: 'unknown', status: sendError(res, 400, 'invalid_request', `unknown service ${JSON.stringify(params.get('service'))}`) }
      const basic = parseBasic(req.headers.authorization)
      if (basic === undefined) {
        if (req.headers.authorization !== undefined) return { ...common, grant: 'unknown', status: unauthorized(res, 'unsupported authorization') }
        if (!settings.allowAnonymousPull) return { ...common, grant: 'anonymous', status: unauthorized(res, 'authentication required') }
        return { ...common, grant: 'anonymous', status: respondToken(res, undefined, scopes, undefined) }
      }
      const record = { ...common, grant: 'basic', username: basic.username }
      if (!checkPassword(basic.username, basic.password)) return { ...record, status: unauthorized(res, 'invalid credentials') }
      return { ...record, status: respondToken(res, basic.username, scopes, common.offline ? newRefreshToken(basic.username) : undefined) }
    }

    if (method === 'POST') {
      const form = new URLSearchParams((await readBody(req)).toString('utf8'))
      const scopes = form.getAll('scope')
      const grant = form.get('grant_type') ?? ''
      const common = {
        ...base, grant, scopes, offline: form.get('access_type') === 'offline',
        ...optional('service', form.get('service')), ...optional('clientId', form.get('client_id')),
      }
      if (form.get('service') !== service) return { ...common, status: sendError(res, 400, 'invalid_request', `unknown service ${JSON.stringify(form.get('service'))}`) }
      // oauth.md makes client_id mandatory; a client that forgets it would fail against real servers.
      if (common.clientId === undefined || common.clientId === '') return { ...common, status: sendError(res, 400, 'invalid_request', 'client_id is required') }
      if (grant === 'password') {
        const username = form.get('username') ?? undefined
        const record = { ...common, ...optional('username', username ?? null) }
        if (!checkPassword(username, form.get('password') ?? undefined) || username === undefined) return { ...record, status: unauthorized(res, 'invalid credentials') }
        return { ...record, status: respondToken(res, username, scopes, common.offline ? newRefreshToken(username) : undefined) }
      }
      if (grant === 'refresh_token') {
        const refresh = form.get('refresh_token') ?? ''
        const subject = refreshTokens.get(refresh)
        if (subject === undefined) return { ...common, status: sendError(res, 400, 'invalid_grant', 'unknown refresh token') }
        return { ...common, username: subject, status: respondToken(res, subject, scopes, refresh) }
      }
      return { ...common, status: sendError(res, 400, 'unsupported_grant_type', `grant_type ${JSON.stringify(grant)} is not supported`) }
    }

    res.setHeader('allow', 'GET, POST')
    return { ...base, grant: '', scopes: [], offline: false, status: sendError(res, 405, 'invalid_request', 'method not allowed') }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).then(
      (record) => requests.push(record),
      (err: unknown) => {
        requests.push({ method: req.method ?? '', path: req.url ?? '', grant: '', scopes: [], offline: false, status: 500 })
        if (!res.headersSent) sendError(res, 500, 'server_error', String(err))
        else res.destroy()
      },
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const url = `http://127.0.0.1:${port}`

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        // Clients keep connections alive; without this, close() would wait for them to time out.
        server.closeAllConnections()
      })
      if (ownDir !== undefined) await rm(ownDir, { recursive: true, force: true })
    })()
    return closing
  }

  return {
    url,
    realm: `${url}/token`,
    service,
    issuer,
    certFile,
    keyId,
    settings,
    get requests() { return requests },
    get requestCount() { return requests.length },
    get tokensIssued() { return tokensIssued },
    resetCounts: () => { requests = []; tokensIssued = 0 },
    issueToken,
    close,
    [Symbol.asyncDispose]: close,
  }
}

/** Users get every action they ask for; anonymous requests get `pull` on repositories if allowed. */
export const defaultAuthorize: Authorizer = (subject, scope, settings) => {
  if (subject !== undefined) return scope.actions
  return settings.allowAnonymousPull && scope.type === 'repository' ? ['pull'] : []
}

function optional<K extends string>(key: K, value: string | null): { [P in K]?: string } {
  return (value === null ? {} : { [key]: value }) as { [P in K]?: string }
}

function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '')
  if (match?.[1] === undefined) return undefined
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY) throw new Error('request body too large')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

function sendJson(res: ServerResponse, status: number, body: unknown): number {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8')
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length, 'cache-control': 'no-store' })
  res.end(bytes)
  return status
}

function sendError(res: ServerResponse, status: number, error: string, description: string): number {
  return sendJson(res, status, { error, error_description: description, details: description })
}

function unauthorized(res: ServerResponse, description: string): number {
  res.setHeader('www-authenticate', 'Basic realm="csdk-token-server"')
  return sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: description }] })
}
