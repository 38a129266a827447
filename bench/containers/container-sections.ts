/**
 * Sections 6–8, the containers: the busybox image imported once into a namespace of their own, then the
 * lifecycle, exec and stdout measurements, then the image and namespace removed. Used by index.ts and by
 * containers-only.ts (these sections alone). `BENCH_CONTAINER_SECTIONS=stdout` (or any comma list of
 * `lifecycle`, `exec`, `stdout`) runs only those.
 */
import type { Client } from '../../src/index.js'
import type { BenchConfig } from '../lib/bench-config.js'
import { loadContainerConfig } from './container-config.js'
import { checkNothingLeft, importBenchImage } from './container-fixture.js'
import { containerResultJson } from './container-result.js'
import { benchExec } from './exec-bench.js'
import { benchLifecycle } from './lifecycle.js'
import { buildGoProgram } from '../go/go-client.js'
import { benchStdout } from './stdout-throughput.js'

const SECTIONS = ['lifecycle', 'exec', 'stdout'] as const

/** The sections `BENCH_CONTAINER_SECTIONS` names; all three when unset. */
function chosenSections(value: string | undefined): ReadonlySet<string> {
  if (value === undefined || value.trim() === '') return new Set(SECTIONS)
  const names = value.split(',').map((v) => v.trim())
  const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n))
  if (unknown.length > 0) throw new Error(`BENCH_CONTAINER_SECTIONS: unknown ${unknown.join(', ')}; want a comma list of ${SECTIONS.join(', ')}`)
  return new Set(names)
}

/** Runs the sections; resolves with their figures for the `BENCH_RESULT` line (key `containers`). */
export async function benchContainerSections(client: Client, config: BenchConfig, workDir: string): Promise<Record<string, unknown>> {
  const containers = loadContainerConfig(config)
  const chosen = chosenSections(process.env['BENCH_CONTAINER_SECTIONS'])
  const ns = client.withNamespace(containers.namespace)
  await importBenchImage(ns, containers, workDir)
  try {
    const lifecycle = chosen.has('lifecycle') ? await benchLifecycle(ns, containers, await buildGoProgram('go-lifecycle', workDir)) : undefined
    const exec = chosen.has('exec') ? await benchExec(ns, containers) : undefined
    const stdout = chosen.has('stdout') ? await benchStdout(ns, containers) : undefined
    return containerResultJson(lifecycle, exec, stdout)
  } finally {
    await checkNothingLeft(ns, 'the container sections')
    await ns.images.remove(containers.image)
  }
}
