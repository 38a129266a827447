/**
 * The json-file logger's memory, per container, beside its shim's and beside the former Node logger's, in one run:
 *
 *   node --import tsx bench/containers/logger-rss.ts                     20 containers of each kind
 *   BENCH_LOGGERS=50 BENCH_CONTAINERD=2.x node --import tsx bench/containers/logger-rss.ts
 *
 * Starts a private containerd (1.6 unless BENCH_CONTAINERD says 1.7 or 2.x), then N detached `run()`s (the
 * shim runs our perl logger for each) and N containers whose log URI runs the former Node logger
 * (`node-logger.mjs`, kept here only as this reference) with the same data store, all printing a line a
 * second. After a few seconds of output it reads VmRSS from /proc/<pid>/status of every logger and of its
 * parent, the shim (and each logger's PSS from smaps_rollup), and prints the medians and maxima, the ratio Node/perl, and the check against the issue's
 * target (≤ 8 MiB per logger). The last line is `BENCH_RESULT {json}`. Runs as root; removes everything it made.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Client, type Container } from '../../src/index.js'
import { prepareJsonFileLog } from '../../src/logs/log-config.js'
import { writeBusyboxImageArchive } from '../../src/testing/busybox-archive.js'
import type { ContainerdLine } from '../../src/testing/containerd-binaries.js'
import { startContainerd, type ContainerdDaemon } from '../../src/testing/containerd-daemon.js'
import { median } from '../lib/stats.js'
import { printTable, ratio } from '../lib/table.js'

/** The bar for one logger. */
const TARGET_KIB = 8 * 1024
const NODE_LOGGER = fileURLToPath(new URL('./node-logger.mjs', import.meta.url))
const IMAGE = 'docker.io/library/busybox:logger-rss'
const SCRIPT = 'i=0; while true; do echo "line $i of a container that logs"; i=$((i+1)); sleep 1; done'
const LINES: readonly ContainerdLine[] = ['1.6', '1.7', '2.x']

interface ProcessRss {
  logger: number
  /** The logger's proportional set size: its share of pages shared with other processes (libperl, libnode). */
  loggerPss: number
  shim: number
}

/** Each logger process writing under `dataStore` whose command line contains `marker`: its RSS and its parent's (the shim). */
function loggerRss(dataStore: string, marker: string): ProcessRss[] {
  const out: ProcessRss[] = []
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      if (!argv.some((a) => a.includes(marker)) || !argv.includes(dataStore)) continue
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      const ppid = Number(/PPid:\s+(\d+)/.exec(status)?.[1])
      const pss = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN)
      out.push({ logger: vmRss(status), loggerPss: pss, shim: vmRss(readFileSync(`/proc/${ppid}/status`, 'utf8')) })
    } catch {
      // Gone meanwhile.
    }
  }
  return out
}

function vmRss(status: string): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN)
}

function mib(kib: number): number {
  return kib / 1024
}

async function main(): Promise<void> {
  const count = Number(process.env['BENCH_LOGGERS'] ?? (process.env['BENCH_QUICK'] === '1' ? 5 : 20))
  if (!Number.isSafeInteger(count) || count < 1 || count > 200) throw new Error(`BENCH_LOGGERS must be 1–200, got ${String(process.env['BENCH_LOGGERS'])}`)
  const line = LINES.find((l) => l === (process.env['BENCH_CONTAINERD'] ?? '1.6'))
  if (line === undefined) throw new Error(`BENCH_CONTAINERD must be one of ${LINES.join(', ')}`)
  const workDir = await mkdtemp(join(tmpdir(), 'csdk-bench-logger-'))
  let daemon: ContainerdDaemon | undefined
  let client: Client | undefined
  const made: Container[] = []
  try {
    daemon = await startContainerd({ version: line })
    client = await Client.connect({ address: daemon.address, namespace: 'csdk-bench-logger', dataRoot: join(workDir, 'data') })
    const { version } = await client.version()
    const archive = join(workDir, 'busybox.tar')
    await writeBusyboxImageArchive(archive, { name: IMAGE })
    await client.images.import(archive)
    const dataStore = client.dataStore

    // Ours: what run() does for a detached container.
    for (let i = 0; i < count; i++) made.push(await client.run(IMAGE, { name: `perl-${i}`, args: ['sh', '-c', SCRIPT], detach: true }))
    // The former logger, run by the shim the way the SDK ran it: `node <logger> <data store>`.
    const nodeUri = `binary://${process.execPath.split('/').map(encodeURIComponent).join('/')}?${encodeURIComponent(NODE_LOGGER)}=${encodeURIComponent(dataStore)}`
    for (let i = 0; i < count; i++) {
      const id = `node-logger-${i}`
      await prepareJsonFileLog({ dataStore, namespace: client.namespace, id })
      const container = await client.containers.create(id, { image: IMAGE, args: ['sh', '-c', SCRIPT] })
      made.push(container)
      await (await container.newTask({ stdio: { logUri: nodeUri } })).start()
    }
    // Let every logger write a few records first: RSS after work, not at start.
    await sleep(4_000)

    const perl = loggerRss(dataStore, 'containerd-sdk-logger-')
    const node = loggerRss(dataStore, 'node-logger.mjs')
    if (perl.length !== count || node.length !== count) throw new Error(`found ${perl.length} perl and ${node.length} node loggers, want ${count} each`)
    const row = (name: string, values: number[]): (string | number)[] => [name, mib(median(values)), mib(Math.max(...values)), mib(values.reduce((a, b) => a + b, 0))]
    console.log(`containerd-sdk bench, logger RSS: containerd ${version}, Node ${process.version}, ${count} containers per logger`)
    printTable('json-file logger RSS (VmRSS, MiB; PSS: the share of shared pages counted once)', ['process', 'median', 'max', `sum of ${count}`], [
      row('perl logger (ours)', perl.map((p) => p.logger)),
      row('  its PSS', perl.map((p) => p.loggerPss)),
      row('  its shim', perl.map((p) => p.shim)),
      row('node logger (former)', node.map((p) => p.logger)),
      row('  its PSS', node.map((p) => p.loggerPss)),
      row('  its shim', node.map((p) => p.shim)),
    ])
    const perlMedian = median(perl.map((p) => p.logger))
    const nodeMedian = median(node.map((p) => p.logger))
    const shimMedian = median(perl.map((p) => p.shim))
    console.log(`\nnode / perl logger: ${ratio(nodeMedian / perlMedian)}; perl logger / shim: ${ratio(perlMedian / shimMedian)}; ` +
      `target ≤ ${mib(TARGET_KIB)} MiB per logger: ${Math.max(...perl.map((p) => p.logger)) <= TARGET_KIB ? 'met' : 'MISSED'}`)
    const result = {
      containerd: version,
      node: process.version,
      count,
      perlLoggerKiB: { median: perlMedian, max: Math.max(...perl.map((p) => p.logger)) },
      nodeLoggerKiB: { median: nodeMedian, max: Math.max(...node.map((p) => p.logger)) },
      perlLoggerPssKiB: median(perl.map((p) => p.loggerPss)),
      nodeLoggerPssKiB: median(node.map((p) => p.loggerPss)),
      shimKiB: { median: shimMedian, max: Math.max(...perl.map((p) => p.shim)) },
      nodeOverPerl: nodeMedian / perlMedian,
      perlOverShim: perlMedian / shimMedian,
      targetKiB: TARGET_KIB,
    }
    console.log(`\nBENCH_RESULT ${JSON.stringify({ loggerRss: result })}`)
  } finally {
    for (const c of made) {
      await (await c.task().catch(() => undefined))?.delete({ force: true }).catch(() => undefined)
      await c.delete({ cleanupSnapshot: true }).catch(() => undefined)
    }
    client?.close()
    await daemon?.stop()
    await rm(workDir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error('bench failed:', err)
  process.exitCode = 1
})
