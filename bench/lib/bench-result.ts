/**
 * The machine-readable summary: one line, `BENCH_RESULT {json}`, that CI and the lead's scripts can grep
 * out of the log without parsing the tables.
 */
import { TARGET_RATIO_VS_GO, type BenchConfig } from './bench-config.js'
import type { ListBench } from '../containers/containers-list.js'
import { round } from './stats.js'
import type { ThroughputResult } from '../grpc/stream-runs.js'
import type { UnaryResult } from '../grpc/unary-version.js'

export interface BenchResultInput {
  config: BenchConfig
  containerdVersion: string
  unary: UnaryResult[] | undefined
  list: ListBench | undefined
  ctrStartupMs: number | undefined
  read: ThroughputResult[] | undefined
  readOurs: string
  readCtr: string
  write: ThroughputResult[] | undefined
  writeOurs: string
  writeCtr: string
}

function throughput(results: ThroughputResult[], ours: string, ctr: string) {
  const pick = (name: string): number => results.find((r) => r.client === name)?.medianMBps ?? Number.NaN
  return {
    results: results.map((r) => ({ client: r.client, medianMBps: round(r.medianMBps), runsMBps: r.runsMBps.map((v) => round(v)) })),
    oursOverCtr: round(pick(ours) / pick(ctr), 3),
  }
}

export function buildBenchResult(input: BenchResultInput): Record<string, unknown> {
  const { config } = input
  return {
    mode: config.mode,
    node: process.version,
    containerd: input.containerdVersion,
    unary: input.unary && {
      // The Go client's figures are measured in this run (go-unary); ratios are absent when it was not built.
      targetRatioVsGo: TARGET_RATIO_VS_GO,
      results: input.unary.map((r) => ({
        rpc: r.rpc,
        client: r.client,
        samples: r.samples,
        medianUs: round(r.medianUs),
        p95Us: round(r.p95Us),
        ...(r.ratioVsGo === undefined ? {} : { ratioVsGo: round(r.ratioVsGo, 3), meetsTarget: r.meetsTarget }),
      })),
    },
    containersList: input.list && {
      containers: input.list.containers,
      responseBytes: input.list.responseBytes,
      createMs: round(input.list.createMs),
      results: input.list.results.map((r) => ({ client: r.client, samples: r.samples, medianUs: round(r.medianUs), p95Us: round(r.p95Us) })),
    },
    ctrStartupMs: input.ctrStartupMs === undefined ? undefined : round(input.ctrStartupMs),
    contentRead: input.read && { blobBytes: config.blobBytes, runs: config.streamRuns, ...throughput(input.read, input.readOurs, input.readCtr) },
    contentWrite: input.write && { blobBytes: config.blobBytes, runs: config.streamRuns, ...throughput(input.write, input.writeOurs, input.writeCtr) },
  }
}
