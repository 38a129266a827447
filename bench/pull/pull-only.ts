/**
 * Section 4 (pull + unpack) alone, on a private containerd 1.6, without the minutes of the other sections:
 *
 *   node --import tsx bench/pull/pull-only.ts                 full (12 × 25 MiB)
 *   BENCH_QUICK=1 node --import tsx bench/pull/pull-only.ts   quick (12 × 4 MiB)
 *
 * `BENCH_PULL_RUNS=<n>` sets the runs per contender (default 3). Also reports containerd's CPU time per run.
 * Prints the section's table and a `BENCH_RESULT {"pullUnpack": …}` line.
 */
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { startContainerd, type ContainerdDaemon } from '../../src/testing/containerd-daemon.js'
import { openBenchClients, type BenchClients } from '../lib/bench-clients.js'
import { loadConfig } from '../lib/bench-config.js'
import { benchPullUnpack } from './pull-unpack.js'
import { pullResultJson } from './pull-result.js'
import { buildGoProgram } from '../go/go-client.js'

async function main(): Promise<void> {
  const base = loadConfig()
  const runs = Number(process.env['BENCH_PULL_RUNS'] ?? base.streamRuns)
  if (!Number.isSafeInteger(runs) || runs < 1 || runs > 50) throw new Error(`BENCH_PULL_RUNS must be 1–50, got ${String(process.env['BENCH_PULL_RUNS'])}`)
  const config = { ...base, streamRuns: runs }
  let daemon: ContainerdDaemon | undefined
  let clients: BenchClients | undefined
  try {
    daemon = await startContainerd({ version: '1.6' })
    clients = await openBenchClients(daemon.address, config.namespace)
    const { version } = await clients.ours.version()
    console.log(`containerd-sdk bench, pull (${config.mode}, ${runs} runs): containerd ${version}, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
    const pull = await benchPullUnpack(clients, config, join(daemon.dir, 'root'), daemon.pid, await buildGoProgram('go-pull', daemon.dir))
    console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
    console.log(`\nBENCH_RESULT ${JSON.stringify({ mode: config.mode, containerd: version, pullUnpack: pullResultJson(pull) })}`)
  } finally {
    clients?.close()
    await daemon?.stop()
  }
}

main().catch((err: unknown) => {
  console.error('bench failed:', err)
  process.exitCode = 1
})
