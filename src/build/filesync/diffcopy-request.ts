/**
 * What the daemon asks for on a FileSync.DiffCopy call, read from the call's gRPC metadata.
 */

import type { WalkOptions } from './walk-context.js'

/** A DiffCopy call's parameters. */
export interface DiffCopyRequest {
  /** `dir-name`: which local the daemon wants (`context`, `dockerfile`, or a named context). */
  dirName: string | undefined
  /** The listing's filters, ready for the walker. */
  walk: Pick<WalkOptions, 'includePatterns' | 'excludePatterns' | 'followPaths'>
  /**
   * `override-excludes: true`: the daemon's `exclude-patterns` replace any excludes the client attached
   * to the local itself (BuildKit uses the client's own list otherwise, when it has one).
   */
  overrideExcludes: boolean
}

/**
 * Reads a DiffCopy call's metadata (`dir-name`, `include-patterns`, `exclude-patterns`, `followpaths`,
 * `override-excludes`). Keys are lowercase gRPC metadata keys; each value list must hold the header's
 * values as separate entries (Node's http2 `headers` joins repeats with ", ": use the raw headers).
 * Since BuildKit v0.12 a value list with non-ASCII text is query-escaped and flagged by `<key>-encoded`
 * (`1`, `t`, `true`, … as Go's `strconv.ParseBool`): those are unescaped here.
 */
export function parseDiffCopyMetadata(metadata: Readonly<Record<string, readonly string[] | undefined>>): DiffCopyRequest {
  const values = (key: string): string[] | undefined => {
    const raw = metadata[key]
    if (raw === undefined) return undefined
    const flag = metadata[`${key}-encoded`]?.[0]
    return flag !== undefined && GO_TRUE.has(flag) ? raw.map(queryUnescape) : [...raw]
  }
  const walk: DiffCopyRequest['walk'] = {}
  const include = values('include-patterns')
  const exclude = values('exclude-patterns')
  const follow = values('followpaths')
  if (include !== undefined) walk.includePatterns = include
  if (exclude !== undefined) walk.excludePatterns = exclude
  if (follow !== undefined) walk.followPaths = follow
  return { dirName: values('dir-name')?.[0], walk, overrideExcludes: values('override-excludes')?.[0] === 'true' }
}

/** The strings Go's `strconv.ParseBool` reads as true. */
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True'])

/**
 * Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte (the bytes then read as UTF-8). A malformed
 * escape gives "" (Go returns an error, which BuildKit's decoder drops, keeping the empty string).
 */
export function queryUnescape(s: string): string {
  if (/%(?![0-9A-Fa-f]{2})/.test(s)) return ''
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    // Escapes that are not UTF-8: Go keeps the raw bytes; a JavaScript string cannot, so decode lossily.
    const bytes: number[] = []
    const text = s.replace(/\+/g, ' ')
    for (let i = 0; i < text.length; i++) {
      if (text[i] === '%') {
        bytes.push(parseInt(text.slice(i + 1, i + 3), 16))
        i += 2
      } else bytes.push(...Buffer.from(text[i] as string, 'utf8'))
    }
    return Buffer.from(bytes).toString('utf8')
  }
}
