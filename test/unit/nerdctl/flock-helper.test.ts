import { spawnSync } from 'node:child_process'
import { constants } from 'node:fs'
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { flockHelper } from '../../../src/nerdctl/flock-helper.js'
import { isRunning, processTable } from '../../../src/util/process-tree.js'
import { holdLockElsewhere } from '../../env/hold-lock.js'

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'csdk-flock-helper-'))
})
afterAll(async () => rm(root, { recursive: true, force: true }))

/** Whether another process can take the lock on `dir` right now (`flock -n`, as nerdctl would try). */
function freeElsewhere(dir: string): boolean {
  return spawnSync('flock', ['-n', dir, 'true']).status === 0
}

/** Live (not zombie) children of this process's lock helpers: the ones waiting for a lock. */
async function waitingChildren(): Promise<number> {
  const table = await processTable()
  const helpers = new Set([...table].filter(([, p]) => p.ppid === process.pid && p.cmdline[0] === 'perl' && p.cmdline[1] === '-e').map(([pid]) => pid))
  let live = 0
  for (const [pid, p] of table) if (helpers.has(p.ppid) && (await isRunning(pid))) live++
  return live
}

/** Polls `condition` every 10 ms, for at most 5 s. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 10))
  expect(await condition()).toBe(true)
}

async function openDir(name: string): Promise<{ dir: string; handle: Awaited<ReturnType<typeof open>> }> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  return { dir, handle: await open(dir, constants.O_RDONLY | constants.O_DIRECTORY) }
}

describe('the flock helper', () => {
  it('locks our own descriptor: held while it is open, free once it is closed', async () => {
    const helper = await flockHelper()
    expect(helper, 'perl and pidfd_getfd are there on the machines CI runs on').toBeDefined()
    const { dir, handle } = await openDir('own')
    await helper?.lock(handle.fd).locked
    expect(freeElsewhere(dir)).toBe(false)
    await handle.close()
    expect(freeElsewhere(dir)).toBe(true)
  })

  it('waits for a lock held elsewhere without holding up a lock on another path', async () => {
    const helper = await flockHelper()
    const busy = await openDir('busy')
    const other = await openDir('other')
    const holder = await holdLockElsewhere(busy.dir)
    try {
      let busyLocked = false
      const waiting = helper?.lock(busy.handle.fd).locked.then(() => {
        busyLocked = true
      })
      await helper?.lock(other.handle.fd).locked
      expect(busyLocked).toBe(false)
      await holder.release()
      await waiting
      expect(freeElsewhere(busy.dir)).toBe(false)
    } finally {
      await holder.release()
      await busy.handle.close()
      await other.handle.close()
    }
  })

  it('gives up a wait for good: the lock is not taken later behind the caller', async () => {
    const helper = await flockHelper()
    const { dir, handle } = await openDir('given-up')
    const holder = await holdLockElsewhere(dir)
    try {
      const request = helper?.lock(handle.fd)
      // The helper forks a child to wait for the busy lock; giving up kills it (bounded wait for both).
      await until(async () => (await waitingChildren()) === 1)
      request?.giveUp()
      await until(async () => (await waitingChildren()) === 0)
      await holder.release()
      // The helper's waiting child was killed: with our descriptor still open, the lock is free.
      expect(freeElsewhere(dir)).toBe(true)
    } finally {
      await holder.release()
      await handle.close()
    }
  })
})
