import type { Any } from '@bufbuild/protobuf/wkt'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ClientCore } from '../client/client.js'
import { ContainerdError, InvalidArgumentError, NotFoundError, NotImplementedError } from '../grpc/errors.js'
import { ImageStoreSchema } from '../gen/containerd/types/transfer/imagestore_pb.js'
import { ProgressSchema } from '../gen/containerd/types/transfer/progress_pb.js'
import { AuthRequestSchema, AuthResponseSchema, AuthType, OCIRegistrySchema } from '../gen/containerd/types/transfer/registry_pb.js'
import type { RegistryCredentials } from '../registry/credentials.js'
import { credentialsProvider } from '../registry/registry-access.js'
import { RegistryError } from '../registry/registry-error.js'
import { hostPlatform, parsePlatform } from '../image-spec/platform.js'
import { checkPullOptions, type PullOptions } from './pull.js'
import { apiHost, parseReference } from '../image-spec/reference.js'
import { mapTransferProgress } from './transfer-progress.js'
import { openTransferStream, packAny, unpackAny, type TransferStream } from './transfer-streams.js'

/**
 * How long to keep reading progress after the transfer returned: containerd sends its last per-blob
 * messages after the image record, and they travel on another HTTP/2 stream than the transfer's answer.
 * The daemon closes the progress stream when the transfer ends, so this bound is rarely reached.
 */
const PROGRESS_DRAIN_MS = 2_000

/**
 * Pulls through containerd's Transfer service (containerd ≥ 1.7): the daemon fetches and unpacks, asking
 * us for credentials over one Streaming session and reporting progress over another, which we map to
 * the same events as the client-side pull.
 *
 * The daemon reaches the registry itself. containerd 2.x honours `registry.configDirs` (its first
 * directory, read as a hosts.toml root) and its own rules for loopback registries (HTTPS without
 * verification, falling back to HTTP). containerd 1.7 ignores both (`pkg/transfer/registry/registry.go`
 * builds its resolver from `docker.ConfigureDefaultRegistries` alone): it speaks HTTPS with the daemon's
 * system trust roots only.
 * @throws InvalidArgumentError for options that are not pull options (see `checkPullOptions`), before anything is sent.
 * @throws NotImplementedError on containerd 1.6, which has no Transfer service.
 * @throws RegistryError when the daemon reports a registry failure (Unauthorized, Denied, NotFound, Unavailable).
 */
export async function transferPull(client: ClientCore, reference: string, options: PullOptions = {}): Promise<string> {
  checkPullOptions(options)
  checkTransferOptions(options)
  const ref = parseReference(reference)
  if (!(await client.introspection.hasPlugin('io.containerd.transfer.v1', 'local'))) {
    throw new NotImplementedError(`this containerd has no Transfer service (it needs containerd 1.7 or newer); use the default pull strategy`)
  }
  const progress = options.onProgress
  // The stream callback answers synchronously, so the credentials are looked up before the transfer
  // starts. They are the reference's registry's, and given to that host only: a mirror from 2.x's
  // hosts.toml asking for credentials gets none rather than the registry's.
  const creds = await credentialsProvider(options.auth)(ref.domain)
  const credentialHosts = new Set([ref.domain, apiHost(ref.domain)])
  let auth: TransferStream | undefined
  let progressStream: TransferStream | undefined
  let saved = false
  try {
    auth = await openTransferStream(client, (m) => answerAuth(m, creds, credentialHosts), options.signal)
    progressStream = await openTransferStream(client, (m) => {
      const p = unpackAny(m, ProgressSchema)
      if (p === undefined || progress === undefined) return undefined
      const event = mapTransferProgress(ref.string, p)
      if (event === 'saved') saved = true
      else if (event !== undefined) progress(event)
      return undefined
    }, options.signal)
    const platform = typeof options.platform === 'string' ? parsePlatform(options.platform) : options.platform ?? hostPlatform()
    const wirePlatform = { os: platform.os, architecture: platform.architecture, variant: platform.variant ?? '', osVersion: '', osFeatures: [] }
    try {
      await client.services.transfer.transfer({
        source: packAny(OCIRegistrySchema, {
          reference: ref.string,
          resolver: {
            authStream: auth.id,
            // Empty: containerd's own rules. 2.x: HTTPS, and for loopback registries HTTPS without
            // verification falling back to plain HTTP. 1.7 has no such field and always uses HTTPS.
            defaultScheme: '',
            // containerd 2.x reads hosts.toml itself, from the first configured directory; 1.7 ignores it.
            hostDir: options.registry?.configDirs?.[0] ?? '',
            headers: {},
          },
        }),
        destination: packAny(ImageStoreSchema, {
          name: ref.string,
          labels: options.labels ?? {},
          platforms: [wirePlatform],
          unpacks: options.unpack === false ? [] : [{ platform: wirePlatform, snapshotter: options.snapshotter ?? 'overlayfs' }],
        }),
        options: { progressStream: progressStream.id },
      }, { signal: options.signal })
    } catch (err) {
      throw registryFailure(err, ref.domain)
    }
    if (progress !== undefined) {
      await Promise.race([progressStream.done.catch(() => undefined), sleep(PROGRESS_DRAIN_MS, undefined, { ref: false })])
      if (saved) progress({ status: 'done', ref: ref.string })
    }
    return ref.string
  } finally {
    auth?.close()
    progressStream?.close()
  }
}

/**
 * The pull options the Transfer service has no field for: the daemon pulls one platform with its own
 * concurrency and endpoints. Refused rather than ignored, so a caller is not left with less than asked.
 */
function checkTransferOptions(options: PullOptions): void {
  const unsupported = (['platforms', 'allPlatforms', 'maxConcurrentDownloads', 'endpoints'] as const).find((key) => options[key] !== undefined)
  if (unsupported !== undefined) {
    throw new InvalidArgumentError(`pull() ${unsupported} is not available with strategy 'transfer' (the daemon pulls one platform, its own way): use the default strategy, or leave ${unsupported} out`)
  }
  if (options.registry?.insecure !== undefined) {
    throw new InvalidArgumentError("pull() registry.insecure is not available with strategy 'transfer' (the daemon reads only registry.configDirs[0], as hosts.toml): use the default strategy, or name the registry in hosts.toml")
  }
}

/** Answers the daemon's credential requests (an AuthRequest in a stream message): the registry's credentials for its own hosts, none for any other; undefined for other messages. */
export function answerAuth(message: Any, creds: RegistryCredentials | undefined, hosts: ReadonlySet<string>): ReturnType<typeof packAny> | undefined {
  const request = unpackAny(message, AuthRequestSchema)
  if (request === undefined) return undefined
  if (creds === undefined || !hosts.has(request.host)) return packAny(AuthResponseSchema, { authType: AuthType.NONE })
  return 'identityToken' in creds
    ? packAny(AuthResponseSchema, { authType: AuthType.REFRESH, secret: creds.identityToken })
    : packAny(AuthResponseSchema, { authType: AuthType.CREDENTIALS, username: creds.username, secret: creds.password })
}

/**
 * The daemon reports registry failures as text inside an Unknown (or NotFound) status, in the words of
 * containerd's docker resolver (`remotes/docker/resolver.go`, `authorizer.go`), the same in 1.7 and 2.x.
 * Those become the `RegistryError` the client-side pull throws; anything else stays as it is. The
 * messages never hold credentials (the daemon only sees them in the auth stream).
 */
export function registryFailure(err: unknown, host: string): unknown {
  if (!(err instanceof ContainerdError)) return err
  const m = err.message
  // `pull access denied … authorization failed` is docker.ErrInvalidAuthorization: a 401 with no usable credentials.
  if (/\b401 Unauthorized\b|\bauthorization failed\b/.test(m)) return new RegistryError('Unauthorized', `${host} refused the credentials (containerd: ${m})`, { cause: err, status: 401 })
  if (/\b403 Forbidden\b/.test(m)) return new RegistryError('Denied', `${host} denied access (containerd: ${m})`, { cause: err, status: 403 })
  if (err instanceof NotFoundError && /failed to resolve/.test(m)) return new RegistryError('NotFound', `containerd: ${m}`, { cause: err, status: 404 })
  if (/server gave HTTP response to HTTPS client/.test(m)) {
    return new RegistryError('Unavailable', `${host} answered containerd's HTTPS with plain HTTP: containerd 1.7's Transfer service reads no hosts.toml and speaks only HTTPS (on 2.x name the registry http:// in hosts.toml), or use the default pull strategy (containerd: ${m})`, { cause: err })
  }
  if (/x509: |tls: /.test(m)) {
    return new RegistryError('Unavailable', `containerd does not trust ${host}'s certificate (containerd 1.7's Transfer service reads no hosts.toml: the daemon's own trust roots must accept it): ${m}`, { cause: err })
  }
  if (/connection refused|no such host|i\/o timeout/.test(m)) return new RegistryError('Unavailable', `containerd could not reach ${host}: ${m}`, { cause: err })
  return err
}
