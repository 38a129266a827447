/**
 * Client CPU of ours per container lifecycle (section 6's `stdio: 'null'` steps), step by step, and the RPCs
 * each lifecycle makes: what a lifecycle costs this process, apart from the daemon's, runc's and the shim's
 * time that dominates the wall clock (and the machine's load with it). Run alone, on a private containerd:
 *
 *   node --import tsx bench/containers/lifecycle-cpu.ts        BENCH_LIFECYCLES=<n> (default 60), BENCH_CONTAINERD=1.7|2.x
 *
 * Sequential, so each step's CPU (user + system, `process.cpuUsage`) is the process's while it ran: medians
 * over the runs after 5 untimed ones. RPCs are counted by wrapping the channel's two call methods.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '../../src/index.js'
import { Http2Channel } from '../../src/grpc/http2-channel.js'
import type { ContainerdLine } from '../../src/testing/containerd-binaries.js'
import { startContainerd, type ContainerdDaemon } from '../../src/testing/containerd-daemon.js'
import { writeBusyboxImageArchive } from '../../src/testing/busybox-archive.js'
import { median, round } from '../lib/stats.js'

const WARM = 5
const IMAGE = 'docker.io/library/busybox:bench-lifecycle-cpu'

const rpcs = new Map<string, number>()
let counting = false
for (const name of ['unary', 'stream'] as const) {
  const original = Http2Channel.prototype[name] as (this: Http2Channel, method: string, ...rest: unknown[]) => unknown
  Object.defineProperty(Http2Channel.prototype, name, {
    configurable: true,
    writable: true,
    value(this: Http2Channel, method: string, ...rest: unknown[]): unknown {
      if (counting) rpcs.set(method, (rpcs.get(method) ?? 0) + 1)
      return original.call(this, method, ...rest)
    },
  })
}

function cpuUs(): number {
  const { user, system } = process.cpuUsage()
  return user + system
}

async function main(): Promise<void> {
  const count = Number(process.env['BENCH_LIFECYCLES'] ?? 60)
  const line = (process.env['BENCH_CONTAINERD'] ?? '1.6') as ContainerdLine
  const workDir = await mkdtemp(join(tmpdir(), 'csdk-bench-cpu-'))
  let daemon: ContainerdDaemon | undefined
  let client: Client | undefined
  try {
    daemon = await startContainerd({ version: line })
    client = await Client.connect({ address: daemon.address, namespace: 'csdk-bench-lifecycle-cpu' })
    const archive = join(workDir, 'busybox.tar')
    await writeBusyboxImageArchive(archive, { name: IMAGE })
    await client.images.import(archive)
    const image = await client.images.get(IMAGE)
    const steps = new Map<string, number[]>()
    const c = client
    for (let i = 0; i < WARM + count; i++) {
      const timed = i >= WARM
      counting = timed
      const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
        const start = cpuUs()
        const result = await fn()
        if (timed) steps.set(name, [...(steps.get(name) ?? []), (cpuUs() - start) / 1000])
        return result
      }
      const start = cpuUs()
      const container = await step('containers.create', () => c.containers.create(`bench-cpu-${i}`, { image, args: ['true'] }))
      const task = await step('newTask', () => container.newTask({ stdio: 'null' }))
      const exited = task.wait()
      await step('start', () => task.start())
      const { exitCode } = await step('wait (exit)', () => exited)
      if (exitCode !== 0) throw new Error(`true exited ${exitCode}`)
      await step('task.delete', () => task.delete({ force: true }))
      await step('container.delete', () => container.delete())
      if (timed) steps.set('lifecycle', [...(steps.get('lifecycle') ?? []), (cpuUs() - start) / 1000])
    }
    counting = false
    const { version } = await client.version()
    console.log(`Client CPU per lifecycle (ours, stdio 'null'), containerd ${version}, Node ${process.version}, median of ${count}:`)
    for (const [name, ms] of steps) console.log(`  ${name.padEnd(18)} ${round(median(ms)).toString().padStart(6)} ms`)
    const total = [...rpcs.values()].reduce((a, b) => a + b, 0)
    console.log(`RPCs per lifecycle: ${round(total / count)}`)
    for (const [method, n] of rpcs) console.log(`  ${method.replace(/^\/containerd\.services\./, '')} ${round(n / count)}`)
    console.log(`\nBENCH_RESULT ${JSON.stringify({ lifecycleCpu: { count, containerd: version, node: process.version, medianMs: Object.fromEntries([...steps].map(([k, v]) => [k, round(median(v))])), rpcs: total / count } })}`)
  } finally {
    client?.close()
    await daemon?.stop()
    await rm(workDir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error('bench failed:', err)
  process.exitCode = 1
})
