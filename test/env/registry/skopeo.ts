/**
 * Puts fixture images into a test registry with skopeo, an independent client, so registry tests start
 * from content the SDK did not write; and reads manifests back the same way.
 */

import { sha256Digest, writeOciLayout, type Digest, type OciArtifact } from '../../fixtures/index.js'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Credentials, Registry } from './registry.js'
import { runTool } from './run-tool.js'

const SKOPEO = 'skopeo'

/** Options of {@link pushFixture} and {@link skopeoInspect}. */
export interface SkopeoOptions {
  /** Log in as this user; `null` for anonymous. Default the registry's {@link Registry.credentials}. */
  readonly credentials?: Credentials | null
  /** Kill skopeo after this long. Default 60 s. */
  readonly timeoutMs?: number
}

/** What {@link pushFixture} pushed. */
export interface PushedFixture {
  /** `127.0.0.1:<port>/<repo>:<tag>`. */
  readonly reference: string
  /** Digest of the pushed manifest or index, unchanged by the push. */
  readonly digest: Digest
  /** Its media type. */
  readonly mediaType: string
}

/**
 * Pushes an image or index to `repo:tag` with `skopeo copy --all --preserve-digests` from an OCI
 * layout in the registry's temp dir, so the registry serves exactly the fixture's bytes and digests.
 */
export async function pushFixture(registry: Registry, image: OciArtifact, repo: string, tag: string, options: SkopeoOptions = {}): Promise<PushedFixture> {
  const work = await mkdtemp(join(registry.dir, 'push-'))
  try {
    // The layout entry is named after the destination so that `oci:<dir>:<tag>` selects it.
    const reference = `${registry.host}/${repo}:${tag}`
    await writeOciLayout(join(work, 'layout'), { ...image, name: reference })
    const args = [
      '--insecure-policy', 'copy', '--all', '--preserve-digests', '--retry-times', '0',
      ...destinationArgs(registry, 'dest', await authArgs(registry, work, 'dest', options.credentials)),
      `oci:${join(work, 'layout')}:${tag}`, `docker://${reference}`,
    ]
    await runTool(SKOPEO, args, { timeoutMs: options.timeoutMs ?? 60_000, env: isolatedEnv(work) })
    const root = image.kind === 'image' ? image.manifest : image.index
    return { reference, digest: root.digest, mediaType: root.mediaType }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/**
 * `skopeo inspect --raw` of `ref` (`repo:tag` or `repo@sha256:…`, relative to the registry): the
 * manifest or index bytes exactly as the registry serves them.
 */
export async function skopeoInspectRaw(registry: Registry, ref: string, options: SkopeoOptions = {}): Promise<Buffer> {
  const work = await mkdtemp(join(registry.dir, 'inspect-'))
  try {
    const args = [
      '--insecure-policy', 'inspect', '--raw', '--retry-times', '0',
      ...destinationArgs(registry, '', await authArgs(registry, work, '', options.credentials)),
      `docker://${registry.host}/${ref}`,
    ]
    return (await runTool(SKOPEO, args, { timeoutMs: options.timeoutMs ?? 30_000, env: isolatedEnv(work) })).stdout
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** {@link skopeoInspectRaw} parsed as JSON, plus the digest of the raw bytes. */
export async function skopeoInspect(registry: Registry, ref: string, options: SkopeoOptions = {}): Promise<{ readonly manifest: unknown; readonly digest: Digest }> {
  const raw = await skopeoInspectRaw(registry, ref, options)
  return { manifest: JSON.parse(raw.toString('utf8')) as unknown, digest: sha256Digest(raw) }
}

type Side = 'dest' | ''

function flag(side: Side, name: string): string {
  return side === '' ? `--${name}` : `--${side}-${name}`
}

function destinationArgs(registry: Registry, side: Side, auth: readonly string[]): string[] {
  // With TLS, skopeo verifies against the throwaway CA, so the certificate set-up is tested too.
  const tls = registry.certDir !== undefined ? [flag(side, 'cert-dir'), registry.certDir] : [`${flag(side, 'tls-verify')}=false`]
  return [...tls, ...auth]
}

/**
 * Credentials go into an auth file (mode 0600, removed afterwards) rather than `--creds user:pass`:
 * argv shows up in process listings and in the error of a failed command.
 */
async function authArgs(registry: Registry, work: string, side: Side, credentials: Credentials | null | undefined): Promise<string[]> {
  const creds = credentials === undefined ? registry.credentials : credentials
  if (creds === null || creds === undefined) return [flag(side, 'no-creds')]
  const file = join(work, 'auth.json')
  const auth = Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')
  await writeFile(file, JSON.stringify({ auths: { [registry.host]: { auth } } }), { mode: 0o600 })
  return [flag(side, 'authfile'), file]
}

/** Keeps the machine's own auth files and registries.conf.d drop-ins out of the picture. */
function isolatedEnv(work: string): Record<string, string> {
  return { HOME: work, XDG_RUNTIME_DIR: work, REGISTRY_AUTH_FILE: join(work, 'no-auth.json'), DOCKER_CONFIG: join(work, 'docker') }
}
