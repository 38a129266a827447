import { describe, expect, it } from 'vitest'
import { containerAddresses, parseCniResult, type CniResult } from '../../../src/network/cni/cni-result.js'
import { compareCniVersions, isCniVersion, parseVersionInfo } from '../../../src/network/cni/cni-version.js'

// What bridge + host-local print (captured from Debian's containernetworking-plugins 1.1.1).
const v100: CniResult = {
  cniVersion: '1.0.0',
  interfaces: [
    { name: 'csdk0', mac: '62:46:22:39:5a:ed' },
    { name: 'vetha056715c', mac: 'a2:9d:0b:f6:b7:9b' },
    { name: 'eth0', mac: '32:d6:19:d9:c4:73', sandbox: '/run/netns/x' },
  ],
  ips: [
    { interface: 2, address: '10.250.77.2/24', gateway: '10.250.77.1' },
    { interface: 2, address: 'fd00:77::2/64', gateway: 'fd00:77::1' },
    { interface: 0, address: '10.250.77.1/24' },
  ],
  routes: [{ dst: '0.0.0.0/0' }],
  dns: {},
}

describe('parseCniResult', () => {
  it('accepts 1.0.0, 0.4.0 and 0.3.1 results and keeps unknown keys', () => {
    expect(parseCniResult(v100)).toEqual({ result: v100 })
    const v040 = { cniVersion: '0.4.0', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ version: '4', interface: 0, address: '10.0.0.2/24' }], dns: {}, extra: 1 }
    expect(parseCniResult(v040)).toEqual({ result: v040 })
    expect(parseCniResult({ cniVersion: '0.3.1', ips: [{ version: '4', address: '10.0.0.2/24' }] })).toHaveProperty('result')
  })

  it('names what is wrong', () => {
    expect(parseCniResult(null)).toEqual({ problem: 'the result is not a JSON object' })
    expect(parseCniResult([])).toEqual({ problem: 'the result is not a JSON object' })
    expect(parseCniResult({})).toEqual({ problem: 'the result has no cniVersion' })
    expect(parseCniResult({ cniVersion: '1.0.0', interfaces: {} })).toEqual({ problem: 'interfaces is not an array' })
    expect(parseCniResult({ cniVersion: '1.0.0', interfaces: [{}] })).toEqual({ problem: 'interfaces[0] has no name' })
    expect(parseCniResult({ cniVersion: '1.0.0', ips: [{ address: 'x', interface: '0' }] })).toEqual({ problem: 'ips[0] has no address, or a non-numeric interface' })
    expect(parseCniResult({ cniVersion: '1.0.0', routes: [{}] })).toEqual({ problem: 'routes[0] has no dst' })
    expect(parseCniResult({ cniVersion: '1.0.0', dns: [] })).toEqual({ problem: 'dns is not an object' })
  })
})

describe('containerAddresses', () => {
  it("gives the sandboxed interface's MAC and addresses, not the bridge's", () => {
    expect(containerAddresses(v100, 'eth0')).toEqual({
      mac: '32:d6:19:d9:c4:73',
      ipv4: [{ ip: '10.250.77.2', prefixLength: 24, gateway: '10.250.77.1' }],
      ipv6: [{ ip: 'fd00:77::2', prefixLength: 64, gateway: 'fd00:77::1' }],
    })
  })

  it('ignores a host interface of the same name (no sandbox)', () => {
    const r: CniResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], ips: [{ interface: 0, address: '10.0.0.1/24' }] }
    expect(containerAddresses(r, 'eth0')).toEqual({ mac: undefined, ipv4: [], ipv6: [] })
  })

  it('reads 0.3.1 / 0.4.0 results (version per ip)', () => {
    const r: CniResult = { cniVersion: '0.3.1', interfaces: [{ name: 'eth0', mac: 'aa', sandbox: '/x' }], ips: [{ version: '4', interface: 0, address: '10.1.0.5/16' }] }
    expect(containerAddresses(r, 'eth0')).toEqual({ mac: 'aa', ipv4: [{ ip: '10.1.0.5', prefixLength: 16 }], ipv6: [] })
  })

  it('takes every address when none names an interface', () => {
    const r: CniResult = { cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/16' }, { address: 'fd00::5' }] }
    expect(containerAddresses(r, 'eth0')).toEqual({ mac: undefined, ipv4: [{ ip: '10.1.0.5', prefixLength: 16 }], ipv6: [{ ip: 'fd00::5', prefixLength: 128 }] })
  })

  it('is empty for an interface the result does not have', () => {
    expect(containerAddresses(v100, 'eth1')).toEqual({ mac: undefined, ipv4: [], ipv6: [] })
  })
})

describe('CNI versions', () => {
  it('compares numerically', () => {
    expect(compareCniVersions('0.4.0', '0.3.1')).toBeGreaterThan(0)
    expect(compareCniVersions('0.10.0', '0.4.0')).toBeGreaterThan(0)
    expect(compareCniVersions('1.0.0', '1.0.0')).toBe(0)
    expect(compareCniVersions('0.3.1', '1.0.0')).toBeLessThan(0)
    expect(compareCniVersions('1.0', '1.0.0')).toBeUndefined()
    expect(isCniVersion('1.1.0')).toBe(true)
    expect(isCniVersion('v1.1.0')).toBe(false)
  })

  it('parses a VERSION answer', () => {
    expect(parseVersionInfo({ cniVersion: '1.0.0', supportedVersions: ['0.3.1', '1.0.0'] })).toEqual({ info: { cniVersion: '1.0.0', supportedVersions: ['0.3.1', '1.0.0'] } })
    expect(parseVersionInfo({ cniVersion: '1.0.0' })).toEqual({ problem: 'supportedVersions is not a list of strings' })
    expect(parseVersionInfo('x')).toEqual({ problem: 'the answer is not a JSON object' })
  })
})
