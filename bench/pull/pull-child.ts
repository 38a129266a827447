/**
 * One `client.pull()` in a process of its own, so the peak RSS the kernel reports is the pull's and not the
 * bench's (which holds the whole fixture image in memory). Started by pull-unpack.ts:
 *
 *   node --import tsx bench/pull/pull-child.ts <socket> <namespace> <reference>
 *
 * `BENCH_PULL_CONCURRENCY=<n>` sets `maxConcurrentDownloads` (default: the SDK's). Prints one JSON line:
 * `{ ms, maxRssMiB, baseRssMiB, cpuMs }`: the connect + pull wall time, the process's peak RSS (VmHWM), its RSS before
 * the pull (Node, tsx and the SDK loaded), so the pull's own share can be read off, and the CPU time (user + system,
 * all threads) the connect + pull took.
 */
import { readFile } from 'node:fs/promises'
import { Client } from '../../src/index.js'
import { nowUs } from '../lib/stats.js'

/**
 * The process's peak RSS in MiB: VmHWM, the high-water mark of this address space. Not
 * `process.resourceUsage().maxRSS`: Linux carries a forked child's RSS at exec time into its ru_maxrss, and
 * at fork the child's RSS is its parent's, so that figure would be at least the bench's own RSS.
 */
async function peakRssMiB(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8')
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]
  if (kib === undefined) throw new Error('no VmHWM in /proc/self/status')
  return Number(kib) / 1024
}

async function main(): Promise<void> {
  const [address, namespace, reference] = process.argv.slice(2)
  if (address === undefined || namespace === undefined || reference === undefined) {
    throw new Error('usage: pull-child.ts <socket> <namespace> <reference>')
  }
  const concurrency = process.env['BENCH_PULL_CONCURRENCY']
  const baseRssMiB = process.memoryUsage.rss() / 2 ** 20
  const cpuStart = process.cpuUsage()
  const start = nowUs()
  const client = await Client.connect({ address, namespace })
  try {
    await client.pull(reference, concurrency === undefined ? {} : { maxConcurrentDownloads: Number(concurrency) })
  } finally {
    client.close()
  }
  const ms = (nowUs() - start) / 1000
  const cpu = process.cpuUsage(cpuStart)
  console.log(JSON.stringify({ ms, maxRssMiB: await peakRssMiB(), baseRssMiB, cpuMs: (cpu.user + cpu.system) / 1000 }))
}

main().catch((err: unknown) => {
  console.error('pull-child failed:', err)
  process.exitCode = 1
})
