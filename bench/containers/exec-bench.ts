/**
 * Exec (section 7): `true` exec'd into a running container (busybox `sleep`), ours against
 * `ctr task exec`, one at a time, interleaved in blocks. ctr attaches the exec's stdio through FIFOs to its
 * own (stdin /dev/null, stdout /dev/null here), so the matching row of ours is `output()` (FIFOs piped,
 * both outputs collected, exit awaited, the process deleted); the `stdio: 'null'` row shows what the FIFOs
 * cost. Each of ours creates, starts, waits for and deletes the exec; ctr's time includes its process start.
 */
import type { Client, Task } from '../../src/index.js'
import { EXEC_TARGET_RATIO, type ContainerBenchConfig } from './container-config.js'
import { CONTAINER_BENCH_LABEL, checkNothingLeft } from './container-fixture.js'
import { createCtr } from '../lib/ctr-cli.js'
import { sampleInterleaved, type Call } from '../lib/interleaved-sampler.js'
import { round, summarizeLatency, type LatencySummary } from '../lib/stats.js'
import { printTable, ratio } from '../lib/table.js'

export const OURS_EXEC_PIPE = "ours: task.exec({ stdio: 'pipe' }).output()"
export const OURS_EXEC_NULL = "ours: task.exec({ stdio: 'null' }), wait, start, delete"
export const CTR_EXEC = 'ctr task exec --exec-id <id> <container> true'

export interface ExecResult extends LatencySummary {
  client: string
  /** Median over ctr's median. */
  overCtr: number
}

export interface ExecBench {
  samples: number
  warmup: number
  results: ExecResult[]
  /** The matched pair: `output()` over `ctr task exec`. */
  oursOverCtr: number
  meetsTarget: boolean
}

const CONTAINER_ID = 'bench-exec-sleeper'
// The container's process: long enough for the whole section, bounded if the bench dies without cleaning up.
const SLEEP_SECONDS = '900'

async function execPipe(task: Task, execId: string): Promise<void> {
  const exec = await task.exec({ args: ['true'], stdio: 'pipe', execId })
  const { exitCode, stdout, stderr } = await exec.output()
  if (exitCode !== 0 || stdout !== '' || stderr !== '') throw new Error(`exec true: exit ${exitCode}, ${JSON.stringify(stdout + stderr)}`)
}

async function execNull(task: Task, execId: string): Promise<void> {
  const exec = await task.exec({ args: ['true'], stdio: 'null', execId })
  try {
    const exited = exec.wait()
    await exec.start()
    const { exitCode } = await exited
    if (exitCode !== 0) throw new Error(`exec true: exit ${exitCode}`)
  } finally {
    await exec.delete()
  }
}

export async function benchExec(client: Client, containers: ContainerBenchConfig): Promise<ExecBench> {
  const container = await client.containers.create(CONTAINER_ID, {
    image: containers.image,
    args: ['sleep', SLEEP_SECONDS],
    labels: { [CONTAINER_BENCH_LABEL]: 'exec' },
  })
  try {
    const task = await container.newTask()
    try {
      await task.start()
      const ctr = createCtr(client.address, containers.namespace)
      let n = 0
      const nextId = (who: string): string => `bench-exec-${who}-${n++}`
      const calls: Record<string, Call> = {
        [OURS_EXEC_PIPE]: () => execPipe(task, nextId('pipe')),
        [OURS_EXEC_NULL]: () => execNull(task, nextId('null')),
        [CTR_EXEC]: () => ctr.run(['task', 'exec', '--exec-id', nextId('ctr'), CONTAINER_ID, 'true'], { discardStdout: true }),
      }
      const samples = await sampleInterleaved(calls, { warmup: containers.execWarmup, samples: containers.execSamples, block: 5 })
      // Every exec was deleted: the task lists its init process only.
      const pids = await task.pids()
      if (pids.length !== 1) throw new Error(`after the execs the container runs ${pids.length} processes: ${pids.join(', ')}`)
      const ctrMedian = summarizeLatency(samples[CTR_EXEC]!).medianUs
      const results = Object.entries(samples).map(([name, values]): ExecResult => {
        const summary = summarizeLatency(values)
        return { client: name, ...summary, overCtr: summary.medianUs / ctrMedian }
      })
      const oursOverCtr = results.find((r) => r.client === OURS_EXEC_PIPE)!.overCtr
      const bench: ExecBench = { samples: containers.execSamples, warmup: containers.execWarmup, results, oursOverCtr, meetsTarget: oursOverCtr <= EXEC_TARGET_RATIO }
      printExecTable(bench)
      return bench
    } finally {
      await task.delete({ force: true })
    }
  } finally {
    await container.delete()
    await checkNothingLeft(client, 'the exec section')
  }
}

function printExecTable(bench: ExecBench): void {
  const target = `≤ ${EXEC_TARGET_RATIO}× ctr`
  printTable(
    `7. Exec of \`true\` in a running container: ${bench.samples} sequential execs per client after ${bench.warmup} warm-up ones, ` +
      `interleaved in blocks of 5. Target (output() against ctr, both through FIFOs): ${target}`,
    ['client', 'median ms', 'p95 ms', '× ctr', target],
    bench.results.map((r) => [
      r.client,
      round(r.medianUs / 1000, 2),
      round(r.p95Us / 1000, 2),
      ratio(r.overCtr),
      r.client === OURS_EXEC_PIPE ? (bench.meetsTarget ? 'yes' : 'no') : '-',
    ]),
  )
  console.log("(ours runs in this process on the bench's connection; ctr's time includes its process start.)")
}
