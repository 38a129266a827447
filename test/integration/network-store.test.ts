// The nerdctl-compatible network config store against a real (temporary) CNI conf dir. Needs no daemon:
// only the file system and util-linux's `flock`.
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AlreadyExistsError, CanceledError, ConflictError, DeadlineExceededError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../../src/grpc/errors.js'
import { networkId } from '../../src/network/network-config-builder.js'
import { NetworkConfigStore } from '../../src/network/network-store.js'

// nerdctl v2's default network file (`json.MarshalIndent` of its config: struct field order, the IPAM map's keys sorted).
const NERDCTL_DEFAULT_NETWORK = {
  cniVersion: '1.0.0',
  name: 'bridge',
  nerdctlID: '17f29b073143d8cd97b5bbe492bdeffec1c5fee55cc1fe2112c8b9335f8b6121',
  nerdctlLabels: { 'nerdctl/default-network': 'true' },
  plugins: [
    {
      type: 'bridge',
      bridge: 'nerdctl0',
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { ranges: [[{ gateway: '10.4.0.1', subnet: '10.4.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], type: 'host-local' },
    },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'firewall', ingressPolicy: 'same-bridge' },
    { type: 'tuning' },
  ],
}

const unused = async (): Promise<string[]> => []

let confDir: string
beforeEach(async () => {
  confDir = await mkdtemp(join(tmpdir(), 'csdk-netconf-'))
})
afterEach(async () => rm(confDir, { recursive: true, force: true }))

/** Every file under the conf dir, relative to it (dot files included). */
async function tree(dir = confDir, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...(await tree(join(dir, entry.name), `${prefix}${entry.name}/`)))
    else out.push(`${prefix}${entry.name}`)
  }
  return out.sort()
}

describe('network config store', () => {
  it('writes the default network exactly as nerdctl, at the top of the conf dir, once', async () => {
    const store = new NetworkConfigStore({ confDir, namespace: 'default', hostSubnets: () => [] })
    const created = await store.ensureDefault()
    const file = join(confDir, 'nerdctl-bridge.conflist')
    expect(created).toMatchObject({ name: 'bridge', id: networkId('bridge'), driver: 'bridge', bridge: 'nerdctl0', isDefault: true, managed: true, file, namespace: undefined })
    expect(created.subnets).toEqual([{ subnet: '10.4.0.0/24', gateway: '10.4.0.1' }])
    const text = await readFile(file, 'utf8')
    expect(text).toBe(JSON.stringify(NERDCTL_DEFAULT_NETWORK, null, 2))
    expect((await stat(file)).mode & 0o777).toBe(0o644 & ~process.umask())
    expect((await stat(join(confDir, '.nerdctl.lock'))).mode & 0o777).toBe(0o600 & ~process.umask())

    // Idempotent, and seen from every namespace (the default network is shared).
    expect((await store.ensureDefault()).file).toBe(file)
    const other = new NetworkConfigStore({ confDir, namespace: 'other', hostSubnets: () => [] })
    expect((await other.ensureDefault()).file).toBe(file)
    expect(await tree()).toEqual(['.nerdctl.lock', 'nerdctl-bridge.conflist'])

    await expect(store.remove('bridge', { inUse: unused })).rejects.toThrow(FailedPreconditionError)
    await expect(store.remove('bridge', { inUse: unused })).rejects.toThrow(/cannot remove pre-defined network bridge/)
    expect(await store.prune({ inUse: unused })).toEqual([])
    await expect(store.create('bridge')).rejects.toThrow(InvalidArgumentError)
  })

  it('creates, lists, gets, removes and prunes networks', async () => {
    const store = new NetworkConfigStore({ confDir, hostSubnets: () => [] })
    await store.ensureDefault()
    const a = await store.create('net-a', { labels: { team: 'x' } })
    const b = await store.create('net-b', { subnet: '10.77.0.0/16', gateway: '10.77.0.254', ipRange: '10.77.1.0/24', mtu: 1400 })
    const c = await store.create('net-c', { internal: true })
    const mac = await store.create('net-mac', { driver: 'macvlan', parent: 'eth0', subnet: '198.51.100.0/24' })

    // The `default` namespace has its own folder, as with nerdctl.
    expect(a.file).toBe(join(confDir, 'default', 'nerdctl-net-a.conflist'))
    expect(a).toMatchObject({ id: networkId('net-a'), bridge: `br-${networkId('net-a').slice(0, 12)}`, labels: { team: 'x' }, subnets: [{ subnet: '10.4.1.0/24', gateway: '10.4.1.1' }], namespace: 'default' })
    expect(b.subnets).toEqual([{ subnet: '10.77.0.0/16', gateway: '10.77.0.254', ipRange: '10.77.1.0/24' }])
    expect(b.mtu).toBe(1400)
    expect(c).toMatchObject({ internal: true, subnets: [{ subnet: '10.4.2.0/24', gateway: '10.4.2.1' }] })
    expect(c.config.plugins.map((p) => p.type)).toEqual(['bridge', 'firewall', 'tuning'])
    expect(mac).toMatchObject({ driver: 'macvlan', parent: 'eth0' })
    expect(mac.bridge).toBeUndefined()

    // What was returned is what is on disk.
    expect(JSON.parse(await readFile(a.file, 'utf8'))).toEqual(a.config)
    expect((await store.list()).map((r) => r.name)).toEqual(['net-a', 'net-b', 'net-c', 'net-mac', 'bridge'])

    // By name, full id, unique id prefix; unknown → NotFound naming it.
    expect((await store.get('net-b')).file).toBe(b.file)
    expect((await store.get(networkId('net-b'))).name).toBe('net-b')
    expect((await store.get(networkId('net-b').slice(0, 12))).name).toBe('net-b')
    await expect(store.get('nope')).rejects.toThrow(NotFoundError)
    await expect(store.get('nope')).rejects.toThrow(/"nope"/)

    await expect(store.create('net-a')).rejects.toThrow(AlreadyExistsError)

    await store.remove('net-b', { inUse: unused })
    await expect(store.get('net-b')).rejects.toThrow(NotFoundError)
    await expect(store.remove('net-b', { inUse: unused })).rejects.toThrow(NotFoundError)

    // prune: asks about every candidate, removes the unused ones, keeps the default network.
    const asked: string[] = []
    const removed = await store.prune({
      inUse: async (r) => {
        asked.push(r.name)
        return r.name === 'net-c' ? ['web'] : []
      },
    })
    expect(asked.sort()).toEqual(['net-a', 'net-c', 'net-mac'])
    expect(removed.sort()).toEqual(['net-a', 'net-mac'])
    expect((await store.list()).map((r) => r.name)).toEqual(['net-c', 'bridge'])

    // A removed network's subnet is free again.
    expect((await store.create('net-d')).subnets[0]?.subnet).toBe('10.4.1.0/24')
  })

  it('refuses to remove a network in use, and keeps its file', async () => {
    const store = new NetworkConfigStore({ confDir, namespace: 'default', hostSubnets: () => [] })
    const net = await store.create('busy')
    const inUse = async (): Promise<string[]> => ['c1', 'c2']
    await expect(store.remove('busy', { inUse })).rejects.toThrow(FailedPreconditionError)
    await expect(store.remove('busy', { inUse })).rejects.toThrow('network "busy" is in use by containers "c1", "c2"')
    await stat(net.file)
    // The check is required, not forgotten.
    await expect(store.remove('busy', {} as never)).rejects.toThrow(InvalidArgumentError)
    await stat(net.file)
    await store.remove(net.id ?? '', { inUse: unused })
    await expect(stat(net.file)).rejects.toThrow(/ENOENT/)
  })

  it('refuses an overlapping subnet, a bad name or option, and writes nothing', async () => {
    const store = new NetworkConfigStore({ confDir, hostSubnets: () => ['192.0.2.0/24', '10.4.3.0/24', 'fd00::/64'] })
    await store.create('wide', { subnet: '10.20.0.0/16' })
    const before = await tree()

    await expect(store.create('inside', { subnet: '10.20.5.0/24' })).rejects.toThrow(ConflictError)
    await expect(store.create('inside', { subnet: '10.20.5.0/24' })).rejects.toThrow(/overlaps with network wide \(10.20.0.0\/16\)/)
    await expect(store.create('outside', { subnet: '10.0.0.0/8' })).rejects.toThrow(ConflictError)
    await expect(store.create('hosty', { subnet: '192.0.2.0/25' })).rejects.toThrow(/host address block 192.0.2.0\/24/)
    await expect(store.create('hosty6', { subnet: 'fd00::/48' })).rejects.toThrow(ConflictError)
    await expect(store.create('bad/name')).rejects.toThrow(InvalidArgumentError)
    await expect(store.create('host')).rejects.toThrow(/reserved/)
    await expect(store.create('gw', { subnet: '10.21.0.0/16', gateway: '10.22.0.1' })).rejects.toThrow(InvalidArgumentError)
    await expect(store.create('rng', { subnet: '10.21.0.0/16', ipRange: '10.22.0.0/24' })).rejects.toThrow(InvalidArgumentError)
    await expect(store.create('typo', { subnett: '10.21.0.0/16' } as never)).rejects.toThrow(InvalidArgumentError)
    expect(await tree()).toEqual(before)

    // A macvlan network may share the host's LAN; automatic subnets skip host blocks.
    await store.create('lan', { driver: 'macvlan', subnet: '192.0.2.0/24' })
    expect((await store.create('auto1')).subnets[0]?.subnet).toBe('10.4.1.0/24')
    expect((await store.create('auto2')).subnets[0]?.subnet).toBe('10.4.2.0/24')
    expect((await store.create('auto3')).subnets[0]?.subnet).toBe('10.4.4.0/24')
    // An IPv6 network (IPv6-only, as nerdctl with --ipv4=false).
    const six = await store.create('six', { subnet: 'fd42:1::/64' })
    expect(six.subnets).toEqual([{ subnet: 'fd42:1::/64', gateway: 'fd42:1::1' }])
    expect(six.config.plugins[0]).toMatchObject({ capabilities: { ips: true } })
  })

  it('uses the host interfaces by default', async () => {
    const store = new NetworkConfigStore({ confDir })
    const net = await store.create('real-host')
    expect(net.subnets[0]?.subnet).toMatch(/^10\.\d+\.\d+\.0\/24$/)
    await expect(store.create('loop', { subnet: '127.0.0.0/16' })).rejects.toThrow(ConflictError)
  })

  it('gives 20 concurrent creates without a subnet 20 distinct subnets', async () => {
    const store = new NetworkConfigStore({ confDir, hostSubnets: () => [] })
    const created = await Promise.all(Array.from({ length: 20 }, async (_, i) => await store.create(`par-${i}`)))
    const subnets = created.map((r) => r.subnets[0]?.subnet)
    expect(new Set(subnets).size).toBe(20)
    expect(new Set(subnets)).toEqual(new Set(Array.from({ length: 20 }, (_, i) => `10.4.${i + 1}.0/24`)))
    expect((await store.list()).length).toBe(20)

    // An id prefix two networks share is ambiguous.
    const ids = created.map((r) => r.id ?? '')
    const shared = ids.map((id) => id[0] ?? '').find((c, i, all) => all.indexOf(c) !== i)
    if (shared !== undefined) await expect(store.get(shared)).rejects.toThrow(/give more of the id/)
  })

  it('excludes other processes through the lock file (concurrent creates in two processes, a held lock)', async () => {
    // Another process holds nerdctl's lock: a create waits for it.
    const holder = spawn('flock', ['-x', join(confDir, '.nerdctl.lock'), 'sleep', '0.6'], { stdio: 'ignore' })
    const holderDone = new Promise((r) => holder.once('close', r))
    await new Promise((r) => setTimeout(r, 150))
    const store = new NetworkConfigStore({ confDir, hostSubnets: () => [] })
    const started = Date.now()
    await store.create('after-holder')
    expect(Date.now() - started).toBeGreaterThanOrEqual(300)
    await holderDone

    // A lock held too long: the create gives up (deadline, or the caller's abort) and writes nothing.
    // `-o`: the lock stays with flock, not its `sleep`; its own process group, so both go at once.
    const longHolder = spawn('flock', ['-x', '-o', join(confDir, '.nerdctl.lock'), 'sleep', '5'], { stdio: 'ignore', detached: true })
    const longDone = new Promise((r) => longHolder.once('close', r))
    try {
      await new Promise((r) => setTimeout(r, 150))
      await expect(store.create('late', { timeoutMs: 300 })).rejects.toThrow(DeadlineExceededError)
      const controller = new AbortController()
      setTimeout(() => controller.abort(new Error('stop')), 200)
      await expect(store.create('late', { signal: controller.signal })).rejects.toThrow(CanceledError)
      await expect(store.get('late')).rejects.toThrow(NotFoundError)
    } finally {
      if (longHolder.pid !== undefined) process.kill(-longHolder.pid, 'SIGTERM')
      await longDone
    }

    // Ten creates in a child process race ten here: twenty distinct subnets.
    const storeModule = resolve('src/network/network-store.ts')
    const script = `
      const { NetworkConfigStore } = await import(${JSON.stringify(storeModule)})
      const store = new NetworkConfigStore({ confDir: ${JSON.stringify(confDir)}, hostSubnets: () => [] })
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.create('child-' + i)))
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'inherit', 'inherit'] })
    const childDone = new Promise<number | null>((r) => child.once('close', r))
    await Promise.all(Array.from({ length: 10 }, async (_, i) => await store.create(`parent-${i}`)))
    expect(await childDone).toBe(0)
    const subnets = (await store.list()).map((r) => r.subnets[0]?.subnet)
    expect(subnets.length).toBe(21)
    expect(new Set(subnets).size).toBe(21)
  })

  it('keeps each namespace in its own folder, shares the top, and never reuses a subnet across namespaces', async () => {
    const teamA = new NetworkConfigStore({ confDir, namespace: 'team-a', hostSubnets: () => [] })
    const teamB = new NetworkConfigStore({ confDir, namespace: 'team-b', hostSubnets: () => [] })
    const shared = new NetworkConfigStore({ confDir, namespace: '', hostSubnets: () => [] })
    const a = await teamA.create('app')
    expect(a.file).toBe(join(confDir, 'team-a', 'nerdctl-app.conflist'))
    await expect(teamB.get('app')).rejects.toThrow(NotFoundError)
    const b = await teamB.create('app')
    expect(b.file).toBe(join(confDir, 'team-b', 'nerdctl-app.conflist'))
    expect(b.subnets[0]?.subnet).not.toBe(a.subnets[0]?.subnet)

    // Without a namespace: written at the top, seen by every namespace, and its name taken there too.
    const common = await shared.create('common')
    expect(common.file).toBe(join(confDir, 'nerdctl-common.conflist'))
    expect((await teamA.get('common')).file).toBe(common.file)
    await expect(teamB.create('common')).rejects.toThrow(AlreadyExistsError)
    expect((await teamA.list()).map((r) => r.name)).toEqual(['common', 'app'])
    expect(await tree()).toEqual(['.nerdctl.lock', 'nerdctl-common.conflist', 'team-a/nerdctl-app.conflist', 'team-b/nerdctl-app.conflist'])

    expect(() => new NetworkConfigStore({ confDir, namespace: '../escape' })).toThrow(InvalidArgumentError)
  })

  // Runs in a network namespace of its own (`unshare -n`), so no device is made on the host.
  it.skipIf(process.getuid?.() !== 0)('removes the bridge device, unless a same-named network of another namespace still names it', async () => {
    const storeModule = resolve('src/network/network-store.ts')
    const script = `
      const { execFileSync } = await import('node:child_process')
      const { NetworkConfigStore } = await import(${JSON.stringify(storeModule)})
      const has = (dev) => { try { execFileSync('ip', ['link', 'show', dev], { stdio: 'ignore' }); return true } catch { return false } }
      const options = (namespace) => ({ confDir: ${JSON.stringify(confDir)}, namespace, hostSubnets: () => [] })
      const a = new NetworkConfigStore(options('a')), b = new NetworkConfigStore(options('b'))
      const net = await a.create('app')
      await b.create('app')
      execFileSync('ip', ['link', 'add', net.bridge, 'type', 'bridge'])
      const unused = async () => []
      await a.remove('app', { inUse: unused })
      const afterA = has(net.bridge)
      await b.remove('app', { inUse: unused })
      process.stdout.write(JSON.stringify({ afterA, afterB: has(net.bridge) }))
    `
    const child = spawn('unshare', ['-n', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    expect(await new Promise((r) => child.once('close', r))).toBe(0)
    expect(JSON.parse(out)).toEqual({ afterA: true, afterB: false })
  })

  it('reports a conf dir it cannot use with a typed error', async () => {
    await writeFile(join(confDir, 'a-file'), '')
    const store = new NetworkConfigStore({ confDir: join(confDir, 'a-file', 'net.d'), hostSubnets: () => [] })
    expect(await store.list()).toEqual([])
    await expect(store.create('x')).rejects.toThrow(FailedPreconditionError)
    await expect(store.ensureDefault()).rejects.toThrow(FailedPreconditionError)
  })

  it('lists hand-written configs read-only', async () => {
    await writeFile(
      join(confDir, '10-mynet.conf'),
      JSON.stringify({ cniVersion: '0.4.0', name: 'mynet', type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true, ipam: { type: 'host-local', subnet: '172.19.0.0/24', routes: [{ dst: '0.0.0.0/0' }] } }),
    )
    await writeFile(join(confDir, '20-broken.conflist'), '{ not json')
    const store = new NetworkConfigStore({ confDir, hostSubnets: () => [] })
    const mynet = await store.get('mynet')
    expect(mynet).toMatchObject({ managed: false, id: undefined, subnets: [{ subnet: '172.19.0.0/24' }] })
    expect((await store.list()).map((r) => r.name)).toEqual(['mynet'])
    await expect(store.remove('mynet', { inUse: unused })).rejects.toThrow(/managed outside nerdctl/)
    expect(await store.prune({ inUse: unused })).toEqual([])
    // Its subnet is taken.
    await expect(store.create('clash', { subnet: '172.19.0.0/16' })).rejects.toThrow(/network mynet/)
  })
})
