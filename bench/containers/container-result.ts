/** The container figures (sections 6–8) for the `BENCH_RESULT` line (key `containers`). */
import { EXEC_TARGET_RATIO, GO_TARGET_RATIO, STDOUT_RSS_BOUND_MIB, STDOUT_TARGET_MBPS } from './container-config.js'
import type { ExecBench } from './exec-bench.js'
import type { LifecycleBench } from './lifecycle.js'
import { round } from '../lib/stats.js'
import type { StdoutBench, StdoutChildRun } from './stdout-throughput.js'

function childRun(r: StdoutChildRun): Record<string, unknown> {
  return {
    streamMs: round(r.streamMs),
    streamCpuMs: round(r.streamCpuMs),
    lifecycleMs: round(r.lifecycleMs),
    baseRssMiB: round(r.baseRssMiB),
    peakRssMiB: round(Math.max(r.maxRssMiB, r.sampledPeakRssMiB)),
    chunks: r.chunks,
    processMs: round(r.processMs),
  }
}

/** The container sections' figures for the `BENCH_RESULT` line; a section not run (BENCH_CONTAINER_SECTIONS) is left out. */
export function containerResultJson(lifecycle: LifecycleBench | undefined, exec: ExecBench | undefined, stdout: StdoutBench | undefined): Record<string, unknown> {
  return {
    lifecycle: lifecycle && {
      sequential: lifecycle.sequential,
      concurrent: lifecycle.concurrent,
      concurrentRounds: lifecycle.concurrentRounds,
      results: lifecycle.contenders.map((c) => ({
        client: c.client,
        sequentialMedianMs: round(c.sequentialMedianMs),
        sequentialP95Ms: round(c.sequentialP95Ms),
        concurrentPerContainerMs: c.concurrentPerContainerMs.map((v) => round(v)),
        concurrentMedianMs: round(c.concurrentMedianMs),
      })),
      pairs: lifecycle.pairs.map((p) => ({ ...p, sequentialRatio: round(p.sequentialRatio, 3), concurrentRatio: round(p.concurrentRatio, 3) })),
      ...(lifecycle.go !== undefined ? { goClient: { ...lifecycle.go, sequentialRatio: round(lifecycle.go.sequentialRatio, 3), concurrentRatio: round(lifecycle.go.concurrentRatio, 3) } } : {}),
      targetRatioVsGo: GO_TARGET_RATIO,
    },
    exec: exec && {
      samples: exec.samples,
      results: exec.results.map((r) => ({ client: r.client, medianUs: round(r.medianUs), p95Us: round(r.p95Us), overCtr: round(r.overCtr, 3) })),
      oursOverCtr: round(exec.oursOverCtr, 3),
      targetRatio: EXEC_TARGET_RATIO,
      meetsTarget: exec.meetsTarget,
    },
    stdout: stdout && {
      bytes: stdout.bytes,
      runs: stdout.runs,
      directStreamMBps: round(stdout.directStreamMBps),
      directLifecycleMBps: round(stdout.directLifecycleMBps),
      direct: stdout.direct.map(childRun),
      oursStreamMBps: round(stdout.oursStreamMBps),
      oursLifecycleMBps: round(stdout.oursLifecycleMBps),
      ctrMBps: round(stdout.ctrMBps),
      ctrRunsMs: stdout.ctrMs.map((v) => round(v)),
      hostFloorMBps: round(stdout.floorMBps),
      hostFloor: stdout.floor.map(childRun),
      ours: stdout.ours.map(childRun),
      oursRssGrowthMiB: round(stdout.oursRssGrowthMiB),
      slowDirect: { bytes: stdout.slowDirect.bytesExpected, delayMs: stdout.slowDirect.delayMs, MBps: round(stdout.slowDirect.MBps), rssGrowthMiB: round(stdout.slowDirect.rssGrowthMiB), ...childRun(stdout.slowDirect) },
      slow: { bytes: stdout.slow.bytesExpected, delayMs: stdout.slow.delayMs, MBps: round(stdout.slow.MBps), rssGrowthMiB: round(stdout.slow.rssGrowthMiB), ...childRun(stdout.slow) },
      targetMBps: STDOUT_TARGET_MBPS,
      rssBoundMiB: STDOUT_RSS_BOUND_MIB,
      meetsThroughputTarget: stdout.meetsThroughputTarget,
      meetsRssBound: stdout.meetsRssBound,
    },
  }
}
