/**
 * `--ulimit` values (`nofile=1024:2048`, `core=-1`, `memlock=infinity`), parsed as Docker does
 * (go-units `ParseUlimit`) into the spec's rlimit form.
 */

import { InvalidArgumentError } from '../grpc/errors.js'
import { RLIMIT_INFINITY, type POSIXRlimit } from './runtime-spec.js'

// The names Docker accepts. `as` is left out on purpose, as in Docker: the address-space limit breaks the
// container's own start-up.
const NAMES: ReadonlySet<string> = new Set([
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
])

const FLAG = '--ulimit'

/**
 * Parses `name=soft[:hard]`. A missing hard limit equals the soft one; `-1` and `infinity` mean unlimited
 * and become {@link RLIMIT_INFINITY}. The type is `RLIMIT_` plus the upper-cased name.
 *
 * @throws InvalidArgumentError for an unknown name, a non-integer value, or soft above hard.
 */
export function parseUlimit(value: string): POSIXRlimit {
  const eq = value.indexOf('=')
  if (eq < 0) throw new InvalidArgumentError(`${FLAG}: "${value}" is not name=soft[:hard]; write e.g. nofile=1024:2048`)
  const name = value.slice(0, eq)
  if (!NAMES.has(name)) {
    throw new InvalidArgumentError(`${FLAG}: unknown limit "${name}" in "${value}"; use one of ${[...NAMES].join(', ')}`)
  }
  const parts = value.slice(eq + 1).split(':')
  if (parts.length > 2) {
    throw new InvalidArgumentError(`${FLAG}: "${value}" has more than two limits; write name=soft or name=soft:hard`)
  }
  const soft = limitValue(parts[0] ?? '', value)
  const hard = parts[1] === undefined ? soft : limitValue(parts[1], value)
  // -1 stands for unlimited here, so it only compares when the hard limit is finite.
  if (hard !== -1) {
    if (soft === -1) throw new InvalidArgumentError(`${FLAG}: "${value}" has an unlimited soft limit above the hard limit ${hard}`)
    if (soft > hard) throw new InvalidArgumentError(`${FLAG}: "${value}" has soft limit ${soft} above hard limit ${hard}; lower the soft limit`)
  }
  return { type: `RLIMIT_${name.toUpperCase()}`, hard: toRlimit(hard), soft: toRlimit(soft) }
}

function limitValue(text: string, whole: string): number {
  if (text === 'infinity') return -1
  if (!/^-?\d+$/.test(text)) {
    throw new InvalidArgumentError(`${FLAG}: "${text}" in "${whole}" is not an integer; write a number, or -1 or infinity for unlimited`)
  }
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${FLAG}: "${text}" in "${whole}" is too large`)
  if (n < -1) throw new InvalidArgumentError(`${FLAG}: "${text}" in "${whole}" is negative; use -1 for unlimited`)
  return n
}

// Docker casts -1 to uint64, which is the kernel's RLIM_INFINITY.
function toRlimit(n: number): number {
  return n === -1 ? RLIMIT_INFINITY : n
}
