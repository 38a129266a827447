import { describe, it, expect } from 'vitest'
import { parseGoDuration, parseHostsToml, type HostSpec } from '../../../src/registry/hosts-toml.js'
import { RegistryError } from '../../../src/registry/registry-error.js'

const all = new Set(['pull', 'resolve', 'push', 'referrers'])

function spec(partial: Partial<HostSpec>): HostSpec {
  return { path: '/v2', capabilities: new Set(all) as HostSpec['capabilities'], headers: {}, overridePath: false, ...partial }
}

describe('parseHostsToml', () => {
  it('parses the containerd documentation example in file order, server last', () => {
    const text = `
server = "https://test-default.registry"
ca = "/etc/path/default"
[header]
  x-custom-1 = "custom header"

[host."https://mirror.registry"]
  capabilities = ["pull"]
  ca = "/etc/certs/mirror.pem"
  skip_verify = false
  [host."https://mirror.registry".header]
    x-custom-2 = ["value1", "value2"]

[host."https://mirror-bak.registry/us"]
  capabilities = ["pull"]
  skip_verify = true

[host."http://mirror.registry"]
  capabilities = ["pull"]

[host."https://test-1.registry"]
  capabilities = ["pull", "resolve", "push"]
  ca = ["/etc/certs/test-1-ca.pem", "special.pem"]
  client = [["/etc/certs/client.cert", "/etc/certs/client.key"],["/etc/certs/client.pem", ""]]

[host."https://test-2.registry"]
  client = "/etc/certs/client.pem"

[host."https://test-3.registry"]
  client = ["client-1.pem", "/etc/certs/client-2.pem"]

[host."https://noncompliantmirror.registry/v2/namespaceprefix"]
  capabilities = ["pull"]
  override_path = true

[host."https://noprefixnoncompliant.registry"]
  override_path = true

[host."https://onlyheader.registry".header]
  x-custom-1 = "justaheader"

[host."https://dial-timeout.registry"]
  dial_timeout = "3s"
`
    const pull = new Set(['pull']) as HostSpec['capabilities']
    expect(parseHostsToml(text, '/etc/containerd/certs.d/test.registry')).toEqual([
      spec({
        scheme: 'https',
        host: 'mirror.registry',
        capabilities: pull,
        caFiles: ['/etc/certs/mirror.pem'],
        skipVerify: false,
        headers: { 'x-custom-2': ['value1', 'value2'] },
      }),
      spec({ scheme: 'https', host: 'mirror-bak.registry', path: '/us/v2', capabilities: pull, skipVerify: true }),
      spec({ scheme: 'http', host: 'mirror.registry', capabilities: pull }),
      spec({
        scheme: 'https',
        host: 'test-1.registry',
        capabilities: new Set(['pull', 'resolve', 'push']) as HostSpec['capabilities'],
        caFiles: ['/etc/certs/test-1-ca.pem', '/etc/containerd/certs.d/test.registry/special.pem'],
        clientPairs: [{ cert: '/etc/certs/client.cert', key: '/etc/certs/client.key' }, { cert: '/etc/certs/client.pem' }],
      }),
      spec({ scheme: 'https', host: 'test-2.registry', clientPairs: [{ cert: '/etc/certs/client.pem' }] }),
      spec({
        scheme: 'https',
        host: 'test-3.registry',
        clientPairs: [{ cert: '/etc/containerd/certs.d/test.registry/client-1.pem' }, { cert: '/etc/certs/client-2.pem' }],
      }),
      spec({ scheme: 'https', host: 'noncompliantmirror.registry', path: '/v2/namespaceprefix', capabilities: pull, overridePath: true }),
      spec({ scheme: 'https', host: 'noprefixnoncompliant.registry', path: '', overridePath: true }),
      spec({ scheme: 'https', host: 'onlyheader.registry', headers: { 'x-custom-1': ['justaheader'] } }),
      spec({ scheme: 'https', host: 'dial-timeout.registry', dialTimeoutMs: 3000 }),
      spec({ scheme: 'https', host: 'test-default.registry', caFiles: ['/etc/path/default'], headers: { 'x-custom-1': ['custom header'] } }),
    ])
  })

  it('without server, the last entry is the default upstream (no host)', () => {
    const specs = parseHostsToml('[host."https://mirror.example.com"]\ncapabilities = ["pull", "resolve"]\n', '/d')
    expect(specs).toHaveLength(2)
    expect(specs[1]).toEqual(spec({}))
    expect(specs[1]?.host).toBeUndefined()
  })

  it('an empty document is just the default upstream', () => {
    expect(parseHostsToml('# nothing\n', '/d')).toEqual([spec({})])
  })

  it.each([
    ['registry.example.com', 'https', 'registry.example.com', '/v2'],
    ['registry.example.com:5000', 'https', 'registry.example.com:5000', '/v2'],
    ['http://registry.example.com:80', 'http', 'registry.example.com:80', '/v2'],
    ['HTTPS://Registry.example.com/', 'https', 'Registry.example.com', '/v2'],
    ['https://r.example.com/v2', 'https', 'r.example.com', '/v2'],
    ['https://r.example.com/v2/', 'https', 'r.example.com', '/v2'],
    ['https://r.example.com/a/../b//c/', 'https', 'r.example.com', '/b/c/v2'],
    ['https://[::1]:5000', 'https', '[::1]:5000', '/v2'],
  ])('server %s → %s://%s%s', (server, scheme, host, path) => {
    const [only] = parseHostsToml(`server = "${server}"`, '/d')
    expect(only).toMatchObject({ scheme, host, path })
  })

  it('capability names are case-insensitive and an empty list means all', () => {
    const [a, b] = parseHostsToml('[host."https://a"]\ncapabilities = ["PULL", "Resolve"]\n[host."https://b"]\ncapabilities = []\n', '/d')
    expect(a?.capabilities).toEqual(new Set(['pull', 'resolve']))
    expect(b?.capabilities).toEqual(all)
  })

  it('keeps hosts in document order even when a sub-table comes first', () => {
    const specs = parseHostsToml('[host."https://b".header]\nx = "1"\n[host."https://a"]\n[host."https://b"]\nskip_verify = true\n', '/d')
    expect(specs.map((s) => s.host)).toEqual(['b', 'a', undefined])
    expect(specs[0]).toMatchObject({ skipVerify: true, headers: { x: ['1'] } })
  })

  it.each([
    ['bad TOML', 'server = "x'],
    ['unknown capability', '[host."https://a"]\ncapabilities = ["fly"]'],
    ['capabilities not a list', '[host."https://a"]\ncapabilities = "pull"'],
    ['ca of the wrong type', 'ca = 1'],
    ['ca list with a number', 'ca = ["a", 2]'],
    ['client pair of three', 'client = [["a", "b", "c"]]'],
    ['client of the wrong type', 'client = true'],
    ['skip_verify not a boolean', 'skip_verify = "yes"'],
    ['override_path not a boolean', 'override_path = 1'],
    ['header value of the wrong type', '[header]\nx = 1'],
    ['header not a table', 'header = "x"'],
    ['server not a string', 'server = 1'],
    ['unsupported scheme', 'server = "ftp://r.example.com"'],
    ['server without host', 'server = "https:///v2"'],
    ['bad dial_timeout', 'dial_timeout = "soon"'],
    ['host not a table', 'host = 1'],
  ])('rejects %s as InvalidConfig', (_name, text) => {
    let thrown: unknown
    try {
      parseHostsToml(text, '/d')
    } catch (err) {
      thrown = err
    }
    expect(thrown).toBeInstanceOf(RegistryError)
    expect((thrown as RegistryError).code).toBe('InvalidConfig')
  })

  it('syntax errors give line and column but never the text (headers may hold tokens)', () => {
    const text = '[header]\nauthorization = "Bearer sekrit-token-123"\nbroken = \n'
    let thrown: unknown
    try {
      parseHostsToml(text, '/d')
    } catch (err) {
      thrown = err
    }
    const err = thrown as RegistryError
    expect(err.message).toMatch(/line 3/)
    expect(err.message).not.toContain('sekrit')
    expect(err.cause).toBeUndefined()
  })

  it('type errors in headers name the header, not its value', () => {
    expect(() => parseHostsToml('[header]\nauthorization = ["ok", 5]\n', '/d')).toThrow(/header "authorization"/)
  })
})

describe('parseGoDuration', () => {
  it.each([
    ['3s', 3000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['0', 0],
    ['250us', 0.25],
  ])('%s → %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms)
  })

  it.each(['', '3', 's', '3 s', '-1s', '3x'])('rejects %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined()
  })
})
