/**
 * A diagnostic for section 4: one `client.pull()` of the section's image with a timeline of its progress events
 * (when each layer's download starts and ends, when each unpack starts and ends), and the CPU time of this process
 * and of containerd, then one `ctr images pull` for comparison. Not part of `npm run bench`:
 *
 *   node --import tsx bench/pull/pull-timeline.ts            (BENCH_QUICK=1 for the small image)
 *
 * `BENCH_PULL_CONCURRENCY=<n>` sets `maxConcurrentDownloads`; `BENCH_PULL_UNPACK=0` fetches only (`unpack: false`, against
 * `ctr content fetch`), to tell the daemon's content-write work from its unpacking.
 */
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { Client } from '../../src/index.js'
import { startContainerd } from '../../src/testing/containerd-daemon.js'
import { multiLayerImage } from '../../test/fixtures/index.js'
import { pushFixture, startRegistry } from '../../test/env/registry/index.js'
import { loadConfig } from '../lib/bench-config.js'
import { createCtr } from '../lib/ctr-cli.js'
import { childrenCpuMs, processCpuMs } from './pull-cpu.js'
import { loadPullConfig } from './pull-config.js'
import { createPullReset } from './pull-reset.js'
import { nowUs, round } from '../lib/stats.js'

async function main(): Promise<void> {
  const config = loadConfig()
  const pull = loadPullConfig(config)
  const daemon = await startContainerd({ version: '1.6' })
  const registry = await startRegistry({ mode: 'plain' })
  const client = await Client.connect({ address: daemon.address, namespace: 'timeline' })
  try {
    const image = await multiLayerImage({ layers: pull.layers, layerSize: pull.layerBytes })
    const { reference } = await pushFixture(registry, image, pull.repo, pull.tag, { timeoutMs: 300_000 })
    const digests = [image.manifest, image.config, ...image.layers.map((l) => l.descriptor)].map((d) => d.digest) as `sha256:${string}`[]
    const names = new Map<string, string>(image.layers.map((l, i) => [l.descriptor.digest, `L${i}`]))
    const reset = await createPullReset({ client, address: daemon.address, daemonRoot: join(daemon.dir, 'root'), reference, digests })
    const concurrency = process.env['BENCH_PULL_CONCURRENCY']
    const unpack = process.env['BENCH_PULL_UNPACK'] !== '0'
    console.log(`load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
    for (let run = 0; run < 2; run++) {
      const ns = client.withNamespace(`timeline-${run}`)
      const start = nowUs()
      const cpu0 = process.cpuUsage()
      const d0 = await processCpuMs(daemon.pid)
      const lines: string[] = []
      await ns.pull(reference, {
        ...(concurrency === undefined ? {} : { maxConcurrentDownloads: Number(concurrency) }),
        unpack,
        onProgress: (e) => {
          if (e.status === 'downloading' && (e.current ?? 0) > 0) return
          const name = e.digest === undefined ? '' : (names.get(e.digest) ?? e.digest.slice(7, 15))
          lines.push(`${String(round((nowUs() - start) / 1000, 0)).padStart(6)} ms  ${name.padEnd(9)} ${e.status}`)
        },
      })
      const ms = (nowUs() - start) / 1000
      const cpu = process.cpuUsage(cpu0)
      const daemonMs = (await processCpuMs(daemon.pid)) - d0
      if (run === 1) console.log(lines.join('\n'))
      console.log(`ours run ${run}: ${round(ms, 0)} ms, our CPU ${round((cpu.user + cpu.system) / 1000, 0)} ms, containerd CPU ${daemonMs} ms`)
      await reset.reset(`timeline-${run}`)
      const c0 = await childrenCpuMs()
      const cd0 = await processCpuMs(daemon.pid)
      const us = await createCtr(daemon.address, `timeline-ctr-${run}`).run([...(unpack ? ['images', 'pull'] : ['content', 'fetch']), '--plain-http', reference], { discardStdout: true })
      console.log(`ctr run ${run}: ${round(us / 1000, 0)} ms, ctr CPU ${(await childrenCpuMs()) - c0} ms, containerd CPU ${(await processCpuMs(daemon.pid)) - cd0} ms`)
      await reset.reset(`timeline-ctr-${run}`)
    }
    await reset.dispose()
  } finally {
    client.close()
    await registry.stop()
    await daemon.stop()
  }
}

main().catch((err: unknown) => {
  console.error('pull-timeline failed:', err)
  process.exitCode = 1
})
