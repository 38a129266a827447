/**
 * Import / export (section 5): the multi-layer fixture image as an OCI layout tar on disk, imported into
 * the content store and exported back to a tar file, ours (`client.importImages`, `client.exportImages`,
 * in this process on the bench's connection, like sections 3a/3b) against `ctr images import` /
 * `ctr images export` (their times include ctr's process start, as everywhere in this suite).
 *
 * Import: without unpacking on both sides (`unpack: false`, `--no-unpack`), so both do the same work: every
 * blob into the content store, gc labels, one image record. Each run imports into a fresh namespace, and
 * before the next one the image is removed, garbage-collected and checked gone (pull-reset.ts): containerd
 * shares blobs across namespaces, so a leftover layer would make the next import free.
 *
 * Export: the image is imported once (untimed), then every run writes the whole archive (OCI layout plus
 * Docker's manifest.json on both sides) to a file that is removed before the next run. Runs of both
 * operations are interleaved, rotating who goes first.
 */
import { execFile } from 'node:child_process'
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ARCHIVE_TARGET_RATIO, loadArchiveConfig, type ArchiveBenchConfig } from './archive-config.js'
import { writeArchiveFixture, type ArchiveFixture } from './archive-fixture.js'
import type { BenchClients } from '../lib/bench-clients.js'
import type { BenchConfig } from '../lib/bench-config.js'
import { createCtr } from '../lib/ctr-cli.js'
import { createPullReset, type PullReset } from '../pull/pull-reset.js'
import { median, nowUs, round } from '../lib/stats.js'
import { printTable, ratio } from '../lib/table.js'

export const OURS_IMPORT = 'ours: client.images.import(file, { unpack: false })'
export const CTR_IMPORT = 'ctr images import --no-unpack <file>'
export const OURS_EXPORT = 'ours: client.images.export([name], file)'
export const CTR_EXPORT = 'ctr images export <file> <name>'

const run = promisify(execFile)

export interface ArchiveContenderResult {
  client: string
  /** Wall time of each run, ms. */
  runsMs: number[]
  medianMs: number
}

export interface ArchiveOperationResult {
  ours: ArchiveContenderResult
  ctr: ArchiveContenderResult
  oursOverCtr: number
  meetsTarget: boolean
}

export interface ArchiveBench {
  layers: number
  layerBytes: number
  /** The image's blobs, bytes. */
  imageBytes: number
  /** The archive imported, bytes. */
  archiveBytes: number
  runs: number
  import: ArchiveOperationResult
  /** The archives written: their sizes, bytes (the same every run). */
  export: ArchiveOperationResult & { oursFileBytes: number; ctrFileBytes: number }
}

/** One contender's run: does the work once and resolves with its wall time in ms. */
type Contender = (run: number) => Promise<number>

/** Runs every contender `runs` times, rotating who goes first; `after` (untimed) checks and cleans up. */
async function runInterleaved(
  runs: number,
  contenders: Readonly<Record<string, Contender>>,
  after: (name: string, run: number) => Promise<void>,
): Promise<Record<string, number[]>> {
  const names = Object.keys(contenders)
  const out: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]))
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length]!
      out[name]!.push(await contenders[name]!(r))
      await after(name, r)
    }
  }
  return out
}

async function timedMs(work: () => Promise<unknown>): Promise<number> {
  const start = nowUs()
  await work()
  return (nowUs() - start) / 1000
}

function operation(runsMs: Record<string, number[]>, ours: string, ctr: string): ArchiveOperationResult {
  const result = (client: string): ArchiveContenderResult => ({ client, runsMs: runsMs[client]!, medianMs: median(runsMs[client]!) })
  const o = result(ours)
  const c = result(ctr)
  const oursOverCtr = o.medianMs / c.medianMs
  return { ours: o, ctr: c, oursOverCtr, meetsTarget: oursOverCtr <= ARCHIVE_TARGET_RATIO }
}

/** Checks what an import stored in `namespace`: the record, every blob, and no unpacking. */
async function checkImported(clients: BenchClients, namespace: string, fixture: ArchiveFixture, who: string): Promise<void> {
  const ns = clients.ours.withNamespace(namespace)
  const image = await ns.images.get(fixture.name)
  if (image.target.digest !== fixture.manifestDigest) throw new Error(`${who}: ${fixture.name} points at ${image.target.digest}, expected ${fixture.manifestDigest}`)
  for (const digest of fixture.digests) await ns.content.info(digest)
  if (await image.isUnpacked()) throw new Error(`${who}: the image was unpacked, but both sides are to import without unpacking`)
}

/** Checks an exported archive: an OCI layout with every blob of the image and Docker's manifest.json. */
async function checkExported(path: string, fixture: ArchiveFixture, who: string): Promise<number> {
  const { size } = await stat(path)
  if (size < fixture.imageBytes) throw new Error(`${who}: ${path} has ${size} bytes, less than the image's ${fixture.imageBytes}`)
  const { stdout } = await run('tar', ['-tf', path], { maxBuffer: 16 * 2 ** 20 })
  const entries = new Set(stdout.split('\n').map((line) => line.replace(/^\.\//, '').trim()))
  const expected = ['oci-layout', 'index.json', 'manifest.json', ...fixture.digests.map((d) => `blobs/${d.replace(':', '/')}`)]
  const missing = expected.filter((entry) => !entries.has(entry))
  if (missing.length > 0) throw new Error(`${who}: the archive lacks ${missing.join(', ')}`)
  return size
}

async function benchImport(clients: BenchClients, config: BenchConfig, archive: ArchiveBenchConfig, fixture: ArchiveFixture, reset: PullReset): Promise<ArchiveOperationResult> {
  const namespace = (r: number, name: string): string => `${config.namespace}-archive-import-${r}-${name === OURS_IMPORT ? 'ours' : 'ctr'}`
  const runsMs = await runInterleaved(
    archive.runs,
    {
      [OURS_IMPORT]: async (r) => {
        const ns = clients.ours.withNamespace(namespace(r, OURS_IMPORT))
        return timedMs(async () => {
          const images = await ns.images.import(fixture.path, { unpack: false })
          if (images.length !== 1 || images[0]?.name !== fixture.name) throw new Error(`importImages created ${images.map((i) => i.name).join(', ')}`)
        })
      },
      [CTR_IMPORT]: async (r) => {
        const us = await createCtr(clients.address, namespace(r, CTR_IMPORT)).run(['images', 'import', '--no-unpack', fixture.path], { discardStdout: true })
        return us / 1000
      },
    },
    async (name, r) => {
      // Untimed: the run stored the image, then everything goes and is checked gone.
      await checkImported(clients, namespace(r, name), fixture, name)
      await reset.reset(namespace(r, name))
    },
  )
  return operation(runsMs, OURS_IMPORT, CTR_IMPORT)
}

async function benchExport(
  clients: BenchClients,
  config: BenchConfig,
  archive: ArchiveBenchConfig,
  fixture: ArchiveFixture,
  reset: PullReset,
  workDir: string,
): Promise<ArchiveBench['export']> {
  const namespace = `${config.namespace}-archive-export`
  const ns = clients.ours.withNamespace(namespace)
  const out = (name: string): string => join(workDir, `archive-export-${name === OURS_EXPORT ? 'ours' : 'ctr'}.tar`)
  const sizes: Record<string, number> = {}
  try {
    await ns.images.import(fixture.path, { unpack: false })
    await checkImported(clients, namespace, fixture, 'export set-up')
    const runsMs = await runInterleaved(
      archive.runs,
      {
        [OURS_EXPORT]: async () => {
          await rm(out(OURS_EXPORT), { force: true })
          return timedMs(async () => {
            const result = await ns.images.export([fixture.name], out(OURS_EXPORT))
            if (result.blobs !== fixture.digests.length) throw new Error(`exportImages wrote ${result.blobs} blobs, expected ${fixture.digests.length}`)
          })
        },
        [CTR_EXPORT]: async () => {
          await rm(out(CTR_EXPORT), { force: true })
          return (await createCtr(clients.address, namespace).run(['images', 'export', out(CTR_EXPORT), fixture.name])) / 1000
        },
      },
      async (name) => {
        sizes[name] = await checkExported(out(name), fixture, name)
        await rm(out(name), { force: true })
      },
    )
    return { ...operation(runsMs, OURS_EXPORT, CTR_EXPORT), oursFileBytes: sizes[OURS_EXPORT] ?? Number.NaN, ctrFileBytes: sizes[CTR_EXPORT] ?? Number.NaN }
  } finally {
    await rm(out(OURS_EXPORT), { force: true })
    await rm(out(CTR_EXPORT), { force: true })
    await reset.reset(namespace)
  }
}

export async function benchImportExport(clients: BenchClients, config: BenchConfig, daemonRoot: string, workDir: string): Promise<ArchiveBench> {
  const archive = loadArchiveConfig(config)
  const buildStart = nowUs()
  const fixture = await writeArchiveFixture(workDir, archive)
  try {
    console.log(
      `\narchive fixture: ${fixture.digests.length - 2} layers, ${round(fixture.fileBytes / 2 ** 20)} MiB OCI layout tar, ` +
        `built and written in ${round((nowUs() - buildStart) / 1e6)} s`,
    )
    const reset = await createPullReset({ client: clients.ours, address: clients.address, daemonRoot, reference: fixture.name, digests: fixture.digests })
    try {
      await reset.verifyClean()
      const imported = await benchImport(clients, config, archive, fixture, reset)
      const exported = await benchExport(clients, config, archive, fixture, reset, workDir)
      const result: ArchiveBench = {
        layers: archive.layers + 1,
        layerBytes: archive.layerBytes,
        imageBytes: fixture.imageBytes,
        archiveBytes: fixture.fileBytes,
        runs: archive.runs,
        import: imported,
        export: exported,
      }
      printArchiveTable(result, archive)
      return result
    } finally {
      await reset.dispose()
    }
  } finally {
    await rm(fixture.path, { force: true })
  }
}

function printArchiveTable(result: ArchiveBench, archive: ArchiveBenchConfig): void {
  const mbps = (ms: number): number => result.imageBytes / 1e6 / (ms / 1000)
  const rows = (op: string, r: ArchiveOperationResult) => [
    [op, r.ours.client, round(r.ours.medianMs, 0), r.ours.runsMs.map((v) => round(v, 0)).join(' / '), round(mbps(r.ours.medianMs)), ratio(r.oursOverCtr), r.meetsTarget ? 'yes' : 'no'],
    [op, r.ctr.client, round(r.ctr.medianMs, 0), r.ctr.runsMs.map((v) => round(v, 0)).join(' / '), round(mbps(r.ctr.medianMs)), ratio(1), '-'],
  ]
  printTable(
    `5. Import / export of a ${result.layers}-layer image (${round(result.imageBytes / 2 ** 20)} MiB: busybox + ${archive.layers} × ` +
      `${archive.layerBytes / 2 ** 20} MiB incompressible) as an OCI layout tar on disk: median of ${result.runs} runs, interleaved. ` +
      `Import without unpacking, fresh namespace each (image and blobs removed, GC'd and checked gone between runs); export of the ` +
      `image imported once, to a file removed between runs. Target: ≤ ${ARCHIVE_TARGET_RATIO.toFixed(1)}× ctr`,
    ['operation', 'client', 'median ms', 'runs ms', 'MB/s', '× ctr', `≤ ${ARCHIVE_TARGET_RATIO.toFixed(1)}× ctr`],
    [...rows('import', result.import), ...rows('export', result.export)],
  )
  console.log(
    `(ours runs in this process on the bench's connection; ctr's time includes its process start. Archives written: ` +
      `ours ${result.export.oursFileBytes} bytes, ctr ${result.export.ctrFileBytes} bytes.)`,
  )
}
