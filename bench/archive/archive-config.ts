/**
 * Sizes and target of the import / export section (section 5): the image written to an OCI layout tar on
 * disk, imported and exported by ours and by ctr.
 */
import type { BenchConfig } from '../lib/bench-config.js'

const MiB = 1024 * 1024

/** Our target for import and for export: at most ctr's time. */
export const ARCHIVE_TARGET_RATIO = 1.0

export interface ArchiveBenchConfig {
  /** Data layers on top of the busybox base (the manifest lists `layers + 1`). */
  layers: number
  /** Bytes of incompressible data in each data layer. */
  layerBytes: number
  /** Runs of each contender and operation; the median is reported. */
  runs: number
  /** The name the archive gives the image (`io.containerd.image.name`), fully normalised. */
  name: string
}

export function loadArchiveConfig(config: BenchConfig): ArchiveBenchConfig {
  return {
    layers: 12,
    layerBytes: config.mode === 'quick' ? 4 * MiB : 25 * MiB,
    runs: config.streamRuns,
    name: 'docker.io/bench/archive:v1',
  }
}
