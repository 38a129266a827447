// Mirrors containerd's client suite for tasks and processes (integration/client container_test.go and
// container_linux_test.go): terminals, resize, exec variants, pids, kill-all, attach, runtimes.
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { PassThrough, Readable } from 'node:stream'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { InvalidArgumentError, NotFoundError, type Image } from '../../src/index.js'
import { readLogs } from '../../src/logs/log-reader.js'
import { StreamText } from '../env/stream-text.js'
import { FIFO_ROOT } from '../../src/tasks/fifo-set.js'
import { connectTestClient, ctr, daemonAddress } from '../env/test-client.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'
import { importFixture } from '../env/import-fixture.js'
import { unpackImage } from '../env/unpack-image.js'
import { busyboxImage } from '../fixtures/index.js'

const run = promisify(execFile)
const client = await connectTestClient('tasks')
const IMAGE = 'docker.io/library/busybox:tasks'
let image: Image

beforeAll(async () => {
  image = await runnableBusybox(client, IMAGE)
})

/** crun runs nowhere on a cgroup v1 + v2 hybrid host whose v2 root has controllers. */
function crunRefusesHost(): boolean {
  try {
    return readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim() !== ''
  } catch {
    return false
  }
}


describe('terminals', () => {
  it('runs a task on a pseudo-terminal and resizes it (PTY, TaskResize)', async () => {
    const container = await client.containers.create(uniqueId('pty'), { image, tty: true, args: ['sh', '-c', 'tty; read go; stty size'] })
    const task = await container.newTask({ stdio: { terminal: true } })
    expect(task.stderr).toBeUndefined()
    const out = new StreamText(task.stdout)
    const exited = task.wait()
    await task.start()
    await out.until(/\/dev\/pts\/\d+/)
    await task.resize(132, 43)
    task.stdin?.write('go\n')
    expect((await exited).exitCode).toBe(0)
    // A terminal turns \n into \r\n, echoes the input, and stty reports "rows columns".
    await out.until(/43 132\r\n/)
    await task.delete()
    await container.delete()
  })

  it('refuses a task whose terminal setting does not match its container, before creating anything', async () => {
    const plain = await client.containers.create(uniqueId('plain'), { image, args: ['true'] })
    await expect(plain.newTask({ stdio: { terminal: true } })).rejects.toBeInstanceOf(InvalidArgumentError)
    const tty = await client.containers.create(uniqueId('ttyonly'), { image, tty: true, args: ['true'] })
    await expect(tty.newTask({ stdio: 'pipe' })).rejects.toThrow(/tty: true/)
    for (const c of [plain, tty]) {
      await expect(c.task()).rejects.toBeInstanceOf(NotFoundError)
      await c.delete()
    }
  })

  it('execs on a terminal with large output and resizes the exec (ExecLargeOutputWithTTY, Resize)', async () => {
    const container = await client.containers.create(uniqueId('exectty'), { image, args: ['sleep', '600'] })
    const task = await container.newTask()
    await task.start()
    const big = await task.exec({ args: ['sh', '-c', 'seq 1 50000'], tty: true })
    const out = new StreamText(big.stdout)
    const done = big.wait()
    await big.start()
    expect((await done).exitCode).toBe(0)
    await out.until((t) => t.includes('50000\r\n'))
    expect(out.value.split('\r\n').filter((l) => l !== '')).toHaveLength(50000)
    await big.delete()

    const sized = await task.exec({ args: ['sh', '-c', 'read go; stty size'], tty: true })
    const sizedOut = new StreamText(sized.stdout)
    const sizedDone = sized.wait()
    await sized.start()
    await sized.resize(90, 30)
    sized.stdin?.write('go\n')
    expect((await sizedDone).exitCode).toBe(0)
    await sizedOut.until(/30 90/)
    await sized.delete()
    await expect(sized.resize(0, 10)).rejects.toBeInstanceOf(InvalidArgumentError)
    await task.delete({ force: true })
    await container.delete()
  })
})

describe('processes', () => {
  it('execs with large arguments, as a user, without stdin, and reports a missing binary (LargeExecArgs, NoSTDIN, ExecNoBinaryExists)', async () => {
    const container = await client.containers.create(uniqueId('execs'), { image, args: ['sleep', '600'], hostname: 'tasks-host' })
    const task = await container.newTask()
    await task.start()
    const large = 'x'.repeat(100_000)
    expect((await (await task.exec({ args: ['sh', '-c', 'echo ${#1}', 'sh', large], stdio: 'pipe' })).output()).stdout).toBe('100000\n')
    expect((await (await task.exec({ args: ['id'], user: 'app', stdio: 'pipe' })).output()).stdout).toMatch(/^uid=1000\(app\) gid=1000\(app\)/)
    expect((await (await task.exec({ args: ['id', '-u'], user: '1000:2000', stdio: 'pipe' })).output()).stdout).toBe('1000\n')
    await expect(task.exec({ args: ['id'], user: 'nobody-here' })).rejects.toBeInstanceOf(InvalidArgumentError)
    expect((await (await task.exec({ args: ['hostname'], stdio: 'pipe' })).output()).stdout).toBe('tasks-host\n')

    // stdio 'null': cat reads an empty stdin and exits at once.
    const cat = await task.exec({ args: ['cat'], stdio: 'null' })
    const catDone = cat.wait()
    await cat.start()
    expect((await catDone).exitCode).toBe(0)
    await cat.delete()

    const missing = await task.exec({ args: ['/no/such/binary'] })
    await expect(missing.start()).rejects.toBeInstanceOf(NotFoundError)
    await missing.delete()
    await task.delete({ force: true })
    await container.delete()
  })

  it('fails to create a task for a missing binary and leaves no task or FIFO (NoBinaryExists)', async () => {
    const container = await client.containers.create(uniqueId('nobin'), { image, args: ['/no/such/binary'] })
    await expect(container.newTask({ stdio: 'pipe' })).rejects.toThrow(/no such file|not found/i)
    await expect(container.task()).rejects.toBeInstanceOf(NotFoundError)
    // FIFOs are named after the container: none may be left in any FIFO directory.
    const leftovers = readdirSync(FIFO_ROOT).flatMap((dir) => {
      try {
        return readdirSync(join(FIFO_ROOT, dir)).filter((f) => f.startsWith(container.id))
      } catch {
        return []
      }
    })
    expect(leftovers).toEqual([])
    await container.delete()
  })

  it('writes its output through the json-file logger (stdio { jsonFile })', async () => {
    const dataStore = await mkdtemp(join(tmpdir(), 'csdk-jsonfile-'))
    try {
      const container = await client.containers.create(uniqueId('jsonfile'), { image, args: ['sh', '-c', 'echo to-out; echo to-err >&2'] })
      const task = await container.newTask({ stdio: { jsonFile: { dataStore, maxSize: '1m', maxFile: 2 } } })
      const exited = task.wait()
      await task.start()
      expect((await exited).exitCode).toBe(0)
      await task.delete()
      const lines: string[] = []
      for await (const entry of readLogs({ dataStore, namespace: client.namespace, id: container.id })) lines.push(`${entry.stream}:${entry.line}`)
      expect(lines.sort()).toEqual(['stderr:to-err', 'stdout:to-out'])
      const stateDir = (await container.info()).labels['nerdctl/state-dir'] ?? ''
      expect(stateDir).toBe(join(dataStore, 'containers', client.namespace, container.id))
      await container.remove()
      // The log went with the container (remove() is docker rm: record, snapshot, state dir, log).
      expect(existsSync(stateDir)).toBe(false)
    } finally {
      await rm(dataStore, { recursive: true, force: true })
    }
  })

  it('connects the process to streams of our own (stdin Readable, stdout/stderr Writables)', async () => {
    const container = await client.containers.create(uniqueId('streams'), { image, args: ['sh', '-c', 'cat; echo done >&2'] })
    const stdout = new PassThrough()
    const stderr = new PassThrough()
    const out = new StreamText(stdout)
    const err = new StreamText(stderr)
    // A misspelt stdio kind is an error, not silently discarded output.
    await expect(container.newTask({ stdio: { logfile: '/tmp/x' } as never })).rejects.toBeInstanceOf(InvalidArgumentError)
    const task = await container.newTask({ stdio: { stdin: Readable.from(['line one\n', 'line two\n']), stdout, stderr } })
    const exited = task.wait()
    await task.start()
    expect((await exited).exitCode).toBe(0)
    await out.until(/line two\n/)
    await err.until(/done\n/)
    expect(out.value).toBe('line one\nline two\n')
    expect(stdout.writableEnded).toBe(false)
    await task.delete()
    await container.delete()
  })

  it('lists pids and kills every process (Pids, KillAll), then waits on the stopped task (WaitStoppedTask)', async () => {
    const container = await client.containers.create(uniqueId('killall'), { image, args: ['sh', '-c', 'sleep 600 & sleep 600 & wait'] })
    const task = await container.newTask()
    const exited = task.wait()
    await task.start()
    const deadline = Date.now() + 10_000
    let pids = await task.pids()
    while (pids.length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50))
      pids = await task.pids()
    }
    expect(pids).toHaveLength(3)
    expect(pids).toContain(task.pid)
    await task.kill('SIGKILL', { all: true })
    expect((await exited).exitCode).toBe(137)
    expect((await task.wait()).exitCode).toBe(137)
    expect((await task.delete()).exitCode).toBe(137)
    await container.delete()
  })

  it('takes labels and the stop signal from the image config (WithImageConfigLabels, WithImageStopSignal)', async () => {
    await importFixture(client, await busyboxImage({ config: { Labels: { 'org.example.team': 'core', app: 'image' }, StopSignal: 'SIGINT' } }), 'docker.io/library/busybox:labelled')
    const labelled = await client.images.get('docker.io/library/busybox:labelled')
    await unpackImage(client, labelled)
    const container = await client.containers.create(uniqueId('labelled'), { image: labelled, args: ['sh', '-c', 'trap "exit 6" INT; while true; do sleep 0.2; done'], labels: { app: 'mine' } })
    expect((await container.info()).labels).toMatchObject({ 'org.example.team': 'core', app: 'mine', 'io.containerd.image.config.stop-signal': 'SIGINT' })
    const task = await container.newTask()
    await task.start()
    await new Promise((r) => setTimeout(r, 300))
    expect((await container.stop({ timeout: 10 }))?.exitCode).toBe(6)
    await task.delete()
    await container.delete()
  })

  it('creates a container from an image handle', async () => {
    const container = await client.containers.create(uniqueId('from-image'), { image, args: ['sh', '-c', 'exit 9'] })
    expect((await container.info()).image).toBe(IMAGE)
    const task = await container.newTask()
    const exited = task.wait()
    await task.start()
    expect((await exited).exitCode).toBe(9)
    await task.delete()
    await container.delete()
  })

  it('reattaches to a running task from a new client after the first one died (Attach)', async () => {
    const id = uniqueId('attach')
    const child = await run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../env/attach-child.ts'), daemonAddress(), client.namespace, id, IMAGE], { timeout: 60_000 })
    expect(child.stdout.trim()).toBe(id)

    const container = await client.containers.get(id)
    const task = await container.task({ attach: true })
    expect(task.stdout).toBeDefined()
    const out = new StreamText(task.stdout)
    // Lines keep coming through the FIFO the dead client made, in order, none lost after we attached.
    const text = await out.until(/(line-\d+\n[^]*){20}/)
    const numbers = [...text.matchAll(/line-(\d+)\n/g)].map((m) => Number(m[1]))
    expect(numbers.length).toBeGreaterThanOrEqual(20)
    for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBe((numbers[i - 1] ?? 0) + 1)
    const fifoDir = (await client.services.tasks.get({ containerId: id })).process?.stdout.replace(/\/[^/]+$/, '') ?? ''
    expect(existsSync(fifoDir)).toBe(true)
    await task.delete({ force: true })
    expect(existsSync(fifoDir)).toBe(false)
    await container.delete()
  })
})

describe('stop', () => {
  const loop = (trap: string): string[] => ['sh', '-c', `${trap}; while true; do sleep 0.2; done`]

  it('stops with the stop signal, then SIGKILL after the grace period, and stays stopped', async () => {
    const graceful = await client.containers.create(uniqueId('stop-term'), { image, args: loop('trap "exit 3" TERM') })
    const ignoring = await client.containers.create(uniqueId('stop-kill'), { image, args: loop('trap "" TERM') })
    const labelled = await client.containers.create(uniqueId('stop-label'), {
      image,
      args: loop('trap "exit 5" INT'),
      labels: { 'io.containerd.image.config.stop-signal': 'SIGINT' },
    })
    const tasks = await Promise.all([graceful, ignoring, labelled].map(async (c) => {
      const task = await c.newTask()
      await task.start()
      return task
    }))
    // Give each shell time to install its trap before it is signalled.
    await new Promise((r) => setTimeout(r, 300))
    expect((await graceful.stop({ timeout: 10 }))?.exitCode).toBe(3)
    const started = Date.now()
    expect((await ignoring.stop({ timeout: 1 }))?.exitCode).toBe(137)
    expect(Date.now() - started).toBeGreaterThanOrEqual(950)
    expect((await labelled.stop())?.exitCode).toBe(5)
    for (const task of tasks) expect(await task.status()).toBe('stopped')
    // Stopping again is harmless and reports the same exit.
    expect((await graceful.stop())?.exitCode).toBe(3)
    for (const task of tasks) await task.delete()
    expect(await graceful.stop()).toBeUndefined()
    await expect(graceful.stop({ timeout: -1 })).rejects.toBeInstanceOf(InvalidArgumentError)
    for (const c of [graceful, ignoring, labelled]) await c.delete()
    await expect(graceful.stop()).rejects.toBeInstanceOf(NotFoundError)
  })

  it('stops a paused task', async () => {
    const container = await client.containers.create(uniqueId('stop-paused'), { image, args: loop('trap "exit 4" TERM') })
    const task = await container.newTask()
    await task.start()
    await new Promise((r) => setTimeout(r, 300))
    await task.pause()
    // The signal waits in the frozen cgroup; thawing lets the trap run well before the grace period ends.
    expect((await container.stop({ timeout: 20 }))?.exitCode).toBe(4)
    await task.delete()
    await container.delete()
  })
})

describe('runtimes', () => {
  it('runs a container with crun through the runc shim (on a hybrid-cgroup host: with a v1-only view)', async () => {
    const container = await client.containers.create(uniqueId('crun'), { image, runtime: 'crun', args: ['sh', '-c', 'exit 5'] })
    expect((await container.info()).runtime).toBe('io.containerd.runc.v2')
    // ctr prints the runc shim's options as JSON (2.x) or as the raw Any (1.x): field 6 binary_name = "crun".
    const info = await ctr(client.namespace, 'containers', 'info', container.id)
    expect(info).toMatch(/"binary_name": "crun"|"BinaryName": "crun"|"value": "MgRjcnVu"/)
    if (crunRefusesHost()) {
      // crun refuses hybrid cgroup hosts whose v2 hierarchy holds a controller (hugetlb here): the
      // error must still come through whole, and leave no task.
      await expect(container.newTask()).rejects.toThrow(/cgroups in hybrid mode not supported/)
      await expect(container.task()).rejects.toBeInstanceOf(NotFoundError)
      await container.delete()
      // The same crun, given a view of the host with only the v1 hierarchies (a mount namespace of its own
      // without /sys/fs/cgroup/unified), runs the container; a log of its calls shows it did.
      const dir = await mkdtemp(join(tmpdir(), 'csdk-crun-'))
      try {
        const wrapper = join(dir, 'crun-v1')
        await writeFile(wrapper, [
          '#!/bin/sh',
          `echo "$@" >> ${join(dir, 'calls')}`,
          `exec unshare --mount --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec /usr/bin/crun "$@"' crun "$@"`,
          '',
        ].join('\n'), { mode: 0o755 })
        const viaCrun = await client.containers.create(uniqueId('crun-v1'), { image, runtime: wrapper, args: ['sh', '-c', 'echo crun-ran; exit 5'] })
        const task = await viaCrun.newTask({ stdio: 'pipe' })
        const out = new StreamText(task.stdout)
        const exited = task.wait()
        await task.start()
        expect((await exited).exitCode).toBe(5)
        await task.delete()
        expect(out.value).toBe('crun-ran\n')
        const calls = await readFile(join(dir, 'calls'), 'utf8')
        for (const command of ['create', 'start', 'delete']) expect(calls).toMatch(new RegExp(`\\b${command}\\b.*${viaCrun.id}`))
        await viaCrun.delete()
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    } else {
      const task = await container.newTask()
      const exited = task.wait()
      await task.start()
      expect((await exited).exitCode).toBe(5)
      await task.delete()
      await container.delete()
    }
    await expect(client.containers.create(uniqueId('badrt'), { image, runtime: 'not a runtime' })).rejects.toBeInstanceOf(InvalidArgumentError)
  })
})
