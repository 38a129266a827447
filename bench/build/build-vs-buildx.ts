/**
 * `client.build()` beside `docker buildx build` (0.29, sid's docker-buildx, run standalone), both on the
 * BuildKit of one private dockerd 28.5 (buildx's `docker` driver), measured alternately in one run.
 *
 *   node --import tsx bench/build/build-vs-buildx.ts
 *   BENCH_QUICK=1 …            1 000 files and a 32 MiB file, one round
 *   BENCH_BUILD_ROUNDS=<n>     rounds (default 3, quick 1)
 *
 * The context, one copy per tool (each tool's cached copy of its context in BuildKit is its own):
 * 10 000 files of 1 KiB in 100 directories plus one 200 MiB random file and the Dockerfile
 * `FROM <private registry>/library/busybox`, `COPY . /ctx`, `RUN ls /ctx | wc -l`, built with network
 * none and no export (`cacheonly`). Per round and tool: BuildKit's cache pruned, the first build, one
 * 1 KiB file changed, the rebuild. The tools take turns going first. Each build is a fresh connection
 * for both (an address for ours, a process for buildx). Needs root and test/env/install.sh.
 *
 * Prints the medians (wall time, MB/s of context bytes over the whole build, ratio ours / buildx), what
 * BuildKit itself reports for the context step (its duration and the bytes it received), the CPU time
 * of each client, and a final `BENCH_RESULT {json}` line.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { access, mkdir, mkdtemp, open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { BuildKit, Client, type BuildProgressEvent, type BuildVertex } from '../../src/index.js'
import { containerdCacheDir } from '../../src/testing/containerd-binaries.js'
import { busyboxImage } from '../../test/fixtures/index.js'
import { hasDockerd, startDockerd, type DockerdDaemon } from '../../test/env/dockerd.js'
import { pushFixture, startRegistry, type Registry } from '../../test/env/registry/index.js'
import { median, round } from '../lib/stats.js'
import { printTable, ratio } from '../lib/table.js'

const quick = process.env['BENCH_QUICK'] === '1'
const FILES = quick ? 1_000 : 10_000
const DIRS = 100
const BIG = (quick ? 32 : 200) * 1024 * 1024
const ROUNDS = rounds(process.env['BENCH_BUILD_ROUNDS'], quick ? 1 : 3)
/** The bytes each build's context holds (the Dockerfile's few bytes aside): the MB/s figures divide these. */
const CONTEXT_BYTES = FILES * 1024 + BIG
/** What `ls /ctx | wc -l` prints: the directories, the big file and the Dockerfile. */
const EXPECTED_LS = String(DIRS + 2)
const BUILDX = join(containerdCacheDir(), 'docker-buildx', 'usr', 'libexec', 'docker', 'cli-plugins', 'docker-buildx')
const CONTEXT_STEP = '[internal] load build context'

function rounds(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_BUILD_ROUNDS must be a positive integer, got ${JSON.stringify(value)}`)
  return n
}

type Tool = 'ours' | 'buildx'
type Phase = 'first' | 'rebuild'

/** One timed build. */
interface Sample {
  tool: Tool
  phase: Phase
  round: number
  /** Wall time of the call (ours) or the process (buildx), ms. */
  ms: number
  /** CPU time (user + system) of our process during the call, or of the buildx process, ms. */
  cpuMs: number
  /** The context step's duration as BuildKit reports it, ms (buildx's plain output has 0.1 s steps). */
  contextStepMs: number
  /** The bytes BuildKit says it received for the context (buildx's output rounds to 4 digits). */
  contextBytes: number
}

/** Writes the same context into every root: 1 KiB files in DIRS directories, the big file, the Dockerfile. */
async function makeContexts(roots: readonly string[], dockerfile: string): Promise<void> {
  const kib = randomBytes(1024)
  for (const root of roots) {
    await mkdir(root)
    await writeFile(join(root, 'Dockerfile'), dockerfile)
  }
  for (let d = 0; d < DIRS; d++) {
    for (const root of roots) {
      await mkdir(join(root, `dir${d}`))
      await Promise.all(Array.from({ length: FILES / DIRS }, (_, f) => writeFile(join(root, `dir${d}`, `file${f}`), kib)))
    }
  }
  const handles: FileHandle[] = []
  try {
    for (const root of roots) handles.push(await open(join(root, 'big.bin'), 'w'))
    for (let written = 0; written < BIG; written += 1024 * 1024) {
      const block = randomBytes(1024 * 1024)
      for (const handle of handles) await handle.write(block)
    }
  } finally {
    for (const handle of handles) await handle.close()
  }
}

/** Runs `docker-buildx` standalone against the dockerd; the running child is kept for the clean-up. */
class Buildx {
  private child: ChildProcess | undefined

  constructor(private readonly env: NodeJS.ProcessEnv, private readonly timeFile: string) {}

  /** Runs `args`; resolves with wall ms, CPU ms and the output (plain progress goes to stderr). */
  async run(args: readonly string[]): Promise<{ ms: number; cpuMs: number; output: string }> {
    const started = performance.now()
    // GNU time reports the child's CPU time, which Node cannot read for a child.
    // In a process group of its own, so that `kill()` reaches buildx behind `time`.
    const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', this.timeFile, BUILDX, ...args], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    this.child = child
    const chunks: Buffer[] = []
    child.stdout?.on('data', (c: Buffer) => chunks.push(c))
    child.stderr?.on('data', (c: Buffer) => chunks.push(c))
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (c) => resolve(c))
    })
    const ms = performance.now() - started
    this.child = undefined
    const output = Buffer.concat(chunks).toString('utf8')
    if (code !== 0) throw new Error(`docker-buildx ${args.join(' ')} exited with ${String(code)}:\n${output.split('\n').slice(-30).join('\n')}`)
    const [user = NaN, system = NaN] = (await readFile(this.timeFile, 'utf8')).trim().split('\n').at(-1)?.split(' ').map(Number) ?? []
    return { ms, cpuMs: (user + system) * 1000, output }
  }

  /** Kills the running buildx (and `time`), if any. */
  kill(): void {
    const pid = this.child?.pid
    if (pid !== undefined && this.child?.exitCode === null) {
      try {
        process.kill(-pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
  }

  async build(context: string, phase: Phase, round: number, expected = EXPECTED_LS): Promise<Sample> {
    const { ms, cpuMs, output } = await this.run([
      'build', '--progress=plain', '--output', 'type=cacheonly', '--network', 'none', context,
    ])
    if (!new RegExp(`^#\\d+ \\d+\\.\\d+ ${expected}$`, 'm').test(output)) throw new Error(`buildx: the RUN step did not print ${expected}:\n${output}`)
    const step = contextStepOfPlain(output)
    if (phase === 'first' && round >= 0 && !(step.contextStepMs > 0)) {
      // Shown so that the output that did not parse can be looked at.
      console.log(`  (buildx's context step did not parse:\n${output.split('\n').filter((l) => /^#\d+ (\[internal\]|DONE|transferring)/.test(l)).join('\n')})`)
    }
    return { tool: 'buildx', phase, round, ms, cpuMs, ...step }
  }
}

/**
 * The context step in buildx's plain output: `#5 [internal] load build context`, `#5 transferring context:
 * 220.46MB 5.0s done`, `#5 DONE 5.0s`. When another step interleaves, the plain printer shows the step's block
 * twice, the first one ending `#4 DONE 0.0s`: every DONE line of every step of that name is read and the
 * longest taken (and the most bytes).
 */
function contextStepOfPlain(output: string): { contextStepMs: number; contextBytes: number } {
  const units: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }
  let contextStepMs = NaN
  let contextBytes = NaN
  const header = new RegExp(`^#(\\d+) ${CONTEXT_STEP.replace(/[[\]]/g, '\\$&')}$`, 'gm')
  for (const vertex of new Set([...output.matchAll(header)].map((m) => m[1]))) {
    for (const [, seconds] of output.matchAll(new RegExp(`^#${vertex} DONE (\\d+(?:\\.\\d+)?)s$`, 'gm'))) {
      contextStepMs = Math.max(Number.isNaN(contextStepMs) ? 0 : contextStepMs, Number(seconds) * 1000)
    }
    for (const [, value, unit] of output.matchAll(new RegExp(`^#${vertex} transferring context: (\\d+(?:\\.\\d+)?)(B|kB|MB|GB)`, 'gm'))) {
      contextBytes = Math.max(Number.isNaN(contextBytes) ? 0 : contextBytes, Number(value) * (units[unit ?? 'B'] ?? NaN))
    }
  }
  return { contextStepMs, contextBytes }
}

/** Our build of `context`, timed, with the context step and the RUN output taken from the progress events. */
async function oursBuild(client: Client, address: string, context: string, phase: Phase, round: number, expected = EXPECTED_LS): Promise<Sample> {
  // By digest: as for buildx, the longest step of that name is the transfer.
  const steps = new Map<string, BuildVertex>()
  const logs: Uint8Array[] = []
  const onProgress = (event: BuildProgressEvent): void => {
    if (event.type === 'vertex' && event.vertex.name === CONTEXT_STEP) steps.set(event.vertex.digest, event.vertex)
    else if (event.type === 'log') logs.push(event.log.data)
  }
  const cpu = process.cpuUsage()
  const started = performance.now()
  await client.build({ context, network: 'none', outputs: [{ type: 'cacheonly' }], builder: address, onProgress })
  const ms = performance.now() - started
  const used = process.cpuUsage(cpu)
  const printed = Buffer.concat(logs).toString('utf8').trim()
  if (printed !== expected) throw new Error(`ours: the RUN step printed ${JSON.stringify(printed)}, not ${expected}`)
  const durations = [...steps.values()].map((v) => (v.started !== undefined && v.completed !== undefined ? v.completed.getTime() - v.started.getTime() : NaN))
  const received = [...steps.values()].map((v) => v.statuses.find((s) => s.id.startsWith('transferring'))?.current ?? NaN)
  return {
    tool: 'ours',
    phase,
    round,
    ms,
    cpuMs: (used.user + used.system) / 1000,
    contextStepMs: steps.size === 0 ? NaN : Math.max(...durations),
    contextBytes: steps.size === 0 ? NaN : Math.max(...received),
  }
}

async function prune(address: string): Promise<void> {
  await using builder = await BuildKit.connect({ address })
  await builder.prune({ all: true })
}

/** Everything started, undone in reverse order; idempotent, so the signal handler and `finally` can both call it. */
class Resources {
  private readonly undo: (() => Promise<unknown>)[] = []
  private done: Promise<void> | undefined

  add(fn: () => Promise<unknown>): void {
    this.undo.push(fn)
  }

  release(): Promise<void> {
    this.done ??= (async () => {
      for (const fn of this.undo.reverse()) {
        try {
          await fn()
        } catch (err) {
          console.error('clean-up step failed:', err)
        }
      }
    })()
    return this.done
  }
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false)

async function main(resources: Resources): Promise<void> {
  if (!(await exists(BUILDX))) throw new Error(`docker-buildx is not at ${BUILDX}: run test/env/install.sh (as root) first`)
  if (!(await hasDockerd('28.5'))) throw new Error('dockerd 28.5 is missing: run test/env/install.sh (as root) first')

  const work = await mkdtemp(join(tmpdir(), 'csdk-bench-build-'))
  resources.add(() => rm(work, { recursive: true, force: true }))
  const registry: Registry = await startRegistry({ mode: 'plain' })
  resources.add(() => registry.stop())
  const base = (await pushFixture(registry, await busyboxImage(), 'library/busybox', 'latest')).reference
  const dockerd: DockerdDaemon = await startDockerd('28.5', { containerdLine: '1.6' })
  resources.add(() => dockerd.stop())
  // client.build() belongs to a containerd client: dockerd's own containerd, in a namespace of ours, which
  // nothing reaches since no image is exported.
  const client = await Client.connect({ address: dockerd.containerdAddress, namespace: 'csdk-bench-build' })
  resources.add(async () => client.close())
  const address = dockerd.buildkitAddress

  // A docker config of its own: no machine settings, and buildx's state (its node id, hence the
  // context's shared key) stays the same for the whole run.
  const dockerConfig = join(work, 'docker-config')
  await mkdir(dockerConfig)
  const buildx = new Buildx({ ...process.env, DOCKER_HOST: `unix://${dockerd.socketPath}`, DOCKER_CONFIG: dockerConfig }, join(work, 'time'))
  resources.add(async () => buildx.kill())

  const dockerfile = `FROM ${base}\nCOPY . /ctx\nRUN ls /ctx | wc -l\n`
  const contexts: Record<Tool, string> = { ours: join(work, 'ctx-ours'), buildx: join(work, 'ctx-buildx') }
  await makeContexts([contexts.ours, contexts.buildx], dockerfile)

  const buildxVersion = (await buildx.run(['version'])).output.trim()
  const startups: number[] = []
  for (let i = 0; i < 3; i++) startups.push((await buildx.run(['version'])).ms)
  let buildkitVersion: string | undefined
  {
    await using builder = await BuildKit.connect({ address })
    buildkitVersion = (await builder.info()).version
  }
  console.log(
    `build bench (${quick ? 'quick' : 'full'}): dockerd 28.5 (BuildKit ${buildkitVersion ?? '?'}), ${buildxVersion}, Node ${process.version}, ` +
      `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; context ${FILES} × 1 KiB in ${DIRS} dirs + ${BIG / 1024 / 1024} MiB, ${ROUNDS} round(s)`,
  )
  console.log(`buildx start-up (\`docker-buildx version\`, median of 3): ${round(median(startups))} ms`)

  // Warm-up, not timed: our code loaded and compiled, the base image's first pull, buildx's state made.
  const warm = join(work, 'warm')
  await mkdir(warm)
  await writeFile(join(warm, 'Dockerfile'), `FROM ${base}\nCOPY . /ctx\nRUN ls /ctx | wc -l\n`)
  // Pruned before each: the second would otherwise find the first's steps in the cache.
  await prune(address)
  await oursBuild(client, address, warm, 'first', -1, '1')
  await prune(address)
  await buildx.build(warm, 'first', -1, '1')

  const samples: Sample[] = []
  const runTool = async (tool: Tool, round: number): Promise<void> => {
    const context = contexts[tool]
    const build = (phase: Phase): Promise<Sample> =>
      tool === 'ours' ? oursBuild(client, address, context, phase, round) : buildx.build(context, phase, round)
    await prune(address)
    samples.push(await build('first'))
    // One 1 KiB file changed: new bytes, new mtime.
    await writeFile(join(context, 'dir0', 'file0'), randomBytes(1024))
    samples.push(await build('rebuild'))
    for (const s of samples.slice(-2)) {
      console.log(`  round ${round} ${tool.padEnd(6)} ${s.phase.padEnd(7)} ${round1(s.ms)} ms (cpu ${round1(s.cpuMs)} ms; context step ${round1(s.contextStepMs)} ms, ${round1(s.contextBytes / 1e6)} MB received)`)
    }
  }
  for (let r = 0; r < ROUNDS; r++) {
    // Turns: ours first in even rounds, buildx first in odd ones.
    for (const tool of r % 2 === 0 ? (['ours', 'buildx'] as const) : (['buildx', 'ours'] as const)) await runTool(tool, r)
  }

  const med = (tool: Tool, phase: Phase, key: 'ms' | 'cpuMs' | 'contextStepMs' | 'contextBytes'): number =>
    median(samples.filter((s) => s.tool === tool && s.phase === phase).map((s) => s[key]))
  const mbps = (ms: number): number => CONTEXT_BYTES / 1e6 / (ms / 1000)
  const phases: Phase[] = ['first', 'rebuild']
  const label = (phase: Phase): string => (phase === 'first' ? 'first build (cache pruned)' : 'rebuild (1 file changed)')
  printTable(
    `build of ${round1(CONTEXT_BYTES / 1e6)} MB context (medians of ${ROUNDS}): wall time, MB/s = context bytes / wall time`,
    ['', 'ours ms', 'buildx ms', 'ours/buildx', 'ours MB/s', 'buildx MB/s'],
    phases.map((p) => [label(p), med('ours', p, 'ms'), med('buildx', p, 'ms'), ratio(med('ours', p, 'ms') / med('buildx', p, 'ms')), mbps(med('ours', p, 'ms')), mbps(med('buildx', p, 'ms'))]),
  )
  printTable(
    'what BuildKit reports for the context step, and client CPU (medians)',
    ['', 'ours step ms', 'buildx step ms', 'ratio', 'ours MB recv', 'buildx MB recv', 'ours cpu ms', 'buildx cpu ms'],
    phases.map((p) => [
      label(p),
      med('ours', p, 'contextStepMs'),
      med('buildx', p, 'contextStepMs'),
      ratio(med('ours', p, 'contextStepMs') / med('buildx', p, 'contextStepMs')),
      med('ours', p, 'contextBytes') / 1e6,
      med('buildx', p, 'contextBytes') / 1e6,
      med('ours', p, 'cpuMs'),
      med('buildx', p, 'cpuMs'),
    ]),
  )

  const summary = Object.fromEntries(phases.map((p) => {
    const ours = med('ours', p, 'ms')
    const ref = med('buildx', p, 'ms')
    return [p, {
      oursMs: round1(ours),
      buildxMs: round1(ref),
      ratio: round(ours / ref, 2),
      oursMBps: round1(mbps(ours)),
      buildxMBps: round1(mbps(ref)),
      oursContextStepMs: round1(med('ours', p, 'contextStepMs')),
      buildxContextStepMs: round1(med('buildx', p, 'contextStepMs')),
      oursCpuMs: round1(med('ours', p, 'cpuMs')),
      buildxCpuMs: round1(med('buildx', p, 'cpuMs')),
    }]
  }))
  console.log(`\nBENCH_RESULT ${JSON.stringify({
    mode: quick ? 'quick' : 'full',
    files: FILES,
    bigBytes: BIG,
    contextBytes: CONTEXT_BYTES,
    rounds: ROUNDS,
    buildkit: buildkitVersion,
    buildx: buildxVersion,
    buildxStartupMs: round1(median(startups)),
    ...summary,
    samples: samples.map((s) => ({ ...s, ms: round1(s.ms), cpuMs: round1(s.cpuMs), contextStepMs: round1(s.contextStepMs), contextBytes: Math.round(s.contextBytes) })),
  })}`)
}

function round1(value: number): number {
  return round(value, 1)
}

const resources = new Resources()
// Output piped into something that exits early (`| head`): without a listener the EPIPE would end the process
// on the spot, leaving dockerd and its mounts behind; the run goes on unheard and cleans up.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined)
// Ctrl-C, a kill or a closed terminal mid-run: the daemons, the registry and the temp dirs go anyway.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: cleaning up`)
    void resources.release().finally(() => process.exit(130))
  })
}
try {
  await main(resources)
} catch (err) {
  console.error('bench failed:', err)
  process.exitCode = 1
} finally {
  await resources.release()
}
