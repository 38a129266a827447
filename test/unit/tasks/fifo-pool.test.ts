import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { FifoPool } from '../../../src/tasks/fifo-pool.js'

const run = promisify(execFile)
let root: string

afterEach(async () => rm(root, { recursive: true, force: true }))

describe('FifoPool', () => {
  it('hands out fresh FIFOs from batches, never the same path twice', async () => {
    root = await mkdtemp(join(tmpdir(), 'csdk-fifo-pool-'))
    const pool = new FifoPool(root)
    const taken = (await Promise.all(Array.from({ length: 30 }, () => pool.take(3)))).flat()
    expect(new Set(taken).size).toBe(90)
    for (const path of taken.slice(0, 5)) {
      const info = await stat(path)
      expect(info.isFIFO()).toBe(true)
      expect(info.mode & 0o777).toBe(0o600)
    }
    await pool.drain()
    expect(await readdir(root)).toEqual([])
  })

  it('starts a new pool after reset, when its directory was removed under it', async () => {
    root = await mkdtemp(join(tmpdir(), 'csdk-fifo-pool-'))
    const pool = new FifoPool(root)
    const [first] = await pool.take(1)
    await rm(root, { recursive: true })
    pool.reset()
    const [second] = await pool.take(1)
    expect(second).not.toBe(first)
    expect((await stat(second ?? '')).isFIFO()).toBe(true)
  })

  it('removes pools of processes that are gone, and its own when this process exits', async () => {
    root = await mkdtemp(join(tmpdir(), 'csdk-fifo-pool-'))
    // A pid that cannot be running: above the kernel's pid_max.
    const abandoned = join(root, '.csdk-pool-4194305-deadbeef')
    await mkdir(abandoned)
    await writeFile(join(abandoned, 'f0'), '')
    // A recent one is kept (its pid may live in another pid namespace); an hour-old one goes.
    const recent = join(root, '.csdk-pool-4194306-cafecafe')
    await mkdir(recent)
    const hoursAgo = new Date(Date.now() - 2 * 3600_000)
    await utimes(abandoned, hoursAgo, hoursAgo)
    await new FifoPool(root).take(1)
    expect(await readdir(root)).toContain('.csdk-pool-4194306-cafecafe')
    await rm(recent, { recursive: true })
    const left = await readdir(root)
    expect(left).toHaveLength(1)
    expect(left[0]).toMatch(new RegExp(`^\\.csdk-pool-${process.pid}-`))

    const child = `import { FifoPool } from ${JSON.stringify(new URL('../../../src/tasks/fifo-pool.ts', import.meta.url).pathname)}
await new FifoPool(${JSON.stringify(root)}).take(2)`
    await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], { timeout: 30_000 })
    // The child's pool went with it; ours is still there.
    expect(await readdir(root)).toEqual(left)
  })
})
