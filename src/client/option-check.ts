/**
 * Run-time checks of options objects, for callers in plain JavaScript, whose typos TypeScript never sees:
 * an unknown key (`memroy: '32m'`) would otherwise be ignored without a word, and a value of the wrong
 * shape (`args: 'sleep 30'`, iterated per character) would fail far from its cause, or not at all.
 *
 * Each options interface keeps its list of known keys beside it, built with {@link keysOf} so that the
 * compiler fails when the interface gains a key the list lacks (or the list names a key the interface
 * does not have).
 */

import type { CallOptions } from '../grpc/call-options.js'
import { InvalidArgumentError } from '../grpc/errors.js'

/** Every key of `T`; for a union, the keys of each member. */
export type AllKeys<T> = T extends unknown ? keyof T : never

/** The known keys of an options type `T`, as an object with one `true` per key (see {@link keysOf}). */
export type KnownKeys<T = Record<string, unknown>> = { readonly [K in AllKeys<T> & string]: true }

/**
 * Builds the known-key list of an options type: `keysOf<RunOptions>()({ name: true, … })`. The argument
 * must name every key of `T` (optional ones too, inherited ones too) and no other, or it does not
 * compile; spread another list in for the keys of an extended interface. Curried so `T` is given and
 * the keys are inferred.
 */
export function keysOf<T>(): <const K extends Record<AllKeys<T> & string, true>>(keys: K & Record<Exclude<keyof K, AllKeys<T>>, never>) => KnownKeys<T> {
  return (keys) => Object.freeze({ ...keys }) as KnownKeys<T>
}

/** The known keys of `known` without `drop`, for an options type that `Omit`s them. */
export function omitKeys<T, K extends keyof T & string>(known: KnownKeys<T>, ...drop: K[]): KnownKeys<Omit<T, K>> {
  const copy: Record<string, true> = { ...known }
  for (const key of drop) delete copy[key]
  return Object.freeze(copy) as KnownKeys<Omit<T, K>>
}

/** `signal` and `timeoutMs`: the keys every call's options inherit from `CallOptions`. */
export const CALL_OPTION_KEYS = keysOf<CallOptions>()({ signal: true, timeoutMs: true })

// How many known keys an error lists when no key is close enough to suggest.
const LISTED_KEYS = 6

/**
 * Checks that `options` is an options object (or undefined) whose own keys are all known.
 *
 * @param options what the caller passed; `undefined` is accepted (no options).
 * @param known the known keys: a list, or a {@link keysOf} object.
 * @param where the call and, for a nested object, the option it is (`run()`, `pull() auth`), for the message.
 * @throws InvalidArgumentError for a value that is not a plain object (null, an array, a string, a
 *   function…), naming it; for an unknown key, naming it and the closest known key when one is close
 *   ("unknown option 'memroy' of run(): did you mean 'memory'?"), else a few of the known keys.
 */
export function checkOptionKeys(options: unknown, known: readonly string[] | KnownKeys, where: string): void {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`options of ${where} must be an object such as { … }, got ${describe(options)}`)
  }
  const knownKeys: readonly string[] = Array.isArray(known) ? known : Object.keys(known)
  const unknown = Object.keys(options).filter((key) => !knownKeys.includes(key))
  const first = unknown[0]
  if (first === undefined) return
  const others = unknown.length > 1 ? ` (also unknown: ${unknown.slice(1).map(quote).join(', ')})` : ''
  const close = closestKey(first, knownKeys)
  if (close !== undefined) throw new InvalidArgumentError(`unknown option ${quote(first)} of ${where}: did you mean ${quote(close)}?${others}`)
  const listed = knownKeys.slice(0, LISTED_KEYS).map(quote).join(', ')
  const more = knownKeys.length > LISTED_KEYS ? ` and ${knownKeys.length - LISTED_KEYS} more` : ''
  throw new InvalidArgumentError(`unknown option ${quote(first)} of ${where}; known options are ${listed}${more}${others}`)
}

/**
 * Checks that `value` is an array of strings (or undefined), so a string is not taken per character.
 *
 * @param name the option, for the message (`args`, `run() capAdd`).
 * @param example a literal array to show in the fix, e.g. `['sleep', '30']`.
 * @throws InvalidArgumentError naming the option and the fix.
 */
export function checkStringArray(value: unknown, name: string, example: string): void {
  if (value === undefined) return
  if (!Array.isArray(value)) {
    throw new InvalidArgumentError(`${name} must be an array, e.g. ${example}; got ${describe(value)}`)
  }
  const bad = value.findIndex((item) => typeof item !== 'string')
  if (bad >= 0) throw new InvalidArgumentError(`${name}[${bad}] must be a string, got ${describe(value[bad])}`)
}

/**
 * The known key nearest to `key`, or undefined when none is near enough to be what was meant. Case,
 * `-` and `_` are ignored (`memory_swap` finds `memorySwap`); otherwise the optimal-string-alignment
 * distance (Damerau-Levenshtein without repeated edits of one substring) must be at most 1 for keys of
 * up to 4 characters, 2 up to 8, and 3 beyond. Failing that, a known key that starts with the key or
 * that the key starts with (3 characters at least: `user` finds `username`) is suggested.
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const wanted = fold(key)
  const limit = wanted.length <= 4 ? 1 : wanted.length <= 8 ? 2 : 3
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const distance = editDistance(wanted, fold(candidate))
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  if (bestDistance <= limit) return best
  // A shortened or lengthened name (`user` for `username`, `timeout` for `timeoutMs`) is far in edits but plain to read.
  let prefixed: string | undefined
  let fewestExtra = Infinity
  for (const candidate of known) {
    const other = fold(candidate)
    const [short, long] = other.length < wanted.length ? [other, wanted] : [wanted, other]
    const extra = long.length - short.length
    if (short.length >= 3 && long.startsWith(short) && extra < fewestExtra) {
      prefixed = candidate
      fewestExtra = extra
    }
  }
  return prefixed
}

function fold(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '')
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
function editDistance(a: string, b: string): number {
  // rows[i][j]: the distance between a's first i and b's first j characters; only three rows are kept.
  let before: number[] = []
  let previous: number[] = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current: number[] = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] as number) + 1)
      current.push(d)
    }
    before = previous
    previous = current
  }
  return previous[b.length] as number
}

function quote(key: string): string {
  return `'${key}'`
}

/** A short description of a wrong value for a message: its JSON when small, else its kind. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value)
    case 'undefined':
      return 'undefined'
    case 'function':
      return 'a function'
    case 'symbol':
      return 'a symbol'
    default:
      return 'an object'
  }
}
