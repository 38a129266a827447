import type { ClientCore } from '../../client/client.js'
import type { Digest } from '../../client/content/digest.js'
import type { OciDescriptor } from '../../image-spec/descriptor.js'
import { ArchiveError } from './archive-error.js'
import { isObject, MAX_JSON_BYTES, parseArchiveJson } from './archive-json.js'
import { parseDockerManifestJson, type DockerManifestEntry } from './docker-manifest-json.js'
import { dockerLayerMediaType, dockerSchema2Manifest } from './docker-schema2.js'
import { normalizeEntryPath } from './entry-path.js'
import { dockerTagName } from './image-names.js'
import type { ImportRoot } from './import-root.js'
import type { IngestedArchive, StoredFile } from './ingest-archive.js'

/**
 * Turns a `docker save` archive's manifest.json into importable images, as containerd does: for each
 * entry, a Docker schema 2 manifest over its config (`…/<hex>.json`) and layers (`<id>/layer.tar`, by
 * symbolic link or not; plain or gzip tars), written to the content store; names from `RepoTags`,
 * normalized (`busybox:latest` → `docker.io/library/busybox:latest`). The manifest descriptor carries
 * the config's platform, like the index containerd builds.
 * @throws ArchiveError `MissingBlob` for a path manifest.json names but the archive lacks, `Malformed`,
 * `InvalidName`, `UnsafePath`.
 */
export async function dockerSaveRoots(client: ClientCore, archive: IngestedArchive, manifestJson: Buffer, options: { namePrefix?: string | undefined; signal?: AbortSignal | undefined }): Promise<ImportRoot[]> {
  const entries = parseDockerManifestJson(manifestJson)
  const roots: ImportRoot[] = []
  for (const entry of entries) {
    const config = lookup(archive, entry.Config, 'config')
    const layers = entry.Layers.map((path): OciDescriptor => {
      const file = lookup(archive, path, 'layer')
      return { mediaType: dockerLayerMediaType(file.head), digest: file.digest, size: file.size }
    })
    const { bytes, descriptor } = dockerSchema2Manifest(config, layers)
    await client.content.writeBlob(bytes, { expected: descriptor.digest as Digest, size: descriptor.size, signal: options.signal })
    archive.blobs.set(descriptor.digest, descriptor.size)
    const platform = await configPlatform(client, config, options.signal)
    if (platform !== undefined) descriptor.platform = platform
    roots.push({ descriptor, names: entryNames(entry, descriptor.digest, options.namePrefix) })
  }
  return roots
}

function entryNames(entry: DockerManifestEntry, digest: string, namePrefix: string | undefined): string[] {
  const names = entry.RepoTags.map(dockerTagName)
  if (names.length === 0 && namePrefix !== undefined) names.push(`${namePrefix}@${digest}`)
  return names
}

function lookup(archive: IngestedArchive, rawPath: string, what: string): StoredFile {
  const path = normalizeEntryPath(rawPath)
  // One level of links, as containerd resolves them: `docker save` links a repeated layer to its first copy.
  const file = archive.files.get(path) ?? archive.files.get(archive.symlinks.get(path) ?? '')
  if (file === undefined) {
    throw new ArchiveError('MissingBlob', `manifest.json names ${what} ${JSON.stringify(rawPath)}, which is not a file in the archive`, { path })
  }
  return file
}

async function configPlatform(client: ClientCore, config: StoredFile, signal: AbortSignal | undefined): Promise<OciDescriptor['platform']> {
  if (config.size > MAX_JSON_BYTES) {
    throw new ArchiveError('TooLarge', `image config ${config.digest} is ${config.size} bytes, more than the ${MAX_JSON_BYTES}-byte limit for JSON documents`)
  }
  const value = parseArchiveJson(await client.content.readAll(config.digest, { maxBytes: MAX_JSON_BYTES, signal }), `image config ${config.digest}`)
  if (!isObject(value) || typeof value['os'] !== 'string' || typeof value['architecture'] !== 'string') return undefined
  const platform: NonNullable<OciDescriptor['platform']> = { architecture: value['architecture'], os: value['os'] }
  if (typeof value['variant'] === 'string' && value['variant'] !== '') platform.variant = value['variant']
  return platform
}
