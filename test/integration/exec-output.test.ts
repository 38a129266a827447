// exec().output() as the contract has it (collects by default, bounded by maxBuffer, aborts that leave
// nothing running), run({ stdio: 'pipe' })'s maxBuffer, and `await using` on exec processes and tasks.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CanceledError,
  Client,
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  type Container,
  type ExecProcess,
  type Image,
  type Task,
} from '../../src/index.js'
import { connectTestClient, daemonAddress } from '../env/test-client.js'
import { importFixture } from '../env/import-fixture.js'
import { unpackImage } from '../env/unpack-image.js'
import { uniqueId } from '../env/runnable-image.js'
import { busyboxImage } from '../fixtures/index.js'

const base = await connectTestClient('exec-output')
const IMAGE = 'docker.io/library/busybox:exec-output'
const GiB = 1024 * 1024 * 1024
/** RSS growth allowed while a process writes 1 GiB: collecting it all would take more than four times this. */
const RSS_BOUND = 256 * 1024 * 1024
let client: Client
let dataRoot: string
let image: Image

beforeAll(async () => {
  // A data root of our own: run() keeps nerdctl metadata there.
  dataRoot = await mkdtemp(join(tmpdir(), 'csdk-exec-output-'))
  client = await Client.connect({ address: daemonAddress(), namespace: base.namespace, dataRoot })
  await importFixture(client, await busyboxImage(), IMAGE)
  image = await client.images.get(IMAGE)
  await unpackImage(client, image)
})
afterAll(async () => {
  client?.close()
  await rm(dataRoot, { recursive: true, force: true })
})

/** A container running `sleep 600`, and its started task; both removed at the end of the scope. */
async function sleeper(label: string): Promise<{ container: Container; task: Task } & AsyncDisposable> {
  const container = await client.containers.create(uniqueId(label), { image, args: ['sleep', '600'] })
  const task = await container.newTask()
  await task.start()
  return {
    container,
    task,
    async [Symbol.asyncDispose]() {
      await task.delete({ force: true }).catch(() => undefined)
      await container.delete()
    },
  }
}

/** Whether containerd still knows the exec process. */
async function execExists(proc: ExecProcess): Promise<boolean> {
  try {
    await client.services.tasks.get({ containerId: proc.containerId, execId: proc.execId })
    return true
  } catch (err) {
    if (err instanceof NotFoundError) return false
    throw err
  }
}

/** Runs `fn` while sampling this process's RSS; resolves with its outcome and the peak growth. */
async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{ outcome: PromiseSettledResult<T>; growth: number }> {
  const before = process.memoryUsage.rss()
  let peak = before
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()) }, 5)
  try {
    const [outcome] = await Promise.allSettled([fn()])
    return { outcome: outcome as PromiseSettledResult<T>, growth: Math.max(peak, process.memoryUsage.rss()) - before }
  } finally {
    clearInterval(timer)
  }
}

function rejection<T>(outcome: PromiseSettledResult<T>): unknown {
  if (outcome.status === 'fulfilled') throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value).slice(0, 200)}`)
  return outcome.reason
}

describe('exec output()', () => {
  it('collects stdout, stderr and the exit code of an exec created without stdio', async () => {
    await using s = await sleeper('output')
    const proc = await s.task.exec({ args: ['sh', '-c', 'echo hi; echo oops >&2; exit 3'] })
    // No stdin by default (like docker exec without -i); the outputs are piped.
    expect(proc.stdin).toBeUndefined()
    expect(proc.stdout).toBeDefined()
    expect(await proc.output()).toEqual({ exitCode: 3, stdout: 'hi\n', stderr: 'oops\n' })
    expect(await execExists(proc)).toBe(false)
    // The contract's shape, through the container handle.
    const { exitCode, stdout, stderr } = await (await s.container.exec({ args: ['sh', '-c', 'echo hi'] })).output()
    expect({ exitCode, stdout, stderr }).toEqual({ exitCode: 0, stdout: 'hi\n', stderr: '' })
  })

  it('gives a program that reads stdin EOF, with and without a stdin pipe', async () => {
    await using s = await sleeper('stdin-eof')
    const started = Date.now()
    expect(await (await s.task.exec({ args: ['sh', '-c', 'cat; echo read-eof'] })).output()).toEqual({ exitCode: 0, stdout: 'read-eof\n', stderr: '' })
    expect(await (await s.task.exec({ args: ['sh', '-c', 'cat; echo read-eof'], stdio: 'pipe' })).output()).toEqual({ exitCode: 0, stdout: 'read-eof\n', stderr: '' })
    // Neither waited for anything: cat saw EOF at once.
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('keeps exactly maxBuffer bytes, refuses a bad maxBuffer, output elsewhere, and a second start', async () => {
    await using s = await sleeper('output-checks')
    // 11 bytes ("0123456789\n"): fine at 11, one too many at 10.
    expect((await (await s.task.exec({ args: ['echo', '0123456789'] })).output({ maxBuffer: 11 })).stdout).toBe('0123456789\n')
    const over = await s.task.exec({ args: ['echo', '0123456789'] })
    await expect(over.output({ maxBuffer: 10 })).rejects.toThrow(new ResourceExhaustedError('stdout exceeded maxBuffer (10 bytes)'))
    expect(await execExists(over)).toBe(false)

    const bad = await s.task.exec({ args: ['true'] })
    await expect(bad.output({ maxBuffer: -1 })).rejects.toThrow(InvalidArgumentError)
    await expect(bad.output({ maxBuffer: '1m' as never })).rejects.toThrow(/maxBuffer must be a number of bytes/)
    await bad.delete()

    const silent = await s.task.exec({ args: ['true'], stdio: 'null' })
    await expect(silent.output()).rejects.toThrow(/create it without stdio, or with stdio 'pipe'/)
    await silent.delete()

    const twice = await s.task.exec({ args: ['sleep', '600'] })
    await twice.start()
    await expect(twice.output()).rejects.toBeInstanceOf(FailedPreconditionError)
    await twice[Symbol.asyncDispose]()
  })

  it('kills and deletes a process past maxBuffer (1 GiB written, default 1 MiB), with bounded memory', async () => {
    await using s = await sleeper('maxbuffer')
    for (const [stream, script] of [['stdout', 'exec head -c 1073741824 /dev/zero'], ['stderr', 'exec head -c 1073741824 /dev/zero >&2']] as const) {
      const proc = await s.task.exec({ args: ['sh', '-c', script] })
      const { outcome, growth } = await peakRssGrowth(() => proc.output())
      const err = rejection(outcome)
      expect(err).toBeInstanceOf(ResourceExhaustedError)
      expect((err as Error).message).toBe(`${stream} exceeded maxBuffer (1048576 bytes)`)
      expect(growth).toBeLessThan(RSS_BOUND)
      // Killed and deleted: only the container's init process is left.
      expect(proc.pid).toBeGreaterThan(0)
      expect(await s.task.pids()).toEqual([s.task.pid])
      expect(await execExists(proc)).toBe(false)
    }
    // An explicit limit counts the same way.
    const big = await s.task.exec({ args: ['sh', '-c', `exec head -c ${GiB} /dev/zero`] })
    await expect(big.output({ maxBuffer: 64 * 1024 })).rejects.toThrow('stdout exceeded maxBuffer (65536 bytes)')
    expect(await s.task.pids()).toEqual([s.task.pid])
  })

  it('maps a program that does not exist to NotFoundError, in about the time a start takes', async () => {
    await using s = await sleeper('missing')
    const ok = await s.task.exec({ args: ['true'] })
    let started = Date.now()
    await ok.output()
    const oneRun = Date.now() - started
    for (const program of ['/no/such/binary', 'no-such-program']) {
      const proc = await s.task.exec({ args: [program] })
      started = Date.now()
      const err = await proc.output().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NotFoundError)
      expect((err as Error).message).toContain(program)
      // It used to take a start plus 2 s (waiting for output that could never come).
      expect(Date.now() - started).toBeLessThan(oneRun + 1_000)
      expect(await execExists(proc)).toBe(false)
    }
    // start() says the same.
    const direct = await s.task.exec({ args: ['/no/such/binary'] })
    await expect(direct.start()).rejects.toBeInstanceOf(NotFoundError)
    await direct.delete()
  })
})

describe('exec output() aborted', () => {
  it('before the start: rejects at once with CanceledError (cause: the reason), nothing started, nothing unhandled', async () => {
    await using s = await sleeper('abort-before')
    const proc = await s.task.exec({ args: ['sh', '-c', 'echo hi'] })
    const reason = new Error('not wanted')
    const started = Date.now()
    const err = await proc.output({ signal: AbortSignal.abort(reason) }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CanceledError)
    expect((err as Error).cause).toBe(reason)
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(proc.pid).toBe(0)
    expect(await execExists(proc)).toBe(false)
    // Give a stray Wait call's rejection time to surface (vitest fails the run on an unhandled one).
    await new Promise((resolve) => setTimeout(resolve, 300))
  })

  it('during the start: lets the start finish, then kills and deletes the process', async () => {
    await using s = await sleeper('abort-during')
    const proc = await s.task.exec({ args: ['sleep', '600'] })
    const controller = new AbortController()
    const pending = proc.output({ signal: controller.signal })
    // The Start call is on its way (a start takes ~100-300 ms here).
    await new Promise((resolve) => setTimeout(resolve, 20))
    controller.abort()
    const err = await pending.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CanceledError)
    // The start went through (it was under way), and the process was killed after it.
    expect(proc.pid).toBeGreaterThan(0)
    expect(await s.task.pids()).toEqual([s.task.pid])
    expect(await execExists(proc)).toBe(false)
    await new Promise((resolve) => setTimeout(resolve, 300))
  })

  it('after the start: kills and deletes the running process at once', async () => {
    await using s = await sleeper('abort-after')
    const proc = await s.task.exec({ args: ['sleep', '600'] })
    const controller = new AbortController()
    const pending = proc.output({ signal: controller.signal })
    // Running: its pid shows among the task's.
    for (let i = 0; i < 100 && (await s.task.pids()).length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await s.task.pids()).toHaveLength(2)
    const reason = new Error('enough')
    const aborted = Date.now()
    controller.abort(reason)
    const err = await pending.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CanceledError)
    expect((err as Error).cause).toBe(reason)
    expect(Date.now() - aborted).toBeLessThan(3_000)
    expect(await s.task.pids()).toEqual([s.task.pid])
    expect(await execExists(proc)).toBe(false)
  })

  it('past timeoutMs: DeadlineExceededError, the process killed and deleted', async () => {
    await using s = await sleeper('timeout')
    const proc = await s.task.exec({ args: ['sleep', '600'] })
    await expect(proc.output({ timeoutMs: 1_000 })).rejects.toBeInstanceOf(DeadlineExceededError)
    expect(await s.task.pids()).toEqual([s.task.pid])
    expect(await execExists(proc)).toBe(false)
  })
})

describe('await using', () => {
  it('kills and deletes an exec process (running, never started, or with unread output), idempotently', async () => {
    await using s = await sleeper('dispose-exec')
    let running: ExecProcess
    {
      await using proc = await s.task.exec({ args: ['sleep', '600'] })
      running = proc
      await proc.start()
      expect(await s.task.pids()).toHaveLength(2)
    }
    expect(await s.task.pids()).toEqual([s.task.pid])
    expect(await execExists(running)).toBe(false)
    await running[Symbol.asyncDispose]()

    {
      await using idle = await s.task.exec({ args: ['true'] })
      running = idle
    }
    expect(await execExists(running)).toBe(false)

    // Output nobody reads fills the pipe; disposing must not wait for the shim's copy (10 s).
    const started = Date.now()
    {
      await using chatty = await s.task.exec({ args: ['sh', '-c', 'exec yes'] })
      running = chatty
      await chatty.start()
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(await execExists(running)).toBe(false)
    expect(await s.task.pids()).toEqual([s.task.pid])
  })

  it('deletes a task, killing it first if it runs, idempotently; the container stays', async () => {
    const container = await client.containers.create(uniqueId('dispose-task'), { image, args: ['sleep', '600'] })
    let disposed: Task
    {
      await using task = await container.newTask()
      disposed = task
      await task.start()
      expect(await task.status()).toBe('running')
    }
    await expect(container.task()).rejects.toBeInstanceOf(NotFoundError)
    await disposed[Symbol.asyncDispose]()
    await Promise.all([disposed[Symbol.asyncDispose](), disposed[Symbol.asyncDispose]()])
    // A task never started is deleted too.
    {
      await using created = await container.newTask()
      expect(await created.status()).toBe('created')
    }
    await expect(container.task()).rejects.toBeInstanceOf(NotFoundError)
    await container.delete()
  })
})

describe('run() maxBuffer', () => {
  it("stops the run past maxBuffer with stdio 'pipe' (1 GiB written), removes it with rm, memory bounded", async () => {
    const name = uniqueId('run-maxbuffer-rm')
    const { outcome, growth } = await peakRssGrowth(() => client.run(IMAGE, { args: ['sh', '-c', `yes | head -c ${GiB}`], stdio: 'pipe', rm: true, name, pull: 'never' }))
    const err = rejection(outcome)
    expect(err).toBeInstanceOf(ResourceExhaustedError)
    expect((err as Error).message).toBe('stdout exceeded maxBuffer (1048576 bytes)')
    expect(growth).toBeLessThan(RSS_BOUND)
    await expect(client.containers.get(name)).rejects.toBeInstanceOf(NotFoundError)
  })

  it('keeps the stopped container without rm, and takes an explicit maxBuffer', async () => {
    const name = uniqueId('run-maxbuffer-kept')
    await expect(client.run(IMAGE, { args: ['sh', '-c', 'yes >&2'], stdio: 'pipe', name, pull: 'never', maxBuffer: 4096 }))
      .rejects.toThrow(new ResourceExhaustedError('stderr exceeded maxBuffer (4096 bytes)'))
    const container = await client.containers.get(name)
    const task = await container.task()
    expect(await task.status()).toBe('stopped')
    expect((await task.wait()).exitCode).toBe(137)
    await container.remove({ force: true })
    // Within the limit the output comes back as before.
    const result = await client.run(IMAGE, { args: ['echo', 'hi'], stdio: 'pipe', rm: true, pull: 'never', maxBuffer: 3 })
    expect(result.stdout).toBe('hi\n')
  })
})
