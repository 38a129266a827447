import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import {
  cidrContains,
  cidrContainsCidr,
  cidrsOverlap,
  findFreeSubnet,
  firstHost,
  formatCidr,
  formatIp,
  lastAddress,
  nextSubnet,
  parseCidr,
  parseIp,
  parseSubnet,
} from '../../../src/network/subnet.js'

const ip = (text: string) => {
  const parsed = parseIp(text)
  if (parsed === undefined) throw new Error(`bad test address ${text}`)
  return parsed
}

describe('IP addresses', () => {
  it('parses and prints IPv4', () => {
    expect(ip('10.4.0.1')).toEqual({ family: 4, value: 0x0a040001n })
    expect(formatIp(ip('255.255.255.255'))).toBe('255.255.255.255')
    expect(formatIp(ip('0.0.0.0'))).toBe('0.0.0.0')
  })

  it('refuses malformed IPv4', () => {
    for (const bad of ['10.4.0', '10.4.0.256', '10.4.0.01', '10.4.0.1.2', 'a.b.c.d', '', ' 10.0.0.1', '10.0.0.-1']) {
      expect(parseIp(bad), bad).toBeUndefined()
    }
  })

  it('parses IPv6 and prints it as Go does (RFC 5952)', () => {
    const cases: [string, string][] = [
      ['fd00::1', 'fd00::1'],
      ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
      ['::', '::'],
      ['::1', '::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
      ['fe80::', 'fe80::'],
      ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ]
    for (const [input, printed] of cases) expect(formatIp(ip(input)), input).toBe(printed)
    expect(ip('::1').family).toBe(6)
  })

  it('refuses malformed IPv6', () => {
    for (const bad of ['fd00:::1', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', 'fd00::g', 'fe80::1%eth0', '12345::', ':1:2:3:4:5:6:7']) {
      expect(parseIp(bad), bad).toBeUndefined()
    }
  })
})

describe('CIDR blocks', () => {
  it('parses a subnet and prints it back', () => {
    expect(formatCidr(parseSubnet('10.4.1.0/24'))).toBe('10.4.1.0/24')
    expect(formatCidr(parseSubnet('fd00:1::/64'))).toBe('fd00:1::/64')
    expect(formatCidr(parseSubnet('0.0.0.0/0'))).toBe('0.0.0.0/0')
  })

  it('refuses host bits, naming the subnet meant, and malformed text', () => {
    expect(() => parseSubnet('10.4.1.5/24')).toThrow(InvalidArgumentError)
    expect(() => parseSubnet('10.4.1.5/24')).toThrow(/maybe you meant "10.4.1.0\/24"/)
    for (const bad of ['10.4.1.0', '10.4.1.0/33', 'fd00::/129', '10.4.1.0/-1', '10.4.1.0/024', 'x/24']) {
      expect(() => parseSubnet(bad), bad).toThrow(InvalidArgumentError)
    }
    // parseCidr (used for interface addresses) keeps the address and clears the host bits.
    expect(formatCidr(parseCidr('192.0.2.2/24')?.cidr ?? parseSubnet('0.0.0.0/0'))).toBe('192.0.2.0/24')
  })

  it('gives the first host (nerdctl default gateway) and last address', () => {
    expect(formatIp(firstHost(parseSubnet('10.4.0.0/24')))).toBe('10.4.0.1')
    expect(formatIp(lastAddress(parseSubnet('10.4.0.0/24')))).toBe('10.4.0.255')
    expect(formatIp(firstHost(parseSubnet('fd00::/64')))).toBe('fd00::1')
    expect(formatIp(firstHost(parseSubnet('10.0.0.7/32')))).toBe('10.0.0.7')
  })

  it('tests containment without crossing families', () => {
    const net = parseSubnet('10.4.0.0/16')
    expect(cidrContains(net, ip('10.4.255.255'))).toBe(true)
    expect(cidrContains(net, ip('10.5.0.0'))).toBe(false)
    expect(cidrContains(net, ip('::a04:1'))).toBe(false)
    expect(cidrContainsCidr(net, parseSubnet('10.4.3.0/24'))).toBe(true)
    expect(cidrContainsCidr(parseSubnet('10.4.3.0/24'), net)).toBe(false)
    expect(cidrContainsCidr(parseSubnet('10.4.3.0/24'), parseSubnet('10.4.4.0/25'))).toBe(false)
  })

  it('detects overlap both ways, and never across families', () => {
    expect(cidrsOverlap(parseSubnet('10.4.0.0/16'), parseSubnet('10.4.7.0/24'))).toBe(true)
    expect(cidrsOverlap(parseSubnet('10.4.7.0/24'), parseSubnet('10.4.0.0/16'))).toBe(true)
    expect(cidrsOverlap(parseSubnet('10.4.7.0/24'), parseSubnet('10.4.8.0/24'))).toBe(false)
    expect(cidrsOverlap(parseSubnet('0.0.0.0/0'), parseSubnet('::/0'))).toBe(false)
    expect(cidrsOverlap(parseSubnet('fd00::/8'), parseSubnet('fd12:3456::/32'))).toBe(true)
  })

  it('steps to the next block of the same size', () => {
    expect(formatCidr(nextSubnet(parseSubnet('10.4.255.0/24')) ?? parseSubnet('0.0.0.0/0'))).toBe('10.5.0.0/24')
    expect(formatCidr(nextSubnet(parseSubnet('10.4.0.0/20')) ?? parseSubnet('0.0.0.0/0'))).toBe('10.4.16.0/20')
    expect(nextSubnet(parseSubnet('255.255.255.0/24'))).toBeUndefined()
    expect(nextSubnet(parseSubnet('0.0.0.0/0'))).toBeUndefined()
  })
})

describe('findFreeSubnet (nerdctl GetFreeSubnet)', () => {
  const start = parseSubnet('10.4.1.0/24')
  const free = (used: string[]) => {
    const found = findFreeSubnet(start, used.map((u) => parseSubnet(u)))
    return found === undefined ? undefined : formatCidr(found)
  }

  it('takes the start when nothing is used', () => {
    expect(free([])).toBe('10.4.1.0/24')
    expect(free(['10.4.0.0/24', '192.0.2.0/24', 'fd00::/64'])).toBe('10.4.1.0/24')
  })

  it('takes the first gap', () => {
    expect(free(['10.4.1.0/24', '10.4.2.0/24', '10.4.4.0/24'])).toBe('10.4.3.0/24')
  })

  it('skips past a larger used block in one step', () => {
    expect(free(['10.4.0.0/16'])).toBe('10.5.0.0/24')
    expect(free(['10.0.0.0/8'])).toBe('11.0.0.0/24')
  })

  it('skips a smaller block inside a candidate', () => {
    expect(free(['10.4.1.128/25'])).toBe('10.4.2.0/24')
  })

  it('goes on past 10.4.255.0/24 as nerdctl does', () => {
    const used = Array.from({ length: 255 }, (_, i) => `10.4.${i + 1}.0/24`)
    expect(free(used)).toBe('10.5.0.0/24')
  })

  it('reports exhaustion', () => {
    expect(findFreeSubnet(parseSubnet('255.255.254.0/24'), [parseSubnet('255.255.254.0/23')])).toBeUndefined()
  })
})
