import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { heldAddresses, ownerRuleRemoval } from '../../../src/network/cni/owner-leftovers.js'
import { splitSavedRule } from '../../../src/network/cni/iptables-save.js'

const ID = 'ns-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'
const OTHER = 'ns-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210'

describe('splitSavedRule', () => {
  it('splits words and unescapes quoted comments as iptables-save writes them', () => {
    expect(splitSavedRule(`-A POSTROUTING -s 10.4.0.5/32 -m comment --comment "name: \\"bridge\\" id: \\"${ID}\\"" -j CNI-abc`)).toEqual([
      '-A', 'POSTROUTING', '-s', '10.4.0.5/32', '-m', 'comment', '--comment', `name: "bridge" id: "${ID}"`, '-j', 'CNI-abc',
    ])
    expect(splitSavedRule('-A X  -m comment --comment "a \\\\ b" ')).toEqual(['-A', 'X', '-m', 'comment', '--comment', 'a \\ b'])
    expect(splitSavedRule('-A X --comment ""')).toEqual(['-A', 'X', '--comment', ''])
  })
})

describe('ownerRuleRemoval', () => {
  const nat = [
    '*nat',
    ':CNI-HOSTPORT-DNAT - [0:0]',
    `-A POSTROUTING -s 10.4.0.5/32 -m comment --comment "name: \\"bridge\\" id: \\"${ID}\\"" -j CNI-aaa`,
    `-A POSTROUTING -s 10.4.0.6/32 -m comment --comment "name: \\"bridge\\" id: \\"${OTHER}\\"" -j CNI-bbb`,
    `-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"bridge\\" id: \\"${ID}\\"" -m multiport --dports 8080 -j CNI-DN-ccc`,
    `-A CNI-HOSTPORT-MASQ -m comment --comment "name: \\"bridge\\" id: \\"${ID}\\"" -j MASQUERADE`,
    '-A CNI-DN-ccc -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.4.0.5:80',
    'COMMIT',
  ].join('\n')

  it("deletes the rules whose comment names the container, then its own chains, never another's or the shared ones", () => {
    expect(ownerRuleRemoval(nat, 'nat', ID, [])).toEqual([
      ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-s', '10.4.0.5/32', '-m', 'comment', '--comment', `name: "bridge" id: "${ID}"`, '-j', 'CNI-aaa'],
      ['-w', '-t', 'nat', '-D', 'CNI-HOSTPORT-DNAT', '-p', 'tcp', '-m', 'comment', '--comment', `dnat name: "bridge" id: "${ID}"`, '-m', 'multiport', '--dports', '8080', '-j', 'CNI-DN-ccc'],
      ['-w', '-t', 'nat', '-D', 'CNI-HOSTPORT-MASQ', '-m', 'comment', '--comment', `name: "bridge" id: "${ID}"`, '-j', 'MASQUERADE'],
      ['-w', '-t', 'nat', '-F', 'CNI-aaa'],
      ['-w', '-t', 'nat', '-X', 'CNI-aaa'],
      ['-w', '-t', 'nat', '-F', 'CNI-DN-ccc'],
      ['-w', '-t', 'nat', '-X', 'CNI-DN-ccc'],
    ])
  })

  it("deletes the firewall's rules for the container's addresses only, whole addresses only", () => {
    const filter = [
      '-A CNI-FORWARD -d 10.4.0.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A CNI-FORWARD -s 10.4.0.5/32 -j ACCEPT',
      '-A CNI-FORWARD -s 10.4.0.50/32 -j ACCEPT',
      '-A FORWARD -s 10.4.0.5/32 -j ACCEPT',
      '-A CNI-FORWARD -j CNI-ADMIN',
    ].join('\n')
    expect(ownerRuleRemoval(filter, 'filter', ID, ['10.4.0.5'])).toEqual([
      ['-w', '-t', 'filter', '-D', 'CNI-FORWARD', '-d', '10.4.0.5/32', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
      ['-w', '-t', 'filter', '-D', 'CNI-FORWARD', '-s', '10.4.0.5/32', '-j', 'ACCEPT'],
    ])
    expect(ownerRuleRemoval(filter, 'filter', ID, [])).toEqual([])
  })
})

describe('heldAddresses', () => {
  it("finds host-local's address files naming the container (CRLF as host-local writes them), with the interface", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'csdk-held-'))
    try {
      await mkdir(join(dir, 'networks', 'bridge'), { recursive: true })
      await mkdir(join(dir, 'networks', 'appnet'), { recursive: true })
      await writeFile(join(dir, 'networks', 'bridge', '10.4.0.5'), `${ID}\r\neth0`)
      await writeFile(join(dir, 'networks', 'bridge', '10.4.0.6'), `${OTHER}\r\neth0`)
      await writeFile(join(dir, 'networks', 'bridge', 'last_reserved_ip.0'), '10.4.0.6')
      await writeFile(join(dir, 'networks', 'bridge', 'lock'), '')
      await writeFile(join(dir, 'networks', 'appnet', '10.77.0.2'), `${ID}\neth1`)
      const held = await heldAddresses(dir, ID)
      expect(held.sort((a, b) => a.network.localeCompare(b.network))).toEqual([
        { network: 'appnet', ifName: 'eth1', address: '10.77.0.2' },
        { network: 'bridge', ifName: 'eth0', address: '10.4.0.5' },
      ])
      expect(await heldAddresses(join(dir, 'missing'), ID)).toEqual([])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
