/**
 * Streaming read throughput: `Content.Read` of the whole random blob (containerd sends 1 MiB messages),
 * consumed fully and discarded by each client, beside `ctr content get <digest> > /dev/null`.
 *
 * Read the ctr figure as "what the Go tool does", not "what the Go client can do": ctr 1.6 copies the blob
 * to stdout with io.Copy through the content proxy's ReaderAt, and strace shows 32 KiB writes, i.e. one
 * ReaderAt call (one `Content.Read` RPC) per 32 KiB, where our clients make a single call.
 */
import { createClient } from '@connectrpc/connect'
import type { Readable } from 'node:stream'
import { Content } from '../../src/gen/containerd/services/content/v1/content_pb.js'
import type { BenchClients } from '../lib/bench-clients.js'
import type { BenchConfig } from '../lib/bench-config.js'
import { connectCallOptions } from '../lib/connect-client.js'
import type { Ctr } from '../lib/ctr-cli.js'
import { grpcJsServerStream } from '../lib/grpc-js-client.js'
import type { RandomBlob } from './random-blob.js'
import { runThroughput, type ThroughputResult, type Transfer } from './stream-runs.js'
import { round } from '../lib/stats.js'
import { printTable, ratio } from '../lib/table.js'

export const OURS_READ = 'ours: content.read (Readable)'
export const CTR_READ = 'ctr content get > /dev/null'
const WARMUP_BYTES = 8 * 1024 * 1024

type Reader = (size?: number) => Promise<number>

async function drain(source: AsyncIterable<{ byteLength: number }> | Readable): Promise<number> {
  let bytes = 0
  for await (const chunk of source as AsyncIterable<{ byteLength: number }>) bytes += chunk.byteLength
  return bytes
}

async function drainMessages(source: AsyncIterable<{ data: Uint8Array }>): Promise<number> {
  let bytes = 0
  for await (const message of source) bytes += message.data.byteLength
  return bytes
}

function readers(clients: BenchClients, blob: RandomBlob): Record<string, Reader> {
  const digest = blob.digest
  const connectContent = createClient(Content, clients.connect.transport)
  const headers = connectCallOptions(clients.namespace)
  return {
    [OURS_READ]: (size) => drain(clients.ours.content.read(digest, size === undefined ? {} : { size })),
    // The typed service without the Readable on top: shows what the stream adapter costs.
    'ours: services.content.read (raw)': (size) =>
      drainMessages(clients.ours.services.content.read({ digest, size: BigInt(size ?? 0) })),
    '@grpc/grpc-js': (size) =>
      drainMessages(grpcJsServerStream(clients.grpcJs, Content.method.read, { digest, size: BigInt(size ?? 0) }, clients.grpcJsMetadata)),
    '@connectrpc/connect-node': (size) => drainMessages(connectContent.read({ digest, size: BigInt(size ?? 0) }, headers)),
  }
}

export async function benchContentRead(clients: BenchClients, config: BenchConfig, blob: RandomBlob, ctr: Ctr): Promise<ThroughputResult[]> {
  const nodeReaders = readers(clients, blob)
  // Untimed partial reads: JIT and stream set-up paths are warm before the first timed run.
  for (const read of Object.values(nodeReaders)) {
    const got = await read(WARMUP_BYTES)
    if (got !== WARMUP_BYTES) throw new Error(`warm-up read returned ${got} bytes, expected ${WARMUP_BYTES}`)
  }
  const contenders: Record<string, Transfer> = Object.fromEntries(Object.entries(nodeReaders).map(([name, read]) => [name, () => read()]))
  // ctr's output goes to /dev/null; a zero exit status is its proof of having read it all.
  contenders[CTR_READ] = async () => {
    await ctr.run(['content', 'get', blob.digest], { discardStdout: true })
    return blob.size
  }
  const results = await runThroughput(contenders, { runs: config.streamRuns, expectedBytes: blob.size })
  const ctrMBps = results.find((r) => r.client === CTR_READ)?.medianMBps ?? Number.NaN
  printTable(
    `3a. Content.Read of a ${blob.size / 2 ** 20} MiB random blob: median of ${config.streamRuns} runs (MB/s = 10^6 bytes/s; ctr's time includes its process start)`,
    ['client', 'median MB/s', 'runs MB/s', '× ctr'],
    results.map((r) => [r.client, round(r.medianMBps), r.runsMBps.map((v) => round(v, 0)).join(' / '), ratio(r.medianMBps / ctrMBps)]),
  )
  console.log('(ctr reads through a ReaderAt in 32 KiB pieces, one Read RPC each: a figure for the tool, not for the Go client)')
  return results
}
