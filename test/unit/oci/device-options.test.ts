import { lstatSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { defaultLinuxSpec } from '../../../src/oci/default-spec.js'
import { withDevice } from '../../../src/oci/device-options.js'
import { deviceFromStat, parseDeviceRequest, type DeviceStat } from '../../../src/oci/device-spec.js'
import { applySpecOptions } from '../../../src/oci/spec-options.js'

// st_rdev as glibc's makedev builds it.
const makedev = (major: number, minor: number): bigint =>
  (BigInt(major & 0xfff) << 8n) | (BigInt(major & ~0xfff) << 32n) | BigInt(minor & 0xff) | (BigInt(minor & ~0xff) << 12n)

const charDevice = (major: number, minor: number): DeviceStat => ({ mode: 0o020666, rdev: Number(makedev(major, minor)), uid: 0, gid: 0 })
const stats: Record<string, DeviceStat> = {
  '/dev/fuse': charDevice(10, 229),
  '/dev/sda': { mode: 0o060660, rdev: Number(makedev(8, 0)), uid: 0, gid: 6 },
  '/dev/big': { mode: 0o020600, rdev: makedev(4097, 300000), uid: 0, gid: 0 },
  '/etc/passwd': { mode: 0o100644, rdev: 0, uid: 0, gid: 0 },
}
const statDevice = (path: string): DeviceStat => {
  const s = stats[path]
  if (s === undefined) throw new Error(`ENOENT: no such file or directory, lstat '${path}'`)
  return s
}

describe('parseDeviceRequest (--device)', () => {
  it.each([
    ['/dev/fuse', { hostPath: '/dev/fuse', containerPath: '/dev/fuse', access: 'rwm' }],
    ['/dev/fuse:rw', { hostPath: '/dev/fuse', containerPath: '/dev/fuse', access: 'rw' }],
    ['/dev/sda:/dev/xvda', { hostPath: '/dev/sda', containerPath: '/dev/xvda', access: 'rwm' }],
    ['/dev/fuse:/dev/fuse:rwm', { hostPath: '/dev/fuse', containerPath: '/dev/fuse', access: 'rwm' }],
  ])('%s', (spec, expected) => {
    expect(parseDeviceRequest(spec)).toEqual(expected)
  })

  it.each([
    ['dev/fuse', /is not an absolute path/],
    ['/dev/fuse:/dev/fuse:rwx', /invalid access "rwx"/],
    ['/a:/b:r:w', /too many ':'/],
    ['/dev/fuse:fuse:r', /container path "fuse"/],
  ])('rejects %s', (spec, message) => {
    expect(() => parseDeviceRequest(spec)).toThrow(InvalidArgumentError)
    expect(() => parseDeviceRequest(spec)).toThrow(message)
  })
})

describe('deviceFromStat', () => {
  it('decodes type, major, minor, mode and owner', () => {
    expect(deviceFromStat('/dev/sda', '/dev/xvda', statDevice('/dev/sda'))).toEqual({ path: '/dev/xvda', type: 'b', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 })
    expect(deviceFromStat('/dev/big', '/dev/big', statDevice('/dev/big'))).toMatchObject({ type: 'c', major: 4097, minor: 300000 })
  })

  it('reads a real node through fs.lstatSync: /dev/null is c 1:3', () => {
    expect(deviceFromStat('/dev/null', '/dev/null', lstatSync('/dev/null'))).toMatchObject({ type: 'c', major: 1, minor: 3 })
    expect(deviceFromStat('/dev/null', '/dev/null', lstatSync('/dev/null', { bigint: true }))).toMatchObject({ type: 'c', major: 1, minor: 3 })
  })

  it('accepts BigIntStats', () => {
    expect(deviceFromStat('/dev/fuse', '/dev/fuse', { mode: 0o020666n, rdev: makedev(10, 229), uid: 0n, gid: 0n })).toMatchObject({ major: 10, minor: 229 })
  })

  it('rejects files that are not devices', () => {
    expect(() => deviceFromStat('/etc/passwd', '/etc/passwd', statDevice('/etc/passwd'))).toThrow(/--device: "\/etc\/passwd" is not a device node/)
  })
})

describe('withDevice', () => {
  it('creates the node and allows it in the device cgroup after the default deny-all', () => {
    const s = applySpecOptions(defaultLinuxSpec({ namespace: 'default', id: 'c1' }), [withDevice('/dev/fuse:/dev/fuse:rwm', { statDevice })])
    expect(s.linux?.devices).toEqual([{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }])
    expect(s.linux?.resources?.devices).toEqual([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' },
    ])
  })

  it('stats the host path, so a missing device fails when the option is created', () => {
    expect(() => withDevice('/dev/nope', { statDevice })).toThrow(/ENOENT/)
    expect(() => withDevice('/etc/passwd', { statDevice })).toThrow(InvalidArgumentError)
  })
})
