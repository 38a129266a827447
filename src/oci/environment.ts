/**
 * Environment lists: Docker's `-e` and `--env-file` rules, and containerd's way of layering one list on
 * another.
 */

import { describe } from '../client/option-check.js'
import { InvalidArgumentError } from '../grpc/errors.js'

/** Looks a variable up in the caller's environment; `undefined` when it is not set. */
export type EnvLookup = (name: string) => string | undefined

/** How `KEY`-only entries find their value. */
export interface EnvResolveOptions {
  /** Where a bare `KEY` takes its value from; defaults to this process's environment. */
  lookupEnv?: EnvLookup
}

const processEnv: EnvLookup = (name) => process.env[name]

/**
 * An environment as options take it: `KEY=value` strings (a bare `KEY` takes this process's value, as
 * with `docker run -e KEY`), or a map of names to values (`{ A: '1' }`).
 */
export type EnvInput = Readonly<Record<string, string>> | readonly string[]

/**
 * Turns an `env` option into `KEY=value` strings: a list is kept as it is, a map becomes one `KEY=value`
 * per entry in its order. Checked at run time for JavaScript callers: a map's values must be strings
 * (a number is refused rather than stringified, so `{ PORT: 8080 }` is a visible mistake, not a guess).
 *
 * @param option the option's name, for messages (`env`, `exec() env`).
 * @throws InvalidArgumentError for anything but a list of strings or a plain object of strings (naming
 *   the entry), or a map key that is empty or contains `=`.
 */
export function normalizeEnv(env: unknown, option = 'env'): string[] {
  if (Array.isArray(env)) {
    return env.map((entry: unknown, i) => {
      if (typeof entry !== 'string') throw new InvalidArgumentError(`${option}[${i}] must be a "KEY=value" string, got ${describe(entry)}`)
      return entry
    })
  }
  if (typeof env !== 'object' || env === null || !isPlainObject(env)) {
    throw new InvalidArgumentError(`${option} must be an object of strings such as { A: '1' } or an array of "KEY=value" strings, got ${describe(env)}`)
  }
  return Object.entries(env).map(([key, value]: [string, unknown]) => {
    if (key === '' || key.includes('=')) throw new InvalidArgumentError(`${option}: ${JSON.stringify(key)} is not a variable name; a name is not empty and has no '='`)
    if (typeof value !== 'string') {
      throw new InvalidArgumentError(`${option}.${key} must be a string, got ${describe(value)}${typeof value === 'number' || typeof value === 'boolean' ? `; write '${String(value)}'` : ''}`)
    }
    return `${key}=${value}`
  })
}

// A Map or a class instance would give no entries (or odd ones): only `{ … }` literals and null-prototype objects are maps.
function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * Layers `overrides` on `base` the way containerd does: `KEY=value` replaces the entry with the same key in
 * place or is appended; a bare `KEY` (no `=`) removes that key. Returns a new list.
 */
export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const result: Array<string | undefined> = []
  const index = new Map<string, number>()
  for (const entry of base) {
    index.set(envKey(entry), result.length)
    result.push(entry)
  }
  for (const entry of overrides) {
    const eq = entry.indexOf('=')
    const key = eq < 0 ? entry : entry.slice(0, eq)
    const at = index.get(key)
    if (eq < 0) {
      // A bare key means "unset". The slot is kept, so a later KEY=value lands where the key was.
      if (at !== undefined) result[at] = undefined
      continue
    }
    if (at !== undefined) result[at] = entry
    else {
      index.set(key, result.length)
      result.push(entry)
    }
  }
  return result.filter((e): e is string => e !== undefined)
}

/**
 * Resolves `-e` values the way the Docker CLI does: `KEY=value` is kept as written; a bare `KEY` takes the
 * caller's value (`KEY=value`) when it is set there and stays bare otherwise, which {@link mergeEnv} treats
 * as "unset".
 *
 * @throws InvalidArgumentError for an entry with an empty name (`=value`).
 */
export function resolveEnvList(entries: readonly string[], options: EnvResolveOptions = {}): string[] {
  const lookup = options.lookupEnv ?? processEnv
  return entries.map((entry) => {
    const eq = entry.indexOf('=')
    const key = eq < 0 ? entry : entry.slice(0, eq)
    if (key === '') throw new InvalidArgumentError(`--env: "${entry}" has no variable name; write KEY=value`)
    if (eq >= 0) return entry
    const value = lookup(key)
    return value === undefined ? key : `${key}=${value}`
  })
}

/** Options for {@link parseEnvFile}. */
export interface ParseEnvFileOptions extends EnvResolveOptions {
  /** The file's name, quoted in errors. */
  fileName?: string
}

/**
 * Parses the text of an env file with Docker's rules: one `KEY=value` a line; leading whitespace and a
 * UTF-8 byte-order mark are dropped; blank lines and lines starting with `#` are skipped; the value is kept
 * exactly (quotes and trailing spaces included); a bare `KEY` takes the caller's value as with `-e`.
 *
 * @throws InvalidArgumentError for a line with no name or a name containing spaces or tabs.
 */
export function parseEnvFile(text: string, options: ParseEnvFileOptions = {}): string[] {
  const lookup = options.lookupEnv ?? processEnv
  const where = options.fileName === undefined ? 'env file' : `env file ${options.fileName}`
  const out: string[] = []
  const lines = text.replace(/^\uFEFF/, '').split('\n')
  for (const [i, raw] of lines.entries()) {
    // Lines end in \n or \r\n, as Go's line scanner reads them.
    const line = (raw.endsWith('\r') ? raw.slice(0, -1) : raw).trimStart()
    if (line === '' || line.startsWith('#')) continue
    const eq = line.indexOf('=')
    const name = eq < 0 ? line : line.slice(0, eq)
    if (/[ \t]/.test(name)) {
      throw new InvalidArgumentError(`--env-file: ${where} line ${i + 1}: variable "${name}" contains whitespace; write KEY=value with no spaces in KEY`)
    }
    if (name === '') {
      throw new InvalidArgumentError(`--env-file: ${where} line ${i + 1}: "${line}" has no variable name; write KEY=value`)
    }
    if (eq >= 0) {
      out.push(line)
      continue
    }
    const value = lookup(name)
    out.push(value === undefined ? name : `${name}=${value}`)
  }
  return out
}

function envKey(entry: string): string {
  const eq = entry.indexOf('=')
  return eq < 0 ? entry : entry.slice(0, eq)
}
