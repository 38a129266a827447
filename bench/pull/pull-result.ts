/** The pull + unpack figures for the `BENCH_RESULT` line (key `pullUnpack`). */
import { GO_PULL_OVER_CTR, PULL_RSS_TARGET_MIB, PULL_TARGET_RATIO } from './pull-config.js'
import type { PullBench } from './pull-unpack.js'
import { round } from '../lib/stats.js'

export function pullResultJson(bench: PullBench): Record<string, unknown> {
  return {
    layers: bench.layers,
    layerBytes: bench.layerBytes,
    imageBytes: bench.imageBytes,
    runs: bench.runs,
    results: bench.results.map((r) => ({
      client: r.client,
      medianMs: round(r.medianMs),
      runsMs: r.runsMs.map((v) => round(v)),
      ...(r.peakRssMiB === undefined ? {} : { peakRssMiB: round(r.peakRssMiB) }),
      ...(r.baseRssMiB === undefined ? {} : { baseRssMiB: round(r.baseRssMiB) }),
      ...(r.processMedianMs === undefined ? {} : { processMedianMs: round(r.processMedianMs) }),
      ...(r.clientCpuMs === undefined ? {} : { clientCpuMs: round(r.clientCpuMs) }),
      ...(r.daemonCpuMs === undefined ? {} : { daemonCpuMs: round(r.daemonCpuMs) }),
    })),
    oursOverCtr: round(bench.oursOverCtr, 3),
    targetRatio: PULL_TARGET_RATIO,
    meetsRatioTarget: bench.meetsRatioTarget,
    goOverCtr: { ratio: GO_PULL_OVER_CTR, source: 'constant (the Go client measured on this machine kind)' },
    rssTargetMiB: PULL_RSS_TARGET_MIB,
    meetsRssTarget: bench.meetsRssTarget,
  }
}
