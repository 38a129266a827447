import { ArchiveError } from './archive-error.js'
import { isObject, parseArchiveJson } from './archive-json.js'

/** Name of Docker's archive manifest, read by `docker load` and written by `docker save`. */
export const DOCKER_MANIFEST_FILE = 'manifest.json'

/** One image of Docker's manifest.json: archive paths of its config and layers, and its tags. */
export interface DockerManifestEntry {
  /** Archive path of the config JSON. */
  Config: string
  /** Familiar `name:tag` references (`busybox:latest`); may be empty. */
  RepoTags: string[]
  /** Archive paths of the layer tars, bottom first. */
  Layers: string[]
}

/** The bytes of manifest.json for `entries`, with the keys in the order `docker save` writes them. */
export function buildDockerManifestJson(entries: readonly DockerManifestEntry[]): Buffer {
  return Buffer.from(JSON.stringify(entries.map((e) => ({ Config: e.Config, RepoTags: [...e.RepoTags], Layers: [...e.Layers] }))), 'utf8')
}

/**
 * Parses manifest.json: an array of `{Config, RepoTags, Layers}`. `RepoTags` may be null or missing
 * (an untagged image); the paths are taken as written and resolved against the archive later.
 * @throws ArchiveError `TooLarge` or `Malformed`.
 */
export function parseDockerManifestJson(bytes: Uint8Array): DockerManifestEntry[] {
  const value = parseArchiveJson(bytes, DOCKER_MANIFEST_FILE, DOCKER_MANIFEST_FILE)
  const bad = (why: string): never => {
    throw new ArchiveError('Malformed', `${DOCKER_MANIFEST_FILE} ${why}`, { path: DOCKER_MANIFEST_FILE })
  }
  if (!Array.isArray(value)) return bad('is not an array')
  return value.map((item: unknown, i): DockerManifestEntry => {
    if (!isObject(item)) return bad(`entry ${i} is not an object`)
    const { Config, RepoTags, Layers } = item
    if (typeof Config !== 'string' || Config === '') bad(`entry ${i} has no Config path`)
    if (!Array.isArray(Layers) || Layers.some((l) => typeof l !== 'string')) bad(`entry ${i} has no Layers array of paths`)
    if (RepoTags !== undefined && RepoTags !== null && (!Array.isArray(RepoTags) || RepoTags.some((t) => typeof t !== 'string'))) {
      bad(`entry ${i} has RepoTags that are not strings`)
    }
    return { Config: Config as string, Layers: [...(Layers as string[])], RepoTags: Array.isArray(RepoTags) ? [...(RepoTags as string[])] : [] }
  })
}
