/**
 * Paths inside a container's root file system, looked up on the host as the container would see them.
 */

import type { Stats } from 'node:fs'
import { lstat, readlink } from 'node:fs/promises'
import { join } from 'node:path'

/** Symlinks followed in one lookup before giving up (Linux's own limit). */
const MAX_LINKS = 40

/** Where a path inside a root is on the host, and what is there (not a symlink: those are followed). */
export interface RootEntry {
  /** The host path, inside the root. */
  path: string
  /** `lstat` of that path. */
  stats: Stats
}

/**
 * Looks `path` up inside `root`: symlinks, absolute ones too, are followed within `root` and never out of
 * it (`..` stops at the root, like containerd's `fs.RootPath` and `securejoin.SecureJoin`), at most 40.
 * @returns the entry it names, or undefined when a component is missing, a component before the last is
 *   not a directory, or there are too many links.
 */
export async function lookupInRoot(root: string, path: string): Promise<RootEntry | undefined> {
  let rest = components(path)
  const resolved: string[] = []
  let links = 0
  let stats = await lstat(root).catch(() => undefined)
  while (rest.length > 0) {
    if (stats === undefined || !stats.isDirectory()) return undefined
    const [name, ...tail] = rest as [string, ...string[]]
    rest = tail
    if (name === '..') {
      resolved.pop()
      stats = await lstat(join(root, ...resolved)).catch(() => undefined)
      continue
    }
    const at = join(root, ...resolved, name)
    const info = await lstat(at).catch(() => undefined)
    if (info === undefined) return undefined
    if (info.isSymbolicLink()) {
      if (++links > MAX_LINKS) return undefined
      const target = await readlink(at)
      if (target.startsWith('/')) resolved.length = 0
      rest = [...components(target), ...rest]
      stats = await lstat(join(root, ...resolved)).catch(() => undefined)
      continue
    }
    resolved.push(name)
    stats = info
  }
  return stats === undefined ? undefined : { path: join(root, ...resolved), stats }
}

function components(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.')
}
