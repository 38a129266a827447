/**
 * What one benchmark run measures and the targets it is held to (every reference is measured in the run).
 * `BENCH_QUICK=1` selects a small run for the CI smoke test (seconds, not minutes); the default is the full run.
 */

const MiB = 1024 * 1024

export interface BenchConfig {
  /** `quick` (CI smoke) or `full`. */
  mode: 'quick' | 'full'
  /** Namespace every measured call uses; the private daemon holds nothing else there. */
  namespace: string
  /** Timed unary calls per client and RPC (section 1: `Version`, `Containers.List`). */
  unarySamples: number
  /** Untimed calls per client first, so JIT, connection set-up and lazy paths are out of the figures. */
  unaryWarmup: number
  /** Containers created for the `Containers.List` measurement. */
  containerCount: number
  /** Timed `Containers.List` calls per client. */
  listSamples: number
  /** Untimed `Containers.List` calls per client first. */
  listWarmup: number
  /** Size of the random blob read and written by the streaming measurements. */
  blobBytes: number
  /** Runs of each streaming measurement; the median is reported. */
  streamRuns: number
}

/**
 * Our target for unary latency: at most this many times containerd's Go client's, measured in the same run
 * (bench/go/go-unary/main.go); never against a stored figure.
 */
export const TARGET_RATIO_VS_GO = 1.5

/** containerd's `ctr` of the 1.6 line (Debian bookworm), the Go tool the streaming figures are compared with. */
export const CTR_PATH = '/usr/bin/ctr'

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const quick = env['BENCH_QUICK'] === '1'
  return {
    mode: quick ? 'quick' : 'full',
    namespace: 'csdk-bench',
    unarySamples: quick ? 200 : 2000,
    unaryWarmup: quick ? 50 : 300,
    // 1 000 containers in both modes: the point of this figure is the size of the answer, and creating
    // them concurrently takes well under a few seconds.
    containerCount: 1000,
    listSamples: quick ? 10 : 50,
    listWarmup: quick ? 3 : 5,
    blobBytes: quick ? 64 * MiB : 256 * MiB,
    streamRuns: 3,
  }
}
