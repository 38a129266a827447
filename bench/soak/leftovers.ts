// What a soak run leaves behind, counted from containerd's own records and from the host (files, mounts,
// processes, descriptors), so a leak shows up whichever layer made it.
import { readdir, readFile, readlink, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Client } from '../../src/index.js'
import { DEFAULT_OPERATION_LEASE_EXPIRY_MS, LEASE_EXPIRE_LABEL } from '../../src/client/leases/lease-manager.js'
import { daemonKey, dataStorePath } from '../../src/nerdctl/data-store.js'
import { saveTable } from '../../src/network/cni/iptables-save.js'
import { DEFAULT_NETNS_DIR, netnsPrefix } from '../../src/network/netns.js'
import { FIFO_ROOT } from '../../src/tasks/fifo-set.js'

/** One count per kind of leftover. */
export type LeftoverCounts = Record<LeftoverKind, number>

/** The kinds counted, in print order. */
export const LEFTOVER_KINDS = ['containers', 'tasks', 'snapshots', 'leases', 'ingests', 'images', 'names', 'stateDirs', 'fifoDirs', 'mounts', 'processes', 'netns', 'addresses', 'cniResults', 'natRules', 'fds'] as const
/** A kind of leftover. */
export type LeftoverKind = (typeof LEFTOVER_KINDS)[number]

/** Where the soak's things live. */
export interface SoakPlaces {
  /** The daemon's socket. */
  address: string
  /** The daemon's temp dir (root, state). */
  daemonDir: string
  /** The daemon's pid (not counted as a leftover process). */
  daemonPid: () => number
  /** The nerdctl data root the soak's clients use. */
  dataRoot: string
  /** The namespace. */
  namespace: string
  /** Pids of this process and of the soak's client children (their FIFO pool dirs are theirs). */
  clientPids: () => readonly number[]
  /** When the soak started (FIFO dirs newer than this may be its own). */
  startedMs: number
  /** CNI's cache dir (host-local's address files and libcni's results are under it). */
  cniCacheDir?: string
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [])
}

/** Counts everything the soak could have left, with a time bound on each daemon call (10 s). */
export async function countLeftovers(client: Client, places: SoakPlaces, detail: (what: string) => void = () => undefined): Promise<LeftoverCounts> {
  const call = { timeoutMs: 10_000 }
  const s = client.services
  const containerList = (await s.containers.list({}, call)).containers
  const containers = containerList.length
  for (const c of containerList) detail(`container ${c.id} ${JSON.stringify(c.labels['nerdctl/name'] ?? '')}`)
  const tasks = (await s.tasks.list({}, call)).tasks.length
  let snapshots = 0
  for await (const _ of client.snapshots().list()) snapshots++
  // A lease of a killed client expires by itself (operation leases renew a short expiry, so a crash frees
  // its content within minutes: issue 10): containerd's GC collects it. Only a lease that would stay
  // longer than that is a leftover; the others are listed.
  const leaseList = await client.leases.list()
  const expiresSoon = (l: { labels: Record<string, string> }): boolean => {
    const at = Date.parse(l.labels[LEASE_EXPIRE_LABEL] ?? '')
    return Number.isFinite(at) && at <= Date.now() + DEFAULT_OPERATION_LEASE_EXPIRY_MS + 60_000
  }
  const leases = leaseList.filter((l) => !expiresSoon(l)).length
  for (const l of leaseList) detail(`lease ${l.id} ${JSON.stringify(l.labels)}${expiresSoon(l) ? ' (expiring: containerd collects it)' : ''}`)
  const ingests = (await client.content.listStatuses(call)).length
  const images = (await s.images.list({}, call)).images.length
  const store = dataStorePath(places.address, places.dataRoot)
  const names = (await entries(join(store, 'names', places.namespace))).filter((n) => !n.startsWith('.')).length
  const stateDirs = (await entries(join(store, 'containers', places.namespace))).length
  // FIFO dirs: pool dirs of the soak's processes, and per-process dirs made since the soak started (other
  // clients of the machine's FIFO root may add to the latter).
  let fifoDirs = 0
  // This process's own pool is in use while it lives (its client holds it); dead clients' pools are leftovers.
  const pids = new Set(places.clientPids().filter((pid) => pid !== process.pid).map(String))
  for (const name of await entries(FIFO_ROOT)) {
    if (name.startsWith('.csdk-pool-')) {
      if (pids.has(name.slice('.csdk-pool-'.length).split('-')[0] ?? '')) {
        fifoDirs++
        detail(`fifo pool dir ${name}`)
      }
      continue
    }
    const st = await stat(join(FIFO_ROOT, name)).catch(() => undefined)
    if (st !== undefined && st.mtimeMs >= places.startedMs) {
      fifoDirs++
      detail(`fifo dir ${name}`)
    }
  }
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8')
  const mounts = mountinfo.split('\n').filter((l) => l.includes(places.daemonDir) || l.includes(places.dataRoot)).length
  // Processes whose command line names the daemon's socket or dir (shims, loggers), but not the daemon.
  let processes = 0
  for (const pid of await entries('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === places.daemonPid() || Number(pid) === process.pid) continue
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.includes(places.address) || cmdline.includes(places.daemonDir)) {
      processes++
      detail(`process ${pid}: ${cmdline.replaceAll('\0', ' ').slice(0, 160)}`)
    }
  }
  const network = await countNetworkLeftovers(places, detail)
  const fdList = await entries('/proc/self/fd')
  const fds = fdList.length
  const sockets = await socketTable()
  for (const fd of fdList) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '?')
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1]
    detail(`fd ${fd} -> ${target}${inode !== undefined ? ` ${sockets.get(inode) ?? ''}` : ''}`)
  }
  return { containers, tasks, snapshots, leases, ingests, images, names, stateDirs, fifoDirs, mounts, processes, ...network, fds }
}

/**
 * What networking left on the host for the soak's namespace (each line has its own, and CNI's container id
 * is `<namespace>-<id>`): network namespace files of this daemon and namespace, host-local address files
 * and libcni result entries naming a container of the namespace, and NAT rules whose comment names one
 * (the bridge plugin's masquerade chain, portmap's DNAT chains).
 */
async function countNetworkLeftovers(places: SoakPlaces, detail: (what: string) => void): Promise<Pick<LeftoverCounts, 'netns' | 'addresses' | 'cniResults' | 'natRules'>> {
  const prefix = netnsPrefix(daemonKey(places.address), places.namespace)
  const netnsFiles = (await entries(DEFAULT_NETNS_DIR)).filter((f) => f.startsWith(prefix))
  for (const f of netnsFiles) detail(`netns ${f}`)
  const ours = new RegExp(`${places.namespace.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9a-f]{64}`)
  const cache = places.cniCacheDir ?? '/var/lib/cni'
  let addresses = 0
  for (const network of await entries(join(cache, 'networks'))) {
    for (const file of await entries(join(cache, 'networks', network))) {
      if (file === 'lock' || file.startsWith('last_reserved_ip')) continue
      const owner = (await readFile(join(cache, 'networks', network, file), 'utf8').catch(() => '')).split(/\r?\n/)[0] ?? ''
      if (ours.test(owner)) {
        addresses++
        detail(`address ${network}/${file} held by ${owner}`)
      }
    }
  }
  const results = (await entries(join(cache, 'results'))).filter((f) => ours.test(f))
  for (const f of results) detail(`cni result ${f}`)
  const nat = await saveTable('iptables-save', 'nat', 10_000)
  const rules = nat.split('\n').filter((l) => l.startsWith('-A ') && ours.test(l))
  for (const r of rules) detail(`nat rule ${r}`)
  return { netns: netnsFiles.length, addresses, cniResults: results.length, natRules: rules.length }
}

/** `after - before` per kind. */
export function difference(after: LeftoverCounts, before: LeftoverCounts): LeftoverCounts {
  const out = {} as LeftoverCounts
  for (const k of LEFTOVER_KINDS) out[k] = after[k] - before[k]
  return out
}

/** Socket inode → what it is (a unix socket's path, a TCP connection's ports), to name leaked descriptors. */
async function socketTable(): Promise<Map<string, string>> {
  const table = new Map<string, string>()
  for (const line of (await readFile('/proc/net/unix', 'utf8').catch(() => '')).split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/)
    if (cols[6] !== undefined) table.set(cols[6], `unix ${cols[7] ?? '(unnamed)'}`)
  }
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(file, 'utf8').catch(() => '')).split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      const port = (hex: string | undefined): number => parseInt(hex?.split(':')[1] ?? '0', 16)
      if (cols[9] !== undefined) table.set(cols[9], `tcp :${port(cols[1])} -> :${port(cols[2])} state ${cols[3]}`)
    }
  }
  return table
}
