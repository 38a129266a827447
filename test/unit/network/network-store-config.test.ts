import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import {
  bridgeDeviceName,
  buildNetworkConfig,
  networkId,
  resolveIpamRange,
  serializeNetworkConfig,
  validateCreateOptions,
  validateNetworkName,
} from '../../../src/network/network-config-builder.js'
import { parseNetworkConfigFile, toNetworkRecord, type NetworkRecord } from '../../../src/network/network-record.js'
import { selectPrunable } from '../../../src/network/network-store.js'
import { parseSubnet } from '../../../src/network/subnet.js'

/**
 * The default network's file as nerdctl v2 writes it: `json.MarshalIndent` of its `cniNetworkConfig`
 * (struct field order; the IPAM section is a Go map, so its keys are sorted; empty fields omitted).
 */
const NERDCTL_DEFAULT_NETWORK_FILE = `{
  "cniVersion": "1.0.0",
  "name": "bridge",
  "nerdctlID": "17f29b073143d8cd97b5bbe492bdeffec1c5fee55cc1fe2112c8b9335f8b6121",
  "nerdctlLabels": {
    "nerdctl/default-network": "true"
  },
  "plugins": [
    {
      "type": "bridge",
      "bridge": "nerdctl0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "ranges": [
          [
            {
              "gateway": "10.4.0.1",
              "subnet": "10.4.0.0/24"
            }
          ]
        ],
        "routes": [
          {
            "dst": "0.0.0.0/0"
          }
        ],
        "type": "host-local"
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      }
    },
    {
      "type": "firewall",
      "ingressPolicy": "same-bridge"
    },
    {
      "type": "tuning"
    }
  ]
}`

describe('network ids and devices (nerdctl networkID)', () => {
  it('is the hex sha256 of the name', () => {
    expect(networkId('bridge')).toBe('17f29b073143d8cd97b5bbe492bdeffec1c5fee55cc1fe2112c8b9335f8b6121')
    expect(networkId('mynet')).toBe('11c844f95e2862126712e209cd3acbc68c137931c639633da9dfc17b3a464bde')
  })

  it('names the bridge device nerdctl0 for the default network, else br-<id[:12]>', () => {
    expect(bridgeDeviceName('bridge')).toBe('nerdctl0')
    expect(bridgeDeviceName('mynet')).toBe('br-11c844f95e28')
  })
})

describe('validateNetworkName', () => {
  it('accepts Docker-compatible names', () => {
    for (const ok of ['a', 'my-net', 'my_net.1', 'A0', '0net']) expect(() => validateNetworkName(ok), ok).not.toThrow()
  })

  it('refuses malformed names', () => {
    for (const bad of ['', '-net', '.net', '_net', 'my/net', 'my net', '../x', 'né', 'x'.repeat(239)]) {
      expect(() => validateNetworkName(bad), bad).toThrow(InvalidArgumentError)
    }
    expect(() => validateNetworkName('x'.repeat(238))).not.toThrow()
  })

  it('refuses reserved names, bridge only outside the default network', () => {
    for (const reserved of ['host', 'none', 'bridge']) expect(() => validateNetworkName(reserved), reserved).toThrow(/reserved/)
    expect(() => validateNetworkName('bridge', { allowDefault: true })).not.toThrow()
    expect(() => validateNetworkName('host', { allowDefault: true })).toThrow(/reserved/)
  })
})

describe('validateCreateOptions', () => {
  it('accepts a full set of valid options', () => {
    expect(() => validateCreateOptions({ subnet: '10.9.0.0/16', gateway: '10.9.0.254', ipRange: '10.9.1.0/24', labels: { a: 'b' }, mtu: 1400, internal: true })).not.toThrow()
    expect(() => validateCreateOptions({ driver: 'macvlan', parent: 'eth0', subnet: '192.0.2.0/24' })).not.toThrow()
  })

  it('refuses each bad option with a typed error naming it', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ subnett: '10.0.0.0/8' }, /subnet/],
      [{ driver: 'overlay' }, /unsupported network driver/],
      [{ gateway: '10.0.0.1' }, /without subnet/],
      [{ ipRange: '10.0.0.0/24' }, /without subnet/],
      [{ subnet: '10.9.0.0/16', gateway: '10.8.0.1' }, /gateway 10.8.0.1 is not in subnet 10.9.0.0\/16/],
      [{ subnet: '10.9.0.0/16', gateway: '10.9.0.0' }, /network address/],
      [{ subnet: '10.9.0.0/16', gateway: 'nope' }, /failed to parse gateway/],
      [{ subnet: '10.9.0.0/16', ipRange: '10.8.0.0/24' }, /ipRange 10.8.0.0\/24 is not in subnet/],
      [{ subnet: '10.9.0.0/16', ipRange: '10.8.0.0/15' }, /not in subnet/],
      [{ subnet: '10.9.0.1/16' }, /maybe you meant/],
      [{ mtu: 10 }, /mtu/],
      [{ mtu: 1500.5 }, /mtu/],
      [{ parent: 'eth0' }, /macvlan and ipvlan/],
      [{ labels: { a: 1 } }, /label "a" must be a string/],
      [{ labels: { 'nerdctl/default-network': 'true' } }, /marks the default network/],
      [{ internal: 'yes' }, /internal must be a boolean/],
    ]
    for (const [options, message] of bad) {
      expect(() => validateCreateOptions(options as never), JSON.stringify(options)).toThrow(InvalidArgumentError)
      expect(() => validateCreateOptions(options as never), JSON.stringify(options)).toThrow(message)
    }
  })
})

describe('resolveIpamRange (nerdctl parseIPAMRange)', () => {
  it('defaults the gateway to the first address', () => {
    expect(resolveIpamRange(parseSubnet('10.4.0.0/24'))).toEqual({ subnet: '10.4.0.0/24', gateway: '10.4.0.1' })
    expect(resolveIpamRange(parseSubnet('fd00:1::/64'))).toEqual({ subnet: 'fd00:1::/64', gateway: 'fd00:1::1' })
  })

  it('turns an ipRange into rangeStart/rangeEnd, short of the broadcast address', () => {
    expect(resolveIpamRange(parseSubnet('10.9.0.0/16'), '10.9.0.254', '10.9.1.0/24')).toEqual({
      subnet: '10.9.0.0/16',
      gateway: '10.9.0.254',
      ipRange: '10.9.1.0/24',
      rangeStart: '10.9.1.1',
      rangeEnd: '10.9.1.255',
    })
    expect(resolveIpamRange(parseSubnet('10.9.0.0/24'), undefined, '10.9.0.128/25')).toMatchObject({ rangeStart: '10.9.0.129', rangeEnd: '10.9.0.254' })
  })
})

describe('buildNetworkConfig', () => {
  it('writes the default network byte for byte as nerdctl does', () => {
    const config = buildNetworkConfig({
      name: 'bridge',
      driver: 'bridge',
      range: resolveIpamRange(parseSubnet('10.4.0.0/24')),
      family: 4,
      internal: false,
      labels: { 'nerdctl/default-network': 'true' },
    })
    expect(serializeNetworkConfig(config)).toBe(NERDCTL_DEFAULT_NETWORK_FILE)
  })

  it('writes a user bridge network: own device, no nerdctlLabels key without labels, mtu', () => {
    const config = buildNetworkConfig({ name: 'mynet', driver: 'bridge', range: resolveIpamRange(parseSubnet('10.4.1.0/24')), family: 4, internal: false, labels: {}, mtu: 1400 })
    expect(Object.keys(config)).toEqual(['cniVersion', 'name', 'nerdctlID', 'plugins'])
    expect(config.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap', 'firewall', 'tuning'])
    expect(Object.keys(config.plugins[0] ?? {})).toEqual(['type', 'bridge', 'isGateway', 'ipMasq', 'mtu', 'hairpinMode', 'ipam'])
    expect(config.plugins[0]).toMatchObject({ bridge: 'br-11c844f95e28', mtu: 1400 })
  })

  it('sorts labels as a Go map is marshalled', () => {
    const config = buildNetworkConfig({ name: 'l', driver: 'bridge', range: resolveIpamRange(parseSubnet('10.4.1.0/24')), family: 4, internal: false, labels: { z: '1', a: '2' } })
    expect(Object.keys(config['nerdctlLabels'] as object)).toEqual(['a', 'z'])
  })

  it('writes an internal network: no gateway, masquerade, route or portmap', () => {
    const config = buildNetworkConfig({ name: 'inner', driver: 'bridge', range: resolveIpamRange(parseSubnet('10.4.2.0/24')), family: 4, internal: true, labels: {} })
    expect(config.plugins.map((p) => p.type)).toEqual(['bridge', 'firewall', 'tuning'])
    const bridge = config.plugins[0] ?? { type: '' }
    expect(bridge['isGateway']).toBeUndefined()
    expect(bridge['ipMasq']).toBeUndefined()
    expect(bridge['hairpinMode']).toBe(true)
    expect(bridge['ipam']).toEqual({ ranges: [[{ gateway: '10.4.2.1', subnet: '10.4.2.0/24' }]], type: 'host-local' })
  })

  it('writes an IPv6 network with the ips capability and a ::/0 route', () => {
    const config = buildNetworkConfig({ name: 'six', driver: 'bridge', range: resolveIpamRange(parseSubnet('fd00:1::/64')), family: 6, internal: false, labels: {} })
    expect(config.plugins[0]).toMatchObject({ capabilities: { ips: true }, ipam: { routes: [{ dst: '::/0' }] } })
  })

  it('writes macvlan and ipvlan with master (empty when no parent is given, as nerdctl)', () => {
    const mac = buildNetworkConfig({ name: 'mac', driver: 'macvlan', range: resolveIpamRange(parseSubnet('192.0.2.0/24')), family: 4, internal: false, labels: {}, parent: 'eth0' })
    expect(mac.plugins).toEqual([
      { type: 'macvlan', master: 'eth0', ipam: { ranges: [[{ gateway: '192.0.2.1', subnet: '192.0.2.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], type: 'host-local' } },
    ])
    const ip = buildNetworkConfig({ name: 'ipv', driver: 'ipvlan', range: resolveIpamRange(parseSubnet('192.0.2.0/24')), family: 4, internal: false, labels: {} })
    expect(ip.plugins[0]).toMatchObject({ type: 'ipvlan', master: '' })
  })
})

describe('network records', () => {
  it('reads back what the builder writes', () => {
    const config = parseNetworkConfigFile(NERDCTL_DEFAULT_NETWORK_FILE, '/x/nerdctl-bridge.conflist')
    const record = toNetworkRecord(config, '/x/nerdctl-bridge.conflist', undefined)
    expect(record).toMatchObject({
      name: 'bridge',
      id: networkId('bridge'),
      driver: 'bridge',
      subnets: [{ subnet: '10.4.0.0/24', gateway: '10.4.0.1' }],
      internal: false,
      labels: { 'nerdctl/default-network': 'true' },
      bridge: 'nerdctl0',
      isDefault: true,
      managed: true,
      namespace: undefined,
    })
    const inner = buildNetworkConfig({ name: 'inner', driver: 'bridge', range: resolveIpamRange(parseSubnet('10.4.2.0/24'), undefined, '10.4.2.0/25'), family: 4, internal: true, labels: {}, mtu: 9000 })
    expect(toNetworkRecord(inner, 'f', 'ns')).toMatchObject({ internal: true, mtu: 9000, subnets: [{ subnet: '10.4.2.0/24', gateway: '10.4.2.1', ipRange: '10.4.2.0/25' }], isDefault: false, namespace: 'ns' })
  })

  it('reads a hand-written single-plugin .conf as an unmanaged one-plugin network', () => {
    const text = JSON.stringify({ cniVersion: '0.4.0', name: 'mynet', type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true, ipam: { type: 'host-local', subnet: '172.19.0.0/24', routes: [{ dst: '0.0.0.0/0' }] } })
    const record = toNetworkRecord(parseNetworkConfigFile(text, '10-mynet.conf'), '10-mynet.conf', undefined)
    expect(record).toMatchObject({ name: 'mynet', id: undefined, managed: false, driver: 'bridge', bridge: 'cni0', subnets: [{ subnet: '172.19.0.0/24' }], internal: false, isDefault: false })
    expect(record.config.plugins[0]?.type).toBe('bridge')
  })

  it('refuses files that are not network configs', () => {
    expect(() => parseNetworkConfigFile('{', 'a.conflist')).toThrow(InvalidArgumentError)
    expect(() => parseNetworkConfigFile('{"plugins":[]}', 'a.conflist')).toThrow(/no "name"/)
    expect(() => parseNetworkConfigFile('{"name":"x","plugins":[{}]}', 'a.conflist')).toThrow(/"type"/)
    expect(() => parseNetworkConfigFile('{"name":"x"}', 'a.conf')).toThrow(/neither/)
  })
})

describe('selectPrunable', () => {
  const record = (name: string, extra: Partial<NetworkRecord>): NetworkRecord => ({
    name,
    id: networkId(name),
    driver: 'bridge',
    subnets: [],
    internal: false,
    labels: {},
    file: `/etc/cni/net.d/nerdctl-${name}.conflist`,
    config: { cniVersion: '1.0.0', name, plugins: [] },
    isDefault: false,
    managed: true,
    namespace: 'default',
    ...extra,
  })

  it('keeps the default network and networks nerdctl does not manage', () => {
    const records = [
      record('bridge', { isDefault: true }),
      record('relabelled-default', { isDefault: true, labels: { 'nerdctl/default-network': 'true' } }),
      record('foreign', { managed: false, id: undefined }),
      record('a', {}),
      record('b', { internal: true }),
    ]
    expect(selectPrunable(records).map((r) => r.name)).toEqual(['a', 'b'])
  })
})
