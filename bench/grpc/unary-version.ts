/**
 * Unary latency: `Version`, the smallest call containerd answers (an empty request, two short strings back),
 * so the figure is almost all client and transport overhead. Compared with the Go client's reference figure.
 */
import { create, toBinary } from '@bufbuild/protobuf'
import { EmptySchema } from '@bufbuild/protobuf/wkt'
import { createClient } from '@connectrpc/connect'
import { Version } from '../../src/gen/containerd/services/version/v1/version_pb.js'
import type { BenchClients } from '../lib/bench-clients.js'
import { GO_VERSION_MEDIAN_US, TARGET_RATIO_VS_GO, type BenchConfig } from '../lib/bench-config.js'
import { connectCallOptions } from '../lib/connect-client.js'
import { grpcJsUnary } from '../lib/grpc-js-client.js'
import { sampleInterleaved, type Call } from '../lib/interleaved-sampler.js'
import { round, summarizeLatency, type LatencySummary } from '../lib/stats.js'
import { printTable, ratio } from '../lib/table.js'

export interface UnaryResult extends LatencySummary {
  client: string
  ratioVsGo: number
  meetsTarget: boolean
}

const VERSION_PATH = `/${Version.typeName}/${Version.method.version.name}`

export async function benchUnaryVersion(clients: BenchClients, config: BenchConfig): Promise<UnaryResult[]> {
  const ns = clients.namespace
  // Encoded once: the raw channel row measures transport only, no protobuf work on either side.
  const emptyBytes = toBinary(EmptySchema, create(EmptySchema))
  const metadata = { 'containerd-namespace': ns }
  const connectVersion = createClient(Version, clients.connect.transport)
  const headers = connectCallOptions(ns)
  const calls: Record<string, Call> = {
    'ours: client.version()': () => clients.ours.version(),
    'ours: Http2Channel.unary (floor)': () => clients.channel.unary(VERSION_PATH, emptyBytes, metadata),
    '@grpc/grpc-js': () => grpcJsUnary(clients.grpcJs, Version.method.version, {}, clients.grpcJsMetadata),
    '@connectrpc/connect-node': () => connectVersion.version({}, headers),
  }
  const samples = await sampleInterleaved(calls, { warmup: config.unaryWarmup, samples: config.unarySamples, block: 100 })
  const results = Object.entries(samples).map(([client, values]): UnaryResult => {
    const summary = summarizeLatency(values)
    const ratioVsGo = summary.medianUs / GO_VERSION_MEDIAN_US
    return { client, ...summary, ratioVsGo, meetsTarget: ratioVsGo <= TARGET_RATIO_VS_GO }
  })
  const grpcJsMedian = results.find((r) => r.client === '@grpc/grpc-js')?.medianUs ?? Number.NaN
  printTable(
    `1. Unary Version: ${config.unarySamples} sequential calls per client after ${config.unaryWarmup} warm-up calls ` +
      `(Go client reference: ${GO_VERSION_MEDIAN_US} µs median, a constant from environment.md; target ≤ ${TARGET_RATIO_VS_GO}× Go)`,
    ['client', 'median µs', 'p95 µs', '× Go', `≤ ${TARGET_RATIO_VS_GO}× Go`, '× grpc-js'],
    results.map((r) => [
      r.client,
      round(r.medianUs),
      round(r.p95Us),
      ratio(r.ratioVsGo),
      r.meetsTarget ? 'yes' : 'no',
      ratio(r.medianUs / grpcJsMedian),
    ]),
  )
  return results
}
