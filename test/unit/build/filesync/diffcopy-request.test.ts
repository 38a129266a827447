import { describe, expect, it } from 'vitest'
import { parseDiffCopyMetadata, queryUnescape } from '../../../../src/build/filesync/diffcopy-request.js'

describe('parseDiffCopyMetadata', () => {
  it('reads the dir name and the filters, keeping absent ones absent', () => {
    const req = parseDiffCopyMetadata({ 'dir-name': ['context'], 'exclude-patterns': ['node_modules', '!node_modules/keep'], followpaths: ['.dockerignore'] })
    expect(req).toEqual({
      dirName: 'context',
      walk: { excludePatterns: ['node_modules', '!node_modules/keep'], followPaths: ['.dockerignore'] },
      overrideExcludes: false,
    })
  })

  it('unescapes values flagged -encoded (BuildKit v0.12+ non-ASCII)', () => {
    const req = parseDiffCopyMetadata({
      'dir-name': ['context'],
      'include-patterns': ['caf%C3%A9', 'a+b%2Bc'],
      'include-patterns-encoded': ['1'],
      'exclude-patterns': ['caf%C3%A9'],
    })
    expect(req.walk.includePatterns).toEqual(['café', 'a b+c'])
    // Not flagged: left as sent.
    expect(req.walk.excludePatterns).toEqual(['caf%C3%A9'])
  })

  it('reads override-excludes', () => {
    expect(parseDiffCopyMetadata({ 'override-excludes': ['true'] }).overrideExcludes).toBe(true)
    expect(parseDiffCopyMetadata({}).dirName).toBeUndefined()
  })
})

describe('queryUnescape', () => {
  it('follows Go: + is a space, bad escapes give ""', () => {
    expect(queryUnescape('a%20b+c')).toBe('a b c')
    expect(queryUnescape('100%')).toBe('')
    expect(queryUnescape('%zz')).toBe('')
  })
})
