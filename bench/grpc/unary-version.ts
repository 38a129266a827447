/**
 * Unary latency (section 1): `Version`, the smallest call containerd answers (an empty request, two short
 * strings back), and `Containers.List` of the bench namespace (empty: a small answer), so the figures are
 * almost all client and transport overhead. Ours beside containerd's Go client measured in the same run
 * (`bench/go/go-unary/main.go`, one connection, blocks of calls interleaved with ours), and beside
 * @grpc/grpc-js and @connectrpc/connect-node for `Version`. When the Go program cannot be built its rows
 * are skipped, saying why, and no ratio to Go is printed.
 */
import { create, toBinary } from '@bufbuild/protobuf'
import { EmptySchema } from '@bufbuild/protobuf/wkt'
import { createClient } from '@connectrpc/connect'
import { Containers, ListContainersRequestSchema } from '../../src/gen/containerd/services/containers/v1/containers_pb.js'
import { Version } from '../../src/gen/containerd/services/version/v1/version_pb.js'
import type { BenchClients } from '../lib/bench-clients.js'
import { TARGET_RATIO_VS_GO, type BenchConfig } from '../lib/bench-config.js'
import { connectCallOptions } from '../lib/connect-client.js'
import { grpcJsUnary } from '../lib/grpc-js-client.js'
import { sampleInterleaved, type BlockCall, type Call } from '../lib/interleaved-sampler.js'
import { round, summarizeLatency, type LatencySummary } from '../lib/stats.js'
import { printTable, ratio } from '../lib/table.js'
import { startGoUnary } from '../go/go-client.js'
import { Http2Channel } from '../../src/grpc/http2-channel.js'
import { createServiceClient } from '../../src/grpc/service-client.js'

type ChannelModule = typeof import('../../src/grpc/http2-channel.js')
type ServiceClientModule = typeof import('../../src/grpc/service-client.js')

/**
 * `BENCH_BASELINE=<dir>`: `<dir>/src/grpc` holds an earlier version of our transport (e.g. `git archive <commit>
 * src/grpc | tar -x -C <dir>`, with `<dir>/node_modules` linked to the repo's), measured beside the current one
 * in the same run, so a change to the unary path is judged before/after on the same machine at the same time.
 * Adds rows for both: a bare `Http2Channel` and a typed service client on it (no lease lookup, unlike client.version()).
 */
async function baselineCalls(address: string, ns: string, rpc: UnaryRpc, closers: (() => void)[]): Promise<Record<string, Call>> {
  const dir = process.env['BENCH_BASELINE']
  const metadata = { 'containerd-namespace': ns }
  const pick = (m: { Http2Channel: ChannelModule['Http2Channel'] }, s: { createServiceClient: ServiceClientModule['createServiceClient'] }): Call => {
    const channel = new m.Http2Channel(address)
    closers.push(() => channel.close())
    if (rpc === 'Version') {
      const version = s.createServiceClient(Version, channel, () => metadata)
      return () => version.version({})
    }
    const containers = s.createServiceClient(Containers, channel, () => metadata)
    return () => containers.list({})
  }
  if (dir === undefined) return {}
  const base = {
    channel: (await import(`${dir}/src/grpc/http2-channel.ts`)) as ChannelModule,
    services: (await import(`${dir}/src/grpc/service-client.ts`)) as ServiceClientModule,
  }
  return {
    'now: service client on a new Http2Channel': pick({ Http2Channel }, { createServiceClient }),
    'baseline: service client on its Http2Channel': pick(base.channel, base.services),
  }
}

/** The RPC a row measured. */
export type UnaryRpc = 'Version' | 'Containers.List'

export interface UnaryResult extends LatencySummary {
  rpc: UnaryRpc
  client: string
  /** Median over the Go client's median for the same RPC in this run; undefined when Go was not measured. */
  ratioVsGo?: number
  meetsTarget?: boolean
}

export const GO_CLIENT = 'Go client (containerd 1.6)'
export const OURS_VERSION = 'ours: client.version()'
export const OURS_LIST = 'ours: services.containers.list'

const VERSION_PATH = `/${Version.typeName}/${Version.method.version.name}`
const LIST_PATH = `/${Containers.typeName}/${Containers.method.list.name}`

/** Runs section 1; `goBinary` is the built `go-unary`, or undefined when it could not be built. */
export async function benchUnaryVersion(clients: BenchClients, config: BenchConfig, goBinary: string | undefined): Promise<UnaryResult[]> {
  const ns = clients.namespace
  // Encoded once: the raw channel rows measure transport only, no protobuf work on our side.
  const emptyBytes = toBinary(EmptySchema, create(EmptySchema))
  const listBytes = toBinary(ListContainersRequestSchema, create(ListContainersRequestSchema))
  const metadata = { 'containerd-namespace': ns }
  const connectVersion = createClient(Version, clients.connect.transport)
  const headers = connectCallOptions(ns)
  const go = goBinary === undefined ? undefined : startGoUnary(goBinary, clients.address, ns)
  const closers: (() => void)[] = []
  try {
    const versionCalls: Record<string, Call | BlockCall> = {
      [OURS_VERSION]: () => clients.ours.version(),
      'ours: Http2Channel.unary (floor)': () => clients.channel.unary(VERSION_PATH, emptyBytes, metadata),
      '@grpc/grpc-js': () => grpcJsUnary(clients.grpcJs, Version.method.version, {}, clients.grpcJsMetadata),
      '@connectrpc/connect-node': () => connectVersion.version({}, headers),
      ...(await baselineCalls(clients.address, ns, 'Version', closers)),
      ...(go === undefined ? {} : { [GO_CLIENT]: go.block('version') }),
    }
    const listCalls: Record<string, Call | BlockCall> = {
      [OURS_LIST]: () => clients.ours.services.containers.list({}),
      'ours: Http2Channel.unary (floor)': () => clients.channel.unary(LIST_PATH, listBytes, metadata),
      ...(await baselineCalls(clients.address, ns, 'Containers.List', closers)),
      ...(go === undefined ? {} : { [GO_CLIENT]: go.block('list') }),
    }
    const options = { warmup: config.unaryWarmup, samples: config.unarySamples, block: 100 }
    const results = [
      ...summarize('Version', await sampleInterleaved(versionCalls, options)),
      ...summarize('Containers.List', await sampleInterleaved(listCalls, options)),
    ]
    printUnaryTable(results, config, goBinary !== undefined)
    return results
  } finally {
    go?.close()
    for (const close of closers) close()
  }
}

function summarize(rpc: UnaryRpc, samples: Record<string, number[]>): UnaryResult[] {
  const goMedian = samples[GO_CLIENT] === undefined ? undefined : summarizeLatency(samples[GO_CLIENT]).medianUs
  return Object.entries(samples).map(([client, values]): UnaryResult => {
    const summary = summarizeLatency(values)
    if (goMedian === undefined) return { rpc, client, ...summary }
    const ratioVsGo = summary.medianUs / goMedian
    return { rpc, client, ...summary, ratioVsGo, meetsTarget: ratioVsGo <= TARGET_RATIO_VS_GO }
  })
}

function printUnaryTable(results: readonly UnaryResult[], config: BenchConfig, withGo: boolean): void {
  const grpcJsMedian = results.find((r) => r.rpc === 'Version' && r.client === '@grpc/grpc-js')?.medianUs ?? Number.NaN
  const bar = `≤ ${TARGET_RATIO_VS_GO}× Go`
  printTable(
    `1. Unary Version and Containers.List (empty namespace): ${config.unarySamples} sequential calls per client after ` +
      `${config.unaryWarmup} warm-up calls, interleaved in blocks of 100; the Go client measured in this run ` +
      `(${withGo ? 'its own process, one connection, timed inside it' : 'not built: no × Go column'}). Target: ${bar}`,
    ['rpc', 'client', 'median µs', 'p95 µs', '× Go', bar, '× grpc-js'],
    results.map((r) => [
      r.rpc,
      r.client,
      round(r.medianUs),
      round(r.p95Us),
      r.ratioVsGo === undefined ? '-' : ratio(r.ratioVsGo),
      r.meetsTarget === undefined || r.client === GO_CLIENT ? '-' : r.meetsTarget ? 'yes' : 'no',
      r.rpc === 'Version' ? ratio(r.medianUs / grpcJsMedian) : '-',
    ]),
  )
}
