import { describe, expect, it } from 'vitest'
import { FileSyncError } from '../../../../src/build/filesync/filesync-error.js'
import { parseIgnoreFile } from '../../../../src/build/filesync/ignore-file.js'
import { cleanPath, PatternMatcher } from '../../../../src/build/filesync/pattern-matcher.js'

const ignored = (patterns: string[], path: string): boolean => new PatternMatcher(patterns).matchesOrParentMatches(path)

describe('PatternMatcher (moby/patternmatcher semantics)', () => {
  it('matches a path and everything below a matched directory', () => {
    expect(ignored(['node_modules'], 'node_modules')).toBe(true)
    expect(ignored(['node_modules'], 'node_modules/x/y.js')).toBe(true)
    expect(ignored(['node_modules'], 'src/node_modules')).toBe(false)
  })

  it('keeps * and ? within one component', () => {
    expect(ignored(['*.log'], 'a.log')).toBe(true)
    expect(ignored(['*.log'], 'dir/a.log')).toBe(false)
    expect(ignored(['*/*.log'], 'dir/a.log')).toBe(true)
    expect(ignored(['?.txt'], 'a.txt')).toBe(true)
    expect(ignored(['?.txt'], 'ab.txt')).toBe(false)
    expect(ignored(['?.txt'], '😀.txt')).toBe(true) // one code point, not one UTF-16 unit
  })

  it('lets ** cross directories, including none', () => {
    expect(ignored(['**/*.log'], 'a.log')).toBe(true)
    expect(ignored(['**/*.log'], 'x/y/a.log')).toBe(true)
    expect(ignored(['a/**/b'], 'a/b')).toBe(true)
    expect(ignored(['a/**/b'], 'a/x/y/b')).toBe(true)
    expect(ignored(['a/**'], 'a/x')).toBe(true)
    expect(ignored(['**'], 'anything/at/all')).toBe(true)
    // patternmatcher's suffix shortcut: a leading ** is a plain suffix test.
    expect(ignored(['**foo'], 'barfoo')).toBe(true)
  })

  it('applies ! exceptions in order, the last match winning', () => {
    expect(ignored(['*.md', '!README.md'], 'README.md')).toBe(false)
    expect(ignored(['*.md', '!README.md'], 'CHANGES.md')).toBe(true)
    expect(ignored(['*.md', '!README.md', 'README*'], 'README.md')).toBe(true)
    expect(ignored(['docs', '!docs/keep'], 'docs/keep/a')).toBe(false)
    expect(ignored(['docs', '!docs/keep'], 'docs/other')).toBe(true)
  })

  it('treats regex characters literally and is case-sensitive', () => {
    expect(ignored(['a+b'], 'a+b')).toBe(true)
    expect(ignored(['(x)'], '(x)')).toBe(true)
    expect(ignored(['a.b'], 'axb')).toBe(false)
    expect(ignored(['README'], 'readme')).toBe(false)
  })

  it('supports classes and escapes', () => {
    expect(ignored(['[ab].txt'], 'a.txt')).toBe(true)
    expect(ignored(['[^ab].txt'], 'a.txt')).toBe(false)
    expect(ignored(['[^ab].txt'], 'c.txt')).toBe(true)
    expect(ignored(['\\*.txt'], '*.txt')).toBe(true)
    expect(ignored(['\\*.txt'], 'a.txt')).toBe(false)
  })

  it('cleans patterns like filepath.Clean', () => {
    expect(ignored(['./a/'], 'a/x')).toBe(true)
    expect(ignored(['a//b/../c'], 'a/c')).toBe(true)
    expect(cleanPath('')).toBe('.')
    expect(cleanPath('a/b/')).toBe('a/b')
  })

  it('rejects patterns Go rejects', () => {
    expect(() => new PatternMatcher(['!'])).toThrow(FileSyncError)
    expect(() => new PatternMatcher(['a['])).toThrow(/unclosed/)
    expect(() => new PatternMatcher(['a\\'])).toThrow(/trailing backslash/)
    expect(() => new PatternMatcher(['[z-a]'])).toThrow(/range/)
  })

  it('hands parent results down to children', () => {
    const m = new PatternMatcher(['a', '!a/keep'])
    const dir = m.match('a', { parentMatched: [] })
    expect(dir.matched).toBe(true)
    expect(m.match('a/x', dir.info).matched).toBe(true)
    const keep = m.match('a/keep', dir.info)
    expect(keep.matched).toBe(false)
    expect(m.match('a/keep/deep', keep.info).matched).toBe(false)
  })
})

describe('parseIgnoreFile', () => {
  it('skips comments and blank lines, trims, cleans, drops a leading slash', () => {
    const text = '\uFEFF# comment\n\n  node_modules  \r\n/build/\n!./build/keep\n  # not a comment\n./a/../b\n!  spaced\n/\n'
    expect(parseIgnoreFile(text)).toEqual(['node_modules', 'build', '!build/keep', '# not a comment', 'b', '!spaced', '/'])
  })

  it('gives an empty list for an empty file', () => {
    expect(parseIgnoreFile('')).toEqual([])
    expect(parseIgnoreFile('# only\n\n')).toEqual([])
  })
})
