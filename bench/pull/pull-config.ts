/**
 * Sizes and targets of the pull + unpack section (section 4): the image pushed to the private registry and
 * the figures ours is held to.
 */
import type { BenchConfig } from '../lib/bench-config.js'

const MiB = 1024 * 1024

/**
 * containerd's Go client pulling in one process (fetch and unpack overlapped) takes about this fraction of
 * `ctr images pull`'s time (which fetches everything first, then unpacks) on this machine kind. Go is not
 * installed here: a reference constant, like GO_VERSION_MEDIAN_US.
 */
export const GO_PULL_OVER_CTR = 0.42
/** Our target: a pull at most this many times ctr's time (a little above the Go client's ratio). */
export const PULL_TARGET_RATIO = 0.45
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
