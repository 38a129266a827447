/**
 * JSON encoding of a spec that keeps the spec's one uint64 value beyond JavaScript numbers exact.
 *
 * `JSON.stringify` writes {@link RLIMIT_INFINITY} (2^64 as a double) as `18446744073709552000`, which Go's
 * decoder rejects as out of range for uint64, so runc would refuse the config. This encoder writes the exact
 * `18446744073709551615` instead; use it wherever a spec becomes bytes (e.g. the `Any` sent to containerd).
 */

import { randomUUID } from 'node:crypto'
import { RLIMIT_INFINITY, type Spec } from './runtime-spec.js'

const UINT64_MAX = '18446744073709551615'
// How JSON.stringify writes RLIMIT_INFINITY (2^64 as a double).
const INFINITY_AS_DOUBLE = JSON.stringify(RLIMIT_INFINITY)

/** Serialises a spec to JSON, writing {@link RLIMIT_INFINITY} as the exact uint64 maximum. */
export function encodeSpec(spec: Spec, space?: number): string {
  // Without a replacer first (a fifth of the time: the replacer is called for every value): the uint64
  // maximum appears as JSON.stringify writes it only if the spec holds it (or that text), and only then
  // is the exact encoding below needed.
  const plain = JSON.stringify(spec, undefined, space)
  if (!plain.includes(INFINITY_AS_DOUBLE)) return plain
  // A per-call random marker cannot collide with text already in the spec (annotations are free-form).
  const marker = `uint64-max-${randomUUID()}`
  let used = false
  const json = JSON.stringify(
    spec,
    (_key, value: unknown) => {
      if (value === RLIMIT_INFINITY) {
        used = true
        return marker
      }
      return value
    },
    space,
  )
  return used ? json.replaceAll(`"${marker}"`, UINT64_MAX) : json
}

/**
 * Parses spec JSON, e.g. a container's stored spec. The uint64 maximum parses back to
 * {@link RLIMIT_INFINITY}. No validation is done beyond JSON syntax.
 */
export function decodeSpec(json: string): Spec {
  return JSON.parse(json) as Spec
}

/**
 * The spec stored in a container record (an Any holding JSON); a record without one gives `{}`, so
 * callers read optional sections without special cases.
 */
export function decodeRecordSpec(value: Uint8Array | undefined): Partial<Spec> {
  if (value === undefined || value.byteLength === 0) return {}
  return JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')) as Partial<Spec>
}
