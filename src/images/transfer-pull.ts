import type { Any } from '@bufbuild/protobuf/wkt'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClientCore } from '../client/client.js'
import { NotImplementedError } from '../client/errors.js'
import { ImageStoreSchema } from '../gen/containerd/types/transfer/imagestore_pb.js'
import { ProgressSchema } from '../gen/containerd/types/transfer/progress_pb.js'
import { AuthRequestSchema, AuthResponseSchema, AuthType, OCIRegistrySchema } from '../gen/containerd/types/transfer/registry_pb.js'
import type { RegistryCredentials } from '../registry/credentials.js'
import type { PullOptions } from './pull.js'
import { isLocalhost } from '../registry/host-port.js'
import { credentialsProvider } from '../registry/registry-access.js'
import { hostPlatform, parsePlatform } from './platform.js'
import type { PullProgressEvent, PullProgressStatus } from './progress.js'
import { parseReference } from './reference.js'
import { openTransferStream, packAny, unpackAny } from './transfer-streams.js'

/**
 * Pulls through containerd's Transfer service (containerd ≥ 1.7): the daemon fetches and unpacks, asking
 * us for credentials over one Streaming session and reporting progress over another, which we map to
 * the same events as the client-side pull.
 * @throws NotImplementedError on containerd 1.6, which has no Transfer service.
 */
export async function transferPull(client: ClientCore, reference: string, options: PullOptions = {}): Promise<string> {
  const ref = parseReference(reference)
  if (!(await client.introspection.hasPlugin('io.containerd.transfer.v1', 'local'))) {
    throw new NotImplementedError(`this containerd has no Transfer service (it needs containerd 1.7 or newer); use the default pull strategy`)
  }
  const progress = options.onProgress
  // The stream callback answers synchronously, so the credentials are looked up before the transfer
  // starts (a pull talks to one registry host).
  const creds = await credentialsProvider(options.auth)(ref.domain)
  const auth = await openTransferStream(client, (m) => answerAuth(m, creds), options.signal)
  const progressStream = await openTransferStream(client, (m) => {
    const p = unpackAny(m, ProgressSchema)
    if (p !== undefined && progress !== undefined) {
      const event = mapProgress(ref.string, p)
      if (event !== undefined) progress(event)
    }
    return undefined
  }, options.signal)
  // containerd 1.7 ignores `default_scheme`: a loopback registry without hosts configuration gets a
  // throwaway hosts dir that names it as plain HTTP, which every version honours.
  let hostDir = options.registry?.configDirs?.[0]
  let tempHostDir: string | undefined
  if (hostDir === undefined && isLocalhost(ref.domain)) {
    tempHostDir = await mkdtemp(join(tmpdir(), 'csdk-hosts-'))
    await mkdir(join(tempHostDir, ref.domain))
    await writeFile(join(tempHostDir, ref.domain, 'hosts.toml'), `server = "http://${ref.domain}"\n\n[host."http://${ref.domain}"]\n  capabilities = ["pull", "resolve"]\n`)
    hostDir = tempHostDir
  }
  try {
    const platform = typeof options.platform === 'string' ? parsePlatform(options.platform) : options.platform ?? hostPlatform()
    const wirePlatform = { os: platform.os, architecture: platform.architecture, variant: platform.variant ?? '', osVersion: '', osFeatures: [] }
    await client.services.transfer.transfer({
      source: packAny(OCIRegistrySchema, {
        reference: ref.string,
        resolver: {
          authStream: auth.id,
          // Like the client-side pull: loopback registries are spoken to over plain HTTP.
          defaultScheme: isLocalhost(ref.domain) ? 'http' : 'https',
          // The daemon reads hosts.toml itself, from the first configured directory.
          hostDir: hostDir ?? '',
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
    return ref.string
  } finally {
    auth.close()
    progressStream.close()
    if (tempHostDir !== undefined) await rm(tempHostDir, { recursive: true, force: true })
  }
}

function answerAuth(message: Any, creds: RegistryCredentials | undefined): ReturnType<typeof packAny> | undefined {
  if (unpackAny(message, AuthRequestSchema) === undefined) return undefined
  if (creds === undefined) return packAny(AuthResponseSchema, { authType: AuthType.NONE })
  return 'identityToken' in creds
    ? packAny(AuthResponseSchema, { authType: AuthType.REFRESH, secret: creds.identityToken })
    : packAny(AuthResponseSchema, { authType: AuthType.CREDENTIALS, username: creds.username, secret: creds.password })
}

function mapProgress(ref: string, p: { event: string; name: string; progress: bigint; total: bigint; desc?: { mediaType: string; digest: string; size: bigint } | undefined }): PullProgressEvent | undefined {
  const e = p.event.toLowerCase()
  const status: PullProgressStatus | undefined =
    e.startsWith('resolving') ? 'resolving'
      : e.startsWith('resolved') || e.startsWith('pulling') ? 'resolved'
        : e === 'waiting' ? 'waiting'
          : e === 'downloading' || e === 'pulling' ? 'downloading'
            : e === 'complete' || e === 'downloaded' ? 'downloaded'
              : e.includes('exist') ? 'exists'
                : e.startsWith('unpack') ? 'unpacking'
                  : e === 'saved' || e.startsWith('completed') ? 'done'
                    : undefined
  if (status === undefined) return undefined
  const event: PullProgressEvent = { status, ref }
  if (p.desc !== undefined && p.desc.digest !== '') {
    event.digest = p.desc.digest
    event.mediaType = p.desc.mediaType
    event.total = Number(p.desc.size)
  }
  if (p.total > 0n) event.total = Number(p.total)
  if (p.progress > 0n) event.current = Number(p.progress)
  return event
}
