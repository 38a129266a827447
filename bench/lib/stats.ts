/** Small statistics helpers: percentiles of latency samples, medians of throughput runs, a monotonic clock. */

/** Nearest-rank percentile (0–100) of `values`; the input is not modified. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1] ?? Number.NaN
}

/** Median: the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const hi = sorted[mid] ?? Number.NaN
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] ?? hi) + hi) / 2
}

/** Monotonic time in microseconds (hrtime: wall-clock adjustments cannot skew a sample). */
export function nowUs(): number {
  return Number(process.hrtime.bigint()) / 1000
}

/** Latency summary of one client's samples, in microseconds. */
export interface LatencySummary {
  samples: number
  medianUs: number
  p95Us: number
}

export function summarizeLatency(samplesUs: readonly number[]): LatencySummary {
  return { samples: samplesUs.length, medianUs: median(samplesUs), p95Us: percentile(samplesUs, 95) }
}

/** Throughput in MB/s (10^6 bytes per second): bytes per microsecond is exactly that. */
export function megabytesPerSecond(bytes: number, elapsedUs: number): number {
  return bytes / elapsedUs
}

/** Rounds for display and for the JSON line (µs and MB/s do not need more than one decimal). */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
