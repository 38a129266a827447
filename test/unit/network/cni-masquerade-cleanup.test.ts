import { describe, expect, it } from 'vitest'
import { leavesMasquerade, masqueradeChain, masqueradeComment, masqueradeTeardown } from '../../../src/network/cni/masquerade-cleanup.js'

describe('masquerade cleanup', () => {
  it("names the chain and comment as the plugins' utils do", () => {
    // Seen in iptables-save after bridge ADD of container csdkt-56b743-b on network csdkt-56b743-b.
    expect(masqueradeChain('csdkt-56b743-b', 'csdkt-56b743-b')).toBe('CNI-df7c5a40c51309067eda39cc')
    expect(masqueradeComment('net', 'c1')).toBe('name: "net" id: "c1"')
  })

  it('applies to bridge and ptp with ipMasq on the iptables backend only', () => {
    expect(leavesMasquerade({ type: 'bridge', ipMasq: true })).toBe(true)
    expect(leavesMasquerade({ type: 'ptp', ipMasq: true, ipMasqBackend: 'iptables' })).toBe(true)
    expect(leavesMasquerade({ type: 'bridge', ipMasq: true, ipMasqBackend: 'nftables' })).toBe(false)
    expect(leavesMasquerade({ type: 'bridge' })).toBe(false)
    expect(leavesMasquerade({ type: 'macvlan', ipMasq: true })).toBe(false)
  })

  it("removes each container address's jump, then the chain, per family", () => {
    const result = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'br0' }, { name: 'eth0', sandbox: '/x' }],
      ips: [
        { interface: 1, address: '10.4.0.2/24' },
        { interface: 1, address: 'fd00::2/64' },
      ],
    }
    const chain = masqueradeChain('net', 'c1')
    expect(masqueradeTeardown('net', 'c1', 'eth0', result)).toEqual([
      { tool: 'iptables', args: ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-s', '10.4.0.2/32', '-j', chain, '-m', 'comment', '--comment', 'name: "net" id: "c1"'] },
      { tool: 'iptables', args: ['-w', '-t', 'nat', '-F', chain] },
      { tool: 'iptables', args: ['-w', '-t', 'nat', '-X', chain] },
      { tool: 'ip6tables', args: ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-s', 'fd00::2/128', '-j', chain, '-m', 'comment', '--comment', 'name: "net" id: "c1"'] },
      { tool: 'ip6tables', args: ['-w', '-t', 'nat', '-F', chain] },
      { tool: 'ip6tables', args: ['-w', '-t', 'nat', '-X', chain] },
    ])
    expect(masqueradeTeardown('net', 'c1', 'eth1', result)).toEqual([])
  })
})
