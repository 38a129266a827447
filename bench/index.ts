/**
 * containerd-sdk benchmarks: our client against @grpc/grpc-js, @connectrpc/connect-node and containerd's own
 * Go tools, on a private containerd started for the run (1.6; `BENCH_CONTAINERD=1.7|2.x` for another line).
 *
 *   npm run bench                 full run (minutes)
 *   BENCH_QUICK=1 npm run bench   small run for the CI smoke test
 *   BENCH_SECTIONS=unary,list     only those sections: a comma list of unary (1), list (2), content (3),
 *                                 pull (4), archive (5), containers (6–8; BENCH_CONTAINER_SECTIONS narrows it)
 *
 * Prints one table per measurement and a final `BENCH_RESULT {json}` line. Shared machines are noisy:
 * compare the ratios of one run, not absolute figures across runs.
 */
import { createReadStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { startContainerd, type ContainerdDaemon } from '../src/testing/containerd-daemon.js'
import { benchImportExport } from './archive/archive-import-export.js'
import { archiveResultJson } from './archive/archive-result.js'
import { openBenchClients, type BenchClients } from './lib/bench-clients.js'
import { loadConfig } from './lib/bench-config.js'
import { buildBenchResult } from './lib/bench-result.js'
import { benchContainerSections } from './containers/container-sections.js'
import { benchContainersList } from './containers/containers-list.js'
import { benchContentRead, CTR_READ, OURS_READ } from './grpc/content-read.js'
import { benchContentWrite, CTR_WRITE, OURS_WRITE } from './grpc/content-write.js'
import { createCtr } from './lib/ctr-cli.js'
import { benchPullUnpack } from './pull/pull-unpack.js'
import { pullResultJson } from './pull/pull-result.js'
import { createRandomBlob } from './grpc/random-blob.js'
import { median, round } from './lib/stats.js'
import { benchUnaryVersion } from './grpc/unary-version.js'
import { buildGoProgram } from './go/go-client.js'
import type { ContainerdLine } from '../src/testing/containerd-binaries.js'

const LINES: readonly ContainerdLine[] = ['1.6', '1.7', '2.x']
const SECTIONS = ['unary', 'list', 'content', 'pull', 'archive', 'containers'] as const
type Section = (typeof SECTIONS)[number]

function containerdLine(value: string | undefined): ContainerdLine {
  const line = LINES.find((l) => l === (value ?? '1.6'))
  if (line === undefined) throw new Error(`BENCH_CONTAINERD must be one of ${LINES.join(', ')}, got ${String(value)}`)
  return line
}

/** The sections `BENCH_SECTIONS` names; all of them when unset. */
function chosenSections(value: string | undefined): ReadonlySet<Section> {
  if (value === undefined || value.trim() === '') return new Set(SECTIONS)
  const names = value.split(',').map((v) => v.trim())
  const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n))
  if (unknown.length > 0) throw new Error(`BENCH_SECTIONS: unknown ${unknown.join(', ')}; want a comma list of ${SECTIONS.join(', ')}`)
  return new Set(names as Section[])
}

async function main(): Promise<void> {
  const config = loadConfig()
  const line = containerdLine(process.env['BENCH_CONTAINERD'])
  const sections = chosenSections(process.env['BENCH_SECTIONS'])
  const workDir = await mkdtemp(join(tmpdir(), 'csdk-bench-'))
  let daemon: ContainerdDaemon | undefined
  let clients: BenchClients | undefined
  try {
    daemon = await startContainerd({ version: line })
    clients = await openBenchClients(daemon.address, config.namespace)
    const { version } = await clients.ours.version()
    console.log(
      `containerd-sdk bench (${config.mode}): containerd ${version}, Node ${process.version}, ` +
        `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
    )

    const unary = sections.has('unary') ? await benchUnaryVersion(clients, config, await buildGoProgram('go-unary', workDir)) : undefined
    const list = sections.has('list') ? await benchContainersList(clients, config) : undefined

    const ctr = createCtr(daemon.address, config.namespace)
    let ctrStartupMs: number | undefined
    let read: Awaited<ReturnType<typeof benchContentRead>> | undefined
    let write: Awaited<ReturnType<typeof benchContentWrite>> | undefined
    if (sections.has('content')) {
      const blob = await createRandomBlob(workDir, config.blobBytes)
      // What every ctr figure includes besides the transfer: process start, connection, one Version call.
      const startups: number[] = []
      for (let i = 0; i < 3; i++) startups.push((await ctr.run(['version'])) / 1000)
      ctrStartupMs = median(startups)
      console.log(`\nctr start-up (\`ctr version\`, median of 3): ${round(ctrStartupMs)} ms`)

      // The read runs need the blob in the store; the gc.root label keeps containerd's GC from collecting it
      // meanwhile (it is in no image and no lease).
      await clients.ours.content.writeBlob(createReadStream(blob.path), {
        expected: blob.digest,
        size: blob.size,
        labels: { 'containerd.io/gc.root': new Date().toISOString() },
      })
      read = await benchContentRead(clients, config, blob, ctr)
      write = await benchContentWrite(clients, config, blob, ctr, join(daemon.dir, 'root'))
    }
    const pull = sections.has('pull')
      ? await benchPullUnpack(clients, config, join(daemon.dir, 'root'), undefined, await buildGoProgram('go-pull', daemon.dir))
      : undefined
    const archive = sections.has('archive') ? await benchImportExport(clients, config, join(daemon.dir, 'root'), workDir) : undefined
    const containers = sections.has('containers') ? await benchContainerSections(clients.ours, config, workDir) : undefined

    const result = buildBenchResult({
      config,
      containerdVersion: version,
      unary,
      list,
      ctrStartupMs,
      read,
      readOurs: OURS_READ,
      readCtr: CTR_READ,
      write,
      writeOurs: OURS_WRITE,
      writeCtr: CTR_WRITE,
    })
    console.log(`\nBENCH_RESULT ${JSON.stringify({
      ...result,
      pullUnpack: pull && pullResultJson(pull),
      importExport: archive && archiveResultJson(archive),
      containers,
    })}`)
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
