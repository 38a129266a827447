/**
 * Counts and targets of the container sections (6: lifecycle, 7: exec, 8: stdout throughput): containers
 * run from a small busybox image imported once, ours against `ctr run --rm` / `ctr task exec`.
 */
import type { BenchConfig } from '../lib/bench-config.js'

const MiB = 1024 * 1024

/**
 * The bar for the lifecycle: at most this many times containerd's Go client doing it in one process
 * (section 6b), measured in the same run; no target (and no ratio) when the Go program cannot be built.
 * ctr's times are printed beside ours without a target.
 */
export const GO_TARGET_RATIO = 1.0
/** Our target for an exec of `true` in a running container: at most this many times `ctr task exec`. */
export const EXEC_TARGET_RATIO = 1.1
/** Our target for a container's stdout read through a Node stream: at least this many MB/s (10^6 bytes/s). */
export const STDOUT_TARGET_MBPS = 1000
/**
 * Bound on the reading process's RSS growth (peak minus its RSS before the run) while it reads the whole
 * output: far below the output's size, so nothing piles up in memory, with a slow consumer too. Not near
 * zero: a Node process reading a plain pipe (the floor row) grows by 40–65 MiB on this machine kind, the
 * read buffers V8 has not yet collected.
 */
export const STDOUT_RSS_BOUND_MIB = 96

export interface ContainerBenchConfig {
  /** The image every container runs, imported (and unpacked) once into {@link namespace}. */
  image: string
  /** Namespace of every container of these sections; ctr and ours share it and the image. */
  namespace: string
  /** Lifecycles of `true` one after another, per contender. */
  sequential: number
  /** Lifecycles started at once, per round. */
  concurrent: number
  /** Rounds of {@link concurrent} lifecycles per contender; the median round is reported. */
  concurrentRounds: number
  /** Consecutive lifecycles of one contender before the next one's turn (sequential runs). */
  block: number
  /** Timed execs of `true` per contender, and untimed ones first. */
  execSamples: number
  execWarmup: number
  /** Bytes the container writes to stdout (`dd bs=1M`), a whole number of MiB. */
  stdoutBytes: number
  /** Runs of the stdout measurement per contender (fast consumer); the median is reported. */
  stdoutRuns: number
  /**
   * Bytes the slow-consumer run reads (it takes seconds at its pace), a whole number of MiB: well above
   * {@link STDOUT_RSS_BOUND_MIB}, so output piling up in memory would break the bound.
   */
  slowBytes: number
  /** The slow consumer's pause after every chunk it takes, ms. */
  slowDelayMs: number
}

export function loadContainerConfig(config: BenchConfig): ContainerBenchConfig {
  const quick = config.mode === 'quick'
  return {
    image: 'docker.io/bench/busybox:containers',
    namespace: `${config.namespace}-containers`,
    sequential: quick ? 10 : 50,
    concurrent: 20,
    concurrentRounds: quick ? 1 : 3,
    block: 5,
    execSamples: quick ? 10 : 50,
    execWarmup: quick ? 2 : 5,
    stdoutBytes: quick ? 256 * MiB : 1024 * MiB,
    stdoutRuns: config.streamRuns,
    slowBytes: quick ? 128 * MiB : 256 * MiB,
    slowDelayMs: 1,
  }
}
