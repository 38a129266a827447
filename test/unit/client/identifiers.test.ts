import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it, expect } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { validateIdentifier } from '../../../src/client/identifiers.js'
import { generateContainerId } from '../../../src/nerdctl/container-id.js'
import { MAX_CONTAINER_NAME_LENGTH, NameStore, validateContainerName } from '../../../src/nerdctl/name-store.js'

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

describe('container names: too long is refused up front, saying the limit', () => {
  let root: string
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'csdk-long-names-'))
  })
  afterAll(async () => rm(root, { recursive: true, force: true }))

  it('allows 238 characters: the name store file and its temp file fit in a 255-byte file name', () => {
    expect(MAX_CONTAINER_NAME_LENGTH).toBe(238)
    expect(() => validateContainerName('a'.repeat(238))).not.toThrow()
  })

  it.each([239, 240, 300])('refuses %d characters with InvalidArgumentError naming the limit', (length) => {
    const err = errorOf(() => validateContainerName('a'.repeat(length)))
    expect(err.message).toBe(
      `container name "${'a'.repeat(32)}…" is ${length} characters long; at most 238 are allowed (each name is a file in nerdctl's name store, and a file name holds at most 255 bytes)`,
    )
  })

  it('acquires a 238-character name on disk, and refuses 240 before touching the disk (it failed with ENAMETOOLONG)', async () => {
    const store = new NameStore(join(root, 'store'), 'default')
    const id = generateContainerId()
    await store.acquire('b'.repeat(238), id)
    expect(await store.get('b'.repeat(238))).toBe(id)
    const untouched = new NameStore(join(root, 'untouched'), 'default')
    await expect(untouched.acquire('a'.repeat(240), id)).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(stat(join(root, 'untouched'))).rejects.toThrow()
    await expect(store.rename('b'.repeat(238), id, 'c'.repeat(240))).rejects.toBeInstanceOf(InvalidArgumentError)
  })

  it('still finds and frees a longer name nerdctl wrote (its temp files are shorter than ours)', async () => {
    const store = new NameStore(join(root, 'nerdctl'), 'default')
    const id = generateContainerId()
    await mkdir(store.dir, { recursive: true })
    await writeFile(join(store.dir, 'n'.repeat(240)), id)
    expect(await store.get('n'.repeat(240))).toBe(id)
    expect(await store.release('n'.repeat(240), id)).toBe(true)
    expect(await readdir(store.dir)).not.toContain('n'.repeat(240))
    await expect(store.get('n'.repeat(256))).rejects.toBeInstanceOf(InvalidArgumentError)
  })

  it('does not quote a whole overlong invalid name', () => {
    const err = errorOf(() => validateContainerName(`-${'x'.repeat(300)}`))
    expect(err.message).toBe(`container name "-${'x'.repeat(63)}…" is invalid: use at least two characters, a letter or digit first, then letters, digits, '_', '.' or '-'`)
  })
})
