/**
 * Byte sizes written the Docker way (`512m`, `1g`, `1.5GiB`, `65536`), as `docker run --memory` and
 * nerdctl parse them (go-units `RAMInBytes`): binary multiples, case-insensitive unit, optional `i` and `b`.
 */

import { InvalidArgumentError } from '../grpc/errors.js'

// A number (one optional fraction), an optional space, then an optional k/m/g/t/p with optional "i" and "b".
const SIZE = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i

const MULTIPLIERS: Readonly<Record<string, number>> = {
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
}

/**
 * Parses a size into bytes. A number is taken as bytes and must be a non-negative integer; a string may carry
 * a unit (`b`, `k`, `m`, `g`, `t`, `p`, each a power of 1024). Fractions are allowed and truncated
 * (`1.5k` is 1536).
 *
 * @param flag the option being parsed, named in the error (e.g. `--memory`).
 * @throws InvalidArgumentError for anything else, or a size beyond 2^53 bytes.
 */
export function parseByteSize(value: string | number, flag: string): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidArgumentError(`${flag}: ${value} is not a byte count; pass a non-negative integer or a string such as "512m"`)
    }
    return value
  }
  const match = SIZE.exec(value.trim())
  if (match === null) {
    throw new InvalidArgumentError(
      `${flag}: invalid size "${value}"; write a number with an optional unit b, k, m, g, t or p (powers of 1024), e.g. "512m" or "1g"`,
    )
  }
  const unit = match[2]?.toLowerCase()
  const bytes = Math.trunc(Number(match[1]) * (unit === undefined ? 1 : (MULTIPLIERS[unit] ?? 1)))
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError(`${flag}: size "${value}" is too large`)
  return bytes
}
