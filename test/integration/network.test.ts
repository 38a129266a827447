// Container networking end to end with Debian's real CNI plugins and iptables, mirroring nerdctl's
// networking tests (cmd/nerdctl/container/container_run_network_linux_test.go, network/*_test.go):
// published ports, chosen host ports, ports in use, name lookup on user networks, container: mode,
// internal networks, many containers at once, stop/start, the restart monitor, and nothing left after
// removal. Traffic goes only to ports published on 127.0.0.1, or from inside containers.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { Client, ConflictError, FailedPreconditionError, InvalidArgumentError, NotFoundError, type DetachedRun, type RunOptions } from '../../src/index.js'
import { NETNS_LABEL, planContainerNetwork, releaseOrphanNetworks } from '../../src/network/container-network.js'
import { createNetns, netnsPrefix, removeNetns } from '../../src/network/netns.js'
import { daemonKey } from '../../src/nerdctl/data-store.js'
import { connectTestClient, daemonAddress, daemonLine } from '../env/test-client.js'
import { runnableBusybox } from '../env/runnable-image.js'
import { freePort } from '../env/registry/free-port.js'

const base = await connectTestClient('network')
const IMAGE = 'docker.io/library/busybox:network'
// Each line's tests run beside the others' (their own CNI conf dirs): user networks get subnets of their own.
const LINE_OCTET = ({ '1.6': 61, '1.7': 71, '2.x': 72 } as Record<string, number>)[daemonLine()] ?? 79
const suffix = `${daemonLine().replace('.', '')}${Math.floor(Math.random() * 1e4)}`
let client: Client
let dataRoot: string

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'csdk-network-'))
  client = await Client.connect({ address: daemonAddress(), namespace: base.namespace, dataRoot })
  await runnableBusybox(client, IMAGE)
})
afterAll(async () => {
  for (const c of await client.containers.list()) await c.remove({ force: true }).catch(() => undefined)
  await client.networks.prune().catch(() => undefined)
  client.close()
  await rm(dataRoot, { recursive: true, force: true })
})

/** busybox httpd serving /etc on `port` in the container, detached. */
async function startWeb(options: Omit<RunOptions, 'detach'> = {}): Promise<DetachedRun> {
  return client.run(IMAGE, { args: ['httpd', '-f', '-p', '8080', '-h', '/etc'], ...options, detach: true })
}

/** GETs a URL until it answers (bounded: 15 s, for a loaded machine), returning status and body. */
async function fetchSoon(url: string, timeoutMs = 15_000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (let i = 0; i < 500 && Date.now() < deadline; i++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) })
      return { status: res.status, body: await res.text() }
    } catch (err) {
      last = err
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${String(last)}`)
}

/** What a container left on the host: its netns, host-local IP files, iptables lines naming it. */
function leftovers(namespace: string, id: string, netns: string | undefined, ip: string | undefined): string[] {
  const found: string[] = []
  if (netns !== undefined && existsSync(netns)) found.push(`netns ${netns}`)
  const fullId = `${namespace}-${id}`
  const ipam = '/var/lib/cni/networks'
  if (existsSync(ipam)) {
    for (const net of readdirSync(ipam)) {
      for (const file of readdirSync(join(ipam, net))) {
        const path = join(ipam, net, file)
        try {
          if (readFileSync(path, 'utf8').startsWith(fullId)) found.push(`ip file ${path}`)
        } catch {
          // a lock file or one removed meanwhile
        }
      }
    }
  }
  const rules = execFileSync('iptables-save', { encoding: 'utf8' }).split('\n')
  for (const line of rules) {
    if (line.includes(fullId) || (ip !== undefined && new RegExp(`\\b${ip.replace(/\./g, '\\.')}\\b`).test(line))) found.push(`iptables ${line}`)
  }
  return found
}

describe('published ports', () => {
  it('serves a published port on 127.0.0.1, shows it in ports() and inspect(), and leaves nothing after removal', async () => {
    const port = await freePort()
    const web = await startWeb({ name: `web-${suffix}`, ports: [`127.0.0.1:${port}:8080`] })
    const info = await web.info()
    const inspect = await web.inspect()
    const ip = inspect.NetworkSettings.IPAddress
    expect(ip).toMatch(/^10\.4\.0\.\d+$/)
    expect(inspect.NetworkSettings.Networks['bridge']?.IPAddress).toBe(ip)
    expect(inspect.NetworkSettings.Ports['8080/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(port) }])
    expect(await web.ports()).toEqual([{ HostPort: port, ContainerPort: 8080, Protocol: 'tcp', HostIP: '127.0.0.1' }])
    const res = await fetchSoon(`http://127.0.0.1:${port}/passwd`)
    expect(res.status).toBe(200)
    expect(res.body).toContain('root:x:0:0')
    const netns = info.labels[NETNS_LABEL]
    expect(netns).toBeDefined()
    expect(leftovers(client.namespace, web.id, netns, ip)).not.toEqual([])
    // The host learned the container's MAC for its address (the fetch went there)...
    const mac = inspect.NetworkSettings.MacAddress
    const neighbour = (): string => execFileSync('ip', ['neigh', 'show', ip], { encoding: 'utf8' })
    expect(neighbour()).toContain(mac)
    await web.remove({ force: true })
    expect(leftovers(client.namespace, web.id, netns, ip)).toEqual([])
    // ...and forgot it at removal: the address's next owner has another MAC (neighbour-flush.ts).
    expect(neighbour()).not.toContain(mac)
  })

  it("chooses a free host port for '8080' and serves on it", async () => {
    await using web = await startWeb({ ports: ['127.0.0.1::8080'] })
    const [mapping] = await web.ports()
    expect(mapping?.HostPort).toBeGreaterThan(1024)
    expect((await fetchSoon(`http://127.0.0.1:${String(mapping?.HostPort)}/group`)).status).toBe(200)
  })

  it('refuses a host port in use before anything is made', async () => {
    const server: Server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    try {
      const before = (await client.containers.list()).length
      const name = `busy-${suffix}`
      await expect(startWeb({ name, ports: [`127.0.0.1:${port}:8080`] })).rejects.toBeInstanceOf(ConflictError)
      expect((await client.containers.list()).length).toBe(before)
      // The name was not taken.
      await using again = await startWeb({ name, ports: [`127.0.0.1:${await freePort()}:8080`] })
      expect(again.name).toBe(name)
    } finally {
      await new Promise((r) => server.close(r))
    }
  })

  it('refuses a host port another container publishes', async () => {
    const port = await freePort()
    await using first = await startWeb({ ports: [`127.0.0.1:${port}:8080`] })
    expect(first.id).toHaveLength(64)
    await expect(startWeb({ ports: [`127.0.0.1:${port}:8080`] })).rejects.toBeInstanceOf(ConflictError)
  })

  it('refuses bad input with typed errors and makes nothing', async () => {
    const before = (await client.containers.list()).length
    await expect(startWeb({ ports: ['70000:80'] })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(startWeb({ ports: ['8080:80/icmp'] })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(startWeb({ network: `no-such-net-${suffix}` })).rejects.toBeInstanceOf(NotFoundError)
    await expect(startWeb({ network: 'host', ports: ['8080'] })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(startWeb({ network: ['host', 'bridge'] })).rejects.toBeInstanceOf(InvalidArgumentError)
    expect((await client.containers.list()).length).toBe(before)
  })

  it('rolls back a failed plugin: nothing left, the run rejects with the plugin named', async () => {
    const emptyPluginDir = await mkdtemp(join(tmpdir(), 'csdk-no-plugins-'))
    const broken = await Client.connect({
      address: daemonAddress(),
      namespace: client.namespace,
      dataRoot,
      network: { cniPluginDirs: [emptyPluginDir] },
    })
    try {
      const before = (await client.containers.list()).length
      const err = await broken.run(IMAGE, { detach: true, args: ['sleep', '30'] }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Error)
      expect(String((err as Error).message)).toMatch(/containernetworking-plugins/)
      expect((await client.containers.list()).length).toBe(before)
      const netnsDir = '/run/netns'
      const prefix = netnsPrefix(daemonKey(client.address), client.namespace)
      const mine = existsSync(netnsDir) ? readdirSync(netnsDir).filter((f) => f.startsWith(prefix)) : []
      for (const f of mine) {
        // Only running containers of this file may have one.
        const id = f.slice(prefix.length)
        expect((await client.containers.list()).map((c) => c.id)).toContain(id)
      }
    } finally {
      broken.close()
      await rm(emptyPluginDir, { recursive: true, force: true })
    }
  })
})

describe('crash consistency', () => {
  it('containers.prune() detaches a namespace a killed run attached before its record existed', async () => {
    const id = randomBytes(32).toString('hex')
    const stateDir = join(dataRoot, 'orphan-state')
    await mkdir(stateDir, { recursive: true })
    // What run() does before the record exists: plan and attach (the create runs beside it).
    const plan = await planContainerNetwork(client, { id, name: `orphan-${suffix}`, stateDir, dataStore: client.dataStore, choice: { kind: 'networks', names: ['bridge'] }, ports: ['127.0.0.1::8080'] })
    const [attachment] = await plan.attach().attached
    const netns = plan.labels[NETNS_LABEL] as string
    expect(leftovers(client.namespace, id, netns, attachment?.ipAddress)).not.toEqual([])
    // A young one may be a run on its way: kept.
    await client.containers.prune()
    expect(existsSync(netns)).toBe(true)
    // prune() waits a minute (the namespace's own creation time, which cannot be backdated): the same sweep with no wait.
    expect(await releaseOrphanNetworks(client, 0)).toEqual([id])
    expect(leftovers(client.namespace, id, netns, attachment?.ipAddress)).toEqual([])
  })
})

describe('attachments with no cached result (a run killed inside the plugin chain, before the cache write)', () => {
  const dropCache = (id: string): void => rmSync(join('/var/lib/cni/results', `bridge-${client.namespace}-${id}-eth0`))

  it('containers.prune() releases the address, the port rules and the firewall rules from what names the container', async () => {
    const id = randomBytes(32).toString('hex')
    const stateDir = join(dataRoot, 'uncached-orphan-state')
    await mkdir(stateDir, { recursive: true })
    const plan = await planContainerNetwork(client, { id, name: `uncached-${suffix}`, stateDir, dataStore: client.dataStore, choice: { kind: 'networks', names: ['bridge'] }, ports: ['127.0.0.1::8080'] })
    const [attachment] = await plan.attach().attached
    const netns = plan.labels[NETNS_LABEL] as string
    dropCache(id)
    expect(leftovers(client.namespace, id, netns, attachment?.ipAddress)).not.toEqual([])
    expect(await releaseOrphanNetworks(client, 0)).toEqual([id])
    expect(leftovers(client.namespace, id, netns, attachment?.ipAddress)).toEqual([])
  })

  it('remove() of a container whose cached result is gone leaves nothing either', async () => {
    const web = await startWeb({ ports: ['127.0.0.1::8080'] })
    const info = await web.info()
    const netns = info.labels[NETNS_LABEL]
    const ip = (await web.inspect()).NetworkSettings.IPAddress
    dropCache(web.id)
    await web.remove({ force: true })
    expect(leftovers(client.namespace, web.id, netns, ip)).toEqual([])
  })
})

describe('network namespaces of other daemons and stacked mounts', () => {
  it("containers.prune() leaves another daemon's namespaces alone, even under the same containerd namespace name", async () => {
    const other = join('/run/netns', `${netnsPrefix('0000beef', client.namespace)}${randomBytes(32).toString('hex')}`)
    await mkdir('/run/netns', { recursive: true })
    writeFileSync(other, '')
    try {
      utimesSync(other, new Date(0), new Date(0))
      expect(await releaseOrphanNetworks(client, 0)).not.toContain(other.slice(-64))
      expect(existsSync(other)).toBe(true)
    } finally {
      rmSync(other, { force: true })
    }
  })

  it('removes a namespace mounted more than once', async () => {
    const path = join(dataRoot, 'stacked-netns')
    await createNetns(path)
    execFileSync('mount', ['--bind', path, path])
    await removeNetns(path)
    expect(existsSync(path)).toBe(false)
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(path)
  })
})

describe('user networks', () => {
  const n0 = `n0-${suffix}`
  const n1 = `n1-${suffix}`
  beforeAll(async () => {
    await client.networks.create(n0, { subnet: `10.${LINE_OCTET}.10.0/24` })
    await client.networks.create(n1, { subnet: `10.${LINE_OCTET}.11.0/24` })
  })

  it('lists, inspects and refuses to remove a network in use', async () => {
    const names = (await client.networks.list()).map((n) => n.name)
    expect(names).toEqual(expect.arrayContaining([n0, n1]))
    await using web = await startWeb({ network: n0, name: `inuse-${suffix}` })
    const inspect = await client.networks.inspect(n0)
    expect(inspect.IPAM.Config[0]?.Subnet).toBe(`10.${LINE_OCTET}.10.0/24`)
    expect(inspect.Containers[web.id]?.Name).toBe(`inuse-${suffix}`)
    expect(inspect.Containers[web.id]?.IPv4Address).toMatch(new RegExp(`^10\\.${LINE_OCTET}\\.10\\.\\d+/24$`))
    await expect(client.networks.remove(n0)).rejects.toThrow(FailedPreconditionError)
    await expect(client.networks.remove(n0)).rejects.toThrow(/is in use/)
  })

  it('resolves names and name.<network> on one network, not across networks (TestRunHostLookup)', async () => {
    await using a = await startWeb({ network: n0, name: `a-${suffix}`, hostname: 'a-foobar' })
    // A resolver nobody answers (loopback): names not in /etc/hosts fail at once instead of waiting on DNS.
    await using b = await startWeb({ network: n0, name: `b-${suffix}`, dns: ['127.0.0.1'] })
    await using c = await startWeb({ network: n1, name: `c-${suffix}` })
    expect([a.id, b.id, c.id]).toHaveLength(3)
    const probe = async (target: string): Promise<number> => {
      // (busybox-static's wget crashes with -T: the exec's own deadline bounds it instead.)
      const exec = await b.exec({ args: ['wget', '-q', '-O', '/dev/null', `http://${target}:8080/passwd`] })
      return (await exec.output({ timeoutMs: 10_000 })).exitCode
    }
    expect(await probe(`a-${suffix}`)).toBe(0)
    expect(await probe(`a-${suffix}.${n0}`)).toBe(0)
    expect(await probe('a-foobar')).toBe(0)
    expect(await probe(`c-${suffix}`)).not.toBe(0)
    expect(await probe(`c-${suffix}.${n1}`)).not.toBe(0)
  })

  it('a run refused for a name in use leaves no namespace, address or hosts entry, and the name still resolves to its owner', async () => {
    await using a = await startWeb({ network: n0, name: `owner-${suffix}` })
    const ownerIp = (await a.inspect()).NetworkSettings.Networks[n0]?.IPAddress
    const addresses = (): string[] => readdirSync(join('/var/lib/cni/networks', n0)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))
    const prefix = netnsPrefix(daemonKey(daemonAddress()), base.namespace)
    const namespaces = (): string[] => readdirSync('/run/netns').filter((f) => f.startsWith(prefix))
    const before = { addresses: addresses(), namespaces: namespaces() }
    // The network is attached while the name is reserved: the refusal undoes the attach.
    await expect(startWeb({ network: n0, name: `owner-${suffix}` })).rejects.toBeInstanceOf(ConflictError)
    expect({ addresses: addresses(), namespaces: namespaces() }).toEqual(before)
    const hosts = await (await a.exec({ args: ['cat', '/etc/hosts'] })).output({ timeoutMs: 10_000 })
    const named = (hosts.stdout ?? '').split('\n').filter((l) => l.split(/\s+/).includes(`owner-${suffix}`))
    expect(named.map((l) => l.split(/\s+/)[0])).toEqual([ownerIp])
  })

  it('gives a static ip and joins several networks in order', async () => {
    await using web = await startWeb({ network: [n0, n1], ip: `10.${LINE_OCTET}.10.77` })
    const inspect = await web.inspect()
    expect(inspect.NetworkSettings.IPAddress).toBe(`10.${LINE_OCTET}.10.77`)
    expect(inspect.NetworkSettings.Networks[n1]?.IPAddress).toMatch(new RegExp(`^10\\.${LINE_OCTET}\\.11\\.`))
    const out = await (await web.exec({ args: ['cat', '/proc/net/dev'] })).output()
    expect(out.stdout).toMatch(/eth0:/)
    expect(out.stdout).toMatch(/eth1:/)
  })

  it('an internal network has no route out', async () => {
    const internal = `in-${suffix}`
    await client.networks.create(internal, { subnet: `10.${LINE_OCTET}.12.0/24`, internal: true })
    try {
      // /proc/net/route: destination and mask in little-endian hex; a default route has destination 00000000.
      const { stdout } = await client.run(IMAGE, { network: internal, args: ['cat', '/proc/net/route'], stdio: 'pipe', rm: true })
      const routes = (stdout ?? '').trim().split('\n').slice(1).map((l) => l.split(/\s+/))
      expect(routes.length).toBeGreaterThan(0)
      expect(routes.filter((r) => r[1] === '00000000')).toEqual([])
    } finally {
      await client.networks.remove(internal)
    }
  })

  it('removing a network leaves no rule naming its bridge (the firewall plugin\'s isolation rules)', async () => {
    const name = `fw-${suffix}`
    const created = await client.networks.create(name, { subnet: `10.${LINE_OCTET}.14.0/24` })
    const bridge = created.bridge as string
    await client.run(IMAGE, { network: name, args: ['true'], rm: true })
    const rules = (): string[] => execFileSync('iptables-save', { encoding: 'utf8' }).split('\n').filter((l) => l.includes(` ${bridge} `))
    expect(rules()).not.toEqual([])
    await client.networks.remove(name)
    expect(rules()).toEqual([])
  })

  it('gives containers on an IPv6 network addresses there, in inspect() and on their eth0, and they reach each other', async () => {
    const name = `v6-${suffix}`
    const subnet = `fd00:${LINE_OCTET}:17::/64`
    await client.networks.create(name, { subnet })
    let address = ''
    try {
      expect((await client.networks.inspect(name)).IPAM.Config[0]?.Subnet).toBe(subnet)
      await using web = await startWeb({ network: name })
      const endpoint = (await web.inspect()).NetworkSettings.Networks[name]
      expect(endpoint?.GlobalIPv6Address).toMatch(new RegExp(`^fd00:${LINE_OCTET}:17::`))
      expect(endpoint?.GlobalIPv6PrefixLen).toBe(64)
      address = endpoint?.GlobalIPv6Address as string
      // /proc/net/if_inet6: the address as 32 hex digits, ifindex, prefix length (hex), scope, flags, name.
      const shown = await (await web.exec({ args: ['cat', '/proc/net/if_inet6'] })).output()
      const full = (a: string): string => {
        const [head = '', tail = ''] = a.split('::')
        const h = head === '' ? [] : head.split(':')
        const t = tail === '' ? [] : tail.split(':')
        return [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t].map((g) => g.padStart(4, '0')).join('')
      }
      expect(shown.stdout.split('\n').map((l) => l.trim().split(/\s+/))).toContainEqual([full(address), expect.any(String), '40', '00', expect.any(String), 'eth0'])
      const probe = await client.run(IMAGE, { network: name, args: ['wget', '-q', '-O', '-', `http://[${address}]:8080/hostname`], stdio: 'pipe', rm: true, signal: AbortSignal.timeout(15_000) })
      expect(probe.exitCode).toBe(0)
      expect(probe.stdout?.trim()).toBe(web.id.slice(0, 12))
    } finally {
      await client.networks.remove(name)
    }
    // The firewall plugin's ip6tables rules went with the container.
    expect(execFileSync('ip6tables-save', { encoding: 'utf8' }).split('\n').filter((l) => l.includes(address))).toEqual([])
  })

  it('removes and prunes unused networks', async () => {
    const spare = `spare-${suffix}`
    await client.networks.create(spare, { subnet: `10.${LINE_OCTET}.13.0/24` })
    expect(await client.networks.prune()).toContain(spare)
    await expect(client.networks.inspect(spare)).rejects.toBeInstanceOf(NotFoundError)
  })
})

describe('mac, macvlan and ipvlan (TestRunMACAddress)', () => {
  it('gives a container on the default bridge the MAC asked for, in inspect() and on its eth0', async () => {
    const mac = '02:42:0a:3d:00:07'
    await using web = await startWeb({ mac })
    expect((await web.inspect()).NetworkSettings.MacAddress).toBe(mac)
    const out = await (await web.exec({ args: ['cat', '/sys/class/net/eth0/address'] })).output()
    expect(out.stdout.trim()).toBe(mac)
  })

  // The parent is one end of a veth pair the test makes on the host: containers on it reach each other,
  // and nothing of theirs leaves the host.
  const parent = `csdkp${suffix}`.slice(0, 15)
  const peer = `csdkq${suffix}`.slice(0, 15)
  beforeAll(() => {
    execFileSync('ip', ['link', 'add', parent, 'type', 'veth', 'peer', 'name', peer])
    execFileSync('ip', ['link', 'set', parent, 'up'])
    execFileSync('ip', ['link', 'set', peer, 'up'])
  })
  afterAll(() => {
    execFileSync('ip', ['link', 'del', parent])
  })
  /** Whether the kernel has the driver (some container hosts lack ipvlan). */
  const kernelHas = (driver: string): boolean => {
    const probe = `csdkk${suffix}`.slice(0, 15)
    try {
      execFileSync('ip', ['link', 'add', probe, 'link', parent, 'type', driver], { stdio: 'ignore' })
      execFileSync('ip', ['link', 'del', probe], { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  }

  for (const [driver, octet] of [['macvlan', 15], ['ipvlan', 16]] as const) {
    it(`attaches containers to a ${driver} network on a parent interface, where they reach each other`, async (ctx) => {
      if (!kernelHas(driver)) ctx.skip(`this kernel has no ${driver} driver`)
      const name = `${driver.slice(0, 3)}-${suffix}`
      await client.networks.create(name, { driver, parent, subnet: `10.${LINE_OCTET}.${octet}.0/24` })
      try {
        // ipvlan interfaces share their parent's MAC: only macvlan can be given one.
        const mac = driver === 'macvlan' ? `02:42:0a:${LINE_OCTET.toString(16)}:00:08` : undefined
        await using web = await startWeb({ network: name, ...(mac !== undefined ? { mac } : {}) })
        const settings = (await web.inspect()).NetworkSettings
        expect(settings.IPAddress).toMatch(new RegExp(`^10\\.${LINE_OCTET}\\.${octet}\\.\\d+$`))
        if (mac !== undefined) expect(settings.MacAddress).toBe(mac)
        const probe = await client.run(IMAGE, { network: name, args: ['wget', '-q', '-O', '-', `http://${settings.IPAddress}:8080/hostname`], stdio: 'pipe', rm: true, signal: AbortSignal.timeout(15_000) })
        expect(probe.exitCode).toBe(0)
        expect(probe.stdout?.trim()).toBe(web.id.slice(0, 12))
      } finally {
        await client.networks.remove(name)
      }
    })
  }
})

describe('container: mode and DNS', () => {
  it('shares a running container network namespace and refuses ports, dns and hostname there (TestSharedNetworkSetup)', async () => {
    await using web = await startWeb({ name: `shared-${suffix}` })
    const { stdout, exitCode } = await client.run(IMAGE, {
      network: `container:shared-${suffix}`,
      args: ['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/group'],
      stdio: 'pipe',
      rm: true,
    })
    expect(exitCode).toBe(0)
    expect(stdout).toContain('root:x:0:')
    for (const extra of [{ ports: ['8080'] }, { dns: ['1.1.1.1'] }, { hostname: 'x' }]) {
      await expect(client.run(IMAGE, { network: `container:${web.id}`, args: ['true'], ...extra })).rejects.toBeInstanceOf(InvalidArgumentError)
    }
  })

  it('writes resolv.conf from dns options and /etc/hosts with addHosts', async () => {
    const { stdout } = await client.run(IMAGE, {
      args: ['sh', '-c', 'cat /etc/resolv.conf /etc/hosts /etc/hostname'],
      dns: ['10.9.9.9'],
      dnsSearch: ['example.test'],
      dnsOptions: ['ndots:3'],
      addHosts: ['db.test:10.1.2.3'],
      hostname: 'myhost',
      stdio: 'pipe',
      rm: true,
    })
    expect(stdout).toMatch(/nameserver 10\.9\.9\.9/)
    expect(stdout).toMatch(/search example\.test/)
    expect(stdout).toMatch(/options ndots:3/)
    expect(stdout).toMatch(/10\.1\.2\.3\s+db\.test/)
    expect(stdout).toMatch(/myhost/)
  })
})

describe('lifecycle', () => {
  it('stop() takes the container off the network, a new task puts it back on and it serves again', async () => {
    const port = await freePort()
    await using web = await startWeb({ ports: [`127.0.0.1:${port}:8080`] })
    const netns = (await web.info()).labels[NETNS_LABEL] as string
    expect((await fetchSoon(`http://127.0.0.1:${port}/passwd`)).status).toBe(200)
    await web.stop({ timeout: 1 })
    expect(existsSync(netns)).toBe(false)
    await (await web.task()).delete()
    const task = await web.newTask({ stdio: 'null' })
    await task.start()
    expect(existsSync(netns)).toBe(true)
    expect((await fetchSoon(`http://127.0.0.1:${port}/passwd`)).status).toBe(200)
  })

  it('the process sees its interface and address from its first instruction (the task is created while the network attaches, started after)', async () => {
    for (let i = 0; i < 3; i++) {
      const { exitCode, stdout } = await client.run(IMAGE, { args: ['cat', '/proc/net/fib_trie', '/sys/class/net/eth0/operstate'], stdio: 'pipe', rm: true })
      expect(exitCode).toBe(0)
      expect(stdout).toMatch(/\|-- 10\.4\.0\.\d+\n\s+\/32 host LOCAL/)
      expect(stdout?.trim().split('\n').at(-1)).toBe('up')
    }
  })

  it('20 containers started at once get distinct addresses and all serve', async () => {
    const webs = await Promise.all(Array.from({ length: 20 }, () => startWeb({ ports: ['127.0.0.1::8080'] })))
    try {
      const ips = await Promise.all(webs.map(async (w) => (await w.inspect()).NetworkSettings.IPAddress))
      expect(new Set(ips).size).toBe(20)
      const ports = await Promise.all(webs.map(async (w) => (await w.ports())[0]?.HostPort))
      expect(new Set(ports).size).toBe(20)
      for (const port of ports) expect((await fetchSoon(`http://127.0.0.1:${String(port)}/group`)).status).toBe(200)
    } finally {
      await Promise.all(webs.map((w) => w.remove({ force: true })))
    }
  }, 120_000)

  it("a restart: 'always' container killed from outside serves again on its port (TestRunRestart)", async () => {
    if (daemonLine() === 'external') return
    const port = await freePort()
    await using web = await startWeb({ ports: [`127.0.0.1:${port}:8080`], restart: 'always' })
    expect((await fetchSoon(`http://127.0.0.1:${port}/passwd`)).status).toBe(200)
    const pid = (await web.task()).pid
    process.kill(pid, 'SIGKILL')
    // The monitor re-creates the task within its interval; the namespace (address, port rules) is still there.
    const interval = inject('restartMonitorIntervalMs')
    const res = await fetchSoon(`http://127.0.0.1:${port}/passwd`, interval * 10 + 10_000)
    expect(res.status).toBe(200)
    expect((await web.task()).pid).not.toBe(pid)
  }, 60_000)
})
