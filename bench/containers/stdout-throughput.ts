/**
 * Stdout throughput (section 8): a container writing 1 GiB (`dd if=/dev/zero bs=1M`; quick: 256 MiB) to
 * stdout, read into a Node Writable, against `ctr run --rm` copying the same container's stdout to
 * /dev/null. Ours two ways: stdio `{ stdout: 'pipe', stderr: 'pipe' }` (no stdin, so read straight from
 * the process's pipe, no shim copy: held to the MB/s target) and stdio `'pipe'` (FIFOs the shim copies
 * into, as ctr's output goes). Ours runs in a child process (stdout-child.ts) so its peak RSS is the reading's own.
 *
 * Each of ours is reported twice: the stream (task start to stdout's end: the rate a reader sees) and the
 * whole lifecycle (create to container deleted: the same span as ctr's figure, whose time includes its
 * process start). Then runs with a slow consumer (a pause after every chunk), which show that
 * backpressure holds: the writer blocks on its full pipe instead of this process buffering, so the RSS
 * growth stays bounded whatever the output's size.
 */
import type { Client } from '../../src/index.js'
import { STDOUT_RSS_BOUND_MIB, STDOUT_TARGET_MBPS, type ContainerBenchConfig } from './container-config.js'
import { CONTAINER_BENCH_LABEL, checkNothingLeft } from './container-fixture.js'
import { createCtr } from '../lib/ctr-cli.js'
import { median, round } from '../lib/stats.js'
import { printTable, ratio } from '../lib/table.js'
import { runJsonChild } from '../lib/json-child.js'

export const OURS_DIRECT = "ours: stdio { stdout: 'pipe' } → Writable (direct, child process)"
export const OURS_STDOUT = "ours: stdio 'pipe' → Writable (FIFO, child process)"
export const CTR_STDOUT = 'ctr run --rm … > /dev/null'
export const OURS_SLOW_DIRECT = "ours: stdio { stdout: 'pipe' } → slow Writable (direct, child process)"
export const OURS_SLOW = "ours: stdio 'pipe' → slow Writable (FIFO, child process)"
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

/** A slow-consumer run and what it shows. */
export type SlowRun = StdoutChildRun & { bytesExpected: number; delayMs: number; MBps: number; rssGrowthMiB: number }

export interface StdoutBench {
  bytes: number
  runs: number
  /** Ours with stdio `{ stdout: 'pipe', stderr: 'pipe' }`: read straight from the process's pipe. */
  direct: StdoutChildRun[]
  /** Ours through stdio 'pipe': FIFOs the shim copies into. */
  ours: StdoutChildRun[]
  ctrMs: number[]
  /** The same busybox dd run on the host, read by a Node child process: no shim, no FIFO. */
  floor: StdoutChildRun[]
  /** Median stream rate of ours direct, MB/s (task start to stdout's end): held to the target. */
  directStreamMBps: number
  /** Median lifecycle rate of ours direct, MB/s (create to container deleted). */
  directLifecycleMBps: number
  /** Median stream rate of ours through 'pipe', MB/s (task start to stdout's end). */
  oursStreamMBps: number
  /** Median lifecycle rate of ours through 'pipe', MB/s (create to container deleted). */
  oursLifecycleMBps: number
  /** Median rate of ctr, MB/s (its whole process). */
  ctrMBps: number
  /** Median rate of the host floor, MB/s. */
  floorMBps: number
  /** The largest RSS growth (peak minus the RSS before the run) of ours over the fast runs, both ways, MiB. */
  oursRssGrowthMiB: number
  slowDirect: SlowRun
  slow: SlowRun
  meetsThroughputTarget: boolean
  meetsRssBound: boolean
}

/** Runs stdout-child.ts; `BENCH_STDOUT_CPU_PROF=<dir>` makes it write a V8 CPU profile there. */
export async function readInChild(address: string, containers: ContainerBenchConfig, id: string, bytes: number, delayMs: number, mode: 'pipe' | 'direct' = 'pipe'): Promise<StdoutChildRun> {
  const args = [address, containers.namespace, containers.image, id, String(bytes / MiB), String(delayMs), mode]
  const out = await runJsonChild<Omit<StdoutChildRun, 'processMs'>>(new URL('./stdout-child.ts', import.meta.url), args, 'BENCH_STDOUT_CPU_PROF')
  if (out.bytes !== bytes) throw new Error(`stdout-child read ${out.bytes} bytes, expected ${bytes}`)
  return out
}

const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000)
const growth = (r: StdoutChildRun): number => Math.max(r.maxRssMiB, r.sampledPeakRssMiB) - r.baseRssMiB

export async function benchStdout(client: Client, containers: ContainerBenchConfig): Promise<StdoutBench> {
  const bytes = containers.stdoutBytes
  const ctr = createCtr(client.address, containers.namespace)
  const direct: StdoutChildRun[] = []
  const ours: StdoutChildRun[] = []
  const ctrMs: number[] = []
  const floor: StdoutChildRun[] = []
  const contenders: Record<string, (run: number) => Promise<void>> = {
    [OURS_DIRECT]: async (run) => {
      direct.push(await readInChild(client.address, containers, `bench-stdout-direct-${run}`, bytes, 0, 'direct'))
    },
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
  const slowRun = async (mode: 'pipe' | 'direct', name: string): Promise<SlowRun> => {
    const r = await readInChild(client.address, containers, `bench-stdout-slow-${mode}`, containers.slowBytes, containers.slowDelayMs, mode)
    await checkNothingLeft(client, name)
    return { ...r, bytesExpected: containers.slowBytes, delayMs: containers.slowDelayMs, MBps: mbps(r.bytes, r.streamMs), rssGrowthMiB: growth(r) }
  }
  const slowDirect = await slowRun('direct', OURS_SLOW_DIRECT)
  const slow = await slowRun('pipe', OURS_SLOW)

  const oursRssGrowthMiB = Math.max(...[...direct, ...ours].map(growth))
  const directStreamMBps = median(direct.map((r) => mbps(bytes, r.streamMs)))
  const bench: StdoutBench = {
    bytes,
    runs: containers.stdoutRuns,
    direct,
    ours,
    ctrMs,
    floor,
    directStreamMBps,
    directLifecycleMBps: median(direct.map((r) => mbps(bytes, r.lifecycleMs))),
    oursStreamMBps: median(ours.map((r) => mbps(bytes, r.streamMs))),
    oursLifecycleMBps: median(ours.map((r) => mbps(bytes, r.lifecycleMs))),
    ctrMBps: median(ctrMs.map((ms) => mbps(bytes, ms))),
    floorMBps: median(floor.map((r) => mbps(bytes, r.streamMs))),
    oursRssGrowthMiB,
    slowDirect,
    slow,
    meetsThroughputTarget: directStreamMBps >= STDOUT_TARGET_MBPS,
    meetsRssBound: oursRssGrowthMiB <= STDOUT_RSS_BOUND_MIB && slow.rssGrowthMiB <= STDOUT_RSS_BOUND_MIB && slowDirect.rssGrowthMiB <= STDOUT_RSS_BOUND_MIB,
  }
  printStdoutTable(bench)
  return bench
}

function printStdoutTable(b: StdoutBench): void {
  const runsMBps = (values: number[]): string => values.map((v) => round(v, 0)).join(' / ')
  const peak = (r: StdoutChildRun): number => Math.max(r.maxRssMiB, r.sampledPeakRssMiB)
  const worst = (runs: StdoutChildRun[]): StdoutChildRun => runs.reduce((a, r) => (growth(r) > growth(a) ? r : a), runs[0]!)
  const cpu = (runs: StdoutChildRun[]): string => `${round(median(runs.map((r) => (100 * r.streamCpuMs) / r.streamMs)), 0)}%`
  const kib = (runs: StdoutChildRun[]): number => round(b.bytes / median(runs.map((r) => r.chunks)) / 1024, 1)
  const rss = (r: StdoutChildRun): [number, number, number] => [round(r.baseRssMiB, 0), round(peak(r), 0), round(growth(r), 0)]
  const fast = (name: string, span: string, MBps: number, runs: StdoutChildRun[], target: boolean): (string | number)[] =>
    [name, span, round(MBps, 0), runsMBps(runs.map((r) => mbps(b.bytes, r.streamMs))), ratio(MBps / b.ctrMBps), cpu(runs), kib(runs), ...rss(worst(runs)),
      target ? (b.meetsThroughputTarget && Math.max(...runs.map(growth)) <= STDOUT_RSS_BOUND_MIB ? 'yes' : 'no') : '-']
  const lifecycle = (name: string, MBps: number, runs: StdoutChildRun[]): (string | number)[] =>
    [name, 'create → container deleted', round(MBps, 0), runsMBps(runs.map((r) => mbps(b.bytes, r.lifecycleMs))), ratio(MBps / b.ctrMBps), '-', '-', '-', '-', '-', '-']
  const slow = (name: string, r: SlowRun): (string | number)[] =>
    [name, 'task start → stdout end', round(r.MBps, 1), '-', '-', cpu([r]), round(r.bytes / r.chunks / 1024, 1), ...rss(r), r.rssGrowthMiB <= STDOUT_RSS_BOUND_MIB ? 'yes' : 'no']
  printTable(
    `8. Stdout throughput: a container writing ${b.bytes / MiB} MiB (busybox dd if=/dev/zero bs=1M) read into a Writable, ` +
      `median of ${b.runs} runs, interleaved; then ${b.slow.bytesExpected / MiB} MiB into a slow consumer ` +
      `(${b.slow.delayMs} ms pause per chunk). Targets: stream ≥ ${STDOUT_TARGET_MBPS} MB/s, RSS growth ≤ ${STDOUT_RSS_BOUND_MIB} MiB`,
    ['client', 'span', 'MB/s', 'runs MB/s', '× ctr', 'reader CPU', 'KiB/chunk', 'RSS before MiB', 'peak MiB', 'growth MiB', 'meets target'],
    [
      fast(OURS_DIRECT, 'task start → stdout end', b.directStreamMBps, b.direct, true),
      lifecycle(OURS_DIRECT, b.directLifecycleMBps, b.direct),
      fast(OURS_STDOUT, 'task start → stdout end', b.oursStreamMBps, b.ours, false),
      lifecycle(OURS_STDOUT, b.oursLifecycleMBps, b.ours),
      [CTR_STDOUT, 'its process', round(b.ctrMBps, 0), runsMBps(b.ctrMs.map((ms) => mbps(b.bytes, ms))), ratio(1), '-', '-', '-', '-', '-', '-'],
      fast(HOST_FLOOR, 'dd start → stdout end', b.floorMBps, b.floor, false),
      slow(OURS_SLOW_DIRECT, b.slowDirect),
      slow(OURS_SLOW, b.slow),
    ],
  )
  console.log(
    `(Reader CPU: the reading process's CPU time over the stream's wall time. RSS: the child's before the run (Node, tsx, ` +
      `the SDK, a connection), peak: VmHWM or the largest 20 ms sample. Direct: the SDK reads the process's own pipe ` +
      `(1 MiB), no shim copy; FIFO: the shim copies the process's pipe into a FIFO 32 KiB at a time, as for ctr. The floor ` +
      `row reads the same writer without containerd, through a Node child_process pipe (a socketpair).)`,
  )
}
