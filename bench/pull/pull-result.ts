/** The pull + unpack figures for the `BENCH_RESULT` line (key `pullUnpack`). */
import { PULL_RSS_TARGET_MIB, PULL_TARGET_RATIO_VS_GO } from './pull-config.js'
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
    // Against the Go client measured in this run; absent when it could not be built.
    targetRatioVsGo: PULL_TARGET_RATIO_VS_GO,
    ...(bench.oursOverGo === undefined ? {} : { oursOverGo: round(bench.oursOverGo, 3), meetsRatioTarget: bench.meetsRatioTarget }),
    rssTargetMiB: PULL_RSS_TARGET_MIB,
    meetsRssTarget: bench.meetsRssTarget,
  }
}
