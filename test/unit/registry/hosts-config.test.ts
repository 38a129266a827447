import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  findHostDirectory,
  hostDirectoryNames,
  isInsecure,
  resolveRegistryHosts,
  type RegistryHost,
} from '../../../src/registry/hosts-config.js'
import { RegistryError } from '../../../src/registry/registry-error.js'

// A throwaway self-signed P-256 certificate and its key, only for these tests.
const CERT = `-----BEGIN CERTIFICATE-----
MIIBiDCCAS2gAwIBAgIUbl0vDEBbPIMkX1y3xN7MtBoVzGIwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNcmVnaXN0cnktdGVzdDAgFw0yNjExMjMxODUxMDlaGA8yMTI2
MTAzMDE4NTEwOVowGDEWMBQGA1UEAwwNcmVnaXN0cnktdGVzdDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABBfsSJYClLsH6DYFOjQaEB/8fcukfD/Z4lwGNjA8acg6
f/egrwvR4TDePv6L+CnTBBJ0MlmC40IDrp9oB9e5ko6jUzBRMB0GA1UdDgQWBBQb
odIjZnL9+fWyNi7UQdrtWn7zdDAfBgNVHSMEGDAWgBQbodIjZnL9+fWyNi7UQdrt
Wn7zdDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQC400BG9OxR
Ke72d7cINPcLHWZkzyCL/vIr/30fqxClsQIhAMr12vp3KjnrL7DQqdYwu5ki2cqT
VV5ArzD/Btv5a3Jl
-----END CERTIFICATE-----
`
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg4mrZJ8cV6jgOSNZR
Uhosl+gQy+8g/+XxZ2yOwj9++Y2hRANCAAQX7EiWApS7B+g2BTo0GhAf/H3LpHw/
2eJcBjYwPGnIOn/3oK8L0eEw3j7+i/gp0wQSdDJZguNCA66faAfXuZKO
-----END PRIVATE KEY-----
`

let root: string
let containerdDir: string
let dockerDir: string
let dirs: string[]

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'csdk-hosts-'))
  containerdDir = join(root, 'containerd', 'certs.d')
  dockerDir = join(root, 'docker', 'certs.d')
  await mkdir(containerdDir, { recursive: true })
  await mkdir(dockerDir, { recursive: true })
  dirs = [containerdDir, dockerDir]
})

afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

async function hostDir(base: string, name: string, files: Record<string, string> = {}): Promise<string> {
  const dir = join(base, name)
  await mkdir(dir, { recursive: true })
  for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content)
  return dir
}

// The plain-data view of a host, for compact expectations.
function summary(host: RegistryHost): Record<string, unknown> {
  return {
    url: host.url.href,
    capabilities: [...host.capabilities].sort(),
    rejectUnauthorized: host.tls.rejectUnauthorized,
    plainHttpFallback: host.plainHttpFallback,
  }
}

const ALL = ['pull', 'push', 'referrers', 'resolve']

describe('default hosts', () => {
  it('Docker Hub is served by registry-1.docker.io', async () => {
    const hosts = await resolveRegistryHosts('docker.io', { configDirs: dirs })
    expect(hosts.map(summary)).toEqual([
      { url: 'https://registry-1.docker.io/v2', capabilities: ALL, rejectUnauthorized: true, plainHttpFallback: false },
    ])
    expect(hosts[0]?.tls).toEqual({ rejectUnauthorized: true })
    expect(hosts[0]?.headers).toEqual({})
    expect(hosts[0]?.overridePath).toBe(false)
  })

  it('other registries use HTTPS at their own name', async () => {
    const hosts = await resolveRegistryHosts('ghcr.io', { configDirs: dirs })
    expect(hosts.map(summary)).toEqual([{ url: 'https://ghcr.io/v2', capabilities: ALL, rejectUnauthorized: true, plainHttpFallback: false }])
  })

  it('the default config dirs are containerd then docker', async () => {
    const { DEFAULT_CONFIG_DIRS } = await import('../../../src/registry/hosts-config.js')
    expect(DEFAULT_CONFIG_DIRS).toEqual(['/etc/containerd/certs.d', '/etc/docker/certs.d'])
  })

  it.each([
    // On a non-standard port: try HTTPS without verification, fall back to HTTP.
    ['localhost:5000', 'https://localhost:5000/v2', false, true],
    ['127.0.0.1:5000', 'https://127.0.0.1:5000/v2', false, true],
    ['[::1]:5000', 'https://[::1]:5000/v2', false, true],
    ['127.1.2.3:8080', 'https://127.1.2.3:8080/v2', false, true],
    // Without a port or on 443: HTTPS only, without verification.
    ['localhost', 'https://localhost/v2', false, false],
    ['localhost:443', 'https://localhost/v2', false, false],
    ['::1', 'https://[::1]/v2', false, false],
    // Port 80 is unambiguous: plain HTTP.
    ['localhost:80', 'http://localhost/v2', true, false],
  ])('%s → %s (verify %s, HTTP fallback %s)', async (name, url, rejectUnauthorized, plainHttpFallback) => {
    const hosts = await resolveRegistryHosts(name, { configDirs: dirs })
    expect(hosts.map(summary)).toEqual([{ url, capabilities: ALL, rejectUnauthorized, plainHttpFallback }])
  })

  it('a name that merely starts with localhost is not local', async () => {
    const hosts = await resolveRegistryHosts('localhost.example.com:5000', { configDirs: dirs })
    expect(hosts.map(summary)).toEqual([
      { url: 'https://localhost.example.com:5000/v2', capabilities: ALL, rejectUnauthorized: true, plainHttpFallback: false },
    ])
  })

  it('rejects malformed registry names', async () => {
    for (const name of ['', 'a/b', 'has space']) {
      await expect(resolveRegistryHosts(name, { configDirs: dirs })).rejects.toMatchObject({ code: 'InvalidReference' })
    }
  })
})

describe('host directory lookup', () => {
  it('names: host_port_, then host, then _default', () => {
    expect(hostDirectoryNames('r.example.com:5000')).toEqual(['r.example.com_5000_', 'r.example.com:5000', '_default'])
    expect(hostDirectoryNames('r.example.com')).toEqual(['r.example.com', '_default'])
  })

  it('prefers host_port_ over host:port over _default', async () => {
    await hostDir(containerdDir, '_default')
    expect(await findHostDirectory('r.example.com:5000', dirs)).toBe(join(containerdDir, '_default'))
    await hostDir(containerdDir, 'r.example.com:5000')
    expect(await findHostDirectory('r.example.com:5000', dirs)).toBe(join(containerdDir, 'r.example.com:5000'))
    await hostDir(containerdDir, 'r.example.com_5000_')
    expect(await findHostDirectory('r.example.com:5000', dirs)).toBe(join(containerdDir, 'r.example.com_5000_'))
  })

  it('falls back to the next config dir, where the first has no match at all', async () => {
    await hostDir(dockerDir, 'r.example.com')
    expect(await findHostDirectory('r.example.com', dirs)).toBe(join(dockerDir, 'r.example.com'))
  })

  it('the first config dir with any match wins, _default included (as in nerdctl)', async () => {
    await hostDir(containerdDir, '_default')
    await hostDir(dockerDir, 'r.example.com')
    expect(await findHostDirectory('r.example.com', dirs)).toBe(join(containerdDir, '_default'))
  })

  it('ignores a file where a directory is expected, and missing config dirs', async () => {
    await writeFile(join(containerdDir, 'r.example.com'), 'not a dir')
    expect(await findHostDirectory('r.example.com', [join(root, 'missing'), ...dirs])).toBeUndefined()
  })
})

describe('hosts.toml', () => {
  it('mirrors come first and the upstream last', async () => {
    await hostDir(containerdDir, 'docker.io', {
      'hosts.toml': `
server = "https://registry-1.docker.io"

[host."https://mirror.example.com"]
  capabilities = ["pull", "resolve"]
  [host."https://mirror.example.com".header]
    x-mirror-token = "abc"

[host."https://prefix.example.com/v2/dockerhub"]
  capabilities = ["pull"]
  override_path = true
  dial_timeout = "2s"
`,
    })
    const hosts = await resolveRegistryHosts('docker.io', { configDirs: dirs })
    expect(hosts.map(summary)).toEqual([
      { url: 'https://mirror.example.com/v2', capabilities: ['pull', 'resolve'], rejectUnauthorized: true, plainHttpFallback: false },
      { url: 'https://prefix.example.com/v2/dockerhub', capabilities: ['pull'], rejectUnauthorized: true, plainHttpFallback: false },
      { url: 'https://registry-1.docker.io/v2', capabilities: ALL, rejectUnauthorized: true, plainHttpFallback: false },
    ])
    expect(hosts[0]?.headers).toEqual({ 'x-mirror-token': ['abc'] })
    expect(hosts[1]?.overridePath).toBe(true)
    expect(hosts[1]?.dialTimeoutMs).toBe(2000)
  })

  it('without server the upstream defaults apply, with top-level TLS settings', async () => {
    await hostDir(containerdDir, 'r.example.com', { 'hosts.toml': 'skip_verify = true\ncapabilities = ["pull"]\n' })
    const hosts = await resolveRegistryHosts('r.example.com', { configDirs: dirs })
    // containerd gives the default upstream every capability regardless of the top-level list.
    expect(hosts.map(summary)).toEqual([{ url: 'https://r.example.com/v2', capabilities: ALL, rejectUnauthorized: false, plainHttpFallback: false }])
  })

  it('a _default hosts.toml applies to any registry', async () => {
    await hostDir(containerdDir, '_default', { 'hosts.toml': '[host."https://cache.internal"]\ncapabilities = ["pull", "resolve"]\n' })
    const hosts = await resolveRegistryHosts('quay.io', { configDirs: dirs })
    expect(hosts.map((h) => h.url.href)).toEqual(['https://cache.internal/v2', 'https://quay.io/v2'])
  })

  it('an http host with TLS settings is tried over HTTPS first, with HTTP fallback', async () => {
    await hostDir(containerdDir, 'r.example.com', {
      'hosts.toml': `
[host."http://a.internal:5000"]
  skip_verify = true
[host."http://b.internal:80"]
  skip_verify = true
[host."http://c.internal:5000"]
`,
    })
    const hosts = await resolveRegistryHosts('r.example.com', { configDirs: dirs })
    expect(hosts.map(summary).slice(0, 3)).toEqual([
      { url: 'https://a.internal:5000/v2', capabilities: ALL, rejectUnauthorized: false, plainHttpFallback: true },
      { url: 'http://b.internal/v2', capabilities: ALL, rejectUnauthorized: false, plainHttpFallback: false },
      { url: 'http://c.internal:5000/v2', capabilities: ALL, rejectUnauthorized: true, plainHttpFallback: false },
    ])
  })

  it('loads CA and client certificates, relative to the host directory', async () => {
    const dir = await hostDir(containerdDir, 'r.example.com', {
      'hosts.toml': 'server = "https://r.example.com"\nca = "ca.pem"\nclient = [["client.cert", "client.key"]]\n',
      'ca.pem': CERT,
      'client.cert': CERT,
      'client.key': KEY,
    })
    const [host] = await resolveRegistryHosts('r.example.com', { configDirs: dirs })
    // Only the configured CA: the HTTP layer adds Node's roots when it builds the agent.
    expect(host?.tls.ca?.map(String)).toEqual([CERT])
    expect(host?.tls.cert?.toString()).toBe(CERT)
    expect(host?.tls.key?.toString()).toBe(KEY)
    expect(host?.tls.rejectUnauthorized).toBe(true)
    expect(dir).toBe(join(containerdDir, 'r.example.com'))
  })

  it('a client file without a key file holds both', async () => {
    await hostDir(containerdDir, 'r.example.com', { 'hosts.toml': 'client = "both.pem"\n', 'both.pem': CERT + KEY })
    const [host] = await resolveRegistryHosts('r.example.com', { configDirs: dirs })
    expect(host?.tls.cert?.toString()).toBe(CERT + KEY)
    expect(host?.tls.key?.toString()).toBe(CERT + KEY)
  })

  it('several client pairs: the first is used and a warning says so', async () => {
    await hostDir(containerdDir, 'r.example.com', {
      'hosts.toml': 'client = ["one.pem", "two.pem"]\n',
      'one.pem': CERT + KEY,
      'two.pem': CERT + KEY,
    })
    const warnings: RegistryError[] = []
    const [host] = await resolveRegistryHosts('r.example.com', { configDirs: dirs, onWarning: (w) => warnings.push(w) })
    expect(host?.tls.cert).toBeDefined()
    expect(warnings.map((w) => w.message)).toEqual([expect.stringContaining('only the first client certificate')])
  })

  it.each([
    ['a missing CA file', 'ca = "nope.pem"\n', {}],
    ['a CA file that is not PEM', 'ca = "ca.pem"\n', { 'ca.pem': 'garbage' }],
    ['a missing key file', 'client = [["c.pem", "k.pem"]]\n', { 'c.pem': CERT }],
  ])('%s is InvalidConfig', async (_name, toml, files: Record<string, string>) => {
    await hostDir(containerdDir, 'r.example.com', { 'hosts.toml': toml, ...files })
    await expect(resolveRegistryHosts('r.example.com', { configDirs: dirs })).rejects.toMatchObject({ code: 'InvalidConfig' })
  })

  it('an unusable private key is InvalidConfig without the key material', async () => {
    const badKey = '-----BEGIN PRIVATE KEY-----\nTm90QVJlYWxLZXlCdXRTZWNyZXRNYXRlcmlhbA==\n-----END PRIVATE KEY-----\n'
    await hostDir(containerdDir, 'r.example.com', { 'hosts.toml': 'client = [["c.pem", "k.pem"]]\n', 'c.pem': CERT, 'k.pem': badKey })
    const err = await resolveRegistryHosts('r.example.com', { configDirs: dirs }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).message).toContain('k.pem')
    expect((err as RegistryError).message).not.toContain('Tm90QVJlYWxLZXlC')
    expect((err as RegistryError).cause).toBeUndefined()
  })

  it('a hosts.toml that does not parse is reported and the certificate files are used, as containerd does', async () => {
    await hostDir(containerdDir, 'r.example.com', { 'hosts.toml': '[host."https://mirror"\nbroken', 'ca.crt': CERT })
    const warnings: RegistryError[] = []
    const hosts = await resolveRegistryHosts('r.example.com', { configDirs: dirs, onWarning: (w) => warnings.push(w) })
    expect(hosts.map((h) => h.url.href)).toEqual(['https://r.example.com/v2'])
    expect(hosts[0]?.tls.ca?.[0]?.toString()).toBe(CERT)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]?.code).toBe('InvalidConfig')
    expect(warnings[0]?.message).toContain('hosts.toml ignored')
  })

  it('an empty hosts.toml falls back to the certificate files', async () => {
    await hostDir(containerdDir, 'r.example.com', { 'hosts.toml': '\n', 'ca.crt': CERT })
    const [host] = await resolveRegistryHosts('r.example.com', { configDirs: dirs })
    expect(host?.tls.ca?.[0]?.toString()).toBe(CERT)
  })
})

describe('Docker certificate directory layout', () => {
  it('*.crt are CAs, *.cert with a matching *.key are client pairs', async () => {
    await hostDir(dockerDir, 'r.example.com:5000', {
      'b.crt': CERT,
      'a.crt': CERT,
      'client.cert': CERT,
      'client.key': KEY,
      'unrelated.key': 'ignored',
      'README': 'ignored',
    })
    const hosts = await resolveRegistryHosts('r.example.com:5000', { configDirs: dirs })
    expect(hosts.map(summary)).toEqual([
      { url: 'https://r.example.com:5000/v2', capabilities: ALL, rejectUnauthorized: true, plainHttpFallback: false },
    ])
    expect(hosts[0]?.tls.ca).toHaveLength(2)
    expect(hosts[0]?.tls.cert?.toString()).toBe(CERT)
    expect(hosts[0]?.tls.key?.toString()).toBe(KEY)
  })

  it('a .cert without .key must hold the key itself', async () => {
    await hostDir(dockerDir, 'r.example.com', { 'client.cert': CERT + KEY })
    const [host] = await resolveRegistryHosts('r.example.com', { configDirs: dirs })
    expect(host?.tls.key?.toString()).toBe(CERT + KEY)
    await writeFile(join(dockerDir, 'r.example.com', 'client.cert'), CERT)
    await expect(resolveRegistryHosts('r.example.com', { configDirs: dirs })).rejects.toMatchObject({ code: 'InvalidConfig' })
  })

  it('certificates for Docker Hub go with registry-1.docker.io', async () => {
    await hostDir(dockerDir, 'docker.io', { 'ca.crt': CERT })
    const [host] = await resolveRegistryHosts('docker.io', { configDirs: dirs })
    expect(host?.url.href).toBe('https://registry-1.docker.io/v2')
    expect(host?.tls.ca?.[0]?.toString()).toBe(CERT)
  })

  it('CA files on a local registry on port 80 switch nothing: it stays HTTP', async () => {
    await hostDir(containerdDir, 'localhost:80', { 'ca.crt': CERT })
    const [host] = await resolveRegistryHosts('localhost:80', { configDirs: dirs })
    expect(summary(host as RegistryHost)).toMatchObject({ url: 'http://localhost/v2', plainHttpFallback: false })
  })
})

describe('insecure registries', () => {
  it('skip verification and allow HTTP fallback on every host', async () => {
    await hostDir(containerdDir, 'r.example.com:5000', { 'hosts.toml': '[host."https://mirror.example.com"]\n' })
    const hosts = await resolveRegistryHosts('r.example.com:5000', { configDirs: dirs, insecure: ['r.example.com:5000'] })
    expect(hosts.map(summary)).toEqual([
      { url: 'https://mirror.example.com/v2', capabilities: ALL, rejectUnauthorized: false, plainHttpFallback: true },
      { url: 'https://r.example.com:5000/v2', capabilities: ALL, rejectUnauthorized: false, plainHttpFallback: true },
    ])
  })

  it('do not affect other registries', async () => {
    const [host] = await resolveRegistryHosts('other.example.com', { configDirs: dirs, insecure: ['r.example.com'] })
    expect(summary(host as RegistryHost)).toMatchObject({ rejectUnauthorized: true, plainHttpFallback: false })
  })

  it.each([
    ['r.example.com:5000', ['r.example.com:5000'], true],
    ['r.example.com:5000', ['R.Example.com'], true],
    ['r.example.com:5000', ['r.example.com:6000'], false],
    ['r.example.com', ['r.example.com:5000'], false],
    ['r.example.com:5000', ['http://r.example.com:5000/'], true],
    ['10.1.2.3:5000', ['10.0.0.0/8'], true],
    ['10.1.2.3', ['192.168.0.0/16'], false],
    ['[fd00::1]:5000', ['fd00::/8'], true],
    ['r.example.com', ['10.0.0.0/8'], false],
    ['r.example.com', ['10.0.0.0/99', ''], false],
  ])('%s in %j → %s', (name, list, expected) => {
    expect(isInsecure(name, list)).toBe(expected)
  })
})
