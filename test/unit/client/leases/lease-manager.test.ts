import { describe, it, expect } from 'vitest'
import { validateIdentifier } from '../../../../src/client/identifiers.js'
import { LEASE_EXPIRE_LABEL, generateLeaseId } from '../../../../src/client/leases/lease-manager.js'

describe('generateLeaseId', () => {
  it('is a valid containerd identifier', () => {
    const id = generateLeaseId()
    expect(() => validateIdentifier('lease id', id)).not.toThrow()
    expect(id.length).toBeLessThanOrEqual(76)
  })

  it('has the csdk-<milliseconds>-<12 hex digits> shape with the current time', () => {
    const before = Date.now()
    const id = generateLeaseId()
    const after = Date.now()
    const match = /^csdk-(\d+)-([0-9a-f]{12})$/.exec(id)
    expect(match).not.toBeNull()
    const ms = Number(match![1])
    expect(ms).toBeGreaterThanOrEqual(before)
    expect(ms).toBeLessThanOrEqual(after)
  })

  it('is unique and valid across 1000 calls', () => {
    const ids = Array.from({ length: 1000 }, () => generateLeaseId())
    expect(new Set(ids).size).toBe(1000)
    for (const id of ids) validateIdentifier('lease id', id)
    // Random parts differ too, not just the timestamps.
    expect(new Set(ids.map((id) => id.slice(id.lastIndexOf('-') + 1))).size).toBe(1000)
  })
})

describe('LEASE_EXPIRE_LABEL', () => {
  it('is the label containerd GC honours', () => {
    expect(LEASE_EXPIRE_LABEL).toBe('containerd.io/gc.expire')
  })
})
