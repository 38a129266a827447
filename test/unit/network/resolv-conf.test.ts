import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { buildResolvConf, parseResolvConf, readHostResolvConf, writeResolvConf } from '../../../src/network/resolv-conf.js'

const host = ['# generated', 'search corp.example lab.example', 'nameserver 127.0.0.53', 'nameserver 10.0.0.2 # office', 'nameserver ::1', 'nameserver 2001:db8::53', 'options edns0 trust-ad', ''].join('\n')

describe('parseResolvConf', () => {
  it('reads nameservers, the last search and options lines, without comments', () => {
    expect(parseResolvConf(`${host}search last.example\n; comment\nnameserver fe80::1%eth0\n`)).toEqual({
      nameservers: ['127.0.0.53', '10.0.0.2', '::1', '2001:db8::53', 'fe80::1%eth0'],
      search: ['last.example'],
      options: ['edns0', 'trust-ad'],
    })
  })
})

describe('buildResolvConf', () => {
  it('keeps the host search and options and its non-loopback IPv4 nameservers, as nerdctl does', () => {
    expect(buildResolvConf(host)).toBe('search corp.example lab.example\nnameserver 10.0.0.2\noptions edns0 trust-ad\n')
  })

  it('falls back to 8.8.8.8 and 8.8.4.4 when only loopback servers are left, keeping search and options', () => {
    const local = 'nameserver 127.0.0.1\nnameserver 127.1.2.3\nnameserver ::1\nsearch x.example\noptions ndots:3\n'
    expect(buildResolvConf(local)).toBe('search x.example\nnameserver 8.8.8.8\nnameserver 8.8.4.4\noptions ndots:3\n')
    expect(buildResolvConf(undefined)).toBe('nameserver 8.8.8.8\nnameserver 8.8.4.4\n')
    expect(buildResolvConf('')).toBe('nameserver 8.8.8.8\nnameserver 8.8.4.4\n')
  })

  it('lets each of dns, dnsSearch and dnsOptions replace its own part only', () => {
    expect(buildResolvConf(host, { dns: ['1.1.1.1', '2606:4700:4700::1111'] })).toBe(
      'search corp.example lab.example\nnameserver 1.1.1.1\nnameserver 2606:4700:4700::1111\noptions edns0 trust-ad\n',
    )
    expect(buildResolvConf(host, { dnsSearch: ['svc.local'] })).toBe('search svc.local\nnameserver 10.0.0.2\noptions edns0 trust-ad\n')
    expect(buildResolvConf(host, { dnsOptions: ['ndots:1', 'timeout:2'] })).toBe(
      'search corp.example lab.example\nnameserver 10.0.0.2\noptions ndots:1 timeout:2\n',
    )
    // A caller's loopback server is the caller's choice: kept.
    expect(buildResolvConf(host, { dns: ['127.0.0.11'] })).toContain('nameserver 127.0.0.11\n')
    // Empty lists mean "not given".
    expect(buildResolvConf(host, { dns: [], dnsSearch: [''] })).toBe(buildResolvConf(host))
  })

  it('writes no search line for a search list of "."', () => {
    expect(buildResolvConf(host, { dnsSearch: ['.'] })).toBe('nameserver 10.0.0.2\noptions edns0 trust-ad\n')
  })

  it('rejects a dns entry that is not an address and values with white space', () => {
    expect(() => buildResolvConf(host, { dns: ['dns.google'] })).toThrow(InvalidArgumentError)
    expect(() => buildResolvConf(host, { dnsSearch: ['a b'] })).toThrow(/white space/)
    expect(() => buildResolvConf(host, { dnsOptions: ['ndots:1\nnameserver 6.6.6.6'] })).toThrow(InvalidArgumentError)
  })
})

describe('writeResolvConf', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'csdk-resolv-'))
  })
  afterAll(async () => rm(dir, { recursive: true, force: true }))

  it('writes <stateDir>/resolv.conf, world-readable, from the given host file', async () => {
    const hostFile = join(dir, 'host-resolv.conf')
    await writeFile(hostFile, host)
    const path = await writeResolvConf(dir, { hostResolvConf: hostFile, dns: ['9.9.9.9'] })
    expect(path).toBe(join(dir, 'resolv.conf'))
    expect(await readFile(path, 'utf8')).toBe('search corp.example lab.example\nnameserver 9.9.9.9\noptions edns0 trust-ad\n')
    expect((await stat(path)).mode & 0o777).toBe(0o644)
    // Rewritten in place: the inode a bind mount pins stays.
    const before = (await stat(path)).ino
    await writeResolvConf(dir, { hostResolvConf: hostFile })
    expect((await stat(path)).ino).toBe(before)
    expect(await readFile(path, 'utf8')).toBe('search corp.example lab.example\nnameserver 10.0.0.2\noptions edns0 trust-ad\n')
  })

  it('treats a missing host file as empty', async () => {
    await writeResolvConf(dir, { hostResolvConf: join(dir, 'missing') })
    expect(await readFile(join(dir, 'resolv.conf'), 'utf8')).toBe('nameserver 8.8.8.8\nnameserver 8.8.4.4\n')
    expect(await readHostResolvConf(join(dir, 'missing'))).toBeUndefined()
  })
})
