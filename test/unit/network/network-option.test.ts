import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { networkLabelValues, parseNetworkOption } from '../../../src/network/network-option.js'

describe('parseNetworkOption', () => {
  it('defaults to the bridge network', () => {
    expect(parseNetworkOption(undefined)).toEqual({ kind: 'networks', names: ['bridge'] })
  })
  it('reads the modes', () => {
    expect(parseNetworkOption('none')).toEqual({ kind: 'none' })
    expect(parseNetworkOption('host')).toEqual({ kind: 'host' })
    expect(parseNetworkOption('container:web')).toEqual({ kind: 'container', target: 'web' })
    expect(parseNetworkOption('ns:/run/netns/x')).toEqual({ kind: 'ns', path: '/run/netns/x' })
  })
  it('reads one or more network names', () => {
    expect(parseNetworkOption('appnet')).toEqual({ kind: 'networks', names: ['appnet'] })
    expect(parseNetworkOption(['appnet', 'other'])).toEqual({ kind: 'networks', names: ['appnet', 'other'] })
  })
  it('refuses bad values', () => {
    expect(() => parseNetworkOption([])).toThrow(InvalidArgumentError)
    expect(() => parseNetworkOption('')).toThrow(InvalidArgumentError)
    expect(() => parseNetworkOption(['host', 'appnet'])).toThrow(/cannot be combined/)
    expect(() => parseNetworkOption('container:')).toThrow(/container name/)
    expect(() => parseNetworkOption('ns:relative')).toThrow(/absolute path/)
    expect(() => parseNetworkOption(['a', 'a'])).toThrow(/twice/)
  })
  it('gives the nerdctl/networks label values', () => {
    expect(networkLabelValues({ kind: 'networks', names: ['a', 'b'] })).toEqual(['a', 'b'])
    expect(networkLabelValues({ kind: 'container', target: 'web' }, 'abc')).toEqual(['container:abc'])
    expect(networkLabelValues({ kind: 'host' })).toEqual(['host'])
  })
})
