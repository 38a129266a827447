import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CanceledError, DeadlineExceededError, FailedPreconditionError } from '../../src/grpc/errors.js'
import { CniError } from '../../src/network/cni/cni-error.js'
import type { CniRuntime } from '../../src/network/cni/cni-options.js'
import { containerAddresses } from '../../src/network/cni/cni-result.js'
import { cachedResult, cniAdd, cniCheck, cniDel, cniVersion } from '../../src/network/cni/cni-runner.js'
import type { CniPluginConfig, NetworkConfigList } from '../../src/network/cni/network-config.js'

// The CNI runner against the real plugins of Debian's containernetworking-plugins (/usr/lib/cni), as
// root, on private bridges, subnets and network namespaces; the containerd daemon of the project is not
// used. What must hold: the container gets its IP, published ports get their DNAT rule, and DEL (or a
// failed ADD) leaves no IP reservation, cache file, iptables rule or per-container chain behind.

const PLUGIN_DIR = '/usr/lib/cni'
const run = randomBytes(3).toString('hex')
let dir: string
const bridges: string[] = []
const netnsFiles: string[] = []
const networkNames: string[] = []
// Third octets of 10.250.x.0/24 not routed on this host, handed out in order.
let octets: number[] = []

function sh(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** A persistent network namespace bind-mounted on a file of the temp dir. */
function makeNetns(name: string): string {
  const path = join(dir, `netns-${name}`)
  execFileSync('touch', [path])
  sh('unshare', [`--net=${path}`, 'true'])
  netnsFiles.push(path)
  return path
}

function removeNetns(path: string): void {
  try {
    sh('umount', [path])
  } catch {
    // Not mounted (already removed by the test).
  }
}

/** The nerdctl-like chain (bridge, portmap, firewall, tuning) on a fresh bridge and subnet. */
function network(tag: string, cniVersion = '1.0.0', extra: CniPluginConfig[] = []): { list: NetworkConfigList; subnet: string; dataDir: string } {
  const octet = octets.shift()
  if (octet === undefined) throw new Error('no free 10.250.x.0/24 subnet left')
  const name = `csdkt-${run}-${tag}`
  const bridge = `csdkt${run}${tag}`.slice(0, 15)
  const subnet = `10.250.${octet}`
  const dataDir = join(dir, 'ipam')
  bridges.push(bridge)
  networkNames.push(name)
  return {
    subnet,
    dataDir,
    list: {
      cniVersion,
      name,
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: `${subnet}.0/24`, gateway: `${subnet}.1` }]], routes: [{ dst: '0.0.0.0/0' }], dataDir },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
        { type: 'firewall' },
        { type: 'tuning' },
        ...extra,
      ],
    },
  }
}

const cacheDir = (): string => join(dir, 'cache')
const options = (): { cacheDir: string; pluginDirs: string[] } => ({ cacheDir: cacheDir(), pluginDirs: [PLUGIN_DIR] })

/** Every iptables (and ip6tables) rule and chain declaration, one per line. */
function rules(): string[] {
  const lines: string[] = []
  for (const tool of ['iptables-save', 'ip6tables-save']) {
    try {
      lines.push(...sh(tool, []).split('\n').filter((l) => l.startsWith('-A') || l.startsWith(':')))
    } catch {
      // ip6tables may be missing: the v4 rules are what the tests look at.
    }
  }
  return lines
}

// Chains the plugins create once per host and share between containers: not ours to remove.
const SHARED_CHAINS = new Set(['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK', 'CNI-FORWARD', 'CNI-ADMIN'])

/** The rules mentioning the container (its id in a comment, or its IP), and the per-container chains they use. */
function footprint(containerId: string, ip: string | undefined): { lines: string[]; chains: Set<string> } {
  const all = rules()
  // Comments name the container (iptables-save escapes their quotes: id: \"<id>\"); ids here are unique to the run.
  const mentions = (l: string): boolean => l.includes(containerId) || (ip !== undefined && new RegExp(`[ :/]${ip.replace(/\./g, '\\.')}[/: ]`).test(` ${l} `))
  const lines = all.filter((l) => l.startsWith('-A') && mentions(l))
  const chains = new Set<string>()
  for (const l of lines) {
    for (const m of l.matchAll(/(?:-A|-j) (CNI-[\w-]+)/g)) if (!SHARED_CHAINS.has(m[1] as string)) chains.add(m[1] as string)
  }
  return { lines, chains }
}

function chainExists(chain: string): boolean {
  return rules().some((l) => l.startsWith(`:${chain} `))
}

async function ipFiles(dataDir: string, networkName: string): Promise<string[]> {
  try {
    return (await readdir(join(dataDir, networkName))).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))
  } catch {
    return []
  }
}

function addrsInNetns(netns: string): string {
  return sh('nsenter', [`--net=${netns}`, 'ip', '-o', 'addr', 'show'])
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csdk-cni-it-'))
  const routed = sh('ip', ['-4', 'route', 'show']) + sh('ip', ['-4', 'addr', 'show'])
  const start = 1 + (randomBytes(1)[0] as number) % 200
  for (let i = 0; i < 50 && octets.length < 10; i++) {
    const octet = start + i
    if (!routed.includes(`10.250.${octet}.`)) octets.push(octet)
  }
})

afterAll(async () => {
  for (const path of netnsFiles) removeNetns(path)
  for (const bridge of bridges) {
    try {
      sh('ip', ['link', 'del', bridge])
    } catch {
      // Never created (the test failed before), or already gone.
    }
  }
  sweepRules()
  octets = []
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** A safety net: deletes rules whose comment names one of our networks, then our now-empty chains. */
function sweepRules(): void {
  for (const [save, tool] of [['iptables-save', 'iptables'], ['ip6tables-save', 'ip6tables']] as const) {
    let text: string
    try {
      text = sh(save, [])
    } catch {
      continue
    }
    let table = ''
    const chains = new Set<string>()
    for (const line of text.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1)
      if (!line.startsWith('-A') || !networkNames.some((n) => line.includes(n))) continue
      for (const m of line.matchAll(/(?:-A|-j) (CNI-[\w-]+)/g)) if (!SHARED_CHAINS.has(m[1] as string)) chains.add(`${table} ${m[1] as string}`)
      try {
        sh('sh', ['-c', `${tool} -t ${table} ${line.replace(/^-A/, '-D')}`])
      } catch {
        // Gone already.
      }
    }
    for (const entry of chains) {
      const [t, chain] = entry.split(' ') as [string, string]
      try {
        sh(tool, ['-t', t, '-F', chain])
        sh(tool, ['-t', t, '-X', chain])
      } catch {
        // Still referenced, or gone.
      }
    }
  }
}

describe('CNI runner with the real plugins', () => {
  it('VERSION: bridge speaks 1.0.0, 0.4.0 and 0.3.1', async () => {
    const info = await cniVersion('bridge', options())
    expect(info.supportedVersions).toEqual(expect.arrayContaining(['0.3.1', '0.4.0', '1.0.0']))
  })

  it('ADD, CHECK, DEL and DEL again, leaving nothing behind', async () => {
    const { list, subnet, dataDir } = network('a')
    const netns = makeNetns('a')
    const hostPort = 20_000 + ((randomBytes(2).readUInt16BE(0) % 20_000))
    const runtime: CniRuntime = {
      containerId: `csdkt-${run}-a`,
      netns,
      ifName: 'eth0',
      args: [['IgnoreUnknown', '1']],
      capabilityArgs: { portMappings: [{ hostPort, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }] },
    }
    const result = await cniAdd(list, runtime, options())
    const { ipv4, mac } = containerAddresses(result, 'eth0')
    const ip = ipv4[0]?.ip as string
    expect(ip.startsWith(`${subnet}.`)).toBe(true)
    expect(ipv4[0]?.prefixLength).toBe(24)
    expect(mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/)
    expect(addrsInNetns(netns)).toMatch(new RegExp(`eth0\\s+inet ${ip.replace(/\./g, '\\.')}/24`))
    expect(await ipFiles(dataDir, list.name)).toEqual([ip])
    expect((await cachedResult(list, runtime, options()))?.result).toEqual(result)

    // The published port: a DNAT rule to the container on 127.0.0.1.
    const nat = sh('iptables', ['-t', 'nat', '-S'])
    expect(nat).toContain(`-d 127.0.0.1/32 -p tcp -m tcp --dport ${hostPort} -j DNAT --to-destination ${ip}:80`)
    const added = footprint(runtime.containerId, ip)
    // bridge's masquerade chain and portmap's DNAT chain at least.
    expect(added.chains.size).toBeGreaterThanOrEqual(2)

    // CHECK. Debian bookworm's portmap (plugins 1.1.1) fails CHECK of an IPv4-only mapping on a host with
    // ip6tables, looking for an IPv6 chain it never made (containernetworking/plugins#819, fixed in 1.3):
    // that one failure is accepted, and must come back as the plugin's own error.
    await cniCheck(list, runtime, options()).catch((err: unknown) => {
      expect(err).toBeInstanceOf(CniError)
      expect(err).toMatchObject({ plugin: 'portmap', command: 'CHECK' })
      expect((err as CniError).msg).toMatch(/ipv6/)
    })
    // Without a published port, every plugin's CHECK passes.
    await cniCheck(list, { ...runtime, capabilityArgs: {} }, options())

    await cniDel(list, runtime, options())
    expect(await ipFiles(dataDir, list.name)).toEqual([])
    expect(existsSync(join(cacheDir(), 'results', `${list.name}-${runtime.containerId}-eth0`))).toBe(false)
    expect(footprint(runtime.containerId, ip).lines).toEqual([])
    for (const chain of added.chains) expect(chainExists(chain), chain).toBe(false)
    expect(addrsInNetns(netns)).not.toContain('eth0')

    // DEL again: nothing cached, nothing to remove; still a success.
    await cniDel(list, runtime, options())
    expect(footprint(runtime.containerId, ip).lines).toEqual([])
  })

  it('DEL after the network namespace was removed succeeds and leaves nothing behind', async () => {
    const { list, dataDir } = network('b')
    const netns = makeNetns('b')
    const runtime: CniRuntime = {
      containerId: `csdkt-${run}-b`,
      netns,
      ifName: 'eth0',
      capabilityArgs: { portMappings: [{ hostPort: 20_000 + ((randomBytes(2).readUInt16BE(0) % 20_000)), containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }] },
    }
    const ip = containerAddresses(await cniAdd(list, runtime, options()), 'eth0').ipv4[0]?.ip as string
    const added = footprint(runtime.containerId, ip)
    expect(added.chains.size).toBeGreaterThanOrEqual(2)
    // What a killed container leaves: the bind mount gone, its target a plain file (nerdctl #1872).
    removeNetns(netns)
    // The caller no longer has the port mappings: the cached ones are used.
    await cniDel(list, { containerId: runtime.containerId, netns, ifName: 'eth0' }, options())
    expect(await ipFiles(dataDir, list.name)).toEqual([])
    expect(existsSync(join(cacheDir(), 'results', `${list.name}-${runtime.containerId}-eth0`))).toBe(false)
    // bridge finds the addresses to unmasquerade on the container's interface; with the namespace gone
    // the runner removes its masquerade rules: nothing is left, as after a DEL with the namespace.
    expect(footprint(runtime.containerId, ip).lines).toEqual([])
    for (const chain of added.chains) expect(chainExists(chain), chain).toBe(false)
  })

  it('a missing plugin is a CniError naming the package, and nothing is left', async () => {
    const { list, dataDir } = network('c', '1.0.0', [{ type: 'csdk-no-such-plugin' }])
    const netns = makeNetns('c')
    const runtime: CniRuntime = { containerId: `csdkt-${run}-c`, netns, ifName: 'eth0' }
    const err = await cniAdd(list, runtime, options()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CniError)
    expect(err).toBeInstanceOf(FailedPreconditionError)
    expect((err as Error).message).toContain("install Debian's containernetworking-plugins package")
    expect((err as Error).message).toContain(PLUGIN_DIR)
    expect(await ipFiles(dataDir, list.name)).toEqual([])
    expect(footprint(runtime.containerId, undefined).lines).toEqual([])
    expect(addrsInNetns(netns)).not.toContain('eth0')
  })

  it('a plugin failing mid-chain rolls the ADD back: no IP, no rules, no cache', async () => {
    const { list, dataDir, subnet } = network('d')
    // tuning runs last: bridge, portmap and firewall have done their work when it fails.
    list.plugins[3] = { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.csdk_no_such_sysctl': '1' } }
    const netns = makeNetns('d')
    const runtime: CniRuntime = {
      containerId: `csdkt-${run}-d`,
      netns,
      ifName: 'eth0',
      capabilityArgs: { portMappings: [{ hostPort: 20_000 + ((randomBytes(2).readUInt16BE(0) % 20_000)), containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }] },
    }
    const err = await cniAdd(list, runtime, options()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CniError)
    expect(err).toMatchObject({ plugin: 'tuning', command: 'ADD', network: list.name })
    expect((err as Error).message).toMatch(/^CNI plugin tuning failed ADD on network csdkt-/)
    expect(await ipFiles(dataDir, list.name)).toEqual([])
    expect(existsSync(join(cacheDir(), 'results', `${list.name}-${runtime.containerId}-eth0`))).toBe(false)
    expect(footprint(runtime.containerId, undefined).lines).toEqual([])
    expect(rules().filter((l) => l.includes(`${subnet}.`))).toEqual([])
    expect(addrsInNetns(netns)).not.toContain('eth0')
  })

  for (const version of ['0.4.0', '0.3.1']) {
    it(`a cniVersion ${version} list works too`, async () => {
      const tag = version === '0.4.0' ? 'e' : 'f'
      const { list, subnet, dataDir } = network(tag, version)
      const netns = makeNetns(tag)
      const runtime: CniRuntime = { containerId: `csdkt-${run}-${tag}`, netns, ifName: 'eth0' }
      if (version === '0.3.1') {
        // firewall speaks 0.4.0 and later only: its error result (code 1) comes back typed, after the rollback.
        const err = await cniAdd(list, runtime, options()).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(FailedPreconditionError)
        expect(err).toMatchObject({ plugin: 'firewall', command: 'ADD', cniCode: 1 })
        expect((err as CniError).msg).toMatch(/incompatible CNI versions/)
        expect(await ipFiles(dataDir, list.name)).toEqual([])
        expect(rules().filter((l) => l.includes(`${subnet}.`) || l.includes(runtime.containerId))).toEqual([])
        list.plugins = list.plugins.filter((p) => p.type !== 'firewall')
      }
      const result = await cniAdd(list, runtime, options())
      expect(result.cniVersion).toBe(version)
      const ip = containerAddresses(result, 'eth0').ipv4[0]?.ip as string
      expect(ip.startsWith(`${subnet}.`)).toBe(true)
      expect(result.ips?.[0]?.version).toBe('4')
      expect(addrsInNetns(netns)).toContain(`inet ${ip}/24`)
      if (version === '0.4.0') await cniCheck(list, runtime, options())
      else await expect(cniCheck(list, runtime, options())).rejects.toThrow(/CHECK needs 0.4.0/)
      await cniDel(list, runtime, options())
      expect(await ipFiles(dataDir, list.name)).toEqual([])
      expect(footprint(runtime.containerId, ip).lines).toEqual([])
    })
  }

  describe('a plugin that hangs', () => {
    let fakeDir: string
    let pidFile: string
    beforeAll(async () => {
      fakeDir = join(dir, 'fake-bin')
      pidFile = join(dir, 'sleepy.pid')
      await mkdir(fakeDir)
      // Hangs on ADD (exec: the sleep is the plugin's own process), succeeds at once on DEL.
      await writeFile(join(fakeDir, 'csdk-sleepy'), `#!/bin/sh\ncat >/dev/null\nif [ "$CNI_COMMAND" = ADD ]; then echo $$ > ${pidFile}; exec sleep 120; fi\nexit 0\n`)
      await chmod(join(fakeDir, 'csdk-sleepy'), 0o755)
    })

    function isGone(pid: number): boolean {
      try {
        process.kill(pid, 0)
        return false
      } catch {
        return true
      }
    }

    for (const how of ['timeout', 'abort'] as const) {
      it(`is killed on ${how}, and the ADD is rolled back`, async () => {
        const tag = how === 'timeout' ? 'g' : 'h'
        const { list, dataDir, subnet } = network(tag, '1.0.0', [{ type: 'csdk-sleepy' }])
        const netns = makeNetns(tag)
        const runtime: CniRuntime = { containerId: `csdkt-${run}-${tag}`, netns, ifName: 'eth0' }
        await rm(pidFile, { force: true })
        const controller = new AbortController()
        const pending = cniAdd(list, runtime, { cacheDir: cacheDir(), pluginDirs: [fakeDir, PLUGIN_DIR], ...(how === 'timeout' ? { timeoutMs: 8_000 } : { signal: controller.signal }) }).catch(
          (e: unknown) => e,
        )
        if (how === 'abort') {
          // Bounded wait for the sleepy plugin to start, then abort.
          for (let i = 0; i < 300 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50))
          controller.abort(new Error('test aborts'))
        }
        const err = await pending
        expect(err).toBeInstanceOf(how === 'timeout' ? DeadlineExceededError : CanceledError)
        if (how === 'abort') expect((err as CanceledError).cause).toEqual(new Error('test aborts'))
        const pid = Number((await readFile(pidFile, 'utf8')).trim())
        expect(isGone(pid)).toBe(true)
        expect(await ipFiles(dataDir, list.name)).toEqual([])
        expect(footprint(runtime.containerId, undefined).lines).toEqual([])
        expect(rules().filter((l) => l.includes(`${subnet}.`))).toEqual([])
      })
    }
  })
})
