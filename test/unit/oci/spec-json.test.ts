import { describe, expect, it } from 'vitest'
import { defaultLinuxSpec } from '../../../src/oci/default-spec.js'
import { withUlimits } from '../../../src/oci/resource-options.js'
import { RLIMIT_INFINITY } from '../../../src/oci/runtime-spec.js'
import { decodeSpec, encodeSpec } from '../../../src/oci/spec-json.js'
import { applySpecOptions } from '../../../src/oci/spec-options.js'

describe('encodeSpec / decodeSpec', () => {
  it('writes unlimited rlimits as the exact uint64 maximum, which JSON.stringify cannot', () => {
    const spec = applySpecOptions(defaultLinuxSpec({ namespace: 'default', id: 'c1' }), [withUlimits(['memlock=-1:-1'])])
    expect(JSON.stringify(spec)).toContain('18446744073709552000')
    const json = encodeSpec(spec)
    expect(json).toContain('{"type":"RLIMIT_MEMLOCK","hard":18446744073709551615,"soft":18446744073709551615}')
    expect(json).not.toContain('18446744073709552000')
    expect(decodeSpec(json).process?.rlimits?.[1]).toEqual({ type: 'RLIMIT_MEMLOCK', hard: RLIMIT_INFINITY, soft: RLIMIT_INFINITY })
  })

  it('is plain JSON otherwise, and round-trips', () => {
    const spec = defaultLinuxSpec({ namespace: 'default', id: 'c1' })
    spec.annotations = { note: '"uint64-max-" lookalike' }
    expect(encodeSpec(spec)).toBe(JSON.stringify(spec))
    expect(encodeSpec(spec, 2)).toBe(JSON.stringify(spec, null, 2))
    expect(decodeSpec(encodeSpec(spec))).toEqual(spec)
  })

  it("leaves the double's text alone where it is a string, not the uint64 maximum", () => {
    const spec = applySpecOptions(defaultLinuxSpec({ namespace: 'default', id: 'c1' }), [withUlimits(['memlock=-1:-1'])])
    spec.annotations = { note: '18446744073709552000' }
    const json = encodeSpec(spec)
    expect(json).toContain('"note":"18446744073709552000"')
    expect(json).toContain('"hard":18446744073709551615')
    const plain = defaultLinuxSpec({ namespace: 'default', id: 'c1' })
    plain.annotations = { note: '18446744073709552000' }
    expect(encodeSpec(plain)).toBe(JSON.stringify(plain))
  })
})
