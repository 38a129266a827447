import { describe, it, expect } from 'vitest'
import { parseContainerdLines } from '../../../src/testing/containerd-binaries.js'

describe('parseContainerdLines', () => {
  it('parses the full list in order', () => {
    expect(parseContainerdLines('1.6,1.7,2.x')).toEqual(['1.6', '1.7', '2.x'])
  })

  it('parses a single line', () => {
    expect(parseContainerdLines('2.x')).toEqual(['2.x'])
    expect(parseContainerdLines('1.6')).toEqual(['1.6'])
  })

  it('keeps the given order', () => {
    expect(parseContainerdLines('2.x,1.6')).toEqual(['2.x', '1.6'])
  })

  it('trims spaces around entries', () => {
    expect(parseContainerdLines(' 1.6 , 1.7,\t2.x ')).toEqual(['1.6', '1.7', '2.x'])
  })

  it('skips empty entries', () => {
    expect(parseContainerdLines('1.6,,2.x,')).toEqual(['1.6', '2.x'])
    expect(parseContainerdLines(',  ,')).toEqual([])
    expect(parseContainerdLines('')).toEqual([])
  })

  it('rejects an unknown value, naming it and the whole input', () => {
    expect(() => parseContainerdLines('1.6,1.8')).toThrow(
      new Error('unknown containerd version "1.8" in "1.6,1.8": use a comma-separated list of 1.6, 1.7 and 2.x'),
    )
  })

  it.each(['2.0', '2', '2.X', 'v1.7', '1.7.24', 'latest', '1.6 1.7'])('rejects %j', (value) => {
    expect(() => parseContainerdLines(value)).toThrow(`unknown containerd version "${value.trim()}"`)
  })

  it('reports the trimmed entry', () => {
    expect(() => parseContainerdLines('1.6, nope ')).toThrow('unknown containerd version "nope" in "1.6, nope "')
  })
})
