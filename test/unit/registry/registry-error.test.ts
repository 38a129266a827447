import { describe, it, expect } from 'vitest'
import { isRegistryError, RegistryError } from '../../../src/registry/registry-error.js'

describe('RegistryError', () => {
  it('carries code, status and cause', () => {
    const cause = new Error('socket hang up')
    const err = new RegistryError('Unavailable', 'registry unreachable', { status: 503, cause })
    expect(err).toBeInstanceOf(Error)
    expect(err).toBeInstanceOf(RegistryError)
    expect(err.name).toBe('RegistryError')
    expect(err.code).toBe('Unavailable')
    expect(err.status).toBe(503)
    expect(err.cause).toBe(cause)
    expect(err.message).toBe('registry unreachable')
  })

  it('leaves status and cause absent when not given', () => {
    const err = new RegistryError('Protocol', 'bad answer')
    expect('status' in err).toBe(false)
    expect('cause' in err).toBe(false)
  })

  it('is recognised across copies of the package through its Symbol.for brand', () => {
    const foreign = Object.assign(new Error('from another copy'), { code: 'NotFound' })
    Object.defineProperty(foreign, Symbol.for('containerd-sdk.RegistryError'), { value: true })
    expect(foreign).toBeInstanceOf(RegistryError)
    expect(new Error('plain')).not.toBeInstanceOf(RegistryError)
    expect(null).not.toBeInstanceOf(RegistryError)
  })

  it('isRegistryError checks the code when asked', () => {
    const err = new RegistryError('Denied', 'no push access', { status: 403 })
    expect(isRegistryError(err)).toBe(true)
    expect(isRegistryError(err, 'Denied')).toBe(true)
    expect(isRegistryError(err, 'Unauthorized')).toBe(false)
    expect(isRegistryError(new Error('x'))).toBe(false)
  })
})
