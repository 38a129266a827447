import { createHash } from 'node:crypto'
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Authorizer } from './authorizer.js'
import { discardBody, readBody, sendRequest, type HttpRequest, type HttpResponse, type TlsSettings } from './http-request.js'
import { rawGet, type BlobSink } from './raw-blob-get.js'
import { redactUrl, redirectTlsLookup, sameOrigin, sendFollowingRedirects } from './redirects.js'
import { firstHeader, isPlainHttpAnswer, retryDelay } from './response-helpers.js'
import { RegistryError } from './registry-error.js'
import type { OciDescriptor } from '../image-spec/descriptor.js'
import { asCanceled } from '../grpc/abort.js'
import { isStall, markStall } from './stall-watch.js'
import { checkChallengeSize } from './www-authenticate.js'

/** One way to reach a registry (its API root ends in `/v2`). */
export interface RegistryEndpoint {
  /** Base URL of the API, e.g. `https://registry-1.docker.io/v2`. */
  url: URL
  /** What this endpoint may be used for: `pull`, `resolve`, `push`. */
  capabilities: ReadonlySet<string>
  /** TLS settings for HTTPS endpoints. */
  tls?: TlsSettings
  /** Extra headers for every request. */
  headers?: Record<string, string>
  /** When the TLS handshake fails because the server speaks plain HTTP, retry over `http:` (insecure registries). */
  plainHttpFallback?: boolean
  /**
   * Time allowed for response headers, on every request of a pull from this endpoint (redirect targets
   * included): a server that accepts the connection and says nothing is `Unavailable` after it. Default 60 s.
   */
  headersTimeoutMs?: number
  /**
   * Time within which a response body must make progress while it is read: fewer than 16 KiB in this long
   * (nothing, or a trickle) is a stall, a `RegistryError` `Unavailable` saying so. A stalled manifest is
   * fetched again (twice at most); a stalled blob is resumed by the pull with a Range request. Default 60 s.
   */
  idleTimeoutMs?: number
}

/** Accept header for manifests: Docker schema 2 and OCI manifests and lists, like containerd sends. */
export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  '*/*',
].join(', ')

/** Manifests and indexes are small; refuse anything larger (containerd caps them the same way). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
const RETRIES = 3
// Fetches of one manifest whose body stalled or broke off: the first and two more.
const MANIFEST_ATTEMPTS = 3

/** What `call` needs of a response, from node:http or raw-blob-get.ts; `body.resume()` throws the body away. */
interface CallResponse {
  status: number
  headers: HttpResponse['headers']
  body: { resume(): void }
}

/** Options of a registry call. */
export interface RegistryCallOptions {
  signal?: AbortSignal | undefined
}

/** Options of the {@link RegistryClient} constructor. */
export interface RegistryClientOptions {
  /**
   * TLS settings for a host a redirect leads to (`host[:port]`), e.g. its certs.d CA; `undefined` means the
   * system's CAs. Asked once per host. Default: the system's CAs for every redirect target.
   */
  redirectTls?: (host: string) => Promise<TlsSettings | undefined>
}

/**
 * A client for one repository on one registry (distribution API v2): resolve a tag or digest, fetch
 * manifests and blobs. Endpoints are tried in order; 401s go through the authorizer; 408, 429 and 5xx
 * are retried with backoff; every byte fetched by digest is verified. Redirects are followed as
 * redirects.ts describes (storage and CDNs get no credentials).
 */
export class RegistryClient {
  private readonly downgraded = new Map<RegistryEndpoint, URL>()
  private readonly tlsForRedirect: (url: URL) => Promise<TlsSettings | undefined>

  constructor(
    /** The registry host as named in references (`docker.io`, `127.0.0.1:5000`). */
    readonly host: string,
    /** The repository path, e.g. `library/busybox`. */
    readonly repository: string,
    private readonly endpoints: readonly RegistryEndpoint[],
    private readonly authorizer: Authorizer,
    options: RegistryClientOptions = {},
  ) {
    if (endpoints.length === 0) throw new RegistryError('InvalidConfig', `no endpoints are configured for ${host}`)
    this.tlsForRedirect = redirectTlsLookup(options.redirectTls)
  }

  /**
   * Resolves a tag or digest to the descriptor of its manifest or index: HEAD first (cheap), GET when the
   * registry does not answer HEAD with a digest.
   * @throws RegistryError `NotFound` when the reference does not exist.
   */
  async resolve(reference: string, options: RegistryCallOptions = {}): Promise<OciDescriptor> {
    const path = `/${this.repository}/manifests/${reference}`
    const head = await this.call('resolve', 'HEAD', path, { accept: MANIFEST_ACCEPT }, options)
    discardBody(head.body)
    const digest = firstHeader(head, 'docker-content-digest')
    const mediaType = firstHeader(head, 'content-type')?.split(';')[0]?.trim()
    const size = Number(firstHeader(head, 'content-length'))
    if (digest !== undefined && mediaType !== undefined && Number.isSafeInteger(size) && size > 0) {
      if (reference.includes(':') && reference !== digest) {
        throw new RegistryError('DigestMismatch', `${this.host}/${this.repository}@${reference}: the registry resolved it to ${digest}`)
      }
      return { mediaType, digest, size }
    }
    const { res, body } = await this.getManifest('resolve', path, MANIFEST_ACCEPT, reference, options)
    const computed = `sha256:${createHash('sha256').update(body).digest('hex')}`
    if (reference.includes(':') && reference !== computed) {
      throw new RegistryError('DigestMismatch', `${this.host}/${this.repository}@${reference}: the registry returned content with digest ${computed}`)
    }
    return { mediaType: firstHeader(res, 'content-type')?.split(';')[0]?.trim() ?? sniffMediaType(body), digest: computed, size: body.byteLength }
  }

  /**
   * Fetches a manifest or index by descriptor and verifies its digest and size.
   * @throws RegistryError `TooLarge` above 4 MiB, `DigestMismatch` when the bytes do not match.
   */
  async fetchManifest(desc: OciDescriptor, options: RegistryCallOptions = {}): Promise<Buffer> {
    if (desc.size > MAX_MANIFEST_BYTES) {
      throw new RegistryError('TooLarge', `manifest ${desc.digest} is ${desc.size} bytes, above the ${MAX_MANIFEST_BYTES}-byte limit`)
    }
    const { body } = await this.getManifest('pull', `/${this.repository}/manifests/${desc.digest}`, desc.mediaType || MANIFEST_ACCEPT, desc.digest, options)
    verifyBytes(body, desc)
    return body
  }

  /**
   * Streams a blob from `offset` (a Range request, to resume a partial download). From offset 0 the
   * stream is verified unless `verify` is false: it errors with `DigestMismatch` at the end if the bytes
   * do not match. Pass `verify: false` only when the bytes go where they are verified anyway (containerd's
   * content store checks the digest on commit), and count them yourself: the registry's stream is
   * returned as it is, and may be longer than the descriptor says when it announced no length.
   */
  async fetchBlob(desc: OciDescriptor, options: RegistryCallOptions & { offset?: number; verify?: boolean } = {}): Promise<Readable> {
    if (!desc.digest.startsWith('sha256:')) {
      throw new RegistryError('Protocol', `blob ${desc.digest}: only sha256 digests are supported`)
    }
    const offset = options.offset ?? 0
    const headers: Record<string, string> = {}
    if (offset > 0) headers['range'] = `bytes=${offset}-`
    const res = await this.call('pull', 'GET', `/${this.repository}/blobs/${desc.digest}`, headers, options)
    if (offset > 0 && res.status !== 206) {
      // The registry ignored the range: the caller must start over rather than splice.
      discardBody(res.body)
      throw new RegistryError('Protocol', `${this.host} does not support resuming blob ${desc.digest} (answered ${res.status} to a Range request)`, { status: res.status })
    }
    const length = Number(firstHeader(res, 'content-length'))
    if (Number.isSafeInteger(length) && length !== desc.size - offset) {
      discardBody(res.body)
      throw new RegistryError('Protocol', `blob ${desc.digest}: the registry announces ${length} bytes, expected ${desc.size - offset}`)
    }
    if (offset > 0 || options.verify === false) return res.body
    const verified = new DigestVerifier(desc)
    // pipeline, not pipe: a connection reset mid-blob must fail the returned stream too.
    pipeline(res.body, verified, (err) => { if (err) verified.destroy(err) })
    return verified
  }

  /**
   * Reads a blob from `offset` (a Range request, to resume) straight into `sink`, over a connection of
   * its own whose reads fill the sink's memory (see raw-blob-get.ts); a registry that announces no
   * Content-Length is read through {@link fetchBlob} instead. The bytes are not verified here: give them
   * to something that checks the digest (containerd's content store does on commit). Resolves once the
   * whole blob is in the sink; a connection that ends early or stalls rejects with a `RegistryError` `Unavailable`.
   */
  async fetchBlobInto(desc: OciDescriptor, sink: BlobSink, options: RegistryCallOptions & { offset?: number } = {}): Promise<void> {
    if (!desc.digest.startsWith('sha256:')) {
      throw new RegistryError('Protocol', `blob ${desc.digest}: only sha256 digests are supported`)
    }
    const offset = options.offset ?? 0
    const headers: Record<string, string> = {}
    if (offset > 0) headers['range'] = `bytes=${offset}-`
    const res = await this.call('pull', 'GET', `/${this.repository}/blobs/${desc.digest}`, headers, options, (req) =>
      rawGet({
        url: req.url,
        headers: req.headers ?? {},
        ...(req.tls !== undefined ? { tls: req.tls } : {}),
        signal: req.signal,
        ...(req.headersTimeoutMs !== undefined ? { headersTimeoutMs: req.headersTimeoutMs } : {}),
        ...(req.idleTimeoutMs !== undefined ? { idleTimeoutMs: req.idleTimeoutMs } : {}),
      }),
    )
    if (offset > 0 && res.status !== 206) {
      res.body.destroy()
      throw new RegistryError('Protocol', `${this.host} does not support resuming blob ${desc.digest} (answered ${res.status} to a Range request)`, { status: res.status })
    }
    const length = res.body.length
    if (length === undefined) {
      // Chunked or unannounced: node:http decodes it; the caller's sink still counts the bytes.
      res.body.destroy()
      const stream = await this.fetchBlob(desc, { offset, signal: options.signal, verify: false })
      for await (const chunk of stream as AsyncIterable<Buffer>) await sink.write(chunk)
      return
    }
    if (length !== desc.size - offset) {
      res.body.destroy()
      throw new RegistryError('Protocol', `blob ${desc.digest}: the registry announces ${length} bytes, expected ${desc.size - offset}`)
    }
    try {
      await res.body.readInto(sink)
    } catch (err) {
      // A dropped or stalled connection: the caller resumes with a Range request.
      const code = (err as { code?: unknown }).code
      if (code === 'ECONNRESET' || code === 'ETIMEDOUT') {
        const wrapped = new RegistryError('Unavailable', `reading blob ${desc.digest} from ${this.host} failed: ${(err as Error).message}`, { cause: err })
        throw isStall(err) ? markStall(wrapped) : wrapped
      }
      throw err
    }
  }

  /**
   * GETs a manifest and reads its body; a body that stalls or breaks off is fetched again, twice at most
   * (a manifest is small: starting over costs little, and registries need not support Range on manifests).
   */
  private async getManifest(capability: string, path: string, accept: string, reference: string, options: RegistryCallOptions): Promise<{ res: HttpResponse; body: Buffer }> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.call(capability, 'GET', path, { accept }, options)
      try {
        return { res, body: await this.readManifestBody(res, reference) }
      } catch (err) {
        if (options.signal?.aborted === true) throw asCanceled(err, options.signal, `GET ${this.host}${path}`)
        if (!(err instanceof RegistryError) || err.code !== 'Unavailable' || attempt >= MANIFEST_ATTEMPTS) throw err
      }
    }
  }

  private async readManifestBody(res: HttpResponse, reference: string): Promise<Buffer> {
    const length = Number(firstHeader(res, 'content-length'))
    if (Number.isSafeInteger(length) && length > MAX_MANIFEST_BYTES) {
      res.body.destroy()
      throw new RegistryError('TooLarge', `manifest ${reference} is ${length} bytes, above the ${MAX_MANIFEST_BYTES}-byte limit`)
    }
    try {
      return await readBody(res.body, MAX_MANIFEST_BYTES)
    } catch (err) {
      if (err instanceof RangeError) throw new RegistryError('TooLarge', `manifest ${reference} is larger than ${MAX_MANIFEST_BYTES} bytes`)
      if (err instanceof RegistryError && isStall(err)) {
        throw markStall(new RegistryError('Unavailable', `reading manifest ${reference}: ${err.message}`, { cause: err }))
      }
      if (err instanceof RegistryError) throw err
      throw new RegistryError('Unavailable', `reading manifest ${reference} from ${this.host} failed: ${(err as Error).message}`, { cause: err })
    }
  }

  /**
   * Sends a request to the first endpoint with the capability that answers, with auth and retries.
   * Returns only 2xx responses (206 included); maps the rest to RegistryError.
   */
  private async call<R extends CallResponse = HttpResponse>(
    capability: string,
    method: HttpRequest['method'],
    path: string,
    headers: Record<string, string>,
    options: RegistryCallOptions,
    send: (req: HttpRequest) => Promise<R> = sendRequest as unknown as (req: HttpRequest) => Promise<R>,
  ): Promise<R> {
    const scope = `repository:${this.repository}:pull`
    let lastError: unknown
    for (const endpoint of this.endpoints.filter((e) => e.capabilities.has(capability))) {
      const url = new URL(`${(this.downgraded.get(endpoint) ?? endpoint.url).href.replace(/\/$/, '')}${path}`)
      // The endpoint's timeouts go with every hop, redirect targets included.
      const timeouts = {
        ...(endpoint.headersTimeoutMs !== undefined ? { headersTimeoutMs: endpoint.headersTimeoutMs } : {}),
        ...(endpoint.idleTimeoutMs !== undefined ? { idleTimeoutMs: endpoint.idleTimeoutMs } : {}),
      }
      const sendTimed = (req: HttpRequest): Promise<R> => send({ ...req, ...timeouts })
      for (let attempt = 0; attempt <= RETRIES; attempt++) {
        const auth = this.authorizer.header(this.host, scope)
        let res: R
        let at: URL
        try {
          ;({ res, at } = await sendFollowingRedirects(sendTimed, {
            method,
            url,
            headers: { ...endpoint.headers, ...headers, ...(auth !== undefined ? { authorization: auth } : {}) },
            ...(endpoint.tls !== undefined ? { tls: endpoint.tls } : {}),
            signal: options.signal,
          }, headers, (to) => this.tlsForRedirect(to)))
        } catch (err) {
          if (options.signal?.aborted === true) throw asCanceled(err, options.signal, `${method} ${url.host}${path}`)
          if (err instanceof RegistryError) {
            // A redirect that cannot be followed (a loop, a downgrade) fails the call; an unreachable target
            // is like an unreachable endpoint.
            if (err.code !== 'Unavailable') throw err
            lastError = err
            break
          }
          if (endpoint.plainHttpFallback === true && url.protocol === 'https:' && isPlainHttpAnswer(err)) {
            // An insecure registry that speaks no TLS: use HTTP from now on, like containerd's fallback.
            url.protocol = 'http:'
            this.downgraded.set(endpoint, new URL(endpoint.url.href.replace(/^https:/, 'http:')))
            attempt--
            continue
          }
          lastError = new RegistryError('Unavailable', `${url.host} is not reachable: ${(err as Error).message}`, { cause: err })
          break // next endpoint
        }
        if (res.status === 401 && !sameOrigin(at, url)) {
          // Storage a redirect led to refused the request: our credentials are never sent there, so asking
          // the registry for a new token would not help.
          res.body.resume()
          throw new RegistryError('Unauthorized', `${redactUrl(at)}, where ${url.host} redirected ${method} ${path}, answered 401`, { status: 401 })
        }
        if (res.status === 401) {
          res.body.resume()
          checkChallengeSize(res.headers['www-authenticate'], this.host)
          if (auth !== undefined) this.authorizer.invalidate(this.host, scope)
          if (attempt > 0 && auth !== undefined) {
            throw new RegistryError('Unauthorized', `${this.host} rejected our credentials for ${this.repository}`, { status: 401 })
          }
          await this.authorizer.authorize(this.host, scope, res.headers['www-authenticate'], options.signal)
          continue
        }
        if (res.status === 408 || res.status === 429 || res.status >= 500) {
          res.body.resume()
          lastError = new RegistryError('Unavailable', `${answerer(url, at)} answered ${res.status} to ${method} ${path}`, { status: res.status })
          if (attempt < RETRIES) await sleep(retryDelay(res, attempt), undefined, options.signal ? { signal: options.signal } : undefined).catch((err: unknown) => { throw asCanceled(err, options.signal, `${method} ${url.host}${path}`) })
          continue
        }
        if (res.status >= 200 && res.status < 300) return res
        res.body.resume()
        if (res.status === 404) throw new RegistryError('NotFound', `${this.host}/${this.repository}: ${path.split('/').slice(-2).join(' ')} not found`, { status: 404 })
        if (res.status === 403) throw new RegistryError('Denied', `${this.host} denied ${method} on ${this.repository}`, { status: 403 })
        throw new RegistryError('Protocol', `${answerer(url, at)} answered ${res.status} to ${method} ${path}`, { status: res.status })
      }
    }
    throw lastError ?? new RegistryError('InvalidConfig', `no endpoint of ${this.host} may be used to ${capability}`)
  }
}

/** Who answered a call: the registry, or the redirect target (shown without its query). */
function answerer(registry: URL, at: URL): string {
  return sameOrigin(registry, at) ? registry.host : `${redactUrl(at)} (redirected from ${registry.host})`
}

function sniffMediaType(body: Buffer): string {
  try {
    const json = JSON.parse(body.toString('utf8')) as { mediaType?: unknown; manifests?: unknown }
    if (typeof json.mediaType === 'string') return json.mediaType
    return Array.isArray(json.manifests) ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json'
  } catch {
    return 'application/octet-stream'
  }
}

/** Checks that bytes match a descriptor's size and sha256 digest. */
export function verifyBytes(body: Buffer, desc: OciDescriptor): void {
  const computed = `sha256:${createHash('sha256').update(body).digest('hex')}`
  if (body.byteLength !== desc.size || computed !== desc.digest) {
    throw new RegistryError('DigestMismatch', `content ${desc.digest}: received ${body.byteLength} bytes with digest ${computed} (expected ${desc.size} bytes)`)
  }
}

/** Passes bytes through and fails the stream at the end when they do not match the descriptor. */
class DigestVerifier extends Transform {
  private readonly hash = createHash('sha256')
  private bytes = 0

  constructor(private readonly desc: OciDescriptor) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk)
    this.bytes += chunk.byteLength
    if (this.bytes > this.desc.size) {
      callback(new RegistryError('DigestMismatch', `blob ${this.desc.digest}: the registry sent more than ${this.desc.size} bytes`))
      return
    }
    callback(null, chunk)
  }

  override _flush(callback: TransformCallback): void {
    const computed = `sha256:${this.hash.digest('hex')}`
    if (computed !== this.desc.digest || this.bytes !== this.desc.size) {
      callback(new RegistryError('DigestMismatch', `blob ${this.desc.digest}: received ${this.bytes} bytes with digest ${computed}`))
      return
    }
    callback()
  }
}
