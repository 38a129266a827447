/**
 * The build context listing: every entry under a root, in the order and shape fsutil's walker produces,
 * filtered by BuildKit's include/exclude patterns and followpaths.
 */

import { lstatSync, type BigIntStats } from 'node:fs'
import { lstat, readdir, readlink, realpath } from 'node:fs/promises'
import { join } from 'node:path'
import { CanceledError } from '../../grpc/errors.js'
import { GoMode, goFileMode } from './file-mode.js'
import { FileSyncError, ioError } from './filesync-error.js'
import { compareBytes, dedupePaths, followLinks } from './follow-paths.js'
import type { FsutilStat } from './fsutil-types.js'
import { NO_MATCH_INFO, PatternMatcher, type MatchInfo, type Pattern } from './pattern-matcher.js'

/** What to list (the DiffCopy metadata the daemon sends). */
export interface WalkOptions {
  /** `include-patterns`: only paths matching one are listed, with the directories above them. */
  includePatterns?: readonly string[]
  /** `exclude-patterns` (`.dockerignore` patterns): matching paths are left out, `!` re-includes. */
  excludePatterns?: readonly string[]
  /** `followpaths`: paths resolved through symlinks; each link and target met is included. */
  followPaths?: readonly string[]
  /** Stops the walk; it then rejects with a CanceledError whose cause is the signal's reason. */
  signal?: AbortSignal
}

/** One listed entry. */
export interface WalkEntry {
  /** The entry as it goes on the wire. */
  stat: FsutilStat
  /** Where it is on this machine. */
  hostPath: string
}

/** Entries stat'ed between two turns of the event loop. */
const STAT_BATCH = 64

/** Pattern characters that make a pattern more than a plain path prefix (fsutil's list, Unix). */
const PATTERN_CHARS = /[*[\]?^\\]/

/** A directory on the current walk path, with its match results for its children. */
interface DirFrame {
  entry: WalkEntry | undefined
  includeInfo: MatchInfo
  excludeInfo: MatchInfo
  /** Whether it has been listed (a filtered-out directory is listed late, when something below it is kept). */
  emitted: boolean
  parent: DirFrame | undefined
}

/**
 * Lists the context under `root` in fsutil's order: pre-order (a directory before its contents), each
 * directory's names sorted by their UTF-8 bytes, the root itself left out, paths relative and
 * `/`-separated. Symlinks are listed, never followed, so nothing outside the root is read. uid and gid are
 * 0, as the Go client sends; directories have size 0; a second path of a hard-linked file carries the first
 * path as `linkname` and size 0. Extended attributes are not read (Node has no API for them).
 * @throws FileSyncError `BadContext` when the root is not a directory, `BadPattern` for a bad pattern.
 */
export async function* walkContext(root: string, options: WalkOptions = {}): AsyncGenerator<WalkEntry> {
  const { signal } = options
  // The root itself may be a symlink (a user's `./app` link): resolving it is choosing the context.
  const top = await realpath(root).catch((cause: unknown) => {
    throw new FileSyncError('BadContext', `build context ${root} does not exist`, { cause, path: root })
  })
  if (!(await lstat(top)).isDirectory()) throw new FileSyncError('BadContext', `build context ${root} is not a directory`, { path: root })

  let includes = options.includePatterns === undefined ? [] : [...options.includePatterns]
  if (options.followPaths !== undefined && options.followPaths.length > 0) {
    const targets = await followLinks(top, options.followPaths)
    // Like fsutil: the targets join the include patterns; a followpath of `.` leaves them as they were.
    if (targets !== undefined) includes = dedupePaths([...includes, ...targets]) ?? []
  }
  const include = includes.length > 0 ? new PatternMatcher(includes) : undefined
  const exclude =
    options.excludePatterns !== undefined && options.excludePatterns.length > 0 ? new PatternMatcher(options.excludePatterns) : undefined
  // When every relevant pattern is a plain path (a glob only at its end), a directory that cannot hold a
  // match is skipped whole; otherwise it must be walked, since a wildcard may match deep inside it.
  const onlyPrefixIncludes = include?.patterns.every((p) => p.exclusion || !PATTERN_CHARS.test(withoutTrailingGlob(p))) ?? true
  const onlyPrefixExceptions = exclude?.patterns.every((p) => !p.exclusion || !PATTERN_CHARS.test(withoutTrailingGlob(p))) ?? true

  const hardLinks = new Map<string, string>()
  const rootFrame: DirFrame = { entry: undefined, includeInfo: NO_MATCH_INFO, excludeInfo: NO_MATCH_INFO, emitted: true, parent: undefined }

  async function* walkDir(rel: string, host: string, frame: DirFrame): AsyncGenerator<WalkEntry> {
    const names = await readdir(host).catch((err: unknown) => {
      // A directory removed while walking is skipped, as fsutil does.
      if (isNotExist(err)) return [] as string[]
      throw ioError(err, 'listing', host)
    })
    names.sort(compareBytes)
    for (let start = 0; start < names.length; start += STAT_BATCH) {
      const batch = names.slice(start, start + STAT_BATCH)
      // lstat runs synchronously, a batch at a time with a turn of the event loop between batches: for
      // entries in the kernel's cache the syscall is a few µs, less than dispatching it to the thread pool
      // and back (measured: 10 000 lstat calls took about half the time this way).
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve))
      const stats = batch.map((name) => {
        try {
          return lstatSync(join(host, name), { bigint: true, throwIfNoEntry: false })
        } catch (err) {
          // An entry removed while walking is skipped, as fsutil does.
          if (isNotExist(err)) return undefined
          throw ioError(err, 'reading', join(host, name))
        }
      })
      for (let i = 0; i < batch.length; i++) {
        if (signal?.aborted === true) throw new CanceledError('build context walk aborted', { cause: signal.reason })
        const st = stats[i]
        if (st === undefined) continue
        const name = batch[i] as string
        const path = rel === '' ? name : `${rel}/${name}`
        const hostPath = join(host, name)
        const isDir = st.isDirectory()
        let skip = false
        let includeInfo = NO_MATCH_INFO
        let excludeInfo = NO_MATCH_INFO
        if (include !== undefined) {
          const m = include.match(path, frame.includeInfo)
          includeInfo = m.info
          if (!m.matched) {
            if (isDir && onlyPrefixIncludes && !include.patterns.some((p) => !p.exclusion && couldMatchBelow(p, path))) continue
            skip = true
          }
        }
        if (exclude !== undefined) {
          const m = exclude.match(path, frame.excludeInfo)
          excludeInfo = m.info
          if (m.matched) {
            if (isDir && onlyPrefixExceptions && !exclude.patterns.some((p) => p.exclusion && couldMatchBelow(p, path))) continue
            skip = true
          }
        }
        const entry = skip ? undefined : await toEntry(path, hostPath, st)
        if (entry !== undefined) {
          yield* emitParents(frame)
          yield entry
        }
        if (isDir) {
          const child: DirFrame = {
            entry: entry ?? (await toEntry(path, hostPath, st)),
            includeInfo,
            excludeInfo,
            emitted: !skip,
            parent: frame,
          }
          yield* walkDir(path, hostPath, child)
        }
      }
    }
  }

  async function toEntry(path: string, hostPath: string, st: BigIntStats): Promise<WalkEntry> {
    // fsutil clears the socket bit: archive/tar cannot represent sockets.
    const mode = (goFileMode(st) & ~GoMode.socket) >>> 0
    const stat: FsutilStat = {
      path,
      mode,
      uid: 0,
      gid: 0,
      size: st.isDirectory() ? 0n : st.size,
      modTime: st.mtimeNs,
      linkname: '',
      devmajor: 0n,
      devminor: 0n,
      xattrs: {},
    }
    if (st.isSymbolicLink()) stat.linkname = await readlink(hostPath).catch((err: unknown) => Promise.reject(ioError(err, 'reading', hostPath)))
    else if (st.isBlockDevice() || st.isCharacterDevice()) {
      stat.devmajor = ((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn)
      stat.devminor = (st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn)
    } else if (st.isFile() && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`
      const first = hardLinks.get(key)
      if (first === undefined) hardLinks.set(key, path)
      else {
        stat.linkname = first
        stat.size = 0n
      }
    }
    return { stat, hostPath }
  }

  yield* walkDir('', top, rootFrame)
}

/** Lists the directories above an entry that were held back by a filter, outermost first. */
function* emitParents(frame: DirFrame): Generator<WalkEntry> {
  const pending: DirFrame[] = []
  for (let f: DirFrame | undefined = frame; f !== undefined && !f.emitted; f = f.parent) pending.push(f)
  for (const f of pending.reverse()) {
    f.emitted = true
    if (f.entry !== undefined) yield f.entry
  }
}

/** Whether a plain-path pattern names something below `dir` (fsutil's prefix test). */
function couldMatchBelow(pattern: Pattern, dir: string): boolean {
  return `${withoutTrailingGlob(pattern)}/`.startsWith(`${dir}/`)
}

function withoutTrailingGlob(pattern: Pattern): string {
  let s = pattern.text
  if (s.endsWith('/**')) s = s.slice(0, -3)
  if (s.endsWith('/*')) s = s.slice(0, -2)
  return s
}

function isNotExist(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}
