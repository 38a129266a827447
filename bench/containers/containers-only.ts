/**
 * Sections 6–8 (containers) alone, on a private containerd 1.6, without the minutes of sections 1–5:
 *
 *   node --import tsx bench/containers/containers-only.ts                 full
 *   BENCH_QUICK=1 node --import tsx bench/containers/containers-only.ts   quick
 *
 * Prints the same tables and a `BENCH_RESULT {"containers": …}` line. `BENCH_CONTAINERD=1.7|2.x` starts that line
 * instead of 1.6 (the stdout figure depends on the line's shim); ctr stays the machine's 1.6 client.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '../../src/index.js'
import type { ContainerdLine } from '../../src/testing/containerd-binaries.js'
import { startContainerd, type ContainerdDaemon } from '../../src/testing/containerd-daemon.js'
import { loadConfig } from '../lib/bench-config.js'
import { benchContainerSections } from './container-sections.js'

const LINES: readonly ContainerdLine[] = ['1.6', '1.7', '2.x']

function containerdLine(value: string | undefined): ContainerdLine {
  const line = LINES.find((l) => l === (value ?? '1.6'))
  if (line === undefined) throw new Error(`BENCH_CONTAINERD must be one of ${LINES.join(', ')}, got ${String(value)}`)
  return line
}

async function main(): Promise<void> {
  const config = loadConfig()
  const line = containerdLine(process.env['BENCH_CONTAINERD'])
  const workDir = await mkdtemp(join(tmpdir(), 'csdk-bench-'))
  let daemon: ContainerdDaemon | undefined
  let client: Client | undefined
  try {
    daemon = await startContainerd({ version: line })
    client = await Client.connect({ address: daemon.address, namespace: config.namespace })
    const { version } = await client.version()
    console.log(`containerd-sdk bench, containers (${config.mode}): containerd ${version}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`)
    const containers = await benchContainerSections(client, config, workDir)
    console.log(`\nBENCH_RESULT ${JSON.stringify({ mode: config.mode, node: process.version, containerd: version, containers })}`)
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
