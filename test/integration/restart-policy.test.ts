import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { InvalidArgumentError, NotFoundError, NotImplementedError, type Container, type Image } from '../../src/index.js'
import {
  checkRestartPolicy,
  markRestartRunning,
  markRestartStarting,
  markRestartStopped,
  markRestartStopping,
  readRestartState,
  restartLabels,
  restartSupport,
  RESTART_LABELS,
  type RestartPolicy,
} from '../../src/containers/restart-policy.js'
import { Status } from '../../src/gen/containerd/types/task/task_pb.js'
import { connectTestClient, ctr, daemonLine } from '../env/test-client.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'
import { removeManaged, taskState } from '../env/restart-helpers.js'

const client = await connectTestClient('restart-policy')
const line = daemonLine()
const interval = inject('restartMonitorIntervalMs')
// containerd 1.6's monitor ignores the policy label (everything is `always`).
const policiesSupported = line !== '1.6'
let image: Image
let logDir: string

beforeAll(async () => {
  image = await runnableBusybox(client, 'docker.io/library/busybox:fixture')
  logDir = await mkdtemp(join(tmpdir(), 'csdk-restart-'))
})
afterAll(async () => rm(logDir, { recursive: true, force: true }))



async function labelsOf(container: Container): Promise<Record<string, string>> {
  return (await container.info()).labels
}

/** Polls until `check` gives a value, at most `rounds` monitor intervals plus slack. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, rounds = 10): Promise<T> {
  const deadline = Date.now() + rounds * interval + 5_000
  for (let i = 0; i < 1_000 && Date.now() < deadline; i++) {
    const value = await check()
    if (value !== undefined) return value
    await sleep(200)
  }
  throw new Error(`timed out after ${rounds} restart-monitor intervals waiting for ${what}`)
}

/** Watches the container for three monitor intervals and returns every distinct (pid, status) seen. */
async function observe(id: string): Promise<string[]> {
  const seen = new Set<string>()
  const until = Date.now() + 3 * interval + 500
  while (Date.now() < until) {
    const state = await taskState(client, id)
    seen.add(state === undefined ? 'none' : `${state.pid}:${Status[state.status]}`)
    await sleep(100)
  }
  return [...seen]
}

/** Creates a container with a restart policy and starts its task the way run() will: labels, start, then status running. */
async function startManaged(label: string, args: string[], policy: RestartPolicy, logUri?: string): Promise<{ container: Container; pid: number }> {
  const container = await client.containers.create(uniqueId(label), { image, args, labels: restartLabels(policy, logUri === undefined ? {} : { logUri }) })
  const task = await container.newTask(logUri === undefined ? {} : { stdio: { logUri } })
  await task.start()
  expect(await markRestartRunning(client, container.id)).toBe(policy !== 'no')
  return { container, pid: task.pid }
}

/**
 * The stop path after `markRestartStopped`: signal, wait, delete. The monitor may get there first (it
 * SIGKILLs and deletes a running task whose desired status is stopped), so a missing task at any step
 * means it did: that is reported as `undefined`.
 */
async function stopTask(container: Container, signal: 'SIGTERM' | 'SIGKILL'): Promise<number | undefined> {
  try {
    const task = await container.task()
    const exited = task.wait().then(({ exitCode }) => exitCode)
    exited.catch(() => undefined) // awaited below unless kill fails first
    await task.kill(signal)
    const exitCode = await exited
    await task.delete()
    return exitCode
  } catch (err) {
    if (err instanceof NotFoundError) return undefined
    throw err
  }
}


describe('restart policies through containerd\'s restart monitor', () => {
  it('detects what the daemon\'s monitor supports', async () => {
    const support = await restartSupport(client)
    if (line === '1.6') {
      expect(support).toEqual({ plugin: 'io.containerd.internal.v1.restart', policies: ['no', 'always'] })
    } else {
      expect(support.plugin).toBe(line === '1.7' ? 'io.containerd.internal.v1.restart' : line === '2.x' ? 'io.containerd.monitor.container.v1.restart' : support.plugin)
      expect(support.policies).toEqual(['no', 'always', 'on-failure', 'unless-stopped'])
    }
    expect(await checkRestartPolicy(client, 'always')).toEqual({ name: 'always', maxRetries: 0 })
    await expect(checkRestartPolicy(client, 'always:2')).rejects.toBeInstanceOf(InvalidArgumentError)
  })

  it.runIf(line === '1.6')('1.6 refuses on-failure and unless-stopped, naming its version and what it supports', async () => {
    for (const policy of ['on-failure:1', 'unless-stopped'] as const) {
      const err = await checkRestartPolicy(client, policy).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NotImplementedError)
      expect((err as Error).message).toMatch(/containerd 1\.6\.\S+/)
      expect((err as Error).message).toContain('supports "no", "always"')
      expect((err as Error).message).toContain(policy)
    }
    const container = await client.containers.create(uniqueId('refused'), { image, args: ['true'] })
    try {
      await expect(container.updateRestartPolicy('unless-stopped')).rejects.toBeInstanceOf(NotImplementedError)
      expect(await labelsOf(container)).toEqual({})
    } finally {
      await removeManaged(container)
    }
  })

  it('always: a task that dies is started again by the monitor, output going to the log URI (RestartMonitor always)', async () => {
    const log = join(logDir, 'always.log')
    const { container, pid } = await startManaged('always', ['sh', '-c', 'echo started; exec sleep 600'], 'always', `file://${log}`)
    try {
      expect(readRestartState(await labelsOf(container))).toMatchObject({ status: 'running', policy: { name: 'always' } })
      const first = await container.task()
      const exited = first.wait()
      await first.kill('SIGKILL')
      expect((await exited).exitCode).toBe(137)
      const restarted = await eventually('a new running task', async () => {
        const state = await taskState(client, container.id)
        return state !== undefined && state.status === Status.RUNNING && state.pid !== pid ? state : undefined
      })
      expect(restarted.pid).not.toBe(pid)
      expect(await ctr(client.namespace, 'tasks', 'ls')).toMatch(new RegExp(`${container.id}\\s+${restarted.pid}\\s+RUNNING`))
      // 1.7+ count the restarts.
      if (policiesSupported) expect((await labelsOf(container))[RESTART_LABELS.count]).toBe('1')
      // The restarted task got the log URI from the label: both runs wrote to the same file.
      // (At least two runs: on a loaded machine the monitor may catch a run early and start another.)
      const text = await eventually('the second run\'s output', async () => {
        const t = await readFile(log, 'utf8').catch(() => '')
        return /^(started\n){2,}$/.test(t) ? t : undefined
      })
      expect(text).toMatch(/^started\nstarted\n/)
    } finally {
      await removeManaged(container)
    }
  })

  it('an explicit stop keeps an always container stopped, and the monitor itself stops a task marked stopped', async () => {
    const { container, pid } = await startManaged('stop-always', ['sleep', '600'], 'always')
    try {
      // Marking alone is enough: the monitor kills a task whose desired status is stopped.
      expect(await markRestartStopped(client, container.id)).toBe(true)
      expect(readRestartState(await labelsOf(container))).toMatchObject({ status: 'stopped', explicitlyStopped: true })
      const stopped = await eventually('the monitor to stop the task', async () => {
        const state = await taskState(client, container.id)
        return state === undefined || state.status === Status.STOPPED ? (state ?? 'deleted') : undefined
      })
      expect(stopped).toBeDefined()
      // And it stays down.
      const seen = await observe(container.id)
      expect(seen.some((s) => s.endsWith(':RUNNING'))).toBe(false)
      expect(seen).not.toContain(`${pid}:RUNNING`)
    } finally {
      await removeManaged(container)
    }
  })

  it('a stopped container started again is watched again: markRestartStarting, start, markRestartRunning', async () => {
    const { container } = await startManaged('again', ['sleep', '600'], 'always')
    try {
      await markRestartStopped(client, container.id)
      expect([137, undefined]).toContain(await stopTask(container, 'SIGKILL'))
      expect(await taskState(client, container.id)).toBeUndefined()

      expect(await markRestartStarting(client, container.id)).toBe(true)
      expect((await labelsOf(container))[RESTART_LABELS.status]).toBeUndefined()
      const second = await container.newTask()
      await second.start()
      expect(await markRestartRunning(client, container.id)).toBe(true)
      const labels = await labelsOf(container)
      expect(labels[RESTART_LABELS.status]).toBe('running')
      expect(labels[RESTART_LABELS.explicitlyStopped]).toBeUndefined()

      const exited2 = second.wait()
      await second.kill('SIGKILL')
      await exited2
      await eventually('the monitor to restart the second task', async () => {
        const state = await taskState(client, container.id)
        return state?.status === Status.RUNNING && state.pid !== second.pid ? state : undefined
      })
    } finally {
      await removeManaged(container)
    }
  })

  it.runIf(policiesSupported)('on-failure:1 restarts once after a failure, and never after exit 0 (RestartMonitor on-failure:1)', async () => {
    const events = new AbortController()
    const starts: string[] = []
    const collecting = (async () => {
      for await (const ev of client.events({ filters: ['topic=="/tasks/start"'], signal: events.signal })) {
        if (ev.namespace === client.namespace && ev.type === 'containerd.events.TaskStart') starts.push(ev.payload.containerId)
      }
    })().catch(() => undefined)
    await sleep(100)

    const failing = await client.containers.create(uniqueId('fails'), { image, args: ['sh', '-c', 'exit 1'], labels: restartLabels('on-failure:1') })
    const succeeding = await client.containers.create(uniqueId('succeeds'), { image, args: ['sh', '-c', 'exit 0'], labels: restartLabels('on-failure:1') })
    try {
      for (const container of [failing, succeeding]) {
        const task = await container.newTask()
        const exited = task.wait()
        await task.start()
        await markRestartRunning(client, container.id)
        await exited
      }
      await eventually('one restart of the failing container', async () => ((await labelsOf(failing))[RESTART_LABELS.count] === '1' ? true : undefined))
      // Give the monitor time to (wrongly) restart either again.
      await sleep(4 * interval)
      expect(starts.filter((id) => id === failing.id)).toHaveLength(2)
      expect(starts.filter((id) => id === succeeding.id)).toHaveLength(1)
      expect(await taskState(client, failing.id)).toMatchObject({ status: Status.STOPPED, exitStatus: 1 })
      expect(await taskState(client, succeeding.id)).toMatchObject({ status: Status.STOPPED, exitStatus: 0 })
      expect(readRestartState(await labelsOf(failing))).toMatchObject({ count: 1, policy: { name: 'on-failure', maxRetries: 1 } })
      expect((await labelsOf(succeeding))[RESTART_LABELS.count]).toBeUndefined()
    } finally {
      events.abort()
      await collecting
      await removeManaged(failing)
      await removeManaged(succeeding)
    }
  })

  it.runIf(policiesSupported)('unless-stopped: restarted after a crash, stays stopped after an explicit stop', async () => {
    // A shell that exits on SIGTERM: as pid 1 a bare sleep would ignore it.
    const { container, pid } = await startManaged('unless', ['sh', '-c', 'trap "exit 0" TERM; sleep 600 & wait'], 'unless-stopped')
    try {
      const first = await container.task()
      const exited = first.wait()
      await first.kill('SIGKILL')
      await exited
      const restarted = await eventually('the restart after the crash', async () => {
        const state = await taskState(client, container.id)
        return state?.status === Status.RUNNING && state.pid !== pid ? state : undefined
      })

      // The stop path: out of the monitor's view first, signal, then recorded as stopped.
      expect(await markRestartStopping(client, container.id)).toBe(true)
      expect(await stopTask(container, 'SIGTERM')).toBe(0)
      expect(await markRestartStopped(client, container.id)).toBe(true)
      expect(await observe(container.id)).toEqual(['none'])
      expect(restarted.pid).toBeGreaterThan(0)
      expect(readRestartState(await labelsOf(container))).toMatchObject({ status: 'stopped', explicitlyStopped: true, policy: { name: 'unless-stopped' } })
    } finally {
      await removeManaged(container)
    }
  })

  it('markRestartStopping lets a stop signal\'s grace period run longer than the monitor interval', async () => {
    // The process takes 2.5 intervals to shut down after SIGTERM.
    const shutdown = ((2.5 * interval) / 1000).toFixed(1)
    const args = ['sh', '-c', `trap "sleep ${shutdown}; exit 0" TERM; sleep 600 & wait`]
    const { container } = await startManaged('grace', args, 'always')
    try {
      expect(await markRestartStopping(client, container.id)).toBe(true)
      const labels = await labelsOf(container)
      expect(labels[RESTART_LABELS.status]).toBeUndefined()
      expect(labels[RESTART_LABELS.explicitlyStopped]).toBe('true')
      // Exit 0: the trap finished; the monitor did not SIGKILL it meanwhile (it would under status stopped).
      expect(await stopTask(container, 'SIGTERM')).toBe(0)
      await markRestartStopped(client, container.id)
      expect(await observe(container.id)).toEqual(['none'])
    } finally {
      await removeManaged(container)
    }
  })

  it('markRestartStopping keeps a status-only container (Go client restart.WithStatus) recognisable', async () => {
    const container = await client.containers.create(uniqueId('status-only'), { image, args: ['sleep', '600'] })
    try {
      const task = await container.newTask()
      await task.start()
      await container.setLabels({ [RESTART_LABELS.status]: 'running' })
      expect(await markRestartStopping(client, container.id)).toBe(true)
      expect(readRestartState(await labelsOf(container))).toMatchObject({ policy: { name: 'always' }, status: undefined, explicitlyStopped: true })
      expect(await stopTask(container, 'SIGKILL')).toBe(137)
      expect(await markRestartStopped(client, container.id)).toBe(true)
      expect((await labelsOf(container))[RESTART_LABELS.status]).toBe('stopped')
    } finally {
      await removeManaged(container)
    }
  })

  it('updateRestartPolicy hands a running container to the monitor, and no takes it away', async () => {
    const container = await client.containers.create(uniqueId('update'), { image, args: ['sleep', '600'] })
    try {
      const task = await container.newTask()
      await task.start()
      expect(readRestartState(await labelsOf(container))).toBeUndefined()

      await container.updateRestartPolicy('always')
      expect(readRestartState(await labelsOf(container))).toMatchObject({ status: 'running', policy: { name: 'always' } })
      const exited = task.wait()
      await task.kill('SIGKILL')
      await exited
      const restarted = await eventually('the restart after the update', async () => {
        const state = await taskState(client, container.id)
        return state?.status === Status.RUNNING && state.pid !== task.pid ? state : undefined
      })

      if (policiesSupported) {
        await container.updateRestartPolicy('on-failure:5')
        expect(readRestartState(await labelsOf(container))).toMatchObject({ status: 'running', policy: { name: 'on-failure', maxRetries: 5 } })
      }
      await container.updateRestartPolicy('no')
      const labels = await labelsOf(container)
      for (const key of [RESTART_LABELS.status, RESTART_LABELS.policy, RESTART_LABELS.count]) expect(labels[key]).toBeUndefined()
      const again = await container.task()
      const exited2 = again.wait()
      await again.kill('SIGKILL')
      await exited2
      expect(await observe(container.id)).toEqual([`${restarted.pid}:STOPPED`])

      await expect(container.updateRestartPolicy('on-failure:-1' as 'on-failure')).rejects.toBeInstanceOf(InvalidArgumentError)
    } finally {
      await removeManaged(container)
    }
    await expect(container.updateRestartPolicy('always')).rejects.toBeInstanceOf(NotFoundError)
  })
})
