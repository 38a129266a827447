import { createHash, type Hash } from 'node:crypto'
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Authorizer } from './authorizer.js'
import { discardBody, readBody, sendRequest, type HttpRequest, type HttpResponse, type TlsSettings } from './http-request.js'
import { redactUrl, redirectTlsLookup, sameOrigin, sendFollowingRedirects } from './redirects.js'
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, type RegistryCallOptions, type RegistryClientOptions, type RegistryEndpoint } from './registry-client.js'
import type { OciDescriptor } from '../image-spec/descriptor.js'
import { firstHeader, isPlainHttpAnswer, retryDelay } from './response-helpers.js'
import { RegistryError, type RegistryErrorCode } from './registry-error.js'
import { contentRange, effectiveChunkSize, rechunk, resolveUploadLocation, uploadedBytes, withDigestParam } from './upload-protocol.js'
import { asCanceled } from '../grpc/abort.js'

/** An open upload session: where its next PATCH or closing PUT goes. */
export interface UploadSession {
  /** The session URL from the registry's last `Location` header (absolute). */
  readonly location: URL
  /** The endpoint the session was opened on: its headers and TLS settings apply to the session. */
  readonly endpoint: RegistryEndpoint
  /** The registry's `OCI-Chunk-Min-Length`, when it announced one. */
  readonly minChunkLength?: number
}

/**
 * The bytes of a blob to upload: a stream, or a function opening a fresh stream. With a function, an
 * upload that fails half way (connection reset, 5xx, expired token) is started over; a stream can only
 * be sent once.
 */
export type UploadSource = Readable | (() => Readable)

/** Options of {@link RegistryUploader.uploadBlob}. */
export interface UploadBlobOptions extends RegistryCallOptions {
  /** Send the blob in PATCH requests of this many bytes. Default: undefined, one monolithic PUT. */
  chunkSize?: number | undefined
  /** An upload session to use first (e.g. the one a failed mount opened). */
  session?: UploadSession | undefined
  /** Called as bytes go out, with the total sent so far in the current attempt. */
  onProgress?: ((bytesSent: number) => void) | undefined
}

/** The outcome of {@link RegistryUploader.mountBlob}. */
export type MountResult =
  /** The registry linked the blob from the other repository: nothing to upload. */
  | { mounted: true }
  /** Not mounted; `session` is the upload the registry opened instead (when it did). */
  | { mounted: false; session: UploadSession | undefined }

/** One request of the uploader. */
interface Exchange {
  method: HttpRequest['method']
  /** A path under the endpoint's `/v2` root (tried on each push endpoint), or a session URL. */
  target: { path: string } | { url: URL; endpoint: RegistryEndpoint }
  headers?: Record<string, string>
  /** A Buffer can be re-sent; a stream cannot, so requests with one are never retried here. */
  body?: Buffer | Readable
  /** Statuses handed back to the caller; everything else becomes a RegistryError. */
  accept: readonly number[]
  /** Retry 408, 429 and 5xx with backoff: only for requests that are safe to repeat. */
  retry: boolean
  signal?: AbortSignal | undefined
  headersTimeoutMs?: number
  /** Auth scope, when the request needs more than the repository's push scope (a mount's source). */
  scope?: string
}

const RETRIES = 3
// Whole-blob attempts when the source can be reopened.
const UPLOAD_ATTEMPTS = 3
const ERROR_BODY_LIMIT = 16 * 1024
// Response headers of an upload only come once the body is sent: allow for slow uplinks (128 KiB/s).
const MIN_UPLOAD_BYTES_PER_SECOND = 128 * 1024
const OCTET_STREAM = 'application/octet-stream'

// Marks errors after which a whole-blob upload may be started over (with a reopened source).
const restartable = new WeakSet<object>()

/**
 * Pushes blobs and manifests into one repository of a registry (distribution API v2): existence checks,
 * cross-repository mounts, monolithic and chunked blob uploads, manifest PUTs. Requests carry the
 * `repository:<repo>:pull,push` scope through the shared {@link Authorizer}; steps that are safe to
 * repeat are retried on 408, 429 and 5xx; every digest the registry reports back is checked against
 * ours. Error messages name hosts, paths and registry error codes, never credentials or session URLs.
 */
export class RegistryUploader {
  /** The auth scope of every request: pushing needs pull too (HEAD, mounts, manifest checks). */
  readonly scope: string
  private readonly pushEndpoints: readonly RegistryEndpoint[]
  // Endpoints found to speak plain HTTP although configured as https (insecure registries).
  private readonly downgraded = new Map<RegistryEndpoint, URL>()
  private readonly tlsForRedirect: (url: URL) => Promise<TlsSettings | undefined>

  constructor(
    /** The registry host as named in references (`docker.io`, `127.0.0.1:5000`): the credentials key. */
    readonly host: string,
    /** The repository path, e.g. `team/app`. */
    readonly repository: string,
    endpoints: readonly RegistryEndpoint[],
    private readonly authorizer: Authorizer,
    /** `redirectTls`: TLS settings of hosts the existence checks (HEAD) are redirected to. */
    options: RegistryClientOptions = {},
  ) {
    this.tlsForRedirect = redirectTlsLookup(options.redirectTls)
    this.pushEndpoints = endpoints.filter((e) => e.capabilities.has('push'))
    if (this.pushEndpoints.length === 0) throw new RegistryError('InvalidConfig', `no endpoint of ${host} may be used to push`)
    this.scope = `repository:${repository}:pull,push`
  }

  /** True when the repository already has the blob (HEAD `/blobs/<digest>` answers 200). */
  async blobExists(desc: OciDescriptor, options: RegistryCallOptions = {}): Promise<boolean> {
    const { res } = await this.exchange({ method: 'HEAD', target: { path: `/${this.repository}/blobs/${desc.digest}` }, accept: [200, 404], retry: true, signal: options.signal })
    discardBody(res.body)
    return res.status === 200
  }

  /** True when the repository already has the manifest or index with this digest. */
  async manifestExists(desc: OciDescriptor, options: RegistryCallOptions = {}): Promise<boolean> {
    const { res } = await this.exchange({
      method: 'HEAD',
      target: { path: `/${this.repository}/manifests/${desc.digest}` },
      headers: { accept: MANIFEST_ACCEPT },
      accept: [200, 404],
      retry: true,
      signal: options.signal,
    })
    discardBody(res.body)
    return res.status === 200
  }

  /** Opens an upload session (POST `/blobs/uploads/`, 202). */
  async startUpload(options: RegistryCallOptions = {}): Promise<UploadSession> {
    // A retried POST at worst leaves an unused session behind, which registries expire.
    const { res, url, endpoint } = await this.exchange({ method: 'POST', target: { path: `/${this.repository}/blobs/uploads/` }, headers: { 'content-length': '0' }, accept: [202], retry: true, signal: options.signal })
    discardBody(res.body)
    return sessionFrom(res, url, endpoint)
  }

  /**
   * Asks the registry to link a blob from another repository of the same registry (POST
   * `/blobs/uploads/?mount=<digest>&from=<repo>`), which saves uploading it. 201 means mounted; 202 means
   * the registry did not mount it (the source is missing or not readable to us) and opened an upload
   * session instead. A 401 even with fresh credentials means we may not read the source repository: like
   * containerd, that is "not mounted" rather than an error, and the caller uploads the blob.
   */
  async mountBlob(desc: OciDescriptor, fromRepository: string, options: RegistryCallOptions = {}): Promise<MountResult> {
    const query = `mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(fromRepository)}`
    let result
    try {
      // The mount needs pull on the source repository too. Asking for it explicitly (its own cache entry)
      // keeps a concurrent request's token, made without that scope, from being reused for the mount.
      const scope = `${this.scope} repository:${fromRepository}:pull`
      result = await this.exchange({ method: 'POST', target: { path: `/${this.repository}/blobs/uploads/?${query}` }, headers: { 'content-length': '0' }, accept: [201, 202], retry: true, signal: options.signal, scope })
    } catch (err) {
      if (err instanceof RegistryError && (err.code === 'Unauthorized' || err.code === 'Denied')) return { mounted: false, session: undefined }
      throw err
    }
    const { res, url, endpoint } = result
    discardBody(res.body)
    if (res.status === 201) {
      checkDigestHeader(res, desc.digest, `blob ${desc.digest} mounted from ${fromRepository}`)
      return { mounted: true }
    }
    return { mounted: false, session: sessionFrom(res, url, endpoint) }
  }

  /**
   * Uploads a blob: opens a session (or uses `options.session`), then either one PUT
   * `<location>&digest=<digest>` with the whole body, or PATCH requests of `chunkSize` bytes with
   * `Content-Range` followed by an empty closing PUT. Each answer's `Location` is followed (relative or
   * absolute). The bytes are hashed on the way: a source that does not match the descriptor aborts the
   * upload rather than giving the registry a blob under the wrong name. With a source function, an
   * attempt that fails for a transient reason is started over, up to three times.
   * @throws RegistryError `DigestMismatch` when the source or the registry's answer does not match `desc`.
   */
  async uploadBlob(desc: OciDescriptor, source: UploadSource, options: UploadBlobOptions = {}): Promise<void> {
    if (options.chunkSize !== undefined) effectiveChunkSize(options.chunkSize) // validate before any request
    let session = options.session
    for (let attempt = 1; ; attempt++) {
      const stream = typeof source === 'function' ? source() : source
      try {
        session ??= await this.startUpload(options)
        await (options.chunkSize === undefined
          ? this.putWhole(desc, stream, session, options)
          : this.putChunks(desc, stream, session, options.chunkSize, options))
        return
      } catch (err) {
        if (!stream.destroyed) stream.destroy()
        if (typeof source !== 'function' || attempt >= UPLOAD_ATTEMPTS || options.signal?.aborted === true || !isRestartable(err)) throw asCanceled(err, options.signal, `uploading ${desc.digest}`)
        session = undefined
        await sleep(200 * 2 ** (attempt - 1), undefined, options.signal ? { signal: options.signal } : undefined).catch((e: unknown) => { throw asCanceled(e, options.signal, `uploading ${desc.digest}`) })
      }
    }
  }

  /** Abandons an upload session (DELETE on its location). Best effort: registries also expire them. */
  async cancelUpload(session: UploadSession, options: RegistryCallOptions = {}): Promise<void> {
    try {
      const { res } = await this.exchange({ method: 'DELETE', target: { url: session.location, endpoint: session.endpoint }, accept: [200, 204, 404], retry: false, signal: options.signal })
      discardBody(res.body)
    } catch {
      // Nothing to do: the session expires on its own.
    }
  }

  /**
   * Stores a manifest or index under a tag or digest (PUT `/manifests/<reference>`) and returns its digest.
   * The registry checks that everything it references is there, so children go first.
   * @throws RegistryError `DigestMismatch` when `reference` is a digest the bytes do not have, or the
   * registry reports a different digest than ours.
   */
  async putManifest(reference: string, bytes: Buffer, mediaType: string, options: RegistryCallOptions = {}): Promise<string> {
    if (bytes.byteLength > MAX_MANIFEST_BYTES) {
      throw new RegistryError('TooLarge', `manifest for ${this.repository}:${reference} is ${bytes.byteLength} bytes, above the ${MAX_MANIFEST_BYTES}-byte limit registries accept`)
    }
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    if (reference.includes(':') && reference !== digest) {
      throw new RegistryError('DigestMismatch', `manifest bytes have digest ${digest}, not the ${reference} they are to be pushed as`)
    }
    const { res } = await this.exchange({
      method: 'PUT',
      target: { path: `/${this.repository}/manifests/${reference}` },
      headers: { 'content-type': mediaType },
      body: bytes,
      accept: [200, 201, 202, 204],
      retry: true,
      signal: options.signal,
    })
    discardBody(res.body)
    checkDigestHeader(res, digest, `manifest ${this.repository}:${reference}`)
    return digest
  }

  /** Monolithic upload: the whole blob in the closing PUT. */
  private async putWhole(desc: OciDescriptor, stream: Readable, session: UploadSession, options: UploadBlobOptions): Promise<void> {
    const meter = new Meter(desc, options.onProgress)
    // pipeline, not pipe: a source that fails must fail the request too (and free the source).
    const body = pipeline(stream, meter, () => undefined)
    const { res } = await this.exchange({
      method: 'PUT',
      target: { url: withDigestParam(session.location, desc.digest), endpoint: session.endpoint },
      headers: { 'content-type': OCTET_STREAM, 'content-length': String(desc.size) },
      body,
      accept: [201, 204],
      retry: false,
      signal: options.signal,
      headersTimeoutMs: uploadTimeout(desc.size),
    }).finally(() => { if (!meter.writableFinished) meter.destroy() })
    discardBody(res.body)
    checkDigestHeader(res, desc.digest, `blob ${desc.digest}`)
  }

  /** Chunked upload: PATCH `chunkSize` bytes at a time, following each new Location, then an empty PUT. */
  private async putChunks(desc: OciDescriptor, stream: Readable, initial: UploadSession, chunkSize: number, options: UploadBlobOptions): Promise<void> {
    const size = effectiveChunkSize(chunkSize, initial.minChunkLength)
    const hash = createHash('sha256')
    let session = initial
    let offset = 0
    for await (const chunk of rechunk(stream as AsyncIterable<Uint8Array>, size)) {
      if (offset + chunk.byteLength > desc.size) {
        await this.cancelUpload(session, options)
        throw new RegistryError('DigestMismatch', `blob ${desc.digest}: the source has more than the ${desc.size} bytes of its descriptor`)
      }
      hash.update(chunk)
      const { res, url } = await this.exchange({
        method: 'PATCH',
        target: { url: session.location, endpoint: session.endpoint },
        headers: { 'content-type': OCTET_STREAM, 'content-range': contentRange(offset, chunk.byteLength) },
        body: chunk,
        // A repeated PATCH would land at the wrong offset once the registry has taken the first one.
        accept: [202, 204],
        retry: false,
        signal: options.signal,
        headersTimeoutMs: uploadTimeout(chunk.byteLength),
      })
      discardBody(res.body)
      offset += chunk.byteLength
      const held = uploadedBytes(res.headers['range'])
      if (held !== undefined && held !== offset) {
        throw new RegistryError('Protocol', `${url.host} holds ${held} bytes of blob ${desc.digest} after we sent ${offset}`)
      }
      // Each answer names the next URL: distribution's `_state` changes with every chunk.
      session = { ...session, location: res.headers['location'] === undefined ? session.location : resolveUploadLocation(url, res.headers['location']) }
      options.onProgress?.(offset)
    }
    const computed = `sha256:${hash.digest('hex')}`
    if (offset !== desc.size || computed !== desc.digest) {
      await this.cancelUpload(session, options)
      throw new RegistryError('DigestMismatch', `blob ${desc.digest}: the source gave ${offset} bytes with digest ${computed} (expected ${desc.size} bytes)`)
    }
    const { res } = await this.exchange({
      method: 'PUT',
      target: { url: withDigestParam(session.location, desc.digest), endpoint: session.endpoint },
      headers: { 'content-type': OCTET_STREAM },
      body: Buffer.alloc(0),
      // Not repeatable either: a registry that already closed the session would answer 404.
      accept: [201, 204],
      retry: false,
      signal: options.signal,
    })
    discardBody(res.body)
    checkDigestHeader(res, desc.digest, `blob ${desc.digest}`)
  }

  /**
   * Sends one request with auth, retries and error mapping: paths are tried on each push endpoint in
   * turn (the next one when a host does not answer), session URLs only where they point.
   */
  private async exchange(ex: Exchange): Promise<{ res: HttpResponse; url: URL; endpoint: RegistryEndpoint }> {
    const targets = 'path' in ex.target
      ? this.pushEndpoints.map((endpoint) => ({ endpoint, url: new URL(`${(this.downgraded.get(endpoint) ?? endpoint.url).href.replace(/\/$/, '')}${(ex.target as { path: string }).path}`) }))
      : [ex.target]
    const oneShot = ex.body !== undefined && !Buffer.isBuffer(ex.body)
    let lastError: unknown
    for (const { endpoint, url } of targets) {
      // Credentials and endpoint settings only go to the endpoint's own host, not to a storage backend
      // a Location may point at.
      const sameHost = url.host === endpoint.url.host
      let freshAuth = false
      let staleRetried = false
      for (let attempt = 0; attempt <= RETRIES; attempt++) {
        const scope = ex.scope ?? this.scope
        const auth = sameHost ? this.authorizer.header(this.host, scope) : undefined
        // A stream body that fails (source error, digest mismatch) aborts the request it feeds.
        const local = new AbortController()
        const onBodyError = (err: unknown): void => { local.abort(err) }
        if (oneShot) (ex.body as Readable).once('error', onBodyError)
        let res: HttpResponse
        let at: URL
        try {
          // HEADs (existence checks) follow redirects like the pull side; the upload verbs never do.
          ;({ res, at } = await sendFollowingRedirects(sendRequest, {
            method: ex.method,
            url,
            headers: { ...(sameHost ? endpoint.headers : {}), ...ex.headers, ...(auth !== undefined ? { authorization: auth } : {}) },
            ...(ex.body !== undefined ? { body: ex.body } : {}),
            ...(sameHost && endpoint.tls !== undefined ? { tls: endpoint.tls } : {}),
            signal: ex.signal === undefined ? local.signal : AbortSignal.any([ex.signal, local.signal]),
            ...(ex.headersTimeoutMs !== undefined ? { headersTimeoutMs: ex.headersTimeoutMs } : {}),
          }, { ...ex.headers }, this.tlsForRedirect))
        } catch (err) {
          if (ex.signal?.aborted === true) throw asCanceled(err, ex.signal, `${ex.method} ${url.host}`)
          if (err instanceof RegistryError) {
            // A redirect that cannot be followed fails the step; an unreachable target is like an unreachable host.
            if (err.code !== 'Unavailable' || oneShot) throw err
            lastError = markRestartable(err)
            break
          }
          if (endpoint.plainHttpFallback === true && url.protocol === 'https:' && isPlainHttpAnswer(err) && !oneShot) {
            // An insecure registry that speaks no TLS: use HTTP from now on, like containerd's fallback.
            url.protocol = 'http:'
            this.downgraded.set(endpoint, new URL(endpoint.url.href.replace(/^https:/, 'http:')))
            attempt--
            continue
          }
          // The body failed first (the source could not be read, or did not match its digest): that is
          // the error, not the connection it tore down.
          if (local.signal.aborted) throw local.signal.reason
          if (ex.retry && !oneShot && !staleRetried && isStaleConnection(err)) {
            // A kept-alive connection the registry closed while idle: one immediate retry on a new one.
            staleRetried = true
            attempt--
            continue
          }
          lastError = markRestartable(new RegistryError('Unavailable', `${url.host} is not reachable for ${ex.method} ${describe(url)}: ${(err as Error).message}`, { cause: err }))
          if (oneShot) throw lastError
          break // next endpoint
        } finally {
          if (oneShot) (ex.body as Readable).removeListener('error', onBodyError)
        }
        if (res.status === 401 && !sameOrigin(at, url)) {
          discardBody(res.body)
          throw new RegistryError('Unauthorized', `${redactUrl(at)}, where ${url.host} redirected ${ex.method} ${describe(url)}, answered 401`, { status: 401 })
        }
        if (res.status === 401) {
          discardBody(res.body)
          if (auth !== undefined) this.authorizer.invalidate(this.host, scope)
          if (freshAuth) {
            throw new RegistryError('Unauthorized', `${this.host} rejected our credentials for pushing to ${this.repository}`, { status: 401 })
          }
          // The challenge may name more scopes than ours (e.g. the source repository of a mount); the
          // authorizer asks for those too.
          await this.authorizer.authorize(this.host, scope, res.headers['www-authenticate'], ex.signal)
          freshAuth = true
          if (oneShot) throw markRestartable(new RegistryError('Unauthorized', `${this.host} asked for new credentials during ${ex.method} ${describe(url)}`, { status: 401 }))
          continue
        }
        if (res.status === 408 || res.status === 429 || res.status >= 500) {
          const detail = await errorDetail(res)
          lastError = markRestartable(new RegistryError('Unavailable', `${url.host} answered ${res.status} to ${ex.method} ${describe(url)}${detail}`, { status: res.status }))
          if (!ex.retry || oneShot || attempt >= RETRIES) throw lastError
          await sleep(retryDelay(res, attempt), undefined, ex.signal ? { signal: ex.signal } : undefined).catch((err: unknown) => { throw asCanceled(err, ex.signal, `${ex.method} ${url.host}`) })
          continue
        }
        if (ex.accept.includes(res.status)) return { res, url, endpoint }
        const detail = await errorDetail(res)
        throw new RegistryError(codeFor(res.status, detail), `${url.host} answered ${res.status} to ${ex.method} ${describe(url)}${detail}`, { status: res.status })
      }
    }
    throw lastError ?? new RegistryError('InvalidConfig', `no endpoint of ${this.host} may be used to push`)
  }
}

/** Reads the upload session out of a 202 (or a mount's 202). */
function sessionFrom(res: HttpResponse, url: URL, endpoint: RegistryEndpoint): UploadSession {
  let location: URL
  try {
    location = resolveUploadLocation(url, res.headers['location'])
  } catch (err) {
    throw new RegistryError('Protocol', (err as Error).message, { status: res.status })
  }
  const min = Number(firstHeader(res, 'oci-chunk-min-length'))
  return Number.isSafeInteger(min) && min > 0 ? { location, endpoint, minChunkLength: min } : { location, endpoint }
}

function isStaleConnection(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return code === 'ECONNRESET' || code === 'EPIPE'
}

/** Registries report the digest they stored; anything else than ours means the bytes were not ours. */
function checkDigestHeader(res: HttpResponse, expected: string, what: string): void {
  const reported = firstHeader(res, 'docker-content-digest')
  if (reported !== undefined && reported.trim() !== '' && reported.trim() !== expected) {
    throw new RegistryError('DigestMismatch', `${what}: the registry stored it as ${reported.trim()}`, { status: res.status })
  }
}

// Only the path: session URLs carry the registry's signed upload state, which does not belong in logs.
function describe(url: URL): string {
  return url.pathname
}

function uploadTimeout(bytes: number): number {
  return 60_000 + Math.ceil((bytes / MIN_UPLOAD_BYTES_PER_SECOND) * 1000)
}

function codeFor(status: number, detail: string): RegistryErrorCode {
  if (status === 404) return 'NotFound'
  if (status === 403) return 'Denied'
  if (status === 413) return 'TooLarge'
  if (status === 400 && /DIGEST_INVALID|SIZE_INVALID/.test(detail)) return 'DigestMismatch'
  return 'Protocol'
}

/**
 * The registry's own explanation (`{"errors":[{"code","message"}]}`) as ` (CODE: message)`, read from a
 * bounded body. Registry messages name repositories and digests, not credentials.
 */
async function errorDetail(res: HttpResponse): Promise<string> {
  try {
    const body = await readBody(res.body, ERROR_BODY_LIMIT)
    const json = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] }
    const parts = (json.errors ?? [])
      .map((e) => [typeof e.code === 'string' ? e.code : '', typeof e.message === 'string' ? e.message : ''].filter((s) => s !== '').join(': '))
      .filter((s) => s !== '')
    return parts.length === 0 ? '' : ` (${parts.join('; ').slice(0, 300)})`
  } catch {
    if (!res.body.destroyed) res.body.destroy()
    return ''
  }
}

function markRestartable(err: RegistryError): RegistryError {
  restartable.add(err)
  return err
}

function isRestartable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && restartable.has(err)
}

/**
 * Passes a blob's bytes through to the request, reports progress, and fails the stream (so the request
 * is aborted) when the bytes run past the descriptor's size or do not hash to its digest.
 */
class Meter extends Transform {
  private readonly hash: Hash = createHash('sha256')
  private bytes = 0

  constructor(
    private readonly desc: OciDescriptor,
    private readonly onProgress: ((bytes: number) => void) | undefined,
  ) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.byteLength
    if (this.bytes > this.desc.size) {
      callback(new RegistryError('DigestMismatch', `blob ${this.desc.digest}: the source has more than the ${this.desc.size} bytes of its descriptor`))
      return
    }
    this.hash.update(chunk)
    this.onProgress?.(this.bytes)
    callback(null, chunk)
  }

  override _flush(callback: TransformCallback): void {
    const computed = `sha256:${this.hash.digest('hex')}`
    if (this.bytes !== this.desc.size || computed !== this.desc.digest) {
      callback(new RegistryError('DigestMismatch', `blob ${this.desc.digest}: the source gave ${this.bytes} bytes with digest ${computed} (expected ${this.desc.size} bytes)`))
      return
    }
    callback()
  }
}
