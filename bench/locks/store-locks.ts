/**
 * A store lock (nerdctl's flock on a store directory), taken the two ways src/nerdctl/flock.ts can: by
 * this process's long-lived helper (src/nerdctl/flock-helper.ts) and by one `flock -x 3` process per lock
 * (the fallback, and what every lock cost before the helper), alternating in blocks in one run; then 20
 * locked operations at once through the helper. Each sample is the whole locked operation the stores do:
 * open the directory, lock, the stale-directory check, close.
 *
 *   node --import tsx bench/locks/store-locks.ts      BENCH_LOCK_ROUNDS=200 (default)
 */
import { constants } from 'node:fs'
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withDirLock } from '../../src/nerdctl/dir-lock.js'
import { lockByProcess } from '../../src/nerdctl/flock.js'
import { median, round } from '../lib/stats.js'

const ROUNDS = Number(process.env['BENCH_LOCK_ROUNDS'] ?? 200)
const BLOCK = 20
const dir = await mkdtemp(join(tmpdir(), 'csdk-bench-locks-'))
try {
  const store = join(dir, 'store')
  await mkdir(store, { recursive: true })
  const byHelper = (): Promise<number> => withDirLock(store, async () => 1)
  const byProcess = async (): Promise<void> => {
    const handle = await open(store, constants.O_RDONLY | constants.O_DIRECTORY)
    try {
      await lockByProcess(handle, store, 30_000, undefined)
      await handle.stat()
    } finally {
      await handle.close()
    }
  }
  await byHelper()
  await byProcess()
  const samples = { helper: [] as number[], process: [] as number[] }
  for (let done = 0; done < ROUNDS; done += BLOCK) {
    for (const [kind, fn] of [['helper', byHelper], ['process', byProcess]] as const) {
      for (let i = 0; i < BLOCK; i++) {
        const started = performance.now()
        await fn()
        samples[kind].push(performance.now() - started)
      }
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: 20 }, () => withDirLock(store, async () => undefined)))
  const concurrent = performance.now() - started
  const [h, p] = [median(samples.helper), median(samples.process)]
  console.log(`store lock (open, flock, check, close), median of ${ROUNDS} each, alternating in blocks of ${BLOCK}:`)
  console.log(`  lock helper              ${round(h, 2)} ms`)
  console.log(`  one flock process each   ${round(p, 2)} ms   (helper / process ${round(h / p, 2)}x)`)
  console.log(`  20 at once through the helper: ${round(concurrent, 1)} ms`)
  console.log(`BENCH_RESULT ${JSON.stringify({ rounds: ROUNDS, helperMs: round(h, 3), processMs: round(p, 3), ratio: round(h / p, 3), concurrent20Ms: round(concurrent, 1) })}`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
