/**
 * BuildKit's `followpaths`: paths the daemon wants even when they are (or go through) symlinks. Each path
 * is resolved component by component inside the context, and every symlink met and every target reached
 * becomes an include pattern (fsutil's `FollowLinks`). Targets are resolved against the context root,
 * never the host's: an absolute target or a `..` past the top stays inside the context.
 */

import { lstat, readdir, readlink } from 'node:fs/promises'
import { join, posix } from 'node:path'
import { PatternMatcher } from './pattern-matcher.js'

/** A bound on nested resolutions, so a pathological chain of links cannot recurse without end. */
const MAX_DEPTH = 255

/**
 * Resolves `paths` inside `root`.
 * @returns the sorted include patterns (a path and any path under an earlier one collapsed into it), or
 *   undefined when one of them is the root itself: then nothing is filtered.
 */
export async function followLinks(root: string, paths: readonly string[]): Promise<string[] | undefined> {
  const resolved = new Set<string>()
  for (const p of paths) await resolve(root, p, resolved, 0)
  const sorted = [...resolved].sort(compareBytes)
  return dedupePaths(sorted)
}

async function resolve(root: string, path: string, resolved: Set<string>, depth: number): Promise<void> {
  if (depth > MAX_DEPTH) return
  // Go's filepath.Join(".", p): relative, clean, a leading `/` dropped, `..` at the top dropped.
  let rest = relativeClean(path)
  let current = '.'
  for (;;) {
    const slash = rest.indexOf('/')
    const first = slash < 0 ? rest : rest.slice(0, slash)
    rest = slash < 0 ? '' : rest.slice(slash + 1)
    current = current === '.' ? first : `${current}/${first}`
    const targets = await readSymlink(root, current, true)
    if ((rest === '' || targets !== undefined) && resolved.has(current)) return
    if (targets !== undefined) {
      resolved.add(current)
      for (const target of targets) await resolve(root, rest === '' ? target : `${target}/${rest}`, resolved, depth + 1)
      return
    }
    if (rest === '') {
      resolved.add(current)
      return
    }
  }
}

/** The link targets of `p` (root-relative absolute paths), undefined when it is not a symlink or is missing. */
async function readSymlink(root: string, p: string, allowWildcard: boolean): Promise<string[] | undefined> {
  const base = posix.basename(p)
  if (allowWildcard && containsWildcards(base)) {
    const dir = posix.dirname(p)
    const names = await readdir(join(root, dir)).catch(() => undefined)
    if (names === undefined) return undefined
    const matcher = new PatternMatcher([base]).patterns[0]
    const out: string[] = []
    for (const name of names.sort(compareBytes)) {
      if (matcher?.test(name) !== true) continue
      const found = await readSymlink(root, dir === '.' ? name : `${dir}/${name}`, false)
      if (found !== undefined) out.push(...found)
    }
    // Go returns a nil slice when nothing matched a symlink: the wildcard path itself is then kept.
    return out.length === 0 ? undefined : out
  }
  if (p === '.' || p === '') return undefined
  const stats = await lstat(join(root, p)).catch(() => undefined)
  if (stats === undefined || !stats.isSymbolicLink()) return undefined
  const link = posix.normalize(await readlink(join(root, p)))
  if (link.startsWith('/')) return [link]
  return [posix.join('/', posix.dirname(p), link)]
}

function relativeClean(p: string): string {
  const joined = posix.normalize(`/${p}`).replace(/^\/+/, '')
  return joined === '' ? '.' : joined.replace(/\/$/, '')
}

function containsWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]
    if (ch === '\\') i++
    else if (ch === '*' || ch === '?' || ch === '[') return true
  }
  return false
}

/**
 * Drops paths below an earlier one (the input must be sorted).
 * @returns undefined when `.` is among them: the whole context is wanted, so no filter.
 */
export function dedupePaths(sorted: readonly string[]): string[] | undefined {
  const out: string[] = []
  let last: string | undefined
  for (const s of sorted) {
    if (s === '.') return undefined
    if (last !== undefined && s.startsWith(`${last}/`)) continue
    out.push(s)
    last = s
  }
  return out
}

/** Orders strings by their UTF-8 bytes, like Go's string comparison (not by UTF-16 units, not by locale). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}
