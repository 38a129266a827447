/**
 * Sizes and targets of the pull + unpack section (section 4): the image pushed to the private registry and
 * the figures ours is held to.
 */
import type { BenchConfig } from '../lib/bench-config.js'

const MiB = 1024 * 1024

/**
 * Our target: a pull at most this many times the time of containerd's Go client pulling with unpack in one
 * process (bench/go/go-pull/main.go), measured in the same run; no target (and no ratio to Go) when the Go
 * program cannot be built. ctr's time is printed beside them, without a target.
 */
export const PULL_TARGET_RATIO_VS_GO = 1.0
/** Our target for the pulling process's peak RSS, whatever the image size: layers are streamed, never held. */
export const PULL_RSS_TARGET_MIB = 150

export interface PullBenchConfig {
  /** Data layers on top of the busybox base (the manifest lists `layers + 1`). */
  layers: number
  /** Bytes of incompressible data in each data layer. */
  layerBytes: number
  /** Runs of each contender; the median is reported. */
  runs: number
  /** Repository and tag in the private registry. */
  repo: string
  tag: string
}

export function loadPullConfig(config: BenchConfig): PullBenchConfig {
  return {
    layers: 12,
    layerBytes: config.mode === 'quick' ? 4 * MiB : 25 * MiB,
    runs: config.streamRuns,
    repo: 'bench/big',
    tag: 'v1',
  }
}
