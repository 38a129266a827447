/**
 * Unary latency with a large answer: `Containers.List` of 1 000 containers (~100 KB of protobuf), where
 * decoding and buffer handling weigh more than the round trip. All three clients decode with protobuf-es.
 */
import { toBinary } from '@bufbuild/protobuf'
import { createClient } from '@connectrpc/connect'
import { Containers, ListContainersResponseSchema } from '../../src/gen/containerd/services/containers/v1/containers_pb.js'
import type { BenchClients } from '../lib/bench-clients.js'
import type { BenchConfig } from '../lib/bench-config.js'
import { connectCallOptions } from '../lib/connect-client.js'
import { createBenchContainers, deleteBenchContainers } from './containers-fixture.js'
import { grpcJsUnary } from '../lib/grpc-js-client.js'
import { sampleInterleaved, type Call } from '../lib/interleaved-sampler.js'
import { nowUs, round, summarizeLatency, type LatencySummary } from '../lib/stats.js'
import { printTable, ratio } from '../lib/table.js'

export interface ListResult extends LatencySummary {
  client: string
}

export interface ListBench {
  containers: number
  responseBytes: number
  createMs: number
  results: ListResult[]
}

export async function benchContainersList(clients: BenchClients, config: BenchConfig): Promise<ListBench> {
  const ns = clients.namespace
  const createStart = nowUs()
  await createBenchContainers(clients.ours, config.containerCount)
  const createMs = (nowUs() - createStart) / 1000
  try {
    const check = await clients.ours.services.containers.list({})
    if (check.containers.length !== config.containerCount) {
      throw new Error(`expected ${config.containerCount} containers in ${ns}, containerd lists ${check.containers.length}`)
    }
    const responseBytes = toBinary(ListContainersResponseSchema, check).byteLength
    const connectContainers = createClient(Containers, clients.connect.transport)
    const headers = connectCallOptions(ns)
    const calls: Record<string, Call> = {
      'ours: services.containers.list': () => clients.ours.services.containers.list({}),
      '@grpc/grpc-js': () => grpcJsUnary(clients.grpcJs, Containers.method.list, {}, clients.grpcJsMetadata),
      '@connectrpc/connect-node': () => connectContainers.list({}, headers),
    }
    const samples = await sampleInterleaved(calls, { warmup: config.listWarmup, samples: config.listSamples, block: 5 })
    const results = Object.entries(samples).map(([client, values]) => ({ client, ...summarizeLatency(values) }))
    const grpcJsMedian = results.find((r) => r.client === '@grpc/grpc-js')?.medianUs ?? Number.NaN
    printTable(
      `2. Unary Containers.List: ${config.containerCount} containers (${responseBytes} bytes of protobuf), ` +
        `${config.listSamples} calls per client after ${config.listWarmup} warm-up calls`,
      ['client', 'median ms', 'p95 ms', '× grpc-js'],
      results.map((r) => [r.client, round(r.medianUs / 1000, 2), round(r.p95Us / 1000, 2), ratio(r.medianUs / grpcJsMedian)]),
    )
    console.log(`(creating the ${config.containerCount} containers took ${round(createMs, 0)} ms, 16 concurrent creates)`)
    return { containers: config.containerCount, responseBytes, createMs, results }
  } finally {
    // A failed clean-up must not hide the measurement's own error; the daemon is private and removed anyway.
    await deleteBenchContainers(clients.ours).catch((err: unknown) => console.error('deleting the bench containers failed:', err))
  }
}
