import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { mergeEnv, normalizeEnv, parseEnvFile, resolveEnvList } from '../../../src/oci/environment.js'

const env: Record<string, string> = { HOME: '/home/me', EMPTY: '' }
const lookupEnv = (name: string): string | undefined => env[name]

describe('parseEnvFile (Docker env-file rules)', () => {
  it('reads KEY=value lines, skipping comments and blank lines, trimming only leading whitespace', () => {
    const text = 'foo=bar\n    baz=quux\n# comment\n\n_foobar=foobaz\nwith.dots=working\nand_underscore=working too\n\n    \t  '
    expect(parseEnvFile(text, { lookupEnv })).toEqual(['foo=bar', 'baz=quux', '_foobar=foobaz', 'with.dots=working', 'and_underscore=working too'])
  })

  it('keeps values exactly: quotes, trailing spaces, further = signs, empty values', () => {
    expect(parseEnvFile('A="quoted"\nB=x  \nC=a=b\nD=\n', { lookupEnv })).toEqual(['A="quoted"', 'B=x  ', 'C=a=b', 'D='])
  })

  it('takes a bare KEY from the environment, or keeps it bare when unset', () => {
    expect(parseEnvFile('# comment=\nHOME\nUNDEFINED_VAR\nEMPTY\n', { lookupEnv })).toEqual(['HOME=/home/me', 'UNDEFINED_VAR', 'EMPTY='])
  })

  it('uses the process environment by default', () => {
    process.env['CSDK_OCI_ENV_TEST'] = 'from-process'
    try {
      expect(parseEnvFile('CSDK_OCI_ENV_TEST')).toEqual(['CSDK_OCI_ENV_TEST=from-process'])
    } finally {
      delete process.env['CSDK_OCI_ENV_TEST']
    }
  })

  it('strips a UTF-8 byte-order mark and CRLF line ends', () => {
    expect(parseEnvFile('\uFEFFA=1\r\nB=2\r\n', { lookupEnv })).toEqual(['A=1', 'B=2'])
  })

  it('rejects names with whitespace and lines without a name, naming the line', () => {
    expect(() => parseEnvFile('foo=bar\n    f   =quux\n', { lookupEnv })).toThrow(InvalidArgumentError)
    expect(() => parseEnvFile('foo=bar\n    f   =quux\n', { lookupEnv, fileName: 'app.env' })).toThrow(/app.env line 2: variable "f {3}" contains whitespace/)
    expect(() => parseEnvFile('first line\n', { lookupEnv })).toThrow(/"first line" contains whitespace/)
    expect(() => parseEnvFile('=blank names are an error\n', { lookupEnv })).toThrow(/no variable name/)
  })

  it('returns nothing for an empty file', () => {
    expect(parseEnvFile('', { lookupEnv })).toEqual([])
  })
})

describe('resolveEnvList (-e rules)', () => {
  it('keeps KEY=value and resolves bare keys', () => {
    expect(resolveEnvList(['A=1', 'HOME', 'NOPE', 'B='], { lookupEnv })).toEqual(['A=1', 'HOME=/home/me', 'NOPE', 'B='])
  })

  it('rejects an entry without a name', () => {
    expect(() => resolveEnvList(['=x'], { lookupEnv })).toThrow(/--env: "=x" has no variable name/)
  })
})

describe('mergeEnv (containerd replace-or-append)', () => {
  it('replaces by key in place and appends new keys', () => {
    expect(mergeEnv(['PATH=/bin', 'A=1'], ['A=2', 'B=3', 'PATH=/usr/bin'])).toEqual(['PATH=/usr/bin', 'A=2', 'B=3'])
  })

  it('removes a key given bare, and a later value lands back in its slot', () => {
    expect(mergeEnv(['A=1', 'B=2', 'C=3'], ['B'])).toEqual(['A=1', 'C=3'])
    expect(mergeEnv(['A=1', 'B=2', 'C=3'], ['B', 'B=again'])).toEqual(['A=1', 'B=again', 'C=3'])
    expect(mergeEnv(['A=1'], ['UNKNOWN'])).toEqual(['A=1'])
  })

  it('does not change its inputs', () => {
    const base = ['A=1']
    mergeEnv(base, ['A=2'])
    expect(base).toEqual(['A=1'])
  })
})

describe('normalizeEnv (the env option: a map or KEY=value strings)', () => {
  it('turns a map into KEY=value in its order and keeps a list as it is', () => {
    expect(normalizeEnv({ A: '1', B: '', C: 'x=y' })).toEqual(['A=1', 'B=', 'C=x=y'])
    expect(normalizeEnv(['A=1', 'HOME'])).toEqual(['A=1', 'HOME'])
    expect(normalizeEnv(Object.assign(Object.create(null) as object, { A: '1' }))).toEqual(['A=1'])
    expect(normalizeEnv({})).toEqual([])
  })

  it('refuses a map value that is not a string, naming the key (a number is not stringified)', () => {
    expect(() => normalizeEnv({ PORT: 8080 })).toThrow(new InvalidArgumentError("env.PORT must be a string, got 8080; write '8080'"))
    expect(() => normalizeEnv({ A: undefined })).toThrow('env.A must be a string, got undefined')
    expect(() => normalizeEnv({ A: ['1'] }, 'run() env')).toThrow('run() env.A must be a string, got an array')
  })

  it('refuses map keys that are no variable names, and list items that are not strings', () => {
    expect(() => normalizeEnv({ '': 'x' })).toThrow(InvalidArgumentError)
    expect(() => normalizeEnv({ 'A=B': 'x' })).toThrow(/"A=B" is not a variable name/)
    expect(() => normalizeEnv(['A=1', 2])).toThrow('env[1] must be a "KEY=value" string, got 2')
  })

  it('refuses a string, a Map, null and numbers, naming both accepted forms', () => {
    for (const bad of ['A=1', new Map([['A', '1']]), null, 3, true]) {
      expect(() => normalizeEnv(bad)).toThrow(/env must be an object of strings such as \{ A: '1' \} or an array of "KEY=value" strings/)
    }
  })
})
