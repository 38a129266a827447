import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readlink, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FifoPool } from '../../../src/tasks/fifo-pool.js'
import { processStartTime } from '../../../src/util/process-owner.js'

let root: string | undefined
afterEach(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true })
  root = undefined
})

describe('FIFO pool ownership', () => {
  it('removes the pool of a killed process at once, and one whose pid was reused, but keeps a live owner\'s', async () => {
    root = await mkdtemp(join(tmpdir(), 'csdk-fifo-owner-'))
    const namespace = /\[(\d+)\]/.exec(await readlink('/proc/self/ns/pid'))?.[1] ?? ''
    // A child makes a pool, reports ready, then is SIGKILLed: its exit handler never runs.
    const source = `import { FifoPool } from ${JSON.stringify(new URL('../../../src/tasks/fifo-pool.ts', import.meta.url).pathname)}
await new FifoPool(${JSON.stringify(root)}).take(2)
process.stdout.write('ready\\n')
setInterval(() => {}, 1000)`
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('ready')) resolve() })
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)))
    })
    const killed = await readdir(root)
    expect(killed).toHaveLength(1)
    expect(killed[0]).toMatch(new RegExp(`^\\.csdk-pool-${child.pid}-\\d+-${namespace}-`))
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))

    // Pid 1 is alive with its own start time: a pool naming another start time is a reused pid's.
    const reused = `.csdk-pool-1-${Number(processStartTime(1)) + 1}-${namespace}-abcdef01`
    const live = `.csdk-pool-1-${processStartTime(1)}-${namespace}-abcdef02`
    await mkdir(join(root, reused))
    await mkdir(join(root, live))

    await new FifoPool(root).take(1)
    const left = await readdir(root)
    expect(left).not.toContain(killed[0])
    expect(left).not.toContain(reused)
    expect(left).toContain(live)
    expect(left.filter((e) => e.startsWith(`.csdk-pool-${process.pid}-`))).toHaveLength(1)
  })
})
