import { describe, expect, it } from 'vitest'
import { isPassThrough, sideBySideGroups } from '../../../src/network/cni/cni-runner.js'

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

describe('sideBySideGroups', () => {
  const chain = (...types: string[]): { type: string }[] => types.map((type) => ({ type }))
  it("runs nerdctl's portmap and firewall side by side after the bridge, with tuning on its own", () => {
    expect(sideBySideGroups(chain('bridge', 'portmap', 'firewall', 'tuning'))).toEqual([[0], [1, 2], [3]])
    expect(sideBySideGroups(chain('bridge', 'firewall', 'portmap'))).toEqual([[0], [1, 2]])
  })
  it('keeps every other plugin, and the first (which makes the result), on its own', () => {
    expect(sideBySideGroups(chain('portmap', 'firewall'))).toEqual([[0], [1]])
    expect(sideBySideGroups(chain('macvlan', 'portmap', 'tuning', 'firewall'))).toEqual([[0], [1], [2], [3]])
    expect(sideBySideGroups(chain('bridge'))).toEqual([[0]])
    expect(sideBySideGroups([])).toEqual([])
  })
})
