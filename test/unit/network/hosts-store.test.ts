import { spawn } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidArgumentError, NotFoundError } from '../../../src/grpc/errors.js'
import { HostsStore, renderHostsFile, type HostsMeta } from '../../../src/network/hosts-store.js'
import { UNPRIVILEGED_PORT_START_SYSCTL, withNetworkFiles, writeFileInPlace } from '../../../src/network/network-files.js'
import type { Spec } from '../../../src/oci/runtime-spec.js'

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'csdk-hosts-'))
})
afterAll(async () => rm(root, { recursive: true, force: true }))

let storeCount = 0
async function newStore(): Promise<HostsStore> {
  return new HostsStore(join(root, `store${storeCount++}`), 'default')
}

const web: HostsMeta = { id: 'web0', hostname: 'web-host', name: 'web', networks: { net1: ['10.5.0.2/24'] } }
const db: HostsMeta = { id: 'db0', hostname: 'db-host', name: 'db', networks: { net1: ['10.5.0.3/24'] } }
const other: HostsMeta = { id: 'oth0', hostname: 'oth-host', name: 'other', networks: { net2: ['10.6.0.2/24'] } }

/** The names an /etc/hosts file maps to each address (what getaddrinfo would find). */
function lookup(content: string): Map<string, string> {
  const names = new Map<string, string>()
  for (const line of content.split('\n')) {
    const [ip, ...rest] = line.replace(/#.*/, '').trim().split(/\s+/)
    if (ip === undefined || ip === '') continue
    for (const name of rest) if (!names.has(name)) names.set(name, ip)
  }
  return names
}

async function hostsOf(store: HostsStore, id: string): Promise<Map<string, string>> {
  return lookup(await readFile(store.hostsPath(id), 'utf8'))
}

describe('HostsStore', () => {
  it('lets two containers on one network find each other by name, hostname and name.<net>, and not a third on another', async () => {
    const store = await newStore()
    for (const meta of [web, db, other]) {
      await store.allocate(meta.id)
      await store.acquire(meta)
    }
    const fromWeb = await hostsOf(store, 'web0')
    expect(fromWeb.get('db')).toBe('10.5.0.3')
    expect(fromWeb.get('db.net1')).toBe('10.5.0.3')
    expect(fromWeb.get('db-host')).toBe('10.5.0.3')
    expect(fromWeb.get('db-host.net1')).toBe('10.5.0.3')
    expect(fromWeb.get('web')).toBe('10.5.0.2') // itself
    expect(fromWeb.get('localhost')).toBe('127.0.0.1')
    expect(fromWeb.has('other')).toBe(false)
    expect(fromWeb.has('other.net2')).toBe(false)
    const fromDb = await hostsOf(store, 'db0')
    expect(fromDb.get('web.net1')).toBe('10.5.0.2')
    const fromOther = await hostsOf(store, 'oth0')
    expect(fromOther.has('web')).toBe(false)
    expect(fromOther.has('db')).toBe(false)
    expect(fromOther.get('other.net2')).toBe('10.6.0.2')
  })

  it('writes the layout and meta.json nerdctl reads (Go field names, CNI results), files 0644', async () => {
    const store = await newStore()
    await store.acquire({ ...web, domainname: 'example.com', extraHosts: ['db:10.0.0.5'] })
    expect(store.root).toMatch(/etchosts\/default$/)
    const meta: unknown = JSON.parse(await readFile(join(store.root, 'web0', 'meta.json'), 'utf8'))
    expect(meta).toEqual({
      ID: 'web0',
      Networks: { net1: { cniVersion: '1.0.0', ips: [{ address: '10.5.0.2/24' }], dns: {} } },
      Hostname: 'web-host',
      ExtraHosts: { db: '10.0.0.5' },
      Name: 'web',
      Domainname: 'example.com',
    })
    expect((await stat(store.hostsPath('web0'))).mode & 0o777).toBe(0o644)
    expect(await readFile(store.hostsPath('web0'), 'utf8')).toBe(
      [
        '# <nerdctl>',
        '127.0.0.1\tlocalhost localhost.localdomain',
        '::1\t\tlocalhost localhost.localdomain',
        '10.0.0.5        db',
        '10.5.0.2        web-host.example.com web-host web-host.net1 web web.net1',
        '# </nerdctl>',
        '',
      ].join('\n'),
    )
    expect(await store.read('web0')).toEqual({ ...web, domainname: 'example.com', extraHosts: ['db:10.0.0.5'] })
  })

  it('puts extra hosts first, so --add-host wins over a container of the same name', async () => {
    const store = await newStore()
    await store.acquire(db)
    await store.acquire({ ...web, extraHosts: ['db:10.0.0.5', 'v6:fd00::5'] })
    const fromWeb = await hostsOf(store, 'web0')
    expect(fromWeb.get('db')).toBe('10.0.0.5')
    expect(fromWeb.get('v6')).toBe('fd00::5')
    expect(fromWeb.get('db.net1')).toBe('10.5.0.3')
    // The others do not get web's extra hosts.
    expect((await hostsOf(store, 'db0')).get('db')).toBe('10.5.0.3')
  })

  it('gives the default network "bridge" no name.bridge entries', async () => {
    const store = await newStore()
    await store.acquire({ id: 'a1', hostname: 'a1', name: 'alpha', networks: { bridge: ['10.4.0.2/24'] } })
    await store.acquire({ id: 'b1', hostname: 'b1', name: 'beta', networks: { bridge: ['10.4.0.3'] } })
    const fromA = await hostsOf(store, 'a1')
    expect(fromA.get('beta')).toBe('10.4.0.3')
    expect(fromA.has('beta.bridge')).toBe(false)
  })

  it('removes a released container from the others, keeps its own file, and deletes it on delete', async () => {
    const store = await newStore()
    await store.acquire(web)
    await store.acquire(db)
    expect((await hostsOf(store, 'web0')).has('db')).toBe(true)
    await store.release('db0')
    expect((await hostsOf(store, 'web0')).has('db')).toBe(false)
    expect(await store.read('db0')).toBeUndefined()
    // Kept for the container to start again with.
    await stat(store.hostsPath('db0'))
    await store.acquire(db)
    expect((await hostsOf(store, 'web0')).get('db')).toBe('10.5.0.3')
    await store.delete('db0')
    expect((await hostsOf(store, 'web0')).has('db')).toBe(false)
    expect(await readdir(store.root)).toEqual(['web0'])
    await store.release('never-there')
  })

  it('updates a container (rename) and regenerates everyone, keeping fields it does not model', async () => {
    const store = await newStore()
    await store.acquire(web)
    await store.acquire(db)
    // A meta.json as nerdctl writes it, with a full CNI result.
    const metaPath = join(store.root, 'db0', 'meta.json')
    const nerdctlMeta = JSON.parse(await readFile(metaPath, 'utf8')) as Record<string, unknown>
    nerdctlMeta['Networks'] = {
      net1: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], ips: [{ interface: 0, address: '10.5.0.3/24', gateway: '10.5.0.1' }], dns: {} },
    }
    await writeFile(metaPath, JSON.stringify(nerdctlMeta))
    await store.update('db0', { name: 'database' })
    const fromWeb = await hostsOf(store, 'web0')
    expect(fromWeb.get('database.net1')).toBe('10.5.0.3')
    expect(fromWeb.has('db')).toBe(false)
    const after = JSON.parse(await readFile(metaPath, 'utf8')) as { Name: string; Networks: unknown }
    expect(after.Name).toBe('database')
    expect(after.Networks).toEqual(nerdctlMeta['Networks'])
    await expect(store.update('nobody', { name: 'x' })).rejects.toThrow(NotFoundError)
  })

  it('rewrites the hosts file in place (same inode) and keeps lines a user added outside the block', async () => {
    const store = await newStore()
    const path = await store.allocate('web0')
    const inode = (await stat(path)).ino
    await store.acquire(web)
    await writeFile(path, `# a comment\n192.168.1.9\tprinter  \n127.0.0.1 shadow\n10.9.9.9 x #y\n${await readFile(path, 'utf8')}`)
    const inodeAfterUser = (await stat(path)).ino
    expect(inodeAfterUser).toBe(inode)
    await store.acquire(db)
    expect((await stat(path)).ino).toBe(inode)
    const content = await readFile(path, 'utf8')
    expect(content.startsWith('192.168.1.9 printer\n# <nerdctl>\n')).toBe(true)
    expect(content.match(/<nerdctl>/g)).toHaveLength(1)
    expect(lookup(content).get('db')).toBe('10.5.0.3')
    expect(content).not.toContain('shadow')
  })

  it('does not lose entries when many containers acquire at once', async () => {
    const store = await newStore()
    const metas = Array.from({ length: 8 }, (_, i): HostsMeta => ({ id: `c${i}`, hostname: `h${i}`, name: `n${i}`, networks: { shared: [`10.7.0.${i + 2}/24`] } }))
    await Promise.all(metas.map((m) => store.acquire(m)))
    for (const m of metas) {
      const names = await hostsOf(store, m.id)
      for (let i = 0; i < metas.length; i++) expect(names.get(`n${i}.shared`)).toBe(`10.7.0.${i + 2}`)
    }
  })

  it('does not lose entries when another process holds and changes the store (as nerdctl would)', async () => {
    const store = await newStore()
    await store.acquire(web)
    // Another process takes the store's flock and, while holding it, writes a meta.json of its own.
    const foreign = { ID: 'ext0', Networks: { net1: { cniVersion: '1.0.0', ips: [{ address: '10.5.0.9/24' }] } }, Hostname: 'ext', ExtraHosts: null, Name: 'ext', Domainname: '' }
    const script = `sleep 0.3 && mkdir -p "$0/ext0" && printf '%s' "$1" > "$0/ext0/meta.json" && : > "$0/ext0/hosts"`
    const holder = spawn('flock', ['-x', store.root, 'sh', '-c', script, store.root, JSON.stringify(foreign)], { stdio: 'ignore' })
    const exited = new Promise<number | null>((resolve) => holder.once('close', resolve))
    await new Promise((resolve) => setTimeout(resolve, 100))
    // Waits for the other process's lock, then sees its container.
    await store.acquire(db)
    expect(await exited).toBe(0)
    expect((await hostsOf(store, 'web0')).get('ext.net1')).toBe('10.5.0.9')
    expect((await hostsOf(store, 'ext0')).get('db')).toBe('10.5.0.3')
  })

  it('rejects invalid input', async () => {
    const store = await newStore()
    expect(() => new HostsStore('', 'default')).toThrow(InvalidArgumentError)
    await expect(store.acquire({ ...web, id: '../x' })).rejects.toThrow(InvalidArgumentError)
    await expect(store.acquire({ ...web, hostname: 'a b' })).rejects.toThrow(InvalidArgumentError)
    await expect(store.acquire({ ...web, networks: { net1: ['10.5.0.300'] } })).rejects.toThrow(/not an IP address/)
    await expect(store.acquire({ ...web, networks: { net1: ['10.5.0.3/33'] } })).rejects.toThrow(/not an IP address/)
    await expect(store.acquire({ ...web, extraHosts: ['db'] })).rejects.toThrow(/host:ip/)
    await expect(store.acquire({ ...web, extraHosts: ['db:host-gateway'] })).rejects.toThrow(/host:ip/)
  })

  it('skips loopback addresses and lists an address once', () => {
    const a: HostsMeta = { id: 'a', hostname: 'a', networks: { n: ['127.0.0.1/8', '::1/128', '10.0.0.1/24'], m: ['10.0.0.1/24'] } }
    const text = renderHostsFile(a, [a])
    expect(text.match(/^10\.0\.0\.1 /gm)).toHaveLength(1)
    expect(text).not.toMatch(/^127\.0\.0\.1 +a/m)
  })
})

describe('writeFileInPlace', () => {
  it('creates, then replaces content without changing the inode, shorter content included', async () => {
    const path = join(root, 'inplace')
    await writeFileInPlace(path, 'a long first version\n')
    const inode = (await stat(path)).ino
    await writeFileInPlace(path, 'short\n')
    expect(await readFile(path, 'utf8')).toBe('short\n')
    expect((await stat(path)).ino).toBe(inode)
  })
})

describe('withNetworkFiles', () => {
  const emptySpec = (): Spec => ({ ociVersion: '1.1.0', mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }], linux: {} }) as Spec

  it('binds resolv.conf, hosts and hostname (bind, rprivate, writable) and sets ip_unprivileged_port_start=0', () => {
    const spec = emptySpec()
    withNetworkFiles({ resolvConf: '/state/resolv.conf', hosts: '/store/etchosts/default/id/hosts', stateDir: '/state' })(spec)
    expect(spec.mounts?.slice(1)).toEqual([
      { destination: '/etc/resolv.conf', type: 'bind', source: '/state/resolv.conf', options: ['bind', 'rprivate'] },
      { destination: '/etc/hosts', type: 'bind', source: '/store/etchosts/default/id/hosts', options: ['bind', 'rprivate'] },
      { destination: '/etc/hostname', type: 'bind', source: '/state/hostname', options: ['bind', 'rprivate'] },
    ])
    expect(spec.linux?.sysctl).toEqual({ [UNPRIVILEGED_PORT_START_SYSCTL]: '0' })
  })

  it("keeps the user's own mounts and sysctl", () => {
    const spec = emptySpec()
    spec.mounts?.push({ destination: '/etc/hosts', type: 'bind', source: '/mine', options: ['rbind', 'ro'] })
    spec.linux = { sysctl: { [UNPRIVILEGED_PORT_START_SYSCTL]: '1024' } }
    withNetworkFiles({ resolvConf: '/r', hosts: '/h' })(spec)
    expect(spec.mounts?.filter((m) => m.destination === '/etc/hosts')).toEqual([{ destination: '/etc/hosts', type: 'bind', source: '/mine', options: ['rbind', 'ro'] }])
    expect(spec.mounts?.some((m) => m.destination === '/etc/hostname')).toBe(false)
    expect(spec.linux.sysctl).toEqual({ [UNPRIVILEGED_PORT_START_SYSCTL]: '1024' })
  })
})
