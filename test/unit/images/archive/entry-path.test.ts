import { describe, expect, it } from 'vitest'
import { ArchiveError } from '../../../../src/images/archive/archive-error.js'
import { blobPath, digestFromBlobPath, normalizeEntryPath, resolveLinkTarget } from '../../../../src/images/archive/entry-path.js'
import { DataLossError, InvalidArgumentError, NotFoundError } from '../../../../src/grpc/errors.js'

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return err instanceof ArchiveError ? err.reason : `not an ArchiveError: ${String(err)}`
  }
  return undefined
}

describe('archive entry paths', () => {
  it('normalizes harmless spellings', () => {
    expect(normalizeEntryPath('./blobs//sha256/abc')).toBe('blobs/sha256/abc')
    expect(normalizeEntryPath('blobs/')).toBe('blobs')
    expect(normalizeEntryPath('index.json')).toBe('index.json')
  })

  it.each([
    ['../etc/passwd'],
    ['blobs/../../x'],
    ['a/..'],
    ['/etc/passwd'],
    ['//x'],
    ['a\\..\\b'],
    ['a\0b'],
    ['.'],
    ['./'],
  ])('refuses %j', (name) => {
    expect(reasonOf(() => normalizeEntryPath(name))).toBe('UnsafePath')
  })

  it('resolves link targets inside the archive only', () => {
    expect(resolveLinkTarget('abc/layer.tar', '../def.tar')).toBe('def.tar')
    expect(resolveLinkTarget('abc/layer.tar', 'sub/./x.tar')).toBe('abc/sub/x.tar')
    expect(reasonOf(() => resolveLinkTarget('abc/layer.tar', '../../etc/passwd'))).toBe('UnsafePath')
    expect(reasonOf(() => resolveLinkTarget('layer.tar', '/etc/passwd'))).toBe('UnsafePath')
    expect(reasonOf(() => resolveLinkTarget('abc/layer.tar', '..'))).toBe('UnsafePath')
  })

  it('maps blob paths and digests both ways', () => {
    const digest = `sha256:${'0'.repeat(64)}`
    expect(blobPath(digest)).toBe(`blobs/sha256/${'0'.repeat(64)}`)
    expect(digestFromBlobPath(blobPath(digest))).toBe(digest)
    expect(digestFromBlobPath(`blobs/sha512/${'f'.repeat(128)}`)).toBe(`sha512:${'f'.repeat(128)}`)
    expect(reasonOf(() => digestFromBlobPath('blobs/sha256/xyz'))).toBe('Malformed')
    expect(reasonOf(() => digestFromBlobPath(`blobs/md5/${'0'.repeat(32)}`))).toBe('Malformed')
    expect(reasonOf(() => digestFromBlobPath(`blobs/sha256/${'A'.repeat(64)}`))).toBe('Malformed')
    expect(reasonOf(() => digestFromBlobPath(`blobs/sha256/x/${'0'.repeat(64)}`))).toBe('Malformed')
  })
})

describe('ArchiveError', () => {
  it('travels as the errdefs class of its reason', () => {
    const truncated = new ArchiveError('Truncated', 'cut short')
    expect(truncated).toBeInstanceOf(DataLossError)
    expect(truncated).not.toBeInstanceOf(InvalidArgumentError)
    expect(truncated.code).toBe('DataLoss')
    expect(new ArchiveError('UnsafePath', 'x')).toBeInstanceOf(InvalidArgumentError)
    expect(new ArchiveError('MissingBlob', 'x')).toBeInstanceOf(NotFoundError)
  })

  it('is told apart from other containerd errors', () => {
    expect(new DataLossError('x')).not.toBeInstanceOf(ArchiveError)
    expect(new ArchiveError('DigestMismatch', 'x', { path: 'blobs/sha256/a' })).toMatchObject({ name: 'ArchiveError', reason: 'DigestMismatch', path: 'blobs/sha256/a' })
  })
})
