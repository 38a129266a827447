import { describe, expect, it } from 'vitest'
import { checkBuildOptions, entitlements, frontendAttrs } from '../../../src/build/build-options.js'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'

describe('frontendAttrs', () => {
  it("maps the options to the Dockerfile frontend's attributes", () => {
    expect(frontendAttrs({
      context: '.',
      target: 'final',
      buildArgs: { A: '1', B: '' },
      labels: { 'org.example.team': 'ci' },
      platforms: ['linux/amd64', 'linux/arm64'],
      noCache: true,
      pull: true,
      network: 'none',
    }, 'Dockerfile.prod')).toEqual({
      'filename': 'Dockerfile.prod',
      'target': 'final',
      'build-arg:A': '1',
      'build-arg:B': '',
      'label:org.example.team': 'ci',
      'platform': 'linux/amd64,linux/arm64',
      'no-cache': '',
      'image-resolve-mode': 'pull',
      'force-network-mode': 'none',
    })
  })

  it('leaves out what was not asked for', () => {
    expect(frontendAttrs({ context: '.', network: 'default' }, 'Dockerfile')).toEqual({ filename: 'Dockerfile' })
  })

  it('asks for the network.host entitlement only for network host', () => {
    expect(entitlements({ network: 'host' })).toEqual(['network.host'])
    expect(entitlements({ network: 'none' })).toEqual([])
    expect(entitlements({})).toEqual([])
  })
})

describe('checkBuildOptions', () => {
  const bad = (options: unknown, message: RegExp): void => {
    expect(() => checkBuildOptions(options as never)).toThrow(InvalidArgumentError)
    expect(() => checkBuildOptions(options as never)).toThrow(message)
  }

  it('accepts a plain build with tags, and outputs without tags', () => {
    expect(() => checkBuildOptions({ context: '.', tags: ['app:1'] })).not.toThrow()
    expect(() => checkBuildOptions({ context: '.', outputs: [{ type: 'local', dest: 'out' }] })).not.toThrow()
    expect(() => checkBuildOptions({ context: '.', outputs: [{ type: 'cacheonly' }] })).not.toThrow()
  })

  it('refuses bad options with a message naming them', () => {
    bad({ context: '.', tag: ['x'] }, /tag/)
    bad({ context: '' }, /context/)
    bad({ context: '.' }, /needs tags/)
    bad({ context: '.', tags: [''] }, /tags/)
    bad({ context: '.', tags: ['a'], network: 'bridge' }, /network/)
    bad({ context: '.', tags: ['a'], buildArgs: { A: 1 } }, /buildArgs/)
    bad({ context: '.', tags: ['a'], secrets: [{ id: 's' }] }, /exactly one of src, env, value/)
    bad({ context: '.', tags: ['a'], secrets: [{ id: 's', env: 'A', value: 'x' }] }, /exactly one/)
    bad({ context: '.', tags: ['a'], secrets: [{ id: 's', env: 'A' }, { id: 's', env: 'B' }] }, /given twice/)
    bad({ context: '.', outputs: [{ type: 'registry' }] }, /unknown output type "registry"/)
    bad({ context: '.', tags: ['a'], outputs: [{ type: 'image' }, { type: 'image' }] }, /once/)
    bad({ context: '.', outputs: [{ type: 'cacheonly' }, { type: 'local', dest: 'x' }] }, /cacheonly/)
  })
})
