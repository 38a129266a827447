/**
 * Stdout throughput (section 8): a container writing 1 GiB (`dd if=/dev/zero bs=1M`; quick: 256 MiB) to
 * stdout, read through `stdio: 'pipe'` into a Node Writable, against `ctr run --rm` copying the same
 * container's stdout to /dev/null. Ours runs in a child process (stdout-child.ts) so its peak RSS is the
 * reading's own.
 *
 * Ours is reported twice: the stream (task start to stdout's end: the rate a reader sees, held to the
 * MB/s target) and the whole lifecycle (create to container deleted: the same span as ctr's figure, whose
 * time includes its process start). Then one run with a slow consumer (a pause after every chunk), which
 * shows that backpressure holds: the shim blocks on the full FIFO instead of this process buffering, so the
 * RSS growth stays bounded whatever the output's size.
 */
import type { Client } from '../src/index.js'
import { STDOUT_RSS_BOUND_MIB, STDOUT_TARGET_MBPS, type ContainerBenchConfig } from './container-config.js'
import { CONTAINER_BENCH_LABEL, checkNothingLeft } from './container-fixture.js'
import { createCtr } from './ctr-cli.js'
import { median, round } from './stats.js'
import { printTable, ratio } from './table.js'
import { runJsonChild } from './json-child.js'

export const OURS_STDOUT = "ours: stdio 'pipe' → Writable (child process)"
export const CTR_STDOUT = 'ctr run --rm … > /dev/null'
export const OURS_SLOW = "ours: stdio 'pipe' → slow Writable (child process)"
export const HOST_FLOOR = 'floor: the same dd on the host → Node pipe (child process)'

const MiB = 1024 * 1024

/** What stdout-child.ts prints, plus its process's wall time. */
export interface StdoutChildRun {
  bytes: number
  chunks: number
  streamMs: number
  /** The reading process's CPU time (user + system) over the stream, ms. */
  streamCpuMs: number
  lifecycleMs: number
  baseRssMiB: number
  sampledPeakRssMiB: number
  maxRssMiB: number
  processMs: number
}

export interface StdoutBench {
  bytes: number
  runs: number
  ours: StdoutChildRun[]
  ctrMs: number[]
  /** The same busybox dd run on the host, read by a Node child process: no shim, no FIFO. */
  floor: StdoutChildRun[]
  /** Median stream rate of ours, MB/s (task start to stdout's end). */
  oursStreamMBps: number
  /** Median lifecycle rate of ours, MB/s (create to container deleted). */
  oursLifecycleMBps: number
  /** Median rate of ctr, MB/s (its whole process). */
  ctrMBps: number
  /** Median rate of the host floor, MB/s. */
  floorMBps: number
  /** The largest RSS growth (peak minus the RSS before the run) of ours over the fast runs, MiB. */
  oursRssGrowthMiB: number
  slow: StdoutChildRun & { bytesExpected: number; delayMs: number; MBps: number; rssGrowthMiB: number }
  meetsThroughputTarget: boolean
  meetsRssBound: boolean
}

/** Runs stdout-child.ts; `BENCH_STDOUT_CPU_PROF=<dir>` makes it write a V8 CPU profile there. */
export async function readInChild(address: string, containers: ContainerBenchConfig, id: string, bytes: number, delayMs: number): Promise<StdoutChildRun> {
  const args = [address, containers.namespace, containers.image, id, String(bytes / MiB), String(delayMs)]
  const out = await runJsonChild<Omit<StdoutChildRun, 'processMs'>>('stdout-child.ts', args, 'BENCH_STDOUT_CPU_PROF')
  if (out.bytes !== bytes) throw new Error(`stdout-child read ${out.bytes} bytes, expected ${bytes}`)
  return out
}

const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000)

export async function benchStdout(client: Client, containers: ContainerBenchConfig): Promise<StdoutBench> {
  const bytes = containers.stdoutBytes
  const ctr = createCtr(client.address, containers.namespace)
  const ours: StdoutChildRun[] = []
  const ctrMs: number[] = []
  const floor: StdoutChildRun[] = []
  const contenders: Record<string, (run: number) => Promise<void>> = {
    [OURS_STDOUT]: async (run) => {
      ours.push(await readInChild(client.address, containers, `bench-stdout-ours-${run}`, bytes, 0))
    },
    [CTR_STDOUT]: async (run) => {
      const us = await ctr.run(
        ['run', '--rm', '--label', `${CONTAINER_BENCH_LABEL}=stdout`, containers.image, `bench-stdout-ctr-${run}`, 'busybox', 'dd', 'if=/dev/zero', 'bs=1M', `count=${bytes / MiB}`],
        { discardStdout: true },
      )
      ctrMs.push(us / 1000)
    },
    [HOST_FLOOR]: async () => {
      floor.push(await readInChild(client.address, { ...containers, image: 'host' }, '-', bytes, 0))
    },
  }
  const names = Object.keys(contenders)
  for (let run = 0; run < containers.stdoutRuns; run++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(run + k) % names.length]!
      await contenders[name]!(run)
      await checkNothingLeft(client, name)
    }
  }
  const slowRun = await readInChild(client.address, containers, 'bench-stdout-slow', containers.slowBytes, containers.slowDelayMs)
  await checkNothingLeft(client, OURS_SLOW)

  const growth = (r: StdoutChildRun): number => Math.max(r.maxRssMiB, r.sampledPeakRssMiB) - r.baseRssMiB
  const oursRssGrowthMiB = Math.max(...ours.map(growth))
  const slow = {
    ...slowRun,
    bytesExpected: containers.slowBytes,
    delayMs: containers.slowDelayMs,
    MBps: mbps(slowRun.bytes, slowRun.streamMs),
    rssGrowthMiB: growth(slowRun),
  }
  const oursStreamMBps = median(ours.map((r) => mbps(bytes, r.streamMs)))
  const bench: StdoutBench = {
    bytes,
    runs: containers.stdoutRuns,
    ours,
    ctrMs,
    floor,
    oursStreamMBps,
    oursLifecycleMBps: median(ours.map((r) => mbps(bytes, r.lifecycleMs))),
    ctrMBps: median(ctrMs.map((ms) => mbps(bytes, ms))),
    floorMBps: median(floor.map((r) => mbps(bytes, r.streamMs))),
    oursRssGrowthMiB,
    slow,
    meetsThroughputTarget: oursStreamMBps >= STDOUT_TARGET_MBPS,
    meetsRssBound: oursRssGrowthMiB <= STDOUT_RSS_BOUND_MIB && slow.rssGrowthMiB <= STDOUT_RSS_BOUND_MIB,
  }
  printStdoutTable(bench)
  return bench
}

function printStdoutTable(b: StdoutBench): void {
  const runsMBps = (values: number[]): string => values.map((v) => round(v, 0)).join(' / ')
  const peak = (r: StdoutChildRun): number => Math.max(r.maxRssMiB, r.sampledPeakRssMiB)
  const growth = (r: StdoutChildRun): number => peak(r) - r.baseRssMiB
  const worst = (runs: StdoutChildRun[]): StdoutChildRun => runs.reduce((a, r) => (growth(r) > growth(a) ? r : a), runs[0]!)
  const cpu = (runs: StdoutChildRun[]): string => `${round(median(runs.map((r) => (100 * r.streamCpuMs) / r.streamMs)), 0)}%`
  const kib = (runs: StdoutChildRun[]): number => round(b.bytes / median(runs.map((r) => r.chunks)) / 1024, 1)
  const [o, f] = [worst(b.ours), worst(b.floor)]
  printTable(
    `8. Stdout throughput: a container writing ${b.bytes / MiB} MiB (busybox dd if=/dev/zero bs=1M) read through stdio 'pipe' into a ` +
      `Writable, median of ${b.runs} runs, interleaved; then ${b.slow.bytesExpected / MiB} MiB into a slow consumer ` +
      `(${b.slow.delayMs} ms pause per chunk). Targets: stream ≥ ${STDOUT_TARGET_MBPS} MB/s, RSS growth ≤ ${STDOUT_RSS_BOUND_MIB} MiB`,
    ['client', 'span', 'MB/s', 'runs MB/s', '× ctr', 'reader CPU', 'KiB/chunk', 'RSS before MiB', 'peak MiB', 'growth MiB', 'meets target'],
    [
      [OURS_STDOUT, 'task start → stdout end', round(b.oursStreamMBps, 0), runsMBps(b.ours.map((r) => mbps(b.bytes, r.streamMs))),
        ratio(b.oursStreamMBps / b.ctrMBps), cpu(b.ours), kib(b.ours), round(o.baseRssMiB, 0), round(peak(o), 0), round(b.oursRssGrowthMiB, 0),
        b.meetsThroughputTarget && b.oursRssGrowthMiB <= STDOUT_RSS_BOUND_MIB ? 'yes' : 'no'],
      [OURS_STDOUT, 'create → container deleted', round(b.oursLifecycleMBps, 0), runsMBps(b.ours.map((r) => mbps(b.bytes, r.lifecycleMs))),
        ratio(b.oursLifecycleMBps / b.ctrMBps), '-', '-', '-', '-', '-', '-'],
      [CTR_STDOUT, 'its process', round(b.ctrMBps, 0), runsMBps(b.ctrMs.map((ms) => mbps(b.bytes, ms))), ratio(1), '-', '-', '-', '-', '-', '-'],
      [HOST_FLOOR, 'dd start → stdout end', round(b.floorMBps, 0), runsMBps(b.floor.map((r) => mbps(b.bytes, r.streamMs))),
        ratio(b.floorMBps / b.ctrMBps), cpu(b.floor), kib(b.floor), round(f.baseRssMiB, 0), round(peak(f), 0), round(growth(f), 0), '-'],
      [OURS_SLOW, 'task start → stdout end', round(b.slow.MBps, 1), '-', '-', cpu([b.slow]), round(b.slow.bytes / b.slow.chunks / 1024, 1),
        round(b.slow.baseRssMiB, 0), round(peak(b.slow), 0), round(b.slow.rssGrowthMiB, 0), b.slow.rssGrowthMiB <= STDOUT_RSS_BOUND_MIB ? 'yes' : 'no'],
    ],
  )
  console.log(
    `(Reader CPU: the reading process's CPU time over the stream's wall time. RSS: the child's before the run (Node, tsx, ` +
      `the SDK, a connection), peak: VmHWM or the largest 20 ms sample. The floor row reads the same writer without shim ` +
      `or FIFO, and shows what a Node pipe reader does on this machine now, garbage included in its RSS growth.)`,
  )
}
