import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { parseVolumeSpec } from '../../../src/volumes/volume-spec.js'

describe('parseVolumeSpec', () => {
  it('reads a named volume, with ro and nocopy', () => {
    expect(parseVolumeSpec('data:/data')).toEqual({ type: 'named', name: 'data', destination: '/data', readOnly: false, noCopy: false, mode: '' })
    expect(parseVolumeSpec('data:/x/:ro')).toEqual({ type: 'named', name: 'data', destination: '/x', readOnly: true, noCopy: false, mode: 'ro' })
    expect(parseVolumeSpec('my_vol.1:/x:rw,nocopy')).toMatchObject({ type: 'named', name: 'my_vol.1', readOnly: false, noCopy: true, mode: 'rw,nocopy' })
  })

  it('reads an anonymous volume', () => {
    expect(parseVolumeSpec('/anonymous')).toEqual({ type: 'anonymous', destination: '/anonymous', readOnly: false, noCopy: false, mode: '' })
    expect(parseVolumeSpec('::/var//lib/')).toMatchObject({ type: 'anonymous', destination: '/var/lib' })
  })

  it('reads a bind mount with ro and propagation, built as the mounts option builds it', () => {
    const plain = parseVolumeSpec('/host/dir:/mnt')
    expect(plain).toMatchObject({ type: 'bind', source: '/host/dir', destination: '/mnt', readOnly: false, mode: '' })
    if (plain.type !== 'bind') throw new Error('not a bind')
    expect(plain.bind.mount).toEqual({ type: 'bind', source: '/host/dir', destination: '/mnt', options: ['rprivate', 'rbind'] })

    const ro = parseVolumeSpec('/host/dir/:/mnt:ro,rshared')
    if (ro.type !== 'bind') throw new Error('not a bind')
    expect(ro).toMatchObject({ source: '/host/dir', readOnly: true, mode: 'ro,rshared' })
    expect(ro.bind.mount.options).toEqual(['ro', 'rshared', 'rbind'])
    expect(ro.bind.rootfsPropagation).toBe('shared')

    const slave = parseVolumeSpec('/h:/m:bind,rslave')
    if (slave.type !== 'bind') throw new Error('not a bind')
    expect(slave.bind.mount.options).toEqual(['bind', 'rslave'])
    expect(slave.bind.rootfsPropagation).toBe('rslave')
    const rro = parseVolumeSpec('/h:/m:rro', { recursiveReadonly: false })
    expect(rro.readOnly).toBe(true)
  })

  it('takes a one-character host path as a path, a two-character name as a volume', () => {
    expect(parseVolumeSpec('ab:/x').type).toBe('named')
    expect(parseVolumeSpec('/:/host').type).toBe('bind')
  })

  it.each([
    ['', /empty volume spec/],
    [':', /empty volume spec/],
    ['relative', /must be an absolute path/],
    ['data:relative', /must be an absolute path/],
    ['data:/', /over the container's root/],
    ['/h:/', /over the container's root/],
    ['a/b:/x', /neither a volume name/],
    ['./dir:/x', /neither a volume name/],
    ['a:/x', /neither a volume name/],
    ['data:/x:bogus', /unknown option "bogus"/],
    ['/h:/x:bogus', /unknown option "bogus"/],
    ['data:/x:ro,rw', /duplicated read\/write/],
    ['/h:/x:ro,rw', /duplicated read\/write/],
    ['/h:/x:shared,slave', /duplicated propagation/],
    ['data:/x:ro,rshared', /bind mounts only/],
    ['data:/x:rbind', /bind mounts only/],
    ['/h:/x:nocopy', /volumes only/],
    ['/h:/x:z', /SELinux/],
    ['a:b:c:d', /too many ':'/],
  ])('refuses %j', (spec, message) => {
    expect(() => parseVolumeSpec(spec)).toThrow(InvalidArgumentError)
    expect(() => parseVolumeSpec(spec)).toThrow(message)
  })

  it('refuses a value that is not a string', () => {
    expect(() => parseVolumeSpec(42 as unknown as string)).toThrow(InvalidArgumentError)
  })
})
