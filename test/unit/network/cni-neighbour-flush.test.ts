import { describe, expect, it } from 'vitest'
import { neighbourFlushCommands, sharesLinkWithHost } from '../../../src/network/cni/neighbour-flush.js'

describe('neighbour flush at DEL', () => {
  const result = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'nerdctl0', mac: '02:00:00:00:00:01' }, { name: 'veth1', mac: '02:00:00:00:00:02' }, { name: 'eth0', mac: '02:00:00:00:00:03', sandbox: '/run/netns/x' }],
    ips: [
      { interface: 2, address: '10.4.0.7/24', gateway: '10.4.0.1' },
      { interface: 2, address: 'fd00:4::7/64' },
    ],
  }
  it("flushes the host's entries for each of the container's addresses, v4 and v6", () => {
    expect(neighbourFlushCommands(result, 'eth0')).toEqual([
      ['-4', 'neigh', 'flush', 'to', '10.4.0.7'],
      ['-6', 'neigh', 'flush', 'to', 'fd00:4::7'],
    ])
  })
  it('flushes nothing for another interface, and only for plugins that share a link with the host', () => {
    expect(neighbourFlushCommands(result, 'eth1')).toEqual([])
    expect(sharesLinkWithHost({ type: 'bridge' })).toBe(true)
    expect(sharesLinkWithHost({ type: 'macvlan' })).toBe(false)
    expect(sharesLinkWithHost({ type: 'portmap' })).toBe(false)
  })
})
