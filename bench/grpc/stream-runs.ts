/**
 * Repeats throughput measurements: each run times every contender once, rotating which goes first, so a
 * noisy moment or a cold cache hits all of them alike; the median of the runs is reported.
 */
import { median, megabytesPerSecond, nowUs } from '../lib/stats.js'

/** One contender: moves the blob once and resolves with the bytes it moved. */
export type Transfer = () => Promise<number>

export interface ThroughputResult {
  client: string
  /** MB/s (10^6 bytes per second) of each run. */
  runsMBps: number[]
  medianMBps: number
}

export interface StreamRunOptions {
  runs: number
  /** Bytes each transfer must move; anything else is an error, not a figure. */
  expectedBytes: number
  /** Called before every timed transfer, untimed (e.g. removing the blob a write created). */
  before?: () => Promise<void>
  /** Called after every timed transfer, untimed (e.g. checking that a write really landed). */
  after?: (client: string) => Promise<void>
}

export async function runThroughput(contenders: Readonly<Record<string, Transfer>>, options: StreamRunOptions): Promise<ThroughputResult[]> {
  const names = Object.keys(contenders)
  const runs: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]))
  for (let run = 0; run < options.runs; run++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(run + k) % names.length]!
      await options.before?.()
      const start = nowUs()
      const bytes = await contenders[name]!()
      const elapsed = nowUs() - start
      if (bytes !== options.expectedBytes) throw new Error(`${name}: moved ${bytes} bytes, expected ${options.expectedBytes}`)
      await options.after?.(name)
      runs[name]!.push(megabytesPerSecond(bytes, elapsed))
    }
  }
  return names.map((client) => ({ client, runsMBps: runs[client]!, medianMBps: median(runs[client]!) }))
}
