import { setMaxListeners } from 'node:events'
import type { ClientCore } from '../client/client.js'
import { AlreadyExistsError, CanceledError, DataLossError, InvalidArgumentError, NotFoundError, NotImplementedError } from '../grpc/errors.js'
import { CALL_OPTION_KEYS, checkOptionKeys, describe, keysOf, type KnownKeys } from '../client/option-check.js'
import type { Digest } from '../client/content/digest.js'
import type { RenewingLease } from '../client/leases/lease-manager.js'
import type { CallOptions } from '../grpc/call-options.js'
import { Authorizer } from '../registry/authorizer.js'
import type { CredentialsProvider, RegistryCredentials } from '../registry/credentials.js'
import { credentialsProvider, redirectTargetTls, registryEndpoints, type RegistryOptions } from '../registry/registry-access.js'
import { RegistryClient, type RegistryEndpoint } from '../registry/registry-client.js'
import { checkAuthOption, checkRegistryOptions } from '../registry/registry-option-checks.js'
import { type OciDescriptor } from '../image-spec/descriptor.js'
import { fetchIntoStore } from './fetch-into-store.js'
import { Limiter } from '../util/limiter.js'
import { isIndex, isLayer, isManifest } from '../image-spec/media-types.js'
import type { ImageConfig } from '../image-spec/image-config.js'
import type { ImageIndex } from '../image-spec/image-index.js'
import type { ImageManifest } from '../image-spec/manifest.js'
import { parseJson } from '../image-spec/parse.js'
import { descriptorPlatform, formatPlatform, hostPlatform, parsePlatform, platformMatches, type PlatformSpec } from '../image-spec/platform.js'
import type { PullProgressEvent, PullProgressListener } from './progress.js'
import { parseReference, type ImageReference } from '../image-spec/reference.js'
import { unpackManifest } from './unpack.js'

/** Options of `client.pull()`. */
export interface PullOptions extends CallOptions {
  /** The platform to pull (and unpack) from a multi-platform image, e.g. `linux/arm64`. Default: this host's. */
  platform?: string | PlatformSpec
  /** Several platforms to pull; the first one is unpacked. Exclusive with `allPlatforms`. */
  platforms?: (string | PlatformSpec)[]
  /** Pull every platform of an index (only this host's is unpacked). */
  allPlatforms?: boolean
  /** Snapshotter to unpack into. Default `overlayfs`. */
  snapshotter?: string
  /** Unpack the layers into snapshots so containers can use the image. Default true. */
  unpack?: boolean
  /** Layers downloaded at once. Default 3, like containerd. */
  maxConcurrentDownloads?: number
  /** Progress events per blob. */
  onProgress?: PullProgressListener
  /**
   * Credentials, or a function returning them per registry host. Default: what docker and nerdctl would
   * use (`DOCKER_AUTH_CONFIG`, credential helpers, `~/.docker/config.json`), else anonymous.
   */
  auth?: RegistryCredentials | CredentialsProvider
  /** hosts.toml / certs.d directories and insecure registries. */
  registry?: RegistryOptions
  /** Labels for the image record. */
  labels?: Record<string, string>
  /**
   * `client` (default): this process fetches and unpacks, on every containerd version. `transfer`: the
   * daemon's Transfer service does (containerd ≥ 1.7), asking us for credentials over the Streaming
   * service; progress arrives as the same events.
   */
  strategy?: 'client' | 'transfer'
  /**
   * How to reach the registry, overriding `registry`. Default: containerd's rules: hosts.toml mirrors
   * and certificates, HTTPS, and plain HTTP fallback for localhost and insecure registries.
   */
  endpoints?: (domain: string) => RegistryEndpoint[]
  /**
   * Expiry of the pull's lease, which the pull renews while it runs: if this process dies mid-pull, what
   * it stored is collectable this long after (at containerd's next garbage collection). Default the client's
   * `leaseExpiresInMs` (5 minutes unless set at connect); at least 1.5 s.
   */
  leaseExpiresInMs?: number
}

/** The keys of {@link PullOptions}, for the run-time check in {@link checkPullOptions}. */
export const PULL_OPTION_KEYS = keysOf<PullOptions>()({
  ...CALL_OPTION_KEYS,
  platform: true,
  platforms: true,
  allPlatforms: true,
  snapshotter: true,
  unpack: true,
  maxConcurrentDownloads: true,
  onProgress: true,
  auth: true,
  registry: true,
  labels: true,
  strategy: true,
  endpoints: true,
  leaseExpiresInMs: true,
})

/**
 * Checks pull options at run time, for callers in plain JavaScript, before anything is fetched: known
 * keys only, the nested `auth` and `registry` objects likewise, `platforms` an array, `strategy` one of
 * the two, and the callbacks functions.
 * @param where the call, for messages. Default `pull()`.
 * @param known the keys allowed. Default {@link PULL_OPTION_KEYS}; `run()`'s `pullOptions` has no `signal`.
 * @throws InvalidArgumentError naming the unknown key (and the closest known one) or the value and the fix.
 */
export function checkPullOptions(options: unknown, where = 'pull()', known: KnownKeys = PULL_OPTION_KEYS): void {
  checkOptionKeys(options, known, where)
  if (options === undefined) return
  const o = options as Record<string, unknown>
  checkAuthOption(o['auth'], `${where} auth`)
  checkRegistryOptions(o['registry'], `${where} registry`)
  if (o['platforms'] !== undefined && !Array.isArray(o['platforms'])) {
    throw new InvalidArgumentError(`${where} platforms must be an array, e.g. ['linux/amd64', 'linux/arm64']; got ${describe(o['platforms'])}`)
  }
  if (o['strategy'] !== undefined && o['strategy'] !== 'client' && o['strategy'] !== 'transfer') {
    throw new InvalidArgumentError(`${where} strategy must be 'client' or 'transfer', got ${describe(o['strategy'])}`)
  }
  for (const key of ['onProgress', 'endpoints'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'function') throw new InvalidArgumentError(`${where} ${key} must be a function, got ${describe(o[key])}`)
  }
}

/** What a pull stored: the image record's name and target. */
export interface PulledImage {
  /** The normalized name, e.g. `docker.io/library/busybox:latest`. */
  name: string
  /** The descriptor of the index or manifest the name points to. */
  target: OciDescriptor
  /** The platforms whose manifests were stored. */
  platforms: PlatformSpec[]
}

const DISTRIBUTION_SOURCE_PREFIX = 'containerd.io/distribution.source.'

/**
 * The work several concurrent pulls of one image share: downloading and unpacking what one resolved
 * target needs, under one lease. Authority is not shared: each caller resolves the reference with its
 * own credentials first (the registry checks them), and only a caller whose resolve gave this very
 * target in this repository joins. Each caller's signal ends only its own wait; the work is aborted when
 * the last waiter has gone. Every waiter gets the progress events (those of blobs already under way are
 * replayed when it joins). The lease is released when the last waiter has written its image record.
 */
class SharedPull {
  readonly done: Promise<PlatformSpec[]>
  /** Settles (never rejects) once the work ended and, if it failed, its lease was removed. */
  readonly settled: Promise<void>
  private readonly listeners = new Set<PullProgressListener>()
  // The latest event per blob, replayed to a waiter that joins late.
  private readonly latest = new Map<string, PullProgressEvent>()
  private readonly controller = new AbortController()
  private waiters = 0
  private finished = false
  private lease: RenewingLease | undefined

  constructor(
    private readonly key: string,
    run: (emit: PullProgressListener, signal: AbortSignal, leaseReady: (lease: RenewingLease) => void) => Promise<PlatformSpec[]>,
  ) {
    inFlight.set(key, this)
    this.done = run((event) => this.emit(event), this.controller.signal, (lease) => { this.lease = lease })
    this.settled = this.done.then(() => undefined, () => undefined).finally(() => {
      this.finished = true
      if (inFlight.get(key) === this) inFlight.delete(key)
      // Everyone left before it succeeded: nothing holds the lease any more.
      if (this.waiters === 0) void this.release()
    })
  }

  /** Whether a new caller may still join (the work is neither finished nor abandoned). */
  get joinable(): boolean {
    return !this.finished && !this.controller.signal.aborted
  }

  /** Adds a waiter; it receives progress through `listener` until it leaves. */
  join(listener: PullProgressListener | undefined): void {
    this.waiters++
    if (listener !== undefined) {
      this.listeners.add(listener)
      for (const event of this.latest.values()) listener(event)
    }
  }

  /**
   * Removes a waiter. The last one to leave aborts the work if it is still running (and waits for its
   * cleanup, so nothing of it is left when that caller's pull rejects), or releases the lease.
   */
  async leave(listener: PullProgressListener | undefined): Promise<void> {
    if (listener !== undefined) this.listeners.delete(listener)
    this.waiters--
    if (this.waiters > 0) return
    if (!this.finished) {
      if (inFlight.get(this.key) === this) inFlight.delete(this.key)
      this.controller.abort(new CanceledError('every caller of this pull has gone'))
      await this.settled
      return
    }
    await this.release()
  }

  private async release(): Promise<void> {
    const lease = this.lease
    this.lease = undefined
    await lease?.delete().catch(() => undefined)
  }

  private emit(event: PullProgressEvent): void {
    this.latest.set(event.digest ?? event.ref, event)
    for (const listener of this.listeners) listener(event)
  }
}

const inFlight = new Map<string, SharedPull>()

/**
 * Pulls an image into the client's namespace and unpacks it: resolves the reference, stores the index,
 * the chosen manifests, configs and layers (with containerd's gc.ref and distribution.source labels),
 * unpacks the layers through the diff service while later layers still download, then creates or
 * updates the image record. Everything happens under one lease that the pull keeps renewing (so a
 * crashed process frees its content within `leaseExpiresInMs`); on any failure the lease is removed
 * synchronously, so nothing of the pull stays behind. Concurrent pulls of the same image in one process
 * share the downloads and unpacking, but each resolves the reference with its own credentials, each
 * `signal` ends only its own call, and each gets progress events.
 * @throws InvalidArgumentError (as a rejection) for options that are not pull options (see
 *   {@link checkPullOptions}) or a malformed reference, before anything is fetched.
 */
export function pullImage(client: ClientCore, reference: string, options: PullOptions = {}): Promise<PulledImage> {
  let ref: ImageReference
  let wanted: PlatformSpec[]
  try {
    checkPullOptions(options)
    ref = parseReference(reference)
    wanted = wantedPlatforms(options)
  } catch (err) {
    // A promise-returning function rejects rather than throws, so `.catch()` sees bad input too.
    return Promise.reject(err)
  }
  return pullAs(client, ref, wanted, options)
}

function wantedPlatforms(options: PullOptions): PlatformSpec[] {
  const list = options.platforms ?? (options.platform !== undefined ? [options.platform] : [hostPlatform()])
  return list.map((p) => (typeof p === 'string' ? parsePlatform(p) : p))
}

function canceled(signal: AbortSignal): CanceledError {
  return new CanceledError('pull canceled', { cause: signal.reason })
}

// One caller's pull: its own resolve (its credentials), then the shared work, then its own image record.
async function pullAs(client: ClientCore, ref: ImageReference, wanted: PlatformSpec[], options: PullOptions): Promise<PulledImage> {
  const signal = options.signal
  if (signal?.aborted === true) throw canceled(signal)
  const snapshotter = options.snapshotter ?? 'overlayfs'
  const unpack = options.unpack !== false
  const progress = options.onProgress
  // A listener that throws fails only its own caller's pull, not the others sharing the work.
  let listenerError: { err: unknown } | undefined
  let failOwnWait: ((err: unknown) => void) | undefined
  const listener: PullProgressListener | undefined = progress === undefined ? undefined : (event) => {
    if (listenerError !== undefined) return
    try {
      progress(event)
    } catch (err) {
      listenerError = { err }
      failOwnWait?.(err)
    }
  }
  const registry = await registryFor(ref, options)
  listener?.({ status: 'resolving', ref: ref.string })
  const target = await registry.resolve(ref.digest ?? ref.tag ?? 'latest', { signal })
  listener?.({ status: 'resolved', ref: ref.string, digest: target.digest, mediaType: target.mediaType, total: target.size })
  if (listenerError !== undefined) throw listenerError.err

  const platformKey = options.allPlatforms === true ? 'all' : wanted.map(formatPlatform).join(',')
  const key = [client.address, client.namespace, ref.domain, ref.path, target.digest, platformKey, snapshotter, unpack].join('|')
  let shared = inFlight.get(key)
  if (shared === undefined || !shared.joinable) {
    shared = new SharedPull(key, (emit, jobSignal, leaseReady) =>
      fetchTarget(client, ref, registry, target, wanted, { ...options, snapshotter, unpack, emit, signal: jobSignal, leaseReady }))
  }
  shared.join(listener)
  let onAbort: (() => void) | undefined
  try {
    const own = new Promise<never>((_, reject) => {
      failOwnWait = reject
      if (signal === undefined) return
      // Removed in `finally`: a long-lived signal passed to many pulls must not collect listeners.
      onAbort = () => reject(canceled(signal))
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    })
    own.catch(() => undefined)
    const platforms = await Promise.race([shared.done, own])
    await saveRecord(client, ref.string, target, options.labels ?? {}, signal)
    return { name: ref.string, target, platforms }
  } finally {
    failOwnWait = undefined
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    await shared.leave(listener)
  }
}

async function registryFor(ref: ImageReference, options: PullOptions): Promise<RegistryClient> {
  const credentials = credentialsProvider(options.auth)
  const endpoints = options.endpoints !== undefined ? options.endpoints(ref.domain) : await registryEndpoints(ref.domain, options.registry)
  return new RegistryClient(ref.domain, ref.path, endpoints, new Authorizer(credentials, (host) => endpoints.find((e) => e.url.host === host)?.tls), {
    // Storage a blob GET is redirected to gets its own certs.d settings when it has some, else the system's CAs.
    redirectTls: redirectTargetTls(options.registry),
  })
}

interface FetchTargetOptions {
  snapshotter: string
  unpack: boolean
  allPlatforms?: boolean | undefined
  maxConcurrentDownloads?: number | undefined
  leaseExpiresInMs?: number | undefined
  emit: PullProgressListener
  signal: AbortSignal
  leaseReady: (lease: RenewingLease) => void
}

// The shared part of a pull: stores the resolved target's index, manifests, configs and layers, and
// unpacks, under a renewing lease it hands to `leaseReady` (the last waiter releases it on success).
async function fetchTarget(
  unleased: ClientCore,
  ref: ImageReference,
  registry: RegistryClient,
  target: OciDescriptor,
  wanted: PlatformSpec[],
  options: FetchTargetOptions,
): Promise<PlatformSpec[]> {
  const { snapshotter, unpack } = options
  // One abort for the whole pull: the first failure stops every other download.
  const controller = new AbortController()
  // The error that started the failure; what fails after the abort (a canceled unpack) is only a symptom.
  let firstError: unknown
  const fail = (err: unknown): void => {
    firstError ??= err
    controller.abort()
  }
  const signal = AbortSignal.any([options.signal, controller.signal])
  const concurrency = Math.max(1, options.maxConcurrentDownloads ?? 3)
  // Every download holds a few abort listeners at once (its HTTP request, its write stream, its RPCs):
  // above Node's default of 10 per signal, which a handful of concurrent downloads pass, Node warns of a leak.
  setMaxListeners(16 + 8 * concurrency, signal)
  const source = { [`${DISTRIBUTION_SOURCE_PREFIX}${ref.domain}`]: ref.path }
  const limiter = new Limiter(concurrency)
  const progress = options.emit

  const lease = await unleased.leases.createRenewing({
    signal,
    ...(options.leaseExpiresInMs !== undefined ? { expiresInMs: options.leaseExpiresInMs } : {}),
  })
  options.leaseReady(lease)
  // Every call of the pull carries the lease (its current id: it renews on a long pull).
  const client = unleased.leased(lease)

  const storeManifest = async (desc: OciDescriptor, unpackIt: boolean): Promise<void> => {
    const bytes = await registry.fetchManifest(desc, { signal })
    const manifest = parseJson<ImageManifest>(bytes, `manifest ${desc.digest}`)
    if (manifest.config === undefined || !Array.isArray(manifest.layers)) {
      throw new DataLossError(`manifest ${desc.digest} has no config or layers`)
    }
    for (const layer of manifest.layers) {
      if (!isLayer(layer.mediaType)) throw new NotImplementedError(`manifest ${desc.digest} lists a layer of unsupported media type ${layer.mediaType}`)
    }
    const fetchOptions = { labels: source, signal, onProgress: progress, ref: ref.string }
    await fetchIntoStore(client, registry, manifest.config, 'config', fetchOptions)
    const downloads = manifest.layers.map((layer) => limiter.run(() => fetchIntoStore(client, registry, layer, 'layer', fetchOptions)))
    // Unhandled until awaited below; a failure aborts the others through `signal`.
    for (const d of downloads) d.catch(fail)
    if (unpackIt) {
      const config = parseJson<ImageConfig>(await client.content.readAll(manifest.config.digest, { signal }), `config ${manifest.config.digest}`)
      const diffIds = config.rootfs?.diff_ids ?? []
      if (diffIds.length !== manifest.layers.length) {
        throw new DataLossError(`config ${manifest.config.digest} lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`)
      }
      // Layers are applied in order as soon as each one is stored, while later ones still download.
      await unpackManifest(client, manifest, diffIds, { snapshotter, signal, onProgress: progress, ref: ref.string, beforeLayer: (i) => downloads[i] as Promise<void> })
    }
    await Promise.all(downloads)
    const labels: Record<string, string> = { ...source, 'containerd.io/gc.ref.content.config': manifest.config.digest }
    manifest.layers.forEach((layer, i) => { labels[`containerd.io/gc.ref.content.l.${i}`] = layer.digest })
    await client.content.writeBlob(bytes, { expected: desc.digest as Digest, size: desc.size, labels, signal })
    progress({ status: 'done', ref: ref.string, digest: desc.digest, mediaType: desc.mediaType, total: desc.size })
  }

  try {
    if (isIndex(target.mediaType)) return await storeIndex(target)
    if (isManifest(target.mediaType)) {
      await storeManifest(target, unpack)
      return [wanted[0] ?? hostPlatform()]
    }
    throw new NotImplementedError(`${ref.string} resolves to unsupported media type ${target.mediaType}`)
  } catch (err) {
    fail(err)
    // Synchronous GC: what the failed pull stored is gone when this rejects.
    await lease.delete({ sync: true }).catch(() => undefined)
    throw firstError
  }

  async function storeIndex(desc: OciDescriptor): Promise<PlatformSpec[]> {
    const bytes = await registry.fetchManifest(desc, { signal })
    const index = parseJson<ImageIndex>(bytes, `index ${desc.digest}`)
    if (!Array.isArray(index.manifests)) throw new DataLossError(`index ${desc.digest} has no manifests`)
    const chosen = new Map<number, OciDescriptor>()
    const candidates = index.manifests.map((m, i) => ({ m, i })).filter(({ m }) => isManifest(m.mediaType) && m.platform !== undefined)
    if (options.allPlatforms === true) {
      for (const { m, i } of candidates) chosen.set(i, m)
    } else {
      for (const p of wanted) {
        const match = candidates.find(({ m }) => platformMatches(p, descriptorPlatform(m) as PlatformSpec))
        if (match === undefined) {
          const offered = candidates.map(({ m }) => formatPlatform(descriptorPlatform(m) as PlatformSpec))
          throw new NotFoundError(`${ref.string} has no image for ${formatPlatform(p)} (it offers ${offered.join(', ') || 'none'})`)
        }
        chosen.set(match.i, match.m)
      }
    }
    const first = wanted[0] ?? hostPlatform()
    let unpacked = false
    for (const m of chosen.values()) {
      const platform = descriptorPlatform(m) as PlatformSpec
      // Only the first wanted platform is unpacked: other platforms are stored for export and push.
      const unpackIt = unpack && !unpacked && platformMatches(first, platform)
      if (unpackIt) unpacked = true
      await storeManifest(m, unpackIt)
    }
    const labels: Record<string, string> = { ...source }
    for (const [i, m] of chosen) labels[`containerd.io/gc.ref.content.m.${i}`] = m.digest
    await client.content.writeBlob(bytes, { expected: desc.digest as Digest, size: desc.size, labels, signal })
    progress({ status: 'done', ref: ref.string, digest: desc.digest, mediaType: desc.mediaType, total: desc.size })
    return [...chosen.values()].map((m) => descriptorPlatform(m) as PlatformSpec)
  }
}

async function saveRecord(client: ClientCore, name: string, target: OciDescriptor, labels: Record<string, string>, signal: AbortSignal | undefined): Promise<void> {
  const image = { name, labels, target: { mediaType: target.mediaType, digest: target.digest, size: BigInt(target.size) } }
  try {
    await client.services.images.create({ image }, { signal })
  } catch (err) {
    if (!(err instanceof AlreadyExistsError)) throw err
    await client.services.images.update({ image, updateMask: { paths: ['target', 'labels'] } }, { signal })
  }
}
