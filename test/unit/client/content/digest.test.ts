import { createHash } from 'node:crypto'
import { describe, it, expect } from 'vitest'
import { digestAlgorithm, validateDigest } from '../../../../src/client/content/digest.js'
import type { Digest } from '../../../../src/client/content/digest.js'
import { InvalidArgumentError } from '../../../../src/grpc/errors.js'

const hex = (algo: string, data = 'hello'): string => createHash(algo).update(data).digest('hex')
const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

describe('validateDigest', () => {
  it.each([
    EMPTY_SHA256,
    `sha256:${hex('sha256')}`,
    `sha384:${hex('sha384')}`,
    `sha512:${hex('sha512')}`,
    `sha256:${'0'.repeat(64)}`,
    `sha512:${'f'.repeat(128)}`,
  ])('accepts %s', (value) => {
    expect(() => validateDigest(value)).not.toThrow()
  })

  it('narrows the type to Digest', () => {
    const value: string = EMPTY_SHA256
    validateDigest(value)
    const d: Digest = value
    expect(digestAlgorithm(d)).toBe('sha256')
  })

  it.each([
    ['uppercase hex', `sha256:${hex('sha256').toUpperCase()}`],
    ['one uppercase digit', `sha256:${'a'.repeat(63)}A`],
    ['uppercase algorithm', `SHA256:${hex('sha256')}`],
    ['sha256 with 63 digits', `sha256:${'a'.repeat(63)}`],
    ['sha256 with 65 digits', `sha256:${'a'.repeat(65)}`],
    ['sha256 with a sha512 length', `sha256:${hex('sha512')}`],
    ['sha512 with a sha256 length', `sha512:${hex('sha256')}`],
    ['sha384 with a sha256 length', `sha384:${hex('sha256')}`],
    ['sha384 with 95 digits', `sha384:${'a'.repeat(95)}`],
    ['sha512 with 127 digits', `sha512:${'a'.repeat(127)}`],
    ['missing algorithm', hex('sha256')],
    ['empty algorithm', `:${hex('sha256')}`],
    ['unsupported algorithm', `md5:${hex('md5')}`],
    ['sha1', `sha1:${hex('sha1')}`],
    ['non-hex characters', `sha256:${'g'.repeat(64)}`],
    ['empty hex', 'sha256:'],
    ['empty string', ''],
    ['leading space', ` ${EMPTY_SHA256}`],
    ['trailing newline', `${EMPTY_SHA256}\n`],
    ['two colons', `sha256::${hex('sha256')}`],
    ['suffix after digest', `${EMPTY_SHA256}:x`],
  ])('rejects %s', (_label, value) => {
    let caught: unknown
    try {
      validateDigest(value)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError)
    expect((caught as Error).message).toBe(
      `"${value}" is not a valid digest: expected sha256:<64 lower-case hex digits> (or sha384/sha512)`,
    )
  })
})

describe('digestAlgorithm', () => {
  it.each([
    [`sha256:${hex('sha256')}`, 'sha256'],
    [`sha384:${hex('sha384')}`, 'sha384'],
    [`sha512:${hex('sha512')}`, 'sha512'],
  ] as [Digest, string][])('%s → %s', (digest, algo) => {
    expect(digestAlgorithm(digest)).toBe(algo)
  })

  it('returns a name node:crypto accepts, reproducing the digest', () => {
    for (const algo of ['sha256', 'sha384', 'sha512']) {
      const digest = `${algo}:${hex(algo, 'payload')}` as Digest
      validateDigest(digest)
      const recomputed = createHash(digestAlgorithm(digest)).update('payload').digest('hex')
      expect(`${digestAlgorithm(digest)}:${recomputed}`).toBe(digest)
    }
  })
})
