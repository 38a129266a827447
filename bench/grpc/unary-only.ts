/**
 * Section 1 (unary latency, ours beside the Go client measured in the same run) alone, on a private containerd:
 *
 *   node --import tsx bench/grpc/unary-only.ts                          1.6; BENCH_CONTAINERD=1.7|2.x for another line
 *   BENCH_UNARY_PROFILE=<n> node --cpu-prof --import tsx bench/grpc/unary-only.ts
 *                                        only n × client.version() then n × services.containers.list, for a CPU profile
 *
 * Prints section 1's table and a `BENCH_RESULT {"unary": …}` line (BENCH_QUICK=1 for fewer calls).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ContainerdLine } from '../../src/testing/containerd-binaries.js'
import { startContainerd, type ContainerdDaemon } from '../../src/testing/containerd-daemon.js'
import { buildGoProgram } from '../go/go-client.js'
import { openBenchClients, type BenchClients } from '../lib/bench-clients.js'
import { loadConfig } from '../lib/bench-config.js'
import { buildBenchResult } from '../lib/bench-result.js'
import { nowUs, round } from '../lib/stats.js'
import { benchUnaryVersion } from './unary-version.js'

const LINES: readonly ContainerdLine[] = ['1.6', '1.7', '2.x']

async function main(): Promise<void> {
  const config = loadConfig()
  const value = process.env['BENCH_CONTAINERD'] ?? '1.6'
  const line = LINES.find((l) => l === value)
  if (line === undefined) throw new Error(`BENCH_CONTAINERD must be one of ${LINES.join(', ')}, got ${value}`)
  const workDir = await mkdtemp(join(tmpdir(), 'csdk-bench-'))
  let daemon: ContainerdDaemon | undefined
  let clients: BenchClients | undefined
  try {
    daemon = await startContainerd({ version: line })
    clients = await openBenchClients(daemon.address, config.namespace)
    const { version } = await clients.ours.version()
    const profileCalls = Number(process.env['BENCH_UNARY_PROFILE'] ?? '0')
    if (profileCalls > 0) {
      // Only our client's calls, so a CPU profile (--cpu-prof) shows our unary path and nothing else.
      for (const [name, call] of [['version', () => clients!.ours.version()], ['list', () => clients!.ours.services.containers.list({})]] as const) {
        const start = nowUs()
        for (let i = 0; i < profileCalls; i++) await call()
        console.log(`${name}: ${round((nowUs() - start) / profileCalls)} µs per call (mean of ${profileCalls}, containerd ${version})`)
      }
      return
    }
    console.log(`containerd-sdk bench, unary (${config.mode}): containerd ${version}, Node ${process.version}`)
    const unary = await benchUnaryVersion(clients, config, await buildGoProgram('go-unary', workDir))
    const result = buildBenchResult({
      config, containerdVersion: version, unary, list: undefined, ctrStartupMs: undefined,
      read: undefined, readOurs: '', readCtr: '', write: undefined, writeOurs: '', writeCtr: '',
    })
    console.log(`\nBENCH_RESULT ${JSON.stringify(result)}`)
  } finally {
    clients?.close()
    await daemon?.stop()
    await rm(workDir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error('bench failed:', err)
  process.exitCode = 1
})
