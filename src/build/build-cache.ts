/**
 * Build cache import and export (`--cache-from`, `--cache-to`): buildx's CSV form (`type=registry,ref=…`,
 * a bare reference meaning a registry cache) or objects, turned into the Solve request's cache entries
 * and the Dockerfile frontend's `cache-imports` attribute (the frontend resolves the imported cache's
 * config itself, so it needs the list as well).
 */

import { InvalidArgumentError } from '../grpc/errors.js'

/** One cache source or destination: a type (`registry`, `inline`, `local`, `gha`, …) and its attributes. */
export interface BuildCacheEntry {
  /** The cache backend: `registry`, `inline` (cache metadata inside the image), `local`, … */
  readonly type: string
  /** Its attributes, e.g. `{ ref: 'example.com/app:cache', mode: 'max' }` for `registry`. */
  readonly attrs?: Readonly<Record<string, string>>
}

/** A cache entry as buildx takes it (`type=registry,ref=example.com/app:cache`, or a bare reference) or as an object. */
export type BuildCacheSpec = string | BuildCacheEntry

/** The Solve request's form of an entry. */
export interface CacheOptionsEntryInit {
  /** The backend. */
  Type: string
  /** Its attributes. */
  Attrs: Record<string, string>
}

/**
 * Parses cache entries.
 * @param option the option's name, for errors.
 * @throws InvalidArgumentError for an entry without a type or a CSV field that is not `key=value`.
 */
export function parseCacheSpecs(specs: readonly BuildCacheSpec[] | undefined, option: string): CacheOptionsEntryInit[] {
  return (specs ?? []).map((spec) => {
    if (typeof spec !== 'string') {
      if (typeof spec !== 'object' || spec === null || typeof spec.type !== 'string' || spec.type === '') {
        throw new InvalidArgumentError(`build(): every ${option} entry needs a type`)
      }
      return { Type: spec.type, Attrs: { ...spec.attrs } }
    }
    if (spec === '') throw new InvalidArgumentError(`build(): an empty ${option} entry`)
    // buildx: no '=' at all means a registry reference.
    if (!spec.includes('=')) return { Type: 'registry', Attrs: { ref: spec } }
    const attrs: Record<string, string> = {}
    for (const field of spec.split(',')) {
      const eq = field.indexOf('=')
      if (eq <= 0) throw new InvalidArgumentError(`build(): ${option} entry ${JSON.stringify(spec)}: ${JSON.stringify(field)} is not key=value`)
      attrs[field.slice(0, eq).trim()] = field.slice(eq + 1).trim()
    }
    const type = attrs['type']
    if (type === undefined || type === '') throw new InvalidArgumentError(`build(): ${option} entry ${JSON.stringify(spec)} has no type=`)
    delete attrs['type']
    return { Type: type, Attrs: attrs }
  })
}
