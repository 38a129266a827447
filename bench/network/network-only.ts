/**
 * Networking cost, measured against its reference in the same run: `run()` of a detached busybox httpd to
 * its first HTTP 200, on the default bridge through a port published on 127.0.0.1 (CNI: bridge, portmap,
 * firewall, tuning), against the same on the host network (no CNI) — the target is ≤ 1.3×. The two
 * alternate, so load on the machine hits both alike. Then 20 networked runs at once, to all answering.
 * Removal is not timed.
 *
 *   node --import tsx bench/network/network-only.ts      BENCH_NETWORK_ROUNDS=10 (default), BENCH_CONTAINERD=1.6|1.7|2.x
 *
 * Runs on a private containerd, with the CNI conf dir, cache and netns dir under its temp dir.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, type DetachedRun } from '../../src/index.js'
import { startContainerd } from '../../src/testing/containerd-daemon.js'
import { findContainerd, type ContainerdLine } from '../../src/testing/containerd-binaries.js'
import { writeBusyboxImageArchive } from '../../src/testing/busybox-archive.js'
import { median, round } from '../lib/stats.js'

const ROUNDS = Number(process.env['BENCH_NETWORK_ROUNDS'] ?? 10)
const LINE = (process.env['BENCH_CONTAINERD'] ?? '1.6') as ContainerdLine
const IMAGE = 'docker.io/library/busybox:bench-network'

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((r) => server.close(r))
  return port
}

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
  console.log(`BENCH_RESULT ${JSON.stringify({ line: LINE, rounds: ROUNDS, bridgeMs: round(b, 1), hostMs: round(h, 1), ratio: round(b / h, 3), concurrentBridgeMs: round(cb, 0), concurrentHostMs: round(ch, 0) })}`)
  client.close()
} finally {
  await daemon.stop()
  await rm(dir, { recursive: true, force: true })
}
