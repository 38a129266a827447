/**
 * Pull + unpack (section 4): a many-layer image of incompressible data from a private plain-HTTP registry
 * into the content store and overlayfs snapshots, ours (`client.pull`) against `ctr images pull`.
 *
 * Ours runs in a child process (pull-child.ts), so its peak RSS is the pull's own; its figure is the
 * connect + pull time measured inside the child, without Node's and tsx's start-up (the process wall time
 * is printed beside it). ctr's figure includes its process start, as everywhere in this suite; ctr fetches
 * every blob first, then unpacks, with no limit on concurrent downloads. The runs are interleaved (rotating
 * who goes first), each in a fresh namespace, and everything a run stored is removed and checked gone
 * before the next one (pull-reset.ts).
 */
import type { Digest } from '../../src/index.js'
import { multiLayerImage } from '../../test/fixtures/index.js'
import { pushFixture, startRegistry, type Registry } from '../../test/env/registry/index.js'
import type { BenchClients } from '../lib/bench-clients.js'
import type { BenchConfig } from '../lib/bench-config.js'
import { createCtr } from '../lib/ctr-cli.js'
import { loadPullConfig, PULL_RSS_TARGET_MIB, PULL_TARGET_RATIO_VS_GO, type PullBenchConfig } from './pull-config.js'
import { childrenCpuMs, processCpuMs } from './pull-cpu.js'
import { createPullReset } from './pull-reset.js'
import { median, nowUs, round } from '../lib/stats.js'
import { runJsonChild } from '../lib/json-child.js'
import { goPull } from '../go/go-client.js'
import { printTable, ratio } from '../lib/table.js'

export const OURS_PULL = 'ours: client.pull (child process)'
export const CTR_PULL = 'ctr images pull --plain-http'
export const GO_PULL = 'Go client: Pull with unpack, one process'


export interface PullContenderResult {
  client: string
  /** Wall time of each run, ms. */
  runsMs: number[]
  medianMs: number
  /** Ours only: the child's peak RSS (largest of the runs) and its RSS before pulling, MiB. */
  peakRssMiB?: number
  baseRssMiB?: number
  /** Ours only: median wall time of the whole child process (Node and tsx start-up included), ms. */
  processMedianMs?: number
  /** Median CPU time of the pulling process per run, ms (ours: connect + pull as the child counts it; ctr: the whole process). */
  clientCpuMs?: number
  /** Median CPU time containerd spent per run, ms (when the daemon's pid is known). */
  daemonCpuMs?: number
}

export interface PullBench {
  layers: number
  layerBytes: number
  imageBytes: number
  runs: number
  results: PullContenderResult[]
  oursOverCtr: number
  meetsRssTarget: boolean
  /** Ours over containerd's Go client measured here (when it could be built), and whether that meets the target. */
  oursOverGo?: number
  meetsRatioTarget?: boolean
}

interface PushedImage {
  reference: string
  digests: Digest[]
  bytes: number
}

interface ChildRun {
  ms: number
  maxRssMiB: number
  baseRssMiB: number
  cpuMs: number
  processMs: number
}

/** Builds the fixture and pushes it; the image (hundreds of MiB in memory) is garbage once this returns. */
async function pushImage(registry: Registry, pull: PullBenchConfig): Promise<PushedImage> {
  const image = await multiLayerImage({ layers: pull.layers, layerSize: pull.layerBytes })
  const { reference } = await pushFixture(registry, image, pull.repo, pull.tag, { timeoutMs: 300_000 })
  const blobs = [image.manifest, image.config, ...image.layers.map((layer) => layer.descriptor)]
  return { reference, digests: blobs.map((d) => d.digest as Digest), bytes: blobs.reduce((sum, d) => sum + d.size, 0) }
}

/** Runs pull-child.ts; `BENCH_PULL_CPU_PROF=<dir>` makes it write a V8 CPU profile there. */
async function pullInChild(address: string, namespace: string, reference: string): Promise<ChildRun> {
  const out = await runJsonChild<Omit<ChildRun, 'processMs'>>(new URL('./pull-child.ts', import.meta.url), [address, namespace, reference], 'BENCH_PULL_CPU_PROF')
  return { ms: out.ms, maxRssMiB: out.maxRssMiB, baseRssMiB: out.baseRssMiB, cpuMs: out.cpuMs, processMs: out.processMs }
}

/**
 * Runs section 4. `daemonPid`, when given, adds containerd's CPU time per run (read from /proc around each run;
 * the daemon does the decompression and filesystem work, so on two vCPUs its CPU and ours share one budget).
 */
export async function benchPullUnpack(clients: BenchClients, config: BenchConfig, daemonRoot: string, daemonPid?: number, goBinary?: string): Promise<PullBench> {
  const pull = loadPullConfig(config)
  const registry = await startRegistry({ mode: 'plain' })
  try {
    const pushStart = nowUs()
    const image = await pushImage(registry, pull)
    console.log(`\npull fixture: ${image.digests.length - 2} layers, ${round(image.bytes / 2 ** 20)} MiB, built and pushed in ${round((nowUs() - pushStart) / 1e6)} s`)
    const reset = await createPullReset({ client: clients.ours, address: clients.address, daemonRoot, reference: image.reference, digests: image.digests })
    try {
      await reset.verifyClean()
      const oursRuns: ChildRun[] = []
      const ctrRunsMs: number[] = []
      const ctrCpuMs: number[] = []
      const goRunsMs: number[] = []
      const daemonCpu: Record<string, number[]> = { [OURS_PULL]: [], [CTR_PULL]: [], [GO_PULL]: [] }
      const contenders: Record<string, (namespace: string) => Promise<void>> = {
        [OURS_PULL]: async (namespace) => {
          oursRuns.push(await pullInChild(clients.address, namespace, image.reference))
        },
        [CTR_PULL]: async (namespace) => {
          const cpuBefore = await childrenCpuMs()
          const us = await createCtr(clients.address, namespace).run(['images', 'pull', '--plain-http', image.reference], { discardStdout: true })
          ctrRunsMs.push(us / 1000)
          ctrCpuMs.push((await childrenCpuMs()) - cpuBefore)
        },
        ...(goBinary === undefined ? {} : {
          [GO_PULL]: async (namespace: string) => {
            goRunsMs.push(await goPull(goBinary, clients.address, namespace, image.reference))
          },
        }),
      }
      const names = Object.keys(contenders)
      for (let run = 0; run < pull.runs; run++) {
        for (let k = 0; k < names.length; k++) {
          const name = names[(run + k) % names.length]!
          const namespace = `${config.namespace}-pull-${run}-${name === OURS_PULL ? 'ours' : name === CTR_PULL ? 'ctr' : 'go'}`
          const daemonBefore = daemonPid === undefined ? 0 : await processCpuMs(daemonPid)
          await contenders[name]!(namespace)
          if (daemonPid !== undefined) daemonCpu[name]!.push((await processCpuMs(daemonPid)) - daemonBefore)
          // Untimed: the run stored every blob and unpacked the top layer, then everything goes.
          const ns = clients.ours.withNamespace(namespace)
          for (const digest of image.digests) await ns.content.info(digest)
          if (!(await (await ns.images.get(image.reference)).isUnpacked())) throw new Error(`${name}: the image is not unpacked`)
          await reset.reset(namespace)
        }
      }
      const ours: PullContenderResult = {
        client: OURS_PULL,
        runsMs: oursRuns.map((r) => r.ms),
        medianMs: median(oursRuns.map((r) => r.ms)),
        peakRssMiB: Math.max(...oursRuns.map((r) => r.maxRssMiB)),
        baseRssMiB: median(oursRuns.map((r) => r.baseRssMiB)),
        processMedianMs: median(oursRuns.map((r) => r.processMs)),
        clientCpuMs: median(oursRuns.map((r) => r.cpuMs)),
        ...(daemonPid === undefined ? {} : { daemonCpuMs: median(daemonCpu[OURS_PULL]!) }),
      }
      const ctr: PullContenderResult = {
        client: CTR_PULL,
        runsMs: ctrRunsMs,
        medianMs: median(ctrRunsMs),
        clientCpuMs: median(ctrCpuMs),
        ...(daemonPid === undefined ? {} : { daemonCpuMs: median(daemonCpu[CTR_PULL]!) }),
      }
      const oursOverCtr = ours.medianMs / ctr.medianMs
      const go: PullContenderResult | undefined = goRunsMs.length === 0 ? undefined : {
        client: GO_PULL,
        runsMs: goRunsMs,
        medianMs: median(goRunsMs),
        ...(daemonPid === undefined ? {} : { daemonCpuMs: median(daemonCpu[GO_PULL]!) }),
      }
      const result: PullBench = {
        layers: pull.layers + 1,
        layerBytes: pull.layerBytes,
        imageBytes: image.bytes,
        runs: pull.runs,
        results: go === undefined ? [ours, ctr] : [ours, ctr, go],
        ...(go === undefined ? {} : { oursOverGo: ours.medianMs / go.medianMs, meetsRatioTarget: ours.medianMs / go.medianMs <= PULL_TARGET_RATIO_VS_GO }),
        oursOverCtr,
        meetsRssTarget: (ours.peakRssMiB ?? Infinity) < PULL_RSS_TARGET_MIB,
      }
      printPullTable(result, pull)
      return result
    } finally {
      await reset.dispose()
    }
  } finally {
    await registry.stop()
  }
}

function printPullTable(result: PullBench, pull: PullBenchConfig): void {
  const [ours, ctr, go] = result.results as [PullContenderResult, PullContenderResult, PullContenderResult | undefined]
  const rows = [
    [
      ours.client,
      round(ours.medianMs, 0),
      ours.runsMs.map((v) => round(v, 0)).join(' / '),
      result.oursOverGo === undefined ? '-' : ratio(result.oursOverGo),
      result.meetsRatioTarget === undefined ? '-' : result.meetsRatioTarget ? 'yes' : 'no',
      ratio(result.oursOverCtr),
      round(ours.peakRssMiB ?? Number.NaN, 0),
      result.meetsRssTarget ? 'yes' : 'no',
      cpuCell(ours.clientCpuMs),
      cpuCell(ours.daemonCpuMs),
    ],
    ...(go === undefined ? [] : [[go.client, round(go.medianMs, 0), go.runsMs.map((v) => round(v, 0)).join(' / '), ratio(1), '-', ratio(go.medianMs / ctr.medianMs), '-', '-', '-', cpuCell(go.daemonCpuMs)]]),
    [ctr.client, round(ctr.medianMs, 0), ctr.runsMs.map((v) => round(v, 0)).join(' / '), go === undefined ? '-' : ratio(ctr.medianMs / go.medianMs), '-', ratio(1), '-', '-', cpuCell(ctr.clientCpuMs), cpuCell(ctr.daemonCpuMs)],
  ]
  const bar = `≤ ${PULL_TARGET_RATIO_VS_GO}× Go`
  printTable(
    `4. Pull + unpack of a ${result.layers}-layer image (${round(result.imageBytes / 2 ** 20)} MiB: busybox + ${pull.layers} × ` +
      `${pull.layerBytes / 2 ** 20} MiB incompressible) from a private plain-HTTP registry into overlayfs: median of ${result.runs} ` +
      `runs, interleaved, fresh namespace each (image, blobs and snapshots removed, GC'd and checked gone between runs). ` +
      `Targets: ${bar} (containerd's Go client in one process, measured in this run${go === undefined ? ': not built, so no ratio' : ''}), ` +
      `peak RSS < ${PULL_RSS_TARGET_MIB} MiB`,
    ['client', 'median ms', 'runs ms', '× Go', bar, '× ctr', 'peak RSS MiB', `< ${PULL_RSS_TARGET_MIB} MiB`, 'client CPU ms', 'containerd CPU ms'],
    rows,
  )
  console.log(
    `(ours: connect + pull timed inside the child; the child process's whole wall time, Node + tsx start-up included, ` +
      `median ${round(ours.processMedianMs ?? Number.NaN, 0)} ms; its RSS before pulling ${round(ours.baseRssMiB ?? Number.NaN, 0)} MiB. ` +
      `ctr's time includes its process start. CPU: medians per run; ours counts connect + pull inside the child, ctr its ` +
      `whole process; containerd's is the daemon's own, read from /proc around each run.)`,
  )
}

function cpuCell(ms: number | undefined): number | string {
  return ms === undefined ? '-' : round(ms, 0)
}
