import { describe, expect, it } from 'vitest'
import { CniError } from '../../../src/network/cni/cni-error.js'
import type { CniRuntime } from '../../../src/network/cni/cni-options.js'
import type { NetworkConfigList } from '../../../src/network/cni/network-config.js'
import { checkAttachment, checkRun, formatCniArgs, pluginStdinConfig, runtimeConfigFor } from '../../../src/network/cni/plugin-config.js'

const list: NetworkConfigList = {
  cniVersion: '1.0.0',
  name: 'net1',
  nerdctlID: 'abc',
  plugins: [
    { type: 'bridge', bridge: 'br0', ipam: { type: 'host-local' } },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'tuning', capabilities: { mac: true, ips: false } },
  ],
}
const runtime: CniRuntime = { containerId: 'ns-c1', netns: '/proc/1/ns/net', ifName: 'eth0' }
const prev = { cniVersion: '1.0.0', ips: [{ address: '10.4.0.2/24', interface: 0 }], interfaces: [{ name: 'eth0', sandbox: '/x' }] }

describe('pluginStdinConfig', () => {
  it("is the plugin's object with the list's name and cniVersion, and no prevResult for the first plugin", () => {
    const config = pluginStdinConfig(list, list.plugins[0]!, undefined, undefined)
    expect(config).toEqual({ type: 'bridge', bridge: 'br0', ipam: { type: 'host-local' }, name: 'net1', cniVersion: '1.0.0' })
    // The list's own keys (nerdctlID) are not the plugin's.
    expect(config).not.toHaveProperty('nerdctlID')
  })

  it("overrides a plugin's own name and cniVersion with the list's", () => {
    const config = pluginStdinConfig(list, { type: 'x', name: 'other', cniVersion: '0.3.1' }, undefined, undefined)
    expect(config['name']).toBe('net1')
    expect(config['cniVersion']).toBe('1.0.0')
  })

  it('passes prevResult', () => {
    expect(pluginStdinConfig(list, list.plugins[1]!, prev, undefined)['prevResult']).toBe(prev)
  })

  it('gives runtimeConfig only to plugins declaring the capability', () => {
    const caps = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const, hostIP: '127.0.0.1' }], mac: '02:00:00:00:00:01', ips: ['10.4.0.9/24'] }
    expect(pluginStdinConfig(list, list.plugins[0]!, undefined, caps)).not.toHaveProperty('runtimeConfig')
    expect(pluginStdinConfig(list, list.plugins[1]!, prev, caps)['runtimeConfig']).toEqual({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }] })
    // ips is declared false: not given.
    expect(pluginStdinConfig(list, list.plugins[2]!, prev, caps)['runtimeConfig']).toEqual({ mac: '02:00:00:00:00:01' })
  })

  it('does not change the list', () => {
    const before = JSON.stringify(list)
    pluginStdinConfig(list, list.plugins[1]!, prev, { portMappings: [] })
    expect(JSON.stringify(list)).toBe(before)
  })
})

describe('runtimeConfigFor', () => {
  it('is undefined when nothing applies', () => {
    expect(runtimeConfigFor({ type: 'portmap', capabilities: { portMappings: true } }, undefined)).toBeUndefined()
    expect(runtimeConfigFor({ type: 'portmap', capabilities: { portMappings: true } }, { mac: 'x' })).toBeUndefined()
    expect(runtimeConfigFor({ type: 'bridge' }, { mac: 'x' })).toBeUndefined()
  })
  it('keeps an empty port list (the plugin was asked for none)', () => {
    expect(runtimeConfigFor({ type: 'portmap', capabilities: { portMappings: true } }, { portMappings: [] })).toEqual({ portMappings: [] })
  })
})

describe('formatCniArgs', () => {
  it('joins pairs as K=V;K=V', () => {
    expect(formatCniArgs([['IgnoreUnknown', '1'], ['NERDCTL_CNI_DHCP_HOSTNAME', 'web']])).toBe('IgnoreUnknown=1;NERDCTL_CNI_DHCP_HOSTNAME=web')
    expect(formatCniArgs(undefined)).toBe('')
    expect(formatCniArgs([])).toBe('')
  })
})

describe('checkRun', () => {
  const refused = (fn: () => void): CniError => {
    try {
      fn()
    } catch (err) {
      expect(err).toBeInstanceOf(CniError)
      expect((err as CniError).code).toBe('InvalidArgument')
      return err as CniError
    }
    throw new Error('not refused')
  }

  it('accepts a good run, and an empty netns on DEL only', () => {
    checkRun(list, runtime, 'ADD', 'cniAdd()')
    checkRun(list, { ...runtime, netns: '' }, 'DEL', 'cniDel()')
    expect(refused(() => checkRun(list, { ...runtime, netns: '' }, 'ADD', 'cniAdd()')).message).toMatch(/netns is empty: ADD needs/)
  })

  it('refuses bad ids, interface names and args, naming the fix', () => {
    expect(refused(() => checkRun(list, { ...runtime, containerId: '../x' }, 'ADD', 'cniAdd()')).message).toMatch(/containerId "..\/x" is not valid/)
    expect(refused(() => checkRun(list, { ...runtime, ifName: 'a-very-long-ifname' }, 'ADD', 'cniAdd()')).message).toMatch(/1 to 15 characters/)
    expect(refused(() => checkRun(list, { ...runtime, ifName: 'eth/0' }, 'ADD', 'cniAdd()')).message).toMatch(/not a valid interface name/)
    expect(refused(() => checkRun(list, { ...runtime, args: [['A;B', '1']] }, 'ADD', 'cniAdd()')).message).toMatch(/CNI_ARGS/)
    expect(refused(() => checkRun(list, { ...runtime, args: [['A', '1;2']] }, 'ADD', 'cniAdd()')).message).toMatch(/CNI_ARGS/)
    checkRun(list, { ...runtime, args: [['A', 'x=y']] }, 'ADD', 'cniAdd()')
  })

  it('refuses a plugin type that is a path, a bad version, an empty chain', () => {
    const err = refused(() => checkRun({ ...list, plugins: [{ type: '../../bin/sh' }] }, runtime, 'ADD', 'cniAdd()'))
    expect(err.message).toMatch(/plugins\[0\]\.type "..\/..\/bin\/sh" is not a plugin name/)
    expect(err.network).toBe('net1')
    expect(err.command).toBe('ADD')
    refused(() => checkRun({ ...list, cniVersion: '1.0' }, runtime, 'ADD', 'cniAdd()'))
    refused(() => checkRun({ ...list, plugins: [] }, runtime, 'ADD', 'cniAdd()'))
    refused(() => checkRun({ ...list, name: 'a/b' }, runtime, 'ADD', 'cniAdd()'))
  })

  it('checkAttachment checks a name and a runtime', () => {
    checkAttachment('net1', { ...runtime, netns: '' }, 'cachedResult()')
    refused(() => checkAttachment('', runtime, 'cachedResult()'))
  })
})
