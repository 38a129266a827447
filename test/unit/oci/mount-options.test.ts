import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { defaultLinuxSpec } from '../../../src/oci/default-spec.js'
import { withBindMount, withCgroupfsMount, withMount, withReadonlyRootfs, withShmSize, withTmpfs } from '../../../src/oci/mount-options.js'
import { mergeTmpfsOptions, parseBindMount, parseTmpfsMount, structuredBindMount, structuredTmpfsMount } from '../../../src/oci/mount-spec.js'
import type { Spec } from '../../../src/oci/runtime-spec.js'
import { applySpecOptions, type SpecOption } from '../../../src/oci/spec-options.js'

const apply = (...options: SpecOption[]): Spec => applySpecOptions(defaultLinuxSpec({ namespace: 'default', id: 'c1' }), options)
const at = (s: Spec, destination: string) => s.mounts?.filter((m) => m.destination === destination)

describe('bind mounts (-v)', () => {
  it('parses options into propagation and recursion, rprivate and rbind by default', () => {
    expect(parseBindMount('/host:/ctr:ro,rprivate').mount).toEqual({ destination: '/ctr', type: 'bind', source: '/host', options: ['ro', 'rprivate', 'rbind'] })
    expect(parseBindMount('/host:/ctr').mount.options).toEqual(['rprivate', 'rbind'])
    expect(parseBindMount('/host:/ctr:rw').mount.options).toEqual(['rprivate', 'rbind'])
    expect(parseBindMount('/host:/ctr:bind,ro').mount.options).toEqual(['bind', 'ro', 'rprivate'])
    expect(parseBindMount('/host:/ctr:ro', { recursiveReadonly: true }).mount.options).toEqual(['rro', 'rprivate', 'rbind'])
    expect(parseBindMount('/host/./dir/:/ctr/sub/').mount).toMatchObject({ source: '/host/dir', destination: '/ctr/sub' })
  })

  it('asks for root propagation with shared and slave binds', () => {
    expect(parseBindMount('/a:/b:rshared').rootfsPropagation).toBe('shared')
    expect(parseBindMount('/a:/b:slave').rootfsPropagation).toBe('rslave')
    expect(parseBindMount('/a:/b:rprivate').rootfsPropagation).toBeUndefined()
    expect(apply(withBindMount('/a:/b:rshared')).linux?.rootfsPropagation).toBe('shared')
    expect(apply(withBindMount('/a:/b:rslave')).linux?.rootfsPropagation).toBe('rslave')
    expect(apply(withBindMount('/a:/b:rshared'), withBindMount('/c:/d:rslave')).linux?.rootfsPropagation).toBe('shared')
  })

  it('appends the mount to the spec', () => {
    const s = apply(withBindMount('/srv/data:/data:ro'))
    expect(s.mounts?.at(-1)).toEqual({ destination: '/data', type: 'bind', source: '/srv/data', options: ['ro', 'rprivate', 'rbind'] })
    expect(s.mounts).toHaveLength(8)
  })

  it.each([
    ['/only', /is not \/host\/path:\/container\/path/],
    ['/a:/b:ro:x', /is not \/host\/path/],
    ['data:/data', /not an absolute host path; named and anonymous volumes are not resolved here/],
    ['/a:rel', /destination "rel" .* must be an absolute path/],
    ['/a:/', /would mount over the container's root/],
    ['/a:/b:ro,rw', /duplicated read\/write option/],
    ['/a:/b:shared,private', /duplicated propagation option/],
    ['/a:/b:Z', /SELinux relabel\) is not supported/],
    ['/a:/b:exec', /unknown option "exec"/],
  ])('rejects %s', (spec, message) => {
    expect(() => parseBindMount(spec)).toThrow(InvalidArgumentError)
    expect(() => withBindMount(spec)).toThrow(message)
  })
})

describe('tmpfs mounts (--tmpfs)', () => {
  it('starts from noexec,nosuid,nodev and adds the options given', () => {
    expect(parseTmpfsMount('/run:size=64m,mode=1777')).toEqual({
      destination: '/run',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['noexec', 'nosuid', 'nodev', 'size=64m', 'mode=1777'],
    })
    expect(parseTmpfsMount('/tmp').options).toEqual(['noexec', 'nosuid', 'nodev'])
  })

  it('lets later options override earlier ones of the same kind', () => {
    expect(parseTmpfsMount('/tmp:exec,size=1m,size=2m').options).toEqual(['nosuid', 'nodev', 'exec', 'size=2m'])
    expect(mergeTmpfsOptions(['defaults', 'ro', 'rw', 'rprivate', 'shared'])).toEqual(['rw', 'shared'])
  })

  it('replaces the default /run mount instead of stacking on it', () => {
    const s = apply(withTmpfs('/run:size=64m,mode=1777'))
    expect(at(s, '/run')).toEqual([{ destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'size=64m', 'mode=1777'] }])
    expect(s.mounts).toHaveLength(7)
  })

  it('rejects bad destinations and options', () => {
    expect(() => withTmpfs('run')).toThrow(/--tmpfs: destination "run"/)
    expect(() => withTmpfs('/run:sizee=1m')).toThrow(/--tmpfs: invalid tmpfs option "sizee=1m"/)
    expect(() => withTmpfs('/run:size=1m,,mode=1')).toThrow(InvalidArgumentError)
  })
})

describe('withMount', () => {
  it('replaces a mount at the same (cleaned) destination and copies its input', () => {
    const mount = { destination: '/etc/hosts/', type: 'bind', source: '/tmp/hosts', options: ['rbind', 'ro'] }
    const s = apply(withMount(mount), withMount({ ...mount, source: '/tmp/hosts2' }))
    expect(s.mounts?.filter((m) => m.destination.startsWith('/etc/hosts'))).toHaveLength(1)
    mount.options.push('changed')
    expect(s.mounts?.at(-1)?.options).toEqual(['rbind', 'ro'])
    expect(() => withMount({ destination: 'etc' })).toThrow(InvalidArgumentError)
  })
})

describe('withShmSize', () => {
  it('resizes /dev/shm in KiB', () => {
    expect(at(apply(withShmSize('64m')), '/dev/shm')?.[0]?.options).toEqual(['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'])
    expect(at(apply(withShmSize('1g')), '/dev/shm')?.[0]?.options?.at(-1)).toBe('size=1048576k')
    expect(at(apply(withShmSize(1536)), '/dev/shm')?.[0]?.options?.at(-1)).toBe('size=1k')
  })

  it('rejects bad sizes and specs without /dev/shm', () => {
    expect(() => withShmSize('lots')).toThrow(/--shm-size: invalid size/)
    expect(() => withShmSize(100)).toThrow(/less than 1 KiB/)
    expect(() => applySpecOptions({ ociVersion: '1.3.0' }, [withShmSize('64m')])).toThrow(/no \/dev\/shm tmpfs mount/)
  })
})

describe('withReadonlyRootfs', () => {
  it('sets root.readonly, keeping the path', () => {
    expect(apply(withReadonlyRootfs()).root).toEqual({ path: 'rootfs', readonly: true })
    expect(applySpecOptions({ ociVersion: '1.3.0' }, [withReadonlyRootfs()]).root).toEqual({ path: 'rootfs', readonly: true })
  })
})

describe('structured mounts', () => {
  it('builds the same bind mount as the -v string', () => {
    expect(structuredBindMount({ type: 'bind', source: '/srv/data/', target: '/data', readOnly: true })).toEqual(parseBindMount('/srv/data:/data:ro'))
    expect(structuredBindMount({ type: 'bind', source: '/a', target: '/b', propagation: 'rshared' })).toEqual(parseBindMount('/a:/b:rshared'))
    expect(structuredBindMount({ type: 'bind', source: '/a', target: '/b', nonRecursive: true })).toEqual(parseBindMount('/a:/b:bind'))
    expect(structuredBindMount({ type: 'bind', source: '/a', target: '/b', readOnly: true }, { recursiveReadonly: true }).mount.options).toEqual(['rro', 'rprivate', 'rbind'])
    // A structured path may hold ':' (a -v string cannot).
    expect(structuredBindMount({ type: 'bind', source: '/a:b', target: '/c' }).mount.source).toBe('/a:b')
    expect(apply(withBindMount({ type: 'bind', source: '/a', target: '/b', propagation: 'slave' })).linux?.rootfsPropagation).toBe('rslave')
  })

  it('refuses what the -v parser refuses', () => {
    expect(() => structuredBindMount({ type: 'bind', source: 'vol', target: '/b' })).toThrow(/--mount: source "vol" is not an absolute host path/)
    expect(() => structuredBindMount({ type: 'bind', source: '/a', target: 'b' })).toThrow(/--mount: destination "b"/)
    expect(() => structuredBindMount({ type: 'bind', source: '/a', target: '/' })).toThrow(/over the container's root/)
  })

  it('builds tmpfs mounts with size, mode, read-only and extra options', () => {
    expect(structuredTmpfsMount({ type: 'tmpfs', target: '/run', size: '64m', mode: 0o1777 })).toEqual(parseTmpfsMount(`/run:size=${64 * 1024 * 1024},mode=1777`))
    expect(structuredTmpfsMount({ type: 'tmpfs', target: '/x', readOnly: true, options: ['exec', 'uid=1000'] }).options).toEqual(['nosuid', 'nodev', 'ro', 'exec', 'uid=1000'])
    expect(structuredTmpfsMount({ type: 'tmpfs', target: '/x' }).options).toEqual(['noexec', 'nosuid', 'nodev'])
    expect(at(apply(withTmpfs({ type: 'tmpfs', target: '/y', size: 1024 })), '/y')?.[0]?.options).toEqual(['noexec', 'nosuid', 'nodev', 'size=1024'])
    expect(() => structuredTmpfsMount({ type: 'tmpfs', target: '/x', size: 'big' })).toThrow(/--mount tmpfs size: invalid size/)
    expect(() => structuredTmpfsMount({ type: 'tmpfs', target: '/x', mode: -1 })).toThrow(/not a permission mode/)
    expect(() => structuredTmpfsMount({ type: 'tmpfs', target: '/x', options: ['bogus'] })).toThrow(/--mount: invalid tmpfs option "bogus"/)
  })
})

describe('withCgroupfsMount', () => {
  it('mounts cgroupfs read-only at /sys/fs/cgroup, once', () => {
    const s = apply(withCgroupfsMount(), withCgroupfsMount())
    expect(at(s, '/sys/fs/cgroup')).toEqual([{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] }])
  })
})
