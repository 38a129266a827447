import type { ClientCore } from '../client/client.js'
import { DataLossError, InvalidArgumentError, NotFoundError, NotImplementedError } from '../grpc/errors.js'
import { checkOptionKeys, keysOf } from '../client/option-check.js'
import { Authorizer } from '../registry/authorizer.js'
import type { CredentialsProvider, RegistryCredentials } from '../registry/credentials.js'
import { credentialsProvider, redirectTargetTls, registryEndpoints, type RegistryOptions } from '../registry/registry-access.js'
import type { RegistryEndpoint } from '../registry/registry-client.js'
import type { OciDescriptor } from '../image-spec/descriptor.js'
import { splitHostPort } from '../registry/host-port.js'
import { RegistryUploader } from '../registry/registry-uploader.js'
import { checkAuthOption, checkRegistryOptions } from '../registry/registry-option-checks.js'
import { getImage } from './get-image.js'
import { Limiter } from '../util/limiter.js'
import { isIndex, isManifest } from '../image-spec/media-types.js'
import type { ImageConfig } from '../image-spec/image-config.js'
import type { ImageIndex } from '../image-spec/image-index.js'
import type { ImageManifest } from '../image-spec/manifest.js'
import { parseJson } from '../image-spec/parse.js'
import { descriptorPlatform, formatPlatform, hostPlatform, parsePlatform, platformMatches, type PlatformSpec } from '../image-spec/platform.js'
import type { PushProgressEvent, PushProgressListener } from './push-progress.js'
import { parseReference } from '../image-spec/reference.js'

/** Options of `client.push()`. */
export interface PushOptions {
  /**
   * Credentials, or a function returning them per registry host. Default: what docker and nerdctl would
   * use (`DOCKER_AUTH_CONFIG`, credential helpers, `~/.docker/config.json`), else anonymous.
   */
  auth?: RegistryCredentials | CredentialsProvider
  /** hosts.toml / certs.d directories and insecure registries. */
  registry?: RegistryOptions
  /**
   * Push only this platform's manifest of a multi-platform image, under the reference's tag (the index
   * is not pushed). The other platforms need not be in the content store.
   */
  platform?: string | PlatformSpec
  /**
   * Push the whole index with every platform (the default without `platform`); every manifest it lists
   * must be in the content store. `false` pushes only this host's platform, like `platform` would.
   */
  allPlatforms?: boolean
  /** Progress events per blob and manifest. */
  onProgress?: PushProgressListener
  /** Cancels the push. Blobs already uploaded stay in the registry; the tag is only set at the end. */
  signal?: AbortSignal | undefined
  /**
   * How to reach the registry, overriding `registry`; only endpoints with the `push` capability are
   * used. Default: containerd's rules (hosts.toml, certificates, HTTPS with plain HTTP fallback for
   * localhost and insecure registries).
   */
  endpoints?: (domain: string) => RegistryEndpoint[]
  /** Upload blobs in PATCH requests of this many bytes. Default: one monolithic PUT per blob. */
  chunkSize?: number
  /** Blobs uploaded at once. Default 3, like containerd. */
  maxConcurrentUploads?: number
}

/** The keys of {@link PushOptions}, for the run-time check at the start of {@link pushImage}. */
export const PUSH_OPTION_KEYS = keysOf<PushOptions>()({
  auth: true,
  registry: true,
  platform: true,
  allPlatforms: true,
  onProgress: true,
  signal: true,
  endpoints: true,
  chunkSize: true,
  maxConcurrentUploads: true,
})

/** What a push stored in the registry. */
export interface PushedImage {
  /** The normalized reference pushed to, e.g. `registry.example/team/app:v1`. */
  name: string
  /** The digest of the manifest or index the tag now points to. */
  digest: string
  /** Its media type. */
  mediaType: string
  /** The platforms whose manifests were pushed (empty when unknown, e.g. a single manifest's config lacks one). */
  platforms: PlatformSpec[]
}

/** A manifest or index to PUT, with its bytes (read from the content store). */
export interface PlannedManifest {
  /** Its descriptor (media type, digest, size). */
  desc: OciDescriptor
  /** Its bytes, exactly as stored. */
  bytes: Buffer
}

/** Everything a push sends: blobs first, then manifests children before parents, the root last. */
export interface PushPlan {
  /** Configs and layers, each once. */
  blobs: OciDescriptor[]
  /** Manifests (and nested indexes) the root references, children before parents; pushed by digest. */
  children: PlannedManifest[]
  /** What the reference's tag will point to. */
  root: PlannedManifest
  /** Platforms of the manifests pushed. */
  platforms: PlatformSpec[]
}

/** The label pull sets on blobs: the repositories of a registry that are known to hold them. */
export const DISTRIBUTION_SOURCE_PREFIX = 'containerd.io/distribution.source.'
// containerd's limit for one label (key and value together).
const MAX_LABEL_BYTES = 4096
// Report upload progress at most this often per blob: listeners redraw terminals.
const PROGRESS_EVERY_BYTES = 1024 * 1024

/**
 * Picks the repository to mount a blob from: the first repository named by the blob's
 * `containerd.io/distribution.source.<registry>` label that is not the target itself. The SDK's pull
 * writes the key with the registry's port (`…source.registry.example:5000`); containerd's with the host
 * name alone (`…source.registry.example`), so both are read, the exact one first. A wrong guess costs
 * nothing: the registry then answers with an ordinary upload session.
 */
export function mountSource(labels: Readonly<Record<string, string>>, domain: string, repository: string): string | undefined {
  const hostname = splitHostPort(domain).host
  const keys = [...new Set([domain, hostname])].map((d) => `${DISTRIBUTION_SOURCE_PREFIX}${d}`)
  for (const key of keys) {
    for (const repo of (labels[key] ?? '').split(',')) {
      const candidate = repo.trim()
      if (candidate !== '' && candidate !== repository) return candidate
    }
  }
  return undefined
}

/**
 * The distribution.source label value with `repository` added, or undefined when it is there already or
 * the label would outgrow containerd's limit.
 */
export function appendSource(current: string | undefined, key: string, repository: string): string | undefined {
  const repos = (current ?? '').split(',').map((r) => r.trim()).filter((r) => r !== '')
  if (repos.includes(repository)) return undefined
  const value = [...repos, repository].join(',')
  return Buffer.byteLength(key) + Buffer.byteLength(value) > MAX_LABEL_BYTES ? undefined : value
}

/** Media types registries must not receive (Docker foreign layers, OCI non-distributable layers); containerd skips them too. */
export function isNonDistributable(mediaType: string): boolean {
  return mediaType.includes('.foreign.') || mediaType.includes('nondistributable')
}

/**
 * Pushes an image of the client's namespace to the registry its name points at (tag it first to push
 * under another name): every config and layer the chosen manifests use, skipping blobs the repository
 * has and mounting those another repository of the same registry has (per their distribution.source
 * labels); then the manifests, children before parents; finally the manifest or index under the tag.
 *
 * Without `platform`, a multi-platform image is pushed whole, and every manifest of its index must be
 * in the content store (an image pulled for one platform is not): the error names the missing platforms.
 * With `platform`, only that platform's manifest is pushed, and the tag points at it.
 *
 * @throws InvalidArgumentError for options that are not push options (an unknown key, named with the
 *   closest known one; a bad `auth` or `registry`), before anything is read or sent.
 * @throws NotFoundError when the image, or content it needs, is not in the namespace.
 * @throws RegistryError for registry failures (unauthorized, denied, unavailable, digest mismatch).
 */
export async function pushImage(client: ClientCore, reference: string, options: PushOptions = {}): Promise<PushedImage> {
  checkOptionKeys(options, PUSH_OPTION_KEYS, 'images.push()')
  checkAuthOption(options.auth, 'images.push() auth')
  checkRegistryOptions(options.registry, 'images.push() registry')
  const ref = parseReference(reference)
  if (options.platform !== undefined && options.allPlatforms === true) {
    throw new InvalidArgumentError('push: `platform` and `allPlatforms: true` exclude each other')
  }
  if (options.chunkSize !== undefined && (!Number.isSafeInteger(options.chunkSize) || options.chunkSize <= 0)) {
    throw new InvalidArgumentError(`push: chunkSize must be a positive integer, got ${options.chunkSize}`)
  }
  const platform = options.platform !== undefined
    ? (typeof options.platform === 'string' ? parsePlatform(options.platform) : options.platform)
    : options.allPlatforms === false ? hostPlatform() : undefined
  const progress = options.onProgress
  const emit = (event: Omit<PushProgressEvent, 'ref'>): void => progress?.({ ref: ref.string, ...event })
  // One abort for the whole push: the first failure stops every other upload.
  const controller = new AbortController()
  const signal = options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal])

  emit({ status: 'preparing' })
  const image = await getImage(client, ref.string, { signal })
  const plan = await planPush(client, image.name, image.target, platform, signal)
  // Every blob's labels (for mounts) and presence, before anything is sent: a missing blob fails the
  // push up front instead of after half of it was uploaded.
  const labels = new Map<string, Record<string, string>>()
  const missing: string[] = []
  await Promise.all(plan.blobs.map(async (blob) => {
    try {
      labels.set(blob.digest, (await client.content.info(blob.digest, { signal })).labels)
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
      missing.push(`${blob.digest} (${blob.mediaType})`)
    }
  }))
  if (missing.length > 0) {
    throw new NotFoundError(`cannot push ${ref.string}: ${missing.length} blob(s) are not in the content store: ${missing.join(', ')}`)
  }

  const credentials = credentialsProvider(options.auth)
  const endpoints = options.endpoints !== undefined ? options.endpoints(ref.domain) : await registryEndpoints(ref.domain, options.registry)
  const uploader = new RegistryUploader(ref.domain, ref.path, endpoints, new Authorizer(credentials, (host) => endpoints.find((e) => e.url.host === host)?.tls), {
    redirectTls: redirectTargetTls(options.registry),
  })
  const limiter = new Limiter(Math.max(1, options.maxConcurrentUploads ?? 3))
  const sourceKey = `${DISTRIBUTION_SOURCE_PREFIX}${ref.domain}`

  const pushBlob = async (blob: OciDescriptor): Promise<void> => {
    const event = { digest: blob.digest, mediaType: blob.mediaType, total: blob.size }
    emit({ status: 'waiting', ...event })
    await limiter.run(async () => {
      signal.throwIfAborted()
      const blobLabels = labels.get(blob.digest) ?? {}
      if (await uploader.blobExists(blob, { signal })) {
        emit({ status: 'exists', ...event, current: blob.size })
      } else {
        const from = mountSource(blobLabels, ref.domain, ref.path)
        let session
        if (from !== undefined) {
          const mount = await uploader.mountBlob(blob, from, { signal })
          if (mount.mounted) {
            emit({ status: 'mounted', ...event, current: blob.size, from })
            await recordSource(blob.digest, blobLabels)
            return
          }
          session = mount.session
        }
        emit({ status: 'uploading', ...event, current: 0 })
        let reported = 0
        await uploader.uploadBlob(blob, () => client.content.read(blob.digest, { signal }), {
          signal,
          chunkSize: options.chunkSize,
          session,
          onProgress: (sent) => {
            if (sent - reported < PROGRESS_EVERY_BYTES && sent < blob.size) return
            reported = sent
            emit({ status: 'uploading', ...event, current: sent })
          },
        })
        emit({ status: 'uploaded', ...event, current: blob.size })
      }
      await recordSource(blob.digest, blobLabels)
    })
  }

  // Like pull, remember that the repository now holds the blob, so that pushing the image to another
  // repository of the registry mounts it instead of uploading it again. Best effort: only an optimisation.
  const recordSource = async (digest: string, current: Record<string, string>): Promise<void> => {
    const value = appendSource(current[sourceKey], sourceKey, ref.path)
    if (value !== undefined) await client.content.setLabels(digest, { [sourceKey]: value }, { signal }).catch(() => undefined)
  }

  try {
    const uploads = plan.blobs.map((blob) => pushBlob(blob))
    // Unhandled until awaited below; a failure aborts the others through `signal`.
    for (const u of uploads) u.catch(() => controller.abort())
    await Promise.all(uploads)
    for (const child of plan.children) {
      const event = { digest: child.desc.digest, mediaType: child.desc.mediaType, total: child.desc.size }
      if (await uploader.manifestExists(child.desc, { signal })) {
        emit({ status: 'exists', ...event, current: child.desc.size })
        continue
      }
      await uploader.putManifest(child.desc.digest, child.bytes, child.desc.mediaType, { signal })
      emit({ status: 'uploaded', ...event, current: child.desc.size })
    }
    const root = plan.root.desc
    // The root always goes under the tag, even when the registry has it by digest: that is what moves the tag.
    const digest = await uploader.putManifest(ref.tag ?? root.digest, plan.root.bytes, root.mediaType, { signal })
    emit({ status: 'uploaded', digest, mediaType: root.mediaType, total: root.size, current: root.size })
    emit({ status: 'done', digest, mediaType: root.mediaType, total: root.size })
    return { name: ref.string, digest, mediaType: root.mediaType, platforms: plan.platforms }
  } catch (err) {
    controller.abort()
    throw err
  }
}

/**
 * Works out what to push for an image target: with `platform`, the one matching manifest of an index
 * (or the target manifest itself, if its config is for that platform); otherwise the target with
 * everything below it, every manifest of an index required.
 * @throws NotFoundError naming missing platforms or manifests.
 */
export async function planPush(client: ClientCore, name: string, target: OciDescriptor, platform: PlatformSpec | undefined, signal?: AbortSignal): Promise<PushPlan> {
  const blobs = new Map<string, OciDescriptor>()
  const children: PlannedManifest[] = []
  const platforms: PlatformSpec[] = []
  const seen = new Set<string>()

  const read = async (desc: OciDescriptor, what: string): Promise<Buffer> => {
    try {
      return await client.content.readAll(desc.digest, { signal })
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`cannot push ${name}: ${what} ${desc.digest} is not in the content store`, { cause: err })
      throw err
    }
  }

  const addManifest = (desc: OciDescriptor, bytes: Buffer): ImageManifest => {
    const manifest = parseJson<ImageManifest>(bytes, `manifest ${desc.digest}`)
    if (manifest.config === undefined || !Array.isArray(manifest.layers)) throw new DataLossError(`manifest ${desc.digest} has no config or layers`)
    for (const blob of [manifest.config, ...manifest.layers]) {
      if (!isNonDistributable(blob.mediaType)) blobs.set(blob.digest, { mediaType: blob.mediaType, digest: blob.digest, size: blob.size })
    }
    if (desc.platform !== undefined) platforms.push(descriptorPlatform(desc) as PlatformSpec)
    return manifest
  }

  // Children go into `children` before their parent: the registry refuses an index whose manifests it lacks.
  const walkIndex = async (desc: OciDescriptor, bytes: Buffer): Promise<void> => {
    const index = parseJson<ImageIndex>(bytes, `index ${desc.digest}`)
    if (!Array.isArray(index.manifests)) throw new DataLossError(`index ${desc.digest} has no manifests`)
    const loaded: { child: OciDescriptor; bytes: Buffer }[] = []
    const absent: string[] = []
    for (const child of index.manifests) {
      if (!isManifest(child.mediaType) && !isIndex(child.mediaType)) {
        throw new NotImplementedError(`cannot push ${name}: index ${desc.digest} lists ${child.digest} of unsupported media type ${child.mediaType}`)
      }
      try {
        loaded.push({ child, bytes: await client.content.readAll(child.digest, { signal }) })
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err
        absent.push(child.platform !== undefined ? formatPlatform(descriptorPlatform(child) as PlatformSpec) : child.digest)
      }
    }
    if (absent.length > 0) {
      throw new NotFoundError(
        `cannot push all of ${name}: the content store lacks the manifests for ${absent.join(', ')} ` +
        '(pull the image with allPlatforms, or push one platform with the platform option)',
      )
    }
    for (const { child, bytes: childBytes } of loaded) {
      if (seen.has(child.digest)) continue
      seen.add(child.digest)
      if (isIndex(child.mediaType)) await walkIndex(child, childBytes)
      else addManifest(child, childBytes)
      children.push({ desc: plain(child), bytes: childBytes })
    }
  }

  if (isIndex(target.mediaType)) {
    const bytes = await read(target, 'index')
    if (platform === undefined) {
      await walkIndex(target, bytes)
      return { blobs: [...blobs.values()], children, root: { desc: plain(target), bytes }, platforms }
    }
    const index = parseJson<ImageIndex>(bytes, `index ${target.digest}`)
    const candidates = (index.manifests ?? []).filter((m) => isManifest(m.mediaType) && m.platform !== undefined)
    const match = candidates.find((m) => platformMatches(platform, descriptorPlatform(m) as PlatformSpec))
    if (match === undefined) {
      const offered = candidates.map((m) => formatPlatform(descriptorPlatform(m) as PlatformSpec))
      throw new NotFoundError(`cannot push ${name}: it has no manifest for ${formatPlatform(platform)} (it offers ${offered.join(', ') || 'none'})`)
    }
    const manifestBytes = await read(match, `the ${formatPlatform(platform)} manifest`)
    addManifest(match, manifestBytes)
    return { blobs: [...blobs.values()], children, root: { desc: plain(match), bytes: manifestBytes }, platforms }
  }
  if (isManifest(target.mediaType)) {
    const bytes = await read(target, 'manifest')
    const manifest = addManifest(target, bytes)
    // A single manifest has no platform in its descriptor: its config says which one it is.
    const config = parseJson<ImageConfig>(await read(manifest.config, 'config'), `config ${manifest.config.digest}`)
    if (typeof config.os === 'string' && typeof config.architecture === 'string') {
      const own: PlatformSpec = config.variant !== undefined ? { os: config.os, architecture: config.architecture, variant: config.variant } : { os: config.os, architecture: config.architecture }
      if (platform !== undefined && !platformMatches(platform, own)) {
        throw new NotFoundError(`cannot push ${name} for ${formatPlatform(platform)}: it is a single ${formatPlatform(own)} image`)
      }
      platforms.push(own)
    }
    return { blobs: [...blobs.values()], children, root: { desc: plain(target), bytes }, platforms }
  }
  throw new NotImplementedError(`cannot push ${name}: its target has unsupported media type ${target.mediaType}`)
}

// What a registry needs to know of a manifest: the platform and annotations belong to the parent's list.
function plain(desc: OciDescriptor): OciDescriptor {
  return { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }
}
