/** The import / export figures for the `BENCH_RESULT` line (key `importExport`). */
import { ARCHIVE_TARGET_RATIO } from './archive-config.js'
import type { ArchiveBench, ArchiveContenderResult, ArchiveOperationResult } from './archive-import-export.js'
import { round } from '../lib/stats.js'

function contender(r: ArchiveContenderResult): Record<string, unknown> {
  return { client: r.client, medianMs: round(r.medianMs), runsMs: r.runsMs.map((v) => round(v)) }
}

function operation(r: ArchiveOperationResult): Record<string, unknown> {
  return {
    results: [contender(r.ours), contender(r.ctr)],
    oursOverCtr: round(r.oursOverCtr, 3),
    targetRatio: ARCHIVE_TARGET_RATIO,
    meetsTarget: r.meetsTarget,
  }
}

export function archiveResultJson(bench: ArchiveBench): Record<string, unknown> {
  return {
    layers: bench.layers,
    layerBytes: bench.layerBytes,
    imageBytes: bench.imageBytes,
    archiveBytes: bench.archiveBytes,
    runs: bench.runs,
    import: { unpack: false, ...operation(bench.import) },
    export: { ...operation(bench.export), oursFileBytes: bench.export.oursFileBytes, ctrFileBytes: bench.export.ctrFileBytes },
  }
}
