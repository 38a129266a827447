/**
 * Sections 6–8, the containers: the busybox image imported once into a namespace of their own, then the
 * lifecycle, exec and stdout measurements, then the image and namespace removed. Used by index.ts and by
 * containers-only.ts (these sections alone).
 */
import type { Client } from '../src/index.js'
import type { BenchConfig } from './bench-config.js'
import { loadContainerConfig } from './container-config.js'
import { checkNothingLeft, importBenchImage } from './container-fixture.js'
import { containerResultJson } from './container-result.js'
import { benchExec } from './exec-bench.js'
import { benchLifecycle } from './lifecycle.js'
import { buildGoProgram } from './go-client.js'
import { benchStdout } from './stdout-throughput.js'

/** Runs the three sections; resolves with their figures for the `BENCH_RESULT` line (key `containers`). */
export async function benchContainerSections(client: Client, config: BenchConfig, workDir: string): Promise<Record<string, unknown>> {
  const containers = loadContainerConfig(config)
  const ns = client.withNamespace(containers.namespace)
  await importBenchImage(ns, containers, workDir)
  try {
    const lifecycle = await benchLifecycle(ns, containers, await buildGoProgram('go-lifecycle', workDir))
    const exec = await benchExec(ns, containers)
    const stdout = await benchStdout(ns, containers)
    return containerResultJson(lifecycle, exec, stdout)
  } finally {
    await checkNothingLeft(ns, 'the container sections')
    await ns.removeImage(containers.image)
  }
}
