/**
 * Container lifecycle (section 6): create a container running `true`, create its task, wait, start, see it
 * exit 0, delete the task, delete the container and its rootfs snapshot. Ours (the public API, in this
 * process on the bench's connection) against `ctr run --rm`, which does the same steps in one process
 * (its time includes that process's start, which is what a user of the tool pays).
 *
 * ctr gets `--seccomp`: every container of ours has the default seccomp profile (nerdctl's default), and
 * runc compiling it is ~20 ms of a task's start here, so without it ctr would do less work.
 *
 * Two pairs, so each side does the same I/O work: no stdio (`stdio: 'null'` / `--null-io`), and stdio
 * through FIFOs (`stdio: 'pipe'` with both outputs read to their end / ctr copying them to its own stdout,
 * /dev/null here). Run 50 one after another (interleaved in blocks, rotating who goes first) and 20 at
 * once (wall time of the round divided by 20). After every block and round, the namespace is checked to
 * hold no container, task or active snapshot.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { Client, Image, TaskStdio } from '../../src/index.js'
import { GO_TARGET_RATIO, type ContainerBenchConfig } from './container-config.js'
import { goLifecycleBlock, type GoLifecycle } from '../go/go-client.js'
import { CONTAINER_BENCH_LABEL, checkNothingLeft } from './container-fixture.js'
import { createCtr } from '../lib/ctr-cli.js'
import { median, nowUs, percentile, round } from '../lib/stats.js'
import { printTable, ratio } from '../lib/table.js'

export const OURS_NULL = "ours: stdio 'null'"
export const CTR_NULL = 'ctr run --rm --null-io --seccomp'
export const OURS_PIPE = "ours: stdio 'pipe', outputs read"
export const CTR_PIPE = 'ctr run --rm --seccomp (stdio to /dev/null)'

/** Each of ours beside the ctr command doing the same I/O. */
const PAIRS = [
  [OURS_NULL, CTR_NULL],
  [OURS_PIPE, CTR_PIPE],
] as const

export interface LifecycleContender {
  client: string
  /** Sequential: each lifecycle's wall time, ms. */
  sequentialMs: number[]
  sequentialMedianMs: number
  sequentialP95Ms: number
  /** Concurrent: each round's wall time divided by the containers in it, ms. */
  concurrentPerContainerMs: number[]
  concurrentMedianMs: number
}

export interface LifecyclePair {
  ours: string
  ctr: string
  sequentialRatio: number
  concurrentRatio: number
}

export interface LifecycleBench {
  sequential: number
  concurrent: number
  concurrentRounds: number
  contenders: LifecycleContender[]
  pairs: LifecyclePair[]
  /** containerd's Go client in one process, when it could be built, and ours (stdio 'null') over it. */
  /** The Go client with the SDK's spec (same runc work): the target's reference. */
  go?: GoLifecycle & { sequentialRatio: number; concurrentRatio: number; meetsTarget: boolean }
  /** The Go client with its own spec (containerd 1.6's seccomp profile, no cgroup mount): shown, no target. */
  goOwnSpec?: GoLifecycle
}

/** One lifecycle of `true` in a container named `id`; rejects unless it ran and exited 0. */
type Lifecycle = (id: string) => Promise<void>

/** Reads a stream to its end (or close), discarding the data. */
function drain(stream: Readable | undefined): Promise<void> {
  if (stream === undefined) return Promise.reject(new Error("stdio 'pipe' gave no stream"))
  return new Promise((resolve, reject) => {
    stream.on('end', resolve).on('close', resolve).on('error', reject)
    stream.resume()
  })
}

/** Ours: the steps a user of the SDK writes, by the public API. */
export async function oursLifecycle(client: Client, image: string | Image, id: string, stdio: TaskStdio): Promise<void> {
  const container = await client.containers.create(id, { image, args: ['true'], labels: { [CONTAINER_BENCH_LABEL]: 'lifecycle' } })
  try {
    const task = await container.newTask({ stdio })
    try {
      // Outputs read to their end, like ctr's copy loops; stdin has nothing to give (ctr's is /dev/null).
      const outputs = stdio === 'pipe' ? Promise.all([drain(task.stdout), drain(task.stderr)]) : Promise.resolve()
      task.stdin?.end()
      const exited = task.wait() // before start, so a fast exit is not missed
      await task.start()
      const { exitCode } = await exited
      if (exitCode !== 0) throw new Error(`${id}: true exited ${exitCode}`)
      await outputs
    } finally {
      await task.delete({ force: true })
    }
  } finally {
    await container.delete()
  }
}

function contenders(client: Client, containers: ContainerBenchConfig, image: Image): Record<string, Lifecycle> {
  const ctr = createCtr(client.address, containers.namespace)
  // Ours gets the image handle once, as a program starting many containers would (and as the Go client
  // row does); ctr resolves it in every process.
  return {
    [OURS_NULL]: (id) => oursLifecycle(client, image, id, 'null'),
    [CTR_NULL]: async (id) => {
      await ctr.run(['run', '--rm', '--null-io', '--seccomp', '--label', `${CONTAINER_BENCH_LABEL}=lifecycle`, containers.image, id, 'true'])
    },
    [OURS_PIPE]: (id) => oursLifecycle(client, image, id, 'pipe'),
    [CTR_PIPE]: async (id) => {
      await ctr.run(['run', '--rm', '--seccomp', '--label', `${CONTAINER_BENCH_LABEL}=lifecycle`, containers.image, id, 'true'], { discardStdout: true })
    },
  }
}

function idFor(name: string, phase: string, n: number): string {
  const who = name.startsWith('ours') ? 'ours' : 'ctr'
  const io = name === OURS_NULL || name === CTR_NULL ? 'null' : 'pipe'
  return `bench-life-${phase}-${who}-${io}-${n}`
}

export async function benchLifecycle(client: Client, containers: ContainerBenchConfig, goBinary?: string): Promise<LifecycleBench> {
  const runs = contenders(client, containers, await client.images.get(containers.image))
  const names = Object.keys(runs)
  const sequential: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  const concurrent: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))

  // One untimed lifecycle each: JIT, ctr's binary in the page cache, the shim binary too.
  for (const name of names) await runs[name]!(idFor(name, 'warm', 0))
  await checkNothingLeft(client, 'the warm-up lifecycles')

  // The Go client runs in blocks between ours (same drift for both), twice: with the spec the SDK builds
  // for this container (same runc work: the comparison the target is about) and with its own spec
  // (containerd 1.6's smaller seccomp profile and no /sys/fs/cgroup mount: shown, no target).
  const target = { address: client.address, namespace: containers.namespace, image: containers.image }
  const specDir = goBinary === undefined ? undefined : await mkdtemp(join(tmpdir(), 'csdk-bench-spec-'))
  const specPath = specDir === undefined ? undefined : join(specDir, 'spec.json')
  if (specPath !== undefined) {
    const probe = await client.containers.create('bench-life-spec', { image: containers.image, args: ['true'], labels: { [CONTAINER_BENCH_LABEL]: 'lifecycle' } })
    await writeFile(specPath, JSON.stringify(await probe.spec()))
    await probe.delete()
  }
  const goSequential: { sdkSpec: number[]; ownSpec: number[] } = { sdkSpec: [], ownSpec: [] }
  const goConcurrent: { sdkSpec: number[]; ownSpec: number[] } = { sdkSpec: [], ownSpec: [] }
  const goBlock = async (count: number, mode: 'sequential' | 'concurrent', into: { sdkSpec: number[]; ownSpec: number[] }): Promise<void> => {
    if (goBinary === undefined) return
    into.sdkSpec.push(...(await goLifecycleBlock(goBinary, target, count, mode, specPath)))
    into.ownSpec.push(...(await goLifecycleBlock(goBinary, target, count, mode)))
    await checkNothingLeft(client, "the Go client's lifecycles")
  }

  const blocks = Math.ceil(containers.sequential / containers.block)
  for (let b = 0; b < blocks; b++) {
    const count = Math.min(containers.block, containers.sequential - b * containers.block)
    for (let k = 0; k < names.length; k++) {
      const name = names[(b + k) % names.length]!
      for (let i = 0; i < count; i++) {
        const start = nowUs()
        await runs[name]!(idFor(name, 'seq', b * containers.block + i))
        sequential[name]!.push((nowUs() - start) / 1000)
      }
      await checkNothingLeft(client, `${name} (sequential)`)
    }
    await goBlock(count, 'sequential', goSequential)
  }

  for (let r = 0; r < containers.concurrentRounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length]!
      const ids = Array.from({ length: containers.concurrent }, (_, i) => idFor(name, `par${r}`, i))
      const start = nowUs()
      const settled = await Promise.allSettled(ids.map((id) => runs[name]!(id)))
      const wallMs = (nowUs() - start) / 1000
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
      if (failed !== undefined) throw new Error(`${name}: a concurrent lifecycle failed: ${String(failed.reason)}`)
      concurrent[name]!.push(wallMs / containers.concurrent)
      await checkNothingLeft(client, `${name} (${containers.concurrent} at once)`)
    }
    await goBlock(containers.concurrent, 'concurrent', goConcurrent)
  }
  if (specDir !== undefined) await rm(specDir, { recursive: true, force: true })

  const results = names.map((name): LifecycleContender => ({
    client: name,
    sequentialMs: sequential[name]!,
    sequentialMedianMs: median(sequential[name]!),
    sequentialP95Ms: percentile(sequential[name]!, 95),
    concurrentPerContainerMs: concurrent[name]!,
    concurrentMedianMs: median(concurrent[name]!),
  }))
  const pick = (name: string): LifecycleContender => results.find((r) => r.client === name)!
  const pairs = PAIRS.map(([ours, ctr]): LifecyclePair => {
    const sequentialRatio = pick(ours).sequentialMedianMs / pick(ctr).sequentialMedianMs
    const concurrentRatio = pick(ours).concurrentMedianMs / pick(ctr).concurrentMedianMs
    return { ours, ctr, sequentialRatio, concurrentRatio }
  })
  const bench: LifecycleBench = { sequential: containers.sequential, concurrent: containers.concurrent, concurrentRounds: containers.concurrentRounds, contenders: results, pairs }
  if (goBinary !== undefined) {
    const go: GoLifecycle = { sequentialMedianMs: median(goSequential.sdkSpec), concurrentMedianMs: median(goConcurrent.sdkSpec) }
    bench.goOwnSpec = { sequentialMedianMs: median(goSequential.ownSpec), concurrentMedianMs: median(goConcurrent.ownSpec) }
    const sequentialRatio = pick(OURS_NULL).sequentialMedianMs / go.sequentialMedianMs
    const concurrentRatio = pick(OURS_NULL).concurrentMedianMs / go.concurrentMedianMs
    bench.go = { ...go, sequentialRatio, concurrentRatio, meetsTarget: sequentialRatio <= GO_TARGET_RATIO && concurrentRatio <= GO_TARGET_RATIO }
  }
  printLifecycleTable(bench)
  return bench
}

function printLifecycleTable(bench: LifecycleBench): void {
  const rows = bench.pairs.flatMap((pair) => {
    const [o, c] = [pair.ours, pair.ctr].map((n) => bench.contenders.find((r) => r.client === n)!) as [LifecycleContender, LifecycleContender]
    return [
      [o.client, round(o.sequentialMedianMs), round(o.sequentialP95Ms), ratio(pair.sequentialRatio), round(o.concurrentMedianMs), ratio(pair.concurrentRatio)],
      [c.client, round(c.sequentialMedianMs), round(c.sequentialP95Ms), ratio(1), round(c.concurrentMedianMs), ratio(1)],
    ]
  })
  printTable(
    `6. Container lifecycle of \`true\` (create, task create, wait, start, exit 0, delete task, delete container + snapshot): ` +
      `${bench.sequential} in a row per contender (interleaved blocks), and ${bench.concurrent} at once (wall time / ${bench.concurrent}, ` +
      `median of ${bench.concurrentRounds} round${bench.concurrentRounds === 1 ? '' : 's'}). No target against ctr: the bar is 6b's, ` +
      `against the Go client measured in this run`,
    ['client', 'seq median ms', 'seq p95 ms', '× ctr', `${bench.concurrent} at once ms/container`, '× ctr'],
    rows,
  )
  console.log("(ours runs in this process on the bench's connection; ctr's time includes its process start.)")
  const go = bench.go
  if (go === undefined) return
  const ours = bench.contenders.find((c) => c.client === OURS_NULL)!
  const bar = `≤ ${GO_TARGET_RATIO}× Go`
  const yes = (v: number): string => (v <= GO_TARGET_RATIO ? 'yes' : 'no')
  printTable(
    `6b. The same lifecycle beside containerd's Go client (1.6's, built from Debian's sources) doing it in one process, no stdio, in blocks between ours. ` +
      `"same spec": each Go container gets the spec the SDK builds for it, so runc does the same work (the target's reference); "own spec": the Go client's ` +
      `WithNewSpec (containerd 1.6's smaller seccomp profile, no /sys/fs/cgroup mount), shown without a target. Target: ${bar}`,
    ['client', 'seq median ms', '× Go', bar, `${bench.concurrent} at once ms/container`, '× Go', bar],
    [
      [OURS_NULL, round(ours.sequentialMedianMs), ratio(go.sequentialRatio), yes(go.sequentialRatio), round(ours.concurrentMedianMs), ratio(go.concurrentRatio), yes(go.concurrentRatio)],
      ['Go client, cio.NullIO, same spec', round(go.sequentialMedianMs), ratio(1), '-', round(go.concurrentMedianMs), ratio(1), '-'],
      ...(bench.goOwnSpec === undefined ? [] : [[
        'Go client, cio.NullIO, own spec', round(bench.goOwnSpec.sequentialMedianMs), ratio(bench.goOwnSpec.sequentialMedianMs / go.sequentialMedianMs), '-',
        round(bench.goOwnSpec.concurrentMedianMs), ratio(bench.goOwnSpec.concurrentMedianMs / go.concurrentMedianMs), '-',
      ]]),
    ],
  )
}
