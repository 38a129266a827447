/**
 * Docker's path patterns (`.dockerignore`, BuildKit's include/exclude patterns), with moby/patternmatcher's
 * semantics: `*` and `?` stop at `/`, `**` crosses directories, `!` re-includes, a pattern matching a
 * directory matches everything below it, the last matching pattern wins.
 *
 * Written here rather than taken from `@balena/dockerignore` (1.0.2, last released 2020): that package
 * follows Docker 19.03's older matcher, not patternmatcher (regex characters such as `+ ( ) | { }` are not
 * escaped, so `a+b` never matches the file `a+b`; `**foo` is not a suffix match), matches
 * case-insensitively by default while Docker on Linux does not, and exposes only "is this path ignored",
 * while the walker needs the per-pattern parent results and the pattern list to decide whether an
 * excluded directory must still be walked for a `!` exception below it.
 */

import { posix } from 'node:path'
import { FileSyncError } from './filesync-error.js'

/** One cleaned pattern. */
export interface Pattern {
  /** The pattern after cleaning, without its `!`. */
  readonly text: string
  /** Whether it came with `!`: a match re-includes instead of excluding. */
  readonly exclusion: boolean
  /** Whether `path` (slash-separated, relative, clean) matches the pattern itself (not its parents). */
  test(path: string): boolean
}

/**
 * Per-pattern results for a directory, handed to its children so they need not re-test every parent:
 * `parentMatched[i]` is whether the directory or one of its parents matched pattern `i`.
 */
export interface MatchInfo {
  /** One flag per pattern, or empty when unknown. */
  readonly parentMatched: readonly boolean[]
}

/** The {@link MatchInfo} of the root: nothing known. */
export const NO_MATCH_INFO: MatchInfo = { parentMatched: [] }

/**
 * Go's `filepath.Clean` on a slash path: `.` and `..` resolved lexically, repeated and trailing slashes
 * dropped, `""` becomes `.`.
 */
export function cleanPath(path: string): string {
  if (path === '') return '.'
  const normalized = posix.normalize(path)
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized
}

/** A matcher over a list of patterns; later patterns win over earlier ones. */
export class PatternMatcher {
  /** The patterns, in order, blank ones dropped. */
  readonly patterns: readonly Pattern[]
  /** Whether any pattern is a `!` exception. */
  readonly hasExclusions: boolean

  /**
   * Parses `patterns` (each trimmed and cleaned; blanks skipped).
   * @throws FileSyncError `BadPattern` for a lone `!` or a pattern Go's `filepath.Match` would reject.
   */
  constructor(patterns: readonly string[]) {
    const parsed: Pattern[] = []
    for (const raw of patterns) {
      let text = raw.trim()
      if (text === '') continue
      // patternmatcher cleans before looking at `!` (ignorefile.ReadAll has already cleaned after it).
      text = cleanPath(text)
      let exclusion = false
      if (text.startsWith('!')) {
        if (text.length === 1) throw new FileSyncError('BadPattern', 'illegal exclusion pattern: "!"')
        exclusion = true
        text = text.slice(1)
      }
      parsed.push(compile(text, exclusion))
    }
    this.patterns = parsed
    this.hasExclusions = parsed.some((p) => p.exclusion)
  }

  /**
   * Whether `path` is matched, given its parent directory's results (patternmatcher's
   * `MatchesUsingParentResults`). With {@link NO_MATCH_INFO} every parent prefix is tested.
   * @returns the verdict, and the results to pass to this path's children when it is a directory.
   */
  match(path: string, parent: MatchInfo): { matched: boolean; info: MatchInfo } {
    const known = parent.parentMatched.length === this.patterns.length
    const flags: boolean[] = new Array<boolean>(this.patterns.length).fill(false)
    let matched = false
    this.patterns.forEach((pattern, i) => {
      let hit = known && parent.parentMatched[i] === true
      if (!hit) {
        // An inclusion cannot change a path already matched, nor an exclusion one not matched yet.
        if (pattern.exclusion !== matched) return
        hit = pattern.test(path) || (!known && parentPrefixMatches(pattern, path))
      }
      flags[i] = hit
      if (hit) matched = !pattern.exclusion
    })
    return { matched, info: { parentMatched: flags } }
  }

  /** Whether `path` or one of its parent directories is matched (patternmatcher's `MatchesOrParentMatches`). */
  matchesOrParentMatches(path: string): boolean {
    return this.match(path, NO_MATCH_INFO).matched
  }
}

function parentPrefixMatches(pattern: Pattern, path: string): boolean {
  const parts = path.split('/')
  for (let n = 1; n < parts.length; n++) {
    if (pattern.test(parts.slice(0, n).join('/'))) return true
  }
  return false
}

/** Characters with a meaning in a regex but none in a path pattern: escaped (patternmatcher's list). */
const REGEX_ONLY = new Set(['.', '+', '(', ')', '|', '{', '}', '$'])

/** One code point other than `/` (a lone `[^/]` would match half of a surrogate pair, Go's a rune). */
const ONE_CHAR = '(?:[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]|[^/])'

/**
 * Compiles a cleaned pattern the way patternmatcher does, including its shortcuts, which are semantics and
 * not only speed: a pattern with no wildcard is an exact match, `foo**` a prefix test, and a pattern
 * starting with `**` a suffix test (so `**foo` matches `barfoo`).
 */
function compile(text: string, exclusion: boolean): Pattern {
  validate(text)
  let regex = '^'
  let kind: 'exact' | 'prefix' | 'suffix' | 'regex' = 'exact'
  const chars = Array.from(text)
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        const first = i === 0
        i++
        if (chars[i + 1] === '/') i++ // `**/` is treated as `**`
        if (i + 1 >= chars.length) {
          if (kind === 'exact') kind = 'prefix'
          else {
            regex += '.*'
            kind = 'regex'
          }
        } else {
          regex += '(?:.*/)?'
          kind = 'regex'
        }
        if (first) kind = 'suffix'
      } else {
        regex += '[^/]*'
        kind = 'regex'
      }
    } else if (ch === '?') {
      regex += ONE_CHAR
      kind = 'regex'
    } else if (REGEX_ONLY.has(ch)) {
      regex += `\\${ch}`
    } else if (ch === '\\') {
      const next = chars[i + 1]
      if (next === undefined) regex += '\\\\'
      else {
        regex += /[A-Za-z0-9]/.test(next) ? `\\${next}` : escapeLiteral(next)
        i++
        kind = 'regex'
      }
    } else if (ch === '[' || ch === ']') {
      regex += ch
      kind = 'regex'
    } else {
      // `^` stays raw like upstream: it negates a `[^…]` class.
      regex += ch
    }
  }
  const base = { text, exclusion }
  switch (kind) {
    case 'exact':
      return { ...base, test: (path) => path === text }
    case 'prefix': {
      const prefix = text.slice(0, -2)
      return { ...base, test: (path) => path.startsWith(prefix) }
    }
    case 'suffix': {
      const suffix = text.slice(2)
      // `**/foo` also matches `foo` itself.
      return { ...base, test: (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1)) }
    }
    case 'regex': {
      let re: RegExp
      try {
        re = new RegExp(`${regex}$`)
      } catch (cause) {
        throw new FileSyncError('BadPattern', `invalid pattern ${JSON.stringify(text)}`, { cause })
      }
      return { ...base, test: (path) => re.test(path) }
    }
  }
}

function escapeLiteral(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch
}

/**
 * Rejects what Go's `filepath.Match` calls `ErrBadPattern`: a trailing `\`, a `[` without its `]`, an
 * empty class, or a class range written backwards.
 */
function validate(text: string): void {
  const bad = (why: string): never => {
    throw new FileSyncError('BadPattern', `invalid pattern ${JSON.stringify(text)}: ${why}`)
  }
  const chars = Array.from(text)
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]
    if (ch === '\\') {
      if (i + 1 >= chars.length) bad('trailing backslash')
      i++
    } else if (ch === '[') {
      let j = i + 1
      if (chars[j] === '^') j++
      const start = j
      let prev: string | undefined
      for (; j < chars.length && chars[j] !== ']'; j++) {
        let c = chars[j] as string
        if (c === '\\') {
          if (j + 1 >= chars.length) bad('trailing backslash')
          c = chars[++j] as string
        }
        if (c === '-' && prev !== undefined && j + 1 < chars.length && chars[j + 1] !== ']') {
          let hi = chars[++j] as string
          if (hi === '\\') hi = chars[++j] ?? bad('trailing backslash')
          if (hi < prev) bad('range out of order')
          prev = undefined
          continue
        }
        prev = c
      }
      if (j >= chars.length) bad('unclosed [')
      if (j === start) bad('empty character class')
      i = j
    }
  }
}
