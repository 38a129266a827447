import { validateDigest, type Digest } from '../../client/content/digest.js'
import { ArchiveError } from './archive-error.js'

/** The OCI layout's blob directory. */
export const BLOBS_DIR = 'blobs'

/**
 * Normalizes a tar entry name to a clean relative path (`./blobs//sha256/x` → `blobs/sha256/x`, a
 * directory's trailing `/` dropped) and refuses names that could point outside the archive: absolute
 * paths, `..` components, NUL bytes, backslashes (a Windows separator some extractors honour).
 * Nothing is ever written to disk, but an entry like that has no business in an image archive and is a
 * sign the archive was crafted.
 * @throws ArchiveError `UnsafePath`.
 */
export function normalizeEntryPath(name: string): string {
  const unsafe = (why: string): never => {
    throw new ArchiveError('UnsafePath', `archive entry ${JSON.stringify(name)} ${why}`, { path: name })
  }
  if (name.includes('\0')) unsafe('contains a NUL byte')
  if (name.includes('\\')) unsafe('contains a backslash')
  if (name.startsWith('/')) unsafe('is an absolute path')
  const parts = name.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.includes('..')) unsafe('has a ".." component')
  if (parts.length === 0) unsafe('names the archive root')
  return parts.join('/')
}

/**
 * Resolves a symbolic link's target against the link's own directory, inside the archive: the result is
 * an archive path, never a host path.
 * @throws ArchiveError `UnsafePath` when the target is absolute or climbs above the archive root.
 */
export function resolveLinkTarget(linkPath: string, target: string): string {
  if (target.startsWith('/') || target.includes('\0') || target.includes('\\')) {
    throw new ArchiveError('UnsafePath', `symbolic link ${JSON.stringify(linkPath)} points outside the archive (${JSON.stringify(target)})`, { path: linkPath })
  }
  const parts = linkPath.split('/').slice(0, -1)
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      if (parts.length === 0) {
        throw new ArchiveError('UnsafePath', `symbolic link ${JSON.stringify(linkPath)} points outside the archive (${JSON.stringify(target)})`, { path: linkPath })
      }
      parts.pop()
    } else {
      parts.push(part)
    }
  }
  if (parts.length === 0) {
    throw new ArchiveError('UnsafePath', `symbolic link ${JSON.stringify(linkPath)} points at the archive root`, { path: linkPath })
  }
  return parts.join('/')
}

/** The layout path of a blob: `blobs/<algorithm>/<hex>`. */
export function blobPath(digest: string): string {
  validateDigest(digest)
  const colon = digest.indexOf(':')
  return `${BLOBS_DIR}/${digest.slice(0, colon)}/${digest.slice(colon + 1)}`
}

/** True when a (normalized) path lies in the layout's blob directory. */
export function isUnderBlobs(path: string): boolean {
  return path.startsWith(`${BLOBS_DIR}/`)
}

/**
 * The digest a blob path names (`blobs/sha256/<hex>` → `sha256:<hex>`).
 * @throws ArchiveError `Malformed` for a file under `blobs/` that is not `<algorithm>/<hex>` of a
 * supported algorithm: the layout gives every blob's digest by its path, so anything else is corrupt.
 */
export function digestFromBlobPath(path: string): Digest {
  const parts = path.split('/')
  const digest = parts.length === 3 ? `${parts[1] ?? ''}:${parts[2] ?? ''}` : ''
  try {
    validateDigest(digest)
  } catch (err) {
    throw new ArchiveError('Malformed', `archive entry ${JSON.stringify(path)} is not a blob path (blobs/<sha256|sha384|sha512>/<lower-case hex>)`, { path, cause: err })
  }
  return digest
}
