import { describe, it, expect } from 'vitest'
import { InvalidArgumentError } from '../../src/grpc/errors.js'
import { validateIdentifier } from '../../src/client/identifiers.js'

function errorOf(fn: () => void): InvalidArgumentError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError)
    return err as InvalidArgumentError
  }
  throw new Error('expected a throw')
}

describe('validateIdentifier', () => {
  it.each([
    'a',
    'A',
    '0',
    'default',
    'k8s.io',
    'moby',
    'my-container',
    'my_container',
    'a.b-c_d',
    'ABC123',
    '123',
    'csdk-1700000000000-0123456789ab',
    'a'.repeat(76),
    `${'a'.repeat(74)}-b`,
  ])('accepts %j', (value) => {
    expect(() => validateIdentifier('container id', value)).not.toThrow()
  })

  it.each([
    '-a',
    'a-',
    '.a',
    'a.',
    '_a',
    'a_',
    'a--b',
    'a..b',
    'a.-b',
    'a_.b',
    'a b',
    ' a',
    'a ',
    'a/b',
    'a:b',
    'a@b',
    'ä',
    'a\nb',
    '-',
    '.',
  ])('rejects %j as not a valid identifier', (value) => {
    const err = errorOf(() => validateIdentifier('namespace', value))
    expect(err.code).toBe('InvalidArgument')
    expect(err.message).toBe(
      `namespace "${value}" is not a valid containerd identifier: use letters and digits, separated by single '.', '_' or '-', starting and ending with a letter or digit`,
    )
  })

  it('rejects the empty string with its own message', () => {
    const err = errorOf(() => validateIdentifier('lease id', ''))
    expect(err.message).toBe('lease id must not be empty')
  })

  it('accepts exactly 76 characters and rejects 77', () => {
    expect(() => validateIdentifier('id', 'x'.repeat(76))).not.toThrow()
    const long = 'x'.repeat(77)
    const err = errorOf(() => validateIdentifier('id', long))
    expect(err.message).toBe(`id "${long}" is 77 characters long; containerd allows at most 76`)
  })

  it('checks length before syntax', () => {
    const value = '-'.repeat(100)
    const err = errorOf(() => validateIdentifier('snapshot key', value))
    expect(err.message).toContain('is 100 characters long')
  })

  it('includes the kind in the message', () => {
    expect(() => validateIdentifier('snapshot key', 'bad key')).toThrow(/^snapshot key "bad key"/)
  })
})
