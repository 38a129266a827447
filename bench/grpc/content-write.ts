/**
 * Streaming write throughput: the random blob from a file into the content store, verified against its
 * digest and size and committed. Ours streams the file through `content.writeBlob`; ctr's `content ingest`
 * reads it on stdin (it commits through the Go client's `content.WriteBlob`). The blob is removed and
 * garbage-collected before every run, so each run writes every byte.
 */
import { createReadStream } from 'node:fs'
import type { BenchClients } from '../lib/bench-clients.js'
import type { BenchConfig } from '../lib/bench-config.js'
import { removeBlob } from '../lib/blob-reset.js'
import type { Ctr } from '../lib/ctr-cli.js'
import type { RandomBlob } from './random-blob.js'
import { round } from '../lib/stats.js'
import { runThroughput, type ThroughputResult, type Transfer } from './stream-runs.js'
import { printTable, ratio } from '../lib/table.js'

export const OURS_WRITE = 'ours: content.writeBlob (file stream)'
export const CTR_WRITE = 'ctr content ingest < file'
// The file is read in 1 MiB pieces: containerd's write chunk size, and what ctr's copy buffer uses too.
const FILE_CHUNK = 1024 * 1024

export async function benchContentWrite(
  clients: BenchClients,
  config: BenchConfig,
  blob: RandomBlob,
  ctr: Ctr,
  daemonRoot: string,
): Promise<ThroughputResult[]> {
  let ingest = 0
  const contenders: Record<string, Transfer> = {
    [OURS_WRITE]: async () => {
      const source = createReadStream(blob.path, { highWaterMark: FILE_CHUNK })
      const digest = await clients.ours.content.writeBlob(source, { expected: blob.digest, size: blob.size })
      if (digest !== blob.digest) throw new Error(`writeBlob committed ${digest}, expected ${blob.digest}`)
      return blob.size
    },
    [CTR_WRITE]: async () => {
      const args = ['content', 'ingest', '--expected-size', String(blob.size), '--expected-digest', blob.digest, `bench-ingest-${ingest++}`]
      await ctr.run(args, { stdinFile: blob.path })
      return blob.size
    },
  }
  const results = await runThroughput(contenders, {
    runs: config.streamRuns,
    expectedBytes: blob.size,
    before: () => removeBlob(clients.ours, blob.digest, daemonRoot),
    after: async (client) => {
      const info = await clients.ours.content.info(blob.digest)
      if (info.size !== blob.size) throw new Error(`${client}: the committed blob has ${info.size} bytes, expected ${blob.size}`)
    },
  })
  await removeBlob(clients.ours, blob.digest, daemonRoot)
  const ctrMBps = results.find((r) => r.client === CTR_WRITE)?.medianMBps ?? Number.NaN
  printTable(
    `3b. Content.Write of a ${blob.size / 2 ** 20} MiB random blob from a file, committed with digest and size checks: ` +
      `median of ${config.streamRuns} runs (blob removed and GC'd before each run; ctr's time includes its process start)`,
    ['client', 'median MB/s', 'runs MB/s', '× ctr'],
    results.map((r) => [r.client, round(r.medianMBps), r.runsMBps.map((v) => round(v, 0)).join(' / '), ratio(r.medianMBps / ctrMBps)]),
  )
  return results
}
