import { describe, expect, it } from 'vitest'
import { isPassThrough } from '../../../src/network/cni/cni-runner.js'

describe('isPassThrough', () => {
  const portmap = { type: 'portmap', capabilities: { portMappings: true } }
  it('skips portmap without port mappings, not with them', () => {
    expect(isPassThrough(portmap, {})).toBe(true)
    expect(isPassThrough(portmap, { capabilityArgs: { portMappings: [] } })).toBe(true)
    expect(isPassThrough(portmap, { capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] } })).toBe(false)
  })
  it('skips a bare tuning, not one with settings or runtime arguments', () => {
    expect(isPassThrough({ type: 'tuning' }, {})).toBe(true)
    expect(isPassThrough({ type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.forwarding': '1' } }, {})).toBe(false)
    expect(isPassThrough({ type: 'tuning', capabilities: { mac: true } }, { capabilityArgs: { mac: '02:00:00:00:00:01' } })).toBe(false)
  })
  it('never skips other plugins', () => {
    expect(isPassThrough({ type: 'bridge' }, {})).toBe(false)
    expect(isPassThrough({ type: 'firewall' }, {})).toBe(false)
  })
})
