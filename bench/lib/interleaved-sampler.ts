/**
 * Times sequential calls of several clients, interleaved in blocks. The machines are shared and noisy: running
 * client A's 2 000 calls and then client B's would charge a noisy minute to one of them only. Alternating short
 * blocks (and rotating which client goes first) spreads the noise over all of them, so their ratios hold.
 */
import { nowUs } from './stats.js'

/** One call of one client; it resolves when the answer is decoded. */
export type Call = () => Promise<unknown>

/**
 * A client timed elsewhere (another process: the Go client): runs `count` calls in a row and resolves with
 * each call's latency in microseconds, as that process measured it.
 */
export interface BlockCall {
  runBlock(count: number): Promise<number[]>
}

export interface SamplerOptions {
  /** Untimed calls per client before sampling. */
  warmup: number
  /** Timed calls per client. */
  samples: number
  /** Consecutive calls of one client before the next client's turn. */
  block: number
}

/** Runs the calls one at a time and returns each client's per-call latencies in microseconds. */
export async function sampleInterleaved(calls: Readonly<Record<string, Call | BlockCall>>, options: SamplerOptions): Promise<Record<string, number[]>> {
  const names = Object.keys(calls)
  const samples: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]))
  for (const name of names) {
    const call = calls[name]!
    if (typeof call !== 'function') await call.runBlock(options.warmup)
    else for (let i = 0; i < options.warmup; i++) await call()
  }
  const rounds = Math.ceil(options.samples / options.block)
  for (let round = 0; round < rounds; round++) {
    const count = Math.min(options.block, options.samples - round * options.block)
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length]!
      const call = calls[name]!
      const out = samples[name]!
      if (typeof call !== 'function') {
        out.push(...(await call.runBlock(count)))
        continue
      }
      for (let i = 0; i < count; i++) {
        const start = nowUs()
        await call()
        out.push(nowUs() - start)
      }
    }
  }
  return samples
}
