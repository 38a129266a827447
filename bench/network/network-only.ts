/**
 * Networking cost, measured against its reference in the same run: `run()` of a detached busybox httpd to
 * its first HTTP 200, on the default bridge through a port published on 127.0.0.1 (CNI: bridge, portmap,
 * firewall, tuning), against the same on the host network (no CNI) — the target is ≤ 1.3×. The two
 * alternate, so load on the machine hits both alike. Then 20 networked runs at once, to all answering.
 * Removal is not timed. Then the reference: `ctr run --cni -d` (containerd's Go client with go-cni: task
 * created, CNI ADD, task started) beside `run()` on the same conflist, each against itself without a
 * network, to the call's return (no ports: ctr publishes none). Last, the plugins alone (a namespace and
 * the conflist's ADD, no container): the floor under the ratio.
 *
 *   node --import tsx bench/network/network-only.ts      BENCH_NETWORK_ROUNDS=10 (default), BENCH_CONTAINERD=1.6|1.7|2.x
 *
 * Runs on a private containerd, with the CNI conf dir, cache and netns dir under its temp dir.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { Client, type DetachedRun } from '../../src/index.js'
import { startContainerd } from '../../src/testing/containerd-daemon.js'
import { findContainerd, type ContainerdLine } from '../../src/testing/containerd-binaries.js'
import { writeBusyboxImageArchive } from '../../src/testing/busybox-archive.js'
import { median, round } from '../lib/stats.js'
import { cniDel } from '../../src/network/cni/cni-runner.js'
import { CniNetworkProvider } from '../../src/network/cni-network-provider.js'
import { createNetns, removeNetns } from '../../src/network/netns.js'
import type { NetworkConfigList } from '../../src/network/cni/network-config.js'
import { freePort } from '../../test/env/registry/free-port.js'

const ROUNDS = Number(process.env['BENCH_NETWORK_ROUNDS'] ?? 10)
const LINE = (process.env['BENCH_CONTAINERD'] ?? '1.6') as ContainerdLine
const IMAGE = 'docker.io/library/busybox:bench-network'

/**
 * ctr in a mount namespace of its own whose /etc/cni/net.d is `confDir` (ctr reads only that directory; its
 * plugin dirs include Debian's /usr/lib/cni). The shell prints ctr's own wall time in microseconds, so
 * the wrapper's start is not counted.
 */
const CTR_WITH_CONF_DIR = 'mount --bind "$1" /etc/cni/net.d || exit 1; shift; s=$(date +%s%N); "$@" >/dev/null; rc=$?; e=$(date +%s%N); echo $(( (e - s) / 1000 )); exit $rc'

/** Polls until the URL answers 200 (bounded: 10 s, 1 000 tries). */
async function firstOk(url: string): Promise<void> {
  const deadline = Date.now() + 10_000
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined)
    if (res?.status === 200) {
      await res.arrayBuffer()
      return
    }
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error(`${url} did not answer 200 within 10 s`)
}

const dir = await mkdtemp(join(tmpdir(), 'csdk-bench-network-'))
const daemon = await startContainerd({ binary: await findContainerd(LINE) })
try {
  const client = await Client.connect({
    address: daemon.address,
    namespace: 'bench-network',
    dataRoot: join(dir, 'data'),
    network: { cniConfDir: join(dir, 'net.d'), netnsDir: join(dir, 'netns') },
  })
  await writeBusyboxImageArchive(join(dir, 'busybox.tar'), { name: IMAGE })
  const [image] = await client.images.import(join(dir, 'busybox.tar'))
  if (image === undefined) throw new Error('no image')
  // The default network is made on first use: once, before timing.
  await (await client.run(IMAGE, { detach: true, args: ['true'] })).remove({ force: true })

  const timeOne = async (network: 'bridge' | 'host'): Promise<number> => {
    const port = await freePort()
    const started = performance.now()
    const web: DetachedRun =
      network === 'bridge'
        ? await client.run(IMAGE, { detach: true, ports: [`127.0.0.1:${port}:8080`], args: ['httpd', '-f', '-p', '8080', '-h', '/etc'] })
        : await client.run(IMAGE, { detach: true, network: 'host', args: ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/etc'] })
    await firstOk(`http://127.0.0.1:${port}/passwd`)
    const ms = performance.now() - started
    await web.remove({ force: true })
    return ms
  }
  await timeOne('bridge')
  await timeOne('host')
  const bridge: number[] = []
  const host: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    bridge.push(await timeOne('bridge'))
    host.push(await timeOne('host'))
  }
  const b = median(bridge)
  const h = median(host)
  console.log(`run() to first HTTP 200, median of ${ROUNDS}, containerd ${LINE}:`)
  console.log(`  bridge + published port  ${round(b, 1)} ms`)
  console.log(`  host network             ${round(h, 1)} ms`)
  console.log(`  ratio bridge/host        ${round(b / h, 2)}x   (target <= 1.3x)`)

  const concurrent = async (network: 'bridge' | 'host'): Promise<number> => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()))
    const started = performance.now()
    const webs = await Promise.all(
      ports.map((port) =>
        network === 'bridge'
          ? client.run(IMAGE, { detach: true, ports: [`127.0.0.1:${port}:8080`], args: ['httpd', '-f', '-p', '8080', '-h', '/etc'] })
          : client.run(IMAGE, { detach: true, network: 'host', args: ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/etc'] }),
      ),
    )
    await Promise.all(ports.map((port) => firstOk(`http://127.0.0.1:${port}/passwd`)))
    const ms = performance.now() - started
    await Promise.all(webs.map((w) => w.remove({ force: true })))
    return ms
  }
  const cb = await concurrent('bridge')
  const ch = await concurrent('host')
  console.log(`20 runs at once to all answering: bridge ${round(cb, 0)} ms, host ${round(ch, 0)} ms, ratio ${round(cb / ch, 2)}x`)
  const ctr = await besideCtr(client, daemon.address, join(dir, 'net.d'))
  const floor = await pluginsAlone(join(dir, 'net.d'), join(dir, 'floor'))
  console.log(`the plugins alone (a fresh namespace, then CNI ADD of the same conflist with one published port, no container), median of ${ROUNDS}:`)
  console.log(`  ${round(floor, 1)} ms: the least a bridge run can add, so the best ratio these plugins allow is ${round((h + floor) / h, 2)}x`)
  console.log(
    `BENCH_RESULT ${JSON.stringify({ line: LINE, rounds: ROUNDS, bridgeMs: round(b, 1), hostMs: round(h, 1), ratio: round(b / h, 3), concurrentBridgeMs: round(cb, 0), concurrentHostMs: round(ch, 0), ...ctr, pluginsAloneMs: round(floor, 1), bestRatio: round((h + floor) / h, 3) })}`,
  )
  client.close()
} finally {
  await daemon.stop()
  await rm(dir, { recursive: true, force: true })
}

/**
 * The floor under any bridge run: a network namespace made and the default conflist ADDed into it with
 * one published port (bridge, then portmap beside firewall), no container, nothing else running; then
 * DEL and the namespace removed (not timed).
 */
async function pluginsAlone(confDir: string, workDir: string): Promise<number> {
  const provider = new CniNetworkProvider({ cniConfDir: confDir })
  const samples: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const netns = join(workDir, `ns${i}`)
    const context = { containerId: `floor-${process.pid}-${i}`, namespace: 'bench-network', netns, networks: ['bridge'], ports: [{ HostPort: await freePort(), ContainerPort: 8080, Protocol: 'tcp', HostIP: '127.0.0.1' }] }
    const started = performance.now()
    await createNetns(netns)
    await provider.setup(context)
    samples.push(performance.now() - started)
    await provider.teardown(context)
    await removeNetns(netns)
  }
  return median(samples)
}

/** `ctr run -d [--cni]` beside `run({ detach: true })` on the default bridge and on `none`, alternating. */
async function besideCtr(client: Client, address: string, confDir: string): Promise<Record<string, number>> {
  if (!existsSync('/etc/cni/net.d')) {
    console.log('ctr run --cni: skipped (ctr reads /etc/cni/net.d, which this host does not have to bind over)')
    return {}
  }
  const ctrBinary = join(dirname((await findContainerd(LINE)).path), 'ctr')
  const list = JSON.parse(await readFile(join(confDir, 'nerdctl-bridge.conflist'), 'utf8')) as NetworkConfigList
  const exec = promisify(execFile)
  const ctr = (...args: string[]): Promise<{ stdout: string }> => exec(ctrBinary, ['--address', address, '-n', client.namespace, ...args])
  let serial = 0
  const timeCtr = async (cni: boolean): Promise<number> => {
    const id = `bench-ctr-${process.pid}-${serial++}`
    const run = ['run', '-d', '--null-io', ...(cni ? ['--cni'] : []), IMAGE, id, 'sleep', '3600']
    const { stdout } = await exec('unshare', ['-m', '--propagation', 'private', 'sh', '-c', CTR_WITH_CONF_DIR, 'sh', confDir, ctrBinary, '--address', address, '-n', client.namespace, ...run])
    await ctr('task', 'delete', '--force', id)
    await ctr('container', 'delete', id)
    // ctr removes a detached container's network only with --rm: released here, from libcni's cache.
    if (cni) await cniDel(list, { containerId: `${client.namespace}-${id}`, netns: '', ifName: 'eth0' })
    return Number(stdout.trim()) / 1000
  }
  const timeOurs = async (network: 'bridge' | 'none'): Promise<number> => {
    const started = performance.now()
    const run = await client.run(IMAGE, { detach: true, network, args: ['sleep', '3600'] })
    const ms = performance.now() - started
    await run.remove({ force: true })
    return ms
  }
  await timeCtr(true)
  await timeOurs('bridge')
  const samples = { ours: [] as number[], oursNone: [] as number[], ctr: [] as number[], ctrNone: [] as number[] }
  for (let i = 0; i < ROUNDS; i++) {
    samples.ours.push(await timeOurs('bridge'))
    samples.ctr.push(await timeCtr(true))
    samples.oursNone.push(await timeOurs('none'))
    samples.ctrNone.push(await timeCtr(false))
  }
  const [ours, oursNone, ref, refNone] = [median(samples.ours), median(samples.oursNone), median(samples.ctr), median(samples.ctrNone)]
  console.log(`run({ detach }) beside ctr run -d, same conflist, to the call's return, median of ${ROUNDS}:`)
  console.log(`  on the default bridge    ours ${round(ours, 1)} ms   ctr --cni ${round(ref, 1)} ms   ratio ${round(ours / ref, 2)}x`)
  console.log(`  without a network        ours ${round(oursNone, 1)} ms   ctr       ${round(refNone, 1)} ms   ratio ${round(oursNone / refNone, 2)}x`)
  console.log(`  what the network adds    ours ${round(ours - oursNone, 1)} ms   ctr       ${round(ref - refNone, 1)} ms`)
  return { ctrCniMs: round(ref, 1), oursCniMs: round(ours, 1), ctrNoneMs: round(refNone, 1), oursNoneMs: round(oursNone, 1), oursOverCtrCni: round(ours / ref, 3) }
}
