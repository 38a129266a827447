import { describe, expect, it } from 'vitest'
import { parseCacheSpecs } from '../../../src/build/build-cache.js'
import { frontendAttrs } from '../../../src/build/build-options.js'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'

describe('parseCacheSpecs', () => {
  it("reads buildx's CSV form, bare references and objects", () => {
    expect(parseCacheSpecs([
      'type=registry,ref=example.com/app:cache,mode=max',
      'example.com/app:latest',
      'type=inline',
      { type: 'local', attrs: { src: '/tmp/cache' } },
    ], 'cacheFrom')).toEqual([
      { Type: 'registry', Attrs: { ref: 'example.com/app:cache', mode: 'max' } },
      { Type: 'registry', Attrs: { ref: 'example.com/app:latest' } },
      { Type: 'inline', Attrs: {} },
      { Type: 'local', Attrs: { src: '/tmp/cache' } },
    ])
    expect(parseCacheSpecs(undefined, 'cacheTo')).toEqual([])
  })

  it('refuses entries without a type or with a field that is not key=value', () => {
    expect(() => parseCacheSpecs(['ref=x'], 'cacheFrom')).toThrow(InvalidArgumentError)
    expect(() => parseCacheSpecs(['type=registry,oops'], 'cacheTo')).toThrow(/"oops" is not key=value/)
    expect(() => parseCacheSpecs([''], 'cacheTo')).toThrow(/empty/)
    expect(() => parseCacheSpecs([{ type: '' }], 'cacheTo')).toThrow(/needs a type/)
  })

  it('gives the Dockerfile frontend the imports as JSON, as buildx does', () => {
    expect(frontendAttrs({ context: '.', cacheFrom: ['example.com/app:cache'] }, 'Dockerfile')['cache-imports'])
      .toBe('[{"Type":"registry","Attrs":{"ref":"example.com/app:cache"}}]')
  })
})
