/**
 * A diagnostic for section 4, not part of `npm run bench`: what containerd spends its CPU on while ours and the
 * Go client pull the section's image.
 *
 *   node --import tsx bench/pull/pull-pprof.ts <out-dir>
 *
 * Starts a private containerd 1.6 and, bench-locally (the test environment's config is untouched), adds to its
 * config a `[debug]` socket and a metrics address, then restarts it. Per run and contender, into a fresh
 * namespace: captures `/debug/pprof/profile?seconds=N` over the debug socket during the pull (written to
 * `<out-dir>/<contender>-<run>.pprof`; read with `go tool pprof -top -cum <file>`), and prints the wall time,
 * containerd's user and system CPU, the puller's CPU (and ours' peak RSS) and, with `BENCH_PPROF_COUNTERS=1`,
 * how many RPCs and stream messages containerd handled per method (its go-grpc-prometheus counters).
 *
 * Environment: `BENCH_QUICK=1` (small image), `BENCH_PULL_RUNS=<n>` (default 2), `BENCH_PPROF_SECONDS=<s>`
 * (default 8; 0 takes no profile), `BENCH_PPROF_VARIANTS='A=1;B=2,C=3'` adds one contender per `;`-separated
 * item: ours with those environment variables set (e.g. `BENCH_PULL_CONCURRENCY=6`), `BENCH_PULL_CPU_PROF=<dir>`
 * (V8 profiles of ours, as in section 4).
 */
import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type { Digest } from '../../src/index.js'
import { startContainerd } from '../../src/testing/containerd-daemon.js'
import { multiLayerImage } from '../../test/fixtures/index.js'
import { pushFixture, startRegistry } from '../../test/env/registry/index.js'
import { openBenchClients } from '../lib/bench-clients.js'
import { loadConfig } from '../lib/bench-config.js'
import { buildGoProgram, goPull } from '../go/go-client.js'
import { runJsonChild } from '../lib/json-child.js'
import { childrenCpuMs } from './pull-cpu.js'
import { loadPullConfig } from './pull-config.js'
import { createPullReset } from './pull-reset.js'
import { freePort } from '../../test/env/registry/free-port.js'

const run = promisify(execFile)
const TICK_MS = 10

interface ChildOut {
  ms: number
  cpuMs: number
  maxRssMiB: number
}

interface PullRun {
  ms: number
  /** The puller's CPU and what else is worth printing. */
  note: string
}

/** User and system CPU of a process, ms. */
async function userSystemMs(pid: number): Promise<[number, number]> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8')
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return [Number(f[11]) * TICK_MS, Number(f[12]) * TICK_MS]
}

/** containerd's gRPC counters: `handled_total <method> <code>`, `msg_received_total <method>`, … → value. */
async function grpcCounters(address: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${address}/v1/metrics`)).text()
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^grpc_server_(handled_total|msg_received_total|msg_sent_total)\{(.*)\} (\S+)$/.exec(line)
    if (m === null) continue
    const method = /grpc_method="([^"]*)"/.exec(m[2] ?? '')?.[1] ?? '?'
    const code = /grpc_code="([^"]*)"/.exec(m[2] ?? '')?.[1]
    const key = `${m[1] ?? ''} ${method}${code === undefined ? '' : ` ${code}`}`
    out.set(key, (out.get(key) ?? 0) + Number(m[3]))
  }
  return out
}

function counterDiff(before: Map<string, number>, after: Map<string, number>): string[] {
  const lines: string[] = []
  for (const [key, value] of after) {
    const d = value - (before.get(key) ?? 0)
    if (d !== 0) lines.push(`    ${key}: ${d}`)
  }
  return lines.sort()
}

/** Runs `work` with `vars` (`A=1,B=2`) in this process's environment, which the pull child inherits. */
async function withEnv<T>(vars: string, work: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>()
  for (const pair of vars.split(',')) {
    const [key, value] = pair.split('=')
    if (key === undefined || key === '' || value === undefined) throw new Error(`BENCH_PPROF_VARIANTS: "${pair}" is not NAME=value`)
    saved.set(key, process.env[key])
    process.env[key] = value
  }
  try {
    return await work()
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }
}

async function main(): Promise<void> {
  const outDir = resolve(process.argv[2] ?? 'pprof-out')
  await mkdir(outDir, { recursive: true })
  const config = loadConfig()
  const pull = loadPullConfig(config)
  const runs = Number(process.env['BENCH_PULL_RUNS'] ?? 2)
  const seconds = Number(process.env['BENCH_PPROF_SECONDS'] ?? 8)
  const showCounters = process.env['BENCH_PPROF_COUNTERS'] === '1'
  const daemon = await startContainerd({ version: '1.6' })
  const debugSocket = join(daemon.dir, 'debug.sock')
  const configFile = join(daemon.dir, 'config.toml')
  const metricsAddress = `127.0.0.1:${await freePort()}`
  const toml = (await readFile(configFile, 'utf8')).replace(/\[metrics\]\n {2}address = ""/, `[metrics]\n  address = ${JSON.stringify(metricsAddress)}`)
  await writeFile(configFile, `${toml}\n[debug]\n  address = ${JSON.stringify(debugSocket)}\n  level = "info"\n`)
  await daemon.restart()
  const clients = await openBenchClients(daemon.address, config.namespace)
  const registry = await startRegistry({ mode: 'plain' })
  try {
    const image = await multiLayerImage({ layers: pull.layers, layerSize: pull.layerBytes })
    const { reference } = await pushFixture(registry, image, pull.repo, pull.tag, { timeoutMs: 300_000 })
    const digests = [image.manifest, image.config, ...image.layers.map((l) => l.descriptor)].map((d) => d.digest as Digest)
    const reset = await createPullReset({ client: clients.ours, address: daemon.address, daemonRoot: join(daemon.dir, 'root'), reference, digests })
    const goBinary = await buildGoProgram('go-pull', daemon.dir)
    const ours = async (ns: string): Promise<PullRun> => {
      const out = await runJsonChild<ChildOut>(new URL('./pull-child.ts', import.meta.url), [daemon.address, ns, reference], 'BENCH_PULL_CPU_PROF')
      return { ms: out.ms, note: `client CPU ${out.cpuMs.toFixed(0)} ms, peak RSS ${out.maxRssMiB.toFixed(0)} MiB` }
    }
    const contenders: [string, (ns: string) => Promise<PullRun>][] = [['ours', ours]]
    for (const variant of (process.env['BENCH_PPROF_VARIANTS'] ?? '').split(';').filter((v) => v !== '')) {
      contenders.push([variant, (ns) => withEnv(variant, () => ours(ns))])
    }
    if (goBinary !== undefined) {
      contenders.push(['go', async (ns) => {
        const before = await childrenCpuMs()
        const ms = await goPull(goBinary, daemon.address, ns, reference)
        return { ms, note: `client CPU ${((await childrenCpuMs()) - before).toFixed(0)} ms` }
      }])
    }
    for (let r = 0; r < runs; r++) {
      for (const [name, pullInto] of contenders) {
        const slug = name.replace(/[^a-z0-9]/gi, '')
        const ns = `pprof-${r}-${slug}`
        const file = join(outDir, `${slug}-${r}.pprof`)
        const countersBefore = await grpcCounters(metricsAddress)
        const cpuBefore = await userSystemMs(daemon.pid)
        const profile = seconds > 0 ? run('curl', ['-s', '--unix-socket', debugSocket, '-o', file, `http://x/debug/pprof/profile?seconds=${seconds}`]) : undefined
        // Let the profiler start before the pull does.
        if (profile !== undefined) await new Promise((r2) => setTimeout(r2, 200))
        const result = await pullInto(ns)
        const cpuAfter = await userSystemMs(daemon.pid)
        await profile
        const user = cpuAfter[0] - cpuBefore[0]
        const system = cpuAfter[1] - cpuBefore[1]
        console.log(`${name} run ${r}: ${result.ms.toFixed(0)} ms, containerd CPU ${user + system} ms (user ${user}, sys ${system}), ${result.note}${profile !== undefined ? ` → ${file}` : ''}`)
        if (showCounters) console.log(counterDiff(countersBefore, await grpcCounters(metricsAddress)).join('\n'))
        await reset.reset(ns)
      }
    }
    await reset.dispose()
  } finally {
    await registry.stop()
    clients.close()
    await daemon.stop()
  }
}

main().catch((err: unknown) => {
  console.error('pull-pprof failed:', err)
  process.exitCode = 1
})
